//! The campaign runner: keeps every running campaign's lines busy, within its own line count
//! and its trunk's channels, with every rule checked at the moment of dialling (calling
//! window in the subscriber's zone, do-not-call list), retries by hangup cause, and the
//! report queued for e-mail when the last subscriber is done. After a crash it picks up the
//! subscribers that were being dialled without calling anyone who may have heard the message.
//!
//! The rules themselves live in [`crate::core::campaign::pacer`]; this task carries out its
//! decisions (claims, requeues, calls) and sleeps until the pacer's next deadline.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::watch;
use tracing::{error, info, warn};
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::Config;
use crate::core::campaign::outcome::{Outcome, RetryPolicy};
use crate::core::campaign::pacer::{NotDialed, Notice, Pacer};
use crate::core::campaign::state::CampaignState;
use crate::esl::control::{LinkStatus, SwitchLink};
use crate::service::driving::Driving;
use crate::service::messages::Rules;
use crate::service::trunks::Trunks;
use crate::store::campaigns::{Campaign, Campaigns};
use crate::store::postgres::Calls;
use crate::store::redis::LiveState;
use crate::store::StoreError;

mod call;
mod dialing;
mod recover;

pub struct CampaignRunner {
    pub campaigns: Campaigns,
    pub calls: Calls,
    pub live: LiveState,
    pub links: Vec<SwitchLink>,
    pub config: Arc<Config>,
    pub draining: Arc<AtomicBool>,
    clock: Clock,
    /// The rules: what is dialed when. Locked only between awaits.
    pacer: Mutex<Pacer>,
    /// Calls this instance is driving, per campaign: paces claims without a round trip.
    active: Arc<Mutex<HashMap<i64, usize>>>,
    /// A call ended: a line is free now, no need to wait for the next tick.
    line_freed: Arc<tokio::sync::Notify>,
    /// A campaign was created or changed state (any process): look now.
    pub changed: Arc<tokio::sync::Notify>,
    /// Subscribers (campaign, contact) a task of this instance is calling, or called while
    /// a recovery's read was under way: recovery leaves them alone.
    driving: Arc<Driving>,
    /// Of those, the ones whose call is over and no longer counted in `active`: their
    /// records are still being written, but their line is free.
    line_done: Arc<Mutex<HashSet<(i64, i64)>>>,
    /// The campaigns' message rules (`after_confirm`, `when_unreached`) queue through it.
    messages: Option<crate::service::messages::Messages>,
    /// The message rules of the calls this instance is driving, made when each was placed:
    /// fired at the key press and at the settle, without reading PostgreSQL then.
    /// `None`: the campaign had none when the call was placed.
    rules: Arc<Mutex<HashMap<Uuid, Option<Arc<Rules>>>>>,
    /// The tasks waiting for a call's confirmation key (see `key_hook`).
    key_tasks: Arc<Mutex<HashMap<Uuid, tokio::task::JoinHandle<()>>>>,
    /// Which trunks are in service and which one a call takes (a campaign may name a group).
    trunks: Arc<Trunks>,
    /// Which campaigns this instance drives (one instance per campaign); `None`: all.
    drivers: Option<crate::service::campaign_lease::Drivers>,
    /// The active campaigns as last read, and when: a look on a freed line reuses them for
    /// up to [`ACTIVE_FOR`] rather than wait a round trip. A campaign created or changing
    /// state (NOTIFY), the routine look, a completion and a recovery read them again; the
    /// claim itself checks that the campaign is still running.
    active_read: Mutex<Option<(tokio::time::Instant, Vec<Campaign>)>>,
}

