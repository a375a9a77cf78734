//! Key performance indicators per interval: the definitions, the interval arithmetic and
//! the tables `contactd kpi`, the API, the wallboard and the auditors' digest show. The
//! counting over `acd_calls` and `operator_states` is SQL (`store::kpi`); what a figure
//! *means* is decided here, once:
//!
//! - a call counts in the interval it **entered** the queue (a call that waits across
//!   midnight is yesterday's offer); an operator's answered call counts in the interval it
//!   was **answered**, with its talk and after-call work;
//! - **service level** = answered within the queue's target ÷ (offered − abandoned within
//!   [`SHORT_ABANDON_S`] − still waiting and not yet past the target): a caller who hangs up
//!   in the first seconds (a misdial, a caller who heard the greeting and knew) is not held
//!   against the queue, nor is one still waiting within the target;
//! - **abandon rate** = (abandoned − short abandons) ÷ (offered − short abandons);
//! - **ASA** = mean wait of answered calls; **AHT** = mean talk + after-call work;
//! - an operator's time per state is the overlap of each state period with the interval
//!   (a period spanning intervals is split between them; the open one ends now);
//!   **staffed** time is every state but `logged_out` (not counted at all); **occupancy** = (talking + wrap-up)
//!   ÷ (ready + offered + talking + wrap-up), breaks and absence excluded; **calls per
//!   hour** = answered ÷ staffed hours.
//! - operator-campaign (outbound) calls that reached an operator count in the operator's
//!   answered calls, talk, after-call work (until the disposition), AHT and occupancy; the
//!   queues' figures are inbound only, and each campaign's outbound figures are their own
//!   table ([`CampaignKpi`]).

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;

mod outbound;
mod render;
pub use outbound::*;
pub use render::*;

/// A caller gone within this many seconds is a short abandon.
pub const SHORT_ABANDON_S: f64 = 5.0;

/// Default service-level target when a queue has none configured.
pub const DEFAULT_TARGET_S: u32 = 20;

/// Most intervals one query may ask for (a year by 15 minutes is 35,040).
pub const MAX_BUCKETS: i64 = 40_000;

/// The staffed states of `operator_states` (all but `logged_out`), in the order tables
/// show them.
pub const STATES: [&str; 7] = [
    "ready", "offered", "talking", "wrap_up", "break", "absent", "missed",
];

/// The interval KPIs are grouped by, in the reports' local time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Span {
    /// 15 or 30 minutes.
    Minutes(u32),
    Day,
    /// ISO weeks (Monday first).
    Week,
    Month,
}

impl Span {
    /// The PostgreSQL interval of one step.
    pub fn pg_interval(self) -> String {
        match self {
            Span::Minutes(m) => format!("{m} minutes"),
            Span::Day => "1 day".into(),
            Span::Week => "1 week".into(),
            Span::Month => "1 month".into(),
        }
    }

    /// Approximate seconds of one step (for bounding a query's size only).
    pub fn approx_seconds(self) -> i64 {
        match self {
            Span::Minutes(m) => i64::from(m) * 60,
            Span::Day => 86_400,
            Span::Week => 7 * 86_400,
            Span::Month => 28 * 86_400,
        }
    }

    pub fn label(self) -> String {
        match self {
            Span::Minutes(m) => format!("{m}m"),
            Span::Day => "day".into(),
            Span::Week => "week".into(),
            Span::Month => "month".into(),
        }
    }
}

impl FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "15m" => Ok(Span::Minutes(15)),
            "30m" => Ok(Span::Minutes(30)),
            "day" | "1d" => Ok(Span::Day),
            "week" | "1w" => Ok(Span::Week),
            "month" => Ok(Span::Month),
            other => Err(format!(
                "{other:?}: expected one of 15m, 30m, day, week, month"
            )),
        }
    }
}

/// What to compute: `[from, to)`, grouped by `by`, optionally for one queue or operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpiQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub by: Span,
    pub queue: Option<String>,
    pub operator: Option<String>,
}

