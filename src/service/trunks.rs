//! Trunk health and the choice of trunk: which trunks of a campaign's group are in service
//! (switch link up and resynced, FreeTDM span not in alarm), the group's capacity for the
//! pacers, and the trunk each new call takes. The health task follows the links' status and
//! mod_freetdm's span alarms, re-reads the spans with `ftdm dump` after every reconnect
//! (events sent while the link was down are lost), publishes each trunk's state in Redis
//! (for `contactd trunks` and `/metrics`) and queues one e-mail to the sysadmins per alarm.
//!
//! The decisions are `core::trunks`'; a trunk's channels stay capped by the line leases.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::{broadcast, watch, Notify};
use tracing::{info, warn};

use crate::config::Config;
use crate::core::trunks::{self, AlarmEvent, SpanAlarms, TrunkLoad, TrunkState};
use crate::esl::control::{LinkStatus, SwitchLink};
use crate::esl::span_alarm;
use crate::store::redis::LiveState;
use crate::store::trunk_state::{self, TrunkStatus};
use crate::store::StoreError;

mod span_change;

#[derive(Default)]
struct Health {
    /// Per switch: its spans' alarmed channels.
    spans: HashMap<String, SpanAlarms>,
    /// Per switch: span name → number, learnt from the events (a trunk may name either).
    names: HashMap<String, BTreeMap<String, u32>>,
    /// Per switch: the link's connect count when its spans were last re-read; the switch's
    /// FreeTDM trunks stay out until it equals the link's current count.
    resynced: HashMap<String, u64>,
    /// Per group (or trunk): the index its last call took, for round robin.
    last: HashMap<String, usize>,
    /// Per trunk: the state last published and since when.
    published: HashMap<String, (TrunkState, i64)>,
    /// Per span (`switch/span`): the alarm names of its current episode.
    alarms: HashMap<String, Vec<String>>,
    /// Calls of groups in progress → the trunk each was placed on.
    calls: HashMap<uuid::Uuid, String>,
    /// Per trunk: calls picked whose line lease is not taken (or refused) yet.
    picking: HashMap<String, u32>,
}

/// A trunk picked for one call: counted as taken until dropped, just before the call asks
/// for its line lease (then the lease counts it).
pub struct Picked {
    pub trunk: String,
    /// Set for a group's pick: whose count to give back.
    trunks: Option<Arc<Trunks>>,
}

impl Drop for Picked {
    fn drop(&mut self) {
        let Some(trunks) = &self.trunks else {
            return;
        };
        let mut h = trunks.health();
        if let Some(n) = h.picking.get_mut(&self.trunk) {
            *n = n.saturating_sub(1);
        }
    }
}

/// Shared by the campaign runners (capacity, pick) and the health task.
pub struct Trunks {
    config: Arc<Config>,
    live: LiveState,
    links: Vec<SwitchLink>,
    /// Where the sysadmins' e-mail is queued (the outbox); none: not mailed.
    pool: Option<deadpool_postgres::Pool>,
    /// True once the health task runs: only then do FreeTDM trunks wait for a span resync.
    follows_alarms: std::sync::atomic::AtomicBool,
    health: Mutex<Health>,
    /// Woken when a trunk comes back into service: the runners look at once.
    wake: Mutex<Vec<Arc<Notify>>>,
}

impl Trunks {
    pub fn new(
        config: Arc<Config>,
        live: LiveState,
        links: Vec<SwitchLink>,
        pool: Option<deadpool_postgres::Pool>,
    ) -> Arc<Self> {
        Arc::new(Self {
            config,
            live,
            links,
            pool,
            follows_alarms: false.into(),
            health: Mutex::default(),
            wake: Mutex::default(),
        })
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().expect("trunk health lock")
    }

    /// `n` is notified whenever a trunk changes state.
    pub fn wake_on_change(&self, n: Arc<Notify>) {
        self.wake.lock().expect("wake lock").push(n);
    }

    fn link_of(&self, trunk: &str) -> Option<&SwitchLink> {
        let switch = &self.config.trunk.get(trunk)?.switch;
        self.links.iter().find(|l| l.name() == switch)
    }

