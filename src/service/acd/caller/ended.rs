//! The end of a caller's part: the caller or the operator hung up (a talk's end, an
//! abandon, a transfer completed once the operator's leg has gone), or another instance
//! drives the caller now.

use tracing::info;
use uuid::Uuid;

use super::{finish_talk, persist, Caller, Next};
use crate::core::acd::outcome::AcdOutcome;
use crate::service::acd::hangup::EndedBy;
use crate::service::acd::{ms_to_time, Unstored, CONSULTING};
use crate::store::acd::Abandoned;

impl Caller {
    /// The caller hung up: out of the queue, or the ringing phone stops, or the talk ends.
    pub(super) async fn caller_left(&mut self) {
        let store = &self.acd.inner.store;
        let now = self.acd.now_ms();
        self.acd
            .record_hungup_by(&self.call, self.ended_by.unwrap_or(EndedBy::Unknown))
            .await;
        if self
            .acd
            .inner
            .pending
            .lock()
            .expect("pending callers lock")
            .remove(&self.call)
            .is_some()
        {
            // Never queued (Redis was away all along).
            if let Ok(u) = Uuid::parse_str(&self.call) {
                self.acd
                    .inner
                    .records
                    .ended(u, AcdOutcome::Abandoned, ms_to_time(now))
                    .await
                    .or_log(
                        &self.call,
                        &format!("call record end (abandoned at {})", ms_to_time(now)),
                    );
            }
            info!(call = %self.call, outcome = AcdOutcome::Abandoned.as_str(), "acd: caller left");
            return;
        }
        let queue = persist!("call info", self.call, store.call_info(&self.call))
            .flatten()
            .map(|i| i.queue);
        let mut outcome = AcdOutcome::Answered;
        if let Some(queue) = queue {
            match persist!("abandon", self.call, store.abandon(&queue, &self.call)) {
                Some(Abandoned::WasWaiting) => outcome = AcdOutcome::Abandoned,
                Some(Abandoned::WasRinging) => {
                    outcome = AcdOutcome::Abandoned;
                    if let Ok(Some(leg)) = store.leg(&self.call).await {
                        let _ = self
                            .link()
                            .hangup(&leg, freeswitch_types::HangupCause::OriginatorCancel)
                            .await;
                    }
                    self.acd.kick();
                }
                Some(Abandoned::NotFound) => {
                    // the leg goes before its operator is free for the next call
                    outcome = match self.leg_never_bridged().await {
                        Some((agent, leg)) => {
                            self.acd.release_unbridged(&self.call, &agent, &leg).await;
                            info!(call = %self.call, %leg, "acd: caller left before the bridge");
                            AcdOutcome::Abandoned
                        }
                        None => finish_talk(&self.acd, &self.call, now)
                            .await
                            .unwrap_or(AcdOutcome::Lost),
                    };
                }
                None => {}
            }
        }
        if let Ok(u) = Uuid::parse_str(&self.call) {
            self.acd
                .inner
                .records
                .ended(u, outcome, ms_to_time(now))
                .await
                .or_log(
                    &self.call,
                    &format!("call record end ({outcome} at {})", ms_to_time(now)),
                );
        }
        info!(call = %self.call, %outcome, "acd: caller left");
    }

    /// The operator and their leg, for a talk whose offer nobody settled — its instance
    /// died, or the link dropped, between the operator's answer and the bridge — if the leg
    /// is still up and bridged to nobody. An offer a live task carries (here or in another
    /// instance) ends its own leg, and a transfer's legs are the transfer's.
    async fn leg_never_bridged(&self) -> Option<(String, String)> {
        let store = &self.acd.inner.store;
        if self
            .acd
            .inner
            .offers
            .lock()
            .expect("offers")
            .contains_key(&self.call)
        {
            return None;
        }
        let by = store.offer_by(&self.call).await.ok().flatten()?;
        if by != self.acd.inner.instance && !self.acd.gone(&by).await.unwrap_or(false) {
            return None;
        }
        if !matches!(store.transfer_target(&self.call).await, Ok(None)) {
            return None;
        }
        let agent = store.offered_to(&self.call).await.ok().flatten()?;
        let leg = store.leg(&self.call).await.ok().flatten()?;
        (!self.link().bridged(&leg).await).then_some((agent, leg))
    }

    /// The operator's leg left the bridge: a transfer goes on, anything else ends the call.
    pub(super) async fn operator_left(&mut self) -> Next {
        let store = &self.acd.inner.store;
        let now = self.acd.now_ms();
        let Some(Some(agent)) = persist!(
            "operator of the call",
            self.call,
            store.offered_to(&self.call)
        ) else {
            return Next::Continue;
        };
        let mut target =
            persist!("transfer", self.call, store.transfer_target(&self.call)).flatten();
        if let Some(rest) = target.as_deref().and_then(|t| t.strip_prefix("attended:")) {
            // The operator hung up before anyone took the consult: a blind transfer after
            // all, and the consult item leaves the target queue.
            let (q, item) = rest.split_once(':').unwrap_or((rest, ""));
            let (q, item) = (q.to_string(), item.to_string());
            if let Ok(Abandoned::WasRinging) = store.abandon(&q, &item).await {
                if let Ok(Some(leg)) = store.leg(&item).await {
                    let _ = self
                        .link()
                        .hangup(&leg, freeswitch_types::HangupCause::OriginatorCancel)
                        .await;
                }
            }
            store
                .del_meta(&item)
                .await
                .or_log(&self.call, &format!("forgetting the consult item {item}"));
            target = Some(q);
        }
        if let Some(t) = target.as_deref() {
            if t.starts_with(CONSULTING) {
                // The operator is consulting the target: the caller is on hold meanwhile
                // (the switch gave it the hold music; contactd's own takes over).
                self.hold_music().await;
                return Next::Continue;
            }
            if self.acd.move_to_queue(&self.call, &agent, t, now).await {
                self.hold_music().await;
                return Next::Continue;
            }
        }
        finish_talk(&self.acd, &self.call, now).await;
        if let Ok(u) = Uuid::parse_str(&self.call) {
            self.acd
                .inner
                .records
                .ended(u, AcdOutcome::Answered, ms_to_time(now))
                .await
                .or_log(
                    &self.call,
                    &format!("call record end (answered at {})", ms_to_time(now)),
                );
        }
        // The operator's leg left the bridge and no transfer moves the caller: the talk was
        // ended from the operator's side (the switch hangs the caller up after it). A transfer
        // that could not be made (Redis away for good) is contactd's failure, not theirs.
        let by = if target.is_some() {
            EndedBy::Contactd
        } else {
            EndedBy::Operator
        };
        self.acd.record_hungup_by(&self.call, by).await;
        let _ = self
            .link()
            .hangup(&self.call, freeswitch_types::HangupCause::NormalClearing)
            .await;
        Next::Done
    }

    pub(super) async fn let_go(&self) {
        self.acd
            .inner
            .store
            .release_claim_if(&self.call, &self.acd.inner.instance)
            .await
            .or_log(
                &self.call,
                "release of the lease (another instance takes it after it expires)",
            );
        self.acd.disown(&self.call);
    }

    pub(super) async fn cleanup(&self) {
        let store = &self.acd.inner.store;
        persist!("forget the caller", self.call, store.del_meta(&self.call));
        store.release_claim(&self.call).await.or_log(
            &self.call,
            "release of the lease (another instance takes it after it expires)",
        );
        self.acd.disown(&self.call);
    }
}
