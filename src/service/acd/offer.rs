//! One offer: ring the reserved operator's phone, and on answer record and bridge the
//! caller; on no answer within the ring timeout the operator becomes "not ready (missed)"
//! and the caller returns to the head of the queue. What an answered offer of a stored
//! callback or of a consult does next is in `callback` and `consult`.

use std::time::Duration;

use tracing::{info, warn};
use uuid::Uuid;

use super::bridging::{bridge, Bridge, OwnScript};
use super::{card, ms_to_time, Acd, LocalOffer, Meta, ScreenPop, Unstored};
use crate::core::acd::agent::StateName;
use crate::core::acd::names::check_endpoint;
use crate::core::acd::queue::CallKind;
use crate::core::values::{ChannelUuid, MediaFile};
use crate::esl::commands::{AfterAnswer, Originate};
use crate::store::acd::{OfferStart, Reservation};

mod resume;
pub(super) use resume::{resume, wait_ringing, Ringing};

/// Marks an offer as carried on by this instance for as long as it lives (`rebuild::heal`
/// leaves it alone, a rebuild puts it back as it is).
struct Carried {
    acd: Acd,
    call: String,
    token: u64,
}

impl Carried {
    fn new(acd: &Acd, r: &Reservation, leg: &str, answered: bool) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let token = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        acd.inner.offers.lock().expect("offers").insert(
            r.call.clone(),
            LocalOffer {
                r: r.clone(),
                leg: leg.to_string(),
                answered,
                at_ms: acd.now_ms(),
                token,
            },
        );
        Self {
            acd: acd.clone(),
            call: r.call.clone(),
            token,
        }
    }

    fn answered(&self) {
        if let Some(o) = self
            .acd
            .inner
            .offers
            .lock()
            .expect("offers")
            .get_mut(&self.call)
            .filter(|o| o.token == self.token)
        {
            o.answered = true;
        }
    }
}

impl Drop for Carried {
    fn drop(&mut self) {
        let mut offers = self.acd.inner.offers.lock().expect("offers");
        // not a later offer of the same call (requeued and offered again meanwhile)
        if offers
            .get(&self.call)
            .is_some_and(|o| o.token == self.token)
        {
            offers.remove(&self.call);
        }
    }
}

/// What the operator hears once they answer, until the caller is bridged to them: the
/// music on hold, from the switch itself, so that the wait is never silent (even if
/// contactd is slow or gone at that moment). A callback's operator leg parks instead:
/// contactd plays them ringback while the customer is dialed.
fn operator_wait(acd: &Acd, callback: bool) -> AfterAnswer {
    if callback {
        return AfterAnswer::Park;
    }
    match MediaFile::parse(&acd.cfg().music_on_hold) {
        Ok(f) => AfterAnswer::Playback(f),
        Err(_) => AfterAnswer::Park,
    }
}

