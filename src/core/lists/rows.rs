//! CSV → validated rows: encoding and delimiter sniffing, the header (required, matched
//! generously), and each record checked on its own so one bad line costs only that line.
//!
//! Header names are matched after lower-casing, `ё`→`е` and dropping spaces, `_`, `-`, `.`
//! and `/` (so `Phone Number`, `phone_number`, `Номер телефона` all match):
//! - phone: `phone`, `phonenumber`, `telephone`, `tel`, `mobile`, `msisdn`, `number`,
//!   `телефон`, `тел`, `номер`, `номертелефона`, `мобильный`
//! - name: `name`, `fullname`, `fio`, `фио`, `имя`, `абонент`, `клиент`
//! - account: `account`, `accountno`, `accountnumber`, `лицевойсчет`, `лс`, `счет`
//! - tz: `tz`, `timezone`, `часовойпояс`
//! - reason (DNC files only): `reason`, `причина`
//!
//! Contact files keep any other column in `extra` under its header text; DNC files ignore
//! them. The delimiter is sniffed from the header line (`,`, `;` as written by a Russian
//! Excel, or tab); a UTF-8 BOM is skipped; UTF-16 is refused with a hint.
//!
//! A field is at most 1000 bytes without NUL, a name or reason at most 200 characters, an
//! account at most 40. A line that opens a quote and never closes it is refused alone
//! ("unclosed quote") and the lines after it are read as rows of their own (see
//! `RowReader::unclosed_quote`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use csv::ByteRecord;

pub use super::header::FileKind;
use super::header::{role_of, Role};
use super::lines::LineTracker;
use super::quotes::{raw_line, scan_quotes, UnclosedQuote};
use super::{ListError, ProblemKind, RowProblem, MAX_RAW_CHARS};
use crate::core::numbers::NumberError;

/// Longest field accepted, in bytes.
pub const MAX_FIELD_BYTES: usize = 1000;
/// Longest subscriber name (and DNC reason) accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest account accepted, in characters.
pub const MAX_ACCOUNT_CHARS: usize = 40;

/// A phone as written → canonical E.164, or why not.
pub type Normalize = dyn Fn(&str) -> Result<String, NumberError> + Send;

/// What the row checks need of the `[dialing]` rules, handed in so that they read no
/// config: how a phone as written becomes canonical E.164 (`core::numbers::normalize`
/// under those rules), and the zone of a row that names none.
pub struct RowRules {
    pub normalize: Box<Normalize>,
    pub default_tz: Tz,
}

/// One accepted row; borrows the reader's current record.
#[derive(Debug)]
pub struct Contact<'a> {
    pub line: u64,
    pub phone_raw: &'a str,
    /// Canonical E.164.
    pub phone: String,
    pub name: &'a str,
    pub account: &'a str,
    /// IANA name, canonical spelling.
    pub tz: &'static str,
    pub reason: &'a str,
    /// `(header, value)` of the columns kept in `extra`, in file order.
    pub extra: Vec<(&'a str, &'a str)>,
}

#[derive(Debug)]
pub enum Row<'a> {
    Contact(Contact<'a>),
    Problem(RowProblem),
}

/// Reads a list file record by record. Holds the canonical numbers seen so far (to find
/// duplicates), never the rows themselves.
pub struct RowReader<R: Read> {
    path: PathBuf,
    rdr: csv::Reader<LineTracker<BufReader<R>>>,
    delimiter: u8,
    roles: Vec<Role>,
    rec: ByteRecord,
    rules: RowRules,
    seen: HashMap<String, u64>,
}

