//! Queues and routing: callers waiting, offers to operators, requeues and transfers.

use crate::core::acd::routing::Need;
use crate::store::StoreError;

use super::scripts::{
    script, ABANDON, BRIDGE_FAILED, CONSULT_COMPLETE, ENQUEUE, RELEASE_MISSED, RESERVE, TRANSFER,
};
use super::{Abandoned, AcdStore, Enqueued, OfferStart, Reservation};

impl AcdStore {
    /// Puts `call` in `queue` unless `max_waiting` callers wait there already (checked and
    /// applied in one step, so two instances cannot both admit the seventh caller).
    pub async fn enqueue(
        &self,
        queue: &str,
        call: &str,
        priority: u8,
        max_waiting: usize,
        now_ms: i64,
    ) -> Result<Enqueued, StoreError> {
        let mut c = self.conn.clone();
        let (kind, position, seq): (i64, u64, u64) = script!(ENQUEUE)
            .key(self.queue_key(queue))
            .key(self.key("calls"))
            .key(self.key("clock"))
            .arg(call)
            .arg(priority)
            .arg(max_waiting)
            .arg(now_ms)
            .arg(queue)
            .invoke_async(&mut c)
            .await?;
        self.changed();
        Ok(match kind {
            1 => Enqueued::Waiting { position, seq },
            2 => Enqueued::AlreadyOffered,
            _ => Enqueued::Refused,
        })
    }

    /// Takes the head call of `queue` and the longest-idle ready operator who meets `need`
    /// ([`Need::level`]), and marks the operator offered with that call — all or nothing.
    /// None: no caller waiting or no such operator ready.
    pub async fn reserve(
        &self,
        queue: &str,
        need: Need<'_>,
        now_ms: i64,
    ) -> Result<Option<Reservation>, StoreError> {
        self.reserve_by(queue, need, now_ms, "").await
    }

    /// [`AcdStore::reserve`], noting `instance` as the one that rings the phone
    /// ([`AcdStore::offer_by`]).
    pub async fn reserve_by(
        &self,
        queue: &str,
        need: Need<'_>,
        now_ms: i64,
        instance: &str,
    ) -> Result<Option<Reservation>, StoreError> {
        self.reserve_only(queue, need, now_ms, instance, "").await
    }

    /// [`AcdStore::reserve_by`] for operator `only` alone (`""`: anyone): an operator
    /// campaign's callback goes to the operator who scheduled it.
    pub async fn reserve_only(
        &self,
        queue: &str,
        need: Need<'_>,
        now_ms: i64,
        instance: &str,
        only: &str,
    ) -> Result<Option<Reservation>, StoreError> {
        Ok(self
            .reserve_offer(queue, need, now_ms, instance, only, "")
            .await?
            .map(|(r, _)| r))
    }

    /// [`AcdStore::reserve_only`] that also notes `leg` (if not empty) as the call's
    /// operator leg, and returns what the offer reads before it rings the phone.
    pub async fn reserve_offer(
        &self,
        queue: &str,
        need: Need<'_>,
        now_ms: i64,
        instance: &str,
        only: &str,
        leg: &str,
    ) -> Result<Option<(Reservation, OfferStart)>, StoreError> {
        let mut c = self.conn.clone();
        type Reply = (String, String, u64, Option<String>, Option<String>);
        let r: Option<Reply> = script!(RESERVE)
            .key(self.queue_key(queue))
            .key(self.key("ready"))
            .key(self.key("skills"))
            .key(self.key("agents"))
            .key(self.key("offers"))
            .key(self.key("clock"))
            .key(self.key("offer_by"))
            .key(self.key("legs"))
            .key(self.key("meta"))
            .key(self.key("endpoints"))
            .arg(need.skill)
            .arg(need.level())
            .arg(now_ms)
            .arg(instance)
            .arg(only)
            .arg(leg)
            .invoke_async(&mut c)
            .await?;
        if r.is_some() {
            self.changed();
        }
        Ok(r.map(|(call, agent, offer, meta, endpoint)| {
            (
                Reservation { call, agent, offer },
                OfferStart { meta, endpoint },
            )
        }))
    }

