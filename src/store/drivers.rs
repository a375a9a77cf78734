//! Campaign-driver leases in Redis: which contactd instance drives which campaign.
//!
//! `campaign:<id>:driver` holds `instance|token` with a TTL (`SET NX PX`); the token comes
//! from `campaign:<id>:fence`, incremented at every new grant, so a driver that lost its
//! lease (stalled past its TTL, then back) finds a larger token there and stops. Renewal and
//! release only touch a key that still holds this instance's own value (a Lua compare).
//!
//! The Redis token alone cannot fence PostgreSQL (a failover can lose the INCR, and it is
//! checked in another round trip than the claim). So each new driver also bumps the
//! campaign's token in `campaign_fences` before it recovers, and claims of subscribers
//! carry that token in the same statement ([`super::campaigns::Campaigns::claim_due`]).

use deadpool_postgres::Pool;
use redis::Script;

use super::postgres::StoreError;
use super::redis::LiveState;
use crate::core::driver_lease::{lease_value, parse_lease_value};

const ACQUIRE: &str = r"
-- KEYS[1] driver key, KEYS[2] fence counter; ARGV instance, lease ms, and the holder
-- known dead (an earlier process of this instance) or ''.
-- Already ours (a renewal lost its reply): keep the token, extend.
local cur = redis.call('GET', KEYS[1])
if cur then
  local who, token = string.match(cur, '^(.*)|(%d+)$')
  if who == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(token)
  end
  if ARGV[3] == '' or who ~= ARGV[3] then return -1 end
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token
";

const RENEW: &str = r"
-- KEYS[1] driver key; ARGV value held, lease ms. 1 renewed, 0 lost.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

const RELEASE: &str = r"
-- KEYS[1] driver key; ARGV value held.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

fn driver_key(live: &LiveState, campaign: i64) -> String {
    live.key(&["campaign", &campaign.to_string(), "driver"])
}

fn fence_key(live: &LiveState, campaign: i64) -> String {
    live.key(&["campaign", &campaign.to_string(), "fence"])
}

/// Takes campaign `campaign` for `instance` if nobody holds it, or `dead` does (an earlier
/// process of this instance, known gone), or extends it if this instance already holds it.
/// The fencing token, or `None` while another instance holds it.
pub async fn acquire(
    live: &LiveState,
    campaign: i64,
    instance: &str,
    lease_ms: u64,
    dead: Option<&str>,
) -> Result<Option<u64>, StoreError> {
    let mut c = live.conn();
    let n: i64 = Script::new(ACQUIRE)
        .key(driver_key(live, campaign))
        .key(fence_key(live, campaign))
        .arg(instance)
        .arg(lease_ms)
        .arg(dead.unwrap_or(""))
        .invoke_async(&mut c)
        .await?;
    Ok(u64::try_from(n).ok())
}

/// Extends the lease this instance holds with `token`; false if it is not ours any more.
pub async fn renew(
    live: &LiveState,
    campaign: i64,
    instance: &str,
    token: u64,
    lease_ms: u64,
) -> Result<bool, StoreError> {
    let mut c = live.conn();
    let n: i64 = Script::new(RENEW)
        .key(driver_key(live, campaign))
        .arg(lease_value(instance, token))
        .arg(lease_ms)
        .invoke_async(&mut c)
        .await?;
    Ok(n == 1)
}

/// Gives the campaign up (a clean stop, or the campaign is over).
pub async fn release(
    live: &LiveState,
    campaign: i64,
    instance: &str,
    token: u64,
) -> Result<(), StoreError> {
    let mut c = live.conn();
    Script::new(RELEASE)
        .key(driver_key(live, campaign))
        .arg(lease_value(instance, token))
        .invoke_async::<i64>(&mut c)
        .await?;
    Ok(())
}

/// Who drives `campaign` now and with which token (`None`: nobody).
pub async fn driver(live: &LiveState, campaign: i64) -> Result<Option<(String, u64)>, StoreError> {
    let mut c = live.conn();
    let v: Option<String> = redis::cmd("GET")
        .arg(driver_key(live, campaign))
        .query_async(&mut c)
        .await?;
    Ok(v.as_deref()
        .and_then(parse_lease_value)
        .map(|(who, t)| (who.to_string(), t)))
}

/// A new driver's fencing token in PostgreSQL: one more than any earlier driver's, so
/// their claims from now on find it changed and claim nothing.
pub async fn bump_fence(pool: &Pool, campaign: i64, instance: &str) -> Result<i64, StoreError> {
    let db = pool.get().await?;
    let row = db
        .query_one(
            "INSERT INTO campaign_fences (campaign_id, token, instance) VALUES ($1, 1, $2)
             ON CONFLICT (campaign_id) DO UPDATE
               SET token = campaign_fences.token + 1, instance = EXCLUDED.instance,
                   since = now()
             RETURNING token",
            &[&campaign, &instance],
        )
        .await?;
    Ok(row.get(0))
}
