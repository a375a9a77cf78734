//! Campaign reports: what an auditor receives when a notification campaign ends, and what
//! `contactd campaigns report ID` prints. Owns the counting rules (what "reached" and
//! "confirmed" mean) and the per-subscriber CSV; reads PostgreSQL only, decides nothing else.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use deadpool_postgres::Pool;
use futures_util::{pin_mut, TryStreamExt};

use crate::store::postgres::StoreError;

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

/// The campaign as the report names it.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignInfo {
    pub id: i64,
    pub name: String,
    pub list_number: i32,
    /// `None` when the list was deleted after the campaign.
    pub list_name: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub state: String,
    pub lines: i32,
    pub trunk: String,
    /// The campaign asked subscribers for a confirmation key.
    pub confirm: bool,
}

/// Subscribers by final outcome. `reached + busy + no_answer + failed + invalid + dnc +
/// unknown + cancelled + pending == total`; `rejected_at_import` is outside `total` (those
/// rows never became targets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportCounts {
    pub total: i64,
    pub reached: i64,
    pub listened_full: i64,
    pub listened_partial: i64,
    pub confirmed: i64,
    pub busy: i64,
    pub no_answer: i64,
    pub failed: i64,
    pub invalid: i64,
    pub dnc: i64,
    /// Includes done targets whose outcome is missing or not a known name: the report says
    /// "unknown" rather than guess.
    pub unknown: i64,
    pub cancelled: i64,
    /// Not done yet (`pending` or `dialing`); a busy target waiting for its retry is here.
    pub pending: i64,
    pub rejected_at_import: i64,
    /// Originates made (rows of `attempts`).
    pub attempts: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CampaignReport {
    pub campaign: CampaignInfo,
    pub counts: ReportCounts,
    /// The confirmation key the counts were made with.
    pub confirm_key: String,
    csv: String,
}

/// Columns of the per-subscriber CSV, in order.
pub const CSV_HEADER: [&str; 11] = [
    "phone",
    "name",
    "account",
    "outcome",
    "attempts",
    "last_hangup_cause",
    "last_q850",
    "listened_seconds",
    "listened_fully",
    "confirm_key",
    "last_attempt_at",
];

const CAMPAIGN_SQL: &str = "
    SELECT c.id, c.name, c.list_number, l.name, c.created_by, c.created_at, c.finished_at,
           c.state, c.lines, c.trunk, c.confirm
    FROM campaigns c LEFT JOIN contact_lists l ON l.number = c.list_number
    WHERE c.id = $1";

// Outcomes only count once a target is done: a pending target keeps its last outcome
// (e.g. busy) while it waits for a retry, and must be reported as pending, not busy.
const COUNTS_SQL: &str = "
    SELECT count(*),
      count(*) FILTER (WHERE status = 'done' AND outcome = 'listened_full'),
      count(*) FILTER (WHERE status = 'done' AND outcome = 'listened_partial'),
      count(*) FILTER (WHERE status = 'done' AND outcome IN ('listened_full', 'listened_partial')
        AND EXISTS (SELECT 1 FROM attempts a
                    WHERE a.campaign_id = t.campaign_id AND a.contact_id = t.contact_id
                      AND a.answered_at IS NOT NULL AND a.confirm_key = $2)),
      count(*) FILTER (WHERE status = 'done' AND outcome = 'busy'),
      count(*) FILTER (WHERE status = 'done' AND outcome = 'no_answer'),
      count(*) FILTER (WHERE status = 'done' AND outcome = 'failed'),
      count(*) FILTER (WHERE status = 'done' AND outcome = 'invalid'),
      count(*) FILTER (WHERE status = 'done' AND outcome = 'dnc'),
      count(*) FILTER (WHERE status = 'done' AND (outcome IS NULL OR outcome NOT IN
        ('listened_full', 'listened_partial', 'busy', 'no_answer', 'failed', 'invalid',
         'dnc', 'cancelled'))),
      count(*) FILTER (WHERE status = 'done' AND outcome = 'cancelled'),
      count(*) FILTER (WHERE status <> 'done'),
      (SELECT count(*) FROM attempts a WHERE a.campaign_id = $1)
    FROM campaign_targets t WHERE t.campaign_id = $1";

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
    let c = tx
        .query_one(COUNTS_SQL, &[&campaign_id, &confirm_key])
        .await?;
    let rejected: i64 = tx
        .query_one(
            "SELECT count(*) FROM list_rejects WHERE list_number = $1 AND kind = 'rejected'",
            &[&campaign.list_number],
        )
        .await?
        .get(0);
    let counts = ReportCounts {
        total: c.get(0),
        listened_full: c.get(1),
        listened_partial: c.get(2),
        reached: c.get::<_, i64>(1) + c.get::<_, i64>(2),
        confirmed: c.get(3),
        busy: c.get(4),
        no_answer: c.get(5),
        failed: c.get(6),
        invalid: c.get(7),
        dnc: c.get(8),
        unknown: c.get(9),
        cancelled: c.get(10),
        pending: c.get(11),
        rejected_at_import: rejected,
        attempts: c.get(12),
    };
    let csv = stream_csv(&tx, campaign_id).await?;
    tx.commit().await?;
    Ok(CampaignReport {
        campaign,
        counts,
        confirm_key: confirm_key.to_string(),
        csv,
    })
}

