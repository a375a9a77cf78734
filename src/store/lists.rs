//! Storing a contact list: the file is parsed on a blocking thread and streamed as `COPY`
//! text into a temporary staging table while it is read, then moved into `contacts` and
//! `list_rejects` with two set statements — all inside ONE transaction, so a crash, a bad
//! file or a refused replace leaves the previous state untouched.
//!
//! Concurrent imports into one list number are serialised by an advisory lock; readers (the
//! dialer) keep seeing the old contacts until the replacing transaction commits.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use deadpool_postgres::{Pool, Transaction};
use futures_util::SinkExt;
use tokio::sync::mpsc;

use super::rows::{FileKind, Row, RowReader};
use super::{ListError, ProblemKind, RowProblem, LIST_NUMBERS};
use crate::config::DialingConfig;

/// Problems kept in a report (all of them are stored in `list_rejects`).
pub const MAX_REPORTED: usize = 1000;
/// First argument of `pg_advisory_xact_lock(int, int)` for list imports.
const LIST_LOCK_CLASS: i32 = 0x6c69_7374; // "list"
const CHUNK: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// 1..=9999, what the manager keys on the phone.
    pub list_number: u16,
    pub name: String,
    /// Replace the contacts of an existing list (refused without it).
    pub replace: bool,
}

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

/// What the parser thread counted.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub rows_read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub problems: Vec<RowProblem>,
    /// The COPY side went away (its error is the one to report).
    aborted: bool,
}

fn check_options(opts: &ImportOptions) -> Result<(), ListError> {
    if !LIST_NUMBERS.contains(&opts.list_number) {
        return Err(ListError::Usage(format!(
            "list number {} is outside 1-9999",
            opts.list_number
        )));
    }
    let name = opts.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ListError::Usage(
            "--name must be 1-200 characters without control characters".into(),
        ));
    }
    Ok(())
}

/// Opens and checks the header on a blocking thread (no DB work happens for a bad file).
pub(crate) async fn open_reader(
    path: &Path,
    kind: FileKind,
    rules: &DialingConfig,
) -> Result<RowReader<std::fs::File>, ListError> {
    let (p, r) = (path.to_path_buf(), rules.clone());
    tokio::task::spawn_blocking(move || RowReader::open(&p, kind, &r))
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

/// Appends `s` as one COPY text-format field (escaping `\`, tab, CR, LF).
pub(crate) fn put(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        buf.extend_from_slice(esc);
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
}

const STAGE_DDL: &str = "CREATE TEMP TABLE list_stage (
    line_no integer NOT NULL,
    kind    text    NOT NULL,
    raw     text    NOT NULL,
    phone   text,
    name    text,
    account text,
    tz      text,
    extra   text,
    reason  text    NOT NULL,
    dup_of  integer
) ON COMMIT DROP";

const STAGE_COPY: &str =
    "COPY list_stage (line_no, kind, raw, phone, name, account, tz, extra, reason, dup_of) FROM STDIN";

/// One staging line per record: contacts with their fields, problems with raw text and reason.
fn encode_contact_row(row: &Row<'_>, buf: &mut Vec<u8>, json: &mut Vec<u8>) {
    match row {
        Row::Contact(c) => {
            json.clear();
            json.push(b'{');
            for (i, (k, v)) in c.extra.iter().enumerate() {
                if i > 0 {
                    json.push(b',');
                }
                // Writing a &str into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *json, k);
                json.push(b':');
                let _ = serde_json::to_writer(&mut *json, v);
            }
            json.push(b'}');
            buf.extend_from_slice(format!("{}\tok\t", c.line).as_bytes());
            put(buf, c.phone_raw);
            buf.push(b'\t');
            put(buf, &c.phone);
            buf.push(b'\t');
            put(buf, c.name);
            buf.push(b'\t');
            put(buf, c.account);
            buf.push(b'\t');
            put(buf, c.tz);
            buf.push(b'\t');
            // serde_json output is valid UTF-8
            put(buf, std::str::from_utf8(json).unwrap_or("{}"));
            buf.extend_from_slice(b"\t\t\\N\n");
        }
        Row::Problem(p) => {
            let (kind, dup) = match p.kind {
                ProblemKind::Rejected => ("rejected", "\\N".to_string()),
                ProblemKind::Duplicate { first_line } => ("duplicate", first_line.to_string()),
            };
            buf.extend_from_slice(format!("{}\t{kind}\t", p.line).as_bytes());
            put(buf, &p.raw);
            buf.extend_from_slice(b"\t\\N\t\\N\t\\N\t\\N\t\\N\t");
            put(buf, &p.reason);
            buf.push(b'\t');
            buf.extend_from_slice(dup.as_bytes());
            buf.push(b'\n');
        }
    }
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
    check_options(&opts)?;
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
    tx.batch_execute(STAGE_DDL).await?;
    let mut json = Vec::with_capacity(256);
    let parsed = copy_rows(&tx, STAGE_COPY, reader, move |row, buf| {
        encode_contact_row(row, buf, &mut json)
    })
    .await?;
    if parsed.accepted == 0 {
        return Err(ListError::NoRows {
            path: path.to_path_buf(),
            rejected: parsed.rejected,
            duplicates: parsed.duplicates,
            first: parsed.problems.into_iter().take(10).collect(),
        });
    }
    let count = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
    let (read, acc, rej, dup) = (
        count(parsed.rows_read),
        count(parsed.accepted),
        count(parsed.rejected),
        count(parsed.duplicates),
    );
    let name = opts.name.trim();
    let source = source_name(path);
    if exists {
        tx.execute("DELETE FROM contacts WHERE list_number = $1", &[&number])
            .await?;
        tx.execute(
            "DELETE FROM list_rejects WHERE list_number = $1",
            &[&number],
        )
        .await?;
        tx.execute(
            "UPDATE contact_lists SET name = $2, source_file = $3, replaced_at = now(),
                rows_read = $4, accepted = $5, rejected = $6, duplicates = $7
             WHERE number = $1",
            &[&number, &name, &source, &read, &acc, &rej, &dup],
        )
        .await?;
    } else {
        tx.execute(
            "INSERT INTO contact_lists
                (number, name, source_file, rows_read, accepted, rejected, duplicates)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&number, &name, &source, &read, &acc, &rej, &dup],
        )
        .await?;
    }
    let stored = tx
        .execute(
            "INSERT INTO contacts (list_number, line_no, phone_raw, phone, name, account, tz, extra)
             SELECT $1, line_no, raw, phone, name, account, tz, extra::jsonb
             FROM list_stage WHERE kind = 'ok' ORDER BY line_no",
            &[&number],
        )
        .await?;
    if stored != parsed.accepted {
        return Err(ListError::Db(format!(
            "stored {stored} contacts, expected {}",
            parsed.accepted
        )));
    }
    tx.execute(
        "INSERT INTO list_rejects (list_number, line_no, kind, raw, reason, duplicate_of)
         SELECT $1, line_no, kind, raw, reason, dup_of FROM list_stage WHERE kind <> 'ok'",
        &[&number],
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

#[cfg(test)]
mod tests {
    #[test]
    fn copy_text_escaping() {
        let mut buf = Vec::new();
        super::put(&mut buf, "a\\b\tc\nd\re\\N");
        assert_eq!(buf, b"a\\\\b\\tc\\nd\\re\\\\N");
    }
}
