//! Campaign reports, the facts and the rules: what an auditor's report counts ("reached",
//! "confirmed", "unknown"...), each subscriber's outcome, and the machine CSV every other
//! form of the report is rendered from. Pure: the store hands in what it read
//! ([`TargetGroup`], [`SubscriberRow`]), nothing here reads a database, a clock or the
//! config; how a person reads a report (text, HTML, the auditors' CSV, `.xlsx`) is
//! `mail::report`'s.
//!
//! - [`locale`]: [`ReportLocale`], the language, zone and CSV separator of a report.
//! - [`labels`]: every label and outcome name in each language.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

pub mod labels;
pub mod locale;

pub use locale::{Language, ReportLocale};

/// The campaign as the report names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignInfo {
    pub id: i64,
    pub name: String,
    pub list_number: i32,
    /// `None` when the list was deleted after the campaign.
    pub list_name: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub state: String,
    pub lines: i32,
    pub trunk: String,
    /// The campaign asked subscribers for a confirmation key.
    pub confirm: bool,
}

/// Subscribers by final outcome. `reached + busy + no_answer + machine + announcement +
/// fax + silence + failed + invalid + dnc + unknown + cancelled + pending == total`; `rejected_at_import` is outside `total` (those
/// rows never became targets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportCounts {
    pub total: i64,
    pub reached: i64,
    pub listened_full: i64,
    pub listened_partial: i64,
    pub confirmed: i64,
    pub busy: i64,
    pub no_answer: i64,
    /// Answering machines that took the message after their beep: not reached.
    #[serde(default)]
    pub machine: i64,
    /// Network announcements (SIT, "subscriber unavailable"): not reached.
    #[serde(default)]
    pub announcement: i64,
    #[serde(default)]
    pub fax: i64,
    /// Answered and nobody spoke: not reached.
    #[serde(default)]
    pub silence: i64,
    pub failed: i64,
    pub invalid: i64,
    pub dnc: i64,
    /// Includes done targets whose outcome is missing or not a known name: the report says
    /// "unknown" rather than guess.
    pub unknown: i64,
    pub cancelled: i64,
    /// Not done yet (`pending` or `dialing`); a busy target waiting for its retry is here.
    pub pending: i64,
    pub rejected_at_import: i64,
    /// Originates made (rows of `attempts`).
    pub attempts: i64,
}

/// Targets of a campaign that stand alike, as the store counts them: their `status`, their
/// stored `outcome`, and whether one of their answered attempts pressed the confirmation
/// key. What each group counts as is [`ReportCounts::tally`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    pub status: String,
    pub outcome: Option<String>,
    pub keyed: bool,
    pub targets: i64,
}

impl ReportCounts {
    /// The counting rules. An outcome counts only once its target is `done`: a pending
    /// target keeps its last try's outcome (e.g. busy) while it waits for a retry, and is
    /// reported as pending, not busy. "Reached" is listened to the end or in part;
    /// "confirmed" is reached with the key pressed on an answered attempt. A done target
    /// whose outcome is missing or not a name this version knows is "unknown".
    pub fn tally(groups: &[TargetGroup], attempts: i64, rejected_at_import: i64) -> ReportCounts {
        let mut c = ReportCounts {
            attempts,
            rejected_at_import,
            ..ReportCounts::default()
        };
        for g in groups {
            let n = g.targets;
            c.total += n;
            if g.status != "done" {
                c.pending += n;
                continue;
            }
            let slot = match g.outcome.as_deref() {
                Some("listened_full") => &mut c.listened_full,
                Some("listened_partial") => &mut c.listened_partial,
                Some("busy") => &mut c.busy,
                Some("no_answer") => &mut c.no_answer,
                Some("machine") => &mut c.machine,
                Some("announcement") => &mut c.announcement,
                Some("fax") => &mut c.fax,
                Some("silence") => &mut c.silence,
                Some("failed") => &mut c.failed,
                Some("invalid") => &mut c.invalid,
                Some("dnc") => &mut c.dnc,
                Some("cancelled") => &mut c.cancelled,
                _ => &mut c.unknown,
            };
            *slot += n;
            if matches!(
                g.outcome.as_deref(),
                Some("listened_full" | "listened_partial")
            ) {
                c.reached += n;
                if g.keyed {
                    c.confirmed += n;
                }
            }
        }
        c
    }
}

/// A subscriber's outcome in the report: the stored one once the target is done (`unknown`
/// when none was stored), else where the target stands (`pending`, `dialing`): until done,
/// the stored outcome is only the last try's.
pub fn subscriber_outcome(status: String, outcome: Option<String>) -> String {
    if status == "done" {
        outcome.unwrap_or_else(|| "unknown".into())
    } else {
        status
    }
}

/// Columns of the machine CSV, in order (`contactd campaigns report ID` prints it; the
/// auditors' CSV and `.xlsx` are rendered from it).
pub const CSV_HEADER: [&str; 11] = [
    "phone",
    "name",
    "account",
    "outcome",
    "attempts",
    "last_hangup_cause",
    "last_q850",
    "listened_seconds",
    "listened_fully",
    "confirm_key",
    "last_attempt_at",
];

/// One subscriber as the store read it: the target, its latest originate (`last_*`, and
/// how many there were) and the answered attempt that got furthest into the message
/// (`listened_*`, `confirm_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberRow {
    pub phone: String,
    pub name: String,
    pub account: String,
    pub status: String,
    pub outcome: Option<String>,
    pub attempts: i64,
    pub last_hangup_cause: Option<String>,
    pub last_q850: Option<i32>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub listened_ms: Option<i32>,
    pub listened_full: Option<bool>,
    pub confirm_key: Option<String>,
}

