//! The auditors' digest: a daily (and, on the first day of the week, a weekly) e-mail to
//! `[mail] auditors` with the period's KPIs per queue and operator, the campaigns run, the
//! meter readings received by channel, the staffing forecast for the next days, charts as
//! inline PNGs and the figures as CSV attachments.
//!
//! The work is split so that everything but the reading is a pure function of one plain
//! struct, [`Digest`]:
//! - [`gather`]: reads the period from PostgreSQL into a [`Digest`] (the only I/O);
//! - [`render`]: subject, plain text and HTML in the `[mail]` language and zone;
//! - [`chart`]: the charts, drawn into an RGB buffer and encoded as PNG;
//! - [`sheets`]: the CSV attachments, made for Excel like the campaign report's;
//! - [`schedule`]: when a digest is due, and the task that enqueues it.
//!
//! A digest goes through the same outbox as campaign reports (retried, never dropped, sent
//! by one instance): its row keeps the gathered facts as JSON ([`Digest::to_outbox_body`])
//! and is rendered when sent, like a report. `UNIQUE (kind, period)` (`sql/011_digest.sql`)
//! makes enqueuing idempotent per kind and day, so two instances (or a restart) that both
//! enqueue the same digest send it once.

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use deadpool_postgres::Pool;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use serde::{Deserialize, Serialize};

use super::MailError;
use crate::core::report::{ReportCounts, ReportLocale};

pub mod chart;
pub mod gather;
pub mod render;
pub mod schedule;
pub mod sheets;
mod tables;
mod totals;

/// Outbox `kind` of the daily digest.
pub const KIND_DAILY: &str = "digest_daily";
/// Outbox `kind` of the weekly digest.
pub const KIND_WEEKLY: &str = "digest_weekly";

/// `format` of the outbox body.
const OUTBOX_FORMAT: &str = "contactd.digest.v1";

/// The period a digest covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// One day.
    Daily,
    /// Seven days from the first day of the week.
    Weekly,
}

impl Period {
    pub fn days(self) -> u64 {
        match self {
            Period::Daily => 1,
            Period::Weekly => 7,
        }
    }

    /// The outbox `kind`.
    pub fn kind(self) -> &'static str {
        match self {
            Period::Daily => KIND_DAILY,
            Period::Weekly => KIND_WEEKLY,
        }
    }
}

/// A part of the digest whose source may not be there: shown as "not available" with the
/// reason, never as made-up figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Section<T> {
    Available { data: T },
    NotAvailable { reason: String },
}

impl<T> Section<T> {
    pub fn available(&self) -> Option<&T> {
        match self {
            Section::Available { data } => Some(data),
            Section::NotAvailable { .. } => None,
        }
    }
}

/// Everything a digest says, gathered once; rendering is a pure function of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    pub period: Period,
    /// The first local day covered (the day itself for a daily digest).
    pub first_day: NaiveDate,
    /// The zone the days were cut in (`[mail] report_time_zone` when gathered).
    pub time_zone: String,
    pub kpi: Section<Kpi>,
    pub campaigns: Vec<CampaignRun>,
    /// One entry per channel (`ivr`, `web`, `messenger`), zeros included.
    pub readings: Vec<ReadingsByChannel>,
    pub forecast: Section<Vec<QueueForecast>>,
}

/// The period's KPIs (`store::kpi`, merged over the period).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Kpi {
    pub queues: Vec<QueueTotals>,
    pub operators: Vec<OperatorTotals>,
    /// Per queue and chart interval (30 minutes for a day, a day for a week), in time order.
    pub intervals: Vec<IntervalRow>,
    /// Minutes of a chart interval: 30, or 1440 (a day).
    pub interval_minutes: u32,
}

/// A queue's figures over a span: counts, and the rates computed from them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QueueTotals {
    pub queue: String,
    /// Service-level target, seconds.
    pub target_s: u32,
    pub offered: u64,
    pub answered: u64,
    pub answered_in_target: u64,
    pub abandoned: u64,
    /// Abandoned within 5 s: not counted against the service level.
    pub abandoned_short: u64,
    pub transferred: u64,
    pub service_level: Option<f64>,
    pub abandon_rate: Option<f64>,
    pub asa_s: Option<f64>,
    pub aht_s: Option<f64>,
}

/// One queue's figures in one chart interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalRow {
    pub start: DateTime<Utc>,
    pub totals: QueueTotals,
}

