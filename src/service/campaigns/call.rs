//! One subscriber's call: the originate, what answered, the message and the key, and the
//! attempt's end written with the subscriber's next step.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{debug, error, warn};
use uuid::Uuid;

use super::{budget_of, CampaignRunner};
use crate::core::campaign::outcome::{self, Outcome};
use crate::core::campaign::pacer::NotDialed;
use crate::core::channels::SwitchEvent;
use crate::esl::commands::AfterAnswer;
use crate::esl::control::{SwitchLink, WatchEvent};
use crate::service::amd;
use crate::service::dialer::{place_prepared_call, CallRequest, DialError, DialResult};
use crate::service::notice_amd::{self, Screened};
use crate::service::notice_call::{self, Heard, Script};
use crate::store::campaigns::{AttemptEnd, Campaign, NextStep, Target};
use crate::store::StoreError;

impl CampaignRunner {
    /// Calls one subscriber and records the attempt; every path ends with the attempt's
    /// outcome written (durably: spooled if PostgreSQL is away) and the call hung up.
    pub(super) async fn call_one(
        self: &Arc<Self>,
        c: &Campaign,
        p: crate::service::dial_batch::Prepared,
    ) {
        let cfg = &self.config;
        let (t, uuid, number) = (&p.target, p.uuid, p.number);
        let trunk_name = p.trunk;
        let trunk = &cfg.trunk[&trunk_name];
        let id = Uuid::parse_str(uuid.as_str()).expect("random uuid");
        let attempt_no = t.attempts + 1;
        let Some(link) = self.link_for(&trunk_name) else {
            // the batch picked a trunk in service: its switch is configured
            return self.not_an_attempt(c, t, id).await;
        };
        // Lease held and rows committed by the batch (dial_batch): the originate alone.
        self.rules.lock().expect("rules lock").insert(id, p.rules);
        let amd = &self.config.amd;
        let script = match notice_call::switch_script(
            uuid.as_str(),
            &c.audio,
            c.confirm.then(|| self.confirm_args()).as_deref(),
        )
        .and_then(|tail| match amd.notices {
            // call progress first: what answered decides what the script does next
            true => notice_amd::first_script(amd, &tail),
            false => Ok(tail),
        }) {
            Ok(s) => s,
            Err(e) => {
                // The campaign's message cannot be played (checked when it was created).
                error!(campaign = c.id, "campaign message not playable: {e}");
                self.live.forget_held(uuid.as_str());
                let budget = budget_of(c.id);
                let released =
                    self.live
                        .release_line(&trunk_name, &budget, uuid.as_str(), Duration::ZERO);
                if let Err(e) = released.await {
                    warn!(campaign = c.id, "line lease not released now: {e}");
                }
                return self.not_an_attempt(c, t, id).await;
            }
        };
        let mut watch = link.watch_call(uuid.as_str());
        // a network announcement may come as early media, before (instead of) an answer
        let early = amd.notices.then(|| {
            let w = link.watch_call(uuid.as_str());
            tokio::spawn(amd::watch_early_media(link.clone(), w, amd.clone()))
        });
        let budget = budget_of(c.id);
        self.trunks.placed(id, &trunk_name);
        let placed = place_prepared_call(
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
                then: AfterAnswer::Inline(script),
                purpose: "campaign",
                budget: &budget,
                budget_lines: c.lines as u32,
                ring_secs: c.ring_s.max(5) as u32,
            },
        )
        .await;
        let end = match placed {
            // Nothing reached the subscriber (no line here or on the switch, a store or
            // the link away before the originate was sent): not an attempt; again shortly.
            Err(e) if e.not_sent() => {
                debug!(campaign = c.id, contact = t.contact_id, "not dialed: {e}");
                return self.not_an_attempt(c, t, id).await;
            }
            Ok(DialResult::Failed { cause, .. }) if outcome::no_line(&cause) => {
                // a channel refused for want of a line noted its end too: not an attempt
                let (link, uuid) = (link.clone(), id.to_string());
                tokio::spawn(async move { notice_call::forget_notes(&link, &uuid, false).await });
                return self.not_an_attempt(c, t, id).await;
            }
            Err(DialError::Invalid(e)) => {
                warn!(campaign = c.id, "number {number}: {e}");
                AttemptEnd {
                    cause: Some("INVALID_NUMBER_FORMAT".into()),
                    outcome: Outcome::Invalid.as_str().into(),
                    ..Default::default()
                }
            }
            // The originate may have rung, or be answered and waiting: look it up.
            Err(e) => {
                warn!(campaign = c.id, %id, "originate result lost ({e}); looking the call up");
                self.reattach(c, id, watch, false).await
            }
            Ok(DialResult::Failed { cause, .. }) if early.is_some() => {
                let q850 = failed_q850(&mut watch, &cause, self.clock.instant()).await;
                let kind = match early {
                    Some(t) => tokio::time::timeout(Duration::from_secs(2), t).await,
                    None => Ok(Ok(None)),
                };
                notice_amd::unanswered_end(cause, q850, kind.ok().and_then(Result::ok).flatten())
            }
            Ok(DialResult::Failed { cause, .. }) => AttemptEnd {
                outcome: outcome::unanswered(&cause).as_str().into(),
                q850: failed_q850(&mut watch, &cause, self.clock.instant()).await,
                cause: Some(cause),
                ..Default::default()
            },
            Ok(DialResult::Answered(_)) => self.play(c, id, link, watch, false).await,
        };
        self.finish(c, t.contact_id, attempt_no, id, &end).await;
    }

    /// The call of `contact` is over: its line no longer counts against the campaign here,
    /// before its records are written (a dozen milliseconds of round trips per call, idle
    /// line time otherwise). The switch's lease still counts it until its channel is gone.
    pub(super) fn line_done(&self, campaign: i64, contact: i64) {
        let first = self
            .line_done
            .lock()
            .expect("line done lock")
            .insert((campaign, contact));
        if first {
            *self
                .active
                .lock()
                .expect("active lock")
                .entry(campaign)
                .or_default() -= 1;
            self.line_freed.notify_one();
        }
    }

    /// Records the attempt's end and the subscriber's next step.
    pub(super) async fn finish(
        &self,
        c: &Campaign,
        contact: i64,
        attempt_no: i32,
        id: Uuid,
        end: &AttemptEnd,
    ) {
        self.line_done(c.id, contact);
        // Some(None): placed here, the campaign had no rules then; None: taken over, its
        // rules are read from PostgreSQL at the settle
        let placed = self.rules.lock().expect("rules lock").remove(&id);
        let quiet = self.messages.is_none() || matches!(placed, Some(None));
        let rules = placed.flatten();
        let key_task = self.key_tasks.lock().expect("key tasks lock").remove(&id);
        if let Some(task) = key_task {
            // the flow is over, so its key was told or never will be: the key press's
            // message is written (with its own time) before the attempt's end
            let _ = task.await;
        }
        if end.outcome == NOT_SENT {
            self.log_write(self.campaigns.delete_attempt(id).await);
            self.log_write(
                self.campaigns
                    .requeue(c.id, contact, self.put_back(NotDialed::NotSent))
                    .await,
            );
            return;
        }
        let outcome = Outcome::parse(&end.outcome).unwrap_or(Outcome::Unknown);
        // No message can follow from this end (none sent by this runner, or none in the
        // campaign's rules when the call was placed): the attempt's end and the
        // subscriber's next step are one write. Otherwise the end is written first and the
        // subscriber settled after the messages, so that a restart in between still finds
        // the subscriber `dialing` and applies the rules (recover).
        let written = if quiet {
            let next = NextStep {
                campaign: c.id,
                contact,
                attempts: attempt_no,
                outcome: outcome.as_str(),
                next_at: self.next_at(c, attempt_no, outcome),
            };
            let now = self.clock.now();
            self.campaigns.finish_and_settle(id, end, now, &next).await
        } else {
            self.campaigns
                .finish_attempt(id, end, self.clock.now())
                .await
        };
        self.log_write(written);
        // Only once the end is written: a restart finds what the call ended with in the
        // attempt row, since the switch's notes are gone.
        if let Some(link) = self.trunks.call_link(&c.trunk, id, &self.calls).await {
            // Tidying the switch's notes needs no wait: the line is counted free sooner.
            let (uuid, confirm) = (id.to_string(), c.confirm);
            tokio::spawn(async move { notice_call::forget_notes(&link, &uuid, confirm).await });
        }
        self.trunks.ended(id);
        if outcome == Outcome::Unknown {
            // Final and never redialed: worth a line saying so, for the auditors' questions.
            warn!(campaign = c.id, contact, %id, cause = ?end.cause, "attempt's outcome is unknown");
        }
        if quiet {
            return;
        }
        if let (Some(m), Some(r), Some(key)) = (&self.messages, &rules, &end.confirm_key) {
            // the key seen only now (a call taken over mid-way): its message, once
            m.on_key(r, key, self.clock.now()).await;
        }
        let settled = self.settle(c, contact, attempt_no, outcome, rules.as_deref());
        self.log_write(settled.await);
    }

    /// A record write that failed even through the journal (PostgreSQL refused it, or the
    /// spool's disk failed): said loudly, with what was lost.
    pub(super) fn log_write(&self, r: Result<(), StoreError>) {
        if let Err(e) = r {
            error!("campaign record not written: {e}");
        }
    }

    /// Plays the message on an answered call and tells what the subscriber heard.
    pub(super) async fn play(
        &self,
        c: &Campaign,
        id: Uuid,
        link: &SwitchLink,
        watch: crate::esl::control::CallWatch,
        resume: bool,
    ) -> AttemptEnd {
        let now = self.clock.now();
        self.log_write(self.campaigns.attempt_answered_and_playing(id, now).await);
        let amd = &self.config.amd;
        let mut watch = watch;
        let mut person = false;
        // A call taken over before its message is not classified again: parking it to
        // listen (notice_amd::before_message) left it parked in dead air when the link
        // dropped once more mid-listen (faults_link, 5 drops). It follows its own script.
        let relisten = false;
        let resume = resume && !relisten;
        if amd.notices && !resume {
            let confirm = c.confirm.then(|| self.confirm_args());
            let (uuid, audio) = (id.to_string(), c.audio.as_str());
            let tails = notice_amd::tails(&uuid, audio, confirm.as_deref());
            let s = notice_amd::screen(link, &self.clock, &mut watch, &uuid, amd, tails, relisten);
            match s.await {
                Screened::Person => person = true,
                Screened::Unsure => {}
                Screened::Machine { beep } => {
                    // a machine presses no key: the message alone
                    let script = Script {
                        confirm: None,
                        ..self.script(c)
                    };
                    let heard = notice_call::drive(link, &self.clock, watch, script, false);
                    return notice_amd::machine_end(answered_end(&heard.await), beep);
                }
                other => return other.end(),
            }
        }
        let script = Script {
            on_key: self.key_hook(id),
            ..self.script(c)
        };
        let heard = notice_call::drive(link, &self.clock, watch, script, resume).await;
        let mut end = answered_end(&heard);
        if person {
            end.detected = Some("person".into());
        }
        end
    }

    pub(super) fn script<'a>(&self, c: &'a Campaign) -> Script<'a> {
        let message = notice_call::wav_length(&c.audio).unwrap_or(Duration::from_secs(u64::from(
            self.config.campaigns.max_message_seconds,
        )));
        Script {
            audio: &c.audio,
            confirm: c.confirm.then(|| self.confirm_args()),
            message,
            // two tries of the prompt (a few seconds) with 5 s for the key, and the
            // "invalid entry" prompt between them
            confirm_time: Duration::from_secs(30),
            on_key: None,
        }
    }

    /// Where call `id`'s flow reports the confirmation key the moment it is pressed, when a
    /// message rule waits for it: the message is queued then, while the call is up.
    fn key_hook(&self, id: Uuid) -> Option<tokio::sync::oneshot::Sender<(String, DateTime<Utc>)>> {
        let messages = self.messages.clone()?;
        let rules = self.rules.lock().expect("rules lock").get(&id).cloned()??;
        if !rules.on_key() {
            return None;
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<(String, DateTime<Utc>)>();
        let task = tokio::spawn(async move {
            if let Ok((key, at)) = rx.await {
                messages.on_key(&rules, &key, at).await;
            }
        });
        self.key_tasks
            .lock()
            .expect("key tasks lock")
            .insert(id, task);
        Some(tx)
    }

    async fn not_an_attempt(&self, c: &Campaign, t: &Target, id: Uuid) {
        self.trunks.ended(id);
        self.rules.lock().expect("rules lock").remove(&id);
        self.key_tasks.lock().expect("key tasks lock").remove(&id);
        self.log_write(self.campaigns.delete_attempt(id).await);
        self.log_write(
            self.campaigns
                .requeue(c.id, t.contact_id, self.put_back(NotDialed::NotSent))
                .await,
        );
    }

    fn confirm_args(&self) -> String {
        let p = &self.config.prompts;
        let prompt = |n: &str| format!("{}/{}/{n}.wav", p.dir.display(), p.language);
        // one key, two tries (one re-prompt), 5 s each
        format!(
            "1 1 2 5000 # {} {} {} [0-9*#]",
            prompt("press_to_confirm"),
            prompt("invalid_entry"),
            notice_call::DIGITS_VAR,
        )
    }
}

