//! What operator campaigns hold durably for an operator (`sql/015_opcamp_durable.sql`): the
//! preview contact on their screen, the disposition they owe for their last campaign call,
//! and the callbacks they scheduled with how each was tried.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde::Serialize;
use uuid::Uuid;

use super::campaigns::Target;
use super::StoreError;

/// A callback as its operator sees it listed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CallbackRow {
    pub id: i64,
    pub campaign: i64,
    pub contact: i64,
    pub number: String,
    pub due_at: DateTime<Utc>,
    /// pending, dialing, done or failed
    pub state: String,
    /// its calls that did not connect so far
    pub tries: i32,
    /// how the last call ended (no_answer, busy, failed, abandoned, ...)
    pub last_outcome: Option<String>,
}

/// A callback a restart found `dialing`, with the last call placed for it.
#[derive(Debug, Clone)]
pub struct DialingCallback {
    pub callback: super::op_campaigns::OpCallback,
    /// the last call placed for it, its attempt's outcome (None: in flight at the stop) and
    /// whether the callback already counted that call
    pub call: Option<(Uuid, Option<String>, bool)>,
    /// the process that took it to dial (`instance@host:pid`; None: before sql/018) and when
    pub claimed: Option<(String, DateTime<Utc>)>,
}

#[derive(Clone)]
pub struct OpHeld {
    pool: Pool,
}

