//! The read side for the HTTP API and the callers' announcements: screen pops, queues,
//! operators, estimated waits.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tracing::debug;

use super::{ms_to_time, Acd, AcdError, OperatorView, QueueView, ScreenPop};
use crate::core::acd::agent::StateName;
use crate::core::acd::routing::Need;

impl Acd {
    /// Screen pops for one operator.
    pub fn subscribe(&self, login: &str) -> broadcast::Receiver<Arc<ScreenPop>> {
        self.inner
            .pops
            .lock()
            .expect("pops")
            .entry(login.to_string())
            .or_insert_with(|| broadcast::channel(16).0)
            .subscribe()
    }

    pub(crate) fn publish(&self, pop: ScreenPop) {
        let pop = Arc::new(pop);
        if let Some(tx) = self.inner.pops.lock().expect("pops").get(&pop.operator) {
            let _ = tx.send(pop.clone());
        }
        if let Some(w) = &self.inner.webhook {
            w.send(pop);
        }
    }

    pub async fn queues(&self) -> Result<Vec<QueueView>, AcdError> {
        let agents = self.inner.store.agents().await?;
        let skills = self.inner.store.skills().await?;
        let mut out = Vec::new();
        for (name, q) in &self.cfg().queue {
            let ready = count_operators(&agents, &skills, need(q), |s| s == StateName::Ready);
            out.push(QueueView {
                name: name.clone(),
                group: q.group.clone(),
                waiting: self.inner.store.waiting(name).await?,
                max_waiting: q.max_waiting,
                ready_operators: ready,
            });
        }
        Ok(out)
    }

    pub async fn operators(&self) -> Result<Vec<OperatorView>, AcdError> {
        let agents: HashMap<_, _> = self.inner.store.agents().await?.into_iter().collect();
        let mut out = Vec::new();
        for op in self.inner.operators.list().await? {
            let info = agents.get(&op.login);
            let skills = self
                .inner
                .operators
                .skills(op.id)
                .await?
                .into_iter()
                .map(|(g, l)| (g, l.clamp(0, 10) as u8))
                .collect();
            out.push(OperatorView {
                state: info
                    .map_or(StateName::LoggedOut, |i| i.state)
                    .key()
                    .to_string(),
                since: info.map(|i| ms_to_time(i.at_ms).to_rfc3339()),
                call: info.and_then(|i| i.call.clone()),
                login: op.login,
                name: op.name,
                endpoint: op.endpoint,
                skills,
            });
        }
        Ok(out)
    }

    /// Estimated wait for the caller at `position`: the callers ahead share the operators
    /// who take the queue, each call lasting the average handle time.
    pub(crate) async fn estimated_wait(&self, queue: &str, position: u64) -> Duration {
        // The operators routing would offer this queue's calls to, at work now.
        let staffed = match (
            self.cfg().queue.get(queue),
            self.inner.store.agents().await,
            self.inner.store.skills().await,
        ) {
            (Some(q), Ok(a), Ok(s)) => count_operators(&a, &s, need(q), StateName::staffed),
            _ => 0,
        };
        let aht = self.average_handle(queue).await;
        crate::core::acd::queue::estimate_wait(position, staffed, aht)
    }

    /// The queue's average handle time (talk + after-call work) over its last answered
    /// calls, read at most once a minute; the configured default until there are any.
    async fn average_handle(&self, queue: &str) -> Duration {
        let fresh = Duration::from_secs(60);
        if let Some((at, aht)) = self.inner.aht.lock().expect("aht").get(queue) {
            if self.inner.clock.since(*at) < fresh {
                return *aht;
            }
        }
        let default = Duration::from_secs(self.cfg().default_handle_seconds);
        let aht = match self.inner.records.average_handle_s(queue, 50).await {
            Ok(Some(s)) if s > 0.0 => Duration::from_secs_f64(s),
            Ok(_) => default,
            Err(e) => {
                debug!(queue, "acd: average handle time: {e}");
                default
            }
        };
        self.inner
            .aht
            .lock()
            .expect("aht")
            .insert(queue.to_string(), (self.inner.clock.instant(), aht));
        aht
    }
}

/// Who takes a configured queue's calls.
pub(super) fn need(q: &crate::config::AcdQueueConfig) -> Need<'_> {
    Need {
        skill: &q.group,
        min_level: q.min_level,
    }
}

/// How many operators, by one read of the live states and skills, meet `need` (the rule
/// `reserve` applies) and are in a state `in_state` accepts.
pub(super) fn count_operators(
    agents: &[(String, crate::store::acd::AgentInfo)],
    skills: &[(String, String, u8)],
    need: Need<'_>,
    in_state: impl Fn(StateName) -> bool,
) -> usize {
    agents
        .iter()
        .filter(|(a, i)| {
            in_state(i.state)
                && skills
                    .iter()
                    .any(|(sa, g, l)| sa == a && need.met_by(g, *l))
        })
        .count()
}
