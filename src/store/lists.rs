//! Contact lists in PostgreSQL. Storing one: the file is parsed on a blocking thread and its
//! rows streamed as `COPY` text straight into `contacts` while it is read (the refused ones
//! into `list_rejects` after, `store::list_copy`) — all inside ONE transaction, so a crash, a
//! bad file or a refused replace leaves the previous state untouched.
//!
//! Concurrent imports into one list number are serialised by an advisory lock; readers (the
//! dialer) keep seeing the old contacts until the replacing transaction commits.
//!
//! Reading lists back: one list's figures and refused rows (`lists show`), all lists
//! (`lists ls`). "On DNC" is counted now, against today's do-not-call list.
//!
//! The row checks are `core::lists`'; this module feeds them the file and the `[dialing]`
//! rules ([`row_rules`]) and stores what they accept.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use deadpool_postgres::{GenericClient, Pool, Transaction};
use futures_util::SinkExt;
use tokio::sync::mpsc;

use crate::config::DialingConfig;
use crate::core::lists::rows::{FileKind, Row, RowReader, RowRules};
use crate::core::lists::{ImportOptions, ListError, ProblemKind, RowProblem};
use crate::core::numbers::normalize;
use crate::store::postgres::pg_detail;

pub(crate) use super::list_copy::put;
pub use super::list_copy::MAX_REPORTED;
use super::list_copy::{Parsed, CHUNK};

/// First argument of `pg_advisory_xact_lock(int, int)` for list imports.
const LIST_LOCK_CLASS: i32 = 0x6c69_7374; // "list"

#[derive(Debug, Clone)]
pub struct ImportReport {
    pub list_number: u16,
    pub name: String,
    /// An existing list's contacts were replaced.
    pub replaced: bool,
    /// Data records read (the header not counted).
    pub rows_read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub duplicates: u64,
    /// Accepted numbers that are on the DNC list at import time (kept; the dialer skips them).
    pub on_dnc: u64,
    /// The first [`MAX_REPORTED`] rejected and duplicate rows, in file order.
    pub problems: Vec<RowProblem>,
    pub elapsed: Duration,
}

impl From<tokio_postgres::Error> for ListError {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.as_db_error().is_none() || e.is_closed() {
            ListError::Unavailable(pg_detail(&e))
        } else {
            ListError::Db(pg_detail(&e))
        }
    }
}

impl From<deadpool_postgres::PoolError> for ListError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => ListError::Unavailable(other.to_string()),
        }
    }
}

/// The `[dialing]` rules as the row checks take them.
pub fn row_rules(rules: &DialingConfig) -> Result<RowRules, ListError> {
    let default_tz: Tz = rules.default_time_zone.parse().map_err(|_| {
        ListError::Usage(format!(
            "dialing.default_time_zone {:?} is not an IANA zone",
            rules.default_time_zone
        ))
    })?;
    let rules = rules.clone();
    Ok(RowRules {
        normalize: Box::new(move |raw| normalize(raw, &rules)),
        default_tz,
    })
}

/// Opens a list file for [`RowReader`]: the reasons a person reads for a missing file or
/// a directory.
fn open_file(
    path: &Path,
    kind: FileKind,
    rules: RowRules,
) -> Result<RowReader<std::fs::File>, ListError> {
    let file = std::fs::File::open(path).map_err(|e| ListError::NoInput {
        path: path.to_path_buf(),
        reason: match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".into(),
            _ => e.to_string(),
        },
    })?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(ListError::NoInput {
            path: path.to_path_buf(),
            reason: "is a directory".into(),
        });
    }
    RowReader::new(path, file, kind, rules)
}

/// Opens and checks the header on a blocking thread (no DB work happens for a bad file).
pub(crate) async fn open_reader(
    path: &Path,
    kind: FileKind,
    rules: &DialingConfig,
) -> Result<RowReader<std::fs::File>, ListError> {
    let (p, r) = (path.to_path_buf(), rules.clone());
    tokio::task::spawn_blocking(move || open_file(&p, kind, row_rules(&r)?))
        .await
        .map_err(|e| ListError::Db(format!("reader thread: {e}")))?
}

