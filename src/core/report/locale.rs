//! How a report is shown to people: its language, the zone its times are given in, and the
//! CSV's field separator (`[mail] report_language`, `report_time_zone`, `csv_separator`),
//! and how times and decimals are written in them.

use std::borrow::Cow;

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// The language a report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Ru,
    En,
}

impl Language {
    /// `ru` or `en`.
    pub fn parse(s: &str) -> Option<Language> {
        match s.trim() {
            "ru" => Some(Language::Ru),
            "en" => Some(Language::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::Ru => "ru",
            Language::En => "en",
        }
    }

    /// `;` in Russian: Excel in a Russian locale splits a CSV on it (`,` is its decimal
    /// mark); `,` in English.
    pub fn default_csv_separator(self) -> u8 {
        match self {
            Language::Ru => b';',
            Language::En => b',',
        }
    }
}

/// How a report is shown to people: its language, the zone its times are given in, and the
/// CSV's field separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportLocale {
    pub language: Language,
    pub time_zone: Tz,
    pub csv_separator: u8,
}

impl Default for ReportLocale {
    /// English, UTC, `,`: the `[mail]` defaults.
    fn default() -> Self {
        ReportLocale::new(Language::En, Tz::UTC)
    }
}

impl ReportLocale {
    /// With the language's CSV separator.
    pub fn new(language: Language, time_zone: Tz) -> Self {
        ReportLocale {
            language,
            time_zone,
            csv_separator: language.default_csv_separator(),
        }
    }

    /// From the values of `[mail] report_language`, `report_time_zone` and
    /// `csv_separator` (taken as text, so the config can check them without this module
    /// knowing the config); every problem is returned with the key it is about.
    pub fn from_keys(
        report_language: &str,
        report_time_zone: &str,
        csv_separator: Option<&str>,
    ) -> Result<Self, Vec<(&'static str, &'static str)>> {
        let mut problems = Vec::new();
        let language = Language::parse(report_language);
        if language.is_none() {
            problems.push(("mail.report_language", "must be ru or en"));
        }
        let time_zone = report_time_zone.trim().parse::<Tz>().ok();
        if time_zone.is_none() {
            problems.push((
                "mail.report_time_zone",
                "is not an IANA time zone (e.g. Europe/Moscow)",
            ));
        }
        let separator = match csv_separator {
            None => None,
            Some(";") => Some(b';'),
            Some(",") => Some(b','),
            Some("\t") => Some(b'\t'),
            Some(_) => {
                problems.push((
                    "mail.csv_separator",
                    "must be \";\", \",\" or a tab (\"\\t\")",
                ));
                None
            }
        };
        match (language, time_zone) {
            (Some(language), Some(time_zone)) if problems.is_empty() => Ok(ReportLocale {
                language,
                time_zone,
                csv_separator: separator.unwrap_or(language.default_csv_separator()),
            }),
            _ => Err(problems),
        }
    }

    /// The zone as named beside a time: `Europe/Moscow, UTC+3` (the offset in force at `t`),
    /// or `UTC`.
    pub fn zone_at(&self, t: DateTime<Utc>) -> String {
        let name = self.time_zone.name();
        if matches!(name, "UTC" | "Etc/UTC") {
            return "UTC".into();
        }
        let offset = self
            .time_zone
            .offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc();
        format!("{name}, {}", utc_offset(offset))
    }

    /// A time for a person, to the minute, with its zone: `01.12.2026 21:33
    /// (Europe/Moscow, UTC+3)` in Russian, `2026-12-01 21:33 (Europe/Moscow, UTC+3)` in
    /// English.
    pub fn time(&self, t: DateTime<Utc>) -> String {
        let format = match self.language {
            Language::Ru => "%d.%m.%Y %H:%M",
            Language::En => "%Y-%m-%d %H:%M",
        };
        let local = t.with_timezone(&self.time_zone);
        format!("{} ({})", local.format(format), self.zone_at(t))
    }

