//! PostgreSQL records of the ACD: one row per caller who entered a queue (`acd_calls`),
//! completed as the call goes on, and the callbacks promised to callers (`acd_callbacks`).
//! Every statement is idempotent on its row so a retried or repeated step (two instances,
//! a restart) does not count twice.

use crate::core::acd::outcome::{AcdOutcome, CallbackState};
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use uuid::Uuid;

use super::journal::{Journal, Param, Write, Writer};
use super::StoreError;

#[derive(Clone)]
pub struct AcdCalls {
    writer: Writer,
}

/// A callback waiting to be dialed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub id: i64,
    pub queue: String,
    pub number: String,
    pub call_uuid: Option<Uuid>,
    pub attempts: i32,
}

impl AcdCalls {
    pub fn new(pool: Pool) -> Self {
        Self {
            writer: Writer::Direct(pool),
        }
    }

    /// Records go through `journal`: kept while PostgreSQL is away, replayed in order.
    pub fn with_journal(journal: Journal) -> Self {
        Self {
            writer: Writer::Journal(journal),
        }
    }

    pub fn pool(&self) -> &Pool {
        self.writer.pool()
    }

    /// Runs one record statement through the writer: with the daemon's journal it is
    /// durable even while PostgreSQL is away; a write PostgreSQL refuses is logged.
    async fn exec(&self, what: String, sql: &str, params: Vec<Param>) -> Result<(), StoreError> {
        let r = self.writer.write(Write::new(what, sql, params)).await;
        if let Err(e) = &r {
            // Callers carry on (the call goes on); the gap must at least be visible.
            tracing::warn!("acd record not written: {e}");
        }
        r
    }

    /// The caller entered `queue` (first time only: a re-entry after a transfer keeps the row).
    pub async fn entered(
        &self,
        call: Uuid,
        node: &str,
        queue: &str,
        caller: Option<&str>,
        account: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.exec(
            format!("acd call {call}"),
            "INSERT INTO acd_calls (call_uuid, node, queue, caller, account, entered_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (call_uuid) DO NOTHING",
            vec![
                call.into(),
                node.into(),
                queue.into(),
                caller.into(),
                account.into(),
                at.into(),
            ],
        )
        .await
    }

