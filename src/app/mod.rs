//! Composition root: builds the adapters, starts the services, and stops them in order.
//!
//! Start: stores (PostgreSQL migrated, Redis pinged) → switch links → outbound socket →
//! HTTP → READY once a switch is connected. Stop (SIGTERM): STOPPING, no new calls, live
//! calls finish for up to `shutdown.grace_seconds`, then links close and records flush.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::cli::exit::Exit;
use crate::clock::Clock;
use crate::config::Config;
use crate::esl::control::{LinkStatus, SwitchLink};
use crate::esl::outbound;
use crate::service::inbound::InboundCalls;
use crate::service::records::Records;
use crate::store::postgres::{self, Calls};
use crate::store::redis::LiveState;
use crate::store::{migrate, StoreError};

mod stop;
pub use stop::run;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        what: &'static str,
        addr: String,
        source: std::io::Error,
    },
}

impl AppError {
    /// The binary's exit code.
    pub fn exit_code(&self) -> Exit {
        match self {
            AppError::Store(StoreError::Config(_)) => Exit::Config,
            AppError::Store(StoreError::Migration(_)) => Exit::DataErr,
            AppError::Store(_) => Exit::Unavailable,
            AppError::Bind { .. } => Exit::OsErr,
        }
    }
}

/// How long a start waits for PostgreSQL and Redis before giving up (exit 69); systemd's
/// start timeout is 90 s.
const STORES_WAIT: Duration = Duration::from_secs(60);

/// What a running daemon holds, for its tasks and for tests to read.
pub struct Shared {
    pub config: Arc<Config>,
    pub links: Vec<SwitchLink>,
    pub pool: Pool,
    pub live: LiveState,
    pub calls: Calls,
    /// Calls on the outbound socket right now.
    pub outbound_live: Arc<AtomicUsize>,
    /// Set on SIGTERM: nothing new is started.
    pub draining: Arc<AtomicBool>,
    pub campaigns: crate::store::campaigns::Campaigns,
    /// Operator routing on the first switch.
    pub acd: crate::service::acd::Acd,
}

/// A started contactd.
pub struct App {
    pub shared: Arc<Shared>,
    /// Operator campaigns' runner (pacing decisions, preview, dispositions).
    pub opcamp: Arc<crate::service::opcamp::OpRunner>,
    pub http_addr: SocketAddr,
    pub outbound_addr: SocketAddr,
    accept_stop: watch::Sender<bool>,
    final_stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The calls on the outbound socket.
    calls: TaskTracker,
    records: JoinHandle<()>,
}

