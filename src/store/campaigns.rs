//! PostgreSQL repository of notification campaigns: campaigns, their targets (one per
//! subscriber) and attempts (one per originate, written before it). Claiming due targets uses
//! `FOR UPDATE SKIP LOCKED`, so several contactd instances never dial one subscriber twice.

use deadpool_postgres::Pool;

use crate::core::campaign::state::CampaignState;

use super::journal::{Journal, Writer};
use super::StoreError;

mod attempts;
mod targets;
pub use attempts::{AttemptEnd, NextStep};
pub use targets::Stranded;

#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub list_number: i32,
    pub audio: String,
    pub confirm: bool,
    pub trunk: String,
    pub lines: i32,
    pub caller_id: Option<String>,
    pub window_days: String,
    pub window_start: String,
    pub window_end: String,
    pub time_zone: Option<String>,
    pub max_attempts: i32,
    pub retry_busy_s: i32,
    pub retry_no_answer_s: i32,
    pub ring_s: i32,
    pub state: String,
    pub created_by: String,
    pub manager_email: Option<String>,
}

/// What `campaigns create` or the short-code flow asks for.
#[derive(Debug, Clone)]
pub struct NewCampaign {
    pub name: String,
    pub list_number: i32,
    pub audio: String,
    pub confirm: bool,
    pub trunk: String,
    pub lines: i32,
    pub caller_id: Option<String>,
    pub window_days: String,
    pub window_start: String,
    pub window_end: String,
    pub time_zone: Option<String>,
    pub max_attempts: i32,
    pub retry_busy_s: i32,
    pub retry_no_answer_s: i32,
    pub ring_s: i32,
    pub created_by: String,
    pub manager_email: Option<String>,
    /// Message rules (`[messages.templates]` names), written with the campaign in its
    /// transaction: its first batch already sees them, so the first subscribers' key
    /// presses queue their message at the key press too.
    pub after_confirm: Option<String>,
    pub when_unreached: Option<String>,
}

impl NewCampaign {
    /// A campaign to `list` with the configured defaults (`[campaigns]`): what a manager's
    /// short code starts; the CLI and tests override what they need.
    pub fn with_defaults(
        d: &crate::config::CampaignDefaults,
        list_number: i32,
        audio: &str,
        created_by: &str,
    ) -> Self {
        Self {
            name: format!("list {list_number}"),
            list_number,
            audio: audio.to_string(),
            confirm: false,
            trunk: d.trunk.clone(),
            lines: d.lines as i32,
            caller_id: None,
            window_days: d.window_days.clone(),
            window_start: d.window_start.clone(),
            window_end: d.window_end.clone(),
            time_zone: None,
            max_attempts: d.max_attempts.max(1) as i32,
            retry_busy_s: d.retry_busy_seconds as i32,
            retry_no_answer_s: d.retry_no_answer_seconds as i32,
            ring_s: d.ring_seconds as i32,
            created_by: created_by.to_string(),
            manager_email: None,
            after_confirm: None,
            when_unreached: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub contact_id: i64,
    pub phone: String,
    pub tz: Option<String>,
    pub attempts: i32,
}

impl Target {
    /// A target from a row whose first four columns are `contact_id, phone, tz, attempts`.
    pub(crate) fn from_row(r: &tokio_postgres::Row) -> Target {
        Target {
            contact_id: r.get(0),
            phone: r.get(1),
            tz: r.get(2),
            attempts: r.get(3),
        }
    }
}

/// Counts for the progress short code and the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub total: i64,
    /// Subscribers with a final outcome.
    pub done: i64,
    pub reached: i64,
    pub dialing: i64,
}

const COLUMNS: &str = "id, name, list_number, audio, confirm, trunk, lines, caller_id, window_days,
    to_char(window_start, 'HH24:MI'), to_char(window_end, 'HH24:MI'), time_zone, max_attempts,
    retry_busy_s, retry_no_answer_s, ring_s, state, created_by, manager_email";

fn campaign(r: &tokio_postgres::Row) -> Campaign {
    Campaign {
        id: r.get(0),
        name: r.get(1),
        list_number: r.get(2),
        audio: r.get(3),
        confirm: r.get(4),
        trunk: r.get(5),
        lines: r.get(6),
        caller_id: r.get(7),
        window_days: r.get(8),
        window_start: r.get(9),
        window_end: r.get(10),
        time_zone: r.get(11),
        max_attempts: r.get(12),
        retry_busy_s: r.get(13),
        retry_no_answer_s: r.get(14),
        ring_s: r.get(15),
        state: r.get(16),
        created_by: r.get(17),
        manager_email: r.get(18),
    }
}

#[derive(Clone)]
pub struct Campaigns {
    writer: Writer,
}

impl Campaigns {
    pub fn new(pool: Pool) -> Self {
        Self {
            writer: Writer::Direct(pool),
        }
    }

