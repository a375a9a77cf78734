//! An offer nobody saw through (its originate reply lost with the link, its instance dead)
//! carried on from what the switch shows.

use std::time::Duration;

use tracing::{info, warn};

use super::{answered, missed, Carried};
use crate::core::acd::agent::{Command, StateName};
use crate::core::acd::queue::CallKind;
use crate::core::channels::SwitchEvent;
use crate::esl::control::WatchEvent;
use crate::service::acd::bridging::{requeued_music, OwnScript};
use crate::service::acd::callback;
use crate::service::acd::consult::take_over;
use crate::service::acd::{ms_to_time, Acd, Meta, Unstored};
use crate::store::acd::Reservation;

/// Carries on an offer whose outcome nobody saw — its originate reply lost with the link,
/// or its instance dead (`rebuild::heal`): the caller and the operator leg are looked up on
/// the switch. Bridged already: settled. Answered: bridged now. Ringing: its answer or end
/// is waited for (looked up again if the link drops meanwhile). Gone: the caller back at
/// the head of the queue (the operator "missed" only if their phone rang out), or, the
/// caller gone, the operator free again.
pub(in crate::service::acd) async fn resume(
    acd: Acd,
    queue: String,
    r: Reservation,
    leg: String,
    talking: bool,
) {
    let _carried = Carried::new(&acd, &r, &leg, talking);
    let store = &acd.inner.store;
    let link = &acd.inner.link;
    // An attended transfer's consult item is not a channel, nor a callback's before its
    // customer is dialed: their own look-ups.
    let meta: Option<Meta> = match store.meta(&r.call).await {
        Ok(m) => m.and_then(|m| serde_json::from_str(&m).ok()),
        Err(_) => None,
    };
    let campaign = meta.as_ref().is_some_and(|m| m.campaign.is_some());
    match meta {
        Some(m) if m.consult.is_some() => {
            return take_over(&acd, &queue, &r, &leg, talking, &m).await;
        }
        // a callback's call is the customer's, dialed only once the operator answers
        Some(m) if m.kind == CallKind::CallbackDial => {
            return callback::take_over(&acd, &queue, &r, &leg, talking, m).await;
        }
        _ => {}
    }
    let watch = link.watch_call(&leg);
    let chans = match crate::service::acd::channels::switch_channels(&acd).await {
        Ok(c) => c,
        Err(e) => {
            warn!(call = %r.call, "acd: offer not looked up: {e}");
            return;
        }
    };
    let caller = chans.iter().find(|c| c.uuid == r.call);
    let op = chans.iter().find(|c| c.uuid == leg);
    let now = acd.now_ms();
    match (caller, op) {
        (None, op) => {
            if op.is_some() {
                let _ = link
                    .hangup(&leg, freeswitch_types::HangupCause::OriginatorCancel)
                    .await;
            }
            if talking {
                // The caller's own end (its task, or whoever adopts it) closes the record;
                // with nobody left to do so the operator is freed here.
                if matches!(store.meta(&r.call).await, Ok(None)) {
                    acd.end_talk(&r.call, &r.agent, now).await;
                }
            } else {
                store
                    .abandon(&queue, &r.call)
                    .await
                    .or_log(&r.call, &format!("the caller leaving queue {queue}"));
            }
            acd.kick();
        }
        (Some(_), None) => {
            if talking {
                // Answered, but the leg was gone before the bridge (else the caller would
                // have been hung up with it): the caller back to the head, operator ready.
                if store
                    .bridge_failed(&queue, &r.call, &r.agent, now)
                    .await
                    .unwrap_or(false)
                {
                    store
                        .agent_command(&r.agent, Command::GoReady, now)
                        .await
                        .or_log(&r.call, &format!("operator {} ready again", r.agent));
                    acd.log_state(&r.agent, StateName::Ready, "", ms_to_time(now))
                        .await;
                    requeued_music(&acd, &r.call, OwnScript::UNKNOWN).await;
                    warn!(call = %r.call, operator = %r.agent, "acd: operator leg gone before the bridge, caller requeued");
                }
                acd.kick();
            } else {
                // The phone stopped ringing unseen: rang out or was refused.
                missed(&acd, &queue, &r, "ENDED_UNSEEN").await;
            }
        }
        (Some(c), Some(o)) => {
            if c.application == "uuid_bridge" {
                // Already bridged: the talk is on.
                if !talking {
                    store
                        .answer(&r, now)
                        .await
                        .or_log(&r.call, &format!("operator {} talking", r.agent));
                }
                store.settle_offer(&r.call).await.or_log(
                    &r.call,
                    "the offer settled (another instance may carry it on)",
                );
                info!(call = %r.call, operator = %r.agent, "acd: offer found bridged");
                return;
            }
            if campaign && crate::service::acd::message_begun(&c.application) {
                // Too late for an operator: the person is hearing the abandon message
                // (their call's own script went on while the offer was not carried on).
                if let Err(e) = acd.drop_unbridged_campaign_call(&r.call).await {
                    warn!(call = %r.call, "acd: campaign call not given up: {e}");
                }
                return;
            }
            if o.answered {
                answered(&acd, &r, &leg, false, None, talking, OwnScript::UNKNOWN).await;
                return;
            }
            // Still ringing: its answer or its end comes through the watch.
            match wait_ringing(&acd, watch, &leg).await {
                Ringing::Answered => {
                    answered(&acd, &r, &leg, false, None, false, OwnScript::UNKNOWN).await
                }
                Ringing::Ended => missed(&acd, &queue, &r, "NO_ANSWER").await,
                Ringing::LinkLost => {
                    warn!(call = %r.call, operator = %r.agent, "acd: link lost while the operator's phone rang: looking the leg up once it is back");
                    if link.wait_connected(Duration::from_secs(30)).await {
                        Box::pin(resume(acd.clone(), queue, r, leg, talking)).await;
                    }
                    // else: the switch is away; `rebuild::heal` takes the offer over later
                }
            }
        }
    }
}

/// Waits for a looked-up operator phone that still rings: its answer, or its end (hung up
/// here once it has rung past the ring timeout); a link drop meanwhile is told, since the
/// answer or the end may have been lost with it.
pub(in crate::service::acd) async fn wait_ringing(
    acd: &Acd,
    mut watch: crate::esl::control::CallWatch,
    leg: &str,
) -> Ringing {
    let limit = Duration::from_secs(acd.cfg().ring_timeout_seconds + 5);
    let outcome = tokio::time::timeout(limit, async {
        while let Some(ev) = watch.recv().await {
            match ev {
                WatchEvent::Switch(SwitchEvent::Answer { .. }) => return Ringing::Answered,
                WatchEvent::Switch(SwitchEvent::Hangup(_)) => return Ringing::Ended,
                WatchEvent::LinkLost => return Ringing::LinkLost,
                _ => {}
            }
        }
        Ringing::Ended
    })
    .await;
    drop(watch);
    match outcome {
        Ok(o) => o,
        Err(_) => {
            let _ = acd
                .inner
                .link
                .hangup(leg, freeswitch_types::HangupCause::NormalClearing)
                .await;
            Ringing::Ended
        }
    }
}

/// How the wait for a resumed offer's ringing phone ended.
pub(in crate::service::acd) enum Ringing {
    Answered,
    Ended,
    LinkLost,
}
