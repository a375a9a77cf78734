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

mod admission;
mod bridging;
mod callback;
mod caller;
mod campaign_call;
pub mod campaign_card;
pub mod card;
mod channels;
mod consult;
mod dispatcher;
pub mod hangup;
mod kicks;
mod offer;
mod operators;
mod orphans;
mod rebuild;
mod scanner;
mod transfer;
pub mod types;
mod views;
pub mod webhook;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

use crate::clock::Clock;
use crate::config::Config;
use crate::core::acd::queue::CallKind;
use crate::esl::control::SwitchLink;
use crate::store::acd::AcdStore;
use crate::store::acd_calls::AcdCalls;
use crate::store::operators::Operators;
pub use campaign_call::{message_begun, QueueFloor};
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

/// `transfer_after_bridge`'s value that sends a leg to [`HOLD_EXTENSION`].
pub(crate) fn hold_extension() -> String {
    format!("{HOLD_EXTENSION}:XML:{CONTEXT}")
}

/// A call's transfer flag while its attended transfer's consult runs (`consulting:<queue>`):
/// the consult moves the caller, not the caller's own task.
pub(crate) const CONSULTING: &str = "consulting:";

/// The switch's own music for a caller handed to the ACD, scheduled (`sched_broadcast`,
/// whole seconds: it plays 1–2.5 s later) before the transfer: the park is silent, and
/// should this instance die before it takes the caller, nobody else would start the music
/// until the caller is adopted. Taking the caller cancels it ([`Acd::take_over`]).
pub const FALLBACK_MUSIC_AFTER_S: u32 = 2;
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
    /// An operator campaign's answered call: the campaign, the contact, the script.
    #[serde(default)]
    pub campaign: Option<campaign_card::CampaignCard>,
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

/// A caller admitted by [`Acd::admit`], until [`Acd::take_over`]: what it was admitted
/// with, when, and its place in the queue as the enqueue gave it (so that a rebuild before
/// the caller's task first reads it still puts it back in its place).
pub(crate) struct Admitted {
    meta: Meta,
    at: tokio::time::Instant,
    info: Option<crate::store::acd::CallInfo>,
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
    /// needs no Redis read): see [`Admitted`].
    admitted: Mutex<HashMap<String, Admitted>>,
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

    /// The live state in Redis (the wallboard reads it and follows its changes).
    pub fn store(&self) -> &AcdStore {
        &self.inner.store
    }

    pub fn link(&self) -> &SwitchLink {
        &self.inner.link
    }

    pub fn pool(&self) -> &Pool {
        self.inner.records.pool()
    }

    /// Whether the live state may be acted on: the switch link is up, and Redis holds the
    /// complete state (not while it lost it and it is being rebuilt: who is ready and who
    /// waits first is not known yet; the rebuild kicks when it is done).
    fn routable(&self) -> bool {
        self.inner.link.status() == crate::esl::control::LinkStatus::Connected
            && self.inner.trusted.load(Ordering::SeqCst)
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
}