    /// Record writes still waiting in the journal's spool: no new originate meanwhile.
    pub fn backlog(&self) -> u64 {
        self.writer.backlog()
    }

    /// Attempt and target updates go through `journal` (kept while PostgreSQL is away).
    pub fn with_journal(journal: Journal) -> Self {
        Self {
            writer: Writer::Journal(journal),
        }
    }

    pub fn pool(&self) -> &Pool {
        self.writer.pool()
    }

    /// Creates the campaign and one target per contact of the list, in one transaction.
    pub async fn create(&self, c: &NewCampaign) -> Result<(i64, i64), StoreError> {
        let mut db = self.writer.pool().get().await?;
        let tx = db.transaction().await?;
        let id = insert_campaign(&tx, c, c.confirm).await?;
        let n = insert_targets(&tx, id, c.list_number).await?;
        tx.commit().await?;
        Ok((id, n))
    }

    pub async fn get(&self, id: i64) -> Result<Option<Campaign>, StoreError> {
        let db = self.writer.pool().get().await?;
        let sql = format!("SELECT {COLUMNS} FROM campaigns WHERE id = $1");
        Ok(db.query_opt(&sql, &[&id]).await?.as_ref().map(campaign))
    }

    /// Notice campaigns the runner must look at: running ones, and cancelled ones whose last
    /// calls have not finished yet (their report is still to come). Operator campaigns
    /// (`operator_campaigns`) have their own runner (`service::opcamp`).
    pub async fn active(&self) -> Result<Vec<Campaign>, StoreError> {
        let db = self.writer.pool().get().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM campaigns
             WHERE (state = 'running' OR (state = 'cancelled' AND finished_at IS NULL))
               AND NOT EXISTS (SELECT 1 FROM operator_campaigns o WHERE o.campaign_id = campaigns.id)
             ORDER BY id"
        );
        // every look of the runner: prepared once per connection (one round trip, not two)
        let stmt = db.prepare_cached(&sql).await?;
        Ok(db.query(&stmt, &[]).await?.iter().map(campaign).collect())
    }

    pub async fn list(&self) -> Result<Vec<Campaign>, StoreError> {
        let db = self.writer.pool().get().await?;
        let sql = format!("SELECT {COLUMNS} FROM campaigns ORDER BY id");
        Ok(db.query(&sql, &[]).await?.iter().map(campaign).collect())
    }

