//! FreeSWITCH simulator: an ESL server that behaves like FreeSWITCH 1.10 as
//! recorded in `shared/esl-traces`, used by tests and `make demo` as an
//! independent witness. It shares no code with contactd's ESL adapter.
//!
//! Entry point: [`Simulator::start`]. The handle is `Clone` and thread-safe.

pub mod amd;
pub mod api;
pub mod apps;
pub mod bridge;
pub mod channel;
pub mod config;
pub mod core;
mod core_truth;
pub mod dialplan;
pub mod endpoint;
pub mod esl;
pub mod event;
mod filter;
mod frame_order;
pub mod ftdm;
pub mod headers;
pub mod ivr;
pub mod lifecycle;
pub mod media;
pub mod originate;
pub mod origparse;
pub mod outbound;
pub mod parsed;
pub mod playback;
pub mod runner;
pub mod say;
pub mod scheduler;
pub mod session;
pub mod show;
pub mod smsc;
pub mod tables;
pub mod trunk_use;
pub mod truth;
pub mod wire;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;

pub use self::config::{
    AfterAnswer, Behaviour, CallerStep, Extension, InboundCall, SimConfig, SubscriberRule,
    TrunkConfig, TrunkKind,
};
pub use self::truth::{AgentOffer, PartyRecord};

use self::core::{lock, Core, Ctl};
use self::session::Sess;

struct Inner {
    cfg: SimConfig,
    addr: SocketAddr,
    core: Mutex<Arc<Core>>,
    accept: Mutex<Option<JoinHandle<()>>>,
    heartbeat: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(h) = lock(&self.accept).take() {
            h.abort();
        }
        if let Some(h) = lock(&self.heartbeat).take() {
            h.abort();
        }
    }
}

/// The `release_guard_ms` for a contactd trunk on FreeTDM spans of a simulator running at
/// `time_scale`: their clearing time and a fifth more (contactd's default, 600 ms, is real
/// hardware's; on a compressed clock it would idle each line many simulated seconds after
/// every call).
pub fn trunk_guard_ms(time_scale: f64) -> u64 {
    (trunk_use::FREETDM_HANGUP_MS as f64 * time_scale * 1.2).ceil() as u64 + 1
}

/// `real_ms` of contactd's clock as ms of a simulator's at `time_scale`: for a time contactd
/// hands the switch itself to keep (`abandon_message_after_ms`, a `sleep` in a script).
pub fn switch_ms(real_ms: u64, time_scale: f64) -> u64 {
    (real_ms as f64 / time_scale).round() as u64
}

/// Handle on a running simulator.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

impl Simulator {
    /// Start listening on `cfg.listen`.
    pub async fn start(cfg: SimConfig) -> std::io::Result<Simulator> {
        let l = tokio::net::TcpListener::bind(&cfg.listen).await?;
        let addr = l.local_addr()?;
        let core = Core::new(cfg.clone());
        let accept = lifecycle::spawn_accept(core.clone(), l);
        let hb = lifecycle::spawn_heartbeat(core.clone());
        Ok(Simulator {
            inner: Arc::new(Inner {
                cfg,
                addr,
                core: Mutex::new(core),
                accept: Mutex::new(Some(accept)),
                heartbeat: Mutex::new(hb),
            }),
        })
    }

    fn core(&self) -> Arc<Core> {
        lock(&self.inner.core).clone()
    }

    /// The ESL address actually bound.
    pub fn esl_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Change the ESL password.
    pub fn set_password(&self, pw: &str) {
        *lock(&self.core().password) = pw.to_string();
    }

    /// Close every ESL TCP connection abruptly (calls continue).
    pub fn drop_esl_connections(&self) {
        let _ = self.core().ctl.send(Ctl::Drop);
    }

    /// Arms a network drop at the next command of contactd's control link whose line holds
    /// `pattern` (e.g. `uuid_bridge`): every control connection closes there, the command
    /// lost on the way (`executed` false) or run by the switch with its reply lost (true).
    pub fn drop_esl_on_command(&self, pattern: &str, executed: bool) {
        lock(&self.core().st).drop_on = Some(core::DropOn {
            pattern: pattern.to_string(),
            executed,
        });
    }

    /// Refuse (true: the port is closed) or accept connections again.
    pub async fn refuse_connections(&self, refuse: bool) {
        let core = self.core();
        core.refusing.store(refuse, Ordering::SeqCst);
        if refuse {
            if let Some(h) = lock(&self.inner.accept).take() {
                h.abort();
            }
        } else if lock(&self.inner.accept).is_none() && !core.down.load(Ordering::SeqCst) {
            if let Ok(l) = lifecycle::bind(self.inner.addr).await {
                *lock(&self.inner.accept) = Some(lifecycle::spawn_accept(core, l));
            }
        }
    }

