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
//!
//! Faults ([`rebuild`] has the details): a dead instance's callers and offers are taken
//! over as soon as it is known dead (no `alive` mark, or an earlier process of this same
//! instance); callers keep their music and their place while Redis is unreachable (their
//! tasks retry, an arrival is queued once it is back); a Redis that lost its data is
//! rebuilt (operators from PostgreSQL and the switch, callers from the tasks that drive
//! them and the switch's channel list) before anyone is routed again.

mod caller;
pub mod card;
mod channels;
pub mod hangup;
mod offer;
mod rebuild;
pub mod types;
pub mod webhook;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::clock::Clock;
use crate::config::Config;
use crate::core::acd::agent::{next, wrap_up_ends, StateName};
use crate::core::acd::names::check_endpoint;
use crate::core::acd::queue::CallKind;
use crate::core::acd::routing::Need;
use crate::esl::control::SwitchLink;
use crate::store::acd::AcdStore;
use crate::store::acd_calls::AcdCalls;
use crate::store::operators::Operators;
pub use types::*;

/// How long a caller's lease lasts without renewal. A caller whose instance is known dead
/// (see [`ALIVE_MS`]) is taken over before that.
const LEASE_MS: u64 = 6_000;
/// A caller nobody holds yet is adopted by another instance only this long after it entered
/// the ACD, so the (live) instance that admitted it has time to take its lease.
const ADOPT_AFTER_MS: i64 = 10_000;
/// How long the IVR's hand-over waits for Redis before the caller is taken without it.
const ADMIT_WAIT: Duration = Duration::from_millis(300);
/// Each instance renews its `alive` mark every second; one without a mark for this long is
/// dead, and its callers and offers are taken over.
const ALIVE_MS: u64 = 3_000;
/// The dialplan context callers wait in (`dialplans/contactd-acd.xml`).
pub const CONTEXT: &str = "contactd-acd";
/// Its extension that plays `${contactd_moh}` and parks: where a caller goes when contactd
/// moves it out of a bridge.
pub const HOLD_EXTENSION: &str = "acd-hold";
/// How long a stop waits for the call tasks to let their callers go.
const STOP_WAIT: Duration = Duration::from_secs(3);
/// The scanner's beat: this instance's alive mark (it lapses after [`ALIVE_MS`]) and the
/// checks of what other instances or the switch may have left.
const BEAT: Duration = Duration::from_secs(1);
/// How soon routing is tried again after Redis failed a reservation.
const DISPATCH_RETRY: Duration = Duration::from_millis(250);
/// How soon the subscription to other instances' kicks is made again after it failed.
const KICKS_RETRY: Duration = Duration::from_secs(1);
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
    /// Waiting, being offered a callback instead, a callback being dialed, or a consult item.
    #[serde(default)]
    pub kind: CallKind,
    /// For a callback being dialed: its id.
    #[serde(default)]
    pub callback: Option<i64>,
    /// For an attended transfer's consult item: the call, its first operator and their leg.
    #[serde(default)]
    pub consult: Option<(String, String, String)>,
    /// The instance that admitted the caller (takes its lease right after the transfer).
    #[serde(default)]
    pub by: Option<String>,
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

/// A write the call survives without, which must still not vanish unnoticed: its failure is
/// logged with the call (or instance) and what was not stored.
pub(crate) trait Unstored {
    fn or_log(self, call: impl std::fmt::Display, what: &str);
}

impl<T, E: std::fmt::Display> Unstored for Result<T, E> {
    fn or_log(self, call: impl std::fmt::Display, what: &str) {
        if let Err(e) = self {
            warn!(%call, "acd: not stored: {what}: {e}");
        }
    }
}

/// A time the live state keeps in milliseconds (always in range: it was made from a time).
fn ms_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// What a caller's task knows of its call, kept so that the call can be put back if Redis
/// loses it ([`rebuild`]).
#[derive(Debug, Clone)]
pub(crate) struct CallerSnap {
    pub meta: Meta,
    /// The queue it entered (until `info` is read).
    pub queue: Option<String>,
    /// Queue, priority, arrival number and time, as last read from Redis (or admitted with).
    pub info: Option<crate::store::acd::CallInfo>,
    /// Talking: the operator and their leg (from the bridge the caller is in).
    pub talk: Option<(String, String)>,
}

