//! Contact lists and the do-not-call list: CSV import (streamed, validated row by row, stored
//! with one `COPY` in one transaction), the global DNC list the dialer checks at dial time,
//! and the `contactd lists …` / `contactd dnc …` commands.
//!
//! - [`rows`]: CSV → validated rows (header aliases, per-line reasons, duplicates); no I/O
//!   beyond the reader it is given.
//! - `lines`: true line numbers under the csv reader (its own are wrong for CRLF files).
//! - [`import`]: [`import_csv`], the staging `COPY` and the atomic store of a list.
//! - [`dnc`]: the do-not-call list: add, import, remove, [`is_blocked`], [`blocked_among`].
//! - [`query`]: what `lists show` / `lists ls` print.
//! - [`cli`]: clap subcommands [`cli::ListsCommand`], [`cli::DncCommand`] and their runners.
//!
//! Numbers are normalised by [`crate::core::numbers`].

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

use crate::core::numbers::NumberError;
use crate::store::postgres::pg_detail;

pub mod cli;
pub mod dnc;
pub mod import;
mod lines;
pub mod query;
pub mod rows;

pub use crate::core::numbers::{dial_string_number, normalize};
pub use dnc::{blocked_among, is_blocked};
pub use import::{import_csv, ImportOptions, ImportReport};

/// Lowest and highest list number a manager can key.
pub const LIST_NUMBERS: std::ops::RangeInclusive<u16> = 1..=9999;

/// `s` as it is when it has no control characters, else with each of them escaped (`\n`,
/// `\u{1b}`): for values a user typed (file names, logins) that are printed inside messages
/// and logs, so that a line break in them cannot start a line of its own.
pub fn printable(s: &str) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A path for a message: [`printable`].
pub fn shown(path: &std::path::Path) -> String {
    printable(&path.display().to_string()).into_owned()
}

/// A row of a file that was not stored as a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// Line of the file where the record starts (the header is line 1).
    pub line: u64,
    pub kind: ProblemKind,
    pub reason: String,
    /// The record as read (re-joined, lossy UTF-8, at most 500 characters).
    pub raw: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    Rejected,
    /// Same canonical number as the accepted row on `first_line`.
    Duplicate {
        first_line: u64,
    },
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Everything that can go wrong in `contactd lists` / `contactd dnc`; see [`ListError::exit_code`].
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("{}: cannot open: {reason}", shown(path))]
    NoInput { path: PathBuf, reason: String },
    #[error("{}: read error near line {line}: {reason}", shown(path))]
    Io {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("{}, line {line}: {reason}", shown(path))]
    BadFile {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("{}: no usable row ({rejected} rejected, {duplicates} duplicates); nothing stored{}",
        shown(path), first.iter().map(|p| format!("\n  {p}")).collect::<String>())]
    NoRows {
        path: PathBuf,
        rejected: u64,
        duplicates: u64,
        first: Vec<RowProblem>,
    },
    #[error("list {0} already exists; add --replace to replace its contacts")]
    ListExists(u16),
    #[error("list {0} does not exist")]
    NoSuchList(u16),
    #[error("bad argument: {0}")]
    Usage(String),
    #[error("{input:?} is not a dialable number: {reason}")]
    BadNumber { input: String, reason: NumberError },
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database: {0}")]
    Db(String),
}

impl ListError {
    /// sysexits(3) code for the process exit status.
    pub fn exit_code(&self) -> i32 {
        match self {
            ListError::Usage(_) => 64,                                  // EX_USAGE
            ListError::BadFile { .. } | ListError::NoRows { .. } => 65, // EX_DATAERR
            ListError::BadNumber { .. } => 65,                          // EX_DATAERR
            ListError::NoInput { .. } | ListError::NoSuchList(_) => 66, // EX_NOINPUT
            ListError::Unavailable(_) => 69,                            // EX_UNAVAILABLE
            ListError::Db(_) => 70,                                     // EX_SOFTWARE
            ListError::ListExists(_) => 73,                             // EX_CANTCREAT
            ListError::Io { .. } => 74,                                 // EX_IOERR
        }
    }
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