/// Writes the machine CSV ([`CSV_HEADER`], outcome codes, UTC RFC 3339 times, `,`) a row at
/// a time, so the store can stream 200,000 targets through it as CSV text, never as rows.
pub struct MachineCsv {
    w: csv::Writer<Vec<u8>>,
}

impl MachineCsv {
    pub fn new() -> csv::Result<MachineCsv> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(CSV_HEADER)?;
        Ok(MachineCsv { w })
    }

    pub fn push(&mut self, r: SubscriberRow) -> csv::Result<()> {
        self.w.write_record([
            r.phone,
            r.name,
            r.account,
            subscriber_outcome(r.status, r.outcome),
            r.attempts.to_string(),
            r.last_hangup_cause.unwrap_or_default(),
            r.last_q850.map(|q| q.to_string()).unwrap_or_default(),
            r.listened_ms.map(seconds).unwrap_or_default(),
            if r.listened_full == Some(true) {
                "yes"
            } else {
                "no"
            }
            .to_string(),
            r.confirm_key.unwrap_or_default(),
            r.last_attempt_at.map(rfc3339).unwrap_or_default(),
        ])
    }

    pub fn finish(self) -> csv::Result<String> {
        let bytes = self
            .w
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))?;
        // Every field written is a Rust `String`, so the bytes are UTF-8.
        Ok(String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8"))
    }
}

/// Milliseconds as seconds with one decimal (`42.5`): what a person reads.
fn seconds(ms: i32) -> String {
    format!("{}.{}", ms / 1000, (ms % 1000) / 100)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `part` as a whole percent of `whole` (0 of nothing).
pub fn percent(part: i64, whole: i64) -> i64 {
    if whole == 0 {
        0
    } else {
        part * 100 / whole
    }
}

/// Everything a report says, gathered in one snapshot: the campaign, its counts, and every
/// subscriber's row as the machine CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignReport {
    pub campaign: CampaignInfo,
    pub counts: ReportCounts,
    /// The confirmation key the counts were made with.
    pub confirm_key: String,
    /// The machine CSV: [`CSV_HEADER`], then one row per target.
    csv: String,
}

impl CampaignReport {
    /// `csv` is the machine CSV, [`CSV_HEADER`] first ([`MachineCsv`] writes it).
    pub fn new(
        campaign: CampaignInfo,
        counts: ReportCounts,
        confirm_key: String,
        csv: String,
    ) -> CampaignReport {
        CampaignReport {
            campaign,
            counts,
            confirm_key,
            csv,
        }
    }

    /// The machine CSV: [`CSV_HEADER`], one row per target, outcome codes, UTC RFC 3339
    /// times, `,`. What `contactd campaigns report ID` prints after the summary.
    pub fn render_csv(&self) -> &str {
        &self.csv
    }

    /// `campaign-12.csv`.
    pub fn csv_name(&self) -> String {
        format!("campaign-{}.csv", self.campaign.id)
    }

    /// `campaign-12.xlsx`.
    pub fn xlsx_name(&self) -> String {
        format!("campaign-{}.xlsx", self.campaign.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(status: &str, outcome: Option<&str>, keyed: bool, targets: i64) -> TargetGroup {
        TargetGroup {
            status: status.into(),
            outcome: outcome.map(Into::into),
            keyed,
            targets,
        }
    }

    #[test]
    fn outcomes_count_once_done_and_unknown_names_are_unknown() {
        let c = ReportCounts::tally(
            &[
                group("done", Some("listened_full"), true, 5),
                group("done", Some("listened_full"), false, 3),
                group("done", Some("listened_partial"), true, 2),
                group("done", Some("busy"), true, 4),
                group("pending", Some("busy"), false, 7),
                group("dialing", None, false, 1),
                group("done", None, false, 1),
                group("done", Some("new_outcome"), false, 1),
                group("done", Some("cancelled"), false, 2),
            ],
            40,
            6,
        );
        assert_eq!(
            c,
            ReportCounts {
                total: 26,
                reached: 10,
                listened_full: 8,
                listened_partial: 2,
                confirmed: 7,
                busy: 4,
                unknown: 2,
                cancelled: 2,
                pending: 8,
                rejected_at_import: 6,
                attempts: 40,
                ..Default::default()
            }
        );
    }

    #[test]
    fn a_subscriber_not_done_is_where_it_stands() {
        let s = |x: &str| x.to_string();
        assert_eq!(subscriber_outcome(s("done"), Some(s("busy"))), "busy");
        assert_eq!(subscriber_outcome(s("done"), None), "unknown");
        assert_eq!(subscriber_outcome(s("pending"), Some(s("busy"))), "pending");
    }

    #[test]
    fn the_machine_csv_has_codes_and_utc_times() {
        let mut w = MachineCsv::new().unwrap();
        w.push(SubscriberRow {
            phone: "+79161234567".into(),
            name: "A, B".into(),
            account: "LS-1".into(),
            status: "done".into(),
            outcome: Some("listened_partial".into()),
            attempts: 2,
            last_hangup_cause: Some("NORMAL_CLEARING".into()),
            last_q850: Some(16),
            last_attempt_at: Some("2025-06-02T06:10:05Z".parse().unwrap()),
            listened_ms: Some(8_250),
            listened_full: Some(false),
            confirm_key: None,
        })
        .unwrap();
        assert_eq!(
            w.finish().unwrap(),
            format!(
                "{}\n+79161234567,\"A, B\",LS-1,listened_partial,2,NORMAL_CLEARING,16,8.2,no,,2025-06-02T06:10:05Z\n",
                CSV_HEADER.join(",")
            )
        );
    }

    #[test]
    fn seconds_keep_one_decimal() {
        assert_eq!(seconds(42_560), "42.5");
        assert_eq!(seconds(999), "0.9");
        assert_eq!(seconds(0), "0.0");
    }
}