/// An offer this instance is ringing or bridging now.
#[derive(Debug, Clone)]
pub(crate) struct LocalOffer {
    pub r: crate::store::acd::Reservation,
    pub leg: String,
    pub answered: bool,
    pub at_ms: i64,
    /// Which task carries it (a later offer of the same call has another).
    pub token: u64,
}

/// A caller admitted while Redis was unreachable: queued by its task once Redis is back.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub meta: Meta,
    pub queue: String,
    pub priority: u8,
}

struct Inner {
    config: Arc<Config>,
    link: SwitchLink,
    node: String,
    store: AcdStore,
    records: AcdCalls,
    /// The callers' `calls` rows: who ended each call (`hungup_by`).
    calls: crate::store::postgres::Calls,
    operators: Operators,
    instance: String,
    /// `<daemon.instance>:`: a lease holder named so, other than [`Inner::instance`], is an
    /// earlier process of this instance, dead (one process per instance name, as the write
    /// spool already requires).
    incarnation_of: String,
    kick: Notify,
    /// Tells the other instances to route too (published by one task, coalesced).
    announce: Notify,
    /// An operator of this instance began after-call work: the scanner learns when it ends.
    wrap_started: Notify,
    /// The live state in Redis is complete (its mark is there): routing may go on.
    trusted: AtomicBool,
    /// The epoch of the mark last seen: a new one means another instance rebuilt the state.
    epoch: Mutex<Option<String>>,
    /// Callers this instance drives, as their tasks know them.
    callers: Mutex<HashMap<String, CallerSnap>>,
    /// Offers this instance is working on.
    offers: Mutex<HashMap<String, LocalOffer>>,
    /// Callers admitted while Redis was away.
    pending: Mutex<HashMap<String, Pending>>,
    /// What `admit` stored for a caller, until `take_over` starts driving it (which then
    /// needs no Redis read).
    admitted: Mutex<HashMap<String, (Meta, tokio::time::Instant)>>,
    pops: Mutex<HashMap<String, broadcast::Sender<Arc<ScreenPop>>>>,
    /// Callers this instance drives now.
    owned: Mutex<HashSet<String>>,
    /// Their tasks (and offers'), waited for when contactd stops.
    tasks: TaskTracker,
    /// Cancelled when contactd stops: callers' tasks let their callers go, offers' tasks
    /// stop where they stand (another instance carries them on).
    stop: CancellationToken,
    ids: Mutex<HashMap<String, i64>>,
    /// Average handle time per queue and when it was read.
    aht: Mutex<HashMap<String, (tokio::time::Instant, Duration)>>,
    webhook: Option<webhook::Webhook>,
    /// The only clock the ACD reads (tests hand in one on tokio's paused time).
    clock: Clock,
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

/// What the ACD is built from (by `app`, the demo and tests).
pub struct AcdParts {
    pub config: Arc<Config>,
    /// The switch the ACD drives.
    pub link: SwitchLink,
    /// The switch's name in records.
    pub node: String,
    pub store: AcdStore,
    pub pool: Pool,
    /// For dialing callbacks' customers on a trunk (line leases, call rows); none: callbacks
    /// are not dialed.
    pub dialing: Option<(
        crate::store::postgres::Calls,
        crate::store::redis::LiveState,
    )>,
    /// Record writes go through the write spool when given, straight to PostgreSQL if not.
    pub journal: Option<crate::store::journal::Journal>,
    /// The only clock the ACD reads.
    pub clock: Clock,
}

impl Acd {
    pub fn new(parts: AcdParts) -> Self {
        let AcdParts {
            config,
            link,
            node,
            store,
            pool,
            dialing,
            journal,
            clock,
        } = parts;
        let instance = format!(
            "{}:{}:{}",
            config.daemon.instance,
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let webhook = webhook::Webhook::new(&config.acd.webhook_url);
        let operators = match &journal {
            Some(j) => Operators::with_journal(j.clone()),
            None => Operators::new(pool.clone()),
        };
        let calls = match &journal {
            Some(j) => crate::store::postgres::Calls::with_journal(j.clone()),
            None => crate::store::postgres::Calls::new(pool.clone()),
        };
        Self {
            inner: Arc::new(Inner {
                link,
                node,
                store,
                records: journal
                    .map_or_else(|| AcdCalls::new(pool.clone()), AcdCalls::with_journal),
                calls,
                operators,
                incarnation_of: format!("{}:", config.daemon.instance),
                instance,
                kick: Notify::new(),
                announce: Notify::new(),
                wrap_started: Notify::new(),
                trusted: AtomicBool::new(false),
                epoch: Mutex::new(None),
                callers: Mutex::new(HashMap::new()),
                offers: Mutex::new(HashMap::new()),
                pending: Mutex::new(HashMap::new()),
                admitted: Mutex::new(HashMap::new()),
                pops: Mutex::new(HashMap::new()),
                owned: Mutex::new(HashSet::new()),
                tasks: TaskTracker::new(),
                stop: CancellationToken::new(),
                ids: Mutex::new(HashMap::new()),
                aht: Mutex::new(HashMap::new()),
                webhook,
                dialing,
                config,
                clock,
            }),
        }
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Wall-clock now in milliseconds, as the live state keeps times.
    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now().timestamp_millis()
    }

    pub fn link(&self) -> &SwitchLink {
        &self.inner.link
    }

    /// The operator whose phone is `phone` (`1001` calling from `user/1001`, `op201` from
    /// `loopback/op201/test_operators`).
    pub async fn operator_by_phone(&self, phone: &str) -> Option<String> {
        if phone.is_empty() {
            return None;
        }
        let ops = self.inner.operators.list().await.ok()?;
        ops.into_iter()
            .find(|o| crate::core::dialstring::phone_of(&o.endpoint) == Some(phone))
            .map(|o| o.login)
    }

    pub fn pool(&self) -> &Pool {
        self.inner.records.pool()
    }

    fn cfg(&self) -> &crate::config::AcdConfig {
        &self.inner.config.acd
    }

    pub(crate) fn prompt(&self, name: &str) -> String {
        self.inner.config.prompts.path(name)
    }

    /// Records who ended a caller's call (`calls.hungup_by`); see [`hangup`].
    pub(crate) async fn record_hungup_by(&self, call: &str, by: hangup::EndedBy) {
        let Ok(u) = uuid::Uuid::parse_str(call) else {
            return;
        };
        if let Err(e) = self.inner.calls.set_hungup_by(u, by.as_str()).await {
            warn!(%call, hungup_by = by.as_str(), "acd: cannot record who ended the call: {e}");
        }
    }

    /// Wakes the dispatcher at once (an operator became ready, a caller arrived), this
    /// instance's and, through Redis, the others'.
    pub fn kick(&self) {
        self.inner.kick.notify_one();
        self.inner.announce.notify_one();
    }

    /// Publishes this instance's kicks to the others, one at a time: kicks made while one
    /// is on its way are sent as one. Ends at stop.
    async fn announce_loop(self) {
        loop {
            tokio::select! {
                () = self.inner.announce.notified() => {}
                () = self.inner.stop.cancelled() => return,
            }
            if let Err(e) = self.inner.store.publish_kick(&self.inner.instance).await {
                // Redis away: nothing routes meanwhile anyway; the others look again when
                // their subscription comes back.
                debug!("acd: kick not published: {e}");
            }
        }
    }

    /// Routes when another instance (or the command line) says it made routing possible.
    /// The subscription is made again when its connection drops (said once per outage),
    /// and each time it is (re)made the dispatcher runs once: a kick sent meanwhile was
    /// not received.
    async fn kicks_loop(self) {
        let mut said_down = false;
        loop {
            match self.inner.store.kicks().await {
                Ok(kicks) => {
                    if std::mem::take(&mut said_down) {
                        info!("acd: other instances' routing notices received again");
                    }
                    self.inner.kick.notify_one();
                    let mut kicks = std::pin::pin!(kicks);
                    loop {
                        tokio::select! {
                            k = futures_util::StreamExt::next(&mut kicks) => match k {
                                Some(from) if from != self.inner.instance => {
                                    self.inner.kick.notify_one();
                                }
                                Some(_) => {}
                                None => break,
                            },
                            () = self.inner.stop.cancelled() => return,
                        }
                    }
                }
                Err(e) if !said_down => {
                    warn!("acd: cannot subscribe to other instances' routing notices: {e}");
                    said_down = true;
                }
                Err(e) => debug!("acd: subscribing to routing notices: {e}"),
            }
            tokio::select! {
                () = tokio::time::sleep(KICKS_RETRY) => {}
                () = self.inner.stop.cancelled() => return,
            }
        }
    }

    /// Runs the dispatcher and the scanner until `shutdown`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        self.inner
            .store
            .set_alive(&self.inner.instance, ALIVE_MS)
            .await
            .or_log(
                &self.inner.instance,
                "this instance's alive mark (renewed every second)",
            );
        if let Err(e) = self.sync_all().await {
            warn!("acd: cannot load operators into Redis: {e}");
        }
        rebuild::check(&self).await;
        let scanner = tokio::spawn(self.clone().scan_loop());
        let announcer = tokio::spawn(self.clone().announce_loop());
        let listener = tokio::spawn(self.clone().kicks_loop());
        let mut link = self.inner.link.watch_status();
        // Set when a reservation failed (Redis away): try again then, not only on a kick.
        let mut retry_at: Option<tokio::time::Instant> = None;
        loop {
            let retry = async {
                match retry_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            // Routing runs when something makes it possible: a kick (this instance's own
            // arrivals and ready operators, the other instances' and the command line's
            // through Redis, the scanner's after-call work and adoptions), the switch link
            // back, or a retry.
            tokio::select! {
                _ = self.inner.kick.notified() => {}
                Ok(()) = link.changed() => {}
                () = retry => {}
                _ = shutdown.changed() => if *shutdown.borrow() { break },
            }
            retry_at = None;
            if self.inner.link.status() != crate::esl::control::LinkStatus::Connected {
                continue;
            }
            // Not while Redis lost the live state and it is being rebuilt: who is ready and
            // who waits first is not known yet (the rebuild kicks when it is done).
            if !self.inner.trusted.load(Ordering::SeqCst) {
                continue;
            }
            if !self.dispatch().await {
                retry_at = Some(self.inner.clock.instant() + DISPATCH_RETRY);
            }
        }
        self.stop_tasks().await;
        for (what, task) in [
            ("scanner", scanner),
            ("announcer", announcer),
            ("kicks", listener),
        ] {
            if let Err(e) = task.await {
                warn!("acd: {what}: {e}");
            }
        }
    }

    /// contactd is stopping: the callers stay parked on the switch with their music; their
    /// leases are given back (and this instance's mark removed) so the next instance (or
    /// this one restarted) adopts them, and takes over the offers, at once.
    async fn stop_tasks(&self) {
        self.inner.stop.cancel();
        self.inner.tasks.close();
        if tokio::time::timeout(STOP_WAIT, self.inner.tasks.wait())
            .await
            .is_err()
        {
            // Busy in a long step (a callback offer's prompts, a Redis retry): their callers'
            // leases are given back below all the same, and the runtime ends the tasks.
            warn!(
                tasks = self.inner.tasks.len(),
                "acd: call tasks still busy at stop"
            );
        }
        let owned: Vec<String> = self.inner.owned.lock().expect("owned").drain().collect();
        for call in owned {
            self.inner.store.release_claim(&call).await.or_log(
                &call,
                "release of the lease at stop (taken over when it expires)",
            );
        }
        self.inner
            .store
            .set_alive(&self.inner.instance, 1)
            .await
            .or_log(
                &self.inner.instance,
                "removal of the alive mark at stop (lapses by itself)",
            );
    }

    /// Runs an offer's task, tracked, until it ends or contactd stops: then it stops at its
    /// next await, its offer left as it stands for another instance (or this one restarted)
    /// to carry on, as after a crash.
    fn spawn_offer(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let stop = self.inner.stop.clone();
        self.inner.tasks.spawn(async move {
            tokio::select! {
                () = task => {}
                () = stop.cancelled() => {}
            }
        });
    }

    /// Offers every call that has a qualified ready operator. False if Redis failed a
    /// reservation (some may be left to offer).
    async fn dispatch(&self) -> bool {
        let mut done = true;
        for (name, q) in &self.cfg().queue {
            loop {
                match self
                    .inner
                    .store
                    .reserve_by(name, need(q), self.now_ms(), &self.inner.instance)
                    .await
                {
                    Ok(Some(r)) => {
                        debug!(call = %r.call, operator = %r.agent, queue = %name, "offer");
                        self.spawn_offer(offer::run(self.clone(), name.clone(), r));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        warn!(queue = %name, "acd: reserve: {e}");
                        done = false;
                        break;
                    }
                }
            }
        }
        done
    }

    /// Every second: this instance's alive mark (a heartbeat other instances read), then
    /// the checks that need another instance's or the switch's state. Ends at stop.
    async fn scan_loop(self) {
        let clock = self.inner.clock.clone();
        let mut beat = clock.instant();
        // The next operator's after-call work to end, when known: woken then, not at the
        // next beat (an operator is ready again on time).
        let mut wrap_up: Option<tokio::time::Instant> = None;
        let mut n: u64 = 0;
        loop {
            let until = wrap_up.map_or(beat, |w| w.min(beat));
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                () = self.inner.wrap_started.notified() => {}
                () = self.inner.stop.cancelled() => return,
            }
            if clock.instant() < beat {
                let connected =
                    self.inner.link.status() == crate::esl::control::LinkStatus::Connected;
                wrap_up = if connected && self.inner.trusted.load(Ordering::SeqCst) {
                    self.wrap_ups_due().await
                } else {
                    None // looked at again at the beat
                };
                continue;
            }
            beat = clock.instant() + BEAT;
            n += 1;
            if let Err(e) = self
                .inner
                .store
                .set_alive(&self.inner.instance, ALIVE_MS)
                .await
            {
                debug!("acd: alive mark: {e}");
            }
            if self.inner.link.status() != crate::esl::control::LinkStatus::Connected {
                continue;
            }
            rebuild::check(&self).await;
            if !self.inner.trusted.load(Ordering::SeqCst) {
                continue;
            }
            wrap_up = self.wrap_ups_due().await;
            if let Err(e) = self.adopt().await {
                warn!("acd: adopting callers: {e}");
            }
            if n % 2 == 0 {
                if let Err(e) = rebuild::heal(&self).await {
                    warn!("acd: checking offers and talks: {e}");
                }
            }
            if let Err(e) = self.dial_callbacks().await {
                warn!("acd: callbacks: {e}");
            }
        }
    }

