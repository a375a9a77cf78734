//! Billing's accounts file, the checks (`contactd accounts import FILE.csv`): one row per
//! meter: `account, holder, phone, balance, meter, zones, digits, last_date, last_1,
//! last_2, last_3` (header row required, `,` or `;` separated, a decimal comma allowed with
//! `;`). Each row is checked on its own, so bad rows are reported by line and the good ones
//! kept; storing them is `store::accounts`'. Pure: the file comes in as bytes, and the
//! `[dialing]` rules as the function that normalises a phone.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::core::numbers::NumberError;

/// One meter row as billing sent it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub account: String,
    pub holder: String,
    /// Canonical E.164, if the file gave a usable phone.
    pub phone: Option<String>,
    pub balance_minor: i64,
    pub meter: String,
    pub zones: u8,
    pub digits: u8,
    pub last_date: NaiveDate,
    /// One per zone.
    pub last: Vec<i64>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub rows: u64,
    pub accepted: u64,
    /// `(line, reason)`; the header is line 1.
    pub problems: Vec<(u64, String)>,
}

/// Largest balance accepted either way, in minor units: 999 999 999 999.99. Far above any
/// real account, far below where sums of balances could overflow.
pub const MAX_BALANCE_MINOR: i64 = 99_999_999_999_999;

/// The limit as billing writes it, for error messages.
const MAX_BALANCE_TEXT: &str = "999999999999.99";

/// Longest value accepted per column, in characters (holder: a full name; meter: a serial
/// number; the rest are numbers and dates with room for spaces). A longer value refuses
/// the row with the limit stated, before anything else looks at it.
pub const FIELD_LIMITS: [(&str, usize); 11] = [
    ("account", 20),
    ("holder", 200),
    ("phone", crate::core::numbers::MAX_INPUT_CHARS),
    ("balance", 30),
    ("meter", 40),
    ("zones", 20),
    ("digits", 20),
    ("last_date", 20),
    ("last_1", 20),
    ("last_2", 20),
    ("last_3", 20),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MoneyError {
    NotAnAmount,
    OutOfRange,
}

fn money(s: &str) -> Result<i64, MoneyError> {
    let s = s.trim().replace(',', ".");
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r.to_string()),
        None => (false, s),
    };
    let (units, frac) = s.split_once('.').unwrap_or((&s, ""));
    if units.is_empty()
        || frac.len() > 2
        || !units
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(MoneyError::NotAnAmount);
    }
    let units = units.trim_start_matches('0');
    // more than 13 digits of units is out of range whatever they are
    if units.len() > 13 {
        return Err(MoneyError::OutOfRange);
    }
    let units: i64 = if units.is_empty() {
        0
    } else {
        units.parse().map_err(|_| MoneyError::OutOfRange)?
    };
    let frac: i64 = format!("{frac:0<2}")
        .parse()
        .map_err(|_| MoneyError::NotAnAmount)?;
    let minor = units
        .checked_mul(100)
        .and_then(|u| u.checked_add(frac))
        .filter(|m| *m <= MAX_BALANCE_MINOR)
        .ok_or(MoneyError::OutOfRange)?;
    Ok(if neg { -minor } else { minor })
}

/// `123.45`, `-12,5`, `100` → minor units; `None` for anything else, or beyond
/// ±[`MAX_BALANCE_MINOR`].
pub fn parse_money(s: &str) -> Option<i64> {
    money(s).ok()
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d.%m.%Y"))
        .ok()
}

/// A phone as written → canonical E.164 (`core::numbers::normalize` under `[dialing]`), or
/// why not.
pub type Normalize<'a> = dyn Fn(&str) -> Result<String, NumberError> + 'a;

/// Checks one record; `col` finds a column by header name.
pub fn parse_row(
    col: &dyn Fn(&str) -> Option<String>,
    normalize: &Normalize<'_>,
) -> Result<AccountRow, String> {
    // Every column first: a NUL byte (which PostgreSQL refuses, aborting the whole import),
    // a value longer than its limit (never echoed), control characters in the text columns.
    for (name, max) in FIELD_LIMITS {
        let Some(v) = col(name) else { continue };
        if v.contains('\0') {
            return Err(format!("{name}: NUL byte (a binary or damaged file?)"));
        }
        let n = v.chars().count();
        if n > max {
            return Err(format!("{name}: {n} characters, at most {max}"));
        }
        if matches!(name, "holder" | "meter") {
            if let Some(c) = v.trim().chars().find(|c| c.is_control()) {
                return Err(format!(
                    "{name}: control character {c:?} not allowed (one line of printable text)"
                ));
            }
        }
    }
    let get = |k: &str| col(k).unwrap_or_default().trim().to_string();
    let account = get("account");
    if account.is_empty() || account.len() > 20 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("account {account:?}: 1-20 digits expected"));
    }
    let phone = match get("phone") {
        p if p.is_empty() => None,
        p => Some(normalize(&p).map_err(|e| format!("phone {p:?}: {e}"))?),
    };
    let balance = get("balance");
    let balance_minor = if balance.is_empty() {
        0
    } else {
        money(&balance).map_err(|e| match e {
            MoneyError::NotAnAmount => format!("balance {balance:?}: not an amount"),
            MoneyError::OutOfRange => {
                format!("balance {balance:?}: out of range (at most {MAX_BALANCE_TEXT} either way)")
            }
        })?
    };
    let meter = get("meter");
    if meter.is_empty() {
        return Err("meter: a serial number is required".into());
    }
    let zones: u8 = get("zones")
        .parse()
        .ok()
        .filter(|z| (1..=3).contains(z))
        .ok_or("zones: 1, 2 or 3")?;
    let digits: u8 = get("digits")
        .parse()
        .ok()
        .filter(|d| (3..=9).contains(d))
        .ok_or("digits: 3 to 9")?;
    let last_date = parse_date(&get("last_date")).ok_or("last_date: YYYY-MM-DD expected")?;
    let mut last = Vec::new();
    for z in 1..=zones {
        let v = get(&format!("last_{z}"));
        let ok = !v.is_empty()
            && v.len() <= usize::from(digits)
            && v.bytes().all(|b| b.is_ascii_digit());
        if !ok {
            return Err(format!("last_{z} {v:?}: up to {digits} digits expected"));
        }
        last.push(v.parse::<i64>().map_err(|e| e.to_string())?);
    }
    Ok(AccountRow {
        account,
        holder: get("holder"),
        phone,
        balance_minor,
        meter,
        zones,
        digits,
        last_date,
        last,
    })
}