    /// The ring timed out: the operator becomes "not ready (missed)" and the call returns to
    /// its old place at the head of `queue`. Returns the event clock of the requeue, or None
    /// if the offer was no longer current (answered, abandoned, or already released).
    pub async fn release_missed(
        &self,
        queue: &str,
        r: &Reservation,
        now_ms: i64,
    ) -> Result<Option<u64>, StoreError> {
        let mut c = self.conn.clone();
        let at: u64 = script!(RELEASE_MISSED)
            .key(self.queue_key(queue))
            .key(self.key("agents"))
            .key(self.key("offers"))
            .key(self.key("calls"))
            .key(self.key("clock"))
            .arg(&r.call)
            .arg(&r.agent)
            .arg(r.offer)
            .arg(now_ms)
            .invoke_async(&mut c)
            .await?;
        self.changed();
        Ok((at > 0).then_some(at))
    }

    /// The caller hung up before talking to anyone.
    pub async fn abandon(&self, queue: &str, call: &str) -> Result<Abandoned, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = script!(ABANDON)
            .key(self.queue_key(queue))
            .key(self.key("calls"))
            .key(self.key("offers"))
            .key(self.key("agents"))
            .key(self.key("ready"))
            .arg(call)
            .invoke_async(&mut c)
            .await?;
        self.changed_call_end();
        Ok(match n {
            1 => Abandoned::WasWaiting,
            2 => Abandoned::WasRinging,
            _ => Abandoned::NotFound,
        })
    }

    /// How many callers wait in `queue`.
    pub async fn queue_len(&self, queue: &str) -> Result<u64, StoreError> {
        let mut c = self.conn.clone();
        Ok(redis::cmd("ZCARD")
            .arg(self.queue_key(queue))
            .query_async(&mut c)
            .await?)
    }

    /// Callers waiting in `queue`, head first.
    pub async fn waiting(&self, queue: &str) -> Result<Vec<String>, StoreError> {
        let mut c = self.conn.clone();
        Ok(redis::cmd("ZRANGE")
            .arg(self.queue_key(queue))
            .arg(0)
            .arg(-1)
            .query_async(&mut c)
            .await?)
    }

    /// Blind transfer: the call leaves `agent` (who goes to after-call work) and waits in
    /// `to_queue` at `priority`. False if the call is not talking with that operator.
    pub async fn transfer(
        &self,
        call: &str,
        agent: &str,
        to_queue: &str,
        priority: u8,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let seq: i64 = script!(TRANSFER)
            .key(self.key("agents"))
            .key(self.key("offers"))
            .key(self.key("calls"))
            .key(self.queue_key(to_queue))
            .key(self.key("clock"))
            .arg(call)
            .arg(agent)
            .arg(now_ms)
            .arg(priority)
            .arg(to_queue)
            .invoke_async(&mut c)
            .await?;
        self.changed();
        Ok(seq > 0)
    }

    /// The caller could not be bridged to the operator who answered (their leg was gone):
    /// the operator is "missed" and the caller back at the head of `queue`.
    pub async fn bridge_failed(
        &self,
        queue: &str,
        call: &str,
        agent: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let at: i64 = script!(BRIDGE_FAILED)
            .key(self.queue_key(queue))
            .key(self.key("agents"))
            .key(self.key("offers"))
            .key(self.key("calls"))
            .key(self.key("clock"))
            .arg(call)
            .arg(agent)
            .arg(now_ms)
            .invoke_async(&mut c)
            .await?;
        self.changed();
        Ok(at > 0)
    }

    /// Attended transfer completed: `call` passes from `first` to `second`, who answered the
    /// consult item `consult`. False if either is no longer in that state.
    pub async fn consult_complete(
        &self,
        call: &str,
        first: &str,
        consult: &str,
        second: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = script!(CONSULT_COMPLETE)
            .key(self.key("agents"))
            .key(self.key("offers"))
            .key(self.key("calls"))
            .arg(call)
            .arg(first)
            .arg(consult)
            .arg(second)
            .arg(now_ms)
            .invoke_async(&mut c)
            .await?;
        self.changed();
        Ok(n == 1)
    }

    /// 1-based place of `call` in `queue`, None if it is not waiting there.
    pub async fn position(&self, queue: &str, call: &str) -> Result<Option<u64>, StoreError> {
        let mut c = self.conn.clone();
        let r: Option<u64> = redis::cmd("ZRANK")
            .arg(self.queue_key(queue))
            .arg(call)
            .query_async(&mut c)
            .await?;
        Ok(r.map(|r| r + 1))
    }
}
