//! One driver per campaign across contactd instances.
//!
//! Every instance runs the campaign runners, but a runner dials (and recovers) only the
//! campaigns it holds the Redis lease of (`store::drivers`). The lease is renewed every
//! `renew_ms`, well under its `lease_ms`; a holder that cannot renew stops dialing
//! `margin_ms` before its grant can lapse (`core::driver_lease`). When the holder dies its
//! grant lapses, the next instance asking gets it with a larger fencing token, and its
//! runner first recovers the campaign (the dead instance's calls are looked up on the
//! switch: followed if live, settled from their records if gone — never guessed), then
//! dials. Released at a clean stop (after the calls drained) and when a campaign is over.
//!
//! Must not: dial, or decide anything about subscribers — it only says who may.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};
use tracing::{debug, info, warn};

use crate::core::driver_lease::{earlier_process, LeaseTiming};
use crate::store::drivers;
use crate::store::redis::LiveState;
use crate::store::StoreError;

/// Who holds a lease: the configured `[daemon] instance` (stable across restarts: it names
/// the write spool and the ACD's alive mark), this host and this process. Two processes
/// configured with the same instance name by mistake still never both drive a campaign;
/// a restarted process takes over at once from its predecessor on this host once that
/// process is gone (`core::driver_lease::earlier_process`), any other holder's lease must
/// lapse first.
pub fn holder_id(instance: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    format!("{instance}@{host}:{}", std::process::id())
}

/// Whether process `pid` runs on this host (for [`earlier_process`]).
pub fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The campaign leases of one runner (notice or operator campaigns) on this instance.
#[derive(Clone)]
pub struct Drivers {
    inner: Arc<Inner>,
}

struct Inner {
    live: LiveState,
    /// Where the fencing tokens live (`campaign_fences`): the claims check them.
    pool: deadpool_postgres::Pool,
    instance: String,
    timing: LeaseTiming,
    epoch: Instant,
    state: Mutex<State>,
    /// The runner's own wake-up: a campaign was taken over, look (and recover) now.
    wake: Arc<Notify>,
}

#[derive(Default)]
struct State {
    /// Campaigns held: token and when the last grant or renewal was requested (ms).
    held: HashMap<i64, Grant>,
    /// Campaigns the runner wants but another instance holds.
    wanted: HashSet<i64>,
    /// Taken since the runner last looked: it recovers them before dialing.
    fresh: HashSet<i64>,
}

#[derive(Debug, Clone, Copy)]
struct Grant {
    token: u64,
    sent_ms: u64,
    /// The PostgreSQL fence of this grant; `None` until bumped (PostgreSQL away): no
    /// claims meanwhile.
    fence: Option<i64>,
}

/// What [`Drivers::drive`] found.
#[derive(Debug, Default)]
pub struct Driving {
    /// Campaigns this instance may dial now.
    pub mine: HashSet<i64>,
    /// Some were taken over since the last look: recover before dialing.
    pub taken_over: bool,
}