impl KpiQuery {
    /// The query's problems, naming the parameter: an empty or reversed range, or one that
    /// would make more than [`MAX_BUCKETS`] intervals.
    pub fn check(&self) -> Result<(), String> {
        if self.to <= self.from {
            return Err(format!(
                "to ({}) must be after from ({})",
                self.to.to_rfc3339(),
                self.from.to_rfc3339()
            ));
        }
        let buckets = (self.to - self.from).num_seconds() / self.by.approx_seconds();
        if buckets > MAX_BUCKETS {
            return Err(format!(
                "by {}: {buckets} intervals from {} to {}, at most {MAX_BUCKETS}: choose a longer interval",
                self.by.label(),
                self.from.to_rfc3339(),
                self.to.to_rfc3339()
            ));
        }
        for (name, v) in [("queue", &self.queue), ("operator", &self.operator)] {
            if let Some(v) = v {
                if v.is_empty()
                    || v.len() > 64
                    || !v.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b)
                    })
                {
                    return Err(format!(
                        "{name} {v:?}: expected [a-z0-9_.-], 1-64 characters"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A local day or moment (or an RFC 3339 instant), as UTC. `end`: a bare day means the end of that day. A local time
/// that does not exist (a DST gap) is refused; an ambiguous one takes the earlier instant.
pub fn parse_local(
    s: &str,
    zone: chrono_tz::Tz,
    end: bool,
    option: &str,
) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if end {
            d.succ_opt()
                .ok_or_else(|| format!("{option} {s:?}: out of range"))?
        } else {
            d
        };
        d.and_hms_opt(0, 0, 0).unwrap_or_default()
    } else {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
            .map_err(|_| format!("{option} {s:?}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM"))?
    };
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("{option} {s:?}: that local time does not exist in {zone}"))
}

/// The counts of one queue in one interval, as the SQL returns them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueCounts {
    pub offered: u64,
    pub answered: u64,
    pub answered_in_target: u64,
    pub abandoned: u64,
    pub abandoned_short: u64,
    pub transferred: u64,
    /// Still waiting and not yet past the target: neither in time nor late yet.
    pub waiting_in_target: u64,
    /// Sum of the answered calls' waits, seconds.
    pub wait_sum_s: f64,
    /// Sum of talk + wrap-up of answered calls whose talk is known, and how many those are.
    pub handle_sum_s: f64,
    pub handled: u64,
}

/// One queue's KPIs in one interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueKpi {
    pub start: DateTime<Utc>,
    pub queue: String,
    pub target_s: u32,
    pub offered: u64,
    pub answered: u64,
    pub answered_in_target: u64,
    pub abandoned: u64,
    /// Within [`SHORT_ABANDON_S`]: not counted against the service level.
    pub abandoned_short: u64,
    /// Left for another queue: transferred or overflowed.
    pub transferred: u64,
    /// 0..=1.
    pub service_level: Option<f64>,
    pub abandon_rate: Option<f64>,
    pub asa_s: Option<f64>,
    /// Talk + after-call work.
    pub aht_s: Option<f64>,
}

pub(crate) fn ratio(n: f64, d: f64) -> Option<f64> {
    (d > 0.0).then(|| n / d)
}

impl QueueKpi {
    pub fn new(start: DateTime<Utc>, queue: String, target_s: u32, c: &QueueCounts) -> Self {
        let counted = c.offered.saturating_sub(c.abandoned_short) as f64;
        // A caller still waiting counts against the service level only once the target
        // has passed (the wallboard's "today" includes callers waiting now).
        let judged = (c
            .offered
            .saturating_sub(c.abandoned_short + c.waiting_in_target)) as f64;
        Self {
            start,
            queue,
            target_s,
            offered: c.offered,
            answered: c.answered,
            answered_in_target: c.answered_in_target,
            abandoned: c.abandoned,
            abandoned_short: c.abandoned_short,
            transferred: c.transferred,
            service_level: ratio(c.answered_in_target as f64, judged),
            abandon_rate: ratio(
                c.abandoned.saturating_sub(c.abandoned_short) as f64,
                counted,
            ),
            asa_s: ratio(c.wait_sum_s, c.answered as f64),
            aht_s: ratio(c.handle_sum_s, c.handled as f64),
        }
    }
}