    /// A time in a CSV cell: local, to the second, in the form Excel of this language
    /// reads as a date (the column header names the zone).
    pub fn csv_time(&self, t: DateTime<Utc>) -> String {
        let format = match self.language {
            Language::Ru => "%d.%m.%Y %H:%M:%S",
            Language::En => "%Y-%m-%d %H:%M:%S",
        };
        t.with_timezone(&self.time_zone).format(format).to_string()
    }

    /// The number format of the `.xlsx` date cells.
    pub fn excel_date_format(&self) -> &'static str {
        match self.language {
            Language::Ru => "dd.mm.yyyy hh:mm:ss",
            Language::En => "yyyy-mm-dd hh:mm:ss",
        }
    }

    /// A decimal from the machine CSV (`8.2`) as the CSV writes it: `8,2` in Russian, where
    /// Excel would read `8.2` as the 8th of February.
    pub fn csv_decimal<'a>(&self, machine: &'a str) -> Cow<'a, str> {
        match self.language {
            Language::Ru => Cow::Owned(machine.replace('.', ",")),
            Language::En => Cow::Borrowed(machine),
        }
    }
}

/// `UTC+3`, `UTC+5:30`, `UTC-3:30`, `UTC+0`.
fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    if minutes % 60 == 0 {
        format!("UTC{sign}{}", minutes / 60)
    } else {
        format!("UTC{sign}{}:{:02}", minutes / 60, minutes % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moscow(language: Language) -> ReportLocale {
        ReportLocale::new(language, chrono_tz::Europe::Moscow)
    }

    #[test]
    fn times_name_their_zone_and_offset() {
        let t = DateTime::parse_from_rfc3339("2026-12-01T18:33:37Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            moscow(Language::Ru).time(t),
            "01.12.2026 21:33 (Europe/Moscow, UTC+3)"
        );
        assert_eq!(
            moscow(Language::En).time(t),
            "2026-12-01 21:33 (Europe/Moscow, UTC+3)"
        );
        let kolkata = ReportLocale::new(Language::En, chrono_tz::Asia::Kolkata);
        assert_eq!(kolkata.time(t), "2026-12-02 00:03 (Asia/Kolkata, UTC+5:30)");
        let newfoundland = ReportLocale::new(Language::En, chrono_tz::America::St_Johns);
        assert_eq!(
            newfoundland.time(t),
            "2026-12-01 15:03 (America/St_Johns, UTC-3:30)"
        );
        // summer time is named as the offset in force then
        let july = DateTime::parse_from_rfc3339("2026-07-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let berlin = ReportLocale::new(Language::En, chrono_tz::Europe::Berlin);
        assert_eq!(berlin.time(july), "2026-07-01 14:00 (Europe/Berlin, UTC+2)");
        assert_eq!(berlin.time(t), "2026-12-01 19:33 (Europe/Berlin, UTC+1)");
        assert_eq!(ReportLocale::default().time(t), "2026-12-01 18:33 (UTC)");
    }

    #[test]
    fn the_locale_comes_from_the_mail_keys_and_names_bad_ones() {
        assert_eq!(
            ReportLocale::from_keys("en", "UTC", None),
            Ok(ReportLocale::default())
        );
        let ru = ReportLocale::from_keys("ru", "Europe/Moscow", None).unwrap();
        assert_eq!(ru, moscow(Language::Ru));
        assert_eq!(ru.csv_separator, b';');
        let sep = |s| {
            ReportLocale::from_keys("ru", "Europe/Moscow", Some(s))
                .unwrap()
                .csv_separator
        };
        assert_eq!(sep(","), b',');
        assert_eq!(sep("\t"), b'\t');
        let keys: Vec<&str> = ReportLocale::from_keys("de", "Moscow", Some("|"))
            .unwrap_err()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            keys,
            [
                "mail.report_language",
                "mail.report_time_zone",
                "mail.csv_separator"
            ]
        );
    }
}
