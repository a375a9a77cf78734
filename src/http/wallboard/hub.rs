//! The SSE hub: keeps the board's two snapshots current and hands them to every connected
//! page through `watch` channels (a slow page skips to the newest, never queues).
//!
//! - *Live* (queues, callers, operators): rebuilt from Redis in one pipelined read as soon as
//!   the live state changed — this instance's ACD writes bump `store::acd::BoardSignal`, the
//!   other instances' arrive over `acd:board` pub/sub. Changes that come while a read is under
//!   way make one more read after it: bursts coalesce, and nothing waits on a timer.
//! - *Figures* (today's and this interval's KPIs, campaigns, the plan): every
//!   `wallboard.stats_refresh_seconds`, and when a call ends.
//!
//! Nothing is read while no page is connected; the first page to connect wakes the hub. The
//! hub's tasks end when it is dropped (the HTTP server stopped).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::board::{self, CampaignLive, OperatorStats, QueueStats};
use crate::config::Config;
use crate::core::acd::routing::Need;
use crate::service::acd::Acd;
use crate::store::redis::LiveState;

/// A snapshot as the JSON the page receives; empty until first built.
pub type Frame = Arc<str>;

pub struct Hub {
    live: watch::Sender<Frame>,
    stats: watch::Sender<Frame>,
    /// A page connected: build now if nothing is current.
    wake: Arc<Notify>,
    stop: CancellationToken,
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// What the hub's tasks share.
#[derive(Clone)]
struct Sources {
    acd: Acd,
    config: Arc<Config>,
    pool: deadpool_postgres::Pool,
    live_state: LiveState,
    names: Arc<RwLock<HashMap<String, String>>>,
    /// This instance's operator-campaign runner (the dial levels it decided).
    opcamp: Option<Arc<crate::service::opcamp::OpRunner>>,
}

impl Hub {
    /// Starts the hub's tasks (on the current tokio runtime).
    pub fn start(
        acd: Acd,
        config: Arc<Config>,
        pool: deadpool_postgres::Pool,
        live_state: LiveState,
        opcamp: Option<Arc<crate::service::opcamp::OpRunner>>,
    ) -> Self {
        let (live, _) = watch::channel(Frame::from(""));
        let (stats, _) = watch::channel(Frame::from(""));
        let hub = Self {
            live,
            stats,
            wake: Arc::new(Notify::new()),
            stop: CancellationToken::new(),
        };
        let src = Sources {
            acd,
            config,
            pool,
            live_state,
            names: Arc::default(),
            opcamp,
        };
        let instance = uuid::Uuid::new_v4().simple().to_string();
        let (remote_tx, remote_rx) = watch::channel(0u64);
        let stats_kick = Arc::new(Notify::new());
        let stop = hub.stop.clone();
        tokio::spawn(
            stop.clone()
                .run_until_cancelled_owned(relay(src.clone(), instance.clone())),
        );
        tokio::spawn(stop.clone().run_until_cancelled_owned(listen(
            src.clone(),
            instance,
            remote_tx,
            stats_kick.clone(),
        )));
        tokio::spawn(stop.clone().run_until_cancelled_owned(live_loop(
            src.clone(),
            hub.live.clone(),
            remote_rx,
            hub.wake.clone(),
            stats_kick.clone(),
        )));
        tokio::spawn(stop.run_until_cancelled_owned(stats_loop(
            src,
            hub.stats.clone(),
            hub.wake.clone(),
            stats_kick,
        )));
        hub
    }

