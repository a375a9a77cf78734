//! One waiting caller, driven over the control link by the instance holding its lease:
//! music on hold, position and estimated-wait announcements, overflow after the maximum
//! wait, the callback offer, and the end of the call (abandon, hang-up after talking, or a
//! transfer once the operator's leg has gone).

use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, info, warn};
use uuid::Uuid;

use super::hangup::{self, EndedBy};
use super::{ms_to_time, Acd, Meta, Unstored, LEASE_MS};
use crate::core::acd::outcome::AcdOutcome;
use crate::core::acd::timeline::{Step, Timeline, TimelineConfig, Wait};
use crate::core::channels::SwitchEvent;
use crate::esl::control::{CallWatch, WatchEvent};
use crate::store::acd::Abandoned;

mod ended;
mod media;
mod options;
mod unseen;

/// How long the steps that end a caller's part keep trying while Redis is unreachable
/// (stopped, frozen, restarting): giving up would leave an operator "talking" or a caller
/// queued for ever.
pub(crate) const PERSIST: Duration = Duration::from_secs(120);

/// Runs a Redis step (an expression giving a `Result` future, evaluated again on each try)
/// until Redis answers or [`PERSIST`] has passed; None if it never did.
macro_rules! persist {
    ($what:expr, $call:expr, $step:expr) => {{
        // A timer, not a clock read: it runs on tokio's (pausable) time.
        let deadline = tokio::time::sleep($crate::service::acd::caller::PERSIST);
        tokio::pin!(deadline);
        loop {
            match $step.await {
                Ok(v) => break Some(v),
                Err(e) if !deadline.is_elapsed() => {
                    tracing::debug!(call = %$call, "acd: {} (retrying): {e}", $what);
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                }
                Err(e) => {
                    tracing::warn!(call = %$call, "acd: {}: {e}", $what);
                    break None;
                }
            }
        }
    }};
}
pub(crate) use persist;

#[derive(Debug, Clone)]
pub enum Start {
    /// Just transferred into the ACD's park: start the music.
    Fresh,
    /// Taken over from an instance that stopped or died: the music should still be playing,
    /// but the talk may have ended (or an announcement been cut) while nobody watched.
    Adopted,
    /// Offer a callback instead of waiting: the queue was full, or the wait too long.
    CallbackOffer { queue: String, full: bool },
}

/// How often a waiting caller's queue data is looked at when no announcement is due.
const CHECK_EVERY: Duration = Duration::from_secs(3);
/// How soon a failed Redis step of the timeline (queueing, the lease) is tried again.
const RETRY_EVERY: Duration = Duration::from_millis(500);

enum Next {
    Continue,
    /// The caller's part in the ACD is over.
    Done,
    /// Someone else drives the caller now (another instance, or whoever adopts it once the
    /// switch is reachable again): stop without touching its records.
    LetGo,
}

struct Caller {
    acd: Acd,
    call: String,
    meta: Meta,
    watch: CallWatch,
    /// What is due when: the lease, the queue data (overflow, stale offers), announcements.
    timeline: Timeline<Instant>,
    hung_up: bool,
    /// Who ended the call, once the caller's channel is seen gone (`calls.hungup_by`).
    ended_by: Option<EndedBy>,
}

pub async fn run(acd: Acd, call: String, meta: Meta, start: Start) {
    let watch = acd.inner.link.watch_call(&call);
    let pending = acd
        .inner
        .pending
        .lock()
        .expect("pending callers lock")
        .contains_key(&call);
    let timeline = Timeline::new(acd.clock().instant(), timeline_config(&acd), pending);
    let mut c = Caller {
        acd: acd.clone(),
        call: call.clone(),
        meta,
        watch,
        timeline,
        hung_up: false,
        ended_by: None,
    };
    match start {
        Start::Fresh => {
            if !c.music().await {
                // A park seen late (the link dropped and came back in between, a switch
                // restart among them): the caller may be gone already, and no event of
                // theirs would ever come to end this task and close their record.
                match c.link_lost().await {
                    Next::Done => {
                        c.cleanup().await;
                        return;
                    }
                    Next::LetGo => {
                        c.let_go().await;
                        return;
                    }
                    _ => {}
                }
            }
        }
        Start::Adopted => {
            // The operator may have hung up while nobody watched, or the instance died
            // between an announcement's uuid_break and its music.
            if let Next::Done = c.resume().await {
                c.cleanup().await;
                return;
            }
        }
        Start::CallbackOffer { queue, full } => {
            c.offer_callback(&queue, full).await;
            c.cleanup().await;
            return;
        }
    }
    match c.main_loop().await {
        Next::LetGo => c.let_go().await,
        _ => c.cleanup().await,
    }
}