/// Streams every row of `reader` through `encode` (which appends COPY text for the rows it
/// stores) into `copy_sql` on `tx`, counting as it goes.
pub(crate) async fn copy_rows<F>(
    tx: &Transaction<'_>,
    copy_sql: &str,
    mut reader: RowReader<std::fs::File>,
    mut encode: F,
) -> Result<Parsed, ListError>
where
    F: FnMut(&Row<'_>, &mut Vec<u8>) + Send + 'static,
{
    let (chunks, mut rx) = mpsc::channel::<Bytes>(4);
    let parser = tokio::task::spawn_blocking(move || -> Result<Parsed, ListError> {
        let mut p = Parsed::default();
        let mut buf = Vec::with_capacity(CHUNK + 8192);
        while let Some(row) = reader.next_row()? {
            p.rows_read += 1;
            encode(&row, &mut buf);
            match row {
                Row::Contact(_) => p.accepted += 1,
                Row::Problem(problem) => {
                    match problem.kind {
                        ProblemKind::Rejected => p.rejected += 1,
                        ProblemKind::Duplicate { .. } => p.duplicates += 1,
                    }
                    if p.problems.len() < MAX_REPORTED {
                        p.problems.push(problem);
                    }
                }
            }
            if buf.len() >= CHUNK {
                let full = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK + 8192));
                if chunks.blocking_send(Bytes::from(full)).is_err() {
                    p.aborted = true;
                    return Ok(p);
                }
            }
        }
        if !buf.is_empty() && chunks.blocking_send(Bytes::from(buf)).is_err() {
            p.aborted = true;
        }
        Ok(p)
    });
    let copied: Result<u64, tokio_postgres::Error> = async {
        let sink = tx.copy_in::<_, Bytes>(copy_sql).await?;
        futures_util::pin_mut!(sink);
        while let Some(chunk) = rx.recv().await {
            sink.send(chunk).await?;
        }
        sink.finish().await
    }
    .await;
    // A failed COPY stops the parser at its next chunk.
    drop(rx);
    let parsed = parser
        .await
        .map_err(|e| ListError::Db(format!("parser thread: {e}")))??;
    copied?;
    if parsed.aborted {
        return Err(ListError::Db("COPY ended before the file was read".into()));
    }
    Ok(parsed)
}

fn source_name(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| PathBuf::from(path))
        .display()
        .to_string()
}

/// Imports `path` as list `opts.list_number`: every valid row or nothing.
pub async fn import_csv(
    pool: &Pool,
    path: &Path,
    opts: ImportOptions,
    rules: &DialingConfig,
) -> Result<ImportReport, ListError> {
    let started = Instant::now();
    opts.check()?;
    let reader = open_reader(path, FileKind::Contacts, rules).await?;
    let number = i32::from(opts.list_number);
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&LIST_LOCK_CLASS, &number],
    )
    .await?;
    let exists = tx
        .query_opt(
            "SELECT 1 FROM contact_lists WHERE number = $1 FOR UPDATE",
            &[&number],
        )
        .await?
        .is_some();
    if exists && !opts.replace {
        return Err(ListError::ListExists(opts.list_number));
    }
    let name = opts.name.trim();
    let source = source_name(path);
    // The list's row first (the contacts refer to it), its counts once the file is read.
    if exists {
        tx.execute("DELETE FROM contacts WHERE list_number = $1", &[&number])
            .await?;
        tx.execute(
            "DELETE FROM list_rejects WHERE list_number = $1",
            &[&number],
        )
        .await?;
        tx.execute(
            "UPDATE contact_lists SET name = $2, source_file = $3, replaced_at = now()
             WHERE number = $1",
            &[&number, &name, &source],
        )
        .await?;
    } else {
        tx.execute(
            "INSERT INTO contact_lists (number, name, source_file) VALUES ($1, $2, $3)",
            &[&number, &name, &source],
        )
        .await?;
    }
    let (parsed, stored) = super::list_copy::copy_list(&tx, number, reader).await?;
    if parsed.accepted == 0 {
        // the transaction is rolled back: an existing list stays as it was
        return Err(ListError::NoRows {
            path: path.to_path_buf(),
            rejected: parsed.rejected,
            duplicates: parsed.duplicates,
            first: parsed.problems.into_iter().take(10).collect(),
        });
    }
    if stored != parsed.accepted {
        return Err(ListError::Db(format!(
            "stored {stored} contacts, expected {}",
            parsed.accepted
        )));
    }
    let count = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
    let (read, acc, rej, dup) = (
        count(parsed.rows_read),
        count(parsed.accepted),
        count(parsed.rejected),
        count(parsed.duplicates),
    );
    tx.execute(
        "UPDATE contact_lists SET rows_read = $2, accepted = $3, rejected = $4, duplicates = $5
         WHERE number = $1",
        &[&number, &read, &acc, &rej, &dup],
    )
    .await?;
    let on_dnc: i64 = tx
        .query_one(
            "SELECT count(*) FROM contacts c JOIN dnc d ON d.phone = c.phone
             WHERE c.list_number = $1",
            &[&number],
        )
        .await?
        .get(0);
    tx.commit().await?;
    Ok(ImportReport {
        list_number: opts.list_number,
        name: name.to_string(),
        replaced: exists,
        rows_read: parsed.rows_read,
        accepted: parsed.accepted,
        rejected: parsed.rejected,
        duplicates: parsed.duplicates,
        on_dnc: on_dnc as u64,
        problems: parsed.problems,
        elapsed: started.elapsed(),
    })
}

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

fn summary(r: &tokio_postgres::Row) -> ListSummary {
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

#[cfg(test)]
mod tests {
    #[test]
    fn copy_text_escaping() {
        let mut buf = Vec::new();
        super::put(&mut buf, "a\\b\tc\nd\re\\N");
        assert_eq!(buf, b"a\\\\b\\tc\\nd\\re\\\\N");
    }
}
