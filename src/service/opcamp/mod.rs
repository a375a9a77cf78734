//! Operator campaigns: one runner for every running operator campaign. Each look it builds
//! the floor of the campaign's queue from the ACD's live state (`Acd::queue_floor`), asks the
//! campaign's [`crate::core::dialer::Pacer`] how many to dial, and dials them through the
//! notice campaigns' safe path (line lease, attempt row, `bgapi originate`), with the same
//! rules checked at the moment of dialling (`core::campaign::pacer`: calling window in the
//! subscriber's zone, do-not-call list, retries by cause). What happens to one call — the
//! answer, the detector's verdict, the operator or the abandon message (played by the
//! switch itself, [`message`]) — is in [`call`];
//! operators' callbacks in [`callbacks`]; dispositions and preview dialing in [`operator`];
//! restarts in [`recover`].

mod call;
pub mod callbacks;
mod connect;
mod detect;
mod ends;
mod message;
pub mod operator;
mod pacing;
mod reattach;
mod recover;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tracing::{info, warn};

pub use crate::service::acd::campaign_card::{CampaignCard, ContactCard};
pub use pacing::CampaignPacing;

use crate::clock::Clock;
use crate::config::Config;
use crate::core::campaign::pacer::{CampaignRules, Pacer as Rules};
use crate::core::dialer::PacingDecision;
use crate::esl::control::{LinkStatus, SwitchLink};
use crate::service::acd::Acd;
use crate::service::driving::Driving;
use crate::service::screen::screen;
use crate::store::campaigns::{Campaign, Campaigns, Target};
use crate::store::op_campaigns::{OpCampaign, OpCampaigns};
use crate::store::postgres::Calls;
use crate::store::redis::LiveState;
use crate::store::StoreError;

/// How often the runner looks when nothing wakes it.
const LOOK_EVERY: Duration = Duration::from_millis(500);
const PREVIEW_SWEEP_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

pub struct OpRunner {
    pub campaigns: Campaigns,
    pub ops: OpCampaigns,
    pub calls: Calls,
    pub live: LiveState,
    pub links: Vec<SwitchLink>,
    pub acd: Acd,
    pub config: Arc<Config>,
    pub draining: Arc<AtomicBool>,
    clock: Clock,
    /// The notice campaigns' rules (window, do-not-call, retries): reused, not copied.
    rules: Mutex<Rules>,
    /// Each campaign's pacer and its calls in flight.
    pacing: Mutex<HashMap<i64, CampaignPacing>>,
    /// When previews held by absent operators were last looked for (every
    /// [`PREVIEW_SWEEP_EVERY`], not at every look: a release is a matter of minutes).
    previews_swept: Mutex<Option<DateTime<Utc>>>,
    /// Subscribers (campaign, contact) a task of this instance is calling.
    driving: Driving,
    /// A call ended or an operator's state changed: look now.
    pub wake: Arc<tokio::sync::Notify>,
    /// The decisions every pacer took, kept for the demo and the API (newest last).
    decisions: Mutex<Vec<(i64, PacingDecision)>>,
    /// Which trunks are in service and which one a call takes (a campaign may name a group).
    trunks: Arc<crate::service::trunks::Trunks>,
    /// Which campaigns this instance drives (one instance per campaign); `None`: all.
    drivers: Option<crate::service::campaign_lease::Drivers>,
}