/// An operator's figures over the period.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OperatorTotals {
    pub login: String,
    pub name: String,
    pub answered: u64,
    pub talk_s: f64,
    pub wrap_up_s: f64,
    pub aht_s: Option<f64>,
    /// Logged in (every state but `logged_out`).
    pub staffed_s: f64,
    pub break_s: f64,
    pub occupancy: Option<f64>,
    pub calls_per_hour: Option<f64>,
    pub service_level: Option<f64>,
    /// QA: calls picked for review in the period, how many were reviewed, their mean score
    /// (absent from digests queued before QA existed).
    #[serde(default)]
    pub qa_sampled: u64,
    #[serde(default)]
    pub qa_reviewed: u64,
    #[serde(default)]
    pub qa_score: Option<f64>,
    /// Of `answered`, operator-campaign (outbound) calls (0 in digests queued before).
    #[serde(default)]
    pub outbound: u64,
}

/// A campaign that dialed in the period, or finished in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignRun {
    pub id: i64,
    pub name: String,
    pub state: String,
    pub finished_at: Option<DateTime<Utc>>,
    /// Calls made in the period.
    pub attempts_in_period: i64,
    /// Of those, answered.
    pub answered_in_period: i64,
    /// Where the whole campaign stands (its report's counts).
    pub counts: ReportCounts,
    /// An operator campaign's outbound figures in the period (`core::kpi::outbound`); none
    /// for a notice campaign and in digests queued before.
    #[serde(default)]
    pub outbound: Option<OutboundRun>,
}

/// An operator campaign's calls a person answered in the period.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OutboundRun {
    pub answered: i64,
    pub connected: i64,
    /// No operator within `connect_within` (the legal definition).
    pub abandoned: i64,
    pub talk_s: f64,
    /// Talk + after-call work of the connected calls whose talk ended.
    pub aht_s: Option<f64>,
}

/// Meter readings received through one channel in the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadingsByChannel {
    /// `ivr`, `web` or `messenger` (`meter_readings.source`).
    pub channel: String,
    /// Zone values stored (a two-zone meter read once is two).
    pub readings: i64,
    /// Meters read.
    pub meters: i64,
    /// Accounts whose meters were read.
    pub accounts: i64,
}

/// A queue's staffing forecast for the next days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueForecast {
    pub queue: String,
    /// Share of staffed time lost to breaks, 0..1.
    pub shrinkage: f64,
    pub intervals: Vec<ForecastInterval>,
}

/// One forecast interval (30 minutes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastInterval {
    pub start: DateTime<Utc>,
    pub calls: f64,
    pub aht_s: f64,
    /// Operators needed for the goal (Erlang).
    pub operators: u32,
    /// The same with shrinkage: operators to schedule.
    pub with_shrinkage: u32,
    /// Service level reached with `operators`.
    pub service_level: f64,
}

/// The outbox body of a digest.
#[derive(Serialize, Deserialize)]
struct OutboxBody {
    format: String,
    digest: Digest,
}

impl Digest {
    /// The last local day covered.
    pub fn last_day(&self) -> NaiveDate {
        self.first_day + Days::new(self.period.days() - 1)
    }

    /// The zone the digest was gathered in (UTC if the stored name is not a zone).
    pub fn zone(&self) -> Tz {
        self.time_zone.parse().unwrap_or(Tz::UTC)
    }

    /// What the outbox keeps until the digest is sent.
    pub fn to_outbox_body(&self) -> String {
        serde_json::to_string(&OutboxBody {
            format: OUTBOX_FORMAT.into(),
            digest: self.clone(),
        })
        .expect("a digest serialises")
    }

    /// The digest of an outbox body, `None` for any other row.
    pub fn from_outbox(body: &str) -> Option<Digest> {
        if !body.contains(OUTBOX_FORMAT) {
            return None;
        }
        serde_json::from_str::<OutboxBody>(body)
            .ok()
            .filter(|b| b.format == OUTBOX_FORMAT)
            .map(|b| b.digest)
    }
}

/// The UTC instants of the local midnight starting `day` in `zone`. A midnight that does not
/// exist (a DST jump at 00:00) is the first instant of the day.
pub fn day_start(zone: Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    match zone.from_local_datetime(&midnight).earliest() {
        Some(t) => t.with_timezone(&Utc),
        // skipped hour: the day starts an hour later, local time
        None => zone
            .from_local_datetime(&(midnight + chrono::TimeDelta::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&midnight)),
    }
}