    /// Ends the after-call work that is over; the instant the next one is.
    async fn wrap_ups_due(&self) -> Option<tokio::time::Instant> {
        match self.end_wrap_ups().await {
            Ok(next) => next.map(|ms| {
                let wait = Duration::from_millis((ms - self.now_ms()).max(0) as u64);
                self.inner.clock.instant() + wait
            }),
            Err(e) => {
                warn!("acd: after-call work: {e}");
                None
            }
        }
    }

    /// Whether `other` (an instance name as leases and offers carry it) is gone: an earlier
    /// process of this instance, or one whose `alive` mark lapsed.
    async fn gone(&self, other: &str) -> Result<bool, AcdError> {
        if other == self.inner.instance {
            return Ok(false);
        }
        if other.starts_with(&self.inner.incarnation_of) {
            return Ok(true);
        }
        Ok(!self.inner.store.is_alive(other).await?)
    }

    /// Operators whose after-call work is over become ready (idle from now). Returns when
    /// the next one known is over (ms), for the scanner to wake then.
    async fn end_wrap_ups(&self) -> Result<Option<i64>, AcdError> {
        let wrap = Duration::from_secs(self.cfg().wrap_up_seconds);
        let now = self.now_ms();
        let mut next = None;
        for (agent, info) in self.inner.store.agents().await? {
            if info.state != StateName::WrapUp {
                continue;
            }
            let ends = wrap_up_ends(info.at_ms, wrap);
            if ends > now {
                next = Some(next.map_or(ends, |n: i64| n.min(ends)));
                continue;
            }
            if self
                .inner
                .store
                .wrap_up_done(&agent, info.at_ms, now)
                .await?
            {
                self.kick();
                self.record_wrap_up(&info, now).await;
                self.log_state(&agent, StateName::Ready, "", ms_to_time(now))
                    .await;
            }
        }
        Ok(next)
    }

