//! Operator routing (ACD): callers wait parked on the switch with music on hold, their
//! order lives in Redis (`store::acd`), and every instance's dispatcher reserves the head
//! call and the longest-idle qualified operator in one Lua step, rings the operator's phone
//! (`originate … &park()` with the ring timeout) and bridges the two (`uuid_bridge`).
//!
//! Who does what, so several instances can share one Redis and one switch:
//! - the instance that reserved a call rings the operator and bridges ([`offer`]);
//! - one instance at a time *owns* each caller (a Redis lease): it plays music and
//!   announcements, overflows, and sees the call end ([`caller`]). A restarted or dead
//!   instance's callers are adopted by whoever takes the lease next, after checking the
//!   channel still exists on the switch;
//! - after-call work ends by time, checked by every instance's scanner (one wins in Lua).

mod caller;
pub mod card;
mod offer;
pub mod types;
pub mod webhook;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch, Notify};
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::esl::control::SwitchLink;
use crate::store::acd::AcdStore;
use crate::store::acd_calls::AcdCalls;
use crate::store::operators::Operators;
pub use types::*;

/// How long a caller's lease lasts without renewal: the longest a restarted contactd's
/// callers go without announcements.
const LEASE_MS: u64 = 6_000;
/// A caller is adopted by another instance only this long after it entered the ACD, so the
/// instance that admitted it has time to take its lease.
const ADOPT_AFTER_MS: i64 = 10_000;
/// Transfers wait ahead of every configured priority.
const TRANSFER_PRIORITY: u8 = 250;

/// What contactd remembers about a caller in the ACD (Redis `acd:meta`, JSON), so any
/// instance can ring an operator for it, pop the screen, or adopt it after a restart.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Meta {
    pub caller: Option<String>,
    pub account: Option<String>,
    /// `contactd_*` variables the IVR set (step reached, account, ...).
    pub ivr: std::collections::BTreeMap<String, String>,
    pub node: String,
    /// First entered the ACD (ms since the epoch).
    pub entered_ms: i64,
    /// `callback` while the caller is being offered a callback instead of waiting.
    #[serde(default)]
    pub kind: String,
    /// For a callback being dialed: its id.
    #[serde(default)]
    pub callback: Option<i64>,
    /// For an attended transfer's consult item: the call, its first operator and their leg.
    #[serde(default)]
    pub consult: Option<(String, String, String)>,
}

/// Result of [`Acd::admit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Waiting {
        position: u64,
    },
    /// The queue is full: the caller is offered a callback.
    Full,
}

pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn ms_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_else(Utc::now)
}

/// The dial string of an operator's phone goes into `originate`: only the shapes an
/// operator record may hold, nothing that could add an argument or a variable.
pub fn valid_endpoint(s: &str) -> bool {
    crate::operator_cli::check_endpoint(s).is_ok()
}

struct Inner {
    config: Arc<Config>,
    link: SwitchLink,
    node: String,
    store: AcdStore,
    records: AcdCalls,
    operators: Operators,
    instance: String,
    kick: Notify,
    pops: Mutex<HashMap<String, broadcast::Sender<Arc<ScreenPop>>>>,
    /// Callers this instance drives now.
    owned: Mutex<HashSet<String>>,
    /// Their tasks (and offers'), stopped when contactd stops.
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
    ids: Mutex<HashMap<String, i64>>,
    /// Average handle time per queue and when it was read.
    aht: Mutex<HashMap<String, (std::time::Instant, Duration)>>,
    webhook: Option<webhook::Webhook>,
    /// For dialing callbacks' customers on a trunk (line leases, call rows).
    dialing: Option<(
        crate::store::postgres::Calls,
        crate::store::redis::LiveState,
    )>,
}

/// A cheap handle to the ACD of this instance.
#[derive(Clone)]
pub struct Acd {
    inner: Arc<Inner>,
}

