//! One operator-campaign call: placed through the safe dialer path, and once answered the
//! detector's verdict (machines, announcements, fax and silence never reach an operator),
//! then for a person the ACD's reservation of a ready operator (auto-answer phone, bridge)
//! within `connect_within` of the answer ([`super::connect`]) — or, when no operator is reached in time, the
//! campaign's abandon message, which the call's own script plays on the switch
//! ([`super::message`]), and the hang-up.

use std::sync::Arc;
use std::time::Duration;

use freeswitch_types::HangupCause;
use tracing::{debug, info, warn};
use uuid::Uuid;

use super::connect::Reached;
use super::ends::{end_with, wait_hangup, ABANDONED, CONNECTED, HUNG_UP};
use super::message::Abandon;
use super::reattach::Found;
use super::{budget_of, detect, CampaignCard, OpRunner};
use crate::core::campaign::outcome::{self, Outcome, RetryPolicy};
use crate::core::campaign::pacer::NotDialed;
use crate::core::dialer::AnsweredBy;
use crate::core::values::ChannelUuid;
use crate::esl::control::{CallWatch, SwitchLink};
use crate::service::dialer::{place_call, CallRequest, DialError, DialResult};
use crate::store::campaigns::{AttemptEnd, Campaign, Target};
use crate::store::op_campaigns::{OpCallback, OpCampaign};

/// Offers to operators stop this long before `connect_within` is up: a bridge under way
/// then still ends the call's `sleep` before the switch starts the abandon message.
const MESSAGE_MARGIN: Duration = Duration::from_millis(300);

impl OpRunner {
    /// Calls one subscriber (or an operator's callback) and records the attempt.
    pub(super) async fn call_one(
        self: &Arc<Self>,
        c: &Campaign,
        op: &OpCampaign,
        t: &Target,
        callback: Option<&OpCallback>,
        requested_by: Option<&str>,
    ) {
        // the trunk of the group this call takes (the trunk itself if it is no group)
        let picked = self.trunks.pick(&c.trunk).await.ok().flatten();
        let Some((trunk_name, link, picked)) =
            picked.and_then(|p| Some((p.trunk.clone(), self.link_for(&p.trunk)?, p)))
        else {
            return self.not_dialed(c, t, callback, NotDialed::NoSwitch).await;
        };
        let cfg = &self.config;
        let trunk = &cfg.trunk[&trunk_name];
        let number = crate::core::numbers::dial_string_number(&t.phone, &cfg.dialing);
        let uuid = ChannelUuid::new_random();
        let id = Uuid::parse_str(uuid.as_str()).expect("random uuid");
        let attempt_no = t.attempts + 1;
        let written = async {
            self.campaigns
                .insert_attempt(id, c.id, t.contact_id, attempt_no, &number)
                .await?;
            self.ops
                .insert_call(id, c.id, t.contact_id, callback.map(|b| b.id), requested_by)
                .await
        };
        if let Err(e) = written.await {
            warn!(
                campaign = c.id,
                contact = t.contact_id,
                "attempt not written, not dialing: {e}"
            );
            return self
                .not_dialed(c, t, callback, NotDialed::AttemptNotWritten)
                .await;
        }
        let watch = link.watch_call(uuid.as_str());
        let budget = budget_of(c.id);
        let dialed = self.clock.instant();
        self.with_pacing(c.id, |p| {
            p.ringing.insert(id, dialed);
            p.pacer.handle_dialed(self.clock.now());
        });
        drop(picked); // from here the call's line lease counts it
        let placed = place_call(
            link,
            &self.clock,
            &self.calls,
            &self.live,
            CallRequest {
                uuid,
                caller_id: c.caller_id.as_deref(),
                trunk_name: &trunk_name,
                trunk,
                number: &number,
                then: super::message::call_script(c, &cfg.campaigns.operator),
                purpose: "opcampaign",
                budget: &budget,
                budget_lines: c.lines as u32,
                ring_secs: c.ring_s.max(5) as u32,
            },
        )
        .await;
        let ringing = self.clock.since(dialed);
        let answered = matches!(placed, Ok(DialResult::Answered(_)));
        self.with_pacing(c.id, |p| {
            p.ringing.remove(&id);
            // Answered: waits for the detector and an operator (released in `answered`).
            if answered {
                p.connecting += 1;
            }
        });
        let now = self.clock.now();
        let end = match placed {
            Err(e) if e.not_sent() => {
                debug!(campaign = c.id, contact = t.contact_id, "not dialed: {e}");
                return self.not_an_attempt(c, t, callback, id).await;
            }
            Ok(DialResult::Failed { cause, .. }) if outcome::no_line(&cause) => {
                return self.not_an_attempt(c, t, callback, id).await
            }
            Err(DialError::Invalid(e)) => {
                warn!(campaign = c.id, "number {number}: {e}");
                end_with(
                    Outcome::Invalid.as_str(),
                    Some("INVALID_NUMBER_FORMAT".into()),
                )
            }
            // The originate may be ringing, or answered and waiting: looked up on the switch.
            Err(e) => {
                warn!(campaign = c.id, %id, "originate result lost ({e}); looking the call up");
                match self.reattach(c, id, link, watch).await {
                    Found::Answered(watch) => {
                        let only = callback
                            .and_then(|b| b.to_operator.then_some(b.operator.as_str()))
                            .or(requested_by);
                        self.answered(c, op, t, id, link, watch, ringing, &number, only)
                            .await
                    }
                    Found::End(end) => end,
                }
            }
            Ok(DialResult::Failed { cause, .. }) => {
                self.with_pacing(c.id, |p| p.pacer.handle_unanswered(now, ringing));
                let o = outcome::unanswered(&cause);
                end_with(o.as_str(), Some(cause))
            }
            Ok(DialResult::Answered(_)) => {
                // A callback to its operator, a preview call to the operator who asked.
                let only = callback
                    .and_then(|b| b.to_operator.then_some(b.operator.as_str()))
                    .or(requested_by);
                self.answered(c, op, t, id, link, watch, ringing, &number, only)
                    .await
            }
        };
        match callback {
            // A callback leaves the subscriber's place in the campaign as it is.
            Some(cb) => {
                self.log_write(
                    self.campaigns
                        .finish_attempt(id, &end, self.clock.now())
                        .await,
                );
                self.callback_ended(cb, id, &end.outcome).await;
            }
            None => self.finish(c, t.contact_id, attempt_no, id, &end).await,
        }
    }

