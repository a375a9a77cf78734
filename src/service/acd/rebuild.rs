//! When Redis is not the whole truth any more.
//!
//! **Redis lost its data** (restarted without persistence, a failover that dropped writes):
//! the queues, the operators' live states, their skills and phones, the callers' records are
//! gone, and nothing would be routed again. The mark `acd:trusted` tells: it is set (to a
//! new epoch) only by a complete rebuild, so a Redis without it is not trusted and routing
//! waits. One instance at a time (lock `acd:rebuilding`) rebuilds:
//! 1. operators' phones and skills from PostgreSQL (`sync_all`);
//! 2. the callers this instance drives, from what their tasks know (queue, priority,
//!    arrival number: the same place as before), with their offers and talks;
//! 3. each operator's live state: on a call if a leg of theirs is up on the switch (not
//!    ready), else from their last logged period in `operator_states` (ready, break,
//!    absent, missed; after-call work and an interrupted offer or talk count as ready);
//!    only for operators Redis does not know yet (a change made since is newer);
//! 4. the mark, with a new epoch. Every other instance sees the new epoch and puts back the
//!    callers it drives (step 2) in turn; callers on the switch that nobody puts back within
//!    a few seconds (their instance died) are taken from the switch's channel list.
//!
//! **An instance died** with offers under way: [`heal`] takes over an offer whose instance
//! is gone (its operator leg is looked up on the switch and the offer carried on: bridged if
//! answered, waited for if ringing, released if gone), frees an operator left "talking"
//! after a call that ended unseen, and releases a reservation no phone ever rang for (a
//! reserve whose reply was lost while Redis was frozen).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tracing::{debug, info, warn};

use super::channels::{operator_leg, switch_channels, Chan};
use super::{offer, Acd, AcdError, CallerSnap, Meta, Unstored, LEASE_MS};
use crate::core::acd::agent::{Command, Since, StateName};
use crate::core::acd::queue::offer_is_stale;
use crate::store::acd::{agent_value, CallInfo, Reservation};

/// Looks at the mark: trusted, rebuilt by another instance (this one puts its callers
/// back), or missing (rebuilt here). Redis unreachable: nothing changes.
pub(super) async fn check(acd: &Acd) {
    let store = &acd.inner.store;
    match store.trusted().await {
        Ok(Some(epoch)) => {
            let prev = acd
                .inner
                .epoch
                .lock()
                .expect("epoch")
                .replace(epoch.clone());
            if !acd.inner.trusted.swap(true, Ordering::SeqCst) {
                // Routing was held while the state was untrusted: it may go on now.
                acd.kick();
            }
            if prev.is_some_and(|p| p != epoch) {
                info!("acd: Redis was rebuilt by another instance: putting this instance's callers back");
                if let Err(e) = restore_own(acd).await {
                    warn!("acd: putting callers back: {e}");
                }
            }
        }
        Ok(None) => {
            if acd.inner.trusted.swap(false, Ordering::SeqCst) {
                warn!(
                    "acd: Redis lost the live state (no mark): routing waits until it is rebuilt"
                );
            }
            if !acd.inner.link.wait_connected(Duration::from_secs(5)).await {
                return;
            }
            if let Err(e) = rebuild(acd).await {
                warn!("acd: live state not rebuilt yet: {e}");
            }
        }
        Err(e) => debug!("acd: mark: {e}"),
    }
}

async fn rebuild(acd: &Acd) -> Result<(), AcdError> {
    let store = &acd.inner.store;
    let me = &acd.inner.instance;
    if !store.lock_rebuild(me, 20_000).await? {
        return Ok(()); // another instance is on it; its new epoch brings us in
    }
    let result = async {
        acd.sync_all().await?;
        // Callers (and offers) this instance knows exactly come first: the operators'
        // states below are only filled in where nothing is known yet.
        restore_own(acd).await?;
        let chans = switch_channels(acd).await?;
        restore_operators(acd, &chans).await?;
        let epoch = uuid::Uuid::new_v4().simple().to_string();
        store.set_trusted(&epoch).await?;
        *acd.inner.epoch.lock().expect("epoch") = Some(epoch);
        Ok::<_, AcdError>(())
    }
    .await;
    store
        .unlock_rebuild(me)
        .await
        .or_log(me, "the rebuild lock's release (expires by itself)");
    result?;
    acd.inner.trusted.store(true, Ordering::SeqCst);
    info!("acd: live state rebuilt (operators from PostgreSQL and the switch, callers from their tasks)");
    acd.kick();
    // Callers whose instance died have nobody to put them back: taken from the switch once
    // the live instances had the time to put theirs back.
    let acd2 = acd.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        if let Err(e) = adopt_from_switch(&acd2).await {
            warn!("acd: callers on the switch nobody put back: {e}");
        }
    });
    Ok(())
}

