//! Keeps the line leases in Redis trustworthy. The leases are the only thing that stops a
//! campaign from holding more lines than it has, or all campaigns more than a trunk's
//! channels; if Redis loses them (a restart without persistence, a failover that dropped
//! the last writes) or a release could not be written, the counts are wrong. So:
//! whenever the mark `leases:trusted` is missing or a lease write failed, dialing stops
//! (the acquire script refuses without the mark), and the leases are rebuilt from the
//! switches' own channel lists plus the originates this process has on their way, before
//! any new line is granted.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::esl::control::{LinkStatus, SwitchLink};
use crate::store::redis::{Lease, LiveState};

pub struct LeaseGuard {
    pub live: LiveState,
    pub links: Vec<SwitchLink>,
}

/// An originate older than this that the switch does not list has ended (a ring never
/// lasts this long without the channel existing).
const IN_FLIGHT: Duration = Duration::from_secs(20);

/// How often the mark is looked at when nothing else wakes the guard.
const CHECK_EVERY: Duration = Duration::from_millis(500);

impl LeaseGuard {
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut statuses: Vec<_> = self.links.iter().map(|l| l.watch_status()).collect();
        loop {
            let all_up = self
                .links
                .iter()
                .all(|l| l.status() == LinkStatus::Connected);
            if all_up {
                let dirty = self.live.take_dirty();
                match self.live.leases_trusted().await {
                    Ok(true) if !dirty => {}
                    Ok(_) => {
                        if let Err(e) = self.rebuild().await {
                            // Stays untrusted (no lines granted) and is tried again.
                            self.live.mark_dirty();
                            warn!("line leases not rebuilt yet: {e}");
                        }
                    }
                    Err(e) => {
                        self.live.mark_dirty();
                        warn!("Redis unavailable, no new lines until the leases are rebuilt: {e}");
                    }
                }
            }
            let changed = futures_util::future::select_all(
                statuses.iter_mut().map(|w| Box::pin(w.changed())),
            );
            tokio::select! {
                _ = tokio::time::sleep(CHECK_EVERY) => {}
                _ = changed => {}
                _ = self.live.dirty_notified() => {}
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    }

    /// Every lease again, from the switches' channel lists and this process's own
    /// originates in flight.
    async fn rebuild(&self) -> Result<(), String> {
        self.live
            .distrust_leases()
            .await
            .map_err(|e| e.to_string())?;
        let held = self.live.held();
        let mut leases: Vec<Lease> = Vec::new();
        let mut live = std::collections::HashSet::new();
        for link in &self.links {
            let rows = link.channels().await.map_err(|e| e.to_string())?;
            for row in rows {
                live.insert(row.uuid.clone());
                if let Some((l, _)) = held.iter().find(|(l, _)| l.uuid == row.uuid) {
                    leases.push(l.clone());
                    continue;
                }
                // Only channels contactd placed on a trunk carry both variables.
                let trunk = link
                    .getvar(&row.uuid, "contactd_trunk")
                    .await
                    .map_err(|e| e.to_string())?;
                let budget = link
                    .getvar(&row.uuid, "contactd_budget")
                    .await
                    .map_err(|e| e.to_string())?;
                if let (Some(trunk), Some(budget)) = (trunk, budget) {
                    leases.push(Lease {
                        uuid: row.uuid,
                        trunk,
                        budget,
                    });
                }
            }
        }
        // An originate of ours not on the switch yet still needs its line; an old one that
        // is not there ended unseen and is forgotten.
        for (l, age) in held {
            if live.contains(&l.uuid) {
                continue;
            }
            if age < IN_FLIGHT {
                leases.push(l);
            } else {
                self.live.forget_held(&l.uuid);
            }
        }
        let n = self
            .live
            .rebuild_leases(&leases)
            .await
            .map_err(|e| e.to_string())?;
        info!(
            leases = n,
            "line leases rebuilt from the switches' channel lists"
        );
        Ok(())
    }
}
