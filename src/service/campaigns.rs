//! The campaign runner: keeps every running campaign's lines busy, within its own line count
//! and its trunk's channels, with every rule checked at the moment of dialling (calling
//! window in the subscriber's zone, do-not-call list), retries by hangup cause, and the
//! report queued for e-mail when the last subscriber is done. After a crash it picks up the
//! subscribers that were being dialled without calling anyone who may have heard the message.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use chrono_tz::Tz;
use tokio::sync::watch;
use tracing::{error, info, warn};
use uuid::Uuid;

use crate::config::Config;
use crate::core::campaign::outcome::{self, decide, Next, Outcome, RetryPolicy};
use crate::core::campaign::window::Window;
use crate::esl::commands::{AfterAnswer, ChannelUuid};
use crate::esl::control::{LinkStatus, SwitchLink};
use crate::service::dialer::{place_call, CallRequest, DialError, DialResult};
use crate::service::notice_call::{self, Heard, Script};
use crate::store::campaigns::{AttemptEnd, Campaign, Campaigns, Target};
use crate::store::postgres::Calls;
use crate::store::redis::LiveState;
use crate::store::StoreError;

pub struct CampaignRunner {
    pub campaigns: Campaigns,
    pub calls: Calls,
    pub live: LiveState,
    pub links: Vec<SwitchLink>,
    pub config: Arc<Config>,
    pub draining: Arc<AtomicBool>,
    /// Calls this instance is driving, per campaign: paces claims without a round trip.
    active: Arc<Mutex<HashMap<i64, usize>>>,
    /// A call ended: a line is free now, no need to wait for the next tick.
    line_freed: Arc<tokio::sync::Notify>,
}

/// Budget key of a campaign's line leases in Redis.
pub fn budget_of(id: i64) -> String {
    format!("campaign-{id}")
}

impl CampaignRunner {
    pub fn new(
        campaigns: Campaigns,
        calls: Calls,
        live: LiveState,
        links: Vec<SwitchLink>,
        config: Arc<Config>,
        draining: Arc<AtomicBool>,
    ) -> Self {
        Self {
            campaigns,
            calls,
            live,
            links,
            config,
            draining,
            active: Arc::default(),
            line_freed: Arc::default(),
        }
    }

    fn link_for(&self, trunk: &str) -> Option<&SwitchLink> {
        let switch = &self.config.trunk.get(trunk)?.switch;
        self.links.iter().find(|l| l.name() == switch)
    }

    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        // Recovery needs the switch's picture of live channels first.
        for link in &self.links {
            let mut st = link.watch_status();
            tokio::select! {
                _ = st.wait_for(|s| *s == LinkStatus::Connected) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
        if let Err(e) = self.recover().await {
            error!("campaign recovery: {e}");
        }
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = self.tick().await {
                        warn!("campaign runner: {e}");
                    }
                }
                _ = self.line_freed.notified() => {
                    if let Err(e) = self.tick().await {
                        warn!("campaign runner: {e}");
                    }
                }
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    }

    async fn tick(self: &Arc<Self>) -> Result<(), StoreError> {
        for c in self.campaigns.active().await? {
            if c.state == "running" && !self.draining.load(Ordering::SeqCst) {
                self.dial_more(&c).await?;
            }
            if self.campaigns.finish_if_complete(c.id).await? {
                info!(campaign = c.id, "campaign complete; queueing the report");
                self.queue_report(&c).await;
            }
        }
        Ok(())
    }

    async fn queue_report(&self, c: &Campaign) {
        let mut to = self.config.mail.auditors.clone();
        if let Some(m) = &c.manager_email {
            to.push(m.clone());
        }
        if to.is_empty() {
            warn!(
                campaign = c.id,
                "no auditors or manager e-mail configured: report not sent"
            );
            return;
        }
        let pool = self.campaigns.pool();
        match crate::report::campaign_report(pool, c.id, &self.config.campaigns.confirm_key).await {
            Ok(report) => {
                if let Err(e) = crate::mail::enqueue_report(pool, c.id, &to, &report).await {
                    error!(campaign = c.id, "cannot queue the report: {e}");
                }
            }
            Err(e) => error!(campaign = c.id, "cannot build the report: {e}"),
        }
    }

    fn active_of(&self, id: i64) -> usize {
        *self
            .active
            .lock()
            .expect("active lock")
            .get(&id)
            .unwrap_or(&0)
    }

