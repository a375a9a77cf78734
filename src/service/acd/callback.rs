//! Stored callbacks: a due one waits in its queue like a caller of the lowest priority;
//! when an operator answers its offer, the customer is dialed and bridged to them; carried
//! on by another process (or after a lost reply) in [`take_over`].

mod take_over;

use std::time::Duration;

use freeswitch_types::HangupCause;
use tracing::{info, warn};
use uuid::Uuid;

use super::{Acd, Meta, Unstored};
use crate::core::acd::outcome::{AcdOutcome, CallbackState};
use crate::core::acd::queue::CallKind;
use crate::core::values::ChannelUuid;
use crate::esl::commands::AfterAnswer;
use crate::esl::unconfirmed::Unconfirmed;
use crate::service::dialer::{DialError, DialResult};
use crate::store::acd::Reservation;
use crate::store::acd_calls::Callback;

pub(super) use take_over::take_over;

/// A stored callback is due and an operator of its queue is free: it waits in the queue as
/// a call of the lowest priority, so callers on the line go first; when an operator
/// answers, the customer is dialed and bridged to them.
pub async fn start_callback(acd: Acd, cb: Callback) {
    let call = Uuid::new_v4().to_string();
    let meta = Meta {
        caller: Some(cb.number.clone()),
        account: None,
        ivr: [("contactd_callback".to_string(), cb.id.to_string())].into(),
        node: acd.inner.node.clone(),
        entered_ms: acd.now_ms(),
        kind: CallKind::CallbackDial,
        callback: Some(cb.id),
        consult: None,
        by: Some(acd.inner.instance.clone()),
        campaign: None,
    };
    let store = &acd.inner.store;
    let json = serde_json::to_string(&meta).expect("meta json");
    let ok = store.set_meta(&call, &json).await.is_ok()
        && store
            .enqueue(&cb.queue, &call, 0, usize::MAX / 2, acd.now_ms())
            .await
            .is_ok();
    if !ok {
        acd.inner
            .records
            .callback_result(cb.id, CallbackState::Pending, None, "not queued")
            .await
            .or_log(
                &call,
                &format!("callback {} back to pending (not queued)", cb.id),
            );
        return;
    }
    info!(callback = cb.id, number = %cb.number, queue = %cb.queue, "acd: dialing callback");
    acd.kick();
}

/// The operator answered a callback: dial the customer on the first trunk and bridge.
pub(super) async fn dial_customer(acd: &Acd, r: &Reservation, leg: &str) {
    let store = &acd.inner.store;
    let meta: Meta = match store.meta(&r.call).await {
        Ok(Some(m)) => serde_json::from_str(&m).unwrap_or_default(),
        _ => Meta::default(),
    };
    let (Some(id), Some(number)) = (meta.callback, meta.caller.clone()) else {
        return;
    };
    let trunk = acd
        .inner
        .config
        .trunk
        .iter()
        .find(|(_, t)| t.switch == acd.inner.node);
    // The operator hears ringback (425 Hz, 1 s on, 4 s off) while the customer is dialed.
    let _ = acd
        .inner
        .link
        .execute(leg, "playback", "tone_stream://%(1000,4000,425);loops=-1")
        .await;
    let result = match (trunk, &acd.inner.dialing) {
        (Some((name, t)), Some((calls, live))) => {
            let placed = crate::service::dialer::place_call(
                &acd.inner.link,
                acd.clock(),
                calls,
                live,
                crate::service::dialer::CallRequest {
                    uuid: ChannelUuid::parse(&r.call).unwrap_or_else(|_| ChannelUuid::new_random()),
                    caller_id: None,
                    trunk_name: name,
                    trunk: t,
                    number: &number,
                    then: AfterAnswer::Park,
                    purpose: "callback",
                    budget: "acd_callbacks",
                    budget_lines: t.channels,
                    ring_secs: RING_SECS,
                },
            )
            .await;
            match placed {
                Ok(DialResult::Answered(_)) => Ok(()),
                Ok(DialResult::Failed { cause, .. }) => Err(cause),
                // the customer's phone may ring, or have answered into the park
                Err(DialError::Unconfirmed { uuid, reason }) => {
                    warn!(callback = id, %uuid, "acd: callback's originate not confirmed ({reason}): looking the customer's call up");
                    customer_looked_up(acd, &uuid.to_string()).await
                }
                Err(e) => Err(e.to_string()),
            }
        }
        _ => Err("no trunk on this switch".to_string()),
    };
    connect(acd, r, leg, meta, id, result).await;
}

