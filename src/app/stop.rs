//! Stopping: the drain of live calls on SIGTERM, and the daemon's main loop around it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tracing::{info, warn};

use super::{App, AppError};
use crate::config::Config;

impl App {
    /// Lines held on all trunks plus calls on the outbound socket: what a drain waits for.
    pub async fn calls_in_progress(&self) -> usize {
        let mut n = self.shared.outbound_live.load(Ordering::SeqCst);
        for trunk in self.shared.config.trunk.keys() {
            n += self.shared.live.lines_in_use(trunk).await.unwrap_or(0);
        }
        n
    }

    /// Graceful stop: no new calls, live ones finish for up to `grace`, then everything
    /// closes and pending records are written.
    pub async fn shutdown(self, grace: Duration) {
        self.shared.draining.store(true, Ordering::SeqCst);
        let _ = self.accept_stop.send(true);
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let left = self.calls_in_progress().await;
            if left == 0 {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                warn!(left, "grace period over; stopping with calls still up");
                break;
            }
            crate::notify::status(&format!("draining: {left} calls in progress"));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // every call task ended (or the grace is over): a handler that panicked was logged
        // and counted out by its guard, so it cannot hold the drain
        self.calls.close();
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if tokio::time::timeout(left, self.calls.wait()).await.is_err() {
            warn!(
                tasks = self.calls.len(),
                "grace period over; call tasks still running"
            );
        }
        let _ = self.final_stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        // Links are gone, so the event channel closes once records has written the rest.
        let _ = self.records.await;
        // Closed, the pool ends its connections now (each sends PostgreSQL its Terminate)
        // rather than whenever the last holder of `shared` goes: the demo and the tests
        // drop their scratch database right after, and a connection still open then is
        // killed by the server and logged as a connection error.
        self.shared.pool.close();
        info!("contactd stopped");
    }
}

/// The daemon: start, tell systemd, run until SIGTERM/SIGINT, drain.
pub async fn run(config: Config) -> Result<(), AppError> {
    let grace = Duration::from_secs(config.shutdown.grace_seconds);
    let app = App::start(config).await?;
    let mut ready_sent = false;
    let watchdog = crate::notify::watchdog_interval();
    // Without a watchdog the tick still runs, harmlessly, so one select! serves both cases.
    let mut tick = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|source| AppError::Bind {
            what: "SIGTERM handler",
            addr: String::new(),
            source,
        })?;
    loop {
        tokio::select! {
            up = app.wait_ready(Duration::from_secs(3600)), if !ready_sent => {
                if up {
                    crate::notify::ready();
                    crate::notify::status("running");
                    info!("ready: stores up and a switch connected");
                    ready_sent = true;
                }
            }
            _ = tick.tick() => {
                // Pinged from the main loop: a wedged runtime stops pinging and is restarted.
                if watchdog.is_some() {
                    crate::notify::watchdog();
                }
            }
            _ = term.recv() => { info!("SIGTERM: draining"); break; }
            _ = tokio::signal::ctrl_c() => { info!("SIGINT: draining"); break; }
        }
    }
    crate::notify::stopping();
    app.shutdown(grace).await;
    Ok(())
}
