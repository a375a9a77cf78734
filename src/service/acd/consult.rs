//! Attended transfer: the consult item queued for the target queue, and the talk between
//! the two operators while the caller holds, which ends in the transfer or back to the
//! first operator; carried on by another process (or after a lost reply) in [`take_over`].

mod take_over;

use tracing::{info, warn};
use uuid::Uuid;

use super::{ms_to_time, Acd, AcdError, Meta, Unstored, CONSULTING};
use crate::core::acd::agent::StateName;
use crate::core::acd::queue::CallKind;
use crate::core::channels::SwitchEvent;
use crate::esl::control::{CallWatch, WatchEvent};
use crate::store::acd::Reservation;

pub(super) use take_over::take_over;

/// Attended transfer, first step: a consult item for the target queue, first in line.
/// When an operator of that queue answers, the first operator talks to them while the
/// caller is on hold (see [`answered`]).
pub async fn consult(
    acd: Acd,
    call: String,
    item: String,
    agent: String,
    leg: String,
    to: String,
) -> Result<(), AcdError> {
    let store = &acd.inner.store;
    let caller: Meta = store
        .meta(&call)
        .await?
        .and_then(|m| serde_json::from_str(&m).ok())
        .unwrap_or_default();
    let mut ivr = caller.ivr.clone();
    ivr.insert("contactd_transfer_from".into(), agent.clone());
    let meta = Meta {
        caller: caller.caller.clone(),
        account: caller.account.clone(),
        ivr,
        node: acd.inner.node.clone(),
        entered_ms: caller.entered_ms,
        kind: CallKind::Consult,
        callback: None,
        consult: Some((call.clone(), agent, leg)),
        by: None,
        campaign: None,
    };
    store
        .set_meta(&item, &serde_json::to_string(&meta).expect("meta json"))
        .await?;
    store
        .enqueue(
            &to,
            &item,
            super::TRANSFER_PRIORITY,
            usize::MAX / 2,
            acd.now_ms(),
        )
        .await?;
    acd.kick();
    Ok(())
}

/// The target operator answered the consult: bridge the first operator to them. The first
/// operator hanging up completes the transfer (the caller is bridged to the target); the
/// target hanging up cancels it (the caller returns to the first operator).
pub(super) async fn answered(acd: &Acd, r: &Reservation, leg_b: &str, meta: &Meta, queue: &str) {
    let Some(c) = Consult::of(acd, r, leg_b, meta, queue) else {
        return;
    };
    let store = &acd.inner.store;
    let now = acd.now_ms();
    if !store.answer(r, now).await.unwrap_or(false) {
        let _ = acd
            .inner
            .link
            .hangup(leg_b, freeswitch_types::HangupCause::OriginatorCancel)
            .await;
        store
            .del_meta(&r.call)
            .await
            .or_log(&c.call, &format!("forgetting the consult item {}", r.call));
        return;
    }
    acd.log_state(&r.agent, StateName::Talking, "", ms_to_time(now))
        .await;
    let w = c.watches();
    c.bridge_and_follow(w).await;
}

/// One consult being carried on: the call, its first operator and their leg (a), the
/// target's reservation (its call is the consult item) and leg (b), the target queue.
struct Consult<'a> {
    acd: &'a Acd,
    r: &'a Reservation,
    leg_b: &'a str,
    call: String,
    first: String,
    leg_a: String,
    queue: &'a str,
}

/// The watches of both operators' legs, made before anything is looked up or sent so that
/// no hang-up falls between.
struct Watches {
    a: CallWatch,
    b: CallWatch,
}

impl<'a> Consult<'a> {
    fn of(
        acd: &'a Acd,
        r: &'a Reservation,
        leg_b: &'a str,
        meta: &Meta,
        queue: &'a str,
    ) -> Option<Self> {
        let (call, first, leg_a) = meta.consult.clone()?;
        Some(Consult {
            acd,
            r,
            leg_b,
            call,
            first,
            leg_a,
            queue,
        })
    }

    fn watches(&self) -> Watches {
        let link = &self.acd.inner.link;
        Watches {
            a: link.watch_call(&self.leg_a),
            b: link.watch_call(self.leg_b),
        }
    }

    async fn end_item(&self, reason: &str) {
        let (acd, item) = (self.acd, &self.r.call);
        acd.end_talk(item, &self.r.agent, acd.now_ms()).await;
        acd.inner
            .store
            .del_meta(item)
            .await
            .or_log(&self.call, &format!("forgetting the consult item {item}"));
        info!(call = %self.call, operator = %self.r.agent, "acd: consult ended ({reason})");
    }

    /// The caller's own task leaves the caller to the consult while the flag says
    /// `consulting:` (after a link drop it may look at the talk before the caller is moved):
    /// cleared only once the caller is with the target or back with the first operator.
    async fn transfer_done(&self) {
        self.acd
            .inner
            .store
            .del_transfer(&self.call)
            .await
            .or_log(&self.call, "clearing the done transfer");
    }

    /// Neither operator is there for the caller any more (both seen gone together after an
    /// outage): the transfer goes on as a blind one, the caller first in line in the target
    /// queue (holding with the switch's music meanwhile), as when the first operator hangs
    /// up before anyone took the consult.
    async fn both_gone(&self) {
        let (acd, call) = (self.acd, &self.call);
        if !acd
            .move_to_queue(call, &self.first, self.queue, acd.now_ms())
            .await
        {
            warn!(%call, "acd: the caller could not be queued for {}", self.queue);
            self.transfer_done().await;
        }
        self.end_item("both operators gone").await;
    }