    /// A page's view of both snapshots; wakes the hub so it has something to show.
    pub fn subscribe(&self) -> (watch::Receiver<Frame>, watch::Receiver<Frame>) {
        let r = (self.live.subscribe(), self.stats.subscribe());
        self.wake.notify_waiters();
        self.wake.notify_one();
        r
    }
}

/// Tells the other instances about this one's changes (the newest only, once per read of
/// the local signal), marking those that ended a call.
async fn relay(src: Sources, instance: String) {
    let store = src.acd.store().clone();
    let mut changes = store.signal().subscribe();
    let mut ends = store.signal().ends();
    while changes.changed().await.is_ok() {
        let now_ends = store.signal().ends();
        let msg = if now_ends == ends {
            instance.clone()
        } else {
            format!("{instance}|end")
        };
        ends = now_ends;
        if let Err(e) = store.publish_board_change(&msg).await {
            debug!("wallboard: cannot tell the other instances: {e}");
        }
    }
}

/// The other instances' changes, as a bump of `remote`.
async fn listen(
    src: Sources,
    instance: String,
    remote: watch::Sender<u64>,
    stats_kick: Arc<Notify>,
) {
    loop {
        match src.acd.store().board_changes().await {
            Ok(mut stream) => {
                // Pub/sub does not replay: what changed while unsubscribed is read now.
                remote.send_modify(|n| *n += 1);
                while let Some(from) = stream.next().await {
                    let (who, end) = match from.split_once('|') {
                        Some((w, e)) => (w.to_string(), e == "end"),
                        None => (from, false),
                    };
                    if who != instance {
                        remote.send_modify(|n| *n += 1);
                        if end {
                            stats_kick.notify_one();
                        }
                    }
                }
            }
            Err(e) => debug!("wallboard: subscription to other instances: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn live_loop(
    src: Sources,
    out: watch::Sender<Frame>,
    mut remote: watch::Receiver<u64>,
    wake: Arc<Notify>,
    stats_kick: Arc<Notify>,
) {
    let store = src.acd.store().clone();
    let mut local = store.signal().subscribe();
    let mut ends = store.signal().ends();
    let queues: Vec<String> = src.config.acd.queue.keys().cloned().collect();
    let needs: Vec<(String, Need<'_>)> = src
        .config
        .acd
        .queue
        .iter()
        .map(|(n, q)| {
            (
                n.clone(),
                Need {
                    skill: &q.group,
                    min_level: q.min_level,
                },
            )
        })
        .collect();
    // Something changed since the last read that no page has seen.
    let mut dirty = true;
    loop {
        if dirty && out.receiver_count() > 0 {
            dirty = false;
            // Marked seen before the read: a change during it makes one more read.
            local.borrow_and_update();
            remote.borrow_and_update();
            let now_ends = store.signal().ends();
            if now_ends != ends {
                ends = now_ends;
                stats_kick.notify_one();
            }
            match store.board(&queues).await {
                Ok(b) => {
                    let names = src.names.read().expect("names").clone();
                    if b.agents.iter().any(|(a, _)| !names.contains_key(a)) {
                        stats_kick.notify_one();
                    }
                    let now_ms = src.acd.clock().now().timestamp_millis();
                    let snap = board::live_snapshot(&b, &needs, &names, now_ms);
                    let json = serde_json::to_string(&snap).unwrap_or_default();
                    out.send_replace(Frame::from(json));
                }
                Err(e) => {
                    debug!("wallboard: cannot read the live state: {e}");
                    dirty = true;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            continue;
        }
        tokio::select! {
            r = local.changed() => if r.is_err() { return },
            r = remote.changed() => if r.is_err() { return },
            _ = wake.notified() => {}
        }
        dirty = true;
    }
}

async fn stats_loop(src: Sources, out: watch::Sender<Frame>, wake: Arc<Notify>, kick: Arc<Notify>) {
    let every = Duration::from_secs(src.config.wallboard.stats_refresh_seconds.max(1));
    loop {
        if out.receiver_count() > 0 {
            refresh_names(&src).await;
            let snap = build_stats(&src).await;
            out.send_replace(Frame::from(
                serde_json::to_string(&snap).unwrap_or_default(),
            ));
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = kick.notified() => {}
            _ = wake.notified() => {}
        }
    }
}

async fn refresh_names(src: &Sources) {
    let ops = crate::store::operators::Operators::new(src.pool.clone());
    match ops.list().await {
        Ok(list) => {
            *src.names.write().expect("names") =
                list.into_iter().map(|o| (o.login, o.name)).collect();
        }
        Err(e) => debug!("wallboard: operators' names: {e}"),
    }
}

async fn build_stats(src: &Sources) -> board::StatsSnapshot {
    let w = &src.config.wallboard;
    let now = src.acd.clock().now();
    let mut snap = board::stats_snapshot(
        kpi_figures(src, now).await,
        &w.plan_calls_per_queue,
        w.plan_calls_per_operator,
        campaigns(src).await,
        now.timestamp_millis(),
    );
    let zone: chrono_tz::Tz = src
        .config
        .mail
        .report_time_zone
        .parse()
        .unwrap_or(chrono_tz::UTC);
    let (day, _) = board::day_and_interval(now, zone, board::INTERVAL_MINUTES);
    snap.op_campaigns = super::opcamps::op_campaigns(
        &src.pool,
        &src.acd,
        src.opcamp.as_deref(),
        &src.live_state,
        src.config.campaigns.operator.abandon_cap_pct,
        day,
        now,
    )
    .await;
    snap
}

/// Today's and this interval's figures per queue and operator, from the KPI store (the same
/// definitions as `contactd kpi` and the digest), in the reports' time zone. QA scores come
/// once the KPI report carries them. None if the database cannot answer: the board then
/// says the figures are not available rather than showing zeros.
async fn kpi_figures(
    src: &Sources,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<(Vec<QueueStats>, Vec<OperatorStats>)> {
    use crate::core::kpi::{KpiQuery, Span};
    let zone: chrono_tz::Tz = src
        .config
        .mail
        .report_time_zone
        .parse()
        .unwrap_or(chrono_tz::UTC);
    let store = crate::store::kpi::KpiStore::new(src.pool.clone(), zone);
    let (day, interval) = board::day_and_interval(now, zone, board::INTERVAL_MINUTES);
    let targets = src.config.acd.service_level_targets();
    let query = |from, by| KpiQuery {
        from,
        to: now.max(from + chrono::Duration::seconds(1)),
        by,
        queue: None,
        operator: None,
    };
    let (q_today, q_this) = (
        query(day, Span::Day),
        query(interval, Span::Minutes(board::INTERVAL_MINUTES)),
    );
    let both = tokio::try_join!(
        store.report(&q_today, &targets),
        store.report(&q_this, &targets)
    );
    match both {
        Ok((today, this)) => {
            let queues: Vec<String> = src.config.acd.queue.keys().cloned().collect();
            Some(board::figures_from(&today, &this, &queues))
        }
        Err(e) => {
            debug!("wallboard: KPIs: {e}");
            None
        }
    }
}

/// Running campaigns with their lines in use and progress.
async fn campaigns(src: &Sources) -> Vec<CampaignLive> {
    let store = crate::store::campaigns::Campaigns::new(src.pool.clone());
    let active = match store.active().await {
        Ok(a) => a,
        Err(e) => {
            warn!("wallboard: campaigns: {e}");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for c in active.into_iter().filter(|c| c.state == "running") {
        let p = match store.progress(c.id).await {
            Ok(p) => p,
            Err(e) => {
                debug!(campaign = c.id, "wallboard: progress: {e}");
                continue;
            }
        };
        let in_use = src
            .live_state
            .budget_in_use(&crate::service::campaigns::budget_of(c.id))
            .await
            .unwrap_or(0);
        out.push(CampaignLive {
            id: c.id,
            name: c.name,
            lines_in_use: in_use,
            lines: c.lines,
            called: p.done,
            total: p.total,
            reached: board::reached_share(p.reached, p.done),
        });
    }
    out
}