/// Puts back in Redis the callers this instance drives, in their old places, with the
/// offers it is ringing and the talks it knows of.
async fn restore_own(acd: &Acd) -> Result<(), AcdError> {
    let store = &acd.inner.store;
    let me = &acd.inner.instance;
    let now = acd.now_ms();
    let mut snaps: Vec<(String, CallerSnap)> = acd
        .inner
        .callers
        .lock()
        .expect("callers")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // In arrival order: a caller whose place was never read is queued anew below, and two
    // of them must not swap places by the map's order.
    snaps.sort_by(|a, b| (a.1.meta.entered_ms, &a.0).cmp(&(b.1.meta.entered_ms, &b.0)));
    let offers = acd.inner.offers.lock().expect("offers").clone();
    let pending = acd
        .inner
        .pending
        .lock()
        .expect("pending callers lock")
        .clone();
    let mut n = 0;
    for (call, snap) in snaps {
        if pending.contains_key(&call) {
            continue; // queued by its task once Redis answers
        }
        let json = serde_json::to_string(&snap.meta).expect("meta json");
        store.set_meta(&call, &json).await?;
        store.set_parked(&call).await?;
        store.claim(&call, me, LEASE_MS).await?;
        let info = match (&snap.info, &snap.queue) {
            (Some(i), _) => i.clone(),
            (None, Some(q)) if snap.talk.is_none() && !offers.contains_key(&call) => {
                // Its arrival number was never read: queued as it arrives now, behind those
                // put back with theirs.
                let prio = acd.cfg().queue.get(q).map_or(100, |c| c.priority);
                store
                    .enqueue(q, &call, prio, usize::MAX / 2, snap.meta.entered_ms)
                    .await?;
                n += 1;
                continue;
            }
            (None, Some(q)) => fresh_info(acd, q, snap.meta.entered_ms),
            (None, None) => continue,
        };
        if let Some(o) = offers.get(&call) {
            store.restore_call(&call, &info, false, now).await?;
            let state = if o.answered {
                StateName::Talking
            } else {
                StateName::Offered
            };
            let idle = (!o.answered).then_some(o.at_ms);
            let value = agent_value(state, o.at_ms, idle, Some(o.r.offer), Some(&call));
            store.restore_agent(&o.r.agent, &value, None, true).await?;
            store.restore_talk(&call, &o.r.agent, &o.leg).await?;
            store.set_offer_by(&call, me).await?;
        } else if let Some((agent, leg)) = &snap.talk {
            store.restore_call(&call, &info, false, now).await?;
            let value = agent_value(StateName::Talking, now, None, None, Some(&call));
            store.restore_agent(agent, &value, None, true).await?;
            store.restore_talk(&call, agent, leg).await?;
        } else {
            store.restore_call(&call, &info, true, now).await?;
        }
        n += 1;
    }
    if n > 0 {
        info!(callers = n, "acd: callers put back in Redis");
        acd.kick();
    }
    Ok(())
}

/// A queue entry for a caller whose arrival number was never read: a new arrival.
fn fresh_info(acd: &Acd, queue: &str, entered_ms: i64) -> CallInfo {
    CallInfo {
        priority: acd.cfg().queue.get(queue).map_or(100, |q| q.priority),
        seq: 0,
        arrived_ms: entered_ms,
        queue: queue.to_string(),
    }
}

