//! Transfers of a talking call to another queue, blind or attended.

use tracing::info;

use super::{consult, ms_to_time, Acd, AcdError, TransferMode, Unstored, TRANSFER_PRIORITY};
use crate::core::acd::agent::StateName;

impl Acd {
    /// Transfers a call that is talking with an operator to another queue (a group or the
    /// supervisors). Blind: the operator's leg is released at once and the caller waits,
    /// first in line, with music. Attended: the operator keeps talking until the target
    /// queue's operator answers; the caller is then bridged to them and the first operator
    /// released.
    pub async fn transfer(
        &self,
        call: &str,
        to_queue: &str,
        mode: TransferMode,
    ) -> Result<(), AcdError> {
        if uuid::Uuid::parse_str(call).is_err() {
            return Err(AcdError::Invalid(format!("call {call:?}: not a UUID")));
        }
        if !self.cfg().queue.contains_key(to_queue) {
            return Err(AcdError::NotFound(format!("queue {to_queue}")));
        }
        let store = &self.inner.store;
        let agent = store
            .offered_to(call)
            .await?
            .ok_or_else(|| AcdError::NotFound(format!("call {call} with an operator")))?;
        let talking = store
            .agent_info(&agent)
            .await?
            .is_some_and(|i| i.state == StateName::Talking && i.call.as_deref() == Some(call));
        if !talking {
            return Err(AcdError::Conflict(format!(
                "call {call} is not talking with an operator yet"
            )));
        }
        let leg = store
            .leg(call)
            .await?
            .ok_or_else(|| AcdError::NotFound(format!("operator leg of call {call}")))?;
        // From now on the end of the caller's bridge is a move, not the end of the call: the
        // switch itself puts the caller on hold (music) when it comes, even if contactd is
        // not there to see it.
        self.arm_hold(call).await?;
        match mode {
            TransferMode::Blind => {
                store.set_transfer(call, to_queue).await?;
                // The caller's owner sees the bridge end and moves it (see `caller`).
                self.inner
                    .link
                    .hangup(&leg, freeswitch_types::HangupCause::NormalClearing)
                    .await
                    .map_err(|e| AcdError::Switch(e.to_string()))?;
            }
            TransferMode::Attended => {
                // Noted before the consult item can be answered; `consulting:` once it is.
                let item = uuid::Uuid::new_v4().to_string();
                store
                    .set_transfer(call, &format!("attended:{to_queue}:{item}"))
                    .await?;
                consult::consult(
                    self.clone(),
                    call.to_string(),
                    item,
                    agent,
                    leg,
                    to_queue.to_string(),
                )
                .await?;
            }
        }
        info!(%call, to = to_queue, ?mode, "transfer");
        Ok(())
    }

    /// A blind transfer's move, once the operator's leg has gone: the caller leaves
    /// `agent` (to after-call work) for `queue`, first in line, and the transfer is done.
    /// False if the call was not talking with them (or Redis did not answer for
    /// [`super::caller::PERSIST`]).
    pub(crate) async fn move_to_queue(
        &self,
        call: &str,
        agent: &str,
        queue: &str,
        now: i64,
    ) -> bool {
        let store = &self.inner.store;
        // Kept trying while Redis is away: giving up would end the caller's call.
        let moved = super::caller::persist!(
            "transfer",
            call,
            store.transfer(call, agent, queue, TRANSFER_PRIORITY, now)
        )
        .unwrap_or(false);
        if !moved {
            return false;
        }
        store
            .del_transfer(call)
            .await
            .or_log(call, "clearing the done transfer");
        self.log_state(agent, StateName::WrapUp, "", ms_to_time(now))
            .await;
        if let Ok(u) = uuid::Uuid::parse_str(call) {
            let records = &self.inner.records;
            records.talk_ended(u, ms_to_time(now)).await.or_log(
                call,
                &format!("call record: talk ended at {}", ms_to_time(now)),
            );
            records
                .moved(u, queue)
                .await
                .or_log(call, &format!("call record: moved to {queue}"));
        }
        info!(%call, from = %agent, to = queue, "acd: transferred");
        self.kick();
        true
    }

    /// When the caller's current bridge ends, the switch sends it to `acd-hold` (music,
    /// then park) instead of hanging it up (`dialplans/contactd-acd.xml`).
    pub(crate) async fn arm_hold(&self, call: &str) -> Result<(), AcdError> {
        let hold = super::hold_extension();
        for (k, v) in [
            ("contactd_moh", self.cfg().music_on_hold.as_str()),
            ("transfer_after_bridge", hold.as_str()),
        ] {
            let r = self
                .inner
                .link
                .setvar(call, k, v)
                .await
                .map_err(|e| AcdError::Switch(e.to_string()))?;
            if !r.starts_with("+OK") {
                return Err(AcdError::Switch(format!("uuid_setvar {k}: {}", r.trim())));
            }
        }
        Ok(())
    }
}
