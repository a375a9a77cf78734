//! Contact lists, the checks: a list file read row by row into validated contacts and
//! refused rows ([`rows`]), what a manager typed for an import ([`ImportOptions`]), and the
//! errors of `contactd lists` / `contactd dnc`. Pure: the rows come from whatever reader
//! it is given, the `[dialing]` rules come in as [`rows::RowRules`]; storing a list is
//! `store::lists`'s, the do-not-call list `lists::dnc`'s.
//!
//! - [`rows`]: CSV → validated rows (header aliases, per-line reasons, duplicates).
//! - `lines`: true line numbers under the csv reader (its own are wrong for CRLF files).
//! - `quotes`: an unclosed quote told from a field that really spans lines.
//!
//! Numbers are normalised by [`crate::core::numbers`].

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

use crate::core::numbers::NumberError;

mod header;
mod lines;
mod quotes;
pub mod rows;

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

/// Characters of a refused record kept for `lists show`.
pub const MAX_RAW_CHARS: usize = 500;

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

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// 1..=9999, what the manager keys on the phone.
    pub list_number: u16,
    pub name: String,
    /// Replace the contacts of an existing list (refused without it).
    pub replace: bool,
}

impl ImportOptions {
    /// The list number is one a manager can key; the name is 1-200 characters without
    /// control characters.
    pub fn check(&self) -> Result<(), ListError> {
        if !LIST_NUMBERS.contains(&self.list_number) {
            return Err(ListError::Usage(format!(
                "list number {} is outside 1-9999",
                self.list_number
            )));
        }
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(ListError::Usage(
                "--name must be 1-200 characters without control characters".into(),
            ));
        }
        Ok(())
    }
}