/// Each operator's live state, where Redis has none: on a call if a leg of theirs is up
/// on the switch, else from their last logged period.
async fn restore_operators(acd: &Acd, chans: &[Chan]) -> Result<(), AcdError> {
    let store = &acd.inner.store;
    let now = acd.now_ms();
    let mut on_call: HashMap<String, (String, Option<String>)> = HashMap::new();
    for ch in chans.iter().filter(|c| c.direction == "outbound") {
        if let Some((op, call)) = operator_leg(acd, &ch.uuid).await? {
            on_call.insert(op, (ch.uuid.clone(), call));
        }
    }
    for op in acd.inner.operators.list().await? {
        if let Some((leg, call)) = on_call.get(&op.login) {
            // Ringing or talking: out of routing until that call's end frees them.
            let value = agent_value(StateName::Talking, now, None, None, call.as_deref());
            if store.restore_agent(&op.login, &value, None, false).await? {
                if let Some(call) = call {
                    store.restore_talk(call, &op.login, leg).await?;
                }
            }
            continue;
        }
        let Some(period) = acd.inner.operators.current(op.id).await? else {
            continue; // never logged in
        };
        let logged = StateName::from_key(&period.state).unwrap_or(StateName::LoggedOut);
        let Some((state, since)) = logged.restored() else {
            continue;
        };
        if matches!(
            logged,
            StateName::Offered | StateName::Talking | StateName::WrapUp
        ) {
            // Back from a call that owes its disposition (PostgreSQL's record): after-call
            // work until it is set, not ready.
            if let Some(call) = acd.disposition_due(&op.login).await? {
                let value = agent_value(StateName::WrapUp, now, None, None, Some(&call));
                store.restore_agent(&op.login, &value, None, false).await?;
                continue;
            }
        }
        let at = match since {
            Since::Logged => period.since.timestamp_millis(),
            Since::Now => now,
        };
        let (value, ready) = if state == StateName::Ready {
            (agent_value(state, at, Some(at), None, None), Some(at))
        } else {
            (agent_value(state, at, None, None, None), None)
        };
        store.restore_agent(&op.login, &value, ready, false).await?;
    }
    Ok(())
}

/// Callers waiting in the `contactd-acd` context that no instance put back: queued again
/// in the order they came in, and driven by this instance.
async fn adopt_from_switch(acd: &Acd) -> Result<(), AcdError> {
    let store = &acd.inner.store;
    let mut chans: Vec<Chan> = switch_channels(acd)
        .await?
        .into_iter()
        .filter(|c| c.context == super::CONTEXT)
        .collect();
    chans.sort_by_key(|c| c.created_epoch);
    let mut adopted = 0;
    for ch in chans {
        if acd.inner.owned.lock().expect("owned").contains(&ch.uuid) {
            continue;
        }
        if store.meta(&ch.uuid).await?.is_some() {
            continue; // put back by its instance (or being adopted)
        }
        let Some(queue) = acd
            .inner
            .link
            .getvar(&ch.uuid, "contactd_queue")
            .await
            .map_err(|e| AcdError::Switch(e.to_string()))?
        else {
            continue;
        };
        let Some(q) = acd.cfg().queue.get(&queue) else {
            continue;
        };
        let entered_ms = if ch.created_epoch > 0 {
            ch.created_epoch * 1000
        } else {
            acd.now_ms()
        };
        let meta = Meta {
            caller: (!ch.cid_num.is_empty()).then(|| ch.cid_num.clone()),
            node: acd.inner.node.clone(),
            entered_ms,
            by: Some(acd.inner.instance.clone()),
            ..Meta::default()
        };
        if !store.claim(&ch.uuid, &acd.inner.instance, LEASE_MS).await? {
            continue;
        }
        store
            .set_meta(&ch.uuid, &serde_json::to_string(&meta).expect("meta json"))
            .await?;
        store.set_parked(&ch.uuid).await?;
        if store.offered_to(&ch.uuid).await?.is_some() {
            // talking with an operator whose leg the rebuild found
            let info = fresh_info(acd, &queue, entered_ms);
            store
                .restore_call(&ch.uuid, &info, false, acd.now_ms())
                .await?;
        } else {
            store
                .enqueue(&queue, &ch.uuid, q.priority, usize::MAX / 2, acd.now_ms())
                .await?;
        }
        info!(call = %ch.uuid, %queue, "acd: caller taken from the switch's channel list");
        acd.spawn_caller(ch.uuid.clone(), meta, super::caller::Start::Adopted);
        acd.note_caller(&ch.uuid, |s| s.queue = Some(queue.clone()));
        adopted += 1;
    }
    if adopted > 0 {
        acd.kick();
    }
    Ok(())
}

