//! Keeps the line leases in Redis trustworthy. The leases are the only thing that stops a
//! campaign from holding more lines than it has, or all campaigns more than a trunk's
//! channels; if Redis loses them (a restart without persistence, a failover that dropped
//! the last writes) or a release could not be written, the counts are wrong. So:
//! whenever the mark `leases:trusted` is missing or a lease write failed, dialing stops
//! (the acquire script refuses without the mark), and the leases are rebuilt from the
//! switches' own channel lists plus the originates this process has on their way, before
//! any new line is granted.
//!
//! And every 30 s, while the leases are trusted, each switch's channel list is compared with
//! the leases of its trunks: a lease a minute old whose channel the switch does not have is
//! dropped. That is the line of a holder that died between taking it and its originate (an
//! instance SIGKILLed mid-batch: no other instance knows the call was never placed) or of a
//! call whose end no instance read; without the audit it stays taken until the switch's next
//! reconnect, a line lost per such call.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::esl::control::{LinkStatus, SwitchLink};
use crate::store::redis::{DropCutoffs, Lease, LiveState};
use crate::store::StoreError;

pub struct LeaseGuard {
    pub live: LiveState,
    pub links: Vec<SwitchLink>,
    /// Each trunk's name and its switch's: the leases the audit checks against each list.
    pub trunks: Vec<(String, String)>,
    /// The longest release guard of the trunks: how long a rebuild waits between taking
    /// the mark away and reading the switches' channel lists.
    pub settle: Duration,
}

/// An originate older than this that the switch does not list has ended (a ring never
/// lasts this long without the channel existing).
const IN_FLIGHT: Duration = Duration::from_secs(20);

/// How often the mark is looked at when nothing else wakes the guard.
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// How often the leases are compared with the switches' channel lists.
const AUDIT_EVERY: Duration = Duration::from_secs(30);

/// A lease at least this old whose channel the switch does not list is dead. Three times
/// [`IN_FLIGHT`]: a holder that is alive sends its originate right after its batch's
/// PostgreSQL commit, and a server that is away fails that commit within the pool's
/// timeouts (seconds), giving the line back. (A server that accepts the commit and then
/// stalls over a minute mid-statement is the case this does not cover.)
pub const STALE: Duration = Duration::from_secs(60);

/// After a resync with a switch (its channel list `live`, read at `taken_at`): the leases
/// of `trunk` whose channels ended while nobody here could see them are released. This
/// process's own, and a dead earlier process's of this instance, are known exactly: every
/// one granted before the list was read. Another instance's line may be for an originate
/// it has on its way (granted, its PostgreSQL batch committing, the switch not listing the
/// channel yet): only one older than [`IN_FLIGHT`] is taken for ended; a younger one is its
/// holder's to give back (or the audit's, if that holder died).
pub async fn drop_ended_while_away(
    state: &LiveState,
    trunk: &str,
    taken_at: chrono::DateTime<chrono::Utc>,
    live: &[String],
) -> Result<usize, StoreError> {
    let me = state.holder().to_string();
    let (budgets, holders) = state.lease_parties(trunk).await?;
    let mut settled: Vec<String> = holders
        .into_iter()
        .filter(|h| {
            *h == me
                || crate::core::driver_lease::earlier_process(
                    &me,
                    h,
                    crate::service::campaign_lease::process_alive,
                )
        })
        .collect();
    if !me.is_empty() && !settled.contains(&me) {
        settled.push(me);
    }
    let cut = DropCutoffs {
        settled,
        settled_before: taken_at,
        others_before: taken_at - chrono::TimeDelta::from_std(IN_FLIGHT).expect("seconds"),
    };
    state.drop_dead_leases(trunk, &budgets, &cut, live).await
}

impl LeaseGuard {
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut statuses: Vec<_> = self.links.iter().map(|l| l.watch_status()).collect();
        let mut next_audit = tokio::time::Instant::now() + AUDIT_EVERY;
        loop {
            let all_up = self
                .links
                .iter()
                .all(|l| l.status() == LinkStatus::Connected);
            if all_up {
                let dirty = self.live.take_dirty();
                match self.live.leases_trusted().await {
                    Ok(true) if !dirty => {
                        if tokio::time::Instant::now() >= next_audit {
                            next_audit = tokio::time::Instant::now() + AUDIT_EVERY;
                            if let Err(e) = self.audit(chrono::Utc::now()).await {
                                warn!("line leases not checked against the switches: {e}");
                            }
                        }
                    }
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

    /// Drops the leases taken [`STALE`] before `now` whose channels the switches do not
    /// list (this process's originates in flight excepted); a switch this instance cannot
    /// reach is left alone. Returns how many were dropped.
    pub async fn audit(&self, now: chrono::DateTime<chrono::Utc>) -> Result<usize, String> {
        let before = now - chrono::TimeDelta::from_std(STALE).expect("a minute");
        let held: Vec<String> = self
            .live
            .held()
            .into_iter()
            .filter(|(_, age)| *age < STALE)
            .map(|(l, _)| l.uuid)
            .collect();
        let mut dropped = 0;
        for link in &self.links {
            let Ok(rows) = link.channels().await else {
                continue; // its reconnect resyncs it
            };
            let mut live: Vec<String> = rows.into_iter().map(|r| r.uuid).collect();
            live.extend(held.iter().cloned());
            for (trunk, _) in self.trunks.iter().filter(|(_, sw)| sw == link.name()) {
                let owners = self
                    .live
                    .lease_owners(trunk)
                    .await
                    .map_err(|e| e.to_string())?;
                if owners.is_empty() {
                    continue;
                }
                let n = self
                    .live
                    .drop_dead_leases(trunk, &owners, &DropCutoffs::all_before(before), &live)
                    .await
                    .map_err(|e| e.to_string())?;
                if n > 0 {
                    warn!(
                        trunk = %trunk,
                        dropped = n,
                        "line leases given back: their calls are not on the switch (a holder stopped before its originate, or their end was not read)"
                    );
                }
                dropped += n;
            }
        }
        Ok(dropped)
    }

    /// Every lease again, from the switches' channel lists and this process's own
    /// originates in flight.
    async fn rebuild(&self) -> Result<(), String> {
        self.live
            .distrust_leases()
            .await
            .map_err(|e| e.to_string())?;
        // A channel hung up just before is still clearing on its card (the trunk's release
        // guard), and its guard may be what Redis lost (a failover drops the last writes, a
        // restart all): the switch no longer lists it, so a rebuild right away would count
        // its line free and the next originate would find the span full. No line is granted
        // from here until the rebuild ends, so waiting out the longest guard first lets
        // every channel released before this point finish clearing; those released later
        // write their guards into this Redis.
        tokio::time::sleep(self.settle).await;
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
