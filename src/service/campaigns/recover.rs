//! Recovery: the subscribers left `dialing` with nobody following their call (a previous
//! run, a lost originate reply, a takeover), and the calls this instance lost sight of.
//! Nobody who may have heard the message is dialed again; a call still up is followed; a
//! call the switch never had is put back.

use std::sync::Arc;
use std::time::Duration;

use freeswitch_types::HangupCause;
use tracing::{debug, info, warn};
use uuid::Uuid;

use super::call::not_sent;
use super::CampaignRunner;
use crate::core::campaign::outcome::{self, Outcome};
use crate::esl::unconfirmed::Unconfirmed;
use crate::service::notice_call;
use crate::service::witnessed::{witnessed, Witnessed};
use crate::store::campaigns::{AttemptEnd, Campaign};
use crate::store::StoreError;

impl CampaignRunner {
    /// Takes over attempt `id` whose call this instance lost sight of (a lost originate
    /// reply, a restart): a live channel's flow is continued (ringing: wait for the answer;
    /// answered: the message), a gone one gets the outcome its recorded events allow, or
    /// `unknown` — never `failed`, which would call back someone who may have answered.
    pub(super) async fn reattach(
        &self,
        c: &Campaign,
        id: Uuid,
        mut watch: crate::esl::control::CallWatch,
        message_sent: bool,
    ) -> AttemptEnd {
        let unknown = || AttemptEnd {
            outcome: Outcome::Unknown.as_str().into(),
            ..Default::default()
        };
        let Some(link) = self.trunks.call_link(&c.trunk, id, &self.calls).await else {
            return unknown();
        };
        let link = &link;
        let ring = Duration::from_secs(c.ring_s.max(5) as u64 + 30);
        // how long to wait for a dropped link before the call is left to the sweep
        let link_back = Duration::from_secs(60);
        match link.follow_unconfirmed(&mut watch, ring, link_back).await {
            // Left to the sweep that runs once the link is back (the call, if it lives,
            // then gets its message or is hung up).
            Unconfirmed::Unreachable(why) => {
                warn!(campaign = c.id, %id, "{why}; outcome unknown");
                unknown()
            }
            Unconfirmed::Gone => self.ended_unseen(c, id, message_sent).await,
            Unconfirmed::AnsweredUnseen => self.play(c, id, link, watch, true).await,
            // The script runs from the answer on: follow it from its start.
            Unconfirmed::Answered => self.play(c, id, link, watch, false).await,
            Unconfirmed::Ended(h) => AttemptEnd {
                outcome: outcome::unanswered(&h.cause).as_str().into(),
                cause: Some(h.cause),
                q850: h.q850,
                ..Default::default()
            },
            Unconfirmed::NoAnswer => AttemptEnd {
                outcome: Outcome::NoAnswer.as_str().into(),
                cause: Some(HangupCause::NoAnswer.to_string()),
                ..Default::default()
            },
        }
    }

    /// The call is gone and contactd did not see it end: what the call record (written
    /// from the switch's events) allows, else `unknown`.
    async fn ended_unseen(&self, c: &Campaign, id: Uuid, message_sent: bool) -> AttemptEnd {
        // The switch noted the message's result (and the key) itself, if it got that far.
        if let Some(link) = self.trunks.call_link(&c.trunk, id, &self.calls).await {
            let uuid = id.to_string();
            if let Some((Some(result), key)) = notice_call::switch_notes(&link, &uuid).await {
                let rec = self.calls.get(id).await.ok().flatten();
                let full = result == "FILE PLAYED";
                return AttemptEnd {
                    cause: rec.as_ref().and_then(|r| r.hangup_cause.clone()),
                    q850: rec.as_ref().and_then(|r| r.q850),
                    listened_ms: full.then(|| self.script(c).message.as_millis() as i32),
                    listened_full: Some(full),
                    confirm_key: key.filter(|_| full),
                    outcome: if full {
                        Outcome::ListenedFull
                    } else {
                        Outcome::Unknown
                    }
                    .as_str()
                    .into(),
                    ..Default::default()
                };
            }
            // Unanswered, its end as the switch noted it is the attempt's outcome, whoever
            // saw it or not (a link down then, a driver dead): a busy subscriber is retried.
            if let Some(Some(end)) = notice_call::switch_end(&link, &uuid).await {
                if !end.answered {
                    info!(campaign = c.id, %id, cause = %end.cause, "ended unanswered, as the switch noted");
                    return AttemptEnd {
                        outcome: outcome::unanswered(&end.cause).as_str().into(),
                        cause: Some(end.cause),
                        q850: end.q850,
                        ..Default::default()
                    };
                }
            }
        }
        debug!(%id, "call ended unseen and the switch noted no message result");
        let rec = match self.calls.get(id).await {
            Ok(Some(r)) => Some(r),
            // No call row: it is written before the originate, so none was sent.
            Ok(None) => return not_sent(),
            Err(_) => None,
        };
        let known = rec.as_ref().and_then(|r| {
            r.hangup_cause
                .clone()
                .filter(|c| c != "UNKNOWN")
                .map(|c| (r, c))
        });
        match known {
            Some((r, cause)) if r.answered_at.is_none() => AttemptEnd {
                outcome: outcome::unanswered(&cause).as_str().into(),
                cause: Some(cause),
                q850: r.q850,
                ..Default::default()
            },
            Some((r, cause)) if !message_sent => AttemptEnd {
                // Answered and gone before the message started: heard nothing of it.
                outcome: Outcome::ListenedPartial.as_str().into(),
                cause: Some(cause),
                q850: r.q850,
                listened_ms: Some(0),
                listened_full: Some(false),
                ..Default::default()
            },
            _ => {
                let answered = rec.as_ref().is_some_and(|r| r.answered_at.is_some());
                if !message_sent && !answered {
                    if let Some(end) = self.witnessed_end(c, id).await {
                        return end;
                    }
                }
                AttemptEnd {
                    outcome: Outcome::Unknown.as_str().into(),
                    cause: rec.and_then(|r| r.hangup_cause),
                    ..Default::default()
                }
            }
        }
    }