    /// The trunk's state now.
    pub fn state(&self, trunk: &str) -> TrunkState {
        let Some(t) = self.config.trunk.get(trunk) else {
            return TrunkState::SwitchDown;
        };
        let Some(link) = self.link_of(trunk) else {
            return TrunkState::SwitchDown;
        };
        if link.status() != LinkStatus::Connected {
            return TrunkState::SwitchDown;
        }
        let Some(span) = t.span_name() else {
            return TrunkState::InService;
        };
        if !self
            .follows_alarms
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return TrunkState::InService;
        }
        let h = self.health();
        let connects = link
            .counters()
            .connects
            .load(std::sync::atomic::Ordering::SeqCst);
        if h.resynced.get(&t.switch) != Some(&connects) {
            return TrunkState::SwitchDown;
        }
        let names = h.names.get(&t.switch).cloned().unwrap_or_default();
        match h.spans.get(&t.switch) {
            Some(s) if s.in_alarm(&span, &names) => TrunkState::Alarm,
            _ => TrunkState::InService,
        }
    }

    async fn loads(&self, trunks: &[String]) -> Result<Vec<TrunkLoad>, StoreError> {
        let mut out = Vec::with_capacity(trunks.len());
        for t in trunks {
            out.push(TrunkLoad {
                channels: self.config.trunk[t].channels,
                in_use: self.live.lines_unavailable(t).await? as u32,
                state: self.state(t),
            });
        }
        Ok(out)
    }

    /// [`Trunks::loads`] with the calls picked and not yet leased counted in: calls picked
    /// together spread over the group instead of all racing for one trunk's last lines.
    async fn loads_with_picks(&self, trunks: &[String]) -> Result<Vec<TrunkLoad>, StoreError> {
        let mut loads = self.loads(trunks).await?;
        let h = self.health();
        for (l, t) in loads.iter_mut().zip(trunks) {
            l.in_use += h.picking.get(t).copied().unwrap_or(0);
        }
        Ok(loads)
    }

    /// Channels in service and lines in use of `name` (a trunk or a group); none if the
    /// config names no such thing.
    pub async fn capacity(&self, name: &str) -> Result<Option<(usize, usize)>, StoreError> {
        let list = self.config.trunks_of(name);
        if list.is_empty() {
            return Ok(None);
        }
        let (c, u) = trunks::capacity(&self.loads(&list).await?);
        Ok(Some((c as usize, u as usize)))
    }

    /// The trunk the next call of `name` takes, in the group's order; none while no trunk
    /// of it is in service with a free channel.
    pub async fn pick(self: &Arc<Self>, name: &str) -> Result<Option<Picked>, StoreError> {
        if self.config.trunk.contains_key(name) {
            // a lone trunk: in service or not; its line lease decides the rest, as always
            return Ok((self.state(name) == TrunkState::InService).then(|| Picked {
                trunk: name.to_string(),
                trunks: None,
            }));
        }
        let list = self.config.trunks_of(name);
        let loads = self.loads_with_picks(&list).await?;
        let order = self
            .config
            .trunk_group
            .get(name)
            .map(|g| g.order)
            .unwrap_or_default();
        let mut h = self.health();
        let i = trunks::pick(order, &loads, h.last.get(name).copied());
        let Some(i) = i else {
            return Ok(None);
        };
        h.last.insert(name.to_string(), i);
        *h.picking.entry(list[i].clone()).or_default() += 1;
        Ok(Some(Picked {
            trunk: list[i].clone(),
            trunks: Some(self.clone()),
        }))
    }

    /// Notes the trunk call `id` was placed on (a group's calls may be on any switch).
    pub fn placed(&self, id: uuid::Uuid, trunk: &str) {
        self.health().calls.insert(id, trunk.to_string());
    }

    /// The call is over: its trunk need not be remembered.
    pub fn ended(&self, id: uuid::Uuid) {
        self.health().calls.remove(&id);
    }

    /// The link carrying call `id` of a campaign dialing through `name`: the trunk's switch,
    /// or for a group the trunk the call was placed on (remembered, else the call's row,
    /// written before its originate, after a restart).
    pub async fn call_link(
        &self,
        name: &str,
        id: uuid::Uuid,
        calls: &crate::store::postgres::Calls,
    ) -> Option<SwitchLink> {
        if self.config.trunk.contains_key(name) {
            return self.link_of(name).cloned();
        }
        let remembered = self.health().calls.get(&id).cloned();
        if let Some(t) = remembered {
            return self.link_of(&t).cloned();
        }
        let node = calls.get(id).await.ok().flatten()?.node;
        self.links.iter().find(|l| l.name() == node).cloned()
    }

    /// Follows the links and their span alarms until `shutdown`.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        self.follows_alarms
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Input>(1024);
        for link in self.links.clone() {
            tokio::spawn(follow_link(link, tx.clone(), shutdown.clone()));
        }
        drop(tx);
        self.publish_all().await;
        // the states are said again now and then, so `contactd trunks` can tell a running
        // daemon's view from a stale one
        let mut refresh = tokio::time::interval(std::time::Duration::from_secs(30));
        loop {
            tokio::select! {
                Some(input) = rx.recv() => self.handle(input).await,
                _ = refresh.tick() => self.publish_all().await,
                _ = shutdown.changed() => if *shutdown.borrow() { return },
            }
        }
    }

    async fn handle(&self, input: Input) {
        match input {
            Input::Status(switch) => {
                let link = self.links.iter().find(|l| l.name() == switch);
                if link.is_some_and(|l| l.status() == LinkStatus::Connected) {
                    self.resync(&switch).await;
                }
            }
            Input::Alarm(switch, ev) => {
                let change = {
                    let mut h = self.health();
                    if !ev.span_name.is_empty() {
                        h.names
                            .entry(switch.clone())
                            .or_default()
                            .insert(ev.span_name.clone(), ev.span_id);
                    }
                    h.spans.entry(switch.clone()).or_default().handle(&ev)
                };
                if let Some(c) = change {
                    self.span_changed(&switch, &ev.span_id.to_string(), &ev.span_name, c)
                        .await;
                }
            }
        }
        self.publish_all().await;
    }

    /// Re-reads every FreeTDM span of `switch` with `ftdm dump`, then lets its trunks in.
    async fn resync(&self, switch: &str) {
        let Some(link) = self.links.iter().find(|l| l.name() == switch) else {
            return;
        };
        let connects = link
            .counters()
            .connects
            .load(std::sync::atomic::Ordering::SeqCst);
        let spans: Vec<String> = self
            .config
            .trunk
            .values()
            .filter(|t| t.switch == switch)
            .filter_map(|t| t.span_name())
            .collect();
        for span in spans {
            let Some(cmd) = span_alarm::dump_command(&span) else {
                continue;
            };
            match link.api(&cmd).await {
                Ok(body) => match span_alarm::parse_dump(&body) {
                    Some((id, alarmed)) => {
                        let change = {
                            let mut h = self.health();
                            if span.parse::<u32>().is_err() {
                                h.names
                                    .entry(switch.to_string())
                                    .or_default()
                                    .insert(span.clone(), id);
                            }
                            h.spans
                                .entry(switch.to_string())
                                .or_default()
                                .resync(id, alarmed)
                        };
                        if let Some(c) = change {
                            self.span_changed(switch, &id.to_string(), &span, c).await;
                        }
                    }
                    // no mod_freetdm there (a SIP-only box): nothing can alarm
                    None => {
                        warn!(switch, span, reply = %body.trim(), "ftdm dump: no span state; taken as in service")
                    }
                },
                Err(e) => {
                    // the link dropped again: the next connect resyncs
                    warn!(switch, span, "ftdm dump failed: {e}");
                    return;
                }
            }
        }
        self.health().resynced.insert(switch.to_string(), connects);
        info!(switch, "trunks resynced: spans re-read after connect");
        self.wake();
    }

    fn wake(&self) {
        for n in self.wake.lock().expect("wake lock").iter() {
            n.notify_one();
        }
    }

    /// Writes every trunk's state to Redis when it changed (and refreshes the time seen).
    async fn publish_all(&self) {
        let now = Utc::now().timestamp();
        for name in self.config.trunk.keys() {
            let state = self.state(name);
            let (since, alarms) = {
                let mut h = self.health();
                let since = match h.published.get(name) {
                    Some((s, at)) if *s == state => *at,
                    _ => now,
                };
                h.published.insert(name.clone(), (state, since));
                let t = &self.config.trunk[name];
                let alarms = t
                    .span_name()
                    .and_then(|s| {
                        let id = h
                            .names
                            .get(&t.switch)
                            .and_then(|n| n.get(&s))
                            .map_or(s.clone(), |id| id.to_string());
                        h.alarms.get(&format!("{}/{id}", t.switch)).cloned()
                    })
                    .unwrap_or_default()
                    .join(",");
                (since, alarms)
            };
            let st = TrunkStatus {
                state,
                since_unix: since,
                alarms: if state == TrunkState::Alarm {
                    alarms
                } else {
                    String::new()
                },
                updated_unix: now,
            };
            if let Err(e) = trunk_state::publish(&self.live, name, &st).await {
                warn!(trunk = %name, "trunk state not published: {e}");
            }
        }
    }
}

/// What the health task hears from a link's watcher.
enum Input {
    Status(String),
    Alarm(String, AlarmEvent),
}

async fn follow_link(
    link: SwitchLink,
    tx: tokio::sync::mpsc::Sender<Input>,
    mut shutdown: watch::Receiver<bool>,
) {
    let name = link.name().to_string();
    let mut status = link.watch_status();
    let mut alarms = link.span_alarms();
    // the state now, before the first change
    let _ = tx.send(Input::Status(name.clone())).await;
    loop {
        tokio::select! {
            r = status.changed() => {
                if r.is_err() || tx.send(Input::Status(name.clone())).await.is_err() {
                    return;
                }
            }
            r = alarms.recv() => match r {
                Ok(ev) => {
                    if tx.send(Input::Alarm(name.clone(), ev)).await.is_err() {
                        return;
                    }
                }
                // events lost in between: read the spans again
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let _ = tx.send(Input::Status(name.clone())).await;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = shutdown.changed() => if *shutdown.borrow() { return },
        }
    }
}