impl OpRunner {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        campaigns: Campaigns,
        ops: OpCampaigns,
        calls: Calls,
        live: LiveState,
        links: Vec<SwitchLink>,
        acd: Acd,
        config: Arc<Config>,
        draining: Arc<AtomicBool>,
        clock: Clock,
    ) -> Self {
        let zone = config.dialing.zone();
        let trunks =
            crate::service::trunks::Trunks::new(config.clone(), live.clone(), links.clone(), None);
        Self {
            trunks,
            rules: Mutex::new(Rules::new(zone, clock.now())),
            pacing: Mutex::default(),
            previews_swept: Mutex::default(),
            driving: Driving::new(clock.clone()),
            wake: Arc::default(),
            decisions: Mutex::default(),
            drivers: None,
            clock,
            campaigns,
            ops,
            calls,
            live,
            links,
            acd,
            config,
            draining,
        }
    }

    /// Picks trunks through `trunks` (shared with the trunk-health service).
    pub fn with_trunks(mut self, trunks: Arc<crate::service::trunks::Trunks>) -> Self {
        trunks.wake_on_change(self.wake.clone());
        self.trunks = trunks;
        self
    }

    /// Drives only the campaigns whose lease `drivers` holds (several instances).
    pub fn with_drivers(mut self, drivers: crate::service::campaign_lease::Drivers) -> Self {
        self.drivers = Some(drivers);
        self
    }

    /// This process as a lease holder (`instance@host:pid`), also written on the callbacks
    /// it takes.
    fn holder(&self) -> String {
        match &self.drivers {
            Some(d) => d.instance().to_string(),
            None => crate::service::campaign_lease::holder_id(&self.config.daemon.instance),
        }
    }

    /// Whether this instance drives campaign `id` now (by its own clock).
    fn drives(&self, id: i64) -> bool {
        self.drivers.as_ref().is_none_or(|d| d.holds(id))
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// What is held for operators in PostgreSQL (previews, dispositions, callbacks).
    fn held(&self) -> crate::store::op_held::OpHeld {
        crate::store::op_held::OpHeld::new(self.ops.pool().clone())
    }

    fn rules(&self) -> std::sync::MutexGuard<'_, Rules> {
        self.rules.lock().expect("rules lock")
    }

    fn link_for(&self, trunk: &str) -> Option<&SwitchLink> {
        let switch = &self.config.trunk.get(trunk)?.switch;
        self.links.iter().find(|l| l.name() == switch)
    }

    /// The pacing decisions taken so far (campaign, decision), oldest first.
    pub fn decisions(&self) -> Vec<(i64, PacingDecision)> {
        self.decisions.lock().expect("decisions").clone()
    }

    /// The campaign's abandon figures (rolling 24 h and today, UTC day), if it is paced here.
    pub fn abandon_figures(&self, id: i64) -> Option<crate::core::dialer::AbandonFigures> {
        let now = self.clock.now();
        let day = now.date_naive().and_hms_opt(0, 0, 0)?.and_utc();
        let pacing = self.pacing.lock().expect("pacing");
        pacing.get(&id).map(|p| p.pacer.abandon(now, day))
    }

    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        for link in &self.links {
            let mut st = link.watch_status();
            tokio::select! {
                _ = st.wait_for(|s| *s == LinkStatus::Connected) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
        if let Err(e) = self.recover().await {
            warn!("operator campaigns: recovery: {e}");
        }
        loop {
            let next = self.next_look();
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        return;
                    }
                }
            }
            if let Err(e) = self.look().await {
                warn!("operator campaigns: {e}");
            }
        }
    }

    /// The earliest of the routine look and every pacer's next re-estimate.
    fn next_look(&self) -> tokio::time::Instant {
        let now = self.clock.now();
        let mut at = now + chrono::TimeDelta::from_std(LOOK_EVERY).unwrap_or_default();
        for p in self.pacing.lock().expect("pacing").values() {
            at = at.min(p.pacer.poll_timeout());
        }
        let wait = (at - now).to_std().unwrap_or_default();
        self.clock.instant() + wait
    }

    async fn look(self: &Arc<Self>) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.rules().handle_timeout(now);
        if self.campaigns.backlog() > 0 {
            return Ok(());
        }
        let leases_ok = self.live.leases_trusted().await.unwrap_or(false);
        let dialing = leases_ok && !self.draining.load(Ordering::SeqCst);
        let active = self.ops.active().await?;
        if let Some(d) = &self.drivers {
            let ids: Vec<i64> = active.iter().map(|o| o.campaign_id).collect();
            if d.drive(&ids).await.taken_over {
                // The previous driver's calls first: followed or settled, never redialed.
                self.recover().await?;
            }
        }
        for op in active.into_iter().filter(|o| self.drives(o.campaign_id)) {
            let Some(c) = self.campaigns.get(op.campaign_id).await? else {
                continue;
            };
            self.ensure_pacing(&c, &op).await;
            self.collect_decisions(c.id);
            let running = c.state == "running";
            if running && dialing {
                if let Err(e) = self.dial_more(&c, &op, now).await {
                    warn!(campaign = c.id, "operator campaign not dialed: {e}");
                }
            }
            if self.campaigns.finish_if_complete(c.id).await? {
                info!(campaign = c.id, "operator campaign complete");
            }
        }
        if dialing {
            self.callbacks_due(now).await;
        }
        let sweep = {
            let mut last = self.previews_swept.lock().expect("previews swept");
            let due = last.is_none_or(|t| now - t >= PREVIEW_SWEEP_EVERY);
            if due {
                *last = Some(now);
            }
            due
        };
        if sweep {
            self.release_left_previews().await?;
        }
        Ok(())
    }

    fn collect_decisions(&self, id: i64) {
        let mut out = Vec::new();
        if let Some(p) = self.pacing.lock().expect("pacing").get_mut(&id) {
            while let Some(d) = p.pacer.poll_decision() {
                out.push(d);
            }
        }
        for d in out {
            info!(
                campaign = id,
                mode = %d.mode,
                dial_level = d.dial_level,
                answer_rate = d.answer_rate,
                reason = %d.reason,
                "pacing decision"
            );
            self.decisions.lock().expect("decisions").push((id, d));
        }
    }

    /// How many to dial now, and dials them.
    async fn dial_more(
        self: &Arc<Self>,
        c: &Campaign,
        op: &OpCampaign,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // a trunk or a group: its channels in service and their lines in use
        let Some((trunk_channels, trunk_in_use)) = self.trunks.capacity(&c.trunk).await? else {
            warn!(campaign = c.id, trunk = %c.trunk, "operator campaign names an unknown trunk");
            return Ok(());
        };
        let parsed = CampaignRules::parse(
            &c.window_days,
            &c.window_start,
            &c.window_end,
            c.time_zone.as_deref(),
        );
        let Some(rules) = self.rules().rules(c.id, parsed) else {
            return Ok(());
        };
        let floor = match self.acd.queue_floor(&op.queue).await {
            Ok(f) => f,
            Err(e) => {
                warn!(campaign = c.id, queue = %op.queue, "operators not known: {e}");
                return Ok(());
            }
        };
        let budget = crate::core::campaign::pacer::LineBudget {
            lines: c.lines.max(0) as usize,
            mine: self.in_progress(c.id),
            budget_in_use: self.live.budget_in_use(&budget_of(c.id)).await?,
            trunk_channels,
            trunk_in_use,
        };
        let lines_free = self.rules().free_lines(budget, now) as u32;
        let n = self.to_dial(c.id, &floor, lines_free, now);
        if n == 0 {
            return Ok(());
        }
        let fence = match &self.drivers {
            Some(d) => match d.fence(c.id).await {
                Some(f) => Some(f),
                None => return Ok(()),
            },
            None => None,
        };
        let claimed = self
            .campaigns
            .claim_due(c.id, i64::from(n), now, fence)
            .await?;
        self.dial_targets(c, op, &rules, claimed, now).await
    }

    /// Checks each claimed subscriber's window and the do-not-call list, then calls.
    async fn dial_targets(
        self: &Arc<Self>,
        c: &Campaign,
        op: &OpCampaign,
        rules: &CampaignRules,
        claimed: Vec<Target>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let dial = screen(
            &self.campaigns,
            &self.rules,
            rules,
            c.id,
            claimed,
            None,
            now,
        )
        .await?;
        for t in dial {
            self.spawn_call(c.clone(), op.clone(), t, None, None);
        }
        Ok(())
    }

    /// Calls one subscriber in its own task (the campaign's in-flight count follows it).
    fn spawn_call(
        self: &Arc<Self>,
        c: Campaign,
        op: OpCampaign,
        t: Target,
        callback: Option<crate::store::op_campaigns::OpCallback>,
        requested_by: Option<String>,
    ) {
        let key = (c.id, t.contact_id);
        self.driving.begin(key);
        self.with_pacing(c.id, |p| p.calls += 1);
        let me = self.clone();
        tokio::spawn(async move {
            me.call_one(&c, &op, &t, callback.as_ref(), requested_by.as_deref())
                .await;
            me.driving.end(key);
            me.with_pacing(c.id, |p| p.calls = p.calls.saturating_sub(1));
            me.wake.notify_one();
        });
    }

    /// Calls this runner drives for campaign `id` now (ringing, connecting or talking).
    pub fn calls_in_progress(&self, id: i64) -> usize {
        self.in_progress(id)
    }

    fn in_progress(&self, id: i64) -> usize {
        self.pacing
            .lock()
            .expect("pacing")
            .get(&id)
            .map_or(0, |p| p.calls as usize)
    }

    fn with_pacing<T>(&self, id: i64, f: impl FnOnce(&mut CampaignPacing) -> T) -> Option<T> {
        self.pacing.lock().expect("pacing").get_mut(&id).map(f)
    }

    /// Records a write the call goes on without.
    fn log_write(&self, r: Result<(), StoreError>) {
        if let Err(e) = r {
            warn!("operator campaign record not written: {e}");
        }
    }
}

/// Budget key of a campaign's line leases in Redis (the notice campaigns' own).
pub fn budget_of(id: i64) -> String {
    crate::service::campaigns::budget_of(id)
}
