//! The rules checked at the moment of dialling, for the subscribers a campaign runner has
//! just claimed: the calling window in each one's zone, then the do-not-call list. One home
//! for notice and operator campaigns alike; the decisions are `core::campaign::pacer`'s,
//! this only carries them out (requeue, skip) and hands back who may be called now.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tracing::error;

use crate::core::campaign::outcome::Outcome;
use crate::core::campaign::pacer::{CampaignRules, DncVerdict, Pacer, WindowVerdict};
use crate::store::campaigns::{Campaigns, Target};
use crate::store::StoreError;

/// Of `claimed` (subscribers of campaign `campaign`), those to call now. The others are
/// requeued (window closed, list unreadable) or skipped (`invalid`: a zone or stored number
/// that cannot be used; `dnc`). The pacer's lock is never held across an await.
pub async fn screen(
    campaigns: &Campaigns,
    pacer: &Mutex<Pacer>,
    rules: &CampaignRules,
    campaign: i64,
    claimed: Vec<Target>,
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
    // One connection for the lookups; once one fails, the rest are not asked (and not
    // dialed): the pacer holds everyone back until the list can be read.
    let mut db = campaigns.pool().get().await.map_err(|e| e.to_string());
    let mut dial = Vec::new();
    for t in open {
        let lookup = match &db {
            Ok(db) => match crate::lists::dnc::is_blocked(db, &t.phone).await {
                Ok(blocked) => Ok(blocked),
                Err(crate::core::lists::ListError::BadNumber { input, reason }) => {
                    // Not a lookup failure: this subscriber's stored number is not canonical.
                    error!(
                        campaign,
                        contact = t.contact_id,
                        "not dialed: number {input:?}: {reason}"
                    );
                    campaigns
                        .skip(campaign, t.contact_id, Outcome::Invalid.as_str())
                        .await?;
                    continue;
                }
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e.clone()),
        };
        if let Err(e) = &lookup {
            db = Err(e.clone());
        }
        let verdict = pacer.lock().expect("pacer lock").handle_dnc(lookup, now);
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