/// How long the active campaigns read at a look stand for the next looks.
const ACTIVE_FOR: Duration = Duration::from_secs(1);

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
        clock: Clock,
    ) -> Self {
        // Config::validate refuses a bad zone at start, naming the key; never a guess here.
        let zone: Tz = config.dialing.zone();
        let trunks = Trunks::new(config.clone(), live.clone(), links.clone(), None);
        Self {
            trunks,
            pacer: Mutex::new(Pacer::new(zone, clock.now())),
            driving: Arc::new(Driving::new(clock.clone())),
            clock,
            campaigns,
            calls,
            live,
            links,
            config,
            draining,
            active: Arc::default(),
            line_freed: Arc::default(),
            changed: Arc::default(),
            line_done: Arc::default(),
            messages: None,
            rules: Arc::default(),
            key_tasks: Arc::default(),
            drivers: None,
            active_read: Mutex::new(None),
        }
    }

    /// Picks trunks through `trunks` (shared with the trunk-health service).
    pub fn with_trunks(mut self, trunks: Arc<Trunks>) -> Self {
        trunks.wake_on_change(self.changed.clone());
        self.trunks = trunks;
        self
    }

    /// Drives only the campaigns whose lease `drivers` holds (several instances).
    pub fn with_drivers(mut self, drivers: crate::service::campaign_lease::Drivers) -> Self {
        self.drivers = Some(drivers);
        self
    }

    /// Whether this instance drives campaign `id` now (by its own clock).
    fn drives(&self, id: i64) -> bool {
        self.drivers.as_ref().is_none_or(|d| d.holds(id))
    }

    /// Applies the campaigns' message rules through `messages` after each settled attempt.
    pub fn with_messages(mut self, messages: crate::service::messages::Messages) -> Self {
        self.messages = Some(messages);
        self
    }

    fn pacer(&self) -> std::sync::MutexGuard<'_, Pacer> {
        self.pacer.lock().expect("pacer lock")
    }

    /// When a subscriber who was not dialed after all is due again (the pacer's lock is
    /// released before the caller awaits anything).
    fn put_back(&self, why: NotDialed) -> DateTime<Utc> {
        let now = self.clock.now();
        self.pacer().put_back(why, now)
    }

    /// Says what the pacer has to say: once per change, not once per subscriber.
    fn say(&self) {
        while let Some(n) = self.pacer().poll_output() {
            match n {
                Notice::DncUnreadable { error } => error!(
                    "do-not-call list unreadable: nobody is dialed until it can be read: {error}"
                ),
                Notice::DncReadable { after } => {
                    info!(?after, "do-not-call list readable again: dialing resumes")
                }
                Notice::RulesBroken { campaign, problem } => {
                    error!(campaign, "campaign not dialed: {problem}")
                }
                Notice::RulesMended { campaign } => {
                    info!(
                        campaign,
                        "campaign's calling rules are valid again: dialing"
                    )
                }
            }
        }
    }

    /// When the pacer next wants to look, as a tokio instant.
    fn next_look(&self) -> tokio::time::Instant {
        let at = self.pacer().poll_timeout();
        instant_of(&self.clock, at)
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
        let mut statuses: Vec<_> = self.links.iter().map(|l| l.watch_status()).collect();
        let mut backlog = self.campaigns.backlog();
        let mut released = self.live.watch_released();
        loop {
            // A link back, or the spooled writes all in PostgreSQL again: look for the
            // subscribers whose calls could not be followed meanwhile.
            let relinked = futures_util::future::select_all(
                statuses.iter_mut().map(|w| Box::pin(w.changed())),
            );
            tokio::select! {
                _ = relinked => {
                    if self.links.iter().all(|l| l.status() == LinkStatus::Connected) {
                        if let Err(e) = self.recover().await {
                            warn!("campaign recovery after reconnect: {e}");
                        }
                    }
                }
                _ = tokio::time::sleep_until(self.next_look()) => {
                    let sweep = self.pacer().sweep_due(self.clock.now());
                    if sweep {
                        let now_backlog = self.campaigns.backlog();
                        if now_backlog == 0 || backlog > 0 {
                            if let Err(e) = self.recover().await {
                                warn!("campaign recovery: {e}");
                            }
                        }
                        backlog = now_backlog;
                    }
                    self.forget_active();
                    self.tick_logged().await;
                }
                // A call of ours ended, a lease was released (the call's channel is
                // destroyed), or a campaign was created or changed (any process): look now.
                _ = self.line_freed.notified() => self.tick_logged().await,
                _ = self.changed.notified() => {
                    self.forget_active();
                    self.tick_logged().await
                }
                Ok(()) = released.changed() => self.tick_logged().await,
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    }

    async fn tick_logged(self: &Arc<Self>) {
        if let Err(e) = self.tick().await {
            warn!("campaign runner: {e}");
        }
    }

    async fn tick(self: &Arc<Self>) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.pacer().handle_timeout(now);
        let r = self.look(now).await;
        self.say();
        r
    }

    async fn look(self: &Arc<Self>, now: DateTime<Utc>) -> Result<(), StoreError> {
        // Every attempt is durably written before its originate: while earlier record
        // writes wait for PostgreSQL, nobody new is dialed.
        if self.campaigns.backlog() > 0 {
            return Ok(());
        }
        let active = match self.active_as_read() {
            Some(active) => active,
            None => {
                let active = self.campaigns.active().await?;
                *self.active_read.lock().expect("active read lock") =
                    Some((self.clock.instant(), active.clone()));
                active
            }
        };
        if let Some(d) = &self.drivers {
            let ids: Vec<i64> = active.iter().map(|c| c.id).collect();
            if d.drive(&ids).await.taken_over {
                // The previous driver's calls first: followed or settled, never redialed.
                self.recover().await?;
            }
        }
        for c in active.into_iter().filter(|c| self.drives(c.id)) {
            let running = c.state == CampaignState::Running.as_str();
            let dialing = running && !self.draining.load(Ordering::SeqCst);
            // a subscriber just claimed: the campaign is not complete, no need to ask
            if dialing && self.dial_more(&c, now).await? {
                continue;
            }
            // a subscriber this instance is still calling or settling is `dialing`: the
            // campaign is not complete, no need to ask (it was a statement per look while
            // every line was busy)
            if self.driving_any(c.id) {
                continue;
            }
            if self.campaigns.finish_if_complete(c.id).await? {
                self.forget_active();
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
        match crate::store::report::campaign_report(pool, c.id, &self.config.campaigns.confirm_key)
            .await
        {
            Ok(report) => {
                if let Err(e) = crate::mail::enqueue_report(pool, c.id, &to, &report).await {
                    error!(campaign = c.id, "cannot queue the report: {e}");
                }
            }
            Err(e) => error!(campaign = c.id, "cannot build the report: {e}"),
        }
    }

    /// The active campaigns as read at an earlier look, if recent and not since forgotten.
    fn active_as_read(&self) -> Option<Vec<Campaign>> {
        let read = self.active_read.lock().expect("active read lock");
        let (at, active) = read.as_ref()?;
        (self.clock.instant().saturating_duration_since(*at) < ACTIVE_FOR).then(|| active.clone())
    }

    /// The next look reads the active campaigns again.
    fn forget_active(&self) {
        *self.active_read.lock().expect("active read lock") = None;
    }

    /// Whether a task of this instance is calling a subscriber of campaign `id` or
    /// writing that call's records.
    fn driving_any(&self, id: i64) -> bool {
        self.driving.any_of(id)
    }

    fn active_of(&self, id: i64) -> usize {
        *self
            .active
            .lock()
            .expect("active lock")
            .get(&id)
            .unwrap_or(&0)
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
        rules: Option<&Rules>,
    ) -> Result<(), StoreError> {
        let next_at = self.next_at(c, attempt_no, outcome);
        let written = self
            .campaigns
            .after_attempt(c.id, contact, attempt_no, outcome.as_str(), next_at)
            .await;
        if let Some(m) = &self.messages {
            let s = crate::service::messages::Settled {
                campaign_id: c.id,
                contact_id: contact,
                outcome,
                last: next_at.is_none(),
            };
            m.on_settled(rules, s, self.clock.now()).await;
        }
        written
    }

    /// When the subscriber is called again after `outcome` (`None`: never, they are done).
    fn next_at(&self, c: &Campaign, attempt_no: i32, outcome: Outcome) -> Option<DateTime<Utc>> {
        self.pacer().retry_at(
            outcome,
            attempt_no as u32,
            &Self::policy(c),
            self.clock.now(),
        )
    }
}

/// The tokio instant at which `clock` reads `at` (now, if `at` has passed): what the runner
/// sleeps until.
fn instant_of(clock: &Clock, at: DateTime<Utc>) -> tokio::time::Instant {
    let wait = (at - clock.now()).to_std().unwrap_or_default();
    clock.instant() + wait
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::campaign::pacer::{CampaignRules, WindowVerdict};

    /// The runner's wait, on paused time: a subscriber claimed before their window opens is
    /// put back until the opening, and the runner's sleeps end there — not before (the
    /// window is closed) and not a routine look later.
    #[tokio::test(start_paused = true)]
    async fn a_closed_window_is_slept_through_to_its_opening() {
        // Wednesday 05:30 UTC = 08:30 in Moscow; the window opens at 09:00 there.
        let start = DateTime::parse_from_rfc3339("2026-11-25T05:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let opening = start + chrono::TimeDelta::minutes(30);
        let clock = Clock::following_tokio(start);
        let mut pacer = Pacer::new(chrono_tz::Europe::Moscow, clock.now());
        let rules = CampaignRules::parse("mon-fri", "09:00", "20:00", None).unwrap();
        let mut looks = 0;
        loop {
            tokio::time::sleep_until(instant_of(&clock, pacer.poll_timeout())).await;
            let now = clock.now();
            // as the runner does on each wake-up: the sweep, then the look
            pacer.sweep_due(now);
            pacer.handle_timeout(now);
            looks += 1;
            match pacer.window(&rules, None, now) {
                WindowVerdict::Open => break,
                WindowVerdict::ClosedUntil(at) => assert_eq!(at, opening),
                WindowVerdict::BadZone(z) => panic!("{z}"),
            }
        }
        assert_eq!(clock.now(), opening, "dialed at the opening, not later");
        // one look at the start, one routine look a second (1800 s), the opening itself
        assert_eq!(looks, 1 + 1800);
    }
}