    /// The after-call work of the call the operator just finished lasted until `now`.
    async fn record_wrap_up(&self, info: &crate::store::acd::AgentInfo, now: i64) {
        if info.state != StateName::WrapUp {
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

    /// Takes over callers nobody drives (their instance stopped or died) that are still on
    /// the switch.
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
            if meta.kind == CallKind::CallbackDial {
                continue; // driven by its offer; a stale one is reset by the scanner
            }
            let age_ms = self.now_ms() - meta.entered_ms;
            if meta.kind == CallKind::Callback {
                // Driven by the instance that took the call until it ends; one left behind
                // by an instance that died in the middle of the offer is only cleared.
                if age_ms > 600_000 {
                    self.inner.store.del_meta(&call).await?;
                }
                continue;
            }
            let dead = match self.inner.store.owner(&call).await? {
                // a lease of ours with no task (one that ended without giving it back)
                Some(o) if o == self.inner.instance => o,
                Some(o) => {
                    if !self.gone(&o).await? {
                        continue;
                    }
                    o
                }
                None => {
                    // Nobody holds it: just admitted (its instance claims it in a moment),
                    // or its holder stopped and gave it back.
                    let by = meta.by.clone().unwrap_or_default();
                    if age_ms < ADOPT_AFTER_MS
                        && (by.is_empty() || by == self.inner.instance || !self.gone(&by).await?)
                    {
                        continue;
                    }
                    String::new()
                }
            };
            if !self
                .inner
                .store
                .claim_from(&call, &self.inner.instance, &dead, LEASE_MS)
                .await?
            {
                continue;
            }
            let exists = self.inner.link.exists(&call).await;
            match exists {
                Ok(true) => {
                    info!(%call, from = %dead, "acd: caller adopted");
                    self.spawn_caller(call, meta, caller::Start::Adopted);
                }
                Ok(false) => {
                    info!(%call, "acd: caller gone while nobody watched");
                    caller::gone_unseen(self, &call).await;
                }
                Err(e) => {
                    self.inner.store.release_claim(&call).await.or_log(
                        &call,
                        "release of the lease taken for adoption (expires by itself)",
                    );
                    return Err(AcdError::Switch(e.to_string()));
                }
            }
        }
        Ok(())
    }