    /// The first operator to the target (the caller holds), then [`Consult::follow`].
    async fn bridge_and_follow(&self, mut w: Watches) {
        let (store, link, call) = (&self.acd.inner.store, &self.acd.inner.link, &self.call);
        let (leg_a, leg_b) = (&self.leg_a, self.leg_b);
        // The first operator hears music, not silence, if the target leaves while contactd
        // is away (`acd-hold`, as for a caller; used up when the consult bridge ends).
        if let Err(e) = self.acd.arm_hold(leg_a).await {
            warn!(%call, "acd: first operator's leg not set to hold: {e}");
        }
        // From here the caller's bridge ends because of the consult: it holds, not hangs up.
        store
            .set_transfer(call, &format!("{CONSULTING}{}", self.queue))
            .await
            .or_log(
                call,
                &format!("transfer noted as consulting {}", self.queue),
            );
        // a bridge lost on a dropping link (or its reply) is sent again once the link is back
        let bridged = link.bridge_once_linked(leg_a, leg_b).await;
        let made = matches!(&bridged, Ok(b) if b.starts_with("+OK"));
        // Refused when sent again after its reply was lost: the first try may have been made
        // and the first operator hung up since (the retry then names a gone leg). Their
        // consult is over: the caller goes to the target, as when they hang up while consulting.
        let left_meanwhile = !made
            && matches!(&bridged, Ok(b) if b.starts_with("-ERR"))
            && link.exists(leg_a).await.ok() == Some(false)
            && link.exists(leg_b).await.ok() == Some(true);
        if !made && !left_meanwhile {
            warn!(%call, "acd: consult bridge failed: {bridged:?}");
            let _ = link
                .hangup(leg_b, freeswitch_types::HangupCause::NormalClearing)
                .await;
            store
                .del_transfer(call)
                .await
                .or_log(call, "clearing the failed transfer");
            self.end_item("bridge failed").await;
            return;
        }
        let (from, to) = (&self.first, &self.r.agent);
        if left_meanwhile {
            warn!(%call, %from, %to, "acd: consult bridge refused when sent again, the first operator gone: completing the transfer");
        } else {
            info!(%call, %from, %to, "acd: consulting");
        }
        let first_left = left_meanwhile || self.follow(&mut w).await;
        self.finish(first_left).await;
    }

    /// Until one of the two operators leaves the consult: true if the first operator did.
    async fn follow(&self, w: &mut Watches) -> bool {
        let link = &self.acd.inner.link;
        loop {
            let ev = tokio::select! {
                ev = w.a.recv() => (true, ev),
                ev = w.b.recv() => (false, ev),
            };
            match ev {
                (a, None | Some(WatchEvent::Switch(SwitchEvent::Hangup(_)))) => return a,
                // A hang-up may have been lost with the link: both legs looked up once it is
                // back (each watch tells the loss; the second look finds the same).
                (_, Some(WatchEvent::LinkLost)) => {
                    let back = std::time::Duration::from_secs(60);
                    if link.back_and_exists(&self.leg_a, back).await == Some(false) {
                        return true;
                    }
                    if link.exists(self.leg_b).await.ok() == Some(false) {
                        return false;
                    }
                }
                _ => {}
            }
        }
    }

    /// The first operator left: the caller to the target (the transfer is complete). Else
    /// the target left: the caller back to the first operator.
    async fn finish(&self, first_left: bool) {
        let (acd, store, link) = (self.acd, &self.acd.inner.store, &self.acd.inner.link);
        let (call, leg_b, item, r) = (&self.call, self.leg_b, &self.r.call, self.r);
        if !first_left {
            let back = link.bridge_once_linked(call, &self.leg_a).await;
            if !matches!(&back, Ok(b) if b.starts_with("+OK")) {
                warn!(%call, "acd: the caller not put back to the first operator: {back:?}");
                if link.exists(&self.leg_a).await.ok() == Some(false) {
                    self.both_gone().await;
                    return;
                }
            }
            self.transfer_done().await;
            self.end_item("target hung up").await;
            return;
        }
        let ok = matches!(
            link.bridge_once_linked(call, leg_b).await,
            Ok(b) if b.starts_with("+OK")
        );
        let moved = ok
            && store
                .consult_complete(call, &self.first, item, &r.agent, acd.now_ms())
                .await
                .unwrap_or(false);
        if !moved {
            let _ = link
                .hangup(leg_b, freeswitch_types::HangupCause::NormalClearing)
                .await;
            if !ok && link.exists(call).await.ok() == Some(true) {
                self.both_gone().await;
            } else {
                self.transfer_done().await;
                self.end_item("caller gone").await;
            }
            return;
        }
        store.set_leg(call, leg_b).await.or_log(
            call,
            &format!("operator leg {leg_b} of the transferred call"),
        );
        self.transfer_done().await;
        store
            .del_meta(item)
            .await
            .or_log(call, &format!("forgetting the consult item {item}"));
        acd.log_state(&self.first, StateName::WrapUp, "", acd.clock().now())
            .await;
        if let Ok(u) = Uuid::parse_str(call) {
            let id = acd.operator_id(&r.agent).await;
            let queue = self.queue;
            acd.inner
                .records
                .moved(u, queue)
                .await
                .or_log(call, &format!("call record: moved to {queue}"));
            acd.inner
                .records
                .reassigned(u, id)
                .await
                .or_log(call, &format!("call record: reassigned to {}", r.agent));
        }
        info!(%call, from = %self.first, to = %r.agent, "acd: attended transfer completed");
    }
}
