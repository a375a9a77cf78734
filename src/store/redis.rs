//! Redis: live state shared by every contactd instance. Every key starts with the configured
//! prefix; every multi-key update is a Lua script, so no reader sees half of it.
//!
//! Line leases: a channel contactd places holds a lease on its trunk and on its campaign
//! until its call is over. `acquire_line` grants one only while both counts are under their
//! limits, atomically, so two campaigns (or two instances) can never hold a 31st E1 channel.
//! A FreeTDM channel is still clearing for a moment after its call (the trunk's release
//! guard): its trunk and its campaign count it that long more (a line is a channel).

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};

use redis::Script;

use super::postgres::StoreError;
use super::redis_conn::{RedisConn, RedisTarget};
use super::redis_scripts::{ACQUIRE_LINE, LINES_UNAVAILABLE, RELEASE_LINE, REPLACE_CHANNELS};

mod recount;
pub use recount::DropCutoffs;

#[derive(Clone)]
pub struct LiveState {
    conn: RedisConn,
    prefix: String,
    /// Who this process is in the leases it writes (`campaign_lease::holder_id`; empty:
    /// unknown, as a tool's or a test's): another instance's resync must not take for
    /// ended a line whose originate this process has on its way.
    holder: Arc<str>,
    /// Leases this process holds (granted, not yet released), kept so a lease rebuild after
    /// Redis lost its data also counts originates still on their way to the switch.
    held: Arc<Mutex<HashMap<String, Held>>>,
    /// A lease write failed: the counts must be rebuilt before they are trusted again.
    dirty: Arc<(AtomicBool, Notify)>,
    /// Counts the leases this process released, so a runner held back by them looks again
    /// at once instead of at its next routine look.
    released: Arc<watch::Sender<u64>>,
}

/// A lease this process was granted: trunk, budget, when.
type Held = (String, String, std::time::Instant);

/// A line lease: the channel (origination uuid), its trunk and its budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub uuid: String,
    pub trunk: String,
    pub budget: String,
}

/// One write of the event stream's to Redis (see [`LiveState::apply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveWrite<'a> {
    /// A channel's line lease given back (as [`LiveState::release_line`]).
    Release {
        trunk: &'a str,
        budget: &'a str,
        uuid: &'a str,
        /// The trunk's release guard (`TrunkConfig::release_guard`).
        guard: std::time::Duration,
    },
    ChannelUp {
        node: &'a str,
        uuid: &'a str,
        info: String,
    },
    ChannelDown {
        node: &'a str,
        uuid: &'a str,
    },
}

/// Why a line was not granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRefused {
    TrunkFull,
    BudgetFull,
    /// The lease counts are being rebuilt (Redis lost them): no line until they are.
    Untrusted,
}