/// The caller's timeline as the config sets it (the maximum wait is the queue's, applied
/// each time the queue is read: a caller can change queues).
fn timeline_config(acd: &Acd) -> TimelineConfig {
    let every = acd.cfg().announce_every_seconds;
    TimelineConfig {
        announce_every: (every > 0).then(|| Duration::from_secs(every)),
        check_every: CHECK_EVERY,
        renew_every: Duration::from_millis(LEASE_MS / 3),
        retry_every: RETRY_EVERY,
    }
}

/// A caller whose channel ended while no instance watched it (contactd was down).
pub async fn gone_unseen(acd: &Acd, call: &str) {
    let store = &acd.inner.store;
    let now = acd.now_ms();
    let outcome = match persist!("call info", call, store.call_info(call)).flatten() {
        Some(info) => match persist!("abandon", call, store.abandon(&info.queue, call)) {
            Some(Abandoned::WasWaiting | Abandoned::WasRinging) => AcdOutcome::Abandoned,
            _ => finish_talk(acd, call, now)
                .await
                .unwrap_or(AcdOutcome::Lost),
        },
        None => AcdOutcome::Lost,
    };
    // An operator leg still up for it (ringing, or answered and waiting with music) is
    // of no use any more.
    if let Ok(Some(leg)) = store.leg(call).await {
        let _ = acd
            .inner
            .link
            .hangup(&leg, freeswitch_types::HangupCause::OriginatorCancel)
            .await;
    }
    if let Ok(u) = Uuid::parse_str(call) {
        acd.inner
            .records
            .ended(u, outcome, ms_to_time(now))
            .await
            .or_log(
                call,
                &format!("call record end ({outcome} at {})", ms_to_time(now)),
            );
    }
    // Nobody saw who hung up: not guessed.
    acd.record_hungup_by(call, EndedBy::Unknown).await;
    persist!("forget the caller", call, store.del_meta(call));
    store.release_claim(call).await.or_log(
        call,
        "release of the lease (another instance takes it after it expires)",
    );
}

/// The talk of `call` is over: its operator goes to after-call work. Returns the outcome
/// if the call was talking.
async fn finish_talk(acd: &Acd, call: &str, now: i64) -> Option<AcdOutcome> {
    let agent = persist!(
        "operator of the call",
        call,
        acd.inner.store.offered_to(call)
    )
    .flatten()?;
    if !acd.end_talk(call, &agent, now).await {
        return None;
    }
    if let Ok(u) = Uuid::parse_str(call) {
        acd.inner
            .records
            .talk_ended(u, ms_to_time(now))
            .await
            .or_log(call, &format!("end of talk at {}", ms_to_time(now)));
    }
    Some(AcdOutcome::Answered)
}

impl Caller {
    fn link(&self) -> &crate::esl::control::SwitchLink {
        &self.acd.inner.link
    }

    /// Sleeps until the timeline's next deadline or the caller's next event, never on a
    /// fixed tick.
    async fn main_loop(&mut self) -> Next {
        loop {
            let deadline = self.timeline.poll_timeout();
            let next = tokio::select! {
                ev = self.watch.recv() => match ev {
                    None => Next::LetGo,
                    Some(WatchEvent::LinkLost) => self.link_lost().await,
                    Some(WatchEvent::Switch(ev)) => self.on_event(ev).await,
                },
                _ = tokio::time::sleep_until(deadline) => self.on_timeout().await,
                // contactd stops: the caller stays parked with its music, its lease given
                // back for the next instance to adopt it at once.
                () = self.acd.inner.stop.cancelled() => Next::LetGo,
            };
            if !matches!(next, Next::Continue) {
                return next;
            }
        }
    }

    async fn on_event(&mut self, ev: SwitchEvent) -> Next {
        // The caller's own events come in the switch's order: its hang-up before its bridge
        // ends is the caller's doing; the bridge ending first is the operator's (`hangup`).
        let ends = hangup::ends_talk(&self.call, &ev);
        match ev {
            SwitchEvent::Hangup(_) => {
                self.hung_up = true;
                self.ended_by = ends;
                self.caller_left().await;
                Next::Done
            }
            SwitchEvent::Bridge { other, .. } => {
                let agent = self
                    .acd
                    .inner
                    .store
                    .offered_to(&self.call)
                    .await
                    .ok()
                    .flatten();
                if let Some(agent) = agent {
                    self.acd
                        .note_caller(&self.call, |s| s.talk = Some((agent, other)));
                }
                Next::Continue
            }
            SwitchEvent::Unbridge { .. } => {
                self.acd.note_caller(&self.call, |s| s.talk = None);
                self.operator_left().await
            }
            _ => Next::Continue,
        }
    }

    /// The control link dropped: events may be lost (the operator's hang-up, the end of the
    /// caller's media). Once it is back: is the caller still there, is its talk still on,
    /// and if it waits, does it hear its music?
    async fn link_lost(&mut self) -> Next {
        match self.there_once_back().await {
            Some(true) => self.resume().await,
            Some(false) => {
                self.caller_left().await;
                Next::Done
            }
            // Leave the caller to whoever adopts it when the switch is reachable again.
            None => Next::LetGo,
        }
    }