    /// Like `fsctl shutdown`: SHUTDOWN event, SYSTEM_SHUTDOWN hangups, notices, close; port then refused.
    pub async fn shutdown_graceful(&self) {
        let core = self.core();
        lifecycle::shutdown(&core).await;
        self.stop_listening();
    }

    fn stop_listening(&self) {
        if let Some(h) = lock(&self.inner.accept).take() {
            h.abort();
        }
        if let Some(h) = lock(&self.inner.heartbeat).take() {
            h.abort();
        }
    }

    /// SIGKILL: every connection closes at once; all calls are gone.
    pub fn crash(&self) {
        lifecycle::crash(&self.core());
        self.stop_listening();
    }

    /// Start again after shutdown/crash: fresh Core-UUID, no calls, same port.
    pub async fn restart(&self) -> std::io::Result<()> {
        let old = self.core();
        if !old.down.load(Ordering::SeqCst) {
            lifecycle::crash(&old);
        }
        self.stop_listening();
        let core = Core::after(self.inner.cfg.clone(), &old);
        {
            let mut st = lock(&core.st);
            let mut ost = lock(&old.st);
            // what the old core's channels still record (a playback cut by the crash)
            // goes to the new core from now on
            ost.successor = Some(core.clone());
            st.truth = ost.truth.clone();
            st.truth_order = ost.truth_order.clone();
            st.api_log = ost.api_log.clone();
            st.agents = ost.agents.clone();
            st.offers = ost.offers.clone();
            st.agent_peak = ost.agent_peak.clone();
            // mod_db keeps its table in the core database file
            st.db_data = ost.db_data.clone();
            for (k, v) in &ost.trunks {
                if let Some(t) = st.trunks.get_mut(k) {
                    t.peak = v.peak;
                }
            }
        }
        *lock(&core.password) = lock(&old.password).clone();
        let l = lifecycle::bind(self.inner.addr).await?;
        *lock(&self.inner.accept) = Some(lifecycle::spawn_accept(core.clone(), l));
        *lock(&self.inner.heartbeat) = lifecycle::spawn_heartbeat(core.clone());
        *lock(&self.inner.core) = core;
        Ok(())
    }

    /// Current Core-UUID.
    pub fn core_uuid(&self) -> String {
        lock(&self.core().st).core_uuid.clone()
    }

    /// Hang up a channel with a cause, as the far end / network would.
    pub fn hangup(&self, uuid: &str, cause: &str) -> bool {
        let core = self.core();
        match core.chan(uuid) {
            Some(c) => {
                Sess::new(core, c).hangup(cause, "party");
                true
            }
            None => false,
        }
    }

    /// uuids of live channels.
    pub fn live_channels(&self) -> Vec<String> {
        self.core()
            .chans()
            .iter()
            .map(|c| lock(&c.st).uuid.clone())
            .collect()
    }

    /// Live channels on a trunk.
    pub fn live_channels_on(&self, trunk: &str) -> u32 {
        lock(&self.core().st)
            .trunks
            .get(trunk)
            .map(|t| t.busy.len() as u32)
            .unwrap_or(0)
    }

    /// Raises (`true`) or clears the alarm of FreeTDM span `span` (number or name), as
    /// mod_freetdm reports it: a TRAP event per channel, and originates on the span fail
    /// `NORMAL_CIRCUIT_CONGESTION` meanwhile. False when there is no such span.
    pub fn span_alarm(&self, span: &str, raised: bool) -> bool {
        ftdm::span_alarm(&self.core(), span, raised)
    }

    /// How long (real time) a hung-up FreeTDM channel takes to clear before it can be
    /// hunted again: ftmod_analog's 500 ms, at this simulator's time scale.
    pub fn freetdm_clearing(&self) -> std::time::Duration {
        self.core().dur(trunk_use::FREETDM_HANGUP_MS)
    }

    /// The `release_guard_ms` for a contactd trunk on this simulator's FreeTDM spans
    /// ([`trunk_guard_ms`] at its time scale).
    pub fn trunk_guard_ms(&self) -> u64 {
        trunk_guard_ms(self.core().scale())
    }

    /// [`switch_ms`] at this simulator's time scale.
    pub fn switch_ms(&self, real_ms: u64) -> u64 {
        switch_ms(real_ms, self.core().scale())
    }

    /// Peak simultaneous channels on a trunk since start.
    pub fn peak_channels_on(&self, trunk: &str) -> u32 {
        lock(&self.core().st)
            .trunks
            .get(trunk)
            .map(|t| t.peak)
            .unwrap_or(0)
    }

    /// Calls refused on a trunk since start because every one of its channels was busy
    /// (a span in alarm is not counted): attempts to use more lines than the trunk has.
    pub fn refused_full_on(&self, trunk: &str) -> u32 {
        lock(&self.core().st)
            .trunks
            .get(trunk)
            .map(|t| t.refused_full)
            .unwrap_or(0)
    }