/// Writes rows into the CSV as they arrive: tokio-postgres applies back-pressure to the
/// socket, so 200,000 targets never sit in memory as `Row`s, only as CSV text.
async fn stream_csv(
    tx: &deadpool_postgres::Transaction<'_>,
    campaign_id: i64,
) -> Result<String, ReportError> {
    let stmt = tx.prepare(ROWS_SQL).await?;
    let rows = tx.query_raw(&stmt, [&campaign_id]).await?;
    pin_mut!(rows);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADER)?;
    while let Some(r) = rows.try_next().await? {
        let status: String = r.get(3);
        let outcome: Option<String> = r.get(4);
        // Until done, the stored outcome is only the last try's; say where the target stands.
        let outcome = if status == "done" {
            outcome.unwrap_or_else(|| "unknown".into())
        } else {
            status
        };
        let n: i64 = r.get(5);
        let cause: Option<String> = r.get(6);
        let q850: Option<i32> = r.get(7);
        let last_at: Option<DateTime<Utc>> = r.get(8);
        let listened_ms: Option<i32> = r.get(9);
        let full: Option<bool> = r.get(10);
        let key: Option<String> = r.get(11);
        w.write_record([
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2),
            outcome,
            n.to_string(),
            cause.unwrap_or_default(),
            q850.map(|q| q.to_string()).unwrap_or_default(),
            listened_ms.map(seconds).unwrap_or_default(),
            if full == Some(true) { "yes" } else { "no" }.to_string(),
            key.unwrap_or_default(),
            last_at.map(rfc3339).unwrap_or_default(),
        ])?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    // Every field written is a Rust `String`, so the bytes are UTF-8.
    Ok(String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8"))
}

