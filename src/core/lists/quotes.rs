//! Telling an unclosed quote from a field that really spans lines: how a record's raw
//! bytes stand with respect to quoting, read the way csv-core reads them, and the broken
//! line as kept for `lists show`. `rows::RowReader` decides with these whether a
//! multi-line record is refused alone.

use super::MAX_RAW_CHARS;

/// A record that starts with a quote its writer never closed.
pub(super) struct UnclosedQuote {
    /// 1-based column whose quote is open.
    pub(super) column: usize,
    /// The broken line alone, as kept for `lists show`.
    pub(super) raw: String,
    /// Where the line after the broken one starts (`None`: nothing follows it).
    pub(super) resume_at: Option<u64>,
}

/// How a record's raw bytes stand with respect to quoting, read the way csv-core reads
/// them (a quote opens a field only at its start; `""` inside is a quote; a quote closes
/// it; a line break outside quotes ends the record).
pub(super) struct QuoteScan {
    /// The record ended (end of file) inside an open quote.
    pub(super) open_at_end: bool,
    /// Column (0-based) of the last quote opened.
    pub(super) column: usize,
    /// Offset, from the record's first byte, of the first line break inside quotes.
    pub(super) first_break: Option<usize>,
    /// Offset of the record's first byte that is not a line break.
    pub(super) content_start: usize,
}

pub(super) fn scan_quotes(bytes: impl Iterator<Item = u8>, delimiter: u8) -> QuoteScan {
    #[derive(PartialEq)]
    enum S {
        Start,
        Field,
        Quoted,
        QuoteInQuoted,
    }
    let mut st = S::Start;
    let (mut column, mut open_column) = (0, 0);
    let mut first_break = None;
    let mut content_start = None;
    for (i, b) in bytes.enumerate() {
        let brk = b == b'\n' || b == b'\r';
        if content_start.is_none() {
            if brk {
                continue;
            }
            content_start = Some(i);
        }
        st = match st {
            S::Start | S::Field if brk => break,
            S::Start if b == b'"' => {
                open_column = column;
                S::Quoted
            }
            S::Start | S::Field | S::QuoteInQuoted if b == delimiter => {
                column += 1;
                S::Start
            }
            S::Start | S::Field => S::Field,
            S::Quoted if b == b'"' => S::QuoteInQuoted,
            S::Quoted => {
                if brk && first_break.is_none() {
                    first_break = Some(i);
                }
                S::Quoted
            }
            S::QuoteInQuoted if b == b'"' => S::Quoted,
            S::QuoteInQuoted if brk => break,
            S::QuoteInQuoted => S::Field,
        };
    }
    QuoteScan {
        open_at_end: st == S::Quoted,
        column: open_column,
        first_break,
        content_start: content_start.unwrap_or(0),
    }
}

/// One line of raw bytes as kept for `lists show`: lossy, no NUL, capped.
pub(super) fn raw_line(bytes: impl Iterator<Item = u8>) -> String {
    let bytes: Vec<u8> = bytes.take(MAX_RAW_CHARS * 4).collect();
    let text = String::from_utf8_lossy(&bytes).replace('\0', "\u{fffd}");
    match text.char_indices().nth(MAX_RAW_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