    async fn dial_more(self: &Arc<Self>, c: &Campaign) -> Result<(), StoreError> {
        let Some(trunk) = self.config.trunk.get(&c.trunk) else {
            warn!(campaign = c.id, trunk = %c.trunk, "campaign names an unknown trunk");
            return Ok(());
        };
        let mine = self.active_of(c.id);
        let campaign_free = (c.lines as usize)
            .saturating_sub(mine.max(self.live.budget_in_use(&budget_of(c.id)).await?));
        let trunk_free =
            (trunk.channels as usize).saturating_sub(self.live.lines_in_use(&c.trunk).await?);
        let n = campaign_free.min(trunk_free);
        if n == 0 {
            return Ok(());
        }
        let now = Utc::now();
        let window = Window::parse(&c.window_days, &c.window_start, &c.window_end)
            .unwrap_or_else(|_| Window::always());
        for t in self.campaigns.claim_due(c.id, n as i64, now).await? {
            let tz: Tz = c
                .time_zone
                .as_deref()
                .or(t.tz.as_deref())
                .unwrap_or(&self.config.dialing.default_time_zone)
                .parse()
                .unwrap_or(chrono_tz::Europe::Moscow);
            if !window.is_open(now, tz) {
                self.campaigns
                    .requeue(c.id, t.contact_id, window.next_open(now, tz))
                    .await?;
                continue;
            }
            let blocked = crate::lists::dnc::is_blocked_in(self.campaigns.pool(), &t.phone)
                .await
                .unwrap_or(false);
            if blocked {
                self.campaigns
                    .skip(c.id, t.contact_id, Outcome::Dnc.as_str())
                    .await?;
                continue;
            }
            *self
                .active
                .lock()
                .expect("active lock")
                .entry(c.id)
                .or_default() += 1;
            let me = self.clone();
            let c = c.clone();
            tokio::spawn(async move {
                if let Err(e) = me.call_one(&c, &t).await {
                    warn!(campaign = c.id, contact = t.contact_id, "call: {e}");
                    let _ = me
                        .campaigns
                        .requeue(
                            c.id,
                            t.contact_id,
                            Utc::now() + chrono::Duration::seconds(30),
                        )
                        .await;
                }
                *me.active
                    .lock()
                    .expect("active lock")
                    .entry(c.id)
                    .or_default() -= 1;
                me.line_freed.notify_one();
            });
        }
        Ok(())
    }

    fn policy(c: &Campaign) -> RetryPolicy {
        RetryPolicy {
            max_attempts: c.max_attempts.max(1) as u32,
            busy: Duration::from_secs(c.retry_busy_s.max(0) as u64),
            no_answer: Duration::from_secs(c.retry_no_answer_s.max(0) as u64),
            failed: Duration::from_secs(c.retry_busy_s.max(0) as u64),
        }
    }

    /// Records the attempt's outcome and what happens to the subscriber next.
    async fn settle(
        &self,
        c: &Campaign,
        contact: i64,
        attempt_no: i32,
        outcome: Outcome,
    ) -> Result<(), StoreError> {
        let next_at = match decide(outcome, attempt_no as u32, &Self::policy(c)) {
            Next::Done(_) => None,
            Next::Retry { after, .. } => {
                Some(Utc::now() + chrono::Duration::from_std(after).unwrap_or_default())
            }
        };
        self.campaigns
            .after_attempt(c.id, contact, attempt_no, outcome.as_str(), next_at)
            .await
    }

