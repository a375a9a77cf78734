//! The dispatcher: [`Acd::run`] routes when something makes it possible, and stops the call
//! tasks when contactd stops.

use tokio::sync::watch;
use tracing::{debug, warn};

use super::views::need;
use super::{offer, rebuild, Acd, Unstored, ALIVE_MS, DISPATCH_RETRY, STOP_WAIT};
use crate::core::values::ChannelUuid;

impl Acd {
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
            if !self.routable() {
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
    pub(super) fn spawn_offer(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
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
                // the operator leg is noted with the reservation, and what the offer
                // reads before it rings comes back with it: the phone rings one Redis
                // round trip sooner
                let leg = ChannelUuid::new_random();
                match self
                    .inner
                    .store
                    .reserve_offer(
                        name,
                        need(q),
                        self.now_ms(),
                        &self.inner.instance,
                        "",
                        leg.as_str(),
                    )
                    .await
                {
                    Ok(Some((r, start))) => {
                        debug!(call = %r.call, operator = %r.agent, queue = %name, "offer");
                        self.spawn_offer(offer::run(
                            self.clone(),
                            name.clone(),
                            r,
                            Some((leg, start)),
                        ));
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
}