/// The counts of one operator in one interval, as the SQL returns them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OperatorCounts {
    /// Calls answered, both directions (operator-campaign calls included).
    pub answered: u64,
    /// Of them, operator-campaign (outbound) calls.
    pub outbound: u64,
    /// Inbound calls answered within their queue's target.
    pub answered_in_target: u64,
    pub talk_s: f64,
    pub wrap_up_s: f64,
    /// Answered calls whose talk is known (ended).
    pub handled: u64,
    /// Seconds per staffed state (names of [`STATES`]).
    pub state_s: BTreeMap<String, f64>,
}

/// One operator's KPIs in one interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatorKpi {
    pub start: DateTime<Utc>,
    pub login: String,
    pub name: String,
    /// Calls handled, both directions.
    pub answered: u64,
    /// Of them, operator-campaign (outbound) calls.
    pub outbound: u64,
    pub answered_in_target: u64,
    /// Of the inbound calls this operator answered, the share answered within the queue's
    /// target (outbound calls have no caller waiting in a queue).
    pub service_level: Option<f64>,
    pub talk_s: f64,
    pub wrap_up_s: f64,
    pub aht_s: Option<f64>,
    pub state_s: BTreeMap<String, f64>,
    /// Every state but `logged_out` (which is not counted).
    pub staffed_s: f64,
    pub occupancy: Option<f64>,
    pub calls_per_hour: Option<f64>,
}

impl OperatorKpi {
    pub fn new(start: DateTime<Utc>, login: String, name: String, c: &OperatorCounts) -> Self {
        Self::from_counts(start, login, name, c.clone())
    }

    /// [`OperatorKpi::new`] taking the counts (a month's report builds 60,000 of these).
    pub fn from_counts(
        start: DateTime<Utc>,
        login: String,
        name: String,
        c: OperatorCounts,
    ) -> Self {
        let s = |k: &str| c.state_s.get(k).copied().unwrap_or(0.0);
        let staffed: f64 = c.state_s.values().sum();
        let busy = s("talking") + s("wrap_up");
        let available = busy + s("ready") + s("offered");
        Self {
            start,
            login,
            name,
            answered: c.answered,
            outbound: c.outbound,
            answered_in_target: c.answered_in_target,
            service_level: ratio(
                c.answered_in_target as f64,
                c.answered.saturating_sub(c.outbound) as f64,
            ),
            talk_s: c.talk_s,
            wrap_up_s: c.wrap_up_s,
            aht_s: ratio(c.talk_s + c.wrap_up_s, c.handled as f64),
            staffed_s: staffed,
            occupancy: ratio(busy, available),
            calls_per_hour: ratio(c.answered as f64 * 3600.0, staffed),
            state_s: c.state_s,
        }
    }
}

/// An operator's QA coverage over the whole period: calls picked for review (of those
/// that entered in it), how many were reviewed, their mean score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QaCoverage {
    pub login: String,
    pub sampled: u64,
    pub reviewed: u64,
    /// 0..=1 of the sampled.
    pub coverage: Option<f64>,
    pub mean_score: Option<f64>,
}

impl QaCoverage {
    pub fn new(login: String, sampled: u64, reviewed: u64, mean_score: Option<f64>) -> Self {
        Self {
            login,
            sampled,
            reviewed,
            coverage: ratio(reviewed as f64, sampled as f64),
            mean_score,
        }
    }
}

/// Queues and operators, each sorted by interval then name, and the operators' QA
/// coverage over the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KpiReport {
    /// Inbound only.
    pub queues: Vec<QueueKpi>,
    pub operators: Vec<OperatorKpi>,
    /// Operator campaigns' outbound figures (none when one queue or operator was asked for).
    pub campaigns: Vec<CampaignKpi>,
    pub qa: Vec<QaCoverage>,
}

