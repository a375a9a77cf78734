//! Redis: the live ACD state every contactd instance shares — each queue's waiting callers,
//! ready operators, their skills, who is offered which call — and the Lua scripts that change
//! it. Every change that touches more than one key is one script, so two instances routing at
//! once can never offer one operator two calls or one call to two operators.
//!
//! Keys, all under the configured prefix:
//! - `acd:queue:<q>`  sorted set, call → `core::acd::queue::order_score(priority, arrival
//!   seq)`: `ZRANGE 0 0` is the highest priority, earliest arrival.
//! - `acd:calls`      hash, call → `priority|seq|arrived_ms|queue`, for as long as the call is
//!   in the ACD (waiting, ringing or talking); lets a missed call return to its old place.
//! - `acd:ready`      sorted set, operator → idle-since (ms): the longest idle comes first, and
//!   equal scores order by id; who qualifies is `core::acd::routing::Need`.
//! - `acd:skills`     hash, `operator|skill` → level.
//! - `acd:agents`     hash, operator → `state|at_ms|idle_ms|offer|call`; the state is a
//!   `core::acd::agent::StateName`'s live name and every script changes it only as
//!   `core::acd::agent::next` allows (its table is generated into the scripts).
//! - `acd:offers`     hash, call → operator it is offered to or talking with.
//! - `acd:clock`      counter; arrivals, offers and requeues each take the next value, so any
//!   two ACD events (across instances) can be put in order afterwards. If Redis lost it, it
//!   starts again from the milliseconds since 2024 rather than from 0, past every arrival
//!   number handed out before (restored callers keep theirs and so their place).
//! - `acd:offer_by`   hash, call → instance that reserved its current offer (and rings the
//!   phone), so an offer whose instance died can be taken over.
//! - `acd:trusted`    the mark that this live state is complete: set (to a new epoch) once it
//!   was rebuilt from PostgreSQL, the switch and the instances' own callers; a Redis that lost
//!   its data has no mark (see `service::acd::rebuild`).
//! - `acd:kick`       pub/sub channel: an instance that made routing possible (an operator
//!   ready, a caller queued) publishes its name; the others route at once instead of polling.
//! - `acd:dispo_due` hash, operator → the operator-campaign call whose disposition they owe.
//! - `acd:alive:<instance>`  set by each running instance every second, expiring after 3:
//!   a caller or offer whose instance has none was left behind by a dead instance.
//!
//! The scripts compute one key (the operator state) from arguments they also declare; this is
//! a single Redis, not a cluster, so every key lives on the one server.

use std::time::Duration;

use redis::aio::ConnectionManagerConfig;

use super::redis_conn::{RedisConn, RedisTarget};

use super::postgres::StoreError;

mod agents;
mod board;
mod dispositions;
mod meta;
mod queue;
mod recovery;
mod scripts;
mod types;

pub use agents::skill_levels;
pub use board::{BoardSignal, LiveBoard};
pub use types::{agent_value, Abandoned, AgentInfo, CallInfo, Enqueued, OfferStart, Reservation};

#[derive(Clone)]
pub struct AcdStore {
    conn: RedisConn,
    prefix: String,
    /// Bumped after each change this instance made to the live state (the wallboard
    /// follows it, and relays it to the other instances).
    signal: std::sync::Arc<BoardSignal>,
}

impl AcdStore {
    /// Commands fail within about a second while Redis is stopped or frozen, rather than
    /// waiting for the default reconnection backoff (seconds): the callers' tasks and the
    /// IVR's hand-over must go on (music, retries) instead of hanging in a Redis call.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Self::connect_to(RedisTarget::Url(url), prefix).await
    }

    /// [`AcdStore::connect`] to a server or through Redis Sentinel.
    pub async fn connect_to(target: RedisTarget<'_>, prefix: &str) -> Result<Self, StoreError> {
        let cfg = ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(300))
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)));
        Ok(Self {
            conn: RedisConn::open(target, Some(cfg)).await?,
            prefix: prefix.to_string(),
            signal: std::sync::Arc::new(BoardSignal::default()),
        })
    }

    /// The channel instances tell each other on that routing may have work: an operator
    /// became ready, a caller arrived or came back to a queue.
    fn kick_channel(&self) -> String {
        self.key("kick")
    }

    /// Tells the other instances to route now (`instance` names the sender, which ignores
    /// its own message).
    pub async fn publish_kick(&self, instance: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("PUBLISH")
            .arg(self.kick_channel())
            .arg(instance)
            .query_async::<i64>(&mut c)
            .await?;
        Ok(())
    }

    /// Subscribes to the other instances' kicks: a stream of the senders' names that ends
    /// when the connection does.
    pub async fn kicks(
        &self,
    ) -> Result<impl futures_util::Stream<Item = String> + Send + use<>, StoreError> {
        // the current primary's: after a failover the stream ends and is opened again there
        let mut pubsub = self.conn.client().get_async_pubsub().await?;
        pubsub.subscribe(self.kick_channel()).await?;
        Ok(futures_util::StreamExt::map(
            pubsub.into_on_message(),
            |m| m.get_payload::<String>().unwrap_or_default(),
        ))
    }

    fn key(&self, name: &str) -> String {
        format!("{}acd:{name}", self.prefix)
    }

    fn queue_key(&self, queue: &str) -> String {
        self.key(&format!("queue:{queue}"))
    }

    async fn cmd_del(&self, key: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("DEL").arg(key).query_async::<()>(&mut c).await?;
        Ok(())
    }

    async fn hset(&self, hash: &str, field: &str, value: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("HSET")
            .arg(self.key(hash))
            .arg(field)
            .arg(value)
            .query_async::<()>(&mut c)
            .await?;
        Ok(())
    }

    async fn hget(&self, hash: &str, field: &str) -> Result<Option<String>, StoreError> {
        let mut c = self.conn.clone();
        Ok(redis::cmd("HGET")
            .arg(self.key(hash))
            .arg(field)
            .query_async(&mut c)
            .await?)
    }

    async fn hdel(&self, hash: &str, field: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("HDEL")
            .arg(self.key(hash))
            .arg(field)
            .query_async::<()>(&mut c)
            .await?;
        Ok(())
    }

    async fn hgetall(&self, hash: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut c = self.conn.clone();
        let m: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.key(hash))
            .query_async(&mut c)
            .await?;
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort();
        Ok(v)
    }
}