/// The file's header lacks a column every row needs, or is not CSV.
#[derive(Debug, thiserror::Error)]
pub enum AccountsFileError {
    #[error("header has no column {0:?}")]
    MissingColumn(&'static str),
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
}

/// Checks every row of billing's file: the report (rows read, problems by line) and the
/// rows to store.
pub fn read_accounts(
    text: &[u8],
    normalize: &Normalize<'_>,
) -> Result<(ImportReport, Vec<AccountRow>), AccountsFileError> {
    let first_line = text.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = if first_line.contains(&b';') {
        b';'
    } else {
        b','
    };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text);
    let headers: HashMap<String, usize> = rdr
        .headers()?
        .iter()
        .enumerate()
        .map(|(i, h)| {
            (
                h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase(),
                i,
            )
        })
        .collect();
    for need in ["account", "meter", "zones", "digits", "last_date", "last_1"] {
        if !headers.contains_key(need) {
            return Err(AccountsFileError::MissingColumn(need));
        }
    }
    let mut report = ImportReport::default();
    let mut good = Vec::new();
    for rec in rdr.records() {
        report.rows += 1;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                report.problems.push((line, e.to_string()));
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let col = |k: &str| headers.get(k).and_then(|i| rec.get(*i)).map(str::to_string);
        match parse_row(&col, normalize) {
            Ok(row) => good.push(row),
            Err(reason) => report.problems.push((line, reason)),
        }
    }
    report.accepted = good.len() as u64;
    Ok((report, good))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> Result<AccountRow, String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // the default `[dialing]` rules (Russia)
        let normalize = |p: &str| crate::core::numbers::normalize(p, &Default::default());
        parse_row(&|k| m.get(k).cloned(), &normalize)
    }

    const GOOD: [(&str, &str); 10] = [
        ("account", "1234534"),
        ("holder", "Ivanov"),
        ("phone", "8 (916) 123-45-67"),
        ("balance", "-12,5"),
        ("meter", "M1"),
        ("zones", "2"),
        ("digits", "5"),
        ("last_date", "01.03.2025"),
        ("last_1", "01000"),
        ("last_2", "500"),
    ];

    #[test]
    fn a_good_row_is_normalised() {
        let r = row(&GOOD).unwrap();
        assert_eq!(r.phone.as_deref(), Some("+79161234567"));
        assert_eq!(r.balance_minor, -1250);
        assert_eq!(r.last, vec![1000, 500]);
        assert_eq!(r.last_date, NaiveDate::from_ymd_opt(2025, 3, 1).unwrap());
    }

    #[test]
    fn bad_fields_are_named() {
        let with = |k: &str, v: &str| {
            let mut p = GOOD.to_vec();
            p.retain(|(n, _)| *n != k);
            p.push((k, v));
            row(&p).unwrap_err()
        };
        assert!(with("account", "12A").starts_with("account"));
        assert!(with("zones", "4").starts_with("zones"));
        assert!(with("last_2", "").starts_with("last_2"));
        assert!(with("last_1", "123456").starts_with("last_1"));
        assert!(with("balance", "1.234").starts_with("balance"));
        assert!(with("last_date", "yesterday").starts_with("last_date"));
    }

    #[test]
    fn money() {
        assert_eq!(parse_money("123.45"), Some(12345));
        assert_eq!(parse_money("100"), Some(10000));
        assert_eq!(parse_money("0.5"), Some(50));
        assert_eq!(parse_money("-0,05"), Some(-5));
        assert_eq!(parse_money("1e3"), None);
        // overflow and the limit, both ways
        assert_eq!(parse_money("92233720368547758.99"), None);
        assert_eq!(parse_money("-92233720368547758.99"), None);
        assert_eq!(parse_money("999999999999.99"), Some(MAX_BALANCE_MINOR));
        assert_eq!(parse_money("-999999999999,99"), Some(-MAX_BALANCE_MINOR));
        assert_eq!(parse_money("1000000000000"), None);
        assert_eq!(parse_money("0000000000000000000000012.5"), Some(1250));
        assert_eq!(super::money(&"1".repeat(40)), Err(MoneyError::OutOfRange));
        assert_eq!(parse_money(""), None);
    }
}