/// The listener on `addr` and the address it got (port 0 picks one).
async fn bind(what: &'static str, addr: &str) -> Result<(TcpListener, SocketAddr), AppError> {
    let err = |source| AppError::Bind {
        what,
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(err)?;
    let local = listener.local_addr().map_err(err)?;
    Ok((listener, local))
}

/// Applies migrations through `pool` and opens Redis.
pub async fn open_stores(config: &Config, pool: &Pool) -> Result<LiveState, StoreError> {
    let applied = migrate::run(pool).await?;
    if !applied.is_empty() {
        info!(?applied, "applied schema migrations");
    }
    let target = crate::store::redis_conn::RedisTarget::of(&config.redis);
    let live = LiveState::connect_to(target, &config.redis.prefix)
        .await?
        .held_by(&crate::service::campaign_lease::holder_id(
            &config.daemon.instance,
        ));
    crate::store::redis_conn::log_target(&target, &live.conn());
    live.ping().await?;
    Ok(live)
}

impl App {
    pub async fn start(config: Config) -> Result<App, AppError> {
        Self::start_with_clock(config, Clock::system()).await
    }

    /// Starts with `clock` as every service's one clock (tests pass a paused one).
    pub async fn start_with_clock(config: Config, clock: Clock) -> Result<App, AppError> {
        let config = Arc::new(config);
        // The pool connects lazily, and the journal is a local file: both are there before
        // PostgreSQL answers, so the lobby below can record the calls that end in it.
        let pool = postgres::pool(config.postgres.url.expose(), config.postgres.pool_size)?;
        let spool = crate::store::journal::spool_path(
            &config.daemon.spool_dir,
            &config.daemon.instance,
            config.postgres.url.expose(),
        );
        let journal = crate::store::journal::Journal::open(&spool, pool.clone())?;
        let calls = Calls::with_journal(journal.clone());
        let node = config.switch.keys().next().cloned().unwrap_or_default();
        // The outbound socket opens first: a caller who arrives while the stores are
        // waited for is held there (`service::lobby`), not left to the switch's retries.
        let (accept_stop, accept_rx) = watch::channel(false);
        let (outbound_listener, outbound_addr) =
            bind("outbound socket", &config.outbound.listen).await?;
        let outbound_live = Arc::new(AtomicUsize::new(0));
        let calls_tracker = TaskTracker::new();
        let (lobby, doors) = crate::service::lobby::Lobby::new(
            config.clone(),
            Calls::spooled(journal.clone()),
            node.clone(),
        );
        // Aborted with its held calls if the start fails (their sockets close, and the
        // switch's contactd-reconnect takes the callers).
        let serving = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(outbound::serve(
            outbound_listener,
            Arc::new(lobby),
            accept_rx,
            outbound::CallTasks {
                live: outbound_live.clone(),
                tasks: calls_tracker.clone(),
                max_calls: config.outbound.max_calls,
            },
        )));
        // A database or Redis that is restarting (maintenance, a failover) is waited for a
        // while rather than failed on: a daemon that exits at once only crash-loops.
        let started = tokio::time::Instant::now();
        let live = loop {
            match open_stores(&config, &pool).await {
                Ok(x) => break x,
                Err(e) if e.is_retryable() && started.elapsed() < STORES_WAIT => {
                    warn!("stores not reachable yet, retrying: {e}");
                    crate::notify::status(&format!("waiting for PostgreSQL and Redis: {e}"));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let (final_stop, final_rx) = watch::channel(false);
        let (sink, events) = mpsc::channel(10_000);
        let mut links = Vec::new();
        let mut tasks = Vec::new();
        for (name, sw) in &config.switch {
            let (link, task) = SwitchLink::spawn(name, sw.clone(), sink.clone(), final_rx.clone());
            links.push(link);
            tasks.push(task);
        }
        drop(sink);
        tasks.push(tokio::spawn(journal.clone().run(final_rx.clone())));
        tasks.push(tokio::spawn(crate::service::failover::run(
            live.clone(),
            final_rx.clone(),
        )));
        tasks.push(tokio::spawn(
            Arc::new(crate::service::leases::LeaseGuard {
                live: live.clone(),
                links: links.clone(),
                trunks: config
                    .trunk
                    .iter()
                    .map(|(name, t)| (name.clone(), t.switch.clone()))
                    .collect(),
                settle: config
                    .trunk
                    .values()
                    .map(|t| t.release_guard())
                    .max()
                    .unwrap_or_default(),
            })
            .run(final_rx.clone()),
        ));
        let records = tokio::spawn(
            Records {
                calls: calls.clone(),
                live: live.clone(),
                config: config.clone(),
                clock: clock.clone(),
            }
            .run(events),
        );

        let (http_listener, http_addr) = bind("http", &config.http.listen).await?;

        let acd_store = crate::store::acd::AcdStore::connect_to(
            crate::store::redis_conn::RedisTarget::of(&config.redis),
            &config.redis.prefix,
        )
        .await
        .map_err(AppError::Store)?;
        let first = links.first().cloned().ok_or_else(|| {
            AppError::Store(crate::store::StoreError::Config(
                "no switch configured".into(),
            ))
        })?;
        let acd = crate::service::acd::Acd::new(crate::service::acd::AcdParts {
            config: config.clone(),
            link: first.clone(),
            node: first.name().to_string(),
            store: acd_store,
            pool: pool.clone(),
            dialing: Some((calls.clone(), live.clone())),
            journal: Some(journal.clone()),
            clock: clock.clone(),
        });
        tasks.push(tokio::spawn(acd.clone().run(final_rx.clone())));
        if config.qa.rules() != crate::core::qa::Rules::default() {
            let zone = crate::mail::report::report_locale(&config.mail)
                .map_or(chrono_tz::UTC, |l| l.time_zone);
            let qa = crate::store::qa::QaStore::new(pool.clone(), zone);
            tasks.push(tokio::spawn(qa.sweep(
                config.qa.rules(),
                clock.clone(),
                final_rx.clone(),
            )));
        }
        let shared = Arc::new(Shared {
            config: config.clone(),
            links,
            pool,
            live,
            calls: calls.clone(),
            outbound_live,
            draining: Arc::new(AtomicBool::new(false)),
            campaigns: crate::store::campaigns::Campaigns::with_journal(journal.clone()),
            acd: acd.clone(),
        });
        // e-mail and SMS during calls: queued by operators and campaign rules, sent here
        let messages = crate::service::messages::Messages::new(shared.pool.clone(), config.clone())
            .with_journal(journal.clone());
        tasks.push(tokio::spawn(messages.clone().run(final_rx.clone())));
        tasks.push(tokio::spawn(crate::store::notify::listen(
            config.postgres.url.expose().to_string(),
            crate::service::messages::CHANNEL,
            messages.wake_handle(),
            final_rx.clone(),
        )));
        // trunk groups and span alarms: one view shared by both runners
        let trunks = crate::service::trunks::Trunks::new(
            config.clone(),
            shared.live.clone(),
            shared.links.clone(),
            Some(shared.pool.clone()),
        );
        tasks.push(tokio::spawn(trunks.clone().run(final_rx.clone())));
        let runner = crate::service::campaigns::CampaignRunner::new(
            shared.campaigns.clone(),
            shared.calls.clone(),
            shared.live.clone(),
            shared.links.clone(),
            config.clone(),
            shared.draining.clone(),
            clock.clone(),
        )
        .with_messages(messages.clone())
        .with_trunks(trunks.clone());
        // this process in every lease it holds: the line leases' name for it (`open_stores`)
        let holder = shared.live.holder().to_string();
        let notice_drivers = crate::service::campaign_lease::Drivers::new(
            shared.live.clone(),
            shared.pool.clone(),
            &holder,
            crate::core::driver_lease::DEFAULT_TIMING,
            runner.changed.clone(),
        );
        tasks.push(tokio::spawn(notice_drivers.clone().run(final_rx.clone())));
        let runner = Arc::new(runner.with_drivers(notice_drivers.clone()));
        tasks.push(tokio::spawn(crate::store::notify::listen(
            config.postgres.url.expose().to_string(),
            crate::store::notify::CAMPAIGNS,
            runner.changed.clone(),
            final_rx.clone(),
        )));
        tasks.push(tokio::spawn(runner.run(final_rx.clone())));
        let opcamp = crate::service::opcamp::OpRunner::new(
            shared.campaigns.clone(),
            crate::store::op_campaigns::OpCampaigns::with_journal(journal.clone()),
            shared.calls.clone(),
            shared.live.clone(),
            shared.links.clone(),
            shared.acd.clone(),
            config.clone(),
            shared.draining.clone(),
            clock.clone(),
        )
        .with_trunks(trunks);
        let op_drivers = crate::service::campaign_lease::Drivers::new(
            shared.live.clone(),
            shared.pool.clone(),
            &holder,
            crate::core::driver_lease::DEFAULT_TIMING,
            opcamp.wake.clone(),
        );
        tasks.push(tokio::spawn(op_drivers.clone().run(final_rx.clone())));
        let opcamp = Arc::new(opcamp.with_drivers(op_drivers.clone()));
        tasks.push(tokio::spawn(opcamp.clone().run(final_rx.clone())));
        match crate::mail::Mailer::new(&config.mail) {
            Ok(mailer) => tasks.push(tokio::spawn(crate::mail::run_outbox(
                shared.pool.clone(),
                mailer,
                Duration::from_secs(config.mail.retry_seconds),
                final_rx.clone(),
            ))),
            Err(e) => error!("mail is not configured correctly, reports stay queued: {e}"),
        }
        // the auditors' digest, queued when due (nothing without `[mail] digest_at`)
        tasks.push(tokio::spawn(crate::mail::digest::schedule::run(
            shared.pool.clone(),
            config.clone(),
            clock.clone(),
            final_rx.clone(),
        )));
        let handler = Arc::new(InboundCalls {
            calls,
            acd,
            campaigns: shared.campaigns.clone(),
            config: config.clone(),
            node,
            clock: clock.clone(),
        });
        // the lobby's callers, and every call from now on, go to the IVR
        doors.send_replace(Some(handler));
        tasks.push(serving.detach());
        let router = crate::http::router(Arc::new(crate::http::HttpState {
            config: shared.config.clone(),
            links: shared.links.clone(),
            pool: shared.pool.clone(),
            live: shared.live.clone(),
            outbound_live: shared.outbound_live.clone(),
            draining: shared.draining.clone(),
            acd: shared.acd.clone(),
            messages,
            opcamp: opcamp.clone(),
            drivers: vec![notice_drivers, op_drivers],
            wallboard: crate::http::wallboard::Wallboard::start(
                shared.acd.clone(),
                shared.config.clone(),
                shared.pool.clone(),
                shared.live.clone(),
                Some(opcamp.clone()),
            ),
        }));
        let mut http_stop = final_rx.clone();
        tasks.push(tokio::spawn(async move {
            // The client's address: the public wait counter limits each one.
            let served = axum::serve(
                http_listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|s| *s).await;
            })
            .await;
            if let Err(e) = served {
                error!("http server: {e}");
            }
        }));
        info!(%http_addr, %outbound_addr, "contactd started");
        Ok(App {
            shared,
            opcamp,
            http_addr,
            outbound_addr,
            accept_stop,
            final_stop,
            tasks,
            calls: calls_tracker,
            records,
        })
    }

    pub fn link(&self, name: &str) -> Option<&SwitchLink> {
        self.shared.links.iter().find(|l| l.name() == name)
    }

    /// Waits until at least one switch link is connected and resynced, and the line
    /// leases are trusted (rebuilt from the switches if Redis had none).
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        if !self.wait_linked(timeout).await {
            return false;
        }
        while !self.shared.live.leases_trusted().await.unwrap_or(false) {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    async fn wait_linked(&self, timeout: Duration) -> bool {
        let mut watches: Vec<_> = self.shared.links.iter().map(|l| l.watch_status()).collect();
        tokio::time::timeout(timeout, async {
            loop {
                if watches.iter().any(|w| *w.borrow() == LinkStatus::Connected) {
                    return;
                }
                let changed = futures_util::future::select_all(
                    watches.iter_mut().map(|w| Box::pin(w.changed())),
                );
                let _ = changed.await;
            }
        })
        .await
        .is_ok()
    }
}
