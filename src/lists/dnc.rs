//! The global do-not-call list. The dialer asks [`is_blocked`] (or [`blocked_among`] for a
//! batch) at the moment it dials, never when a list is loaded. Every number here is
//! canonical E.164; a non-canonical number is an error (fail closed), never "not blocked".

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};

use super::import::{copy_rows, open_reader, put};
use super::rows::{FileKind, Row};
use super::{ListError, RowProblem};
use crate::config::DialingConfig;
use crate::core::numbers::{is_e164, normalize};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DncEntry {
    pub phone: String,
    pub reason: String,
    pub added_at: DateTime<Utc>,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct DncImportReport {
    pub rows_read: u64,
    /// Numbers newly put on the list.
    pub added: u64,
    /// Valid rows whose number was already on the list.
    pub already: u64,
    pub rejected: u64,
    pub duplicates: u64,
    /// The first rejected and duplicate rows, in file order.
    pub problems: Vec<RowProblem>,
    pub elapsed: Duration,
}

fn canonical(e164: &str) -> Result<(), ListError> {
    if is_e164(e164) {
        Ok(())
    } else {
        Err(ListError::BadNumber {
            input: e164.to_string(),
            reason: crate::core::numbers::NumberError::WrongLength {
                got: e164.len(),
                expected: "a canonical E.164 number (+79161234567)".into(),
            },
        })
    }
}

/// True when `e164` (canonical, from [`normalize`]) is on the do-not-call list.
pub async fn is_blocked(db: &impl GenericClient, e164: &str) -> Result<bool, ListError> {
    canonical(e164)?;
    Ok(db
        .query_opt("SELECT 1 FROM dnc WHERE phone = $1", &[&e164])
        .await?
        .is_some())
}

/// The numbers of `numbers` (canonical E.164) that are on the do-not-call list.
pub async fn blocked_among(
    db: &impl GenericClient,
    numbers: &[String],
) -> Result<HashSet<String>, ListError> {
    for n in numbers {
        canonical(n)?;
    }
    // every dialing batch asks: prepared once per connection
    let stmt = db
        .prepare_cached("SELECT phone FROM dnc WHERE phone = ANY($1)")
        .await?;
    let rows = db.query(&stmt, &[&numbers]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// [`is_blocked`] on a connection taken from `pool`.
pub async fn is_blocked_in(pool: &Pool, e164: &str) -> Result<bool, ListError> {
    let db = pool.get().await?;
    is_blocked(&db, e164).await
}

/// Puts a number written by a person on the list; returns its canonical form and whether it
/// was new (an existing entry keeps its reason and date).
pub async fn add(
    db: &impl GenericClient,
    input: &str,
    reason: &str,
    source: &str,
    rules: &DialingConfig,
) -> Result<(String, bool), ListError> {
    let e164 = normalize(input, rules).map_err(|reason| ListError::BadNumber {
        input: input.to_string(),
        reason,
    })?;
    let n = db
        .execute(
            "INSERT INTO dnc (phone, reason, source) VALUES ($1, $2, $3)
             ON CONFLICT (phone) DO NOTHING",
            &[&e164, &reason.trim(), &source],
        )
        .await?;
    Ok((e164, n == 1))
}

/// Takes a number off the list; returns its canonical form and whether it was there.
pub async fn remove(
    db: &impl GenericClient,
    input: &str,
    rules: &DialingConfig,
) -> Result<(String, bool), ListError> {
    let e164 = normalize(input, rules).map_err(|reason| ListError::BadNumber {
        input: input.to_string(),
        reason,
    })?;
    let n = db
        .execute("DELETE FROM dnc WHERE phone = $1", &[&e164])
        .await?;
    Ok((e164, n == 1))
}

/// The whole list, oldest first.
pub async fn list(db: &impl GenericClient) -> Result<Vec<DncEntry>, ListError> {
    let rows = db
        .query(
            "SELECT phone, reason, added_at, source FROM dnc ORDER BY added_at, phone",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| DncEntry {
            phone: r.get(0),
            reason: r.get(1),
            added_at: r.get(2),
            source: r.get(3),
        })
        .collect())
}

/// Adds every valid number of a CSV file (column `phone`, optional `reason`) in one
/// transaction; `default_reason` is used where a row gives none.
pub async fn import(
    pool: &Pool,
    path: &Path,
    default_reason: &str,
    rules: &DialingConfig,
) -> Result<DncImportReport, ListError> {
    let started = Instant::now();
    let reader = open_reader(path, FileKind::Dnc, rules).await?;
    let source = format!(
        "file:{}",
        path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned()
        )
    );
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.batch_execute(
        "CREATE TEMP TABLE dnc_stage (line_no integer NOT NULL, phone text NOT NULL,
            reason text NOT NULL) ON COMMIT DROP",
    )
    .await?;
    let default_reason = default_reason.trim().to_string();
    let parsed = copy_rows(
        &tx,
        "COPY dnc_stage (line_no, phone, reason) FROM STDIN",
        reader,
        move |row, buf| {
            if let Row::Contact(c) = row {
                buf.extend_from_slice(format!("{}\t", c.line).as_bytes());
                put(buf, &c.phone);
                buf.push(b'\t');
                put(
                    buf,
                    if c.reason.is_empty() {
                        &default_reason
                    } else {
                        c.reason
                    },
                );
                buf.push(b'\n');
            }
        },
    )
    .await?;
    if parsed.accepted == 0 {
        return Err(ListError::NoRows {
            path: path.to_path_buf(),
            rejected: parsed.rejected,
            duplicates: parsed.duplicates,
            first: parsed.problems.into_iter().take(10).collect(),
        });
    }
    let added = tx
        .execute(
            "INSERT INTO dnc (phone, reason, source)
             SELECT phone, reason, $1 FROM dnc_stage ORDER BY line_no
             ON CONFLICT (phone) DO NOTHING",
            &[&source],
        )
        .await?;
    tx.commit().await?;
    Ok(DncImportReport {
        rows_read: parsed.rows_read,
        added,
        already: parsed.accepted - added,
        rejected: parsed.rejected,
        duplicates: parsed.duplicates,
        problems: parsed.problems,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// Compiles only if the dialer can call these from a spawned task.
    #[allow(dead_code)]
    fn checks_are_send(pool: &Pool, client: &deadpool_postgres::Client, batch: &[String]) {
        assert_send(&is_blocked_in(pool, "+79161234567"));
        assert_send(&is_blocked(client, "+79161234567"));
        assert_send(&blocked_among(client, batch));
        assert_send(&import(pool, Path::new("x"), "", &DialingConfig::default()));
    }
}