    /// After a link drop: once the link is back (a minute at most), is the caller still on
    /// the line? Gone: hung up while the link was down, by whom was not seen (noted so).
    /// None: the link did not come back.
    async fn there_once_back(&mut self) -> Option<bool> {
        let back = self
            .link()
            .back_and_exists(&self.call, Duration::from_secs(60));
        let there = back.await;
        if there == Some(false) {
            self.hung_up = true;
            self.ended_by = Some(EndedBy::Unknown);
        }
        there
    }

    /// After a gap in what this task saw (adopted, link back): a talk that ended unseen is
    /// closed, and a caller that waits in its queue is given its music again (an
    /// announcement's `uuid_break` may have been the last thing the switch got).
    async fn resume(&mut self) -> Next {
        if let Next::Done = self.check_talk().await {
            return Next::Done;
        }
        let store = &self.acd.inner.store;
        let Ok(Some(info)) = store.call_info(&self.call).await else {
            return Next::Continue;
        };
        if let Ok(Some(_)) = store.position(&info.queue, &self.call).await {
            self.hold_music().await;
        }
        Next::Continue
    }

    /// Carries out what the timeline says is due now.
    async fn on_timeout(&mut self) -> Next {
        let now = self.acd.clock().instant();
        for step in self.timeline.handle_timeout(now) {
            let next = match step {
                Step::Queue => {
                    if self.queue_pending().await {
                        self.timeline.handle_queued(self.acd.clock().instant());
                    }
                    Next::Continue
                }
                Step::RenewLease => self.renew_lease(now).await,
                Step::ReadQueue { announce } => self.read_queue(now, announce).await,
            };
            if !matches!(next, Next::Continue) {
                return next;
            }
        }
        Next::Continue
    }

    async fn renew_lease(&mut self, now: Instant) -> Next {
        let store = &self.acd.inner.store;
        match store
            .claim(&self.call, &self.acd.inner.instance, LEASE_MS)
            .await
        {
            Ok(true) => self.timeline.handle_lease_renewed(now),
            Ok(false) => {
                warn!(call = %self.call, "acd: another instance took this caller");
                return Next::LetGo;
            }
            Err(e) => debug!(call = %self.call, "acd: lease: {e}"),
        }
        Next::Continue
    }

    /// The caller's place: overflow once it waited the maximum, release a stale offer of
    /// it, tell it its position if due.
    async fn read_queue(&mut self, now: Instant, announce: bool) -> Next {
        let store = &self.acd.inner.store;
        let Ok(Some(info)) = store.call_info(&self.call).await else {
            return Next::Continue;
        };
        self.acd
            .note_caller(&self.call, |s| s.info = Some(info.clone()));
        let Ok(Some(position)) = store.position(&info.queue, &self.call).await else {
            self.check_offer(&info.queue).await; // ringing or talking
            return Next::Continue;
        };
        let Some(q) = self.acd.cfg().queue.get(&info.queue).cloned() else {
            return Next::Continue;
        };
        let waited = Duration::from_millis((self.acd.now_ms() - info.arrived_ms).max(0) as u64);
        let max_wait = (q.max_wait_seconds > 0).then(|| Duration::from_secs(q.max_wait_seconds));
        if self.timeline.handle_waited(now, waited, max_wait) == Wait::Overflow {
            return self.overflow(&info.queue, &q.overflow).await;
        }
        if announce {
            self.timeline.handle_announced(now);
            self.announce(&info.queue, position).await;
        }
        Next::Continue
    }

    /// A caller admitted while Redis was unreachable is queued once it answers (true: it is
    /// queued, or was not waiting for that; the lease was taken with it).
    async fn queue_pending(&mut self) -> bool {
        let Some(p) = self
            .acd
            .inner
            .pending
            .lock()
            .expect("pending callers lock")
            .get(&self.call)
            .cloned()
        else {
            return true;
        };
        let store = &self.acd.inner.store;
        let json = serde_json::to_string(&p.meta).expect("meta json");
        let queued = async {
            store.set_meta(&self.call, &json).await?;
            store
                .claim(&self.call, &self.acd.inner.instance, LEASE_MS)
                .await?;
            store.set_parked(&self.call).await?;
            // Never refused now: the caller was told nothing of a full queue.
            store
                .enqueue(
                    &p.queue,
                    &self.call,
                    p.priority,
                    usize::MAX / 2,
                    self.acd.now_ms(),
                )
                .await
        };
        match queued.await {
            Ok(_) => {
                info!(call = %self.call, queue = %p.queue, "acd: queued now that Redis is back");
                self.acd
                    .inner
                    .pending
                    .lock()
                    .expect("pending callers lock")
                    .remove(&self.call);
                self.acd.kick();
                true
            }
            Err(e) => {
                debug!(call = %self.call, "acd: not queued yet: {e}");
                false
            }
        }
    }
}
