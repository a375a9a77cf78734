//! The rows of a contact list file streamed straight into `contacts` with one `COPY` (in file
//! order, so ids follow the lines), while the refused and duplicate rows are spilled to an
//! unlinked temporary file and copied into `list_rejects` afterwards. Staging every row in a
//! temporary table first and moving it with `INSERT … SELECT … ORDER BY` wrote a
//! 2,000,000-row list twice and sorted it. Memory stays bounded: chunks of `CHUNK` bytes in
//! flight, whatever the file's size or its share of bad rows.

use std::io::{Read, Seek, Write};

use bytes::Bytes;
use deadpool_postgres::Transaction;
use futures_util::SinkExt;
use tokio::sync::mpsc;

use crate::core::lists::rows::{Row, RowReader};
use crate::core::lists::{ListError, ProblemKind, RowProblem};

/// Problems kept in a report (all of them are stored in `list_rejects`).
pub const MAX_REPORTED: usize = 1000;
/// Bytes of COPY data per message to the writer.
pub(crate) const CHUNK: usize = 256 * 1024;

/// What the parser thread counted.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub rows_read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub problems: Vec<RowProblem>,
    /// The COPY side went away (its error is the one to report).
    pub aborted: bool,
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

const CONTACTS_COPY: &str =
    "COPY contacts (list_number, line_no, phone_raw, phone, name, account, tz, extra) FROM STDIN";
const REJECTS_COPY: &str =
    "COPY list_rejects (list_number, line_no, kind, raw, reason, duplicate_of) FROM STDIN";

/// Copies every row of `reader` into list `number` on `tx`: contacts and problems. The
/// caller checks `accepted` (and that the contacts stored are as many).
pub(crate) async fn copy_list(
    tx: &Transaction<'_>,
    number: i32,
    mut reader: RowReader<std::fs::File>,
) -> Result<(Parsed, u64), ListError> {
    let (chunks, rx) = mpsc::channel::<Bytes>(4);
    let parser = tokio::task::spawn_blocking(move || -> Result<(Parsed, Spill), ListError> {
        let mut p = Parsed::default();
        let mut spill = Spill::new(number)?;
        let mut buf = Vec::with_capacity(CHUNK + 8192);
        let mut json = Vec::with_capacity(256);
        let prefix = format!("{number}\t");
        while let Some(row) = reader.next_row()? {
            p.rows_read += 1;
            match row {
                Row::Contact(c) => {
                    p.accepted += 1;
                    json.clear();
                    json.push(b'{');
                    for (i, (k, v)) in c.extra.iter().enumerate() {
                        if i > 0 {
                            json.push(b',');
                        }
                        // Writing a &str into a Vec cannot fail.
                        let _ = serde_json::to_writer(&mut json, k);
                        json.push(b':');
                        let _ = serde_json::to_writer(&mut json, v);
                    }
                    json.push(b'}');
                    buf.extend_from_slice(prefix.as_bytes());
                    buf.extend_from_slice(c.line.to_string().as_bytes());
                    for field in [c.phone_raw, &c.phone, c.name, c.account, c.tz] {
                        buf.push(b'\t');
                        put(&mut buf, field);
                    }
                    buf.push(b'\t');
                    // serde_json output is valid UTF-8
                    put(&mut buf, std::str::from_utf8(&json).unwrap_or("{}"));
                    buf.push(b'\n');
                }
                Row::Problem(problem) => {
                    match problem.kind {
                        ProblemKind::Rejected => p.rejected += 1,
                        ProblemKind::Duplicate { .. } => p.duplicates += 1,
                    }
                    spill.add(&problem)?;
                    if p.problems.len() < MAX_REPORTED {
                        p.problems.push(problem);
                    }
                }
            }
            if buf.len() >= CHUNK {
                let full = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK + 8192));
                if chunks.blocking_send(Bytes::from(full)).is_err() {
                    p.aborted = true;
                    return Ok((p, spill));
                }
            }
        }
        if !buf.is_empty() && chunks.blocking_send(Bytes::from(buf)).is_err() {
            p.aborted = true;
        }
        Ok((p, spill))
    });
    let copied = send(tx, CONTACTS_COPY, rx).await;
    let (parsed, spill) = parser
        .await
        .map_err(|e| ListError::Db(format!("parser thread: {e}")))??;
    let stored = copied?;
    if parsed.aborted {
        return Err(ListError::Db("COPY ended before the file was read".into()));
    }
    if spill.rows > 0 {
        let (chunks, rx) = mpsc::channel::<Bytes>(4);
        let reader = tokio::task::spawn_blocking(move || spill.stream(chunks));
        let copied = send(tx, REJECTS_COPY, rx).await;
        reader
            .await
            .map_err(|e| ListError::Db(format!("spill reader: {e}")))??;
        copied?;
    }
    Ok((parsed, stored))
}