impl<R: Read> RowReader<R> {
    /// Sniffs the encoding and delimiter, reads and checks the header.
    pub fn new(path: &Path, input: R, kind: FileKind, rules: RowRules) -> Result<Self, ListError> {
        let bad = |line: u64, reason: String| ListError::BadFile {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let io = |e: std::io::Error| ListError::Io {
            path: path.to_path_buf(),
            line: 1,
            reason: e.to_string(),
        };
        let mut buf = BufReader::with_capacity(256 * 1024, input);
        let head = buf.fill_buf().map_err(io)?;
        if head.is_empty() {
            return Err(bad(
                1,
                "empty file: a header row (phone,name,…) is required".into(),
            ));
        }
        if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
            return Err(bad(1, "UTF-16 text: save the file as \"CSV UTF-8\"".into()));
        }
        let bom = if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            3
        } else {
            0
        };
        let first_line = &head[bom..];
        let first_line = &first_line[..first_line
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(first_line.len())];
        let delimiter = sniff_delimiter(first_line);
        buf.consume(bom);
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(LineTracker::new(buf));
        let mut header = ByteRecord::new();
        let got = rdr
            .read_byte_record(&mut header)
            .map_err(|e| ListError::Io {
                path: path.to_path_buf(),
                line: 1,
                reason: e.to_string(),
            })?;
        if !got {
            return Err(bad(1, "no header row (phone,name,…)".into()));
        }
        let line = rdr
            .get_mut()
            .line_at(header.position().map_or(0, |p| p.byte()));
        let mut roles = Vec::with_capacity(header.len());
        for (i, field) in header.iter().enumerate() {
            let text = std::str::from_utf8(field).map_err(|_| {
                bad(
                    line,
                    "header is not UTF-8 text (not a CSV file, or a Windows-1251 one: save it as \"CSV UTF-8\")"
                        .into(),
                )
            })?;
            if text.contains('\0') || field.len() > MAX_FIELD_BYTES {
                return Err(bad(line, "header is not CSV text (binary data?)".into()));
            }
            let role = match role_of(text, kind) {
                Role::Extra(name) if name.is_empty() => Role::Extra(format!("column_{}", i + 1)),
                r => r,
            };
            if role != Role::Ignored {
                if let Some(j) = roles.iter().position(|r| *r == role) {
                    return Err(bad(
                        line,
                        format!(
                            "columns {} and {} are the same ({:?} and {text:?})",
                            j + 1,
                            i + 1,
                            String::from_utf8_lossy(&header[j])
                        ),
                    ));
                }
            }
            roles.push(role);
        }
        if !roles.contains(&Role::Phone) {
            let found: Vec<String> = header
                .iter()
                .map(|f| format!("{:?}", String::from_utf8_lossy(f)))
                .collect();
            return Err(bad(
                line,
                format!(
                    "no phone column in the header (found {}); name it phone or телефон",
                    found.join(", ")
                ),
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
            rdr,
            delimiter,
            roles,
            rec: ByteRecord::new(),
            rules,
            seen: HashMap::new(),
        })
    }

