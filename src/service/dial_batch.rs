//! Readies a batch of campaign calls (the subscribers the pacer allows now) for their
//! originates, with the PostgreSQL writes of the whole batch in one transaction instead of
//! two round trips per call (which capped dialing near 150 calls/s).
//!
//! Order, per call, as `dialer::place_call` keeps it for one: the line lease first (Redis,
//! atomic; a refusal means no line, nothing written), then the attempt and call rows (one
//! transaction for the batch), and only once that is committed the originates (the caller's
//! tasks). A crash before the commit leaves no row and nobody dialed; a crash after it leaves
//! `dialing` targets with an attempt and no channel, which the recovery settles as `unknown`
//! (never dialed again) exactly as for a single call.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tracing::warn;
use uuid::Uuid;

use crate::config::Config;
use crate::core::campaign::pacer::NotDialed;
use crate::core::values::{ChannelUuid, PhoneNumber};
use crate::service::messages::{Messages, Rules};
use crate::service::trunks::Trunks;
use crate::store::attempt_batch::{self, AttemptRow};
use crate::store::campaigns::{Campaign, Target};
use crate::store::redis::LiveState;
use crate::store::StoreError;

/// One call ready to go: its lease held (if its number is valid), its rows committed.
pub struct Prepared {
    pub target: Target,
    /// The trunk it takes (of the campaign's group, in the group's order).
    pub trunk: String,
    pub uuid: ChannelUuid,
    /// The number as dialed (`dial_format` applied).
    pub number: String,
    pub rules: Option<Arc<Rules>>,
}

/// What a batch needs to know of the runner.
pub struct Batch<'a> {
    pub pool: &'a deadpool_postgres::Pool,
    pub live: &'a LiveState,
    pub messages: Option<&'a Messages>,
    pub config: &'a Config,
    /// Which trunks are in service, and the pick of one per call.
    pub trunks: &'a Arc<Trunks>,
    /// The campaign's line budget key in Redis.
    pub budget: &'a str,
}