/// Milliseconds as seconds with one decimal (`42.5`): what a person reads.
fn seconds(ms: i32) -> String {
    format!("{}.{}", ms / 1000, (ms % 1000) / 100)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl CampaignReport {
    /// `campaign-12.csv`.
    pub fn csv_name(&self) -> String {
        format!("campaign-{}.csv", self.campaign.id)
    }

    /// The e-mail subject: `Campaign 12 'Water outage' finished: 240 of 300 reached`.
    pub fn subject(&self) -> String {
        format!(
            "Campaign {} '{}' {}: {} of {} reached",
            self.campaign.id,
            self.campaign.name,
            self.campaign.state,
            self.counts.reached,
            self.counts.total
        )
    }

    /// The plain-text body: a header, then one labelled count per line.
    pub fn render_text(&self) -> String {
        let c = &self.campaign;
        let n = &self.counts;
        let mut s = String::new();
        let _ = writeln!(s, "Campaign {} '{}': {}", c.id, c.name, c.state);
        let list = match &c.list_name {
            Some(name) => format!("{} '{}'", c.list_number, name),
            None => format!("{} (deleted)", c.list_number),
        };
        let _ = writeln!(s, "List: {list}");
        let _ = writeln!(s, "Started by: {}", c.created_by);
        let _ = writeln!(s, "Started at: {}", rfc3339(c.created_at));
        let finished = c.finished_at.map(rfc3339);
        let _ = writeln!(
            s,
            "Finished at: {}",
            finished.as_deref().unwrap_or("not finished")
        );
        let _ = writeln!(s, "Lines: {} on trunk {}", c.lines, c.trunk);
        let asked = if c.confirm { "yes" } else { "no" };
        let _ = writeln!(s, "Confirmation asked: {asked}");
        s.push('\n');
        let lines: [(String, i64); 16] = [
            ("Subscribers in the campaign".into(), n.total),
            ("Reached (answered and heard the message)".into(), n.reached),
            ("Listened to the end".into(), n.listened_full),
            ("Hung up before the end".into(), n.listened_partial),
            (
                format!("Confirmed with key {}", self.confirm_key),
                n.confirmed,
            ),
            ("Busy".into(), n.busy),
            ("No answer".into(), n.no_answer),
            ("Failed (network or line error)".into(), n.failed),
            ("Invalid number".into(), n.invalid),
            ("On the do-not-call list (not dialed)".into(), n.dnc),
            ("Result unknown".into(), n.unknown),
            ("Cancelled before dialing".into(), n.cancelled),
            ("Still pending".into(), n.pending),
            (
                "Rejected at import (invalid numbers, never dialed)".into(),
                n.rejected_at_import,
            ),
            ("Calls made (all attempts)".into(), n.attempts),
            (
                "Reached, percent of subscribers".into(),
                percent(n.reached, n.total),
            ),
        ];
        for (label, value) in lines {
            let _ = writeln!(s, "{label}: {value}");
        }
        s.push('\n');
        let _ = writeln!(s, "Each subscriber's outcome: {}", self.csv_name());
        s
    }

    /// Every subscriber's outcome, one row per target, with a header row.
    pub fn render_csv(&self) -> &str {
        &self.csv
    }
}

fn percent(part: i64, whole: i64) -> i64 {
    if whole == 0 {
        0
    } else {
        part * 100 / whole
    }
}

/// Exactly what `contactd campaigns report ID` prints: the text body, then the CSV.
pub async fn print_report(
    pool: &Pool,
    campaign_id: i64,
    confirm_key: &str,
) -> Result<String, ReportError> {
    let report = campaign_report(pool, campaign_id, confirm_key).await?;
    let mut out = report.render_text();
    out.push('\n');
    out.push_str(report.render_csv());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CampaignReport {
        CampaignReport {
            campaign: CampaignInfo {
                id: 12,
                name: "Water outage Lenina st.".into(),
                list_number: 7,
                list_name: Some("Lenina".into()),
                created_by: "2001".into(),
                created_at: DateTime::parse_from_rfc3339("2025-06-02T06:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc),
                finished_at: None,
                state: "finished".into(),
                lines: 5,
                trunk: "e1".into(),
                confirm: true,
            },
            counts: ReportCounts {
                total: 300,
                reached: 240,
                listened_full: 200,
                listened_partial: 40,
                ..Default::default()
            },
            confirm_key: "1".into(),
            csv: String::new(),
        }
    }

    #[test]
    fn subject_and_labels_say_what_happened() {
        let r = sample();
        assert_eq!(
            r.subject(),
            "Campaign 12 'Water outage Lenina st.' finished: 240 of 300 reached"
        );
        let text = r.render_text();
        assert!(text.contains("\nListened to the end: 200\n"), "{text}");
        assert!(text.contains("\nHung up before the end: 40\n"), "{text}");
        assert!(
            text.contains("\nReached, percent of subscribers: 80\n"),
            "{text}"
        );
        assert!(text.contains("Finished at: not finished"), "{text}");
    }

    #[test]
    fn seconds_keep_one_decimal() {
        assert_eq!(seconds(42_560), "42.5");
        assert_eq!(seconds(999), "0.9");
        assert_eq!(seconds(0), "0.0");
    }
}
