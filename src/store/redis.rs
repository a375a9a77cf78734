//! Redis: live state shared by every contactd instance. Every key starts with the configured
//! prefix; every multi-key update is a Lua script, so no reader sees half of it.
//!
//! Line leases: a channel contactd places holds a lease on its trunk and on its campaign
//! until it is destroyed. `acquire_line` grants one only while both counts are under their
//! limits, atomically, so two campaigns (or two instances) can never hold a 31st E1 channel.

use redis::aio::ConnectionManager;
use redis::Script;

use super::postgres::StoreError;

#[derive(Clone)]
pub struct LiveState {
    conn: ConnectionManager,
    prefix: String,
}

const ACQUIRE_LINE: &str = r"
-- KEYS[1] trunk leases, KEYS[2] budget leases; ARGV uuid, trunk cap, budget cap, owner|acquired_ms
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[3]) then return -2 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
return 1
";

const RELEASE_LINE: &str = r"
-- KEYS[1] trunk leases, KEYS[2] budget leases; ARGV uuid
local n = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return n
";

const REPLACE_CHANNELS: &str = r"
-- KEYS[1] channel hash of one node; ARGV uuid, info, uuid, info, ...
redis.call('DEL', KEYS[1])
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return redis.call('HLEN', KEYS[1])
";

const DROP_DEAD_LEASES: &str = r"
-- KEYS[1] trunk leases, KEYS[2..] budget hashes to clean too;
-- ARGV[1] snapshot time (ms), ARGV[2..] live uuids. A lease granted after the snapshot was
-- taken is for a call the snapshot could not know about yet: it stays.
local taken = tonumber(ARGV[1])
local live = {}
for i = 2, #ARGV do live[ARGV[i]] = true end
local dropped = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local u = all[i]
  local at = tonumber(string.match(all[i + 1], '|(%d+)$') or '0')
  if not live[u] and at < taken then
    redis.call('HDEL', KEYS[1], u)
    for k = 2, #KEYS do redis.call('HDEL', KEYS[k], u) end
    dropped = dropped + 1
  end
end
return dropped
";

/// Why a line was not granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRefused {
    TrunkFull,
    BudgetFull,
}

impl LiveState {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)?;
        let conn = ConnectionManager::new(client).await?;
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
        })
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

    /// Grants a line on `trunk` for `uuid` within `budget` (a campaign's line count).
    pub async fn acquire_line(
        &self,
        trunk: &str,
        trunk_cap: u32,
        budget: &str,
        budget_cap: u32,
        uuid: &str,
    ) -> Result<Result<(), LineRefused>, StoreError> {
        let mut c = self.conn.clone();
        let r: i64 = Script::new(ACQUIRE_LINE)
            .key(self.key(&["trunk", trunk, "leases"]))
            .key(self.key(&["budget", budget, "leases"]))
            .arg(uuid)
            .arg(trunk_cap)
            .arg(budget_cap)
            .arg(format!(
                "{budget}|{}",
                chrono::Utc::now().timestamp_millis()
            ))
            .invoke_async(&mut c)
            .await?;
        Ok(match r {
            1 => Ok(()),
            -1 => Err(LineRefused::TrunkFull),
            _ => Err(LineRefused::BudgetFull),
        })
    }

    /// Returns true if the lease existed.
    pub async fn release_line(
        &self,
        trunk: &str,
        budget: &str,
        uuid: &str,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = Script::new(RELEASE_LINE)
            .key(self.key(&["trunk", trunk, "leases"]))
            .key(self.key(&["budget", budget, "leases"]))
            .arg(uuid)
            .invoke_async(&mut c)
            .await?;
        Ok(n == 1)
    }

    pub async fn lines_in_use(&self, trunk: &str) -> Result<usize, StoreError> {
        let mut c = self.conn.clone();
        Ok(redis::cmd("HLEN")
            .arg(self.key(&["trunk", trunk, "leases"]))
            .query_async::<usize>(&mut c)
            .await?)
    }

    pub async fn budget_in_use(&self, budget: &str) -> Result<usize, StoreError> {
        let mut c = self.conn.clone();
        Ok(redis::cmd("HLEN")
            .arg(self.key(&["budget", budget, "leases"]))
            .query_async::<usize>(&mut c)
            .await?)
    }

    /// After a resync: leases whose channel the switch no longer has are released.
    pub async fn drop_dead_leases(
        &self,
        trunk: &str,
        budgets: &[String],
        taken_at: chrono::DateTime<chrono::Utc>,
        live: &[String],
    ) -> Result<usize, StoreError> {
        let mut c = self.conn.clone();
        let script = Script::new(DROP_DEAD_LEASES);
        let mut inv = script.key(self.key(&["trunk", trunk, "leases"]));
        for b in budgets {
            inv.key(self.key(&["budget", b, "leases"]));
        }
        inv.arg(taken_at.timestamp_millis());
        for u in live {
            inv.arg(u);
        }
        Ok(inv.invoke_async::<usize>(&mut c).await?)
    }

    /// Distinct budgets (campaigns) holding leases on `trunk`.
    pub async fn lease_owners(&self, trunk: &str) -> Result<Vec<String>, StoreError> {
        let mut c = self.conn.clone();
        let values: Vec<String> = redis::cmd("HVALS")
            .arg(self.key(&["trunk", trunk, "leases"]))
            .query_async(&mut c)
            .await?;
        let mut owners: Vec<String> = values
            .iter()
            .map(|v| {
                v.rsplit_once('|')
                    .map_or(v.as_str(), |(b, _)| b)
                    .to_string()
            })
            .collect();
        owners.sort();
        owners.dedup();
        Ok(owners)
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