/// Writes the digest to the outbox. Returns false when that kind of digest for that first
/// day was already there (another instance, a restart, or `contactd digest --send` twice).
pub async fn enqueue(pool: &Pool, recipients: &[String], d: &Digest) -> Result<bool, MailError> {
    let to = super::recipients(recipients)?;
    let db = pool.get().await?;
    let n = db
        .execute(
            "INSERT INTO outbox (kind, period, recipients, subject, body)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (kind, period) WHERE period IS NOT NULL DO NOTHING",
            &[
                &d.period.kind(),
                &d.first_day,
                &to,
                &render::subject(d, &ReportLocale::default()),
                &d.to_outbox_body(),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// Whether that digest is in the outbox already (sent or not).
pub async fn queued(pool: &Pool, period: Period, first_day: NaiveDate) -> Result<bool, MailError> {
    let db = pool.get().await?;
    Ok(db
        .query_opt(
            "SELECT 1 FROM outbox WHERE kind = $1 AND period = $2",
            &[&period.kind(), &first_day],
        )
        .await?
        .is_some())
}

/// The message body: `multipart/mixed` of `multipart/alternative` (the plain text, and
/// `multipart/related` of the HTML with its charts inline by Content-ID) and the CSVs.
pub fn mail_body(d: &Digest, loc: &ReportLocale) -> Result<(String, MultiPart), MailError> {
    let charts = chart::charts(d);
    let html = render::html(d, loc, &charts);
    let png = ContentType::parse("image/png").expect("a valid literal content type");
    let mut related = MultiPart::related().singlepart(SinglePart::html(html));
    for c in &charts {
        related = related.singlepart(
            Attachment::new_inline_with_name(c.content_id.clone(), c.file_name.clone())
                .body(c.png.clone(), png.clone()),
        );
    }
    let body = MultiPart::alternative()
        .singlepart(SinglePart::plain(render::text(d, loc)))
        .multipart(related);
    let mut mixed = MultiPart::mixed().multipart(body);
    for (name, data) in sheets::csvs(d, loc).map_err(|e| MailError::Render(e.to_string()))? {
        mixed = mixed.singlepart(super::attach::csv_attachment(name, data));
    }
    Ok((render::subject(d, loc), mixed))
}

#[cfg(test)]
pub(crate) mod sample;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_body_round_trips_and_other_bodies_are_not_digests() {
        let d = sample::digest();
        let body = d.to_outbox_body();
        assert_eq!(Digest::from_outbox(&body), Some(d));
        assert_eq!(Digest::from_outbox("plain text"), None);
        assert_eq!(
            Digest::from_outbox(r#"{"format":"contactd.campaign_report.v1"}"#),
            None
        );
    }

    #[test]
    fn outbound_figures_are_shown_and_older_rows_without_them_read_back() {
        let mut d = sample::digest();
        // a row queued before the outbound figures: the fields absent
        let mut old: serde_json::Value = serde_json::from_str(&d.to_outbox_body()).unwrap();
        let text = old.to_string();
        assert!(text.contains("\"outbound\""), "{text}");
        fn strip(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Object(m) => {
                    m.remove("outbound");
                    m.values_mut().for_each(strip);
                }
                serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
                _ => {}
            }
        }
        strip(&mut old);
        assert!(!old.to_string().contains("\"outbound\""));
        assert_eq!(Digest::from_outbox(&old.to_string()), Some(d.clone()));

        let Section::Available { data } = &mut d.kpi else {
            panic!("sample has KPIs")
        };
        data.operators[1].outbound = 6;
        d.campaigns.push(CampaignRun {
            id: 101,
            name: "Winter offers".into(),
            state: "running".into(),
            finished_at: None,
            attempts_in_period: 50,
            answered_in_period: 20,
            counts: d.campaigns[0].counts,
            outbound: Some(OutboundRun {
                answered: 20,
                connected: 19,
                abandoned: 1,
                talk_s: 3600.0,
                aht_s: Some(210.0),
            }),
        });
        let loc = ReportLocale::default();
        let text = render::text(&d, &loc);
        assert!(text.contains("15 (6 "), "{text}");
        assert!(
            text.contains("Winter offers") && text.contains("1 (5"),
            "{text}"
        );
        assert_eq!(Digest::from_outbox(&d.to_outbox_body()), Some(d));
    }

    #[test]
    fn a_day_starts_at_local_midnight() {
        let msk: Tz = "Europe/Moscow".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(
            day_start(msk, day),
            "2026-11-30T21:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        // Santiago skips 00:00-01:00 on 2026-09-06
        let scl: Tz = "America/Santiago".parse().unwrap();
        let jump = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        assert_eq!(
            day_start(scl, jump),
            "2026-09-06T04:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn the_mail_has_text_html_inline_charts_and_csvs() {
        let d = sample::digest();
        let (subject, body) = mail_body(&d, &ReportLocale::default()).unwrap();
        assert!(subject.contains("2026-12-01"), "{subject}");
        let raw = String::from_utf8(body.formatted()).unwrap();
        for part in [
            "multipart/mixed",
            "multipart/alternative",
            "multipart/related",
            "text/plain; charset=utf-8",
            "text/html; charset=utf-8",
            "Content-ID: <calls@contactd>",
            "Content-Disposition: inline; filename=\"calls.png\"",
            "image/png",
            "filename=\"kpi-queues-2026-12-01.csv\"",
        ] {
            assert!(raw.contains(part), "{part} missing");
        }
    }
}