impl Drivers {
    pub fn new(
        live: LiveState,
        pool: deadpool_postgres::Pool,
        instance: &str,
        timing: LeaseTiming,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                live,
                pool,
                instance: instance.to_string(),
                timing,
                epoch: Instant::now(),
                state: Mutex::default(),
                wake,
            }),
        }
    }

    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    fn now_ms(&self) -> u64 {
        self.inner.epoch.elapsed().as_millis() as u64
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().expect("drivers lock")
    }

    /// The runner's campaigns right now (`active`): which of them this instance drives,
    /// taking the free ones. Leases of campaigns no longer active are released.
    pub async fn drive(&self, active: &[i64]) -> Driving {
        let now = self.now_ms();
        let (gone, ask): (Vec<(i64, Grant)>, Vec<i64>) = {
            let mut st = self.state();
            let gone: Vec<_> = st
                .held
                .iter()
                .filter(|(id, _)| !active.contains(id))
                .map(|(id, g)| (*id, *g))
                .collect();
            for (id, _) in &gone {
                st.held.remove(id);
            }
            st.wanted.retain(|id| active.contains(id));
            let ask = active
                .iter()
                .copied()
                .filter(|id| {
                    !st.held
                        .get(id)
                        .is_some_and(|g| self.inner.timing.may_dial(g.sent_ms, now))
                        && !st.wanted.contains(id)
                })
                .collect();
            (gone, ask)
        };
        for (id, g) in gone {
            self.release_one(id, g.token).await;
        }
        // Campaigns another instance holds are asked for by the renewal round, not on every
        // look: one script per campaign per round, whatever the runner's pace.
        for id in ask {
            self.try_take(id).await;
        }
        // Fresh grants get their PostgreSQL fence bumped before the runner hears of them
        // (and recovers): an earlier driver's claims from then on take nothing.
        let unfenced: Vec<i64> = {
            let st = self.state();
            st.fresh
                .iter()
                .copied()
                .filter(|id| st.held.get(id).is_some_and(|g| g.fence.is_none()))
                .collect()
        };
        for id in unfenced {
            self.fence(id).await;
        }
        let mut st = self.state();
        let mine = st
            .held
            .iter()
            .filter(|(_, g)| self.inner.timing.may_dial(g.sent_ms, now))
            .map(|(id, _)| *id)
            .collect();
        let taken_over = !st.fresh.is_empty();
        st.fresh.clear();
        Driving { mine, taken_over }
    }

    /// Whether this instance holds `campaign` now, by its own clock (no round trip).
    pub fn holds(&self, campaign: i64) -> bool {
        let now = self.now_ms();
        self.state()
            .held
            .get(&campaign)
            .is_some_and(|g| self.inner.timing.may_dial(g.sent_ms, now))
    }

    /// The fence to claim subscribers of `campaign` with: this instance holds the lease by
    /// its own clock and has bumped the campaign's token in PostgreSQL, which the claim
    /// checks in the same statement (a driver that took over since bumped it past ours).
    /// `None`: claim nothing now.
    pub async fn fence(&self, campaign: i64) -> Option<i64> {
        let now = self.now_ms();
        let (token, fence) = {
            let st = self.state();
            let g = st.held.get(&campaign)?;
            if !self.inner.timing.may_dial(g.sent_ms, now) {
                return None;
            }
            (g.token, g.fence)
        };
        if fence.is_some() {
            return fence;
        }
        // A fresh grant (or PostgreSQL away when it came): bump now, before any claim.
        let f = self.bump(campaign).await?;
        let mut st = self.state();
        let g = st.held.get_mut(&campaign).filter(|g| g.token == token)?;
        g.fence = Some(f);
        Some(f)
    }

    async fn bump(&self, campaign: i64) -> Option<i64> {
        match drivers::bump_fence(&self.inner.pool, campaign, &self.inner.instance).await {
            Ok(f) => Some(f),
            Err(e) => {
                warn!(
                    campaign,
                    "campaign fence not bumped, no claims until it is: {e}"
                );
                None
            }
        }
    }

    /// Campaigns driven here with their fencing tokens, for `/healthz` and `/metrics`.
    pub fn driven(&self) -> Vec<(i64, u64)> {
        let now = self.now_ms();
        let mut v: Vec<_> = self
            .state()
            .held
            .iter()
            .filter(|(_, g)| self.inner.timing.may_dial(g.sent_ms, now))
            .map(|(id, g)| (*id, g.token))
            .collect();
        v.sort_unstable();
        v
    }

    /// The holder of `id`'s lease if it is an earlier process of this instance, gone.
    async fn dead_predecessor(&self, id: i64) -> Option<String> {
        let (who, _) = drivers::driver(&self.inner.live, id).await.ok()??;
        earlier_process(&self.inner.instance, &who, process_alive).then_some(who)
    }

    async fn try_take(&self, id: i64) -> bool {
        let dead = self.dead_predecessor(id).await;
        let sent = self.now_ms();
        let r = drivers::acquire(
            &self.inner.live,
            id,
            &self.inner.instance,
            self.inner.timing.lease_ms,
            dead.as_deref(),
        )
        .await;
        {
            let mut st = self.state();
            match r {
                Ok(Some(token)) => {
                    // A renewal whose reply was lost keeps its fence; a new grant has none yet.
                    let same = st.held.get(&id).filter(|g| g.token == token).copied();
                    st.held.insert(
                        id,
                        Grant {
                            token,
                            sent_ms: sent,
                            fence: same.and_then(|g| g.fence),
                        },
                    );
                    st.wanted.remove(&id);
                    if same.is_some() {
                        return false;
                    }
                    info!(
                        campaign = id,
                        token,
                        instance = %self.inner.instance,
                        "driving the campaign"
                    );
                    st.fresh.insert(id);
                    true
                }
                Ok(None) => {
                    if st.held.remove(&id).is_some() {
                        warn!(
                            campaign = id,
                            "another instance drives the campaign now: no more dialing here"
                        );
                    }
                    st.wanted.insert(id);
                    false
                }
                Err(e) => {
                    debug!(campaign = id, "campaign lease: {e}");
                    false
                }
            }
        }
    }

    async fn release_one(&self, id: i64, token: u64) {
        match drivers::release(&self.inner.live, id, &self.inner.instance, token).await {
            Ok(()) => info!(campaign = id, "campaign lease released"),
            Err(e) => debug!(
                campaign = id,
                "campaign lease not released (lapses by itself): {e}"
            ),
        }
    }

    /// Renews the leases held and asks for the wanted ones, every `renew_ms`; releases all
    /// at the final stop (the calls have drained by then, so the next driver finds none of
    /// this instance's calls in flight).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let every = Duration::from_millis(self.inner.timing.renew_ms);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.wait_for(|s| *s) => break,
            }
            if let Err(e) = self.round().await {
                debug!("campaign leases: {e}");
            }
        }
        let held: Vec<_> = self.state().held.drain().collect();
        for (id, g) in held {
            self.release_one(id, g.token).await;
        }
    }

    async fn round(&self) -> Result<(), StoreError> {
        let held: Vec<(i64, Grant)> = self.state().held.iter().map(|(i, g)| (*i, *g)).collect();
        for (id, g) in held {
            let sent = self.now_ms();
            let ok = drivers::renew(
                &self.inner.live,
                id,
                &self.inner.instance,
                g.token,
                self.inner.timing.lease_ms,
            )
            .await?;
            let mut st = self.state();
            if ok {
                if let Some(h) = st.held.get_mut(&id) {
                    h.sent_ms = sent;
                }
            } else if st.held.remove(&id).is_some() {
                warn!(
                    campaign = id,
                    "campaign lease lost: another instance drives it now"
                );
                st.wanted.insert(id);
            }
        }
        let wanted: Vec<i64> = self.state().wanted.iter().copied().collect();
        let mut taken = false;
        for id in wanted {
            taken |= self.try_take(id).await;
        }
        if taken {
            self.inner.wake.notify_one();
        }
        Ok(())
    }
}