/// Rings the operator of reservation `r`. `started`: the operator leg the reservation
/// already noted, with what it read (the dispatcher's reservations); `None`: noted and read
/// here.
pub async fn run(
    acd: Acd,
    queue: String,
    r: Reservation,
    started: Option<(ChannelUuid, OfferStart)>,
) {
    let store = &acd.inner.store;
    let (leg, meta, endpoint) = match started {
        Some((leg, start)) => (leg, Ok(start.meta), Ok(start.endpoint)),
        None => {
            let leg = ChannelUuid::new_random();
            // The three Redis steps before the originate at once (one round trip, not
            // three: the caller waits on this path); the leg is noted before the originate
            // all the same.
            let (meta, noted, endpoint) = futures_util::future::join3(
                store.meta(&r.call),
                store.set_leg(&r.call, leg.as_str()),
                store.endpoint(&r.agent),
            )
            .await;
            if let Err(e) = noted {
                warn!(call = %r.call, "acd: cannot note the operator leg: {e}");
            }
            (leg, meta, endpoint)
        }
    };
    let carried = Carried::new(&acd, &r, leg.as_str(), false);
    let meta: Meta = match meta {
        Ok(Some(m)) => serde_json::from_str(&m).unwrap_or_default(),
        _ => Meta::default(),
    };
    // The records are written while the phone rings, not before: they must be in before
    // the next state ("talking", "missed") is logged, which waits for them.
    let offered_at = acd.clock().now();
    let mut logged = {
        let (acd, call, agent) = (acd.clone(), r.call.clone(), r.agent.clone());
        tokio::spawn(async move {
            if let Ok(u) = Uuid::parse_str(&call) {
                acd.inner
                    .records
                    .offered(u)
                    .await
                    .or_log(&call, "call record: offered");
            }
            acd.log_state(&agent, StateName::Offered, "", offered_at)
                .await;
        })
    };
    tokio::spawn(pop_screen(
        acd.clone(),
        queue.clone(),
        r.clone(),
        meta.clone(),
    ));

    let ring = acd.cfg().ring_timeout_seconds as u32;
    let endpoint = match endpoint {
        Ok(Some(e)) if check_endpoint(&e).is_ok() => e,
        other => {
            let (endpoint, problem) = match &other {
                Ok(Some(e)) => (Some(e.as_str()), check_endpoint(e).err()),
                Ok(None) => (None, Some("none known".to_string())),
                Err(e) => (None, Some(e.to_string())),
            };
            warn!(
                operator = %r.agent,
                ?endpoint,
                ?problem,
                "acd: no valid phone for the operator: not rung"
            );
            let _ = logged.await;
            missed(&acd, &queue, &r, "NO_ENDPOINT").await;
            return;
        }
    };
    let mut orig = Originate {
        uuid: leg.clone(),
        endpoint,
        vars: Vec::new(),
        then: operator_wait(&acd, meta.kind == CallKind::CallbackDial),
        timeout_secs: ring,
    };
    let consult = meta.kind == CallKind::Consult;
    let mut vars = vec![
        ("contactd_acd_call", r.call.clone()),
        ("contactd_operator", r.agent.clone()),
        ("contactd_queue", queue.clone()),
    ];
    if let Some(c) = meta.caller.as_deref() {
        if crate::core::values::PhoneNumber::parse(c).is_ok() {
            vars.push(("origination_caller_id_number", c.to_string()));
        }
    }
    if meta.campaign.is_some() {
        // A person answered a campaign call and must reach the operator within 2 s: their
        // phone answers by itself (mod_sofia sends `Call-Info: answer-after=0`).
        vars.push(("sip_auto_answer", "true".into()));
    }
    if consult {
        // If the first operator hangs up during the consult, this leg must stay for the
        // caller, and hear music until the caller is bridged to it (even if contactd is
        // down meanwhile): `acd-hold`, as for a caller on hold.
        vars.push(("transfer_after_bridge", super::hold_extension()));
        vars.push(("contactd_moh", acd.cfg().music_on_hold.clone()));
    }
    for (k, v) in vars {
        match orig.var(k, &v) {
            Ok(o) => orig = o,
            Err(e) => {
                warn!(call = %r.call, "acd: variable {k}: {e}");
                let _ = logged.await;
                missed(&acd, &queue, &r, "INVALID").await;
                return;
            }
        }
    }
    let deadline = Duration::from_secs(u64::from(ring) + 15);
    let command = orig.command();
    // a change of the link's status from here on means the reply may be lost with it
    let mut link_status = acd.inner.link.watch_status();
    link_status.mark_unchanged();
    let sent = acd.inner.link.bgapi(&command, deadline);
    let sent = if meta.campaign.is_some() {
        // A person of a campaign is waiting on the line: an auto-answer phone that has not
        // answered within `operator_answer_ms` is a missed offer, and the person goes on to
        // the next ready operator (`campaign_call`).
        let limit = acd.inner.config.campaigns.operator.operator_answer();
        tokio::pin!(sent);
        tokio::select! {
            s = &mut sent => s,
            // not the operator's miss if the link dropped meanwhile: the reply is then
            // lost, and the leg is looked up below once the link is back
            () = tokio::time::sleep(limit) => {
                let blip = link_status.has_changed().unwrap_or(true);
                if !blip && missed_campaign_offer(&acd, &queue, &r, leg.as_str(), Some(&mut logged)).await {
                    // The cancel can reach the switch before the leg exists (its originate
                    // still queued there): the phone then answers after all, into music
                    // nobody would ever bridge, with the operator offered the next call.
                    if matches!(&sent.await, Ok(b) if b.trim_start().starts_with("+OK")) {
                        warn!(call = %r.call, operator = %r.agent, "acd: missed offer's phone answered after its cancel: hung up");
                        let _ = acd
                            .inner
                            .link
                            .hangup(leg.as_str(), freeswitch_types::HangupCause::NormalClearing)
                            .await;
                    }
                    return;
                }
                sent.await
            }
        }
    } else {
        sent.await
    };
    let body = match sent {
        Ok(b) => b.trim().to_string(),
        Err(e) => {
            // The reply was lost (the link dropped, or it came too late): the phone may be
            // ringing, or answered and waiting. Never rung again: looked up once the link
            // is back, and carried on from where it is.
            warn!(call = %r.call, operator = %r.agent, "acd: originate not confirmed ({e}): looking the operator leg up");
            let _ = logged.await;
            if acd.inner.link.wait_connected(Duration::from_secs(30)).await {
                resume(acd.clone(), queue, r, leg.to_string(), false).await;
            }
            // else: the switch is away; `rebuild::heal` takes the offer over later
            drop(carried);
            return;
        }
    };
    if !body.starts_with("+OK") {
        let _ = logged.await;
        let cause = body
            .strip_prefix("-ERR ")
            .unwrap_or(&body)
            .trim()
            .to_string();
        missed(&acd, &queue, &r, &cause).await;
        return;
    }
    carried.answered();
    if consult {
        let _ = logged.await;
        return super::consult::answered(&acd, &r, leg.as_str(), &meta, &queue).await;
    }
    answered(
        &acd,
        &r,
        leg.as_str(),
        meta.kind == CallKind::CallbackDial,
        Some(logged),
        false,
        OwnScript::of(&meta),
    )
    .await;
}