    /// The call is gone and its records say nothing of how it ended: what this instance's
    /// own view of the switch's channels proves (`service::witnessed`). None: no proof, the
    /// caller says `unknown`.
    async fn witnessed_end(&self, c: &Campaign, id: Uuid) -> Option<AttemptEnd> {
        let link = self.trunks.call_link(&c.trunk, id, &self.calls).await?;
        // `place_prepared_call` adds the end note to every campaign originate
        match witnessed(&link, &self.campaigns, id, true).await? {
            // as before the witness: no proof of an end (an `unknown` outcome)
            Witnessed::OnSwitch => None,
            Witnessed::NeverDialed => {
                info!(campaign = c.id, %id, "the switch never had this call: put back, not dialed");
                Some(not_sent())
            }
            Witnessed::Unanswered { cause, q850 } => {
                info!(campaign = c.id, %id, %cause, "ended unanswered, as seen on the switch");
                Some(AttemptEnd {
                    outcome: outcome::unanswered(&cause).as_str().into(),
                    cause: Some(cause),
                    q850,
                    ..Default::default()
                })
            }
        }
    }

    /// Subscribers left `dialing` with nobody calling them (a previous run, a flow that
    /// lost its call): anyone who may have heard the message is not called again; a call
    /// still up is taken over; the others go back to the queue.
    pub(super) async fn recover(self: &Arc<Self>) -> Result<(), StoreError> {
        self.forget_active();
        if self.campaigns.backlog() > 0 {
            // The stranded list would miss what is still spooled.
            return Ok(());
        }
        for c in self.campaigns.active().await? {
            if !self.drives(c.id) {
                continue; // another instance's calls, or nobody's yet: its driver's to recover
            }
            // a driver that lets go while the read is under way may have written its end
            // after the read's snapshot (`core::drivers`)
            let since = self.driving.read_begins();
            let stranded =
                self.driving
                    .left_alone(self.campaigns.stranded(c.id).await?, since, |s| {
                        (c.id, s.contact_id)
                    });
            if stranded.is_empty() {
                continue;
            }
            info!(
                campaign = c.id,
                n = stranded.len(),
                "recovering subscribers whose calls nobody follows"
            );
            for s in stranded {
                if let Some(outcome) = s.outcome.as_deref().and_then(Outcome::parse) {
                    // The attempt ended but the target was not updated.
                    self.settle(&c, s.contact_id, s.attempts.max(1), outcome, None)
                        .await?;
                    continue;
                }
                let Some(uuid) = s.uuid else {
                    self.campaigns
                        .requeue(c.id, s.contact_id, self.clock.now())
                        .await?;
                    continue;
                };
                let Some(link) = self.trunks.call_link(&c.trunk, uuid, &self.calls).await else {
                    continue;
                };
                let watch = link.watch_call(&uuid.to_string());
                let me = self.clone();
                let c2 = c.clone();
                let attempt_no = s.attempts + 1;
                let message_sent = s.playback_started;
                let contact = s.contact_id;
                self.spawn_driver(c.id, contact, async move {
                    let end = me.reattach(&c2, uuid, watch, message_sent).await;
                    me.finish(&c2, contact, attempt_no, uuid, &end).await;
                });
            }
        }
        Ok(())
    }
}