impl OpHeld {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Holds `t` (already claimed, `dialing`) of `campaign` for `operator`.
    pub async fn hold_preview(
        &self,
        operator: &str,
        campaign: i64,
        t: &Target,
    ) -> Result<(), StoreError> {
        let db = self.pool.get().await?;
        db.execute(
            "INSERT INTO operator_previews (operator, campaign_id, contact_id, phone, tz, attempts)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &operator,
                &campaign,
                &t.contact_id,
                &t.phone,
                &t.tz,
                &t.attempts,
            ],
        )
        .await?;
        Ok(())
    }

    /// Every operator holding a previewed contact, with its campaign.
    pub async fn previews(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let db = self.pool.get().await?;
        let rows = db
            .query(
                "SELECT operator, campaign_id FROM operator_previews ORDER BY shown_at",
                &[],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The contact held for `operator`, with its campaign.
    pub async fn held_preview(&self, operator: &str) -> Result<Option<(i64, Target)>, StoreError> {
        let db = self.pool.get().await?;
        let row = db
            .query_opt(
                "SELECT campaign_id, contact_id, phone, tz, attempts FROM operator_previews
                 WHERE operator = $1",
                &[&operator],
            )
            .await?;
        Ok(row.map(|r| {
            (
                r.get(0),
                Target {
                    contact_id: r.get(1),
                    phone: r.get(2),
                    tz: r.get(3),
                    attempts: r.get(4),
                },
            )
        }))
    }

    /// Takes the contact of `campaign` held for `operator` (theirs to dial now, once only).
    pub async fn take_preview(
        &self,
        operator: &str,
        campaign: i64,
    ) -> Result<Option<Target>, StoreError> {
        let db = self.pool.get().await?;
        let row = db
            .query_opt(
                "DELETE FROM operator_previews WHERE operator = $1 AND campaign_id = $2
                 RETURNING contact_id, phone, tz, attempts",
                &[&operator, &campaign],
            )
            .await?;
        Ok(row.as_ref().map(Target::from_row))
    }

    /// Contacts of `campaign` held on an operator's screen (not stranded: nobody dials them).
    pub async fn held_contacts(&self, campaign: i64) -> Result<HashSet<i64>, StoreError> {
        let db = self.pool.get().await?;
        let rows = db
            .query(
                "SELECT contact_id FROM operator_previews WHERE campaign_id = $1",
                &[&campaign],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Notes one call of callback `id` that did not connect: `retry_at` pending again then,
    /// or (None) failed for good.
    /// Callbacks left `dialing` (by a stop while they were being dialed).
    pub async fn callbacks_dialing(&self) -> Result<Vec<DialingCallback>, StoreError> {
        let db = self.pool.get().await?;
        let rows = db
            .query(
                "SELECT b.id, b.campaign_id, b.contact_id, b.operator, b.number, b.due_at,
                        last.uuid, last.outcome, last.uuid IS NOT DISTINCT FROM b.call_uuid,
                        b.claimed_by, b.claimed_at
                 FROM operator_callbacks b
                 LEFT JOIN LATERAL (SELECT a.uuid, a.outcome FROM operator_calls oc
                                    JOIN attempts a ON a.uuid = oc.uuid
                                    WHERE oc.callback_id = b.id
                                    ORDER BY a.created_at DESC LIMIT 1) last ON true
                 WHERE b.state = 'dialing'",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| DialingCallback {
                callback: super::op_campaigns::OpCallback {
                    id: r.get(0),
                    campaign_id: r.get(1),
                    contact_id: r.get(2),
                    operator: r.get(3),
                    number: r.get(4),
                    due_at: r.get(5),
                    to_operator: true,
                },
                call: r.get::<_, Option<Uuid>>(6).map(|u| (u, r.get(7), r.get(8))),
                claimed: r
                    .get::<_, Option<String>>(9)
                    .zip(r.get::<_, Option<DateTime<Utc>>>(10)),
            })
            .collect())
    }

    pub async fn callback_tried(
        &self,
        id: i64,
        outcome: &str,
        retry_at: Option<DateTime<Utc>>,
        call: Uuid,
    ) -> Result<(), StoreError> {
        let db = self.pool.get().await?;
        let state = if retry_at.is_some() {
            "pending"
        } else {
            "failed"
        };
        db.execute(
            "UPDATE operator_callbacks SET state = $2, due_at = COALESCE($3, due_at),
                    last_outcome = $4, call_uuid = $5
             WHERE id = $1",
            &[&id, &state, &retry_at, &outcome, &call],
        )
        .await?;
        Ok(())
    }

    /// Counts a call of callback `id` that did not connect; how many so far.
    pub async fn callback_dialed(&self, id: i64) -> Result<i32, StoreError> {
        let db = self.pool.get().await?;
        let row = db
            .query_one(
                "UPDATE operator_callbacks SET tries = tries + 1 WHERE id = $1 RETURNING tries",
                &[&id],
            )
            .await?;
        Ok(row.get(0))
    }

    /// `operator`'s callbacks, the latest due first (at most `limit`).
    pub async fn callbacks_of(
        &self,
        operator: &str,
        limit: i64,
    ) -> Result<Vec<CallbackRow>, StoreError> {
        let db = self.pool.get().await?;
        let rows = db
            .query(
                "SELECT id, campaign_id, contact_id, number, due_at, state, tries, last_outcome
                 FROM operator_callbacks WHERE operator = $1 ORDER BY due_at DESC, id DESC
                 LIMIT $2",
                &[&operator, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| CallbackRow {
                id: r.get(0),
                campaign: r.get(1),
                contact: r.get(2),
                number: r.get(3),
                due_at: r.get(4),
                state: r.get(5),
                tries: r.get(6),
                last_outcome: r.get(7),
            })
            .collect())
    }
}

/// The campaign call whose disposition `operator` owes: their last connected campaign call,
/// if it has none yet.
pub async fn disposition_owed(pool: &Pool, operator: &str) -> Result<Option<Uuid>, StoreError> {
    let db = pool.get().await?;
    // prepared once per connection: every login and ready waits for this query
    let query = db
        .prepare_cached(
            "SELECT uuid, disposition IS NULL FROM operator_calls
             WHERE operator = $1 AND connected_at IS NOT NULL
             ORDER BY connected_at DESC LIMIT 1",
        )
        .await?;
    let row = db.query_opt(&query, &[&operator]).await?;
    Ok(row.filter(|r| r.get::<_, bool>(1)).map(|r| r.get(0)))
}

/// Of `calls`, those whose disposition is stored: PostgreSQL's word against a note in
/// Redis that a disposition is still owed (a step after the stored one may have failed).
pub async fn disposed(pool: &Pool, calls: &[Uuid]) -> Result<Vec<Uuid>, StoreError> {
    let db = pool.get().await?;
    let rows = db
        .query(
            "SELECT uuid FROM operator_calls WHERE uuid = ANY($1) AND disposition IS NOT NULL",
            &[&calls],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
