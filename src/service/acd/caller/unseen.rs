//! The periodic look at what nobody saw for a waiting caller: an offer whose instance
//! stopped while the phone rang, a talk whose operator leg ended unseen.

use std::time::Duration;

use tracing::warn;

use super::{Caller, Next};
use crate::core::acd::agent::{Command, StateName};
use crate::core::acd::queue::offer_is_stale;
use crate::service::acd::{Unstored, CONSULTING};

impl Caller {
    /// An offer whose instance stopped while the phone rang never gets its answer: after
    /// the ring timeout and a margin it is released (not the operator's fault).
    pub(super) async fn check_offer(&self, queue: &str) {
        let store = &self.acd.inner.store;
        let Ok(Some(agent)) = store.offered_to(&self.call).await else {
            return;
        };
        let Ok(Some(info)) = store.agent_info(&agent).await else {
            return;
        };
        let ring = Duration::from_secs(self.acd.cfg().ring_timeout_seconds);
        if info.state != StateName::Offered || !offer_is_stale(info.at_ms, self.acd.now_ms(), ring)
        {
            return;
        }
        if let Ok(Some(leg)) = store.leg(&self.call).await {
            let _ = self
                .link()
                .hangup(&leg, freeswitch_types::HangupCause::NormalClearing)
                .await;
        }
        let r = crate::store::acd::Reservation {
            call: self.call.clone(),
            agent: agent.clone(),
            offer: info.offer.unwrap_or_default(),
        };
        if let Ok(Some(_)) = store.release_missed(queue, &r, self.acd.now_ms()).await {
            let idle = info.idle_ms.unwrap_or_else(|| self.acd.now_ms());
            store
                .agent_command(&agent, Command::GoReady, idle)
                .await
                .or_log(
                    &self.call,
                    &format!("operator {agent} ready again (idle since {idle} ms)"),
                );
            warn!(call = %self.call, operator = %agent, "acd: offer left unfinished, caller requeued");
            self.acd.kick();
        }
    }

    /// Talking per Redis but the operator's leg is gone: the talk ended unseen. (A talk still
    /// being set up — its offer not settled — is left to the offer, or to `rebuild::heal`
    /// if the instance that made it is gone.)
    pub(super) async fn check_talk(&mut self) -> Next {
        let store = &self.acd.inner.store;
        if !matches!(store.offer_by(&self.call).await, Ok(None)) {
            return Next::Continue;
        }
        let Ok(Some(agent)) = store.offered_to(&self.call).await else {
            return Next::Continue;
        };
        let talking = store
            .agent_info(&agent)
            .await
            .ok()
            .flatten()
            .is_some_and(|i| i.state == StateName::Talking);
        if !talking {
            return Next::Continue;
        }
        let Ok(Some(leg)) = store.leg(&self.call).await else {
            return Next::Continue;
        };
        // An attended transfer's consult owns the caller until it has moved it (its first
        // operator's leg may be gone while the caller is being handed to the target).
        if let Ok(Some(t)) = store.transfer_target(&self.call).await {
            if t.starts_with(CONSULTING) {
                return Next::Continue;
            }
        }
        match self.link().exists(&leg).await {
            Ok(false) => self.operator_left().await,
            _ => {
                // Its bridge came before this task (adopted, or an operator-campaign call
                // handed over bridged): remembered, so that a Redis that lost its data gets
                // it back as a talk, not as a caller waiting for the next operator.
                self.acd
                    .note_caller(&self.call, |s| s.talk = Some((agent, leg)));
                Next::Continue
            }
        }
    }
}
