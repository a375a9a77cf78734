//! What a campaign report counts, read from PostgreSQL in one snapshot: the campaign, its
//! targets grouped as [`crate::core::report::ReportCounts::tally`] needs them, and every
//! subscriber's row streamed into the machine CSV. The rules are core's; this module only
//! reads.

use deadpool_postgres::{Pool, Transaction};
use futures_util::{pin_mut, TryStreamExt};

use crate::core::report::{
    CampaignInfo, CampaignReport, MachineCsv, ReportCounts, SubscriberRow, TargetGroup,
};
use crate::store::postgres::StoreError;

/// Why a report could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("campaign {0} does not exist")]
    NotFound(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("building the CSV: {0}")]
    Csv(#[from] csv::Error),
}

impl From<tokio_postgres::Error> for ReportError {
    fn from(e: tokio_postgres::Error) -> Self {
        ReportError::Store(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for ReportError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        ReportError::Store(e.into())
    }
}

const CAMPAIGN_SQL: &str = "
    SELECT c.id, c.name, c.list_number, l.name, c.created_by, c.created_at, c.finished_at,
           c.state, c.lines, c.trunk, c.confirm
    FROM campaigns c LEFT JOIN contact_lists l ON l.number = c.list_number
    WHERE c.id = $1";

// Targets by status, stored outcome, and whether an answered attempt pressed the key
// ($2): the facts the counting rules need, a handful of rows for any campaign. The keyed
// targets are found once and hash-joined, not looked up target by target.
const GROUPS_SQL: &str = "
    WITH keyed AS (
        SELECT DISTINCT contact_id FROM attempts
        WHERE campaign_id = $1 AND answered_at IS NOT NULL AND confirm_key = $2)
    SELECT t.status, t.outcome, k.contact_id IS NOT NULL, count(*)
    FROM campaign_targets t LEFT JOIN keyed k ON k.contact_id = t.contact_id
    WHERE t.campaign_id = $1
    GROUP BY 1, 2, 3";

const ATTEMPTS_SQL: &str = "SELECT count(*) FROM attempts WHERE campaign_id = $1";

const REJECTED_SQL: &str =
    "SELECT count(*) FROM list_rejects WHERE list_number = $1 AND kind = 'rejected'";

// One row per target in list (file) order. `last` is the latest originate (its cause and
// time, and the count of originates); `best` is the answered attempt that got furthest
// into the message, whose listening and key the auditor cares about.
const ROWS_SQL: &str = "
    SELECT t.phone, COALESCE(k.name, ''), COALESCE(k.account, ''), t.status, t.outcome,
           COALESCE(last.n, 0), last.hangup_cause, last.q850, last.created_at,
           best.listened_ms, best.listened_full, best.confirm_key
    FROM campaign_targets t
    LEFT JOIN contacts k ON k.id = t.contact_id
    LEFT JOIN LATERAL (
        SELECT a.hangup_cause, a.q850, a.created_at, count(*) OVER () AS n
        FROM attempts a WHERE a.campaign_id = t.campaign_id AND a.contact_id = t.contact_id
        ORDER BY a.attempt_no DESC, a.created_at DESC LIMIT 1) last ON true
    LEFT JOIN LATERAL (
        SELECT a.listened_ms, a.listened_full, a.confirm_key
        FROM attempts a WHERE a.campaign_id = t.campaign_id AND a.contact_id = t.contact_id
          AND a.answered_at IS NOT NULL
        ORDER BY a.listened_full DESC NULLS LAST, a.listened_ms DESC NULLS LAST,
                 a.attempt_no DESC LIMIT 1) best ON true
    WHERE t.campaign_id = $1
    ORDER BY t.contact_id";

/// Reads the campaign, its counts and every subscriber's row. `confirm_key` is the key
/// that counts as a confirmation (`campaigns.confirm_key` of the config).
pub async fn campaign_report(
    pool: &Pool,
    campaign_id: i64,
    confirm_key: &str,
) -> Result<CampaignReport, ReportError> {
    let mut db = pool.get().await?;
    // One snapshot for counts and rows, so a campaign still running cannot make the CSV
    // disagree with the summary above it.
    let tx = db
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let row = tx
        .query_opt(CAMPAIGN_SQL, &[&campaign_id])
        .await?
        .ok_or(ReportError::NotFound(campaign_id))?;
    let campaign = CampaignInfo {
        id: row.get(0),
        name: row.get(1),
        list_number: row.get(2),
        list_name: row.get(3),
        created_by: row.get(4),
        created_at: row.get(5),
        finished_at: row.get(6),
        state: row.get(7),
        lines: row.get(8),
        trunk: row.get(9),
        confirm: row.get(10),
    };
    let groups: Vec<TargetGroup> = tx
        .query(GROUPS_SQL, &[&campaign_id, &confirm_key])
        .await?
        .iter()
        .map(|r| TargetGroup {
            status: r.get(0),
            outcome: r.get(1),
            keyed: r.get(2),
            targets: r.get(3),
        })
        .collect();
    let attempts: i64 = tx.query_one(ATTEMPTS_SQL, &[&campaign_id]).await?.get(0);
    let rejected: i64 = tx
        .query_one(REJECTED_SQL, &[&campaign.list_number])
        .await?
        .get(0);
    let counts = ReportCounts::tally(&groups, attempts, rejected);
    let csv = stream_csv(&tx, campaign_id).await?;
    tx.commit().await?;
    Ok(CampaignReport::new(
        campaign,
        counts,
        confirm_key.to_string(),
        csv,
    ))
}

/// Writes rows into the CSV as they arrive: tokio-postgres applies back-pressure to the
/// socket, so 200,000 targets never sit in memory as `Row`s, only as CSV text.
async fn stream_csv(tx: &Transaction<'_>, campaign_id: i64) -> Result<String, ReportError> {
    let stmt = tx.prepare(ROWS_SQL).await?;
    let rows = tx.query_raw(&stmt, [&campaign_id]).await?;
    pin_mut!(rows);
    let mut csv = MachineCsv::new()?;
    while let Some(r) = rows.try_next().await? {
        csv.push(SubscriberRow {
            phone: r.get(0),
            name: r.get(1),
            account: r.get(2),
            status: r.get(3),
            outcome: r.get(4),
            attempts: r.get(5),
            last_hangup_cause: r.get(6),
            last_q850: r.get(7),
            last_attempt_at: r.get(8),
            listened_ms: r.get(9),
            listened_full: r.get(10),
            confirm_key: r.get(11),
        })?;
    }
    Ok(csv.finish()?)
}
