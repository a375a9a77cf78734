//! The simulated switch core: the simulated clock (time_scale), the channel
//! registry, the event bus with per-listener bounded queues, connection control
//! (drop/shutdown/crash) and the api log. Trunk occupancy is in `trunk_use`, the
//! ground-truth records' updates in `core_truth`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, watch};

use super::channel::ChanState;
use super::config::{Behaviour, SimConfig};
use super::event::Event;
use super::truth::{AgentOffer, PartyRecord};

/// Lock a std mutex, ignoring poisoning (a panicked task must not wedge the sim).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A channel: state plus a change counter that wakes waiting apps.
pub struct Chan {
    /// state
    pub st: Mutex<ChanState>,
    /// bumped on every change that may interest a waiting app
    pub tick: watch::Sender<u64>,
}

impl Chan {
    /// Wake whoever waits on this channel.
    pub fn bump(&self) {
        self.tick.send_modify(|v| *v = v.wrapping_add(1));
    }
}

impl Chan {
    /// The trunk channel this channel holds, once: (trunk, channel number), None if it
    /// holds none or it was freed already.
    pub fn take_trunk_channel(&self) -> Option<(String, u32)> {
        let mut s = lock(&self.st);
        let n = s.var("sim_trunk_channel")?.parse::<u32>().ok()?;
        let t = s.trunk.clone()?;
        if std::mem::replace(&mut s.trunk_freed, true) {
            return None;
        }
        Some((t, n))
    }
}

/// Trunk occupancy.
#[derive(Debug, Default, Clone)]
pub struct TrunkUse {
    /// channels (1-based) in use
    pub busy: BTreeSet<u32>,
    /// capacity
    pub limit: u32,
    /// peak simultaneous
    pub peak: u32,
    /// round-robin cursor
    pub rr: u32,
    /// FreeTDM span in alarm (`Simulator::span_alarm`): no channel can be hunted
    pub alarm: bool,
    /// calls refused because every channel was busy (not for an alarm): what the switch
    /// answers a caller that asks for more lines than the trunk has
    pub refused_full: u32,
    /// when each of those was refused (simulated ms since the start)
    pub refused_full_at: Vec<u64>,
    /// of those, how many of the busy channels were only clearing then (hung up, not yet
    /// free: `hangup_trunk_channel`)
    pub refused_clearing: Vec<u32>,
    /// busy channels that are clearing, and when each is free (simulated ms)
    pub clearing: BTreeMap<u32, u64>,
}

/// A network drop at one command of contactd's control link: the command is lost on the
/// way (`executed` false), or the switch runs it and the reply is lost (`executed` true).
#[derive(Debug, Clone)]
pub struct DropOn {
    pub pattern: String,
    pub executed: bool,
}

/// Detectors running on channels.
#[derive(Debug, Clone, Default)]
pub struct Detectors {
    /// mod_avmd running (its generation: a stopped one's task fires nothing)
    pub avmd: Option<u64>,
    /// tone detection running: (descriptor, generation)
    pub tones: Option<(String, u64)>,
    /// The next event each running detector will fire (by generation), ms after the answer.
    /// The switch runs the detectors and `wait_for_silence` on the channel's one media
    /// thread, frame by frame, so their events come in frame order; the simulator's tasks
    /// wake in any order on a loaded machine, so `wait_for_silence` waits for these first.
    pub due: std::collections::HashMap<u64, u64>,
}

/// What a listener (ESL connection) is subscribed to.
#[derive(Debug, Default, Clone)]
pub struct Sub {
    /// ALL
    pub all: bool,
    /// event names
    pub names: HashSet<String>,
    /// myevents: only this channel
    pub uuid: Option<String>,
    /// `filter <header> <value>` pairs
    pub filters: Vec<(String, String)>,
    /// CUSTOM subclasses named after CUSTOM (`event plain CUSTOM filestring::fail`)
    pub custom: HashSet<String>,
}

impl Sub {
    fn wants(&self, ev: &Event) -> bool {
        let n = ev.name();
        if !(self.all || self.names.contains(n)) {
            return false;
        }
        // a CUSTOM event reaches ALL, or a listener that named its subclass
        if n == "CUSTOM" && !self.all {
            match ev.get("Event-Subclass") {
                Some(sc) if !self.custom.contains(sc) => return false,
                _ => {}
            }
        }
        if let Some(u) = &self.uuid {
            if ev.chan_uuid.as_deref() != Some(u.as_str()) && ev.get("Unique-ID") != Some(u) {
                return false;
            }
        }
        self.filters.is_empty() || super::filter::passes_filters(&self.filters, ev)
    }
}

/// A registered event listener.
pub struct Listener {
    /// id
    pub id: u64,
    /// queue to the connection
    pub tx: mpsc::Sender<Arc<Event>>,
    /// subscription
    pub sub: Arc<Mutex<Sub>>,
}

/// Control messages broadcast to every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctl {
    /// close abruptly (network drop)
    Drop,
    /// send the shutdown notice and close
    Shutdown,
    /// close at once (crash)
    Crash,
}

