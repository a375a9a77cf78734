//! The line leases recounted against the switches: a resync's and the audit's release of
//! leases whose channels are gone, and the rebuild after Redis lost them (with the mark that
//! says the counts can be trusted). The grants and releases themselves are in the parent.

use std::sync::atomic::Ordering;

use redis::Script;

use super::super::postgres::StoreError;
use super::super::redis_scripts::{DROP_DEAD_LEASES, REBUILD_LEASES};
use super::{Lease, LiveState};

/// Which leases [`LiveState::drop_dead_leases`] may release.
#[derive(Debug, Clone)]
pub struct DropCutoffs {
    /// Holders whose leases are known exactly: this process, dead earlier processes.
    pub settled: Vec<String>,
    pub settled_before: chrono::DateTime<chrono::Utc>,
    pub others_before: chrono::DateTime<chrono::Utc>,
}

impl DropCutoffs {
    /// One cutoff for every lease, whoever holds it.
    pub fn all_before(at: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            settled: Vec::new(),
            settled_before: at,
            others_before: at,
        }
    }
}

/// A lease's budget and holder: `budget|holder|ms`, or `budget|ms` (holder unknown).
fn parse_lease_value(v: &str) -> (String, Option<String>) {
    let mut parts = v.split('|');
    let budget = parts.next().unwrap_or_default().to_string();
    let rest: Vec<&str> = parts.collect();
    let holder = (rest.len() == 2 && !rest[0].is_empty()).then(|| rest[0].to_string());
    (budget, holder)
}

impl LiveState {
    /// Leases of `trunk` whose channel the switch no longer lists (not in `live`) are
    /// released: those granted before `cut.settled_before` to a holder in `cut.settled` (or
    /// an unknown one), those granted before `cut.others_before` to any other.
    pub async fn drop_dead_leases(
        &self,
        trunk: &str,
        budgets: &[String],
        cut: &DropCutoffs,
        live: &[String],
    ) -> Result<usize, StoreError> {
        let mut c = self.conn.clone();
        let script = Script::new(DROP_DEAD_LEASES);
        let mut inv = script.key(self.key(&["trunk", trunk, "leases"]));
        for b in budgets {
            inv.key(self.key(&["budget", b, "leases"]));
        }
        inv.arg(cut.settled_before.timestamp_millis())
            .arg(cut.others_before.timestamp_millis())
            .arg(cut.settled.len());
        for h in &cut.settled {
            inv.arg(h);
        }
        for u in live {
            inv.arg(u);
        }
        Ok(inv.invoke_async::<usize>(&mut c).await?)
    }

    /// Distinct budgets (campaigns) holding leases on `trunk`.
    pub async fn lease_owners(&self, trunk: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.lease_parties(trunk).await?.0)
    }

    /// From one read of `trunk`'s leases: the distinct budgets (campaigns) holding them, and
    /// their distinct holders (the known ones: written with a holder).
    pub async fn lease_parties(
        &self,
        trunk: &str,
    ) -> Result<(Vec<String>, Vec<String>), StoreError> {
        let (mut budgets, holders): (Vec<String>, Vec<Option<String>>) =
            self.lease_values(trunk).await?.into_iter().unzip();
        let mut holders: Vec<String> = holders.into_iter().flatten().collect();
        for v in [&mut budgets, &mut holders] {
            v.sort();
            v.dedup();
        }
        Ok((budgets, holders))
    }

    /// Each lease of `trunk` as (budget, holder if written).
    async fn lease_values(&self, trunk: &str) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let mut c = self.conn.clone();
        let values: Vec<String> = redis::cmd("HVALS")
            .arg(self.key(&["trunk", trunk, "leases"]))
            .query_async(&mut c)
            .await?;
        Ok(values.iter().map(|v| parse_lease_value(v)).collect())
    }

    /// Asks for a rebuild of the leases before they are trusted again.
    pub fn mark_dirty(&self) {
        self.dirty.0.store(true, Ordering::SeqCst);
        self.dirty.1.notify_one();
    }

    /// Whether a rebuild was asked for (and clears the request).
    pub fn take_dirty(&self) -> bool {
        self.dirty.0.swap(false, Ordering::SeqCst)
    }

    pub async fn dirty_notified(&self) {
        self.dirty.1.notified().await
    }

    /// The leases this process holds, as it knows them, with how long ago each was granted.
    pub fn held(&self) -> Vec<(Lease, std::time::Duration)> {
        self.held
            .lock()
            .expect("held lock")
            .iter()
            .map(|(u, (t, b, at))| {
                (
                    Lease {
                        uuid: u.clone(),
                        trunk: t.clone(),
                        budget: b.clone(),
                    },
                    at.elapsed(),
                )
            })
            .collect()
    }

    /// Forgets a lease this process held whose channel is gone (Redis may be away).
    pub fn forget_held(&self, uuid: &str) {
        self.held.lock().expect("held lock").remove(uuid);
    }

    /// Whether the lease counts can be trusted (the mark a rebuild sets is there).
    pub async fn leases_trusted(&self) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        Ok(redis::cmd("EXISTS")
            .arg(self.key(&["leases", "trusted"]))
            .query_async::<i64>(&mut c)
            .await?
            == 1)
    }

    /// Stops granting lines until [`LiveState::rebuild_leases`] has run.
    pub async fn distrust_leases(&self) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("DEL")
            .arg(self.key(&["leases", "trusted"]))
            .query_async::<()>(&mut c)
            .await?;
        Ok(())
    }

    /// Replaces every lease with `leases` (the switches' live channels plus the originates
    /// on their way) in one step, then marks the counts trusted again.
    pub async fn rebuild_leases(&self, leases: &[Lease]) -> Result<usize, StoreError> {
        let mut c = self.conn.clone();
        let mut keys: Vec<String> = Vec::new();
        for pattern in [
            self.key(&["trunk", "*", "leases"]),
            self.key(&["budget", "*", "leases"]),
        ] {
            let mut cursor: u64 = 0;
            loop {
                let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(500)
                    .query_async(&mut c)
                    .await?;
                keys.extend(found);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        let script = Script::new(REBUILD_LEASES);
        let mut inv = script.key(self.key(&["leases", "trusted"]));
        for k in &keys {
            inv.key(k);
        }
        inv.arg(&self.prefix);
        let now = chrono::Utc::now().timestamp_millis();
        let held: std::collections::HashSet<String> = self
            .held
            .lock()
            .expect("held lock")
            .keys()
            .cloned()
            .collect();
        for l in leases {
            // this process's originates keep its name; a channel found on a switch is
            // live, whoever placed it
            let value = if held.contains(&l.uuid) {
                self.lease_value(&l.budget, now)
            } else {
                format!("{}|{now}", l.budget)
            };
            inv.arg(&l.trunk).arg(&l.budget).arg(&l.uuid).arg(value);
        }
        Ok(inv.invoke_async::<usize>(&mut c).await?)
    }
}
