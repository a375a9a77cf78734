//! Calling windows: the days and hours a subscriber may be called, in *their* time zone,
//! checked at the moment of dialling (not when the list was loaded).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Monday = 0.
    days: [bool; 7],
    start: NaiveTime,
    end: NaiveTime,
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day_index(s: &str) -> Result<usize, String> {
    DAY_NAMES
        .iter()
        .position(|d| d.eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| format!("unknown day {s:?} (mon..sun)"))
}

impl Window {
    /// `days`: `mon-sat`, `mon-fri,sun`, `sat`; times `HH:MM`, start before end.
    pub fn parse(days: &str, start: &str, end: &str) -> Result<Self, String> {
        let mut set = [false; 7];
        for part in days.split(',') {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day_index(a)?, day_index(b)?);
                    let mut i = a;
                    loop {
                        set[i] = true;
                        if i == b {
                            break;
                        }
                        i = (i + 1) % 7;
                    }
                }
                None => set[day_index(part)?] = true,
            }
        }
        let t = |s: &str| {
            NaiveTime::parse_from_str(s.trim(), "%H:%M")
                .map_err(|_| format!("bad time {s:?} (HH:MM)"))
        };
        let (start, end) = (t(start)?, t(end)?);
        if start >= end {
            return Err(format!("window start {start} is not before end {end}"));
        }
        Ok(Self {
            days: set,
            start,
            end,
        })
    }

    pub fn is_open(&self, now: DateTime<Utc>, tz: Tz) -> bool {
        let local = now.with_timezone(&tz);
        let day = local.weekday().num_days_from_monday() as usize;
        let t = local.time();
        self.days[day] && t >= self.start && t < self.end
    }

    /// `now` when open, else the next moment the window opens.
    pub fn next_open(&self, now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        if self.is_open(now, tz) {
            return now;
        }
        let today: NaiveDate = now.with_timezone(&tz).date_naive();
        for offset in 0..8 {
            let date = today + Duration::days(offset);
            let day = date.weekday().num_days_from_monday() as usize;
            if !self.days[day] {
                continue;
            }
            // A start inside a DST gap does not exist: take the first instant after it.
            let mut naive = date.and_time(self.start);
            let opens = loop {
                if let Some(t) = tz.from_local_datetime(&naive).earliest() {
                    break t.with_timezone(&Utc);
                }
                naive += Duration::minutes(15);
            };
            if opens > now {
                return opens;
            }
        }
        // Unreachable with at least one day set; a day later is a safe answer anyway.
        now + Duration::days(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn open_in_the_subscribers_zone_not_utc() {
        let w = Window::parse("mon-sat", "09:00", "20:00").unwrap();
        // 2026-11-25 is a Wednesday. 06:30 UTC = 09:30 Moscow, 12:30 Novosibirsk...
        let now = utc("2026-11-25T06:30:00Z");
        assert!(w.is_open(now, chrono_tz::Europe::Moscow));
        assert!(!w.is_open(now, chrono_tz::Europe::Kaliningrad)); // 08:30 there
        assert!(!w.is_open(utc("2026-11-25T17:30:00Z"), chrono_tz::Asia::Novosibirsk));
        // 00:30
    }

    #[test]
    fn next_open_skips_night_and_sunday() {
        let w = Window::parse("mon-sat", "09:00", "20:00").unwrap();
        let msk = chrono_tz::Europe::Moscow;
        // Saturday 2026-11-28 21:00 Moscow → Monday 09:00 Moscow (06:00 UTC)
        let sat_night = utc("2026-11-28T18:00:00Z");
        assert_eq!(w.next_open(sat_night, msk), utc("2026-11-30T06:00:00Z"));
        // early morning → same day 09:00
        assert_eq!(
            w.next_open(utc("2026-11-25T03:00:00Z"), msk),
            utc("2026-11-25T06:00:00Z")
        );
        let open = utc("2026-11-25T10:00:00Z");
        assert_eq!(w.next_open(open, msk), open);
    }

    #[test]
    fn parse_errors_are_clear() {
        assert!(Window::parse("mon-fri,sun", "08:00", "21:00").is_ok());
        assert!(Window::parse("fri-mon", "08:00", "21:00").unwrap().days[6]);
        assert!(Window::parse("monday", "08:00", "21:00")
            .unwrap_err()
            .contains("monday"));
        assert!(Window::parse("mon", "9", "21:00")
            .unwrap_err()
            .contains("HH:MM"));
        assert!(Window::parse("mon", "21:00", "08:00").is_err());
    }

    #[test]
    fn dst_gap_start_moves_past_the_gap() {
        // Europe/Berlin springs forward 2027-03-28 02:00 → 03:00
        let w = Window::parse("sun", "02:30", "05:00").unwrap();
        let now = utc("2027-03-27T12:00:00Z");
        let opens = w.next_open(now, chrono_tz::Europe::Berlin);
        assert_eq!(opens, utc("2027-03-28T01:00:00Z")); // 03:00 CEST
    }
}
