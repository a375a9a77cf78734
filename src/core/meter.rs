//! Meter readings as pure rules: zones, the checks a reading must pass (digits only, no more
//! digits than the dial, not below the last accepted reading unless the dial rolled over,
//! consumption within a daily maximum), account-number checks (length, Luhn check digit)
//! and the operators' office hours.
//!
//! Owns the ONE validation both the IVR flow and `POST /api/v1/readings` call, so a value
//! refused on the phone is refused on the web. No I/O and no clock: every date comes in.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Weekday};

/// A meter as the checks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterSpec {
    /// Digits on the dial (whole kWh); the dial rolls over to 0 after `10^digits - 1`.
    pub digits: u8,
    /// 1 (single rate), 2 (day/night) or 3 (peak/half-peak/night).
    pub zones: u8,
}

/// The last reading billing accepted for one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastReading {
    pub value: i64,
    pub date: NaiveDate,
}

/// One meter of an account, with its zones' last accepted readings (`last[i]` is zone i+1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterInfo {
    pub id: i64,
    pub serial: String,
    pub spec: MeterSpec,
    pub last: Vec<LastReading>,
}

/// What the IVR and the API need to know of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    pub number: String,
    /// Minor units (kopecks); negative is a debt.
    pub balance_minor: i64,
    pub meters: Vec<MeterInfo>,
}

/// Limits configured by the utility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadingRules {
    /// Highest plausible consumption per zone per day (kWh).
    pub max_daily_kwh: i64,
}

/// A reading that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedReading {
    pub zone: u8,
    pub value: i64,
    /// kWh since the last accepted reading (across the roll-over when there was one).
    pub consumption: i64,
    pub rolled_over: bool,
}

/// Why a reading was refused. `rule()` is the stable name the HTTP API returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadingError {
    #[error("no value entered")]
    Empty,
    #[error("only digits 0-9 are allowed")]
    NotDigits,
    #[error("the meter has {max} digits")]
    TooManyDigits { max: u8 },
    #[error("below the last accepted reading {previous}")]
    BelowPrevious { previous: i64 },
    #[error("consumption {consumption} kWh is above the maximum {max} kWh for {days} day(s)")]
    AboveDailyMaximum {
        consumption: i64,
        max: i64,
        days: i64,
    },
    #[error("zone {zone} does not exist on a {zones}-zone meter")]
    NoSuchZone { zone: u8, zones: u8 },
    #[error("zone {0} given twice")]
    DuplicateZone(u8),
    #[error("zone {0} is missing: a reading has one value per zone")]
    MissingZone(u8),
}

impl ReadingError {
    pub fn rule(&self) -> &'static str {
        match self {
            ReadingError::Empty => "required",
            ReadingError::NotDigits => "digits_only",
            ReadingError::TooManyDigits { .. } => "too_many_digits",
            ReadingError::BelowPrevious { .. } => "below_previous",
            ReadingError::AboveDailyMaximum { .. } => "above_daily_maximum",
            ReadingError::NoSuchZone { .. } => "no_such_zone",
            ReadingError::DuplicateZone(_) => "one_value_per_zone",
            ReadingError::MissingZone(_) => "one_value_per_zone",
        }
    }
}

/// Checks one zone's value as keyed or typed (`"04512"`), against the last accepted reading.
///
/// A value below the last reading is a roll-over only when the consumption across the
/// wrap (`10^digits - last + value`) is itself plausible; otherwise it is a mistake.
/// A reading on the same day as the last one is allowed one day's maximum.
pub fn check_reading(
    meter: MeterSpec,
    zone: u8,
    last: LastReading,
    entered: &str,
    today: NaiveDate,
    rules: ReadingRules,
) -> Result<CheckedReading, ReadingError> {
    if entered.is_empty() {
        return Err(ReadingError::Empty);
    }
    if !entered.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ReadingError::NotDigits);
    }
    // Leading zeros are how a dial reads (`00451`); they do not count against its width
    // beyond the dial's own digits.
    if entered.len() > usize::from(meter.digits) {
        return Err(ReadingError::TooManyDigits { max: meter.digits });
    }
    let value: i64 = entered.parse().map_err(|_| ReadingError::NotDigits)?;
    let days = (today - last.date).num_days().max(1);
    let max = rules.max_daily_kwh.saturating_mul(days);
    let modulus = 10i64.pow(u32::from(meter.digits));
    let (consumption, rolled_over) = if value >= last.value {
        (value - last.value, false)
    } else {
        let across = modulus - last.value + value;
        if across > max {
            return Err(ReadingError::BelowPrevious {
                previous: last.value,
            });
        }
        (across, true)
    };
    if consumption > max {
        return Err(ReadingError::AboveDailyMaximum {
            consumption,
            max,
            days,
        });
    }
    Ok(CheckedReading {
        zone,
        value,
        consumption,
        rolled_over,
    })
}