    /// The newest campaign started by `who` (a manager's extension).
    pub async fn last_by(&self, who: &str) -> Result<Option<Campaign>, StoreError> {
        let db = self.writer.pool().get().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM campaigns WHERE created_by = $1 ORDER BY id DESC LIMIT 1"
        );
        Ok(db.query_opt(&sql, &[&who]).await?.as_ref().map(campaign))
    }

    /// Moves the campaign to `to` if it is in one of `from`; true if it moved.
    pub async fn set_state(&self, id: i64, from: &[&str], to: &str) -> Result<bool, StoreError> {
        let db = self.writer.pool().get().await?;
        let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
        let n = db
            .execute(
                "UPDATE campaigns SET state = $3 WHERE id = $1 AND state = ANY($2)",
                &[&id, &from, &to],
            )
            .await?;
        Ok(n == 1)
    }

    /// Cancels: nobody not yet called is called; calls in progress finish.
    pub async fn cancel(&self, id: i64) -> Result<bool, StoreError> {
        let moved = self
            .set_state(
                id,
                &[
                    CampaignState::Running.as_str(),
                    CampaignState::Paused.as_str(),
                ],
                CampaignState::Cancelled.as_str(),
            )
            .await?;
        if moved {
            let db = self.writer.pool().get().await?;
            db.execute(
                "UPDATE campaign_targets SET status = 'done', outcome = COALESCE(outcome, 'cancelled')
                 WHERE campaign_id = $1 AND status = 'pending'",
                &[&id],
            )
            .await?;
        }
        Ok(moved)
    }

    pub async fn progress(&self, id: i64) -> Result<Progress, StoreError> {
        let db = self.writer.pool().get().await?;
        let r = db
            .query_one(
                "SELECT count(*),
                        count(*) FILTER (WHERE status = 'done'),
                        count(*) FILTER (WHERE outcome IN ('listened_full', 'listened_partial')),
                        count(*) FILTER (WHERE status = 'dialing')
                 FROM campaign_targets WHERE campaign_id = $1",
                &[&id],
            )
            .await?;
        Ok(Progress {
            total: r.get(0),
            done: r.get(1),
            reached: r.get(2),
            dialing: r.get(3),
        })
    }

    /// Running (or cancelled) with nobody pending or being dialed: finished. True if it
    /// just ended (the caller sends the report).
    pub async fn finish_if_complete(&self, id: i64) -> Result<bool, StoreError> {
        let db = self.writer.pool().get().await?;
        let stmt = db
            .prepare_cached(
                "UPDATE campaigns SET state = CASE WHEN state = 'cancelled' THEN 'cancelled' ELSE 'finished' END,
                        finished_at = now()
                 WHERE id = $1 AND state IN ('running', 'cancelled') AND finished_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM campaign_targets
                                   WHERE campaign_id = $1 AND status IN ('pending', 'dialing'))",
            )
            .await?;
        let n = db.execute(&stmt, &[&id]).await?;
        Ok(n == 1)
    }
}

/// The `campaigns` row of `c` (running), in the caller's transaction, once its list is known
/// to exist: the one home of that insert for notice and operator campaigns alike.
pub(crate) async fn insert_campaign(
    tx: &deadpool_postgres::Transaction<'_>,
    c: &NewCampaign,
    confirm: bool,
) -> Result<i64, StoreError> {
    let exists = tx
        .query_opt(
            "SELECT 1 FROM contact_lists WHERE number = $1",
            &[&c.list_number],
        )
        .await?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("list {}", c.list_number)));
    }
    let row = tx
        .query_one(
            "INSERT INTO campaigns (name, list_number, audio, confirm, trunk, lines, caller_id,
                window_days, window_start, window_end, time_zone, max_attempts, retry_busy_s,
                retry_no_answer_s, ring_s, state, created_by, manager_email, after_confirm,
                when_unreached)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::time, $10::text::time, $11, $12,
                $13, $14, $15, 'running', $16, $17, $18, $19)
             RETURNING id",
            &[
                &c.name,
                &c.list_number,
                &c.audio,
                &confirm,
                &c.trunk,
                &c.lines,
                &c.caller_id,
                &c.window_days,
                &c.window_start,
                &c.window_end,
                &c.time_zone,
                &c.max_attempts,
                &c.retry_busy_s,
                &c.retry_no_answer_s,
                &c.ring_s,
                &c.created_by,
                &c.manager_email,
                &c.after_confirm,
                &c.when_unreached,
            ],
        )
        .await?;
    Ok(row.get(0))
}

/// One target per contact of list `list` for campaign `id`, in the caller's transaction.
pub(crate) async fn insert_targets(
    tx: &deadpool_postgres::Transaction<'_>,
    id: i64,
    list: i32,
) -> Result<i64, StoreError> {
    let n = tx
        .execute(
            "INSERT INTO campaign_targets (campaign_id, contact_id, phone, tz)
             SELECT $1, id, phone, tz FROM contacts WHERE list_number = $2",
            &[&id, &list],
        )
        .await?;
    Ok(n as i64)
}
