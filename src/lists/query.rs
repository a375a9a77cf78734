//! Reading lists back: one list's figures and refused rows (`lists show`), all lists
//! (`lists ls`). "On DNC" is counted now, against today's do-not-call list.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{ListError, ProblemKind, RowProblem};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSummary {
    pub number: u16,
    pub name: String,
    pub source_file: String,
    pub created_at: DateTime<Utc>,
    pub replaced_at: Option<DateTime<Utc>>,
    pub rows_read: i32,
    pub accepted: i32,
    pub rejected: i32,
    pub duplicates: i32,
    /// Contacts stored now.
    pub contacts: i64,
    /// Contacts whose number is on the DNC list now.
    pub on_dnc: i64,
}

const SUMMARY: &str = "SELECT l.number, l.name, l.source_file, l.created_at, l.replaced_at,
        l.rows_read, l.accepted, l.rejected, l.duplicates,
        (SELECT count(*) FROM contacts c WHERE c.list_number = l.number),
        (SELECT count(*) FROM contacts c JOIN dnc d ON d.phone = c.phone
          WHERE c.list_number = l.number)
    FROM contact_lists l";

fn summary(r: &Row) -> ListSummary {
    let number: i32 = r.get(0);
    ListSummary {
        number: u16::try_from(number).unwrap_or(0),
        name: r.get(1),
        source_file: r.get(2),
        created_at: r.get(3),
        replaced_at: r.get(4),
        rows_read: r.get(5),
        accepted: r.get(6),
        rejected: r.get(7),
        duplicates: r.get(8),
        contacts: r.get(9),
        on_dnc: r.get(10),
    }
}

pub async fn list_summary(db: &impl GenericClient, number: u16) -> Result<ListSummary, ListError> {
    let row = db
        .query_opt(
            &format!("{SUMMARY} WHERE l.number = $1"),
            &[&i32::from(number)],
        )
        .await?
        .ok_or(ListError::NoSuchList(number))?;
    Ok(summary(&row))
}

pub async fn all_lists(db: &impl GenericClient) -> Result<Vec<ListSummary>, ListError> {
    let rows = db
        .query(&format!("{SUMMARY} ORDER BY l.number"), &[])
        .await?;
    Ok(rows.iter().map(summary).collect())
}

/// The first `limit` refused or duplicate rows of list `number`, by line.
pub async fn list_problems(
    db: &impl GenericClient,
    number: u16,
    limit: i64,
) -> Result<Vec<RowProblem>, ListError> {
    let rows = db
        .query(
            "SELECT line_no, kind, raw, reason, duplicate_of FROM list_rejects
             WHERE list_number = $1 ORDER BY line_no LIMIT $2",
            &[&i32::from(number), &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let kind: String = r.get(1);
            let dup: Option<i32> = r.get(4);
            RowProblem {
                line: u64::try_from(r.get::<_, i32>(0)).unwrap_or(0),
                kind: match (kind.as_str(), dup) {
                    ("duplicate", Some(first)) => ProblemKind::Duplicate {
                        first_line: u64::try_from(first).unwrap_or(0),
                    },
                    _ => ProblemKind::Rejected,
                },
                raw: r.get(2),
                reason: r.get(3),
            }
        })
        .collect())
}
