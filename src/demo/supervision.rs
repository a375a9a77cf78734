//! The demo's last act: what a supervisor and the auditors see of the day — the interval
//! KPIs of the demo's calls, as `contactd kpi --by 30m` prints them, and tomorrow's staffing
//! forecast from (sample) history.

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;

use super::script::{err, say, DemoError};
use crate::app::App;
use crate::cli::staffing::render_forecast;
use crate::core::kpi::{render_text, KpiQuery, Span};
use crate::store::forecast::{forecast, ForecastQuery, Goal};
use crate::store::kpi::KpiStore;

/// Today's KPIs by 30 minutes in the reports' zone, printed.
pub async fn kpis_today(app: &App) -> Result<(), DemoError> {
    let cfg = &app.shared.config;
    let zone: Tz = cfg
        .mail
        .report_time_zone
        .parse()
        .map_err(|_| DemoError(format!("time zone {:?}", cfg.mail.report_time_zone)))?;
    let today = Utc::now().with_timezone(&zone).date_naive();
    let from = zone
        .from_local_datetime(&today.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now);
    let q = KpiQuery {
        from,
        to: from + chrono::Duration::days(1),
        by: Span::Minutes(30),
        queue: None,
        operator: None,
    };
    let report = KpiStore::new(app.shared.pool.clone(), zone)
        .report(&q, &cfg.acd.service_level_targets())
        .await
        .map_err(|e| err("KPIs")(&e))?;
    say(format!(
        "  KPIs of {today} by 30 minutes ({zone}; `contactd kpi --from {today} --by 30m`):"
    ));
    for line in render_text(&report, &zone).lines() {
        say(format!("    {line}"));
    }
    Ok(())
}

/// Four past weeks of the general queue on tomorrow's weekday, so the forecast has history
/// to average: synthetic and said so (08:00–20:00 local, 30 calls a half-hour until noon,
/// 15 after; 2 minutes of talk, 20 s of after-call work, 1 in 10 gone while waiting).
pub async fn sample_history(app: &App, zone: Tz) -> Result<chrono::NaiveDate, DemoError> {
    let tomorrow = Utc::now().with_timezone(&zone).date_naive() + chrono::Days::new(1);
    let client = app
        .shared
        .pool
        .get()
        .await
        .map_err(|e| err("PostgreSQL")(&e))?;
    let mut n = 0u64;
    for week in 1..=4u64 {
        let day = tomorrow - chrono::Days::new(7 * week);
        for slot in 16..40u32 {
            let start = zone
                .from_local_datetime(
                    &day.and_hms_opt(slot / 2, (slot % 2) * 30, 0)
                        .unwrap_or_default(),
                )
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default();
            let calls = if slot < 24 { 30 } else { 15 };
            n += client
                .execute(
                    "INSERT INTO acd_calls (call_uuid, node, queue, entered_at, answered_at,
                         waited_s, talk_s, wrap_up_s, abandoned_after_s, ended_at, outcome, offers)
                     SELECT gen_random_uuid(), 'demo-history', 'general',
                            $1::timestamptz + make_interval(secs => i * 1800.0 / $2),
                            CASE WHEN i % 10 <> 0
                                 THEN $1::timestamptz + make_interval(secs => i * 1800.0 / $2 + 12) END,
                            CASE WHEN i % 10 = 0 THEN 40 ELSE 12 END,
                            CASE WHEN i % 10 <> 0 THEN 120 END,
                            CASE WHEN i % 10 <> 0 THEN 20 END,
                            CASE WHEN i % 10 = 0 THEN 40 END,
                            $1::timestamptz + make_interval(secs => i * 1800.0 / $2 + 152),
                            CASE WHEN i % 10 = 0 THEN 'abandoned' ELSE 'answered' END, 1
                       FROM generate_series(0, $2 - 1) i",
                    &[&start, &calls],
                )
                .await
                .map_err(|e| err("sample history")(&e))?;
        }
    }
    say(format!(
        "  sample history (synthetic, for the forecast): {n} calls of queue general on the 4 {}s before",
        tomorrow.format("%A")
    ));
    Ok(tomorrow)
}

/// Tomorrow's staffing for the general queue from the four weeks before, as
/// `contactd staffing --from-history --queue general --weeks 4 --days 1` prints it.
pub async fn staffing_tomorrow(app: &App) -> Result<(), DemoError> {
    let cfg = &app.shared.config;
    let zone: Tz = cfg
        .mail
        .report_time_zone
        .parse()
        .map_err(|_| DemoError(format!("time zone {:?}", cfg.mail.report_time_zone)))?;
    let first_day = sample_history(app, zone).await?;
    let q = &cfg.acd.queue["general"];
    let query = ForecastQuery {
        queue: "general".into(),
        weeks: 4,
        first_day,
        days: 1,
        goal: Goal {
            target: std::time::Duration::from_secs(u64::from(q.service_level_seconds)),
            service_level: q.service_level_goal / 100.0,
            patience: None,
        },
        default_handle: std::time::Duration::from_secs(cfg.acd.default_handle_seconds),
        now: Utc::now(),
    };
    let f = forecast(&app.shared.pool, zone, &query)
        .await
        .map_err(|e| err("forecast")(&e))?;
    say("  staffing for tomorrow (`contactd staffing --from-history --queue general --weeks 4 --days 1`):");
    for line in render_forecast(&f, &query, zone).lines() {
        say(format!("    {line}"));
    }
    Ok(())
}
