//! Leases on calls, instances' alive marks, offers taken over from dead instances, and
//! rebuilding the live state after Redis lost it.

use redis::Script;

use crate::store::StoreError;

use super::scripts::{script, CLAIM, CLAIM_FROM, RESTORE_AGENT, RESTORE_CALL, TAKE_OFFER};
use super::{AcdStore, CallInfo};

impl AcdStore {
    /// Takes or keeps the lease on driving `call` (music, announcements, the end of the
    /// call). An instance that stops renewing it loses the call to another (or to itself
    /// after a restart).
    pub async fn claim(&self, call: &str, instance: &str, ttl_ms: u64) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = Script::new(CLAIM)
            .key(self.key(&format!("owner:{call}")))
            .arg(instance)
            .arg(ttl_ms)
            .invoke_async(&mut c)
            .await?;
        Ok(n == 1)
    }

    /// Takes the lease on `call` if nobody holds it, `instance` does, or `dead` (an instance
    /// known to be gone) does.
    pub async fn claim_from(
        &self,
        call: &str,
        instance: &str,
        dead: &str,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = Script::new(CLAIM_FROM)
            .key(self.key(&format!("owner:{call}")))
            .arg(instance)
            .arg(ttl_ms)
            .arg(dead)
            .invoke_async(&mut c)
            .await?;
        Ok(n == 1)
    }

    /// The instance holding the lease on `call`, if any.
    pub async fn owner(&self, call: &str) -> Result<Option<String>, StoreError> {
        let mut c = self.conn.clone();
        Ok(redis::cmd("GET")
            .arg(self.key(&format!("owner:{call}")))
            .query_async(&mut c)
            .await?)
    }

    /// This instance is running: the mark lasts `ttl_ms` and is renewed every second.
    pub async fn set_alive(&self, instance: &str, ttl_ms: u64) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("SET")
            .arg(self.key(&format!("alive:{instance}")))
            .arg(1)
            .arg("PX")
            .arg(ttl_ms)
            .query_async::<()>(&mut c)
            .await?;
        Ok(())
    }

    /// Whether `instance` renewed its mark lately.
    pub async fn is_alive(&self, instance: &str) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = redis::cmd("EXISTS")
            .arg(self.key(&format!("alive:{instance}")))
            .query_async(&mut c)
            .await?;
        Ok(n == 1)
    }

    /// The instance that reserved the current offer of `call` (and rings the phone).
    pub async fn offer_by(&self, call: &str) -> Result<Option<String>, StoreError> {
        self.hget("offer_by", call).await
    }

    /// Notes that `instance` now carries on the offer of `call` (taken over from a dead one).
    pub async fn set_offer_by(&self, call: &str, instance: &str) -> Result<(), StoreError> {
        self.hset("offer_by", call, instance).await
    }

    /// The epoch of the live state if it is complete (the mark `acd:trusted`), None if Redis
    /// lost it (restarted empty) and it must be rebuilt before routing.
    pub async fn trusted(&self) -> Result<Option<String>, StoreError> {
        let mut c = self.conn.clone();
        Ok(redis::cmd("GET")
            .arg(self.key("trusted"))
            .query_async(&mut c)
            .await?)
    }

    pub async fn set_trusted(&self, epoch: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("SET")
            .arg(self.key("trusted"))
            .arg(epoch)
            .query_async::<()>(&mut c)
            .await?;
        self.changed();
        Ok(())
    }

    /// One instance at a time rebuilds the live state: true if `instance` may.
    pub async fn lock_rebuild(&self, instance: &str, ttl_ms: u64) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let r: Option<String> = redis::cmd("SET")
            .arg(self.key("rebuilding"))
            .arg(instance)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut c)
            .await?;
        Ok(r.is_some())
    }

    pub async fn unlock_rebuild(&self, instance: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1",
        )
        .key(self.key("rebuilding"))
        .arg(instance)
        .invoke_async::<i64>(&mut c)
        .await?;
        Ok(())
    }

    /// Puts back a call Redis lost with its old priority, arrival number and queue, waiting
    /// in the queue (`waiting`) or only known (ringing, talking). False if Redis has it.
    pub async fn restore_call(
        &self,
        call: &str,
        info: &CallInfo,
        waiting: bool,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = script!(RESTORE_CALL)
            .key(self.queue_key(&info.queue))
            .key(self.key("calls"))
            .key(self.key("clock"))
            .arg(call)
            .arg(info.priority)
            .arg(info.seq)
            .arg(info.arrived_ms)
            .arg(&info.queue)
            .arg(if waiting { "1" } else { "0" })
            .arg(now_ms)
            .invoke_async(&mut c)
            .await?;
        self.changed();
        Ok(n == 1)
    }

    /// An operator's live state Redis lost: `value` as [`agent_value`] makes it, in routing
    /// from `ready_at` if given; only if Redis knows nothing of the operator, unless `force`.
    ///
    /// [`agent_value`]: super::agent_value
    pub async fn restore_agent(
        &self,
        agent: &str,
        value: &str,
        ready_at: Option<i64>,
        force: bool,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = Script::new(RESTORE_AGENT)
            .key(self.key("agents"))
            .key(self.key("ready"))
            .arg(agent)
            .arg(value)
            .arg(ready_at.map(|t| t.to_string()).unwrap_or_default())
            .arg(if force { "1" } else { "0" })
            .invoke_async(&mut c)
            .await?;
        self.changed();
        Ok(n == 1)
    }

    /// Takes over the offer of `call` from `from` (a dead instance, '' if none is noted):
    /// false if another instance got there first.
    pub async fn take_offer(
        &self,
        call: &str,
        from: &str,
        instance: &str,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = Script::new(TAKE_OFFER)
            .key(self.key("offer_by"))
            .arg(call)
            .arg(from)
            .arg(instance)
            .invoke_async(&mut c)
            .await?;
        Ok(n == 1)
    }

    /// The offer of `call` is settled (the caller and the operator are bridged): no instance
    /// needs to carry it on any more.
    pub async fn settle_offer(&self, call: &str) -> Result<(), StoreError> {
        self.hdel("offer_by", call).await
    }

    /// A talk Redis lost: `call` is with `agent` on the operator leg `leg`.
    pub async fn restore_talk(&self, call: &str, agent: &str, leg: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("HSET")
            .arg(self.key("offers"))
            .arg(call)
            .arg(agent)
            .ignore();
        pipe.cmd("HSET")
            .arg(self.key("legs"))
            .arg(call)
            .arg(leg)
            .ignore();
        pipe.query_async::<()>(&mut c).await?;
        self.changed();
        Ok(())
    }

    /// Gives the lease back only if `instance` holds it.
    pub async fn release_claim_if(&self, call: &str, instance: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1",
        )
        .key(self.key(&format!("owner:{call}")))
        .arg(instance)
        .invoke_async::<i64>(&mut c)
        .await?;
        Ok(())
    }

    pub async fn release_claim(&self, call: &str) -> Result<(), StoreError> {
        self.cmd_del(&self.key(&format!("owner:{call}"))).await
    }
}