/// Mutable core state.
#[derive(Default)]
pub struct CoreSt {
    /// Core-UUID
    pub core_uuid: String,
    /// Event-Sequence
    pub seq: u64,
    /// next session_id
    pub session_id: u64,
    /// live channels by uuid
    pub chans: HashMap<String, Arc<Chan>>,
    /// listeners
    pub listeners: Vec<Listener>,
    /// ground truth by channel uuid (insertion order kept in `truth_order`)
    pub truth: HashMap<String, PartyRecord>,
    /// order of truth keys
    pub truth_order: Vec<String>,
    /// api/bgapi/sendmsg log, each with the real time the command was read off its socket
    pub api_log: Vec<(Instant, String)>,
    /// Per party `#`: time until the next command for that channel arrived (benchmarks).
    pub hash_to_command: Vec<std::time::Duration>,
    /// trunks
    pub trunks: HashMap<String, TrunkUse>,
    /// peak sessions
    pub peak_sessions: u64,
    /// agent phones `user/<ext>` and what they do now (starts as `SimConfig::agents`)
    pub agents: HashMap<String, Behaviour>,
    /// every call offered to each agent phone, in order
    pub offers: HashMap<String, Vec<AgentOffer>>,
    /// legs ringing or up on each agent phone now
    pub agent_live: HashMap<String, u32>,
    /// most legs ringing or up at once on each agent phone
    pub agent_peak: HashMap<String, u32>,
    /// A network drop armed for the next control-link command whose line holds this text
    /// (`Simulator::drop_esl_on_command`).
    pub drop_on: Option<DropOn>,
    /// the core that replaced this one (`Simulator::restart`): ground truth written by this
    /// core's channels after the restart (a playback cut by the crash, ...) goes there
    pub successor: Option<Arc<Core>>,
    /// mod_hash's `db` table (`hash insert/realm/key/value`), in memory like the real one
    pub hash_db: HashMap<String, String>,
    /// mod_db's `db_data` (`db insert/realm/key/value`): in the switch's SQLite core
    /// database, kept across a restart
    pub db_data: HashMap<String, String>,
    /// call progress detectors running, by channel uuid
    pub detectors: HashMap<String, Detectors>,
    /// scheduled tasks not yet run (`scheduler`): id → group
    pub sched: HashMap<u32, String>,
    /// the last task id given
    pub sched_next: u32,
}

/// The switch core.
pub struct Core {
    /// configuration
    pub cfg: SimConfig,
    /// ESL password (changeable)
    pub password: Mutex<String>,
    /// state
    pub st: Mutex<CoreSt>,
    /// when the (simulated) switch started
    pub started: Mutex<Instant>,
    wall_start_us: i64,
    real_start: Instant,
    /// connection control
    pub ctl: broadcast::Sender<Ctl>,
    /// refuse new ESL connections
    pub refusing: AtomicBool,
    /// the switch is down (crashed / shut down, not restarted)
    pub down: AtomicBool,
    /// ids
    pub next_id: AtomicU64,
}

impl Core {
    /// New core.
    pub fn new(cfg: SimConfig) -> Arc<Core> {
        Self::with_clock(cfg, chrono::Utc::now().timestamp_micros(), Instant::now())
    }

    /// A core that replaces `old` after a restart: a fresh switch (Core-UUID, no calls,
    /// uptime from now) on the same simulated clock, so times before and after the restart
    /// (`Event-Date-Timestamp`, the ground truth's `*_ms`) stay comparable.
    pub fn after(cfg: SimConfig, old: &Core) -> Arc<Core> {
        Self::with_clock(cfg, old.wall_start_us, old.real_start)
    }

    fn with_clock(cfg: SimConfig, wall_start_us: i64, real_start: Instant) -> Arc<Core> {
        let (ctl, _) = broadcast::channel(16);
        let mut trunks = HashMap::new();
        for t in &cfg.trunks {
            trunks.insert(
                t.name.clone(),
                TrunkUse {
                    limit: t.channels,
                    ..Default::default()
                },
            );
        }
        let st = CoreSt {
            core_uuid: uuid::Uuid::new_v4().to_string(),
            seq: 400,
            session_id: 1,
            trunks,
            agents: cfg.agents.clone(),
            ..Default::default()
        };
        Arc::new(Core {
            password: Mutex::new(cfg.password.clone()),
            cfg,
            st: Mutex::new(st),
            started: Mutex::new(Instant::now()),
            wall_start_us,
            real_start,
            ctl,
            refusing: AtomicBool::new(false),
            down: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
        })
    }

    /// Simulated wall clock (µs since epoch): real time stretched by 1/time_scale.
    pub fn now_us(&self) -> i64 {
        let real = self.real_start.elapsed().as_micros() as f64;
        self.wall_start_us + (real / self.scale()) as i64
    }

    /// Simulated ms since the simulator started.
    pub fn sim_ms(&self) -> u64 {
        // from µs: whole real ms would make it step by 1/time_scale ms
        (self.real_start.elapsed().as_micros() as f64 / self.scale() / 1000.0) as u64
    }