    /// A callback's call ended: done if the person talked with an operator; else dialed
    /// again `callback_retry_seconds` later while `callback_retries` allow, then failed
    /// (listed with its last outcome).
    pub(super) async fn callback_ended(&self, cb: &OpCallback, call: Uuid, outcome: &str) {
        if outcome == CONNECTED {
            self.log_write(
                self.ops
                    .callback_state(cb.id, "done", None, Some(call))
                    .await,
            );
            return;
        }
        let o = &self.config.campaigns.operator;
        let held = self.held();
        let tries = match held.callback_dialed(cb.id).await {
            Ok(n) => n,
            Err(e) => {
                warn!(callback = cb.id, "callback's calls not counted: {e}");
                i32::MAX
            }
        };
        // A number that cannot be dialed will not become dialable by waiting.
        let again = outcome != Outcome::Invalid.as_str() && tries <= o.callback_retries as i32;
        let retry_at = again.then(|| {
            self.clock.now() + chrono::TimeDelta::seconds(i64::from(o.callback_retry_seconds))
        });
        info!(callback = cb.id, operator = %cb.operator, outcome, tries, retry_at = ?retry_at, "callback not connected");
        self.log_write(held.callback_tried(cb.id, outcome, retry_at, call).await);
    }

    /// An answered call: detector, then operator or abandon message.
    #[allow(clippy::too_many_arguments)]
    async fn answered(
        self: &Arc<Self>,
        c: &Campaign,
        op: &OpCampaign,
        t: &Target,
        id: Uuid,
        link: &SwitchLink,
        mut watch: CallWatch,
        ringing: Duration,
        number: &str,
        only: Option<&str>,
    ) -> AttemptEnd {
        let at = self.clock.now();
        // The limit runs from the person's answer on the switch: contactd hears of it a
        // moment later (the originate's reply), more under load.
        let lag = crate::core::dialer::answer_lag(watch.answered_at_us(), at);
        let heard = self.clock.instant();
        let answered = heard.checked_sub(lag).unwrap_or(heard);
        // From here a restart never dials this subscriber again.
        self.log_write(self.campaigns.attempt_answered(id, at).await);
        let (by, kind) = detect::classify(self, link, &mut watch, &id.to_string()).await;
        let word = detect::word(by);
        self.log_write(self.ops.answered(id, at, Some(word), kind.as_deref()).await);
        self.with_pacing(c.id, |p| {
            p.pacer.handle_answered(self.clock.now(), ringing, by)
        });
        if by != AnsweredBy::Person {
            self.with_pacing(c.id, |p| p.connecting = p.connecting.saturating_sub(1));
            info!(campaign = c.id, %id, answered_by = word, "not a person: not connected");
            let _ = link
                .kill(&id.to_string(), HangupCause::NormalClearing)
                .await;
            return end_with(word, None);
        }
        let card = self.card(c, op, t).await;
        let deadline = answered
            + self
                .config
                .campaigns
                .operator
                .connect_within()
                .saturating_sub(MESSAGE_MARGIN);
        let reached = self
            .connect(op, id, &mut watch, number, card, deadline, only)
            .await;
        self.with_pacing(c.id, |p| {
            p.connecting = p.connecting.saturating_sub(1);
            p.answered += 1;
        });
        let end = self
            .after_reached(c, id, link, &mut watch, answered, reached)
            .await;
        self.with_pacing(c.id, |p| p.answered = p.answered.saturating_sub(1));
        end
    }