    /// The next record, accepted or not; `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<Row<'_>>, ListError> {
        let more = self
            .rdr
            .read_byte_record(&mut self.rec)
            .map_err(|e| ListError::Io {
                path: self.path.clone(),
                line: e.position().map_or(0, |p| p.line()),
                reason: e.to_string(),
            })?;
        if !more {
            return Ok(None);
        }
        let at = self.rec.position().map_or(0, |p| p.byte());
        let end = self.rdr.position().byte();
        let line = self.rdr.get_mut().line_at(at);
        if let Some(broken) = self.unclosed_quote(at, end) {
            if let Some(next) = broken.resume_at {
                // Read on from the line after the broken one, as if its quote were not there.
                let mut pos = csv::Position::new();
                pos.set_byte(next);
                self.rdr
                    .seek_raw(std::io::SeekFrom::Start(next), pos)
                    .map_err(|e| ListError::Io {
                        path: self.path.clone(),
                        line,
                        reason: e.to_string(),
                    })?;
            }
            let reason = match broken.resume_at {
                Some(_) => format!(
                    "unclosed quote in column {} (the lines after it are read as rows of their own)",
                    broken.column
                ),
                None => format!("unclosed quote in column {}", broken.column),
            };
            return Ok(Some(Row::Problem(RowProblem {
                line,
                kind: ProblemKind::Rejected,
                reason,
                raw: broken.raw,
            })));
        }
        let problem = |reason: String, kind| {
            Ok(Some(Row::Problem(RowProblem {
                line,
                kind,
                reason,
                raw: raw_text(&self.rec, self.delimiter),
            })))
        };
        if self.rec.len() != self.roles.len() {
            return problem(
                format!(
                    "wrong column count: {} (the header has {})",
                    self.rec.len(),
                    self.roles.len()
                ),
                ProblemKind::Rejected,
            );
        }
        let mut fields: Vec<&str> = Vec::with_capacity(self.rec.len());
        for (i, f) in self.rec.iter().enumerate() {
            let column = i + 1;
            let Ok(text) = std::str::from_utf8(f) else {
                return problem(
                    format!("column {column}: not valid UTF-8 (save the file as \"CSV UTF-8\")"),
                    ProblemKind::Rejected,
                );
            };
            if text.contains('\0') {
                return problem(format!("column {column}: NUL byte"), ProblemKind::Rejected);
            }
            if f.len() > MAX_FIELD_BYTES {
                let hint = if text.contains('\n') {
                    " (an unclosed quote?)"
                } else {
                    ""
                };
                return problem(
                    format!(
                        "column {column}: field too long: {} bytes, at most {MAX_FIELD_BYTES}{hint}",
                        f.len()
                    ),
                    ProblemKind::Rejected,
                );
            }
            fields.push(text);
        }
        let mut phone_raw = "";
        let (mut name, mut account, mut tz_text, mut reason) = ("", "", "", "");
        let mut extra = Vec::new();
        for (role, value) in self.roles.iter().zip(&fields) {
            match role {
                Role::Phone => phone_raw = value,
                Role::Name => name = value.trim(),
                Role::Account => account = value.trim(),
                Role::Tz => tz_text = value.trim(),
                Role::Reason => reason = value.trim(),
                Role::Extra(key) => extra.push((key.as_str(), *value)),
                Role::Ignored => {}
            }
        }
        for (what, value, max) in [
            ("name", name, MAX_NAME_CHARS),
            ("account", account, MAX_ACCOUNT_CHARS),
            ("reason", reason, MAX_NAME_CHARS),
        ] {
            let n = value.chars().count();
            if n > max {
                return problem(
                    format!("{what}: {n} characters, at most {max}"),
                    ProblemKind::Rejected,
                );
            }
        }
        let phone = match (self.rules.normalize)(phone_raw) {
            Ok(p) => p,
            Err(NumberError::Empty) => return problem("empty phone".into(), ProblemKind::Rejected),
            Err(e) => {
                return problem(
                    format!("bad number {:?}: {e}", phone_raw.trim()),
                    ProblemKind::Rejected,
                )
            }
        };
        let tz = if tz_text.is_empty() {
            self.rules.default_tz.name()
        } else {
            match tz_text.parse::<Tz>() {
                Ok(tz) => tz.name(),
                Err(_) => {
                    return problem(
                        format!(
                            "unknown time zone {tz_text:?} (IANA name, e.g. Asia/Yekaterinburg)"
                        ),
                        ProblemKind::Rejected,
                    )
                }
            }
        };
        if let Some(&first_line) = self.seen.get(&phone) {
            return problem(
                format!("duplicate of line {first_line} ({phone})"),
                ProblemKind::Duplicate { first_line },
            );
        }
        self.seen.insert(phone.clone(), line);
        Ok(Some(Row::Contact(Contact {
            line,
            phone_raw,
            phone,
            name,
            account,
            tz,
            reason,
            extra,
        })))
    }
}

