//! How `contactd kpi` prints a [`KpiReport`]: tables and CSV (what the figures mean is
//! in the parent module).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{KpiReport, Span, STATES};

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.1}", v * 100.0))
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

fn local<Tz: chrono::TimeZone>(t: DateTime<Utc>, zone: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.with_timezone(zone).format("%Y-%m-%d %H:%M").to_string()
}

/// The columns of [`render_queues_csv`].
pub const QUEUE_COLUMNS: [&str; 14] = [
    "start",
    "queue",
    "offered",
    "answered",
    "answered_in_target",
    "target_s",
    "service_level_pct",
    "abandoned",
    "abandoned_within_5s",
    "abandon_rate_pct",
    "transferred",
    "asa_s",
    "aht_s",
    "interval",
];

/// Queues as CSV (local start times, percentages and seconds with one decimal, empty when
/// undefined: nothing offered or answered).
pub fn render_queues_csv<Tz: chrono::TimeZone>(r: &KpiReport, by: Span, zone: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let blank = |s: String| if s == "-" { String::new() } else { s };
    let mut out = QUEUE_COLUMNS.join(",");
    out.push('\n');
    for q in &r.queues {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            local(q.start, zone),
            q.queue,
            q.offered,
            q.answered,
            q.answered_in_target,
            q.target_s,
            blank(pct(q.service_level)),
            q.abandoned,
            q.abandoned_short,
            blank(pct(q.abandon_rate)),
            q.transferred,
            blank(secs(q.asa_s)),
            blank(secs(q.aht_s)),
            by.label()
        );
    }
    out
}

/// Operators as CSV: calls, handle times, occupancy and seconds per state.
pub fn render_operators_csv<Tz: chrono::TimeZone>(r: &KpiReport, by: Span, zone: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let blank = |s: String| if s == "-" { String::new() } else { s };
    let mut out = String::from(
        "start,operator,name,answered,service_level_pct,aht_s,talk_s,wrap_up_s,staffed_s,occupancy_pct,calls_per_hour",
    );
    for s in STATES {
        let _ = write!(out, ",{s}_s");
    }
    let _ = writeln!(out, ",outbound,interval");
    for o in &r.operators {
        let _ = write!(
            out,
            "{},{},{},{},{},{},{:.1},{:.1},{:.1},{},{}",
            local(o.start, zone),
            o.login,
            csv_field(&o.name),
            o.answered,
            blank(pct(o.service_level)),
            blank(secs(o.aht_s)),
            o.talk_s,
            o.wrap_up_s,
            o.staffed_s,
            blank(pct(o.occupancy)),
            blank(o.calls_per_hour.map_or("-".into(), |v| format!("{v:.2}"))),
        );
        for s in STATES {
            let _ = write!(out, ",{:.1}", o.state_s.get(s).copied().unwrap_or(0.0));
        }
        let _ = writeln!(out, ",{},{}", o.outbound, by.label());
    }
    out
}

/// A free-text CSV field: quoted when it holds a separator, a quote or a line break, and a
/// leading formula character neutralised (a name is typed by people; a spreadsheet must not
/// run it).
pub(super) fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The human-readable tables `contactd kpi` prints.
pub fn render_text<Tz: chrono::TimeZone>(r: &KpiReport, zone: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let mut out = String::new();
    if r.queues.is_empty() && r.operators.is_empty() && r.qa.is_empty() && r.campaigns.is_empty() {
        out.push_str("no calls and no operator activity in this period\n");
        return out;
    }
    if !r.queues.is_empty() {
        let _ = writeln!(
            out,
            "{:<16} {:<12} {:>7} {:>8} {:>7} {:>9} {:>7} {:>7} {:>7} {:>7}",
            "interval",
            "queue",
            "offered",
            "answered",
            "SL %",
            "abandoned",
            "<5 s",
            "ab. %",
            "ASA s",
            "AHT s"
        );
        for q in &r.queues {
            let _ = writeln!(
                out,
                "{:<16} {:<12} {:>7} {:>8} {:>7} {:>9} {:>7} {:>7} {:>7} {:>7}",
                local(q.start, zone),
                q.queue,
                q.offered,
                q.answered,
                pct(q.service_level),
                q.abandoned,
                q.abandoned_short,
                pct(q.abandon_rate),
                secs(q.asa_s),
                secs(q.aht_s)
            );
        }
    }
    if !r.operators.is_empty() {
        if !r.queues.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{:<16} {:<14} {:>8} {:>8} {:>7} {:>7} {:>9} {:>7} {:>8} {:>8} {:>8}",
            "interval",
            "operator",
            "answered",
            "outbound",
            "SL %",
            "AHT s",
            "staffed",
            "occ. %",
            "calls/h",
            "break",
            "ready"
        );
        for o in &r.operators {
            let st = |k: &str| o.state_s.get(k).copied().unwrap_or(0.0);
            let _ = writeln!(
                out,
                "{:<16} {:<14} {:>8} {:>8} {:>7} {:>7} {:>9} {:>7} {:>8} {:>8} {:>8}",
                local(o.start, zone),
                o.login,
                o.answered,
                o.outbound,
                pct(o.service_level),
                secs(o.aht_s),
                hms(o.staffed_s),
                pct(o.occupancy),
                o.calls_per_hour.map_or("-".into(), |v| format!("{v:.1}")),
                hms(st("break")),
                hms(st("ready"))
            );
        }
    }
    out
}

/// The QA coverage table (after the KPI tables of [`render_text`]).
pub fn render_qa_text(r: &KpiReport) -> String {
    let mut out = String::new();
    if r.qa.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\n{:<14} {:>8} {:>8} {:>10} {:>10}",
        "QA: operator", "sampled", "reviewed", "coverage %", "mean score"
    );
    for q in &r.qa {
        let _ = writeln!(
            out,
            "{:<14} {:>8} {:>8} {:>10} {:>10}",
            q.login,
            q.sampled,
            q.reviewed,
            pct(q.coverage),
            q.mean_score.map_or("-".into(), |v| format!("{v:.1}"))
        );
    }
    out
}

/// The QA coverage as CSV.
pub fn render_qa_csv(r: &KpiReport) -> String {
    let mut out = String::from("operator,qa_sampled,qa_reviewed,qa_coverage_pct,qa_mean_score\n");
    for q in &r.qa {
        let _ = writeln!(
            out,
            "{},{},{},{},{}",
            q.login,
            q.sampled,
            q.reviewed,
            q.coverage
                .map_or(String::new(), |v| format!("{:.1}", v * 100.0)),
            q.mean_score.map_or(String::new(), |v| format!("{v:.1}"))
        );
    }
    out
}

/// Seconds as h:mm:ss.
pub fn hms(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}