    fn spawn_caller(&self, call: String, meta: Meta, start: caller::Start) {
        self.inner.owned.lock().expect("owned").insert(call.clone());
        self.inner.callers.lock().expect("callers").insert(
            call.clone(),
            CallerSnap {
                meta: meta.clone(),
                queue: None,
                info: None,
                talk: None,
            },
        );
        // Not cut off at stop: the task sees `stop` and lets its caller go itself.
        self.inner
            .tasks
            .spawn(caller::run(self.clone(), call, meta, start));
    }

    pub(crate) fn disown(&self, call: &str) {
        self.inner.owned.lock().expect("owned").remove(call);
        self.inner.callers.lock().expect("callers").remove(call);
        self.inner
            .pending
            .lock()
            .expect("pending callers lock")
            .remove(call);
    }

    /// Updates what this instance remembers of a caller it drives.
    pub(crate) fn note_caller(&self, call: &str, f: impl FnOnce(&mut CallerSnap)) {
        if let Some(s) = self.inner.callers.lock().expect("callers").get_mut(call) {
            f(s);
        }
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
        let admitted = self.enter(call, queue, caller, ivr).await;
        if admitted.is_err() {
            // The IVR then says the operators are busy and hangs up: contactd ends it.
            self.record_hungup_by(call, hangup::EndedBy::Contactd).await;
        }
        admitted
    }

