//! An operator-campaign call whose originate result was lost with the switch link: looked up
//! on the switch once the link is back instead of being given up, so that nobody it reached
//! is left in silence. Still ringing: followed, and once answered handled as any answered
//! call. Answered while nobody followed it: nobody took the person, so the call's own script
//! plays them the abandon message (as on every abandoned call), and contactd waits for it.
//! Gone: what the call record allows (never dialed again once answered).

use std::sync::Arc;
use std::time::Duration;

use freeswitch_types::HangupCause;
use tracing::{info, warn};
use uuid::Uuid;

use super::ends::end_with;
use super::OpRunner;
use crate::core::campaign::outcome::{self, Outcome};
use crate::esl::control::{CallWatch, SwitchLink};
use crate::esl::unconfirmed::Unconfirmed;
use crate::store::campaigns::{AttemptEnd, Campaign};

/// How long the link may take to come back before the call counts as lost.
const LINK_BACK: Duration = Duration::from_secs(60);

/// Where a looked-up call stands.
pub(super) enum Found {
    /// Answered now, while followed: the detector and an operator come next.
    Answered(CallWatch),
    /// Settled (ended, or answered unseen and given the abandon message).
    End(AttemptEnd),
}

impl OpRunner {
    pub(super) async fn reattach(
        self: &Arc<Self>,
        c: &Campaign,
        id: Uuid,
        link: &SwitchLink,
        mut watch: CallWatch,
    ) -> Found {
        let ring = Duration::from_secs(c.ring_s.max(5) as u64 + 30);
        match link.follow_unconfirmed(&mut watch, ring, LINK_BACK).await {
            Unconfirmed::Unreachable(why) => {
                warn!(campaign = c.id, %id, "{why}; outcome unknown");
                let _ = link
                    .kill(&id.to_string(), HangupCause::NormalClearing)
                    .await;
                Found::End(end_with(Outcome::Unknown.as_str(), None))
            }
            Unconfirmed::Gone => Found::End(self.ended_unseen(id).await),
            Unconfirmed::AnsweredUnseen => {
                Found::End(self.answered_unseen(c, id, link, &mut watch).await)
            }
            Unconfirmed::Answered => Found::Answered(watch),
            Unconfirmed::Ended(h) => Found::End(end_with(
                outcome::unanswered(&h.cause).as_str(),
                Some(h.cause),
            )),
            Unconfirmed::NoAnswer => Found::End(end_with(
                Outcome::NoAnswer.as_str(),
                Some(HangupCause::NoAnswer.to_string()),
            )),
        }
    }

    /// Answered while nobody followed it, not connected: the switch's abandon message, then
    /// the hang-up (or the talk, if an operator has it after all).
    async fn answered_unseen(
        self: &Arc<Self>,
        c: &Campaign,
        id: Uuid,
        link: &SwitchLink,
        watch: &mut CallWatch,
    ) -> AttemptEnd {
        let now = self.clock.now();
        // from here a restart never dials this subscriber again
        self.log_write(self.campaigns.attempt_answered(id, now).await);
        self.log_write(self.ops.answered(id, now, None, None).await);
        info!(campaign = c.id, %id, "answered while the link was away: the switch plays the abandon message");
        self.settle_lost_call(c, id, link, watch).await
    }

    /// Gone before it was seen again: answered ones are never dialed again (`unknown`),
    /// others are retried by their cause.
    async fn ended_unseen(&self, id: Uuid) -> AttemptEnd {
        match self.calls.get(id).await.ok().flatten() {
            Some(r) if r.answered_at.is_none() => match r.hangup_cause {
                Some(cause) if cause != "UNKNOWN" => {
                    end_with(outcome::unanswered(&cause).as_str(), Some(cause))
                }
                _ => end_with(Outcome::Unknown.as_str(), None),
            },
            r => end_with(Outcome::Unknown.as_str(), r.and_then(|r| r.hangup_cause)),
        }
    }
}
