//! The rules checked at the moment of dialling, for the subscribers a campaign runner has
//! just claimed: the calling window in each one's zone, then the do-not-call list. One home
//! for notice and operator campaigns alike; the decisions are `core::campaign::pacer`'s,
//! this only carries them out (requeue, skip) and hands back who may be called now.

use std::collections::HashSet;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tracing::error;

use crate::core::campaign::outcome::Outcome;
use crate::core::campaign::pacer::{CampaignRules, DncVerdict, Pacer, WindowVerdict};
use crate::store::campaigns::{Campaigns, Target};
use crate::store::StoreError;

/// Of `claimed` (subscribers of campaign `campaign`), those to call now. The others are
/// requeued (window closed, list unreadable) or skipped (`invalid`: a zone or stored number
/// that cannot be used; `dnc`). `known_blocked`: the do-not-call numbers among them if the
/// claim already asked (else they are looked up here). The pacer's lock is never held across
/// an await.
pub async fn screen(
    campaigns: &Campaigns,
    pacer: &Mutex<Pacer>,
    rules: &CampaignRules,
    campaign: i64,
    claimed: Vec<Target>,
    known_blocked: Option<HashSet<String>>,
    now: DateTime<Utc>,
) -> Result<Vec<Target>, StoreError> {
    let mut open = Vec::new();
    for t in claimed {
        let verdict = pacer
            .lock()
            .expect("pacer lock")
            .window(rules, t.tz.as_deref(), now);
        match verdict {
            WindowVerdict::Open => open.push(t),
            WindowVerdict::ClosedUntil(at) => campaigns.requeue(campaign, t.contact_id, at).await?,
            WindowVerdict::BadZone(problem) => {
                error!(campaign, contact = t.contact_id, "not dialed: {problem}");
                campaigns
                    .skip(campaign, t.contact_id, Outcome::Invalid.as_str())
                    .await?;
            }
        }
    }
    if open.is_empty() {
        return Ok(open);
    }
    // Stored numbers that are not canonical are not lookups that failed: those subscribers
    // are skipped as invalid. The others are looked up in ONE query (a round trip per
    // subscriber capped the dialing rate); if it fails, nobody of the batch is dialed: the
    // pacer holds everyone back until the list can be read.
    let mut valid = Vec::with_capacity(open.len());
    for t in open {
        if crate::core::numbers::is_e164(&t.phone) {
            valid.push(t);
        } else {
            error!(
                campaign,
                contact = t.contact_id,
                "not dialed: number {:?} is not canonical E.164",
                t.phone
            );
            campaigns
                .skip(campaign, t.contact_id, Outcome::Invalid.as_str())
                .await?;
        }
    }
    if valid.is_empty() {
        return Ok(valid);
    }
    let lookup = match known_blocked {
        // asked by the claim itself
        Some(blocked) => Ok(blocked),
        None => {
            let phones: Vec<String> = valid.iter().map(|t| t.phone.clone()).collect();
            match campaigns.pool().get().await {
                Ok(db) => crate::lists::dnc::blocked_among(&db, &phones)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    let mut dial = Vec::new();
    for t in valid {
        let one = match &lookup {
            Ok(blocked) => Ok(blocked.contains(&t.phone)),
            Err(e) => Err(e.clone()),
        };
        let verdict = pacer.lock().expect("pacer lock").handle_dnc(one, now);
        match verdict {
            DncVerdict::Dial => dial.push(t),
            DncVerdict::Skip => {
                campaigns
                    .skip(campaign, t.contact_id, Outcome::Dnc.as_str())
                    .await?
            }
            DncVerdict::RetryAt(at) => campaigns.requeue(campaign, t.contact_id, at).await?,
        }
    }
    Ok(dial)
}