    /// Each refusal counted by [`Simulator::refused_full_on`]: when (simulated ms since the
    /// start) and how many of the busy channels were only clearing then.
    pub fn refusals_on(&self, trunk: &str) -> Vec<(u64, u32)> {
        lock(&self.core().st)
            .trunks
            .get(trunk)
            .map(|t| {
                t.refused_full_at
                    .iter()
                    .copied()
                    .zip(t.refused_clearing.iter().copied())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Create an inbound call handed to an outbound ESL server; returns its uuid.
    pub fn inbound_call(&self, call: InboundCall) -> Result<String, String> {
        outbound::inbound_call(&self.core(), call)
    }

    /// Ground truth of every simulated party, in creation order.
    pub fn ground_truth(&self) -> Vec<PartyRecord> {
        let core = self.core();
        let st = lock(&core.st);
        st.truth_order
            .iter()
            .filter_map(|k| st.truth.get(k).cloned())
            .collect()
    }

    /// Live parties hearing nothing right now (see [`PartyRecord::dead_air_ms`]): their
    /// channel uuid and how long (simulated ms) the current stretch of dead air has lasted.
    pub fn dead_air_now(&self) -> Vec<(String, u64)> {
        let core = self.core();
        let now = core.sim_ms();
        let live: Vec<(String, u64)> = core
            .chans()
            .iter()
            .filter_map(|c| {
                let s = lock(&c.st);
                s.air_since
                    .filter(|_| s.is_dead_air())
                    .map(|t0| (s.uuid.clone(), now.saturating_sub(t0)))
            })
            .collect();
        live.into_iter()
            .filter(|(u, _)| core.has_truth(u))
            .collect()
    }

    /// Simulated ms since the simulator started (the clock of the ground truth's `*_ms`).
    pub fn sim_ms(&self) -> u64 {
        self.core().sim_ms()
    }

    /// For each `#` a scripted party keyed: the real time until the next command for that
    /// channel reached the switch (what a caller waits after `#`).
    pub fn hash_to_command(&self) -> Vec<std::time::Duration> {
        lock(&self.core().st).hash_to_command.clone()
    }

    /// Every api / bgapi / sendmsg command received.
    pub fn api_log(&self) -> Vec<String> {
        lock(&self.core().st)
            .api_log
            .iter()
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// Every api / bgapi / sendmsg command received, with the real time it was read off
    /// its socket (benchmarks: when a command reached the switch).
    pub fn api_log_timed(&self) -> Vec<(std::time::Instant, String)> {
        lock(&self.core().st).api_log.clone()
    }

    /// How many commands [`api_log_timed`](Self::api_log_timed) holds.
    pub fn api_log_len(&self) -> usize {
        lock(&self.core().st).api_log.len()
    }

    /// The commands received from the `from`th on, timed: a poll that copies only what is
    /// new. (Copying the whole log holds the switch's state lock for as long, and a
    /// benchmark polling it slowed the very commands it timed as the log grew.)
    pub fn api_log_timed_since(&self, from: usize) -> Vec<(std::time::Instant, String)> {
        let core = self.core();
        let st = lock(&core.st);
        st.api_log
            .get(from..)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }

    /// Channel variable of a live channel.
    pub fn channel_var(&self, uuid: &str, var: &str) -> Option<String> {
        self.core()
            .chan(uuid)
            .and_then(|c| lock(&c.st).var(var).map(str::to_string))
    }

    /// The leg a live channel is bridged to right now (`bridge` app or
    /// `uuid_bridge`); None when it is not bridged or not live.
    pub fn bridged_to(&self, uuid: &str) -> Option<String> {
        self.core()
            .chan(uuid)
            .and_then(|c| lock(&c.st).bridge_peer.clone())
    }

    /// Change what agent phone `user/<ext>` does with the next calls offered to it
    /// (a phone not in `SimConfig::agents` becomes registered). Legs already ringing
    /// keep the behaviour they started with.
    pub fn set_agent_behaviour(&self, ext: &str, b: Behaviour) {
        lock(&self.core().st).agents.insert(ext.to_string(), b);
    }

    /// Every call that reached agent phone `ext`, in the order it started ringing,
    /// from the simulator's own channels (survives `restart`).
    pub fn agent_offers(&self, ext: &str) -> Vec<AgentOffer> {
        lock(&self.core().st)
            .offers
            .get(ext)
            .cloned()
            .unwrap_or_default()
    }

    /// Most legs ringing or up at once on agent phone `ext` since start.
    pub fn agent_peak_concurrent(&self, ext: &str) -> u32 {
        lock(&self.core().st)
            .agent_peak
            .get(ext)
            .copied()
            .unwrap_or(0)
    }
}