impl<R: Read> RowReader<R> {
    /// Whether the record just read (bytes `at..end`) is an unclosed quote rather than a
    /// field that really spans lines.
    ///
    /// The csv reader reads everything after an unclosed `"` as one field, up to the next
    /// `"` anywhere below or the end of the file: left alone, a stray quote on line 11 of a
    /// 50-row list swallows the 40 rows after it into one broken record, or, paired with a
    /// second stray quote, into a contact with a 20-line name and the right column count.
    /// A quoted field that spans lines is only taken as written when the record is sound
    /// and none of the lines inside it is a row of its own (the header's column count,
    /// split without quotes, with a dialable number in the phone column); otherwise the
    /// line where the quote opens is refused ("unclosed quote", its line number) and
    /// reading goes on from the next line.
    ///
    /// Refusing that one line, rather than the whole file, is what the manager expects of
    /// a list import: every other bad row also costs only its own line, the broken one is
    /// reported with its line and kept in `lists show`, and the rows after it are read,
    /// checked and reported one by one, so nothing is swallowed silently and nothing is
    /// lost that was fine. A quoted field that really spans lines (an address typed with
    /// Alt+Enter in Excel) still reads as one field.
    fn unclosed_quote(&self, at: u64, end: u64) -> Option<UnclosedQuote> {
        let tracker = self.rdr.get_ref();
        // cheap test first: a record without a quote or a line break in a field is sound
        let multiline = self
            .rec
            .iter()
            .any(|f| f.contains(&b'\n') || f.contains(&b'\r'));
        if !multiline && !tracker.bytes(at, end).any(|b| b == b'"') {
            return None;
        }
        let scan = scan_quotes(tracker.bytes(at, end), self.delimiter);
        let column = scan.column + 1;
        let Some(first_break) = scan.first_break else {
            // the last line of the file opens a quote and ends
            return scan.open_at_end.then(|| UnclosedQuote {
                column,
                raw: raw_line(tracker.bytes(at, end).skip(scan.content_start)),
                resume_at: None,
            });
        };
        let bytes: Vec<u8> = tracker.bytes(at, end).collect();
        let sound = self.rec.len() == self.roles.len()
            && self.rec.iter().all(|f| f.len() <= MAX_FIELD_BYTES);
        let swallowed = || {
            let inner = &bytes[first_break..];
            inner
                .split(|&b| b == b'\n' || b == b'\r')
                .any(|l| self.is_row_of_its_own(l))
        };
        if !scan.open_at_end && sound && !swallowed() {
            return None;
        }
        let mut next = first_break + 1;
        if bytes[first_break] == b'\r' && bytes.get(next) == Some(&b'\n') {
            next += 1;
        }
        // only blank lines after it: nothing to read again
        let more = bytes[next..].iter().any(|b| !b.is_ascii_whitespace());
        Some(UnclosedQuote {
            column,
            raw: raw_line(bytes[scan.content_start..first_break].iter().copied()),
            resume_at: more.then_some(at + next as u64),
        })
    }

    /// A line that, split at the delimiter without quoting, has the header's column count
    /// and a dialable number in the phone column.
    fn is_row_of_its_own(&self, line: &[u8]) -> bool {
        let fields: Vec<&[u8]> = line.split(|&b| b == self.delimiter).collect();
        if fields.len() != self.roles.len() {
            return false;
        }
        let Some(i) = self.roles.iter().position(|r| *r == Role::Phone) else {
            return false;
        };
        std::str::from_utf8(fields[i]).is_ok_and(|p| (self.rules.normalize)(p).is_ok())
    }
}

/// `,` unless the header line has more `;` or tabs (outside quotes).
fn sniff_delimiter(line: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in line {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    if counts[best] == 0 {
        b','
    } else {
        [b',', b';', b'\t'][best]
    }
}

/// The record re-joined as CSV text, lossy, capped at [`MAX_RAW_CHARS`].
fn raw_text(rec: &ByteRecord, delimiter: u8) -> String {
    let mut out = String::new();
    for (i, f) in rec.iter().enumerate() {
        if i > 0 {
            out.push(delimiter as char);
        }
        let s = String::from_utf8_lossy(&f[..f.len().min(MAX_RAW_CHARS * 4)]);
        if s.contains([delimiter as char, '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&s.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&s);
        }
        if out.len() > MAX_RAW_CHARS * 4 {
            break;
        }
    }
    let out = out.replace('\0', "\u{fffd}");
    match out.char_indices().nth(MAX_RAW_CHARS) {
        Some((cut, _)) => format!("{}…", &out[..cut]),
        None => out,
    }
}

#[cfg(test)]
#[path = "rows_tests.rs"]
mod tests;
