//! What the wallboard reads of the live state, in one round trip, and the signal that the
//! live state changed: a local `watch` bumped by this instance's writes, relayed to the
//! other instances over the `acd:board` pub/sub channel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

use crate::store::StoreError;

use super::{AcdStore, AgentInfo, CallInfo};

/// Changes made by this instance: `changes` counts every write to the live state, `ends`
/// the calls that ended (the day's figures move only then).
pub struct BoardSignal {
    changes: watch::Sender<u64>,
    ends: AtomicU64,
}

impl Default for BoardSignal {
    fn default() -> Self {
        Self {
            changes: watch::channel(0).0,
            ends: AtomicU64::new(0),
        }
    }
}

impl BoardSignal {
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Calls ended through this instance so far.
    pub fn ends(&self) -> u64 {
        self.ends.load(Ordering::Relaxed)
    }

    fn bump(&self) {
        // send_modify wakes the receivers even when none is there yet to read it.
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// One consistent-enough read of every queue's callers and every operator.
#[derive(Debug, Clone, Default)]
pub struct LiveBoard {
    /// Each queue asked for, with its callers head first.
    pub queues: Vec<(String, Vec<String>)>,
    /// `acd:calls`: every call in the ACD (waiting, ringing or talking).
    pub calls: HashMap<String, CallInfo>,
    pub agents: Vec<(String, AgentInfo)>,
    /// `(operator, skill, level)`.
    pub skills: Vec<(String, String, u8)>,
}

impl AcdStore {
    pub fn signal(&self) -> &BoardSignal {
        &self.signal
    }

    pub(super) fn changed(&self) {
        self.signal.bump();
    }

    pub(super) fn changed_call_end(&self) {
        self.signal.ends.fetch_add(1, Ordering::Relaxed);
        self.signal.bump();
    }

    fn board_channel(&self) -> String {
        self.key("board")
    }

    /// Tells the other instances' wallboards that the live state changed (`instance` names
    /// the sender, which ignores its own message).
    pub async fn publish_board_change(&self, instance: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("PUBLISH")
            .arg(self.board_channel())
            .arg(instance)
            .query_async::<i64>(&mut c)
            .await?;
        Ok(())
    }

    /// The other instances' changes: a stream of the senders' names that ends when the
    /// connection does.
    pub async fn board_changes(
        &self,
    ) -> Result<impl futures_util::Stream<Item = String> + Send + use<>, StoreError> {
        let mut pubsub = self.conn.client().get_async_pubsub().await?;
        pubsub.subscribe(self.board_channel()).await?;
        Ok(futures_util::StreamExt::map(
            pubsub.into_on_message(),
            |m| m.get_payload::<String>().unwrap_or_default(),
        ))
    }

    /// Callers of `queues`, the calls' places, operators and skills: one pipeline, whatever
    /// the number of callers.
    pub async fn board(&self, queues: &[String]) -> Result<LiveBoard, StoreError> {
        let mut c = self.conn.clone();
        let mut pipe = redis::pipe();
        for q in queues {
            pipe.cmd("ZRANGE").arg(self.queue_key(q)).arg(0).arg(-1);
        }
        pipe.cmd("HGETALL").arg(self.key("calls"));
        pipe.cmd("HGETALL").arg(self.key("agents"));
        pipe.cmd("HGETALL").arg(self.key("skills"));
        let mut replies: Vec<redis::Value> = pipe.query_async(&mut c).await?;
        let mut next_map = || -> Result<HashMap<String, String>, redis::RedisError> {
            Ok(redis::from_redis_value(
                replies.pop().unwrap_or(redis::Value::Nil),
            )?)
        };
        let skills = next_map()?;
        let agents = next_map()?;
        let calls = next_map()?;
        let mut board = LiveBoard::default();
        for (q, v) in queues.iter().zip(replies) {
            let callers: Vec<String> =
                redis::from_redis_value(v).map_err(redis::RedisError::from)?;
            board.queues.push((q.clone(), callers));
        }
        board.calls = calls
            .into_iter()
            .filter_map(|(k, v)| CallInfo::parse(&v).map(|i| (k, i)))
            .collect();
        board.agents = agents
            .into_iter()
            .filter_map(|(k, v)| AgentInfo::parse(&v).map(|i| (k, i)))
            .collect();
        board.agents.sort_by(|a, b| a.0.cmp(&b.0));
        board.skills = skills
            .into_iter()
            .filter_map(|(k, v)| {
                let (a, s) = k.split_once('|')?;
                Some((a.to_string(), s.to_string(), v.parse().ok()?))
            })
            .collect();
        Ok(board)
    }
}