/// The customer's call reached (Ok) or not: bridged to the operator and handed to a caller
/// task, or the operator freed and the callback put back (or failed after its attempts).
async fn connect(
    acd: &Acd,
    r: &Reservation,
    leg: &str,
    meta: Meta,
    id: i64,
    result: Result<(), String>,
) {
    let store = &acd.inner.store;
    let op = acd.operator_id(&r.agent).await;
    let link = &acd.inner.link;
    let outcome = match result {
        Ok(()) => {
            // a bridge lost on a dropping link is sent again once it is back: the customer
            // must not stay in the park's silence
            let bridged = link
                .bridge_once_linked(&r.call, leg)
                .await
                .map(|b| b.starts_with("+OK"));
            if matches!(bridged, Ok(true)) {
                acd.inner
                    .records
                    .callback_result(id, CallbackState::Done, op, AcdOutcome::Answered.as_str())
                    .await
                    .or_log(
                        &r.call,
                        &format!("callback {id} done (answered by {})", r.agent),
                    );
                store.settle_offer(&r.call).await.or_log(
                    &r.call,
                    "the offer settled (another instance may carry it on)",
                );
                info!(callback = id, operator = %r.agent, "acd: callback connected");
                // The customer leg's end is seen by its owner like any caller's.
                let claimed = store
                    .claim(&r.call, &acd.inner.instance, super::LEASE_MS)
                    .await;
                if matches!(claimed, Ok(true)) {
                    acd.spawn_caller(r.call.clone(), meta, super::caller::Start::Adopted);
                }
                return;
            }
            format!("bridge failed: {bridged:?}")
        }
        Err(e) => e,
    };
    warn!(callback = id, "acd: callback not connected: {outcome}");
    let state = if meta_attempts_left(acd, id).await {
        CallbackState::Pending
    } else {
        CallbackState::Failed
    };
    acd.inner
        .records
        .callback_result(id, state, op, &outcome)
        .await
        .or_log(&r.call, &format!("callback {id} {state}: {outcome}"));
    let _ = link
        .hangup(leg, freeswitch_types::HangupCause::NormalClearing)
        .await;
    acd.end_talk(&r.call, &r.agent, acd.now_ms()).await;
    store
        .del_meta(&r.call)
        .await
        .or_log(&r.call, "forgetting the callback leg");
}

/// How long the customer's phone rings.
const RING_SECS: u32 = 40;
/// How long a dropped link may take to come back while the customer's call is looked up.
const LINK_BACK: Duration = Duration::from_secs(60);

/// The customer's originate was sent but its reply was lost with the link: the call is
/// looked up once the link is back. Answered (while nobody watched, or now): Ok, to be
/// bridged. Otherwise not reached, with why.
async fn customer_looked_up(acd: &Acd, uuid: &str) -> Result<(), String> {
    let link = &acd.inner.link;
    let mut watch = link.watch_call(uuid);
    let ring = Duration::from_secs(u64::from(RING_SECS) + 30);
    match link.follow_unconfirmed(&mut watch, ring, LINK_BACK).await {
        Unconfirmed::Answered | Unconfirmed::AnsweredUnseen => Ok(()),
        Unconfirmed::Ended(h) => Err(h.cause),
        Unconfirmed::Gone => Err("the customer's call ended unseen".to_string()),
        Unconfirmed::Unreachable(why) => {
            let _ = link.kill(uuid, HangupCause::NormalClearing).await;
            Err(why)
        }
        Unconfirmed::NoAnswer => Err(HangupCause::NoAnswer.to_string()),
    }
}

async fn meta_attempts_left(acd: &Acd, id: i64) -> bool {
    acd.inner.records.callback_attempts(id).await.unwrap_or(3) < 3
}