    /// The talk with the operator, or the abandon message (the switch's; an operator
    /// bridged meanwhile makes it a talk after all).
    pub(super) async fn after_reached(
        self: &Arc<Self>,
        c: &Campaign,
        id: Uuid,
        link: &SwitchLink,
        watch: &mut CallWatch,
        answered: tokio::time::Instant,
        reached: Reached,
    ) -> AttemptEnd {
        let now = self.clock.now();
        let login = match reached {
            Reached::HungUp => return end_with(HUNG_UP, None),
            Reached::Operator(login) => login,
            Reached::Nobody => match self.abandon_heard(c, id, link, watch).await {
                Abandon::Taken => self
                    .acd
                    .operator_of(&id.to_string())
                    .await
                    .unwrap_or_default(),
                Abandon::Heard(message_at) => {
                    self.log_write(self.ops.abandoned(id, now, message_at).await);
                    self.with_pacing(c.id, |p| p.pacer.handle_abandoned(now));
                    match message_at {
                        Some(_) => {
                            info!(campaign = c.id, %id, "abandoned: no operator in time, the switch played the message")
                        }
                        // a hang-up or a link drop hid it (abandon_heard said which)
                        None => info!(campaign = c.id, %id, "abandoned: no operator in time"),
                    }
                    return end_with(ABANDONED, None);
                }
            },
        };
        let now = self.clock.now();
        let after = self.clock.since(answered);
        self.log_write(self.ops.connected(id, now, &login).await);
        self.with_pacing(c.id, |p| p.pacer.handle_connected(now, after));
        self.acd.adopt_campaign_call(&id.to_string(), &login).await;
        info!(campaign = c.id, %id, operator = %login, after_ms = after.as_millis() as u64, "connected");
        let talk_from = self.clock.instant();
        wait_hangup(link, watch, &id.to_string()).await;
        let end = self.clock.now();
        self.log_write(self.ops.talk_ended(id, end).await);
        let talk = self.clock.since(talk_from);
        // the attempt settles now; the operator's after-call work is followed aside
        let me = Arc::clone(self);
        let campaign = c.id;
        tokio::spawn(async move { me.follow_wrap_up(campaign, login, talk).await });
        end_with(CONNECTED, None)
    }