/// The Q.850 code of a failed originate: from the channel's own hang-up event when the
/// switch created one (it may follow the job's reply by a moment), else the code
/// FreeSWITCH gives that cause name (`switch_channel_cause2str` is a fixed table).
async fn failed_q850(
    watch: &mut crate::esl::control::CallWatch,
    cause: &str,
    now: tokio::time::Instant,
) -> Option<i32> {
    let until = now + Duration::from_millis(300);
    while let Ok(Some(ev)) = tokio::time::timeout_at(until, watch.recv()).await {
        if let WatchEvent::Switch(SwitchEvent::Hangup(h)) = ev {
            if h.q850.is_some() {
                return h.q850;
            }
        }
    }
    outcome::q850_of(cause)
}

/// Marks an attempt whose originate never left contactd (withdrawn, not an attempt).
const NOT_SENT: &str = "not_sent";

pub(super) fn not_sent() -> AttemptEnd {
    AttemptEnd {
        outcome: NOT_SENT.into(),
        ..Default::default()
    }
}

fn answered_end(h: &Heard) -> AttemptEnd {
    let outcome = if h.full {
        Outcome::ListenedFull
    } else if h.unknown {
        Outcome::Unknown
    } else {
        Outcome::ListenedPartial
    };
    AttemptEnd {
        cause: h.cause.clone(),
        q850: h.q850,
        listened_ms: h.listened_ms,
        listened_full: Some(h.full),
        confirm_key: h.confirm_key.clone(),
        outcome: outcome.as_str().into(),
        ..Default::default()
    }
}