/// Of `targets` (claimed and screened), the calls ready for their originates, and the
/// subscribers not dialed after all, with why (the caller puts them back in the queue).
pub async fn prepare(
    b: &Batch<'_>,
    c: &Campaign,
    targets: Vec<Target>,
    message_rules: Result<MessageRules, StoreError>,
    now: chrono::DateTime<chrono::Utc>,
) -> (Vec<Prepared>, Vec<(Target, NotDialed)>) {
    let mut back = Vec::new();
    // A trunk for each call: picked one after the other, so that a group's order spreads the
    // batch (each pick counts until the leases below are asked for).
    let mut picks = Vec::with_capacity(targets.len());
    let mut calls: Vec<Prepared> = Vec::with_capacity(targets.len());
    for t in targets {
        match b.trunks.pick(&c.trunk).await {
            Ok(Some(p)) if b.config.trunk.contains_key(&p.trunk) => {
                calls.push(Prepared {
                    number: crate::core::numbers::dial_string_number(&t.phone, &b.config.dialing),
                    trunk: p.trunk.clone(),
                    target: t,
                    uuid: ChannelUuid::new_random(),
                    rules: None,
                });
                picks.push(p);
            }
            Ok(_) => back.push((t, NotDialed::NoSwitch)),
            Err(e) => {
                warn!(campaign = c.id, "no trunk picked: {e}");
                back.push((t, NotDialed::NoSwitch));
            }
        }
    }
    if let Err(e) = rules_of(b, c, &mut calls, message_rules, now).await {
        warn!(campaign = c.id, "message rules not read, not dialing: {e}");
        let back = calls
            .into_iter()
            .map(|p| (p.target, NotDialed::AttemptNotWritten))
            .collect();
        return (Vec::new(), back);
    }
    // Leases for every valid number at once (the script checks both caps atomically, so
    // concurrent asks never over-commit); an invalid number is an attempt with no line.
    let leases = join_all(calls.iter().map(|p| async {
        if PhoneNumber::parse(&p.number).is_err() {
            return Ok(Ok(()));
        }
        let lines = c.lines.max(0) as u32;
        let cap = b.config.trunk[&p.trunk].channels;
        let uuid = p.uuid.as_str();
        b.live
            .acquire_line(&p.trunk, cap, b.budget, lines, uuid)
            .await
    }))
    .await;
    // from here each call's line lease counts it
    drop(picks);
    let mut ready = Vec::with_capacity(calls.len());
    let mut lost = 0;
    let mut error = None;
    for (p, lease) in calls.into_iter().zip(leases) {
        match lease {
            Ok(Ok(())) => ready.push(p),
            Ok(Err(_)) | Err(_) => {
                // (a refused or failed ask is not held: `acquire_line` forgot it)
                if let Err(e) = lease {
                    lost += 1;
                    error = Some(e);
                }
                back.push((p.target, NotDialed::NotSent));
            }
        }
    }
    if let Some(e) = error {
        warn!(
            campaign = c.id,
            calls = lost,
            "line leases not granted, subscribers put back: {e}"
        );
    }
    let rows: Vec<AttemptRow> = ready
        .iter()
        .map(|p| AttemptRow {
            uuid: uuid_of(&p.uuid),
            campaign_id: c.id,
            contact_id: p.target.contact_id,
            attempt_no: p.target.attempts + 1,
            number: p.number.clone(),
            node: PhoneNumber::parse(&p.number)
                .is_ok()
                .then(|| b.config.trunk[&p.trunk].switch.clone()),
            trunk: p.trunk.clone(),
        })
        .collect();
    if let Err(e) = attempt_batch::write(b.pool, &rows).await {
        warn!(
            campaign = c.id,
            calls = rows.len(),
            "attempts not written, not dialing: {e}"
        );
        let mut released = join_all(ready.iter().map(|p| async {
            b.live.forget_held(p.uuid.as_str());
            b.live
                .release_line(&p.trunk, b.budget, p.uuid.as_str(), Duration::ZERO)
                .await
        }))
        .await
        .into_iter();
        if let Some(Err(e)) = released.find(Result::is_err) {
            // the lease rebuild gives back a lease whose channel does not exist
            warn!(campaign = c.id, "line leases not released now: {e}");
        }
        back.extend(
            ready
                .into_iter()
                .map(|p| (p.target, NotDialed::AttemptNotWritten)),
        );
        return (Vec::new(), back);
    }
    (ready, back)
}

/// A campaign's message rules (`after_confirm`, `when_unreached`); both none when the runner
/// sends no messages.
pub type MessageRules = (Option<String>, Option<String>);

/// The campaign's message rules, read for each batch (they may be set after the campaign
/// started) and meant to be asked at the same time as the claim: a round trip less before the
/// batch's originates.
pub async fn read_message_rules(
    messages: Option<&Messages>,
    pool: &deadpool_postgres::Pool,
    campaign: i64,
) -> Result<MessageRules, StoreError> {
    match messages {
        Some(_) => crate::store::messages::campaign_rules(pool, campaign).await,
        None => Ok((None, None)),
    }
}

/// The campaign's message rules for each call: per subscriber only when the campaign has any.
async fn rules_of(
    b: &Batch<'_>,
    c: &Campaign,
    calls: &mut [Prepared],
    message_rules: Result<MessageRules, StoreError>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let Some(m) = b.messages else {
        return Ok(());
    };
    let (after_confirm, when_unreached) = message_rules?;
    if after_confirm.is_none() && when_unreached.is_none() {
        return Ok(());
    }
    for p in calls {
        let id = uuid_of(&p.uuid);
        let r = m.prepare_rules(c.id, p.target.contact_id, id, now).await?;
        p.rules = (!r.is_empty()).then(|| Arc::new(r));
    }
    Ok(())
}

fn uuid_of(u: &ChannelUuid) -> Uuid {
    Uuid::parse_str(u.as_str()).expect("random uuid")
}
