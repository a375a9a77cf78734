//! The demo's last act: what a supervisor and the auditors see of the day — the interval
//! KPIs of the demo's calls, as `contactd kpi --by 30m` prints them, and tomorrow's staffing
//! forecast from (sample) history, the wallboard's address, and the auditors' digest mailed.

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;

use super::script::{err, say, DemoError};
use crate::app::App;
use crate::cli::staffing::render_forecast;
use crate::core::kpi::{render_text, KpiQuery, Span};
use crate::mail::digest::gather::GatherOptions;
use crate::mail::digest::schedule::enqueue_due;
use crate::mail::digest::Period;
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

/// Today's digest queued in the outbox (as the schedule queues yesterday's each morning)
/// and sent by the daemon's outbox loop to the demo mailbox; what arrived is described.
pub async fn digest_mailed(
    app: &App,
    mailbox: &super::mailbox::Mailbox,
    external_smtp: bool,
) -> Result<(), DemoError> {
    let cfg = &app.shared.config;
    let opts = GatherOptions::from_config(cfg).map_err(|e| err("digest")(&e))?;
    let today = Utc::now().with_timezone(&opts.zone).date_naive();
    let before = mailbox.messages.lock().expect("mailbox").len();
    let queued = enqueue_due(
        &app.shared.pool,
        &opts,
        &cfg.mail.auditors,
        Period::Daily,
        today,
        Utc::now(),
    )
    .await
    .map_err(|e| err("digest")(&e))?;
    say(format!(
        "  the auditors' digest of {today} {} (`contactd digest --date {today} --send`)",
        if queued {
            "queued in the outbox"
        } else {
            "was already queued"
        }
    ));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    if external_smtp {
        // Another SMTP server: wait for the outbox to mark it sent.
        let client = app
            .shared
            .pool
            .get()
            .await
            .map_err(|e| err("PostgreSQL")(&e))?;
        loop {
            let sent = client
                .query_opt(
                    "SELECT 1 FROM outbox WHERE kind = $1 AND period = $2 AND sent_at IS NOT NULL",
                    &[&crate::mail::digest::KIND_DAILY, &today],
                )
                .await
                .map_err(|e| err("outbox")(&e))?;
            if sent.is_some() {
                say("  e-mailed by the outbox");
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(DemoError("the digest was not sent in 30 s".into()));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    let mail = loop {
        if let Some(m) = mailbox.messages.lock().expect("mailbox").get(before) {
            break m.clone();
        }
        if tokio::time::Instant::now() > deadline {
            return Err(DemoError(
                "the digest did not reach the demo mailbox in 30 s".into(),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let inline = mail.data.matches("Content-Type: image/png").count();
    let csvs = mail
        .data
        .split("filename=")
        .skip(1)
        .filter(|s| {
            s.trim_start_matches('"')
                .split(['"', ';', '\r', '\n'])
                .next()
                .is_some_and(|n| n.ends_with(".csv"))
        })
        .count();
    say(format!(
        "  e-mailed to {} by the outbox ({} bytes: text, HTML with {inline} inline PNG chart(s), {csvs} CSV(s) attached)",
        mail.to.join(", "),
        mail.data.len()
    ));
    Ok(())
}

/// Where the supervisor's wall screen is.
pub fn wallboard(app: &App) {
    say(format!(
        "  wallboard (while the demo runs): http://{}/wallboard — sign in with http.token or http.supervisor_token; ?wall=1 for a wall screen, ?lang=ru|en",
        app.http_addr
    ));
}