    async fn call_one(&self, c: &Campaign, t: &Target) -> Result<(), StoreError> {
        let cfg = &self.config;
        let Some(link) = self.link_for(&c.trunk) else {
            return Err(StoreError::NotFound(format!("switch of trunk {}", c.trunk)));
        };
        let trunk = &cfg.trunk[&c.trunk];
        let number = crate::core::numbers::dial_string_number(&t.phone, &cfg.dialing);
        let uuid = ChannelUuid::new_random();
        let id = Uuid::parse_str(uuid.as_str()).expect("random uuid");
        let attempt_no = t.attempts + 1;
        self.campaigns
            .insert_attempt(id, c.id, t.contact_id, attempt_no, &number)
            .await?;
        let watch = link.watch_call(uuid.as_str());
        let budget = budget_of(c.id);
        let placed = place_call(
            link,
            &self.calls,
            &self.live,
            CallRequest {
                uuid,
                caller_id: c.caller_id.as_deref(),
                trunk_name: &c.trunk,
                trunk,
                number: &number,
                then: AfterAnswer::Park,
                purpose: "campaign",
                budget: &budget,
                budget_lines: c.lines as u32,
                ring_secs: c.ring_s.max(5) as u32,
            },
        )
        .await;
        let end = match placed {
            // No line was free (here or on the switch): nothing reached the subscriber, so
            // it is not an attempt; try again shortly.
            Err(DialError::NoLine(_)) => return self.not_an_attempt(c, t, id).await,
            Ok(DialResult::Failed { cause, .. }) if outcome::no_line(&cause) => {
                return self.not_an_attempt(c, t, id).await
            }
            Err(DialError::Invalid(e)) => {
                warn!(campaign = c.id, "number {number}: {e}");
                AttemptEnd {
                    cause: Some("INVALID_NUMBER_FORMAT".into()),
                    outcome: Outcome::Invalid.as_str().into(),
                    ..Default::default()
                }
            }
            Err(e) => {
                warn!(campaign = c.id, "originate to {number}: {e}");
                AttemptEnd {
                    cause: None,
                    outcome: Outcome::Failed.as_str().into(),
                    ..Default::default()
                }
            }
            Ok(DialResult::Failed { cause, .. }) => AttemptEnd {
                outcome: outcome::unanswered(&cause).as_str().into(),
                cause: Some(cause),
                ..Default::default()
            },
            Ok(DialResult::Answered(_)) => {
                self.campaigns.attempt_answered(id).await?;
                self.campaigns.attempt_playback_started(id).await?;
                let heard = notice_call::drive(
                    link,
                    watch,
                    Script {
                        audio: &c.audio,
                        confirm: c.confirm.then(|| self.confirm_args()),
                        limit: Duration::from_secs(30 * 60),
                    },
                )
                .await;
                answered_end(&heard)
            }
        };
        self.campaigns.finish_attempt(id, &end).await?;
        let outcome = Outcome::parse(&end.outcome).unwrap_or(Outcome::Unknown);
        self.settle(c, t.contact_id, attempt_no, outcome).await
    }

    async fn not_an_attempt(&self, c: &Campaign, t: &Target, id: Uuid) -> Result<(), StoreError> {
        self.campaigns.delete_attempt(id).await?;
        self.campaigns
            .requeue(
                c.id,
                t.contact_id,
                Utc::now() + chrono::Duration::seconds(1),
            )
            .await
    }

    fn confirm_args(&self) -> String {
        let p = &self.config.prompts;
        let prompt = |n: &str| format!("{}/{}/{n}.wav", p.dir.display(), p.language);
        // one key, two tries (one re-prompt), 5 s each
        format!(
            "1 1 2 5000 # {} {} contactd_digits [0-9*#]",
            prompt("press_to_confirm"),
            prompt("invalid_entry")
        )
    }

    /// Subscribers left `dialing` by a previous run: anyone who may have heard the message
    /// is not called again; the others go back to the queue.
    async fn recover(&self) -> Result<(), StoreError> {
        for c in self.campaigns.active().await? {
            let stranded = self.campaigns.stranded(c.id).await?;
            if stranded.is_empty() {
                continue;
            }
            info!(
                campaign = c.id,
                n = stranded.len(),
                "recovering calls of a previous run"
            );
            let link = self.link_for(&c.trunk);
            for s in stranded {
                if let Some(outcome) = s.outcome.as_deref().and_then(Outcome::parse) {
                    // The attempt ended but the target was not updated.
                    self.settle(&c, s.contact_id, s.attempts.max(1), outcome)
                        .await?;
                    continue;
                }
                let Some(uuid) = s.uuid else {
                    self.campaigns
                        .requeue(c.id, s.contact_id, Utc::now())
                        .await?;
                    continue;
                };
                let live = match link {
                    Some(l) => l
                        .api(&format!("uuid_exists {uuid}"))
                        .await
                        .map(|b| b.trim() == "true")
                        .unwrap_or(false),
                    None => false,
                };
                if live {
                    // Nobody drives it any more; whatever it is doing, end it cleanly.
                    if let Some(l) = link {
                        let _ = l.hangup(&uuid.to_string(), "NORMAL_CLEARING").await;
                    }
                }
                let attempt_no = s.attempts + 1;
                let outcome = if s.playback_started {
                    // May have heard (part of) it: never again, and say we do not know how much.
                    Outcome::Unknown
                } else {
                    // Never heard a word of it: a retry is safe.
                    Outcome::Failed
                };
                self.campaigns
                    .finish_attempt(
                        uuid,
                        &AttemptEnd {
                            cause: None,
                            outcome: outcome.as_str().into(),
                            ..Default::default()
                        },
                    )
                    .await?;
                self.settle(&c, s.contact_id, attempt_no, outcome).await?;
            }
        }
        Ok(())
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
    }
}
