//! A notification campaign's targets as its dialer moves them: claimed when due (`FOR
//! UPDATE SKIP LOCKED`, so two instances never dial one subscriber), put back without an
//! attempt, skipped, and found stranded `dialing` after a crash.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Campaigns, Target};
use crate::store::journal::Write;
use crate::store::StoreError;

impl Campaigns {
    /// Claims up to `n` subscribers due now, marking them `dialing`.
    ///
    /// `fence`: the driver's token (`store::drivers::bump_fence`); the claim takes nothing
    /// once another driver bumped it. `None` where no driver lease applies (an operator's
    /// own preview request).
    pub async fn claim_due(
        &self,
        id: i64,
        n: i64,
        now: DateTime<Utc>,
        fence: Option<i64>,
    ) -> Result<Vec<Target>, StoreError> {
        let rows = self.claim(id, n, now, fence, "").await?;
        Ok(rows.iter().map(Target::from_row).collect())
    }

    /// [`Campaigns::claim_due`], and which of the claimed numbers are on the do-not-call list
    /// now, asked in the same statement: a round trip less between a freed line and its next
    /// call. Fails as a whole when the list cannot be read.
    pub async fn claim_due_screened(
        &self,
        id: i64,
        n: i64,
        now: DateTime<Utc>,
        fence: Option<i64>,
    ) -> Result<(Vec<Target>, HashSet<String>), StoreError> {
        let dnc = ", EXISTS (SELECT 1 FROM dnc d WHERE d.phone = t.phone)";
        let rows = self.claim(id, n, now, fence, dnc).await?;
        let blocked = rows
            .iter()
            .filter(|r| r.get::<_, bool>(4))
            .map(|r| r.get::<_, String>(1))
            .collect();
        Ok((rows.iter().map(Target::from_row).collect(), blocked))
    }

    /// The claim's one statement; `more` adds columns after the target's four.
    async fn claim(
        &self,
        id: i64,
        n: i64,
        now: DateTime<Utc>,
        fence: Option<i64>,
        more: &str,
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let db = self.writer.pool().get().await?;
        let sql = format!(
            // The claim alone does not wait for its WAL flush (synchronous_commit off for
            // this statement's transaction): nobody is dialed until the batch's attempt rows
            // commit, synchronously, which flushes the WAL up to and with the claim; a claim
            // lost in a crash before that dialed nobody.
            "WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true))
             UPDATE campaign_targets t SET status = 'dialing'
             FROM (SELECT contact_id FROM campaign_targets
                   WHERE campaign_id = $1 AND status = 'pending' AND next_at <= $3
                     AND EXISTS (SELECT 1 FROM async_commit)
                     -- paused or cancelled: nobody more (the runner may look with an
                     -- active list read a moment before)
                     AND EXISTS (SELECT 1 FROM campaigns c
                                 WHERE c.id = $1 AND c.state = 'running')
                     AND ($4::bigint IS NULL OR EXISTS (
                           SELECT 1 FROM campaign_fences f
                           WHERE f.campaign_id = $1 AND f.token = $4))
                   ORDER BY next_at, contact_id LIMIT $2
                   FOR UPDATE SKIP LOCKED) due
             WHERE t.campaign_id = $1 AND t.contact_id = due.contact_id
             RETURNING t.contact_id, t.phone, t.tz, t.attempts{more}"
        );
        let stmt = db.prepare_cached(&sql).await?;
        Ok(db.query(&stmt, &[&id, &n, &now, &fence]).await?)
    }

    /// Back to the queue without counting an attempt (no free line, window closed).
    pub async fn requeue(
        &self,
        id: i64,
        contact: i64,
        next_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.writer
            .write(Write::new(
                format!("campaign {id} contact {contact} requeued"),
                "UPDATE campaign_targets SET status = 'pending', next_at = $3
                 WHERE campaign_id = $1 AND contact_id = $2 AND status = 'dialing'",
                vec![id.into(), contact.into(), next_at.into()],
            ))
            .await
    }

    /// Done without dialing (do-not-call).
    pub async fn skip(&self, id: i64, contact: i64, outcome: &str) -> Result<(), StoreError> {
        self.writer
            .write(Write::new(
                format!("campaign {id} contact {contact} skipped: {outcome}"),
                "UPDATE campaign_targets SET status = 'done', outcome = $3
                 WHERE campaign_id = $1 AND contact_id = $2",
                vec![id.into(), contact.into(), outcome.into()],
            ))
            .await
    }

    /// Targets left `dialing` by a crash, with their last attempt.
    pub async fn stranded(&self, id: i64) -> Result<Vec<Stranded>, StoreError> {
        let db = self.writer.pool().get().await?;
        let rows = db
            .query(
                "SELECT t.contact_id, t.attempts, a.uuid, a.answered_at IS NOT NULL,
                        a.playback_started_at IS NOT NULL, a.outcome
                 FROM campaign_targets t
                 LEFT JOIN LATERAL (SELECT * FROM attempts a
                                    WHERE a.campaign_id = t.campaign_id AND a.contact_id = t.contact_id
                                    ORDER BY attempt_no DESC LIMIT 1) a ON true
                 WHERE t.campaign_id = $1 AND t.status = 'dialing'",
                &[&id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Stranded {
                contact_id: r.get(0),
                attempts: r.get(1),
                uuid: r.get(2),
                answered: r.get::<_, Option<bool>>(3).unwrap_or(false),
                playback_started: r.get::<_, Option<bool>>(4).unwrap_or(false),
                outcome: r.get(5),
            })
            .collect())
    }
}

/// A subscriber whose call was in progress when contactd stopped.
#[derive(Debug, Clone)]
pub struct Stranded {
    pub contact_id: i64,
    pub attempts: i32,
    pub uuid: Option<Uuid>,
    pub answered: bool,
    pub playback_started: bool,
    pub outcome: Option<String>,
}