/// Checks a whole submission (one value per zone, every zone): what the HTTP API and the
/// final store call; the IVR calls [`check_reading`] zone by zone to re-prompt early.
/// `last[i]` is zone `i + 1`. Errors carry the index into `entries` they concern.
pub fn check_submission(
    meter: MeterSpec,
    last: &[LastReading],
    entries: &[(u8, String)],
    today: NaiveDate,
    rules: ReadingRules,
) -> Result<Vec<CheckedReading>, (Option<usize>, ReadingError)> {
    let mut out: Vec<CheckedReading> = Vec::new();
    for (i, (zone, value)) in entries.iter().enumerate() {
        if *zone == 0 || *zone > meter.zones || usize::from(*zone) > last.len() {
            return Err((
                Some(i),
                ReadingError::NoSuchZone {
                    zone: *zone,
                    zones: meter.zones,
                },
            ));
        }
        if out.iter().any(|r| r.zone == *zone) {
            return Err((Some(i), ReadingError::DuplicateZone(*zone)));
        }
        let prev = last[usize::from(*zone) - 1];
        let r = check_reading(meter, *zone, prev, value, today, rules).map_err(|e| (Some(i), e))?;
        out.push(r);
    }
    if let Some(z) = (1..=meter.zones).find(|z| !out.iter().any(|r| r.zone == *z)) {
        return Err((None, ReadingError::MissingZone(z)));
    }
    out.sort_by_key(|r| r.zone);
    Ok(out)
}

/// Zone names as billing and the web form know them.
pub fn zone_name(zones: u8, zone: u8) -> &'static str {
    match (zones, zone) {
        (1, _) => "total",
        (2, 1) => "day",
        (2, _) => "night",
        (_, 1) => "peak",
        (_, 2) => "half_peak",
        _ => "night",
    }
}

/// How account numbers look: a length range and, optionally, a Luhn check digit last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountRules {
    pub min_len: u8,
    pub max_len: u8,
    pub check_digit: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccountNumberError {
    #[error("account numbers are digits only")]
    NotDigits,
    #[error("account numbers have {min} to {max} digits")]
    Length { min: u8, max: u8 },
    #[error("the check digit does not match")]
    CheckDigit,
}

pub fn check_account_number(s: &str, rules: AccountRules) -> Result<(), AccountNumberError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AccountNumberError::NotDigits);
    }
    if !(usize::from(rules.min_len)..=usize::from(rules.max_len)).contains(&s.len()) {
        return Err(AccountNumberError::Length {
            min: rules.min_len,
            max: rules.max_len,
        });
    }
    if rules.check_digit && !luhn_ok(s) {
        return Err(AccountNumberError::CheckDigit);
    }
    Ok(())
}

/// Luhn (mod 10): catches every single-digit typo and most swaps of neighbours.
pub fn luhn_ok(s: &str) -> bool {
    let sum: u32 = s
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// When operators answer: hours per weekday (a missing day is closed) and holidays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfficeHours {
    /// `[mon, tue, …, sun]`: opening and closing time.
    pub days: [Option<(NaiveTime, NaiveTime)>; 7],
    pub holidays: Vec<NaiveDate>,
}

impl OfficeHours {
    /// `local` is the wall-clock time where the operators sit.
    pub fn is_open(&self, local: NaiveDateTime) -> bool {
        if self.holidays.contains(&local.date()) {
            return false;
        }
        let day = local.weekday().num_days_from_monday() as usize;
        self.days[day].is_some_and(|(open, close)| local.time() >= open && local.time() < close)
    }

