//! Turns what the switch links report into durable records and shared live state:
//! channels in Redis, call rows in PostgreSQL, line leases released when channels end,
//! and — after every resync — everything reconciled against the switch's own list.
//!
//! It is the only writer of those keys and columns from the event stream.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc;
use tracing::{info, warn};
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::Config;
use crate::core::call::CallState;
use crate::core::channels::{HangupInfo, SwitchEvent};
use crate::esl::control::NodeEvent;
use crate::store::postgres::{from_micros, CallEnd, Calls};
use crate::store::redis::LiveState;
use crate::store::StoreError;

pub struct Records {
    pub calls: Calls,
    pub live: LiveState,
    pub config: Arc<Config>,
    /// For ends the switch gave no time of (or that contactd could not see).
    pub clock: Clock,
}

impl Records {
    /// Consumes node events until every link has stopped.
    pub async fn run(self, mut rx: mpsc::Receiver<NodeEvent>) {
        // A resync whose PostgreSQL part could not run yet (the database is away, or
        // spooled writes of these calls still wait): retried until it has, per node.
        let mut owed: HashMap<String, NodeEvent> = HashMap::new();
        loop {
            let ev = if owed.is_empty() {
                rx.recv().await
            } else {
                tokio::select! {
                    ev = rx.recv() => ev,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {
                        for (node, ev) in std::mem::take(&mut owed) {
                            if let Err(e) = self.handle(&ev).await {
                                if e.is_retryable() {
                                    owed.insert(node, ev);
                                } else {
                                    warn!(switch = %node, "reconciling with the switch: {e}");
                                }
                            }
                        }
                        continue;
                    }
                }
            };
            let Some(ev) = ev else { return };
            // A store hiccup must not kill the loop; the next resync repairs what was missed.
            if let Err(e) = self.handle(&ev).await {
                if let (NodeEvent::Resynced { node, .. }, true) = (&ev, e.is_retryable()) {
                    warn!(switch = %node, "reconciling with the switch postponed: {e}");
                    owed.insert(node.clone(), ev);
                } else {
                    warn!("recording {ev:?}: {e}");
                }
            }
        }
    }

    pub async fn handle(&self, ev: &NodeEvent) -> Result<(), StoreError> {
        match ev {
            NodeEvent::Resynced {
                node,
                rows,
                taken_at,
            } => self.reconcile(node, rows, *taken_at).await,
            NodeEvent::Disconnected { node, reason } => {
                self.calls.log_link(node, "down", reason, None).await
            }
            NodeEvent::Event { node, event } => self.on_event(node, event).await,
        }
    }