impl LiveState {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Self::connect_to(RedisTarget::Url(url), prefix).await
    }

    /// [`LiveState::connect`] to a server or through Redis Sentinel.
    pub async fn connect_to(target: RedisTarget<'_>, prefix: &str) -> Result<Self, StoreError> {
        let conn = RedisConn::open(target, None).await?;
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
            holder: Arc::from(""),
            held: Arc::default(),
            dirty: Arc::default(),
            released: Arc::new(watch::Sender::new(0)),
        })
    }

    /// The same state, its leases written as `holder`'s.
    pub fn held_by(mut self, holder: &str) -> Self {
        self.holder = Arc::from(holder);
        self
    }

    /// Who this process is in its leases.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// A lease's value: its budget, its holder, when it was granted (ms).
    fn lease_value(&self, budget: &str, at_ms: i64) -> String {
        if self.holder.is_empty() {
            format!("{budget}|{at_ms}")
        } else {
            format!("{budget}|{}|{at_ms}", self.holder)
        }
    }

    /// A handle on the connection, for the adapters that keep their own keys here
    /// (`store::drivers`).
    pub fn conn(&self) -> RedisConn {
        self.conn.clone()
    }

    pub fn key(&self, parts: &[&str]) -> String {
        let mut k = self.prefix.clone();
        k.push_str(&parts.join(":"));
        k
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut c).await?;
        Ok(())
    }

    /// Records one live channel of `node`.
    pub async fn channel_up(&self, node: &str, uuid: &str, info: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("HSET")
            .arg(self.key(&["switch", node, "channels"]))
            .arg(uuid)
            .arg(info)
            .query_async::<()>(&mut c)
            .await?;
        Ok(())
    }

    pub async fn channel_down(&self, node: &str, uuid: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("HDEL")
            .arg(self.key(&["switch", node, "channels"]))
            .arg(uuid)
            .query_async::<()>(&mut c)
            .await?;
        Ok(())
    }

    /// Replaces the node's channel set with the switch's own list, in one step.
    pub async fn replace_channels(
        &self,
        node: &str,
        channels: &[(String, String)],
    ) -> Result<usize, StoreError> {
        let mut c = self.conn.clone();
        let script = Script::new(REPLACE_CHANNELS);
        let mut inv = script.key(self.key(&["switch", node, "channels"]));
        for (uuid, info) in channels {
            inv.arg(uuid).arg(info);
        }
        Ok(inv.invoke_async::<usize>(&mut c).await?)
    }

    pub async fn live_channels(&self, node: &str) -> Result<usize, StoreError> {
        let mut c = self.conn.clone();
        Ok(redis::cmd("HLEN")
            .arg(self.key(&["switch", node, "channels"]))
            .query_async::<usize>(&mut c)
            .await?)
    }

    /// Grants a line on `trunk` for `uuid` within `budget` (a campaign's line count). On an
    /// error the caller must not place the call: the line is not counted as held.
    pub async fn acquire_line(
        &self,
        trunk: &str,
        trunk_cap: u32,
        budget: &str,
        budget_cap: u32,
        uuid: &str,
    ) -> Result<Result<(), LineRefused>, StoreError> {
        let mut c = self.conn.clone();
        // Noted before asking: a rebuild running meanwhile must count this originate.
        self.held.lock().expect("held lock").insert(
            uuid.to_string(),
            (
                trunk.to_string(),
                budget.to_string(),
                std::time::Instant::now(),
            ),
        );
        let r: Result<i64, _> = Script::new(ACQUIRE_LINE)
            .key(self.key(&["trunk", trunk, "leases"]))
            .key(self.key(&["budget", budget, "leases"]))
            .key(self.key(&["leases", "trusted"]))
            .key(self.key(&["trunk", trunk, "clearing"]))
            .key(self.key(&["budget", budget, "clearing"]))
            .arg(uuid)
            .arg(trunk_cap)
            .arg(budget_cap)
            .arg(self.lease_value(budget, chrono::Utc::now().timestamp_millis()))
            .invoke_async(&mut c)
            .await;
        let refused = match r {
            Ok(1) => return Ok(Ok(())),
            Ok(-1) => LineRefused::TrunkFull,
            Ok(-3) => LineRefused::Untrusted,
            Ok(_) => LineRefused::BudgetFull,
            Err(e) => {
                // The caller sends no originate on an error, so the line is not held: forgotten
                // before the rebuild is asked for, or that rebuild would keep it as an
                // originate on its way, with no holder left to give it back (a campaign's
                // lines all taken by calls never placed, until the audit's minute).
                self.held.lock().expect("held lock").remove(uuid);
                // The script may have run before the reply was lost: rebuild before trusting.
                self.mark_dirty();
                return Err(e.into());
            }
        };
        self.held.lock().expect("held lock").remove(uuid);
        Ok(Err(refused))
    }

    /// Gives `uuid`'s line back; its trunk counts the channel for `guard` more (the
    /// switch's hardware is still clearing it: zero when no channel was ever seized).
    /// Returns true if the lease existed.
    pub async fn release_line(
        &self,
        trunk: &str,
        budget: &str,
        uuid: &str,
        guard: Duration,
    ) -> Result<bool, StoreError> {
        self.held.lock().expect("held lock").remove(uuid);
        let mut c = self.conn.clone();
        let script = Script::new(RELEASE_LINE);
        let mut inv = script.prepare_invoke();
        for k in self.release_keys(trunk, budget) {
            inv.key(k);
        }
        let n: i64 = inv
            .arg(uuid)
            .arg(guard.as_millis() as u64)
            .invoke_async(&mut c)
            .await
            .inspect_err(|_| self.mark_dirty())?;
        if n == 1 {
            self.released.send_modify(|n| *n = n.wrapping_add(1));
            self.wake_after(guard);
        }
        Ok(n == 1)
    }

    /// [`RELEASE_LINE`]'s keys, in its order.
    fn release_keys(&self, trunk: &str, budget: &str) -> [String; 4] {
        [
            self.key(&["trunk", trunk, "leases"]),
            self.key(&["budget", budget, "leases"]),
            self.key(&["trunk", trunk, "clearing"]),
            self.key(&["budget", budget, "clearing"]),
        ]
    }

    /// A runner held back by a channel still clearing looks again once it is free.
    fn wake_after(&self, guard: Duration) {
        if guard.is_zero() {
            return;
        }
        let released = self.released.clone();
        tokio::spawn(async move {
            // the guard is counted from Redis's clock: a hair later is on the safe side
            tokio::time::sleep(guard + Duration::from_millis(5)).await;
            released.send_modify(|n| *n = n.wrapping_add(1));
        });
    }

    /// Applies `writes` in one round trip (MULTI/EXEC, so atomic as each lease's own
    /// release is), in their order. Returns how many leases existed and were released.
    pub async fn apply(&self, writes: &[LiveWrite<'_>]) -> Result<usize, StoreError> {
        if writes.is_empty() {
            return Ok(0);
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        // where each release's reply sits among the replies, with its guard
        let mut releases = Vec::new();
        let mut replies = 0;
        for w in writes {
            match w {
                LiveWrite::Release {
                    trunk,
                    budget,
                    uuid,
                    guard,
                } => {
                    self.held.lock().expect("held lock").remove(*uuid);
                    releases.push((replies, *guard));
                    let keys = self.release_keys(trunk, budget);
                    pipe.cmd("EVAL")
                        .arg(RELEASE_LINE)
                        .arg(keys.len())
                        .arg(&keys[..])
                        .arg(*uuid)
                        .arg(guard.as_millis() as u64);
                    replies += 1;
                }
                LiveWrite::ChannelUp { node, uuid, info } => {
                    pipe.hset(self.key(&["switch", node, "channels"]), *uuid, info);
                    replies += 1;
                }
                LiveWrite::ChannelDown { node, uuid } => {
                    pipe.hdel(self.key(&["switch", node, "channels"]), *uuid);
                    replies += 1;
                }
            }
        }
        let mut c = self.conn.clone();
        let r: Result<Vec<i64>, _> = pipe.query_async(&mut c).await;
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                if !releases.is_empty() {
                    self.mark_dirty();
                }
                return Err(e.into());
            }
        };
        let done: Vec<Duration> = releases
            .iter()
            .filter(|(i, _)| r.get(*i).copied() == Some(1))
            .map(|(_, g)| *g)
            .collect();
        if !done.is_empty() {
            self.released
                .send_modify(|c| *c = c.wrapping_add(done.len() as u64));
            // one look once the last of these channels is clear serves them all
            self.wake_after(done.iter().copied().max().unwrap_or_default());
        }
        Ok(done.len())
    }

    /// Changes each time this process releases a line lease.
    pub fn watch_released(&self) -> watch::Receiver<u64> {
        self.released.subscribe()
    }

    /// Lines of `trunk` that cannot be dialed now: its calls, and its channels still clearing
    /// after their call ended (within the trunk's release guard).
    pub async fn lines_unavailable(&self, trunk: &str) -> Result<usize, StoreError> {
        self.unavailable("trunk", trunk).await
    }

    async fn unavailable(&self, kind: &str, name: &str) -> Result<usize, StoreError> {
        let mut c = self.conn.clone();
        Ok(Script::new(LINES_UNAVAILABLE)
            .key(self.key(&[kind, name, "leases"]))
            .key(self.key(&[kind, name, "clearing"]))
            .invoke_async::<usize>(&mut c)
            .await?)
    }

    /// Calls up on `trunk` (the leases held).
    pub async fn lines_in_use(&self, trunk: &str) -> Result<usize, StoreError> {
        let mut c = self.conn.clone();
        Ok(redis::cmd("HLEN")
            .arg(self.key(&["trunk", trunk, "leases"]))
            .query_async::<usize>(&mut c)
            .await?)
    }

    /// Lines of `budget` (a campaign) in use: its calls, and its channels still clearing.
    pub async fn budget_in_use(&self, budget: &str) -> Result<usize, StoreError> {
        self.unavailable("budget", budget).await
    }

    /// Deletes every key under the prefix (tests and the demo clean up with it).
    pub async fn purge_prefix(&self) -> Result<usize, StoreError> {
        let mut c = self.conn.clone();
        let mut cursor: u64 = 0;
        let mut n = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.prefix))
                .arg("COUNT")
                .arg(500)
                .query_async(&mut c)
                .await?;
            if !keys.is_empty() {
                n += keys.len();
                redis::cmd("DEL")
                    .arg(&keys)
                    .query_async::<()>(&mut c)
                    .await?;
            }
            if next == 0 {
                return Ok(n);
            }
            cursor = next;
        }
    }
}