    /// A person who answered operator campaign `campaign`'s call entered `queue` (the
    /// campaign's queue) to wait for its operator: an `outbound` row, so the operator's
    /// talk, AHT and QA count it while queue KPIs (inbound) leave it out.
    #[allow(clippy::too_many_arguments)]
    pub async fn entered_outbound(
        &self,
        call: Uuid,
        node: &str,
        queue: &str,
        campaign: i64,
        number: &str,
        account: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.exec(
            format!("acd call {call}"),
            "INSERT INTO acd_calls (call_uuid, node, queue, caller, account, entered_at,
                                    direction, campaign_id)
                 VALUES ($1, $2, $3, $4, $5, $6, 'outbound', $7)
                 ON CONFLICT (call_uuid) DO NOTHING",
            vec![
                call.into(),
                node.into(),
                queue.into(),
                number.into(),
                account.into(),
                at.into(),
                campaign.into(),
            ],
        )
        .await
    }

    /// An operator's phone rings for it.
    pub async fn offered(&self, call: Uuid) -> Result<(), StoreError> {
        self.exec(
            format!("acd call {call}"),
            "UPDATE acd_calls SET offers = offers + 1 WHERE call_uuid = $1",
            vec![call.into()],
        )
        .await
    }

    /// Answered by `operator` (id); `recording` is the file `uuid_record` writes (None when
    /// the switch refused to record).
    pub async fn answered(
        &self,
        call: Uuid,
        operator: Option<i64>,
        recording: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.exec(
            format!("acd call {call}"),
            "UPDATE acd_calls SET answered_at = $2, operator = $3, recording = $4,
                     waited_s = GREATEST(EXTRACT(EPOCH FROM ($2 - entered_at)), 0)
                 WHERE call_uuid = $1",
            vec![call.into(), at.into(), operator.into(), recording.into()],
        )
        .await
    }

    /// The talk ended (either side hung up, or the operator released it for a transfer).
    pub async fn talk_ended(&self, call: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.exec(
            format!("acd call {call}"),
            "UPDATE acd_calls SET talk_s = COALESCE(talk_s, 0)
                     + GREATEST(EXTRACT(EPOCH FROM ($2 - answered_at)), 0)
                 WHERE call_uuid = $1 AND answered_at IS NOT NULL",
            vec![call.into(), at.into()],
        )
        .await
    }

    /// After-call work of the last operator of `call` lasted `wrap_up` seconds.
    pub async fn wrap_up(&self, call: Uuid, wrap_up_s: f64) -> Result<(), StoreError> {
        self.exec(
            format!("acd call {call}"),
            "UPDATE acd_calls SET wrap_up_s = $2 WHERE call_uuid = $1",
            vec![call.into(), wrap_up_s.into()],
        )
        .await
    }

    /// The call left the ACD: `outcome` and, for an abandon, after how long.
    pub async fn ended(
        &self,
        call: Uuid,
        outcome: AcdOutcome,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.exec(
            format!("acd call {call}"),
            "UPDATE acd_calls SET ended_at = $2, outcome = $3,
                     abandoned_after_s = CASE WHEN $3 = 'abandoned'
                         THEN GREATEST(EXTRACT(EPOCH FROM ($2 - entered_at)), 0) END,
                     waited_s = COALESCE(waited_s, CASE WHEN answered_at IS NULL
                         THEN GREATEST(EXTRACT(EPOCH FROM ($2 - entered_at)), 0) END)
                 WHERE call_uuid = $1 AND ended_at IS NULL",
            vec![call.into(), at.into(), outcome.as_str().into()],
        )
        .await
    }

    /// A call that never reached an operator left the ACD abandoned; a row an operator
    /// answered is left alone (its talk's end closes it).
    pub async fn abandoned_unanswered(
        &self,
        call: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.exec(
            format!("acd call {call}"),
            "UPDATE acd_calls SET ended_at = $2, outcome = 'abandoned',
                     abandoned_after_s = GREATEST(EXTRACT(EPOCH FROM ($2 - entered_at)), 0),
                     waited_s = COALESCE(waited_s, GREATEST(EXTRACT(EPOCH FROM ($2 - entered_at)), 0))
                 WHERE call_uuid = $1 AND ended_at IS NULL AND answered_at IS NULL",
            vec![call.into(), at.into()],
        )
        .await
    }

    /// An attended transfer handed the call to another operator.
    pub async fn reassigned(&self, call: Uuid, operator: Option<i64>) -> Result<(), StoreError> {
        self.exec(
            format!("acd call {call}"),
            "UPDATE acd_calls SET operator = $2 WHERE call_uuid = $1",
            vec![call.into(), operator.into()],
        )
        .await
    }

    /// Moved to another queue by a transfer or an overflow.
    pub async fn moved(&self, call: Uuid, to_queue: &str) -> Result<(), StoreError> {
        self.exec(
            format!("acd call {call}"),
            "UPDATE acd_calls SET transferred_to = $2 WHERE call_uuid = $1",
            vec![call.into(), to_queue.into()],
        )
        .await
    }

    /// Mean seconds of talk plus after-call work over the queue's last `last` answered calls.
    pub async fn average_handle_s(
        &self,
        queue: &str,
        last: i64,
    ) -> Result<Option<f64>, StoreError> {
        let row = self
            .writer
            .pool()
            .get()
            .await?
            .query_one(
                "SELECT avg(talk_s + COALESCE(wrap_up_s, 0)) FROM (
                     SELECT talk_s, wrap_up_s FROM acd_calls
                     WHERE queue = $1 AND talk_s IS NOT NULL
                     ORDER BY entered_at DESC LIMIT $2) t",
                &[&queue, &last],
            )
            .await?;
        Ok(row.get(0))
    }

    /// Stores a callback promise; returns its id.
    pub async fn add_callback(
        &self,
        queue: &str,
        number: &str,
        call: Option<Uuid>,
    ) -> Result<i64, StoreError> {
        let row = self
            .writer
            .pool()
            .get()
            .await?
            .query_one(
                "INSERT INTO acd_callbacks (queue, number, call_uuid) VALUES ($1, $2, $3)
                 RETURNING id",
                &[&queue, &number, &call],
            )
            .await?;
        Ok(row.get(0))
    }

    /// Takes the oldest pending callback of `queue` for dialing (one instance gets it).
    pub async fn take_callback(&self, queue: &str) -> Result<Option<Callback>, StoreError> {
        let row = self
            .writer
            .pool()
            .get()
            .await?
            .query_opt(
                "UPDATE acd_callbacks SET state = 'dialing', attempts = attempts + 1,
                     last_attempt = now()
                 WHERE id = (SELECT id FROM acd_callbacks WHERE queue = $1 AND state = 'pending'
                             ORDER BY requested_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
                 RETURNING id, queue, number, call_uuid, attempts",
                &[&queue],
            )
            .await?;
        Ok(row.map(|r| Callback {
            id: r.get(0),
            queue: r.get(1),
            number: r.get(2),
            call_uuid: r.get(3),
            attempts: r.get(4),
        }))
    }

    /// The callback's attempt ended: `done`, `failed`, or back to `pending` to try again.
    pub async fn callback_result(
        &self,
        id: i64,
        state: CallbackState,
        operator: Option<i64>,
        result: &str,
    ) -> Result<(), StoreError> {
        self.exec(
            format!("acd call {id}"),
            "UPDATE acd_callbacks SET state = $2, operator = COALESCE($3, operator),
                     result = $4 WHERE id = $1",
            vec![
                id.into(),
                state.as_str().into(),
                operator.into(),
                result.into(),
            ],
        )
        .await
    }

    pub async fn callback_attempts(&self, id: i64) -> Result<i32, StoreError> {
        let row = self
            .writer
            .pool()
            .get()
            .await?
            .query_one("SELECT attempts FROM acd_callbacks WHERE id = $1", &[&id])
            .await?;
        Ok(row.get(0))
    }

    /// Callbacks left `dialing` by an instance that died: pending again.
    pub async fn reset_stale_callbacks(&self, older_than_s: f64) -> Result<u64, StoreError> {
        Ok(self
            .writer
            .pool()
            .get()
            .await?
            .execute(
                "UPDATE acd_callbacks SET state = 'pending'
                 WHERE state = 'dialing' AND last_attempt < now() - make_interval(secs => $1)",
                &[&older_than_s],
            )
            .await?)
    }
}