    async fn enter(
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
        let now = self.now_ms();
        let account = ivr.get("contactd_account").cloned();
        let meta = Meta {
            caller: caller.map(str::to_string),
            account: account.clone(),
            ivr,
            node: self.inner.node.clone(),
            entered_ms: now,
            kind: CallKind::Waiting,
            callback: None,
            consult: None,
            by: Some(self.inner.instance.clone()),
        };
        // The record and the meta first: a reservation may come the moment it is queued.
        let json = serde_json::to_string(&meta).expect("meta json");
        let queued = async {
            self.inner.store.set_meta(call, &json).await?;
            self.inner
                .store
                .enqueue(queue, call, q.priority, q.max_waiting, now)
                .await
        };
        // The caller hears nothing while this waits: a Redis that does not answer at once is
        // treated as away (a late write is harmless: queueing again changes nothing).
        let queued = match tokio::time::timeout(ADMIT_WAIT, queued).await {
            Ok(r) => r,
            Err(_) => Err(crate::store::StoreError::Unavailable(
                "Redis did not answer in time".into(),
            )),
        };
        let admitted = match queued {
            Ok(a) => a,
            Err(e) => {
                // Redis is unreachable: the caller is taken anyway and waits with music; its
                // task queues it (in arrival order among those after it) once Redis is back.
                warn!(%call, queue, "acd: Redis unavailable, the caller waits to be queued: {e}");
                self.inner
                    .pending
                    .lock()
                    .expect("pending callers lock")
                    .insert(
                        call.to_string(),
                        Pending {
                            meta: meta.clone(),
                            queue: queue.to_string(),
                            priority: q.priority,
                        },
                    );
                crate::store::acd::Enqueued::Waiting {
                    position: 0,
                    seq: 0,
                }
            }
        };
        if matches!(admitted, crate::store::acd::Enqueued::Waiting { .. }) {
            let mut admitted = self.inner.admitted.lock().expect("admitted");
            // a caller who never reached the park (hung up in the transfer) is not kept
            let at = self.inner.clock.instant();
            admitted.retain(|_, (_, t)| at.duration_since(*t) < Duration::from_secs(60));
            admitted.insert(call.to_string(), (meta.clone(), at));
        }
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
                    kind: CallKind::Callback,
                    ..meta
                };
                let json = serde_json::to_string(&meta).expect("meta json");
                self.inner.store.set_meta(call, &json).await?;
                Ok(Admission::Full)
            }
        }
    }

    /// Starts driving a caller parked by the `contactd-acd` dialplan after [`Acd::admit`].
    /// A caller admitted while Redis was away is driven from what this instance remembers;
    /// the lease and the park flag follow once Redis answers.
    pub async fn take_over(&self, call: &str, queue: &str) -> Result<(), AcdError> {
        let local = self
            .inner
            .admitted
            .lock()
            .expect("admitted")
            .remove(call)
            .map(|(m, _)| m);
        let pending = self
            .inner
            .pending
            .lock()
            .expect("pending callers lock")
            .get(call)
            .map(|p| p.meta.clone());
        let meta = match local.or(pending) {
            Some(m) => m,
            None => self
                .inner
                .store
                .meta(call)
                .await?
                .and_then(|m| serde_json::from_str::<Meta>(&m).ok())
                .ok_or_else(|| AcdError::NotFound(format!("caller {call}")))?,
        };
        let start = if meta.kind == CallKind::Callback {
            caller::Start::CallbackOffer {
                queue: queue.to_string(),
                full: true,
            }
        } else {
            self.kick();
            caller::Start::Fresh
        };
        // The music first; the lease and the park flag are Redis's (and renewed by the task).
        self.spawn_caller(call.to_string(), meta, start);
        self.note_caller(call, |s| s.queue = Some(queue.to_string()));
        if let Err(e) = self
            .inner
            .store
            .claim(call, &self.inner.instance, LEASE_MS)
            .await
        {
            debug!(%call, "acd: lease not taken yet: {e}");
        }
        if let Err(e) = self.inner.store.set_parked(call).await {
            debug!(%call, "acd: park flag not set: {e}");
        }
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
        if let Err(problem) = check_endpoint(&op.endpoint) {
            return Err(AcdError::Invalid(format!(
                "operator {login}: endpoint {:?}: {problem}",
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
        // New skills may qualify them for a caller who waits.
        self.kick();
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
        state: StateName,
        reason: &str,
        at: DateTime<Utc>,
    ) {
        let state = state.key();
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
        let store = &self.inner.store;
        // Kept trying while Redis is away: the operator would stay "talking" for ever. A
        // try that timed out (Redis frozen) may have been applied when Redis woke up: then
        // the operator is found in this call's after-call work.
        let first = store.finish(call, agent, now).await;
        let done = match first {
            Ok(done) => done,
            Err(_) => {
                let again = caller::persist!("end of talk", call, store.finish(call, agent, now));
                match again {
                    Some(true) => true,
                    Some(false) => store
                        .agent_info(agent)
                        .await
                        .ok()
                        .flatten()
                        .is_some_and(|i| {
                            i.state == StateName::WrapUp
                                && i.call.as_deref() == Some(call)
                                && i.at_ms == now
                        }),
                    None => false,
                }
            }
        };
        if !done {
            return false;
        }
        // The scanner wakes when this after-call work is over.
        self.inner.wrap_started.notify_one();
        self.log_state(agent, StateName::WrapUp, "", ms_to_time(now))
            .await;
        true
    }

    /// An operator's own change of state (feature code or API), as the core's table allows
    /// it from their live state. Returns the new state's key. Asking for ready while ready
    /// changes nothing and is not an error (a second press of the feature code).
    pub async fn command(&self, login: &str, cmd: OperatorCommand) -> Result<StateName, AcdError> {
        if self.inner.operators.get(login).await?.is_none() {
            return Err(AcdError::NotFound(format!("operator {login}")));
        }
        let (command, reason) = cmd.command();
        if matches!(cmd, OperatorCommand::Login) {
            self.sync_operator(login).await?;
        }
        let store = &self.inner.store;
        let current = store.agent_info(login).await?;
        let from = current.as_ref().map_or(StateName::LoggedOut, |c| c.state);
        if from == StateName::Ready
            && matches!(cmd, OperatorCommand::Login | OperatorCommand::Ready)
        {
            return Ok(StateName::Ready);
        }
        let refused = |from: StateName| {
            let why = next(from, command.input())
                .err()
                .map_or_else(|| "it changed meanwhile".to_string(), |e| e.to_string());
            if from.on_call() {
                AcdError::Conflict(format!(
                    "operator {login} is {from} a call: change the state after it"
                ))
            } else {
                AcdError::Conflict(format!("operator {login}: {why}"))
            }
        };
        let to = next(from, command.input()).map_err(|_| refused(from))?;
        let now = self.now_ms();
        if !store.agent_command(login, command, now).await? {
            return Err(refused(from));
        }
        // Routing goes first: the records below are PostgreSQL writes (kept in order by
        // their time, whenever they land) and a caller must not wait for them.
        if to == StateName::Ready {
            self.kick();
        }
        if let (StateName::Ready, Some(c)) = (to, &current) {
            // Back before the after-call work's time was up.
            self.record_wrap_up(c, now).await;
        }
        self.log_state(login, to, reason, ms_to_time(now)).await;
        info!(operator = login, state = to.key(), reason, "operator state");
        Ok(to)
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
            .is_some_and(|i| i.state == StateName::Talking && i.call.as_deref() == Some(call));
        if !talking {
            return Err(AcdError::Conflict(format!(
                "call {call} is not talking with an operator yet"
            )));
        }
        let leg = store
            .leg(call)
            .await?
            .ok_or_else(|| AcdError::NotFound(format!("operator leg of call {call}")))?;
        // From now on the end of the caller's bridge is a move, not the end of the call: the
        // switch itself puts the caller on hold (music) when it comes, even if contactd is
        // not there to see it.
        self.arm_hold(call).await?;
        match mode {
            TransferMode::Blind => {
                store.set_transfer(call, to_queue).await?;
                // The caller's owner sees the bridge end and moves it (see `caller`).
                self.inner
                    .link
                    .hangup(&leg, freeswitch_types::HangupCause::NormalClearing)
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

    /// When the caller's current bridge ends, the switch sends it to `acd-hold` (music,
    /// then park) instead of hanging it up (`dialplans/contactd-acd.xml`).
    pub(crate) async fn arm_hold(&self, call: &str) -> Result<(), AcdError> {
        let hold = format!("{HOLD_EXTENSION}:XML:{CONTEXT}");
        for (k, v) in [
            ("contactd_moh", self.cfg().music_on_hold.as_str()),
            ("transfer_after_bridge", hold.as_str()),
        ] {
            let r = self
                .inner
                .link
                .setvar(call, k, v)
                .await
                .map_err(|e| AcdError::Switch(e.to_string()))?;
            if !r.starts_with("+OK") {
                return Err(AcdError::Switch(format!("uuid_setvar {k}: {}", r.trim())));
            }
        }
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
            let ready = count_operators(&agents, &skills, need(q), |s| s == StateName::Ready);
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
                state: info
                    .map_or(StateName::LoggedOut, |i| i.state)
                    .key()
                    .to_string(),
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
        // The operators routing would offer this queue's calls to, at work now.
        let staffed = match (
            self.cfg().queue.get(queue),
            self.inner.store.agents().await,
            self.inner.store.skills().await,
        ) {
            (Some(q), Ok(a), Ok(s)) => count_operators(&a, &s, need(q), StateName::staffed),
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
            if self.inner.clock.since(*at) < fresh {
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
            .insert(queue.to_string(), (self.inner.clock.instant(), aht));
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
            let ready = count_operators(&agents, &skills, need(q), |s| s == StateName::Ready);
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

/// Who takes a configured queue's calls.
fn need(q: &crate::config::AcdQueueConfig) -> Need<'_> {
    Need {
        skill: &q.group,
        min_level: q.min_level,
    }
}

/// How many operators, by one read of the live states and skills, meet `need` (the rule
/// `reserve` applies) and are in a state `in_state` accepts.
fn count_operators(
    agents: &[(String, crate::store::acd::AgentInfo)],
    skills: &[(String, String, u8)],
    need: Need<'_>,
    in_state: impl Fn(StateName) -> bool,
) -> usize {
    agents
        .iter()
        .filter(|(a, i)| {
            in_state(i.state)
                && skills
                    .iter()
                    .any(|(sa, g, l)| sa == a && need.met_by(g, *l))
        })
        .count()
}