    async fn on_event(&self, node: &str, event: &SwitchEvent) -> Result<(), StoreError> {
        match event {
            SwitchEvent::Create(c) => {
                let info = format!("{}|{}", c.direction, c.name);
                self.redis(self.live.channel_up(node, &c.uuid, &info).await);
                Ok(())
            }
            SwitchEvent::Rename { old, new } => {
                self.redis(self.live.channel_down(node, old).await);
                self.redis(self.live.channel_up(node, new, "renamed").await);
                Ok(())
            }
            SwitchEvent::Answer { uuid, at_us } => match Uuid::parse_str(uuid) {
                Ok(u) => {
                    let at = from_micros(*at_us).unwrap_or_else(|| self.clock.now());
                    self.calls.mark_answered(u, at).await
                }
                Err(_) => Ok(()),
            },
            // PostgreSQL never waits on Redis: a lease that cannot be released now is
            // rebuilt from the switch once Redis is back.
            SwitchEvent::Hangup(h) if h.complete => {
                self.redis(self.release(h).await);
                self.redis(self.live.channel_down(node, &h.uuid).await);
                self.record_end(h).await
            }
            SwitchEvent::Destroy { uuid } => {
                self.redis(self.live.channel_down(node, uuid).await);
                Ok(())
            }
            SwitchEvent::ExecuteComplete {
                uuid,
                application,
                response,
                ..
            } if application == "playback" => match Uuid::parse_str(uuid) {
                Ok(u) => self.calls.set_app_response(u, response).await,
                Err(_) => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// A Redis write that failed: the live state is rebuilt from the switch before it is
    /// trusted again (dialing waits meanwhile).
    fn redis(&self, r: Result<(), StoreError>) {
        if let Err(e) = r {
            warn!("Redis: {e}; line leases will be rebuilt from the switch");
            self.live.mark_dirty();
        }
    }

    async fn release(&self, h: &HangupInfo) -> Result<(), StoreError> {
        if let (Some(trunk), Some(budget)) = (&h.trunk, &h.budget) {
            self.live.release_line(trunk, budget, &h.uuid).await?;
        } else {
            self.live.forget_held(&h.uuid);
        }
        Ok(())
    }

    async fn record_end(&self, h: &HangupInfo) -> Result<(), StoreError> {
        let Ok(uuid) = Uuid::parse_str(&h.uuid) else {
            return Ok(());
        };
        let answered_at = h.answered_at_us.and_then(from_micros);
        let hungup_by = if h.cause == "SYSTEM_SHUTDOWN" {
            "switch"
        } else {
            "unknown"
        };
        self.calls
            .record_end(&CallEnd {
                uuid,
                cause: &h.cause,
                q850: h.q850,
                billsec: h.billsec.map(|b| b as i32),
                answered_at,
                ended_at: h
                    .ended_at_us
                    .and_then(from_micros)
                    .unwrap_or_else(|| self.clock.now()),
                hungup_by,
                state: CallState::end(answered_at.is_some()).as_str(),
            })
            .await
    }

    /// The switch's list is the truth: Redis channels are replaced, leases of channels that
    /// no longer exist are released, and open call rows without a channel are closed with
    /// the cause `UNKNOWN` (their end happened while contactd could not see it).
    async fn reconcile(
        &self,
        node: &str,
        rows: &[crate::core::channels::SnapshotRow],
        taken_at: chrono::DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let n = rows.len();
        if self.calls.backlog() > 0 {
            // Their real ends may be among the spooled writes: close nothing as UNKNOWN
            // before those are in.
            return Err(StoreError::Unavailable(
                "record writes still spooled".into(),
            ));
        }
        if let Err(e) = self.reconcile_redis(node, rows, taken_at).await {
            warn!(switch = %node, "Redis: {e}; line leases will be rebuilt from the switch");
            self.live.mark_dirty();
        }
        let live_set: HashSet<&str> = rows.iter().map(|r| r.uuid.as_str()).collect();
        let mut closed = 0;
        for uuid in self.calls.open_on(node, taken_at).await? {
            if !live_set.contains(uuid.to_string().as_str()) {
                let ended = self
                    .calls
                    .mark_ended(&CallEnd {
                        uuid,
                        cause: "UNKNOWN",
                        q850: None,
                        billsec: None,
                        answered_at: None,
                        ended_at: self.clock.now(),
                        hungup_by: "unknown",
                        state: CallState::Ended.as_str(),
                    })
                    .await?;
                closed += usize::from(ended);
            }
        }
        info!(switch = %node, live = n, closed, "reconciled with the switch's channel list");
        self.calls
            .log_link(node, "resynced", "", Some(n as i32))
            .await
    }

    async fn reconcile_redis(
        &self,
        node: &str,
        rows: &[crate::core::channels::SnapshotRow],
        taken_at: chrono::DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let chans: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r.uuid.clone(), format!("{}|{}", r.direction, r.name)))
            .collect();
        self.live.replace_channels(node, &chans).await?;
        let live: Vec<String> = rows.iter().map(|r| r.uuid.clone()).collect();
        for (name, trunk) in &self.config.trunk {
            if trunk.switch == node {
                let budgets = self.live_budgets(name).await?;
                let dropped = self
                    .live
                    .drop_dead_leases(name, &budgets, taken_at, &live)
                    .await?;
                if dropped > 0 {
                    info!(trunk = %name, dropped, "released line leases of channels that ended while disconnected");
                }
            }
        }
        Ok(())
    }

    /// Budgets that hold leases on `trunk` (the campaign names stored as lease values).
    async fn live_budgets(&self, trunk: &str) -> Result<Vec<String>, StoreError> {
        self.live.lease_owners(trunk).await
    }
}