/// Feeds the chunks of `rx` to `COPY … FROM STDIN`; the rows it stored.
async fn send(
    tx: &Transaction<'_>,
    sql: &str,
    mut rx: mpsc::Receiver<Bytes>,
) -> Result<u64, ListError> {
    let r: Result<u64, tokio_postgres::Error> = async {
        let sink = tx.copy_in::<_, Bytes>(sql).await?;
        futures_util::pin_mut!(sink);
        while let Some(chunk) = rx.recv().await {
            sink.send(chunk).await?;
        }
        sink.finish().await
    }
    .await;
    // A failed COPY stops the sender at its next chunk.
    drop(rx);
    Ok(r?)
}

/// Problem rows as `list_rejects` COPY text, in a file nobody else can open (unlinked at once).
struct Spill {
    number: i32,
    file: std::io::BufWriter<std::fs::File>,
    rows: u64,
}

impl Spill {
    fn new(number: i32) -> Result<Self, ListError> {
        let io = |e: std::io::Error| ListError::Db(format!("list rejects spill file: {e}"));
        let path = std::env::temp_dir().join(format!(
            "contactd-rejects-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io)?;
        std::fs::remove_file(&path).map_err(io)?;
        Ok(Self {
            number,
            file: std::io::BufWriter::with_capacity(64 * 1024, file),
            rows: 0,
        })
    }

    fn add(&mut self, p: &crate::core::lists::RowProblem) -> Result<(), ListError> {
        let (kind, dup) = match p.kind {
            ProblemKind::Rejected => ("rejected", "\\N".to_string()),
            ProblemKind::Duplicate { first_line } => ("duplicate", first_line.to_string()),
        };
        let mut line = format!("{}\t{}\t{kind}\t", self.number, p.line).into_bytes();
        put(&mut line, &p.raw);
        line.push(b'\t');
        put(&mut line, &p.reason);
        line.push(b'\t');
        line.extend_from_slice(dup.as_bytes());
        line.push(b'\n');
        self.rows += 1;
        self.file
            .write_all(&line)
            .map_err(|e| ListError::Db(format!("list rejects spill file: {e}")))
    }

    /// Reads the spill back from its start, in chunks, into `chunks`.
    fn stream(self, chunks: mpsc::Sender<Bytes>) -> Result<(), ListError> {
        let io = |e: std::io::Error| ListError::Db(format!("list rejects spill file: {e}"));
        let mut file = self.file.into_inner().map_err(|e| io(e.into_error()))?;
        file.rewind().map_err(io)?;
        loop {
            let mut buf = vec![0u8; CHUNK];
            let n = file.read(&mut buf).map_err(io)?;
            if n == 0 {
                return Ok(());
            }
            buf.truncate(n);
            if chunks.blocking_send(Bytes::from(buf)).is_err() {
                // the COPY failed: its error is the one reported
                return Ok(());
            }
        }
    }
}