#[cfg(test)]
mod tests {
    use super::render::csv_field;
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn spans_parse_and_refuse() {
        assert_eq!("30m".parse::<Span>(), Ok(Span::Minutes(30)));
        assert_eq!("15m".parse::<Span>(), Ok(Span::Minutes(15)));
        assert_eq!("week".parse::<Span>(), Ok(Span::Week));
        let e = "20m".parse::<Span>().unwrap_err();
        assert!(e.contains("20m") && e.contains("30m"), "{e}");
    }

    #[test]
    fn short_abandons_do_not_count_against_the_service_level() {
        // 10 offered: 6 answered in time, 1 late, 3 abandoned of which 2 within 5 s.
        let c = QueueCounts {
            offered: 10,
            answered: 7,
            answered_in_target: 6,
            abandoned: 3,
            abandoned_short: 2,
            wait_sum_s: 70.0,
            handle_sum_s: 1400.0,
            handled: 7,
            ..QueueCounts::default()
        };
        let k = QueueKpi::new(t("2026-12-01T09:00:00Z"), "general".into(), 20, &c);
        assert_eq!(k.service_level, Some(6.0 / 8.0));
        assert_eq!(k.abandon_rate, Some(1.0 / 8.0));
        assert_eq!(k.asa_s, Some(10.0));
        assert_eq!(k.aht_s, Some(200.0));
        // Two more callers waiting now, one of them past the target already.
        let live = QueueKpi::new(
            k.start,
            "general".into(),
            20,
            &QueueCounts {
                offered: 12,
                waiting_in_target: 1,
                ..c.clone()
            },
        );
        assert_eq!(live.service_level, Some(6.0 / 9.0));
        let none = QueueKpi::new(k.start, "x".into(), 20, &QueueCounts::default());
        assert_eq!((none.service_level, none.asa_s), (None, None));
    }

    #[test]
    fn occupancy_excludes_breaks_and_calls_per_hour_use_staffed_time() {
        let c = OperatorCounts {
            answered: 6,
            outbound: 0,
            answered_in_target: 3,
            talk_s: 1200.0,
            wrap_up_s: 300.0,
            handled: 6,
            state_s: [
                ("ready", 1500.0),
                ("talking", 1200.0),
                ("wrap_up", 300.0),
                ("break", 600.0),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        };
        let k = OperatorKpi::new(t("2026-12-01T09:00:00Z"), "ivanova".into(), "I".into(), &c);
        assert_eq!(k.staffed_s, 3600.0);
        assert_eq!(k.occupancy, Some(1500.0 / 3000.0));
        assert_eq!(k.calls_per_hour, Some(6.0));
        assert_eq!(k.aht_s, Some(250.0));
        assert_eq!(k.service_level, Some(0.5));
    }

    #[test]
    fn queries_are_bounded_and_names_checked() {
        let q = KpiQuery {
            from: t("2026-01-01T00:00:00Z"),
            to: t("2027-06-01T00:00:00Z"),
            by: Span::Minutes(15),
            queue: None,
            operator: None,
        };
        assert!(q.check().unwrap_err().contains("at most"));
        let mut ok = KpiQuery {
            by: Span::Day,
            ..q.clone()
        };
        assert!(ok.check().is_ok());
        ok.queue = Some("gen eral".into());
        assert!(ok.check().unwrap_err().starts_with("queue"));
        let back = KpiQuery {
            from: q.to,
            to: q.from,
            ..q
        };
        assert!(back.check().unwrap_err().contains("after"));
    }

    #[test]
    fn csv_names_cannot_run_as_formulas() {
        assert_eq!(csv_field("=1+2"), "'=1+2");
        assert_eq!(csv_field("Ivanova, A."), "\"Ivanova, A.\"");
    }
}
