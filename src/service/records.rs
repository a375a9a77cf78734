//! Turns what the switch links report into durable records and shared live state:
//! channels in Redis, call rows in PostgreSQL, line leases released when channels end,
//! and — after every resync — everything reconciled against the switch's own list.
//!
//! It is the only writer of those keys and columns from the event stream.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tracing::{info, warn};
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::Config;
use crate::core::call::CallState;
use crate::core::channels::{HangupInfo, SwitchEvent};
use crate::esl::control::NodeEvent;
use crate::store::postgres::{from_micros, CallEnd, Calls};
use crate::store::redis::{LiveState, LiveWrite};
use crate::store::StoreError;

pub struct Records {
    pub calls: Calls,
    pub live: LiveState,
    pub config: Arc<Config>,
    /// For ends the switch gave no time of (or that contactd could not see).
    pub clock: Clock,
}

/// The most events written per wake-up: every event already queued is taken (the switch
/// link waits when the queue is full), bounded so one statement stays small.
const BATCH: usize = 512;

impl Records {
    /// Consumes node events until every link has stopped.
    pub async fn run(self, mut rx: mpsc::Receiver<NodeEvent>) {
        // A resync whose PostgreSQL part could not run yet (the database is away, or
        // spooled writes of these calls still wait): retried until it has, per node.
        let mut owed: HashMap<String, NodeEvent> = HashMap::new();
        let mut batch = Vec::with_capacity(BATCH);
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
            batch.push(ev);
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(ev) => batch.push(ev),
                    Err(_) => break,
                }
            }
            self.handle_batch(&batch, &mut owed).await;
            batch.clear();
        }
    }

    /// Writes each run of switch events together; a resync or a link's loss between them
    /// keeps its place (a resync reconciles only what came before it).
    async fn handle_batch(&self, batch: &[NodeEvent], owed: &mut HashMap<String, NodeEvent>) {
        let mut i = 0;
        while i < batch.len() {
            let run = batch[i..]
                .iter()
                .take_while(|e| matches!(e, NodeEvent::Event { .. }))
                .count();
            if run > 0 {
                self.on_events(&batch[i..i + run]).await;
                i += run;
                continue;
            }
            let ev = &batch[i];
            i += 1;
            // A store hiccup must not kill the loop; the next resync repairs what was missed.
            if let Err(e) = self.handle(ev).await {
                if let (NodeEvent::Resynced { node, .. }, true) = (ev, e.is_retryable()) {
                    warn!(switch = %node, "reconciling with the switch postponed: {e}");
                    owed.insert(node.clone(), ev.clone());
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
            NodeEvent::Event { .. } => {
                self.on_events(std::slice::from_ref(ev)).await;
                Ok(())
            }
        }
    }

    /// Records a run of switch events: Redis first, in one round trip (line leases given
    /// back the moment the batch is read, so the dialer reuses them at once), then the
    /// PostgreSQL rows, one statement per kind in the order a call's events need — answers,
    /// the applications' responses, ends. PostgreSQL never waits on Redis: a lease that
    /// cannot be released now is rebuilt from the switch once Redis is back.
    async fn on_events(&self, run: &[NodeEvent]) {
        let mut live = Vec::new();
        let mut answers = Vec::new();
        let mut responses = Vec::new();
        let mut ends = Vec::new();
        // calls ended earlier in the run: an answer reported after its end changes nothing,
        // as when written one at a time
        let mut ended = HashSet::new();
        let now = self.clock.now();
        for ev in run {
            let NodeEvent::Event { node, event } = ev else {
                continue;
            };
            match event {
                SwitchEvent::Create(c) => live.push(LiveWrite::ChannelUp {
                    node,
                    uuid: &c.uuid,
                    info: format!("{}|{}", c.direction, c.name),
                }),
                SwitchEvent::Rename { old, new } => {
                    live.push(LiveWrite::ChannelDown { node, uuid: old });
                    live.push(LiveWrite::ChannelUp {
                        node,
                        uuid: new,
                        info: "renamed".into(),
                    });
                }
                SwitchEvent::Answer { uuid, at_us } => {
                    if let Ok(u) = Uuid::parse_str(uuid) {
                        if !ended.contains(&u) {
                            answers.push((u, from_micros(*at_us).unwrap_or(now)));
                        }
                    }
                }
                SwitchEvent::Hangup(h) if h.complete => {
                    match (&h.trunk, &h.budget) {
                        (Some(trunk), Some(budget)) => live.push(LiveWrite::Release {
                            trunk,
                            budget,
                            uuid: &h.uuid,
                            guard: self
                                .config
                                .trunk
                                .get(trunk)
                                .map(|t| t.release_guard())
                                .unwrap_or_default(),
                        }),
                        _ => self.live.forget_held(&h.uuid),
                    }
                    live.push(LiveWrite::ChannelDown {
                        node,
                        uuid: &h.uuid,
                    });
                    if let Some(end) = self.end_of(h, now) {
                        ended.insert(end.uuid);
                        ends.push(end);
                    }
                }
                SwitchEvent::Destroy { uuid } => live.push(LiveWrite::ChannelDown { node, uuid }),
                SwitchEvent::ExecuteComplete {
                    uuid,
                    application,
                    response,
                    ..
                } if application == "playback" => {
                    if let Ok(u) = Uuid::parse_str(uuid) {
                        responses.push((u, response.as_str()));
                    }
                }
                _ => {}
            }
        }
        if let Err(e) = self.live.apply(&live).await {
            warn!("Redis: {e}; line leases will be rebuilt from the switch");
            self.live.mark_dirty();
        }
        let written = [
            ("answers", self.calls.mark_answered_all(&answers).await),
            (
                "application responses",
                self.calls.set_app_responses(&responses).await,
            ),
            ("ends", self.calls.record_ends(&ends).await),
        ];
        for (what, r) in written {
            if let Err(e) = r {
                warn!(calls = run.len(), "recording the calls' {what}: {e}");
            }
        }
    }

    /// The call row's end as the hang-up reports it (`now` for an end the switch gave no
    /// time of).
    fn end_of<'a>(&self, h: &'a HangupInfo, now: DateTime<Utc>) -> Option<CallEnd<'a>> {
        let uuid = Uuid::parse_str(&h.uuid).ok()?;
        let answered_at = h.answered_at_us.and_then(from_micros);
        let hungup_by = if h.cause == "SYSTEM_SHUTDOWN" {
            "switch"
        } else {
            "unknown"
        };
        Some(CallEnd {
            uuid,
            cause: &h.cause,
            q850: h.q850,
            billsec: h.billsec.map(|b| b as i32),
            answered_at,
            ended_at: h.ended_at_us.and_then(from_micros).unwrap_or(now),
            hungup_by,
            state: CallState::end(answered_at.is_some()).as_str(),
        })
    }

    /// The switch's list is the truth: Redis channels are replaced, leases of channels that
    /// no longer exist are released, and open call rows without a channel are closed with
    /// the cause `UNKNOWN` (their end happened while contactd could not see it).
    async fn reconcile(
        &self,
        node: &str,
        rows: &[crate::core::channels::SnapshotRow],
        taken_at: DateTime<Utc>,
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
        taken_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let chans: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r.uuid.clone(), format!("{}|{}", r.direction, r.name)))
            .collect();
        self.live.replace_channels(node, &chans).await?;
        let live: Vec<String> = rows.iter().map(|r| r.uuid.clone()).collect();
        for (name, trunk) in &self.config.trunk {
            if trunk.switch == node {
                let dropped = crate::service::leases::drop_ended_while_away(
                    &self.live, name, taken_at, &live,
                )
                .await?;
                if dropped > 0 {
                    info!(trunk = %name, dropped, "released line leases of channels that ended while disconnected");
                }
            }
        }
        Ok(())
    }
}
