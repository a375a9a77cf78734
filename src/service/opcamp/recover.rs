//! After a restart (or a lost originate): subscribers of operator campaigns left `dialing`
//! with nobody following their call. Nobody who may have been connected is dialed again, and
//! nobody answered is left in silence or cut off:
//! - a call still up and talking with an operator (bridged on the switch, which carries the
//!   talk without contactd) is followed to its end and recorded `connected`; the ACD takes
//!   the operator's side over as for its own calls, and the disposition is owed as usual;
//! - a call still up, answered, with no operator: the person hears the abandon message (as
//!   any abandoned call does) and is recorded `abandoned`;
//! - a call still ringing is ended and retried by its cause;
//! - a call gone: one that had reached an operator is `connected` (its talk ended now: the
//!   disposition is owed), another answered one is done (`unknown`), one never answered is
//!   retried by its cause, one with no call row was never sent.

use std::sync::Arc;
use std::time::Duration;

use freeswitch_types::HangupCause;
use tracing::{info, warn};
use uuid::Uuid;

use super::call::{end_with, wait_hangup, ABANDONED, CONNECTED};
use super::OpRunner;
use crate::core::campaign::outcome::{self, Outcome};
use crate::esl::control::SwitchLink;
use crate::store::campaigns::{Campaign, Stranded};
use crate::store::StoreError;

/// How long recovery waits for the switch link before it judges a call it cannot see.
const LINK_WAIT: Duration = Duration::from_secs(10);

impl OpRunner {
    pub(super) async fn recover(self: &Arc<Self>) -> Result<(), StoreError> {
        for op in self.ops.active().await? {
            let Some(c) = self.campaigns.get(op.campaign_id).await? else {
                continue;
            };
            // A preview contact on an operator's screen is theirs, not stranded.
            let held = self.held().held_contacts(c.id).await?;
            let stranded: Vec<_> = {
                let all = self.campaigns.stranded(c.id).await?;
                let driving = self.driving.lock().expect("driving");
                all.into_iter()
                    .filter(|s| !driving.contains(&(c.id, s.contact_id)))
                    .filter(|s| !held.contains(&s.contact_id))
                    .collect()
            };
            if !stranded.is_empty() {
                info!(
                    campaign = c.id,
                    n = stranded.len(),
                    "operator campaign: recovering subscribers nobody follows"
                );
            }
            for s in stranded {
                self.recover_one(&c, s).await?;
            }
        }
        Ok(())
    }

    async fn recover_one(self: &Arc<Self>, c: &Campaign, s: Stranded) -> Result<(), StoreError> {
        let attempt_no = s.attempts + 1;
        if let Some(o) = s.outcome.as_deref() {
            self.settle(c, s.contact_id, s.attempts.max(1), o).await;
            return Ok(());
        }
        let Some(uuid) = s.uuid else {
            self.campaigns
                .requeue(c.id, s.contact_id, self.clock.now())
                .await?;
            return Ok(());
        };
        let call = uuid.to_string();
        let rec = self.calls.get(uuid).await.ok().flatten();
        let answered = s.answered || rec.as_ref().is_some_and(|r| r.answered_at.is_some());
        if let Some(link) = self.link_for(&c.trunk) {
            // watched before asking, so that an end in between is not missed
            let watch = link.watch_call(&call);
            match link.back_and_exists(&call, LINK_WAIT).await {
                Some(true) if answered => {
                    self.take_over(c, s.contact_id, attempt_no, uuid, watch);
                    return Ok(());
                }
                Some(true) => {
                    // still ringing: nobody follows it; ended, then retried by its cause
                    let _ = link.kill(&call, HangupCause::NormalClearing).await;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Some(false) => {}
                None => {
                    // the switch cannot be asked: whoever it reached may be connected, so
                    // it is ended and never dialed again (below, `unknown` if answered)
                    let _ = link.kill(&call, HangupCause::NormalClearing).await;
                }
            }
        }
        let rec = self.calls.get(uuid).await.ok().flatten();
        let outcome = match &rec {
            None => {
                // No call row: written before the originate, so none was sent.
                self.campaigns.delete_attempt(uuid).await?;
                self.campaigns
                    .requeue(c.id, s.contact_id, self.clock.now())
                    .await?;
                return Ok(());
            }
            // it ended while nobody followed it; if it had reached an operator, it counts
            // as their talk and the disposition is owed as for any other
            Some(_)
                if self
                    .ops
                    .progress(uuid)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|p| p.0) =>
            {
                self.log_write(self.ops.talk_ended(uuid, self.clock.now()).await);
                CONNECTED
            }
            Some(r) if s.answered || r.answered_at.is_some() => Outcome::Unknown.as_str(),
            Some(r) => match r.hangup_cause.as_deref() {
                Some(cause) if cause != "UNKNOWN" => outcome::unanswered(cause).as_str(),
                _ => Outcome::NoAnswer.as_str(),
            },
        };
        warn!(campaign = c.id, contact = s.contact_id, %uuid, outcome, "operator campaign attempt recovered");
        let end = crate::store::campaigns::AttemptEnd {
            outcome: outcome.to_string(),
            cause: rec.and_then(|r| r.hangup_cause),
            ..Default::default()
        };
        self.finish(c, s.contact_id, attempt_no, uuid, &end).await;
        Ok(())
    }

    /// An answered call still up that nobody follows: its talk with the operator is followed
    /// to the end, or, with no operator, the person hears the abandon message.
    fn take_over(
        self: &Arc<Self>,
        c: &Campaign,
        contact: i64,
        attempt_no: i32,
        uuid: Uuid,
        mut watch: crate::esl::control::CallWatch,
    ) {
        let key = (c.id, contact);
        self.driving.lock().expect("driving").insert(key);
        let me = Arc::clone(self);
        let c = c.clone();
        tokio::spawn(async move {
            if let Some(link) = me.link_for(&c.trunk) {
                let end = me.follow_taken_over(&c, uuid, link, &mut watch).await;
                me.finish(&c, contact, attempt_no, uuid, &end).await;
            }
            me.driving.lock().expect("driving").remove(&key);
        });
    }

    async fn follow_taken_over(
        self: &Arc<Self>,
        c: &Campaign,
        uuid: Uuid,
        link: &SwitchLink,
        watch: &mut crate::esl::control::CallWatch,
    ) -> crate::store::campaigns::AttemptEnd {
        let call = uuid.to_string();
        let recorded = self.ops.progress(uuid).await.ok().flatten();
        let (connected, operator) = recorded.unwrap_or((false, None));
        // the switch's own word too: the connect may be the write a crash lost
        let bridged =
            matches!(link.getvar(&call, "bridge_uuid").await, Ok(Some(v)) if !v.is_empty());
        if connected || bridged {
            info!(campaign = c.id, %uuid, operator = ?operator, "taken over: talking with an operator, followed to its end");
            wait_hangup(link, watch, &call).await;
            self.log_write(self.ops.talk_ended(uuid, self.clock.now()).await);
            return end_with(CONNECTED, None);
        }
        info!(campaign = c.id, %uuid, "taken over: answered, no operator: abandon message");
        let now = self.clock.now();
        let message_at = self.abandon_message(c, uuid, link, watch).await;
        self.log_write(self.ops.abandoned(uuid, now, message_at).await);
        self.with_pacing(c.id, |p| p.pacer.handle_abandoned(now));
        end_with(ABANDONED, None)
    }
}
