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
use tracing::{debug, error, info, warn};
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::Config;
use crate::core::campaign::outcome::{self, Outcome, RetryPolicy};
use crate::core::campaign::pacer::{CampaignRules, LineBudget, NotDialed, Notice, Pacer};
use crate::core::campaign::state::CampaignState;
use crate::core::channels::SwitchEvent;
use crate::esl::commands::AfterAnswer;
use crate::esl::control::WatchEvent;
use crate::esl::control::{LinkStatus, SwitchLink};
use crate::service::amd;
use crate::service::dialer::{place_prepared_call, CallRequest, DialError, DialResult};
use crate::service::messages::Rules;
use crate::service::notice_amd::{self, Screened};
use crate::service::notice_call::{self, Heard, Script};
use crate::service::screen::screen;
use crate::service::trunks::Trunks;
use crate::store::campaigns::{AttemptEnd, Campaign, Campaigns, NextStep, Target};
use crate::store::postgres::Calls;
use crate::store::redis::LiveState;
use crate::store::StoreError;

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
    /// Subscribers (campaign, contact) a task of this instance is calling: recovery leaves
    /// them alone.
    driving: Arc<Mutex<HashSet<(i64, i64)>>>,
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
            driving: Arc::default(),
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
        self.driving
            .lock()
            .expect("driving lock")
            .iter()
            .any(|&(c, _)| c == id)
    }

    fn active_of(&self, id: i64) -> usize {
        *self
            .active
            .lock()
            .expect("active lock")
            .get(&id)
            .unwrap_or(&0)
    }

    async fn dial_more(
        self: &Arc<Self>,
        c: &Campaign,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // true: subscribers were claimed (dialed, or put back for later)
        // a trunk or a group: its channels in service and their lines in use
        let budget_key = budget_of(c.id);
        // both asked at once: each round trip here delays the next call on a freed line
        // (and whether the leases can be trusted: not while they are rebuilt)
        let (capacity, budget_in_use, leases_ok) = futures_util::future::join3(
            self.trunks.capacity(&c.trunk),
            self.live.budget_in_use(&budget_key),
            self.live.leases_trusted(),
        )
        .await;
        if !leases_ok.unwrap_or(false) {
            return Ok(false);
        }
        let Some((trunk_channels, trunk_in_use)) = capacity? else {
            warn!(campaign = c.id, trunk = %c.trunk, "campaign names an unknown trunk");
            return Ok(false);
        };
        let parsed = CampaignRules::parse(
            &c.window_days,
            &c.window_start,
            &c.window_end,
            c.time_zone.as_deref(),
        );
        let Some(rules) = self.pacer().rules(c.id, parsed) else {
            return Ok(false);
        };
        let budget = LineBudget {
            lines: c.lines.max(0) as usize,
            mine: self.active_of(c.id),
            budget_in_use: budget_in_use?,
            trunk_channels,
            trunk_in_use,
        };
        let n = self.pacer().free_lines(budget, now);
        if n == 0 {
            return Ok(false);
        }
        let fence = match &self.drivers {
            Some(d) => match d.fence(c.id).await {
                Some(f) => Some(f),
                None => return Ok(false),
            },
            None => None,
        };
        // the message rules asked with the claim: one round trip fewer before the originates
        let (claimed, message_rules) = futures_util::future::join(
            self.claim(c.id, n as i64, now, fence),
            crate::service::dial_batch::read_message_rules(
                self.messages.as_ref(),
                self.campaigns.pool(),
                c.id,
            ),
        )
        .await;
        let (claimed, blocked) = claimed?;
        if claimed.is_empty() {
            return Ok(false);
        }
        let targets = screen(
            &self.campaigns,
            &self.pacer,
            &rules,
            c.id,
            claimed,
            blocked,
            now,
        )
        .await?;
        if targets.is_empty() {
            return Ok(true);
        }
        // A trunk per call (of the group, in its order), its lease, then the batch's rows in
        // one transaction, then the originates (dial_batch).
        let budget = budget_of(c.id);
        let batch = crate::service::dial_batch::Batch {
            pool: self.campaigns.pool(),
            live: &self.live,
            messages: self.messages.as_ref(),
            config: &self.config,
            trunks: &self.trunks,
            budget: &budget,
        };
        let (ready, back) =
            crate::service::dial_batch::prepare(&batch, c, targets, message_rules, now).await;
        for (t, why) in back {
            let at = self.put_back(why);
            self.log_write(self.campaigns.requeue(c.id, t.contact_id, at).await);
        }
        for p in ready {
            let me = self.clone();
            let c = c.clone();
            self.spawn_driver(c.id, p.target.contact_id, async move {
                me.call_one(&c, p).await;
            });
        }
        Ok(true)
    }

    /// Claims up to `n` subscribers with their do-not-call verdicts in the same statement. If
    /// that fails (the list unreadable, say) the plain claim is tried, and the screening asks
    /// the list itself, so that an unreadable list is told and paced as such.
    async fn claim(
        &self,
        id: i64,
        n: i64,
        now: DateTime<Utc>,
        fence: Option<i64>,
    ) -> Result<(Vec<Target>, Option<HashSet<String>>), StoreError> {
        match self.campaigns.claim_due_screened(id, n, now, fence).await {
            Ok((claimed, blocked)) => Ok((claimed, Some(blocked))),
            Err(e) => {
                debug!(campaign = id, "claim with the do-not-call list failed: {e}");
                let claimed = self.campaigns.claim_due(id, n, now, fence).await?;
                Ok((claimed, None))
            }
        }
    }

    /// Runs `f` as the one task calling `contact`; the line count and the recovery's
    /// exclusion follow it.
    fn spawn_driver(
        self: &Arc<Self>,
        campaign: i64,
        contact: i64,
        f: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        *self
            .active
            .lock()
            .expect("active lock")
            .entry(campaign)
            .or_default() += 1;
        self.driving
            .lock()
            .expect("driving lock")
            .insert((campaign, contact));
        let me = self.clone();
        tokio::spawn(async move {
            f.await;
            me.driving
                .lock()
                .expect("driving lock")
                .remove(&(campaign, contact));
            let done = me
                .line_done
                .lock()
                .expect("line done lock")
                .remove(&(campaign, contact));
            let left = {
                let mut active = me.active.lock().expect("active lock");
                let n = active.entry(campaign).or_default();
                if !done {
                    *n -= 1;
                }
                *n
            };
            // Its line was counted free when the call ended (`line_done`); once settled
            // the campaign may be complete, which the last call's look finds out (a look
            // per settle would keep the runner busy when the next line frees).
            if !done || left == 0 {
                me.line_freed.notify_one();
            }
        });
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

    /// Calls one subscriber and records the attempt; every path ends with the attempt's
    /// outcome written (durably: spooled if PostgreSQL is away) and the call hung up.
    async fn call_one(self: &Arc<Self>, c: &Campaign, p: crate::service::dial_batch::Prepared) {
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
                let released = self.live.release_line(&trunk_name, &budget, uuid.as_str());
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
    fn line_done(&self, campaign: i64, contact: i64) {
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
    async fn finish(
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
    fn log_write(&self, r: Result<(), StoreError>) {
        if let Err(e) = r {
            error!("campaign record not written: {e}");
        }
    }

    /// Plays the message on an answered call and tells what the subscriber heard.
    async fn play(
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

    fn script<'a>(&self, c: &'a Campaign) -> Script<'a> {
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

fn not_sent() -> AttemptEnd {
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

/// The tokio instant at which `clock` reads `at` (now, if `at` has passed): what the runner
/// sleeps until.
fn instant_of(clock: &Clock, at: DateTime<Utc>) -> tokio::time::Instant {
    let wait = (at - clock.now()).to_std().unwrap_or_default();
    clock.instant() + wait
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::campaign::pacer::WindowVerdict;

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