/// Offers and talks nobody carries on (see the module doc).
pub(super) async fn heal(acd: &Acd) -> Result<(), AcdError> {
    let store = &acd.inner.store;
    let me = acd.inner.instance.clone();
    let now = acd.now_ms();
    let ring = Duration::from_secs(acd.cfg().ring_timeout_seconds);
    for (agent, info) in store.agents().await? {
        let talking = match info.state {
            StateName::Offered => false,
            StateName::Talking => true,
            _ => continue,
        };
        let Some(call) = info.call.clone() else {
            continue;
        };
        if acd.inner.offers.lock().expect("offers").contains_key(&call) {
            continue; // ours, under way
        }
        if now - info.at_ms < 3_000 {
            continue; // just reserved or answered: its instance is on it
        }
        let by = store.offer_by(&call).await?;
        let leg = store.leg(&call).await?;
        let exists = |u: String| async move {
            acd.inner
                .link
                .exists(&u)
                .await
                .map_err(|e| AcdError::Switch(e.to_string()))
        };
        match by.as_deref() {
            None if talking => {
                // A settled talk. Its end is seen by the caller's task (or whoever adopts
                // the caller, whose record is still there); only an operator nobody will
                // ever free is freed here.
                if store.meta(&call).await?.is_some() {
                    continue;
                }
                if let Some(leg) = leg {
                    if !exists(leg).await? && !exists(call.clone()).await? {
                        info!(%call, operator = %agent, "acd: talk ended unseen, operator freed");
                        acd.end_talk(&call, &agent, now).await;
                    }
                }
                continue;
            }
            // A live instance carries it on (unless it has been ringing far too long).
            Some(b)
                if b != me
                    && !acd.gone(b).await?
                    && (talking || !offer_is_stale(info.at_ms, now, ring)) =>
            {
                continue;
            }
            _ => {}
        }
        let r = Reservation {
            call: call.clone(),
            agent: agent.clone(),
            offer: info.offer.unwrap_or_default(),
        };
        let queue = store.call_info(&call).await?.map(|i| i.queue);
        let Some(leg) = leg else {
            // Reserved, but no phone ever rang (the reservation's reply was lost, or its
            // instance died at once): back to the head of the queue, operator ready.
            if talking {
                continue;
            }
            if let Some(q) = queue {
                if store.release_missed(&q, &r, now).await?.is_some() {
                    let idle = info.idle_ms.unwrap_or(now);
                    store.agent_command(&agent, Command::GoReady, idle).await?;
                    warn!(%call, operator = %agent, "acd: reservation nobody rang for, caller requeued");
                    acd.kick();
                }
            }
            continue;
        };
        if !store
            .take_offer(&call, by.as_deref().unwrap_or(""), &me)
            .await?
        {
            continue;
        }
        let Some(queue) = queue else {
            // The call already left the ACD: the operator is freed, and their leg, which
            // nobody will bridge now, hung up (else they would sit in its music, offered
            // the next call on top); one bridged already is a talk, left alone.
            if !acd.inner.link.bridged(&leg).await {
                let _ = acd
                    .inner
                    .link
                    .hangup(&leg, freeswitch_types::HangupCause::NormalClearing)
                    .await;
            }
            if talking {
                acd.end_talk(&call, &agent, now).await;
            } else {
                // not the operator's fault: ready again, their idle time kept
                store.abandon("", &call).await?;
                acd.kick();
            }
            continue;
        };
        info!(%call, operator = %agent, from = by.as_deref().unwrap_or("-"), talking, "acd: offer taken over");
        acd.spawn_offer(offer::resume(acd.clone(), queue, r, leg, talking));
    }
    Ok(())
}