    /// Follows `login`'s after-call work once the talk of a campaign call ended, and tells
    /// the pacer how long it lasted (the disposition or the ACD's wrap-up end) and the whole
    /// handle time: the pacer judges who is about to finish their wrap-up from these, and
    /// without them counts every operator in after-call work as not finishing soon.
    async fn follow_wrap_up(self: Arc<Self>, campaign: i64, login: String, talk: Duration) {
        use crate::core::acd::agent::StateName;
        // the ACD's wrap-up timer bounds it; past this the operator went on a break instead
        let longest = Duration::from_secs(self.config.acd.wrap_up_seconds.max(60) * 4);
        let from = self.clock.instant();
        let mut seen = false;
        loop {
            let state = self.acd.operator_state(&login).await.map(|s| s.0);
            match state {
                Some(StateName::WrapUp) => seen = true,
                // not yet moved to after-call work by the ACD
                Some(StateName::Talking) if !seen => {}
                _ => break,
            }
            if self.clock.since(from) > longest {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let wrap = self.clock.since(from);
        let now = self.clock.now();
        self.with_pacing(campaign, |p| {
            p.pacer.handle_wrap_up(now, wrap);
            p.pacer.handle_handled(now, talk + wrap);
        });
    }

    async fn card(&self, c: &Campaign, op: &OpCampaign, t: &Target) -> CampaignCard {
        let contact = match self.ops.contact(t.contact_id).await {
            Ok(Some(r)) => r.into(),
            _ => super::ContactCard {
                id: t.contact_id,
                phone: t.phone.clone(),
                ..Default::default()
            },
        };
        CampaignCard {
            campaign: c.id,
            name: c.name.clone(),
            mode: op.mode.clone(),
            script_url: op.script_url.clone(),
            contact,
            dispositions: self.config.campaigns.operator.dispositions.clone(),
        }
    }

    /// Nothing reached the subscriber: not an attempt, again shortly.
    async fn not_an_attempt(
        &self,
        c: &Campaign,
        t: &Target,
        callback: Option<&OpCallback>,
        id: Uuid,
    ) {
        self.log_write(self.campaigns.delete_attempt(id).await);
        self.not_dialed(c, t, callback, NotDialed::NotSent).await;
    }

    /// A call that did not go out (no line, no switch, nothing written): the subscriber back
    /// to their list for later; an operator's callback pending again, due as it was, for the
    /// next look (its subscriber's place in the campaign stays as it is).
    async fn not_dialed(
        &self,
        c: &Campaign,
        t: &Target,
        callback: Option<&OpCallback>,
        why: NotDialed,
    ) {
        match callback {
            Some(cb) => {
                debug!(
                    campaign = c.id,
                    callback = cb.id,
                    "callback not dialed ({why:?}): pending again"
                );
                self.log_write(self.ops.callback_state(cb.id, "pending", None, None).await);
            }
            None => {
                let at = self.rules().put_back(why, self.clock.now());
                self.log_write(self.campaigns.requeue(c.id, t.contact_id, at).await);
            }
        }
    }

    /// Records the attempt's end and the subscriber's next step: a person (connected or
    /// abandoned) is done; machines and silence are tried again like an unanswered call.
    pub(super) async fn finish(
        &self,
        c: &Campaign,
        contact: i64,
        attempt_no: i32,
        id: Uuid,
        end: &AttemptEnd,
    ) {
        self.log_write(
            self.campaigns
                .finish_attempt(id, end, self.clock.now())
                .await,
        );
        self.settle(c, contact, attempt_no, &end.outcome).await;
    }

    /// The subscriber's next step after an attempt with `outcome`.
    pub(super) async fn settle(&self, c: &Campaign, contact: i64, attempt_no: i32, outcome: &str) {
        let as_rule = match outcome {
            CONNECTED | ABANDONED | HUNG_UP | "fax" | "announcement" => None,
            "machine" | "silence" => Some(Outcome::NoAnswer),
            other => Some(Outcome::parse(other).unwrap_or(Outcome::Unknown)),
        };
        let next_at = as_rule.and_then(|o| {
            let policy = RetryPolicy {
                max_attempts: c.max_attempts.max(1) as u32,
                busy: Duration::from_secs(c.retry_busy_s.max(0) as u64),
                no_answer: Duration::from_secs(c.retry_no_answer_s.max(0) as u64),
                failed: Duration::from_secs(c.retry_busy_s.max(0) as u64),
            };
            self.rules()
                .retry_at(o, attempt_no as u32, &policy, self.clock.now())
        });
        self.log_write(
            self.campaigns
                .after_attempt(c.id, contact, attempt_no, outcome, next_at)
                .await,
        );
    }
}
