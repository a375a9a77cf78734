//! `contactd kpi`: queue and operator KPIs per interval (`core::kpi` says what each figure
//! means), as a table or CSV, in the reports' time zone (`[mail] report_time_zone`).

use chrono_tz::Tz;

use crate::config::Config;
use crate::core::kpi::{
    parse_local, render_campaigns_csv, render_campaigns_text, render_operators_csv, render_qa_csv,
    render_qa_text, render_queues_csv, render_text, KpiQuery, Span,
};
use crate::store::kpi::KpiStore;
use crate::store::StoreError;

use super::exit::Exit;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// First day (YYYY-MM-DD) or moment (YYYY-MM-DDTHH:MM), local time.
    #[arg(long)]
    pub from: String,
    /// Last day, included (YYYY-MM-DD), or the moment the period ends (YYYY-MM-DDTHH:MM,
    /// excluded); default: the same day as --from.
    #[arg(long)]
    pub to: Option<String>,
    /// Interval: 15m, 30m, day, week or month.
    #[arg(long, default_value = "day")]
    pub by: String,
    /// One queue only.
    #[arg(long)]
    pub queue: Option<String>,
    /// One operator (login) only: their figures, without the queues'.
    #[arg(long)]
    pub operator: Option<String>,
    /// CSV (queues, operators, QA coverage; blank lines between) instead of a table.
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum KpiCliError {
    #[error("{0}")]
    Usage(String),
    #[error("config: [mail] report_time_zone {0:?} is not an IANA time zone")]
    Zone(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl KpiCliError {
    pub fn exit_code(&self) -> Exit {
        match self {
            KpiCliError::Usage(_) => Exit::Usage,
            KpiCliError::Zone(_) => Exit::Config,
            KpiCliError::Store(e) if e.is_retryable() => Exit::Unavailable,
            KpiCliError::Store(_) => Exit::Software,
        }
    }
}

/// The query `args` ask for, checked (each problem names its option).
pub fn query(a: &Args, zone: Tz) -> Result<KpiQuery, String> {
    let by: Span = a.by.parse().map_err(|e| format!("--by {e}"))?;
    let from = parse_local(&a.from, zone, false, "--from")?;
    let to = parse_local(a.to.as_deref().unwrap_or(&a.from), zone, true, "--to")?;
    let q = KpiQuery {
        from,
        to,
        by,
        queue: a.queue.clone(),
        operator: a.operator.clone(),
    };
    q.check().map_err(|e| format!("kpi: {e}"))?;
    Ok(q)
}

pub async fn run(
    a: &Args,
    cfg: &Config,
    pool: &deadpool_postgres::Pool,
) -> Result<String, KpiCliError> {
    let zone: Tz = cfg
        .mail
        .report_time_zone
        .parse()
        .map_err(|_| KpiCliError::Zone(cfg.mail.report_time_zone.clone()))?;
    let q = query(a, zone).map_err(KpiCliError::Usage)?;
    if let Some(queue) = &q.queue {
        if !cfg.acd.queue.contains_key(queue) {
            return Err(KpiCliError::Usage(format!(
                "--queue {queue:?}: not a configured queue ({})",
                cfg.acd.queue.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let report = KpiStore::new(pool.clone(), zone)
        .report(&q, &cfg.acd.service_level_targets())
        .await?;
    Ok(if a.csv {
        let mut out = render_queues_csv(&report, q.by, &zone);
        out.push('\n');
        out.push_str(&render_operators_csv(&report, q.by, &zone));
        out.push('\n');
        out.push_str(&render_qa_csv(&report));
        if !report.campaigns.is_empty() {
            out.push('\n');
            out.push_str(&render_campaigns_csv(&report.campaigns, &zone));
        }
        out
    } else {
        render_text(&report, &zone)
            + &render_campaigns_text(&report.campaigns, &zone)
            + &render_qa_text(&report)
    })
}