    /// time scale (>0)
    pub fn scale(&self) -> f64 {
        if self.cfg.time_scale > 0.0 {
            self.cfg.time_scale
        } else {
            1.0
        }
    }

    /// Real duration for a simulated number of ms.
    pub fn dur(&self, sim_ms: u64) -> Duration {
        Duration::from_secs_f64(sim_ms as f64 * self.scale() / 1000.0)
    }

    /// Sleep for simulated ms.
    pub async fn sleep(&self, sim_ms: u64) {
        tokio::time::sleep(self.dur(sim_ms)).await;
    }

    /// Fresh id.
    pub fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// An event with the standard leading headers (sequence filled in at fire time).
    pub fn new_event(&self, name: &str, file: &str, func: &str, line: u32) -> Event {
        let now = self.now_us();
        let t = chrono::DateTime::from_timestamp_micros(now).unwrap_or_default();
        let local = t.with_timezone(&chrono::Local);
        let mut e = Event::default();
        e.add("Event-Name", name);
        e.add("Core-UUID", lock(&self.st).core_uuid.clone());
        e.add("FreeSWITCH-Hostname", &self.cfg.hostname);
        e.add("FreeSWITCH-Switchname", &self.cfg.hostname);
        e.add("FreeSWITCH-IPv4", "127.0.0.1");
        e.add("FreeSWITCH-IPv6", "::1");
        e.add(
            "Event-Date-Local",
            local.format("%Y-%m-%d %H:%M:%S").to_string(),
        );
        e.add(
            "Event-Date-GMT",
            t.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        );
        e.add("Event-Date-Timestamp", now.to_string());
        e.add("Event-Calling-File", file);
        e.add("Event-Calling-Function", func);
        e.add("Event-Calling-Line-Number", line.to_string());
        e.add("Event-Sequence", "");
        e
    }

    /// Fire an event to every interested listener. A listener whose queue is full
    /// is dropped (its connection then closes), like a lagging FreeSWITCH client.
    pub fn fire(&self, mut ev: Event) {
        let mut st = lock(&self.st);
        st.seq += 1;
        let seq = st.seq.to_string();
        for h in ev.headers.iter_mut().filter(|(k, _)| k == "Event-Sequence") {
            h.1 = seq.clone();
        }
        let ev = Arc::new(ev);
        st.listeners.retain(|l| {
            let wants = lock(&l.sub).wants(&ev);
            if !wants {
                return true;
            }
            match l.tx.try_send(ev.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => false,
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    /// Register a listener; returns (id, receiver, subscription handle).
    pub fn listen(&self) -> (u64, mpsc::Receiver<Arc<Event>>, Arc<Mutex<Sub>>) {
        let (tx, rx) = mpsc::channel(self.cfg.event_queue.max(16));
        let sub = Arc::new(Mutex::new(Sub::default()));
        let id = self.id();
        lock(&self.st).listeners.push(Listener {
            id,
            tx,
            sub: sub.clone(),
        });
        (id, rx, sub)
    }

    /// Remove a listener.
    pub fn unlisten(&self, id: u64) {
        lock(&self.st).listeners.retain(|l| l.id != id);
    }

    /// Channel by uuid.
    pub fn chan(&self, uuid: &str) -> Option<Arc<Chan>> {
        lock(&self.st).chans.get(uuid).cloned()
    }

    /// All live channels.
    pub fn chans(&self) -> Vec<Arc<Chan>> {
        let st = lock(&self.st);
        let mut v: Vec<_> = st.chans.values().cloned().collect();
        v.sort_by_key(|c| {
            let s = lock(&c.st);
            (s.caller.created_us, s.session_id)
        });
        v
    }

    /// Register a new channel.
    pub fn add_chan(&self, mut cs: ChanState) -> Arc<Chan> {
        let mut st = lock(&self.st);
        cs.session_id = st.session_id;
        st.session_id += 1;
        let uuid = cs.uuid.clone();
        let (tick, _) = watch::channel(0u64);
        let ch = Arc::new(Chan {
            st: Mutex::new(cs),
            tick,
        });
        st.chans.insert(uuid, ch.clone());
        let n = st.chans.len() as u64;
        st.peak_sessions = st.peak_sessions.max(n);
        ch
    }

    /// Rename a channel's uuid in the registry.
    pub fn rename_chan(&self, old: &str, new: &str) {
        let mut st = lock(&self.st);
        if let Some(c) = st.chans.remove(old) {
            st.chans.insert(new.to_string(), c);
        }
    }

    /// Forget a channel (destroyed); frees its trunk channel if its hang-up did not.
    pub fn remove_chan(&self, uuid: &str) {
        let mut st = lock(&self.st);
        if let Some(c) = st.chans.remove(uuid) {
            if let Some((t, n)) = c.take_trunk_channel() {
                if let Some(tu) = st.trunks.get_mut(&t) {
                    tu.busy.remove(&n);
                }
            }
        }
    }

    /// Log an incoming command read off its socket at `at` (real time).
    pub fn log_api(&self, at: Instant, s: String) {
        lock(&self.st).api_log.push((at, s));
    }
}
