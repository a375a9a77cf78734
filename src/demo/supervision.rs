//! The demo's last act: what a supervisor and the auditors see of the day — the interval
//! KPIs of the demo's calls, as `contactd kpi --by 30m` prints them.

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;

use super::script::{err, say, DemoError};
use crate::app::App;
use crate::core::kpi::{render_text, KpiQuery, Span};
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