/// A campaign offer's phone did not answer in time: "not ready (missed)" as for inbound, the
/// person back at the head of the queue for the next operator, the operator's leg hung up.
/// False if the offer was no longer current (answered meanwhile, or the call withdrawn).
pub(super) async fn missed_campaign_offer(
    acd: &Acd,
    queue: &str,
    r: &Reservation,
    leg: &str,
    logged: Option<&mut tokio::task::JoinHandle<()>>,
) -> bool {
    match acd.inner.store.release_missed(queue, r, acd.now_ms()).await {
        Ok(Some(_)) => {
            if let Some(l) = logged {
                let _ = l.await;
            }
            info!(call = %r.call, operator = %r.agent, "acd: campaign offer not answered in time: operator missed, person requeued at the head");
            let _ = acd
                .inner
                .link
                .hangup(leg, freeswitch_types::HangupCause::OriginatorCancel)
                .await;
            acd.log_state(&r.agent, StateName::Missed, "", acd.clock().now())
                .await;
            acd.kick();
            true
        }
        Ok(None) => false,
        Err(e) => {
            warn!(call = %r.call, "acd: release after a missed campaign offer: {e}");
            false
        }
    }
}

/// The phone did not answer (or could not ring): "not ready (missed)", caller to the head.
pub(super) async fn missed(acd: &Acd, queue: &str, r: &Reservation, cause: &str) {
    match acd.inner.store.release_missed(queue, r, acd.now_ms()).await {
        Ok(Some(_)) => {
            info!(call = %r.call, operator = %r.agent, cause, "acd: ring missed, caller requeued at the head");
            acd.log_state(&r.agent, StateName::Missed, "", acd.clock().now())
                .await;
            acd.kick();
        }
        Ok(None) => {} // the caller left meanwhile
        Err(e) => warn!(call = %r.call, "acd: release after a missed ring: {e}"),
    }
}