impl Acd {
    pub fn new(
        config: Arc<Config>,
        link: SwitchLink,
        node: &str,
        store: AcdStore,
        pool: Pool,
        dialing: Option<(
            crate::store::postgres::Calls,
            crate::store::redis::LiveState,
        )>,
        journal: Option<crate::store::journal::Journal>,
    ) -> Self {
        let instance = format!(
            "{}:{}:{}",
            config.daemon.instance,
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let webhook = webhook::Webhook::new(&config.acd.webhook_url);
        Self {
            inner: Arc::new(Inner {
                link,
                node: node.to_string(),
                store,
                records: journal
                    .map_or_else(|| AcdCalls::new(pool.clone()), AcdCalls::with_journal),
                operators: Operators::new(pool),
                instance,
                kick: Notify::new(),
                pops: Mutex::new(HashMap::new()),
                owned: Mutex::new(HashSet::new()),
                tasks: Mutex::new(Vec::new()),
                ids: Mutex::new(HashMap::new()),
                aht: Mutex::new(HashMap::new()),
                webhook,
                dialing,
                config,
            }),
        }
    }

    pub fn link(&self) -> &SwitchLink {
        &self.inner.link
    }

    /// The operator whose phone is `phone` (`1001` calling from `user/1001`).
    pub async fn operator_by_phone(&self, phone: &str) -> Option<String> {
        if phone.is_empty() {
            return None;
        }
        let ops = self.inner.operators.list().await.ok()?;
        ops.into_iter()
            .find(|o| {
                let last = o.endpoint.rsplit('/').next().unwrap_or_default();
                last.split('@').next() == Some(phone)
            })
            .map(|o| o.login)
    }

    pub fn pool(&self) -> &Pool {
        self.inner.records.pool()
    }

    fn cfg(&self) -> &crate::config::AcdConfig {
        &self.inner.config.acd
    }

    pub(crate) fn prompt(&self, name: &str) -> String {
        let p = &self.inner.config.prompts;
        format!("{}/{}/{name}.wav", p.dir.display(), p.language)
    }

    /// Wakes the dispatcher at once (an operator became ready, a caller arrived).
    pub fn kick(&self) {
        self.inner.kick.notify_one();
    }

    /// Runs the dispatcher and the scanner until `shutdown`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        if let Err(e) = self.sync_all().await {
            warn!("acd: cannot load operators into Redis: {e}");
        }
        let scanner = tokio::spawn(self.clone().scan_loop(shutdown.clone()));
        loop {
            tokio::select! {
                _ = self.inner.kick.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = shutdown.changed() => if *shutdown.borrow() { break },
            }
            if self.inner.link.status() != crate::esl::control::LinkStatus::Connected {
                continue;
            }
            self.dispatch().await;
        }
        scanner.abort();
        self.stop_tasks().await;
    }

    /// contactd is stopping: the callers stay parked on the switch with their music; their
    /// leases are given back so the next instance (or this one restarted) adopts them at once.
    async fn stop_tasks(&self) {
        for t in self.inner.tasks.lock().expect("tasks").drain(..) {
            t.abort();
        }
        let owned: Vec<String> = self.inner.owned.lock().expect("owned").drain().collect();
        for call in owned {
            let _ = self.inner.store.release_claim(&call).await;
        }
    }

    fn track(&self, h: tokio::task::JoinHandle<()>) {
        let mut tasks = self.inner.tasks.lock().expect("tasks");
        tasks.retain(|t| !t.is_finished());
        tasks.push(h.abort_handle());
    }

    /// Offers every call that has a qualified ready operator.
    async fn dispatch(&self) {
        for (name, q) in &self.cfg().queue {
            loop {
                match self
                    .inner
                    .store
                    .reserve(name, &q.group, q.min_level, now_ms())
                    .await
                {
                    Ok(Some(r)) => {
                        debug!(call = %r.call, operator = %r.agent, queue = %name, "offer");
                        self.track(tokio::spawn(offer::run(self.clone(), name.clone(), r)));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        warn!(queue = %name, "acd: reserve: {e}");
                        break;
                    }
                }
            }
        }
    }

    async fn scan_loop(self, shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_millis(1000));
        loop {
            tick.tick().await;
            if *shutdown.borrow() {
                return;
            }
            if self.inner.link.status() != crate::esl::control::LinkStatus::Connected {
                continue;
            }
            if let Err(e) = self.end_wrap_ups().await {
                warn!("acd: after-call work: {e}");
            }
            if let Err(e) = self.adopt().await {
                warn!("acd: adopting callers: {e}");
            }
            if let Err(e) = self.dial_callbacks().await {
                warn!("acd: callbacks: {e}");
            }
        }
    }

    /// Operators whose after-call work is over become ready (idle from now).
    async fn end_wrap_ups(&self) -> Result<(), AcdError> {
        let wrap = self.cfg().wrap_up_seconds as i64 * 1000;
        let now = now_ms();
        for (agent, info) in self.inner.store.agents().await? {
            if info.state == "wrapup"
                && info.at_ms + wrap <= now
                && self
                    .inner
                    .store
                    .wrap_up_done(&agent, info.at_ms, now)
                    .await?
            {
                self.record_wrap_up(&info, now).await;
                self.log_state(&agent, "ready", "", ms_to_time(now)).await;
                self.kick();
            }
        }
        Ok(())
    }

    /// The after-call work of the call the operator just finished lasted until `now`.
    async fn record_wrap_up(&self, info: &crate::store::acd::AgentInfo, now: i64) {
        if info.state != "wrapup" {
            return;
        }
        if let Some(u) = info
            .call
            .as_deref()
            .and_then(|c| uuid::Uuid::parse_str(c).ok())
        {
            let secs = (now - info.at_ms).max(0) as f64 / 1000.0;
            if let Err(e) = self.inner.records.wrap_up(u, secs).await {
                warn!(call = %u, "acd: cannot record after-call work: {e}");
            }
        }
    }

    /// Takes over callers nobody drives (their instance stopped) that are still on the switch.
    async fn adopt(&self) -> Result<(), AcdError> {
        for (call, meta) in self.inner.store.all_meta().await? {
            if self.inner.owned.lock().expect("owned").contains(&call) {
                continue;
            }
            let Ok(meta) = serde_json::from_str::<Meta>(&meta) else {
                warn!(%call, "acd: unreadable caller record dropped");
                self.inner.store.del_meta(&call).await?;
                continue;
            };
            if meta.kind == "callback_dial" {
                continue; // driven by its offer; a stale one is reset by the scanner
            }
            let age_ms = now_ms() - meta.entered_ms;
            if meta.kind == "callback" {
                // Driven by the instance that took the call until it ends; one left behind
                // by an instance that died in the middle of the offer is only cleared.
                if age_ms > 600_000 {
                    self.inner.store.del_meta(&call).await?;
                }
                continue;
            }
            if age_ms < ADOPT_AFTER_MS {
                continue; // just admitted: the instance that took it claims it first
            }
            if !self
                .inner
                .store
                .claim(&call, &self.inner.instance, LEASE_MS)
                .await?
            {
                continue;
            }
            let exists = self
                .inner
                .link
                .api(&format!("uuid_exists {call}"))
                .await
                .map(|b| b.trim() == "true");
            match exists {
                Ok(true) => {
                    info!(%call, "acd: caller adopted");
                    self.spawn_caller(call, meta, caller::Start::Adopted);
                }
                Ok(false) => {
                    info!(%call, "acd: caller gone while nobody watched");
                    caller::gone_unseen(self, &call).await;
                }
                Err(e) => {
                    let _ = self.inner.store.release_claim(&call).await;
                    return Err(AcdError::Switch(e.to_string()));
                }
            }
        }
        Ok(())
    }

    fn spawn_caller(&self, call: String, meta: Meta, start: caller::Start) {
        self.inner.owned.lock().expect("owned").insert(call.clone());
        self.track(tokio::spawn(caller::run(self.clone(), call, meta, start)));
    }

    pub(crate) fn disown(&self, call: &str) {
        self.inner.owned.lock().expect("owned").remove(call);
    }

    /// A caller handed over by the IVR (or dialing the operators' number): enters `queue`
    /// unless it is full. Afterwards the caller's session transfers the channel to the
    /// ACD's park (`contactd-acd` context) and [`Acd::take_over`] starts driving it.
    pub async fn admit(
        &self,
        call: &str,
        queue: &str,
        caller: Option<&str>,
        ivr: std::collections::BTreeMap<String, String>,
    ) -> Result<Admission, AcdError> {
        let q = self
            .cfg()
            .queue
            .get(queue)
            .ok_or_else(|| AcdError::NotFound(format!("queue {queue}")))?;
        let now = now_ms();
        let account = ivr.get("contactd_account").cloned();
        let meta = Meta {
            caller: caller.map(str::to_string),
            account: account.clone(),
            ivr,
            node: self.inner.node.clone(),
            entered_ms: now,
            kind: String::new(),
            callback: None,
            consult: None,
        };
        // The record and the meta first: a reservation may come the moment it is queued.
        let json = serde_json::to_string(&meta).expect("meta json");
        self.inner.store.set_meta(call, &json).await?;
        let admitted = self
            .inner
            .store
            .enqueue(queue, call, q.priority, q.max_waiting, now)
            .await?;
        match admitted {
            crate::store::acd::Enqueued::Waiting { position, .. } => {
                if let Ok(u) = uuid::Uuid::parse_str(call) {
                    self.inner
                        .records
                        .entered(
                            u,
                            &self.inner.node,
                            queue,
                            caller,
                            account.as_deref(),
                            ms_to_time(now),
                        )
                        .await?;
                }
                Ok(Admission::Waiting { position })
            }
            crate::store::acd::Enqueued::AlreadyOffered => Ok(Admission::Waiting { position: 0 }),
            crate::store::acd::Enqueued::Refused => {
                let meta = Meta {
                    kind: "callback".into(),
                    ..meta
                };
                let json = serde_json::to_string(&meta).expect("meta json");
                self.inner.store.set_meta(call, &json).await?;
                Ok(Admission::Full)
            }
        }
    }

    /// Starts driving a caller parked by the `contactd-acd` dialplan after [`Acd::admit`].
    pub async fn take_over(&self, call: &str, queue: &str) -> Result<(), AcdError> {
        let meta = self
            .inner
            .store
            .meta(call)
            .await?
            .and_then(|m| serde_json::from_str::<Meta>(&m).ok())
            .ok_or_else(|| AcdError::NotFound(format!("caller {call}")))?;
        self.inner
            .store
            .claim(call, &self.inner.instance, LEASE_MS)
            .await?;
        self.inner.store.set_parked(call).await?;
        let start = if meta.kind == "callback" {
            caller::Start::CallbackOffer {
                queue: queue.to_string(),
                full: true,
            }
        } else {
            self.kick();
            caller::Start::Fresh
        };
        self.spawn_caller(call.to_string(), meta, start);
        Ok(())
    }

    /// Loads every operator's phone and skills into Redis.
    pub async fn sync_all(&self) -> Result<(), AcdError> {
        for op in self.inner.operators.list().await? {
            self.sync_operator(&op.login).await?;
        }
        Ok(())
    }

    /// Copies one operator's phone and skills from PostgreSQL to Redis after a change.
    pub async fn sync_operator(&self, login: &str) -> Result<(), AcdError> {
        let op = self
            .inner
            .operators
            .get(login)
            .await?
            .ok_or_else(|| AcdError::NotFound(format!("operator {login}")))?;
        if !valid_endpoint(&op.endpoint) {
            return Err(AcdError::Invalid(format!(
                "operator {login}: endpoint {:?} is not a dial string contactd accepts",
                op.endpoint
            )));
        }
        self.inner
            .ids
            .lock()
            .expect("ids")
            .insert(op.login.clone(), op.id);
        self.inner.store.set_endpoint(login, &op.endpoint).await?;
        let skills = self.inner.operators.skills(op.id).await?;
        let skills: Vec<(&str, u8)> = skills
            .iter()
            .map(|(g, l)| (g.as_str(), (*l).clamp(0, 10) as u8))
            .collect();
        self.inner.store.set_skills(login, &skills).await?;
        Ok(())
    }

    pub(crate) async fn operator_id(&self, login: &str) -> Option<i64> {
        if let Some(id) = self.inner.ids.lock().expect("ids").get(login) {
            return Some(*id);
        }
        let op = self.inner.operators.get(login).await.ok().flatten()?;
        self.inner
            .ids
            .lock()
            .expect("ids")
            .insert(login.to_string(), op.id);
        Some(op.id)
    }

    /// Logs an operator's state change in PostgreSQL (best effort: routing goes on if the
    /// database is away; the gap shows in the log as a longer previous period).
    pub(crate) async fn log_state(
        &self,
        login: &str,
        state: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) {
        let Some(id) = self.operator_id(login).await else {
            warn!(
                operator = login,
                "acd: state {state} for an unknown operator"
            );
            return;
        };
        if let Err(e) = self
            .inner
            .operators
            .record_state(id, state, reason, at)
            .await
        {
            warn!(operator = login, "acd: cannot log state {state}: {e}");
        }
    }

    /// The operator's talk on `call` is over: after-call work, logged. False if they were
    /// not talking with it (already finished, or never answered).
    pub(crate) async fn end_talk(&self, call: &str, agent: &str, now: i64) -> bool {
        if !self
            .inner
            .store
            .finish(call, agent, now)
            .await
            .unwrap_or(false)
        {
            return false;
        }
        self.log_state(agent, "wrap_up", "", ms_to_time(now)).await;
        true
    }

    /// An operator's own change of state (feature code or API). Returns the new state.
    pub async fn command(&self, login: &str, cmd: OperatorCommand) -> Result<String, AcdError> {
        if self.inner.operators.get(login).await?.is_none() {
            return Err(AcdError::NotFound(format!("operator {login}")));
        }
        if matches!(cmd, OperatorCommand::Login) {
            self.sync_operator(login).await?;
        }
        let store = &self.inner.store;
        let current = store.agent_info(login).await?;
        let now = now_ms();
        let (ok, state, reason) = match &cmd {
            OperatorCommand::Login | OperatorCommand::Ready => {
                if current.as_ref().is_some_and(|c| c.state == "ready") {
                    return Ok("ready".into());
                }
                if current.is_none() && matches!(cmd, OperatorCommand::Ready) {
                    return Err(AcdError::Conflict(format!(
                        "operator {login} is logged out: log in first"
                    )));
                }
                {
                    let ok = store.agent_ready(login, now).await?;
                    if let (true, Some(c)) = (ok, &current) {
                        // Back before the after-call work's time was up.
                        self.record_wrap_up(c, now).await;
                    }
                    (ok, "ready", String::new())
                }
            }
            OperatorCommand::Break(r) => (
                store.agent_away(login, "break", now).await?,
                "break",
                r.clone(),
            ),
            OperatorCommand::Absent => (
                store.agent_away(login, "absent", now).await?,
                "absent",
                String::new(),
            ),
            OperatorCommand::Logout => (
                store.agent_away(login, "loggedout", now).await?,
                "logged_out",
                String::new(),
            ),
        };
        if !ok {
            let on = current.map(|c| c.state).unwrap_or_default();
            return Err(AcdError::Conflict(format!(
                "operator {login} is {on} a call: change the state after it"
            )));
        }
        self.log_state(login, state, &reason, ms_to_time(now)).await;
        if state == "ready" {
            self.kick();
        }
        info!(operator = login, state, reason = %reason, "operator state");
        Ok(state.to_string())
    }

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
            .is_some_and(|i| i.state == "talking" && i.call.as_deref() == Some(call));
        if !talking {
            return Err(AcdError::Conflict(format!(
                "call {call} is not talking with an operator yet"
            )));
        }
        let leg = store
            .leg(call)
            .await?
            .ok_or_else(|| AcdError::NotFound(format!("operator leg of call {call}")))?;
        match mode {
            TransferMode::Blind => {
                store.set_transfer(call, to_queue).await?;
                // The caller's owner sees the bridge end and moves it (see `caller`).
                self.inner
                    .link
                    .hangup(&leg, "NORMAL_CLEARING")
                    .await
                    .map_err(|e| AcdError::Switch(e.to_string()))?;
            }
            TransferMode::Attended => {
                // Noted before the consult item can be answered; `consulting:` once it is.
                let item = uuid::Uuid::new_v4().to_string();
                store
                    .set_transfer(call, &format!("attended:{to_queue}:{item}"))
                    .await?;
                offer::consult(
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

    /// Screen pops for one operator.
    pub fn subscribe(&self, login: &str) -> broadcast::Receiver<Arc<ScreenPop>> {
        self.inner
            .pops
            .lock()
            .expect("pops")
            .entry(login.to_string())
            .or_insert_with(|| broadcast::channel(16).0)
            .subscribe()
    }

    pub(crate) fn publish(&self, pop: ScreenPop) {
        let pop = Arc::new(pop);
        if let Some(tx) = self.inner.pops.lock().expect("pops").get(&pop.operator) {
            let _ = tx.send(pop.clone());
        }
        if let Some(w) = &self.inner.webhook {
            w.send(pop);
        }
    }

    pub async fn queues(&self) -> Result<Vec<QueueView>, AcdError> {
        let agents = self.inner.store.agents().await?;
        let skills = self.inner.store.skills().await?;
        let mut out = Vec::new();
        for (name, q) in &self.cfg().queue {
            let ready = count_operators(&agents, &skills, &q.group, q.min_level, |s| s == "ready");
            out.push(QueueView {
                name: name.clone(),
                group: q.group.clone(),
                waiting: self.inner.store.waiting(name).await?,
                max_waiting: q.max_waiting,
                ready_operators: ready,
            });
        }
        Ok(out)
    }

    pub async fn operators(&self) -> Result<Vec<OperatorView>, AcdError> {
        let agents: HashMap<_, _> = self.inner.store.agents().await?.into_iter().collect();
        let mut out = Vec::new();
        for op in self.inner.operators.list().await? {
            let info = agents.get(&op.login);
            let skills = self
                .inner
                .operators
                .skills(op.id)
                .await?
                .into_iter()
                .map(|(g, l)| (g, l.clamp(0, 10) as u8))
                .collect();
            out.push(OperatorView {
                state: info.map_or("logged_out".into(), |i| pg_state(&i.state).to_string()),
                since: info.map(|i| ms_to_time(i.at_ms).to_rfc3339()),
                call: info.and_then(|i| i.call.clone()),
                login: op.login,
                name: op.name,
                endpoint: op.endpoint,
                skills,
            });
        }
        Ok(out)
    }

    /// Estimated wait for the caller at `position`: the callers ahead share the operators
    /// who take the queue, each call lasting the average handle time.
    pub(crate) async fn estimated_wait(&self, queue: &str, position: u64) -> Duration {
        let group = self.cfg().queue.get(queue).map(|q| q.group.clone());
        let staffed = match (
            group,
            self.inner.store.agents().await,
            self.inner.store.skills().await,
        ) {
            (Some(g), Ok(a), Ok(s)) => count_operators(&a, &s, &g, 0, |st| {
                !matches!(st, "loggedout" | "absent" | "break")
            }),
            _ => 0,
        };
        let aht = self.average_handle(queue).await;
        crate::core::acd::queue::estimate_wait(position, staffed, aht)
    }

    /// The queue's average handle time (talk + after-call work) over its last answered
    /// calls, read at most once a minute; the configured default until there are any.
    async fn average_handle(&self, queue: &str) -> Duration {
        let fresh = Duration::from_secs(60);
        if let Some((at, aht)) = self.inner.aht.lock().expect("aht").get(queue) {
            if at.elapsed() < fresh {
                return *aht;
            }
        }
        let default = Duration::from_secs(self.cfg().default_handle_seconds);
        let aht = match self.inner.records.average_handle_s(queue, 50).await {
            Ok(Some(s)) if s > 0.0 => Duration::from_secs_f64(s),
            Ok(_) => default,
            Err(e) => {
                debug!(queue, "acd: average handle time: {e}");
                default
            }
        };
        self.inner
            .aht
            .lock()
            .expect("aht")
            .insert(queue.to_string(), (std::time::Instant::now(), aht));
        aht
    }

    /// Callbacks are dialed when an operator of their queue is ready and nobody waits there.
    async fn dial_callbacks(&self) -> Result<(), AcdError> {
        let records = &self.inner.records;
        records
            .reset_stale_callbacks((self.cfg().ring_timeout_seconds + 120) as f64)
            .await?;
        let agents = self.inner.store.agents().await?;
        let skills = self.inner.store.skills().await?;
        for (name, q) in &self.cfg().queue {
            let ready = count_operators(&agents, &skills, &q.group, q.min_level, |s| s == "ready");
            if ready == 0 || self.inner.store.queue_len(name).await? > 0 {
                continue;
            }
            let Some(cb) = records.take_callback(name).await? else {
                continue;
            };
            offer::start_callback(self.clone(), cb).await;
        }
        Ok(())
    }
}

/// How many operators, by one read of the live states and skills, have `group` at
/// `min_level` or above and a state `in_state` accepts.
fn count_operators(
    agents: &[(String, crate::store::acd::AgentInfo)],
    skills: &[(String, String, u8)],
    group: &str,
    min_level: u8,
    in_state: impl Fn(&str) -> bool,
) -> usize {
    agents
        .iter()
        .filter(|(a, i)| {
            in_state(&i.state)
                && skills
                    .iter()
                    .any(|(sa, g, l)| sa == a && g == group && *l >= min_level)
        })
        .count()
}

/// Redis state name → the name in `operator_states` and the API.
pub fn pg_state(redis: &str) -> &str {
    match redis {
        "wrapup" => "wrap_up",
        "loggedout" => "logged_out",
        other => other,
    }
}