    /// Parses `HH:MM-HH:MM` for one weekday name (`mon`…`sun`).
    pub fn set_day(&mut self, day: &str, span: &str) -> Result<(), String> {
        let wd: Weekday = day.parse().map_err(|_| format!("{day}: not a weekday"))?;
        let (a, b) = span
            .split_once('-')
            .ok_or_else(|| format!("{span}: expected HH:MM-HH:MM"))?;
        let t = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M");
        // `24:00` closes at the end of the day (chrono has no 24:00).
        let end_of_day = NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999);
        let close = match b.trim() {
            "24:00" => end_of_day.ok_or_else(|| "24:00".to_string()),
            b => t(b).map_err(|e| e.to_string()),
        };
        match (t(a), close) {
            (Ok(open), Ok(close)) if open < close => {
                self.days[wd.num_days_from_monday() as usize] = Some((open, close));
                Ok(())
            }
            _ => Err(format!(
                "{span}: expected HH:MM-HH:MM with opening before closing"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }
    const ONE: MeterSpec = MeterSpec {
        digits: 5,
        zones: 1,
    };
    const RULES: ReadingRules = ReadingRules { max_daily_kwh: 50 };
    fn last(value: i64) -> LastReading {
        LastReading {
            value,
            date: d(2025, 3, 1),
        }
    }

    #[test]
    fn plain_reading_gives_its_consumption() {
        let r = check_reading(ONE, 1, last(12000), "12150", d(2025, 3, 31), RULES).unwrap();
        assert_eq!((r.value, r.consumption, r.rolled_over), (12150, 150, false));
        // leading zeros as on the dial
        let r = check_reading(ONE, 1, last(100), "00150", d(2025, 3, 2), RULES).unwrap();
        assert_eq!(r.value, 150);
    }

    #[test]
    fn refusals_name_their_rule() {
        let today = d(2025, 3, 31);
        let e = |s: &str| check_reading(ONE, 1, last(12000), s, today, RULES).unwrap_err();
        assert_eq!(e("").rule(), "required");
        assert_eq!(e("12a45").rule(), "digits_only");
        assert_eq!(e("-1").rule(), "digits_only");
        assert_eq!(e("123456").rule(), "too_many_digits");
        assert_eq!(e("11999").rule(), "below_previous");
        // 30 days * 50 kWh = 1500 max
        assert_eq!(e("13501").rule(), "above_daily_maximum");
        assert!(check_reading(ONE, 1, last(12000), "13500", today, RULES).is_ok());
    }

    #[test]
    fn same_day_reading_is_allowed_one_days_maximum() {
        let r = check_reading(ONE, 1, last(100), "150", d(2025, 3, 1), RULES).unwrap();
        assert_eq!(r.consumption, 50);
        assert!(check_reading(ONE, 1, last(100), "151", d(2025, 3, 1), RULES).is_err());
    }

    #[test]
    fn rolled_over_dial_is_accepted_when_plausible() {
        let r = check_reading(ONE, 1, last(99_900), "00040", d(2025, 3, 11), RULES).unwrap();
        assert_eq!((r.value, r.consumption, r.rolled_over), (40, 140, true));
        // a wrap implying 90 000 kWh is a typo, reported as below the previous reading
        let e = check_reading(ONE, 1, last(50_000), "40000", d(2025, 3, 11), RULES).unwrap_err();
        assert_eq!(e, ReadingError::BelowPrevious { previous: 50_000 });
    }

    #[test]
    fn submission_needs_every_zone_once() {
        let two = MeterSpec {
            digits: 6,
            zones: 2,
        };
        let lasts = [last(1000), last(500)];
        let today = d(2025, 3, 11);
        let v = |z: u8, s: &str| (z, s.to_string());
        let ok = check_submission(two, &lasts, &[v(2, "520"), v(1, "1100")], today, RULES);
        let ok = ok.unwrap();
        assert_eq!((ok[0].zone, ok[0].consumption), (1, 100));
        assert_eq!((ok[1].zone, ok[1].consumption), (2, 20));
        let e = check_submission(two, &lasts, &[v(1, "1100")], today, RULES).unwrap_err();
        assert_eq!(e, (None, ReadingError::MissingZone(2)));
        let e = check_submission(two, &lasts, &[v(1, "1100"), v(1, "1101")], today, RULES);
        assert_eq!(e.unwrap_err().0, Some(1));
        let e = check_submission(two, &lasts, &[v(1, "1100"), v(3, "1")], today, RULES);
        assert_eq!(e.unwrap_err().1.rule(), "no_such_zone");
        let e = check_submission(two, &lasts, &[v(1, "1100"), v(2, "400")], today, RULES);
        assert_eq!(
            e.unwrap_err(),
            (Some(1), ReadingError::BelowPrevious { previous: 500 })
        );
    }

    #[test]
    fn account_numbers_length_and_check_digit() {
        let rules = AccountRules {
            min_len: 6,
            max_len: 10,
            check_digit: true,
        };
        assert!(luhn_ok("79927398713"));
        assert!(check_account_number("1234566", rules).is_ok()); // 123456 + Luhn 6
        assert_eq!(
            check_account_number("1234567", rules),
            Err(AccountNumberError::CheckDigit)
        );
        assert_eq!(
            check_account_number("12345", rules),
            Err(AccountNumberError::Length { min: 6, max: 10 })
        );
        assert_eq!(
            check_account_number("12*456", rules),
            Err(AccountNumberError::NotDigits)
        );
        let no_check = AccountRules {
            check_digit: false,
            ..rules
        };
        assert!(check_account_number("1234567", no_check).is_ok());
    }

    #[test]
    fn office_hours_weekdays_and_holidays() {
        let mut h = OfficeHours::default();
        h.set_day("mon", "08:00-20:00").unwrap();
        h.holidays.push(d(2025, 3, 10));
        let at = |day: u32, hh: u32| d(2025, 3, day).and_hms_opt(hh, 0, 0).unwrap();
        assert!(h.is_open(at(3, 8))); // Monday 08:00
        assert!(!h.is_open(at(3, 20))); // closing time
        assert!(!h.is_open(at(4, 12))); // Tuesday: not configured
        assert!(!h.is_open(at(10, 12))); // a Monday holiday
        assert!(h.set_day("mon", "20:00-08:00").is_err());
        h.set_day("sun", "00:00-24:00").unwrap();
        assert!(h.is_open(d(2025, 3, 9).and_hms_opt(23, 59, 59).unwrap()));
        assert!(h.set_day("xyz", "08:00-09:00").is_err());
    }
}