/// The operator answered: the caller is recorded and bridged to them at once; the state
/// change is logged after (`logged`: the offer's own records, which must be in first).
/// `talking`: the answer was already noted in Redis (an offer taken over after it).
pub(super) async fn answered(
    acd: &Acd,
    r: &Reservation,
    leg: &str,
    callback: bool,
    logged: Option<tokio::task::JoinHandle<()>>,
    talking: bool,
    script: OwnScript,
) {
    let store = &acd.inner.store;
    let link = &acd.inner.link;
    let now = acd.now_ms();
    if !talking && !note_answer(acd, r, now).await {
        // The caller hung up while the phone rang.
        let _ = link
            .hangup(leg, freeswitch_types::HangupCause::OriginatorCancel)
            .await;
        return;
    }
    let log_talking = || async {
        if let Some(l) = logged {
            let _ = l.await;
        }
        if !talking {
            acd.log_state(&r.agent, StateName::Talking, "", ms_to_time(now))
                .await;
        }
    };
    if callback {
        log_talking().await;
        return super::callback::dial_customer(acd, r, leg).await;
    }
    let bridged = bridge(acd, r, leg, script).await;
    log_talking().await;
    match bridged {
        Bridge::Done(recording) => {
            store.settle_offer(&r.call).await.or_log(
                &r.call,
                "the offer settled (another instance may carry it on)",
            );
            info!(call = %r.call, operator = %r.agent, "acd: answered and bridged");
            if let Ok(u) = Uuid::parse_str(&r.call) {
                let id = acd.operator_id(&r.agent).await;
                acd.inner
                    .records
                    .answered(u, id, recording.as_deref(), ms_to_time(now))
                    .await
                    .or_log(
                        &r.call,
                        &format!(
                            "call record: answered by {} at {}, recording {}",
                            r.agent,
                            ms_to_time(now),
                            recording.as_deref().unwrap_or("none")
                        ),
                    );
            }
        }
        Bridge::Failed => {}
        Bridge::LinkLost => {
            // Whether the bridge was made is not known: looked up once the link is back.
            if link.wait_connected(Duration::from_secs(30)).await {
                if let Some(q) = store.call_info(&r.call).await.ok().flatten() {
                    Box::pin(resume(
                        acd.clone(),
                        q.queue,
                        r.clone(),
                        leg.to_string(),
                        true,
                    ))
                    .await;
                }
            }
        }
    }
}

/// Notes the answer in Redis; false if the offer is no longer current (the caller left).
/// While Redis does not answer, the operator waits (with music) and it is tried again: a
/// try that timed out may have been applied after all, which the next one recognises.
async fn note_answer(acd: &Acd, r: &Reservation, now: i64) -> bool {
    let store = &acd.inner.store;
    let deadline = acd.clock().instant() + Duration::from_secs(60);
    let mut failed = false;
    loop {
        match store.answer(r, now).await {
            Ok(true) => return true,
            Ok(false) if !failed => return false,
            Ok(false) => {
                return store
                    .agent_info(&r.agent)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|i| {
                        i.state == StateName::Talking
                            && i.call.as_deref() == Some(r.call.as_str())
                            && i.offer == Some(r.offer)
                    });
            }
            Err(e) if acd.clock().instant() < deadline => {
                failed = true;
                tracing::debug!(call = %r.call, "acd: answer not noted yet: {e}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => {
                warn!(call = %r.call, "acd: answer not noted: {e}");
                return false;
            }
        }
    }
}

/// Builds the customer card and sends it to the operator's screen (and the webhook).
async fn pop_screen(acd: Acd, queue: String, r: Reservation, meta: Meta) {
    let currency = acd.inner.config.ivr.currency.clone();
    let customer = match card::customer_card(
        acd.pool(),
        &acd.inner.config.dialing,
        meta.caller.as_deref(),
        meta.account.as_deref(),
        &currency,
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            warn!(call = %r.call, "acd: customer card: {e}");
            None
        }
    };
    let now = acd.clock().now();
    let entered = ms_to_time(meta.entered_ms);
    // A consult shows the transferred call itself.
    let call = meta
        .consult
        .as_ref()
        .map_or_else(|| r.call.clone(), |(c, _, _)| c.clone());
    acd.publish(ScreenPop {
        call,
        operator: r.agent.clone(),
        queue,
        caller: meta.caller.clone(),
        entered_at: entered.to_rfc3339(),
        offered_at: now.to_rfc3339(),
        waited_s: (now - entered).num_milliseconds().max(0) as f64 / 1000.0,
        ivr: meta.ivr.clone(),
        customer,
        campaign: meta.campaign.clone(),
    });
}
