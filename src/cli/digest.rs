//! `contactd digest --date YYYY-MM-DD [--weekly] [--send]`: the auditors' digest of a day
//! (or of seven days) printed as its plain text, or queued in the outbox for
//! `[mail] auditors` (the running daemon sends it; a digest already queued, by the schedule
//! or an earlier `--send`, is not queued again).

use chrono::NaiveDate;
use deadpool_postgres::Pool;

use super::exit::Exit;
use crate::config::Config;
use crate::core::report::ReportLocale;
use crate::mail::digest::gather::{gather, GatherOptions};
use crate::mail::digest::{enqueue, render, Period};
use crate::mail::MailError;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The local day (in `[mail] report_time_zone`); with --weekly, the first of the seven.
    #[arg(long)]
    pub date: String,
    /// The weekly digest: seven days from --date.
    #[arg(long)]
    pub weekly: bool,
    /// Queue it in the outbox for `[mail] auditors` instead of printing it.
    #[arg(long)]
    pub send: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DigestCliError {
    #[error("--date {0:?}: expected YYYY-MM-DD")]
    Date(String),
    #[error("{0}")]
    Mail(#[from] MailError),
}

impl DigestCliError {
    pub fn exit_code(&self) -> Exit {
        match self {
            DigestCliError::Date(_) => Exit::Usage,
            DigestCliError::Mail(MailError::Config(_) | MailError::NoRecipients) => Exit::Config,
            DigestCliError::Mail(MailError::Address { .. }) => Exit::Config,
            DigestCliError::Mail(e) if e.is_retryable() => Exit::Unavailable,
            DigestCliError::Mail(_) => Exit::Software,
        }
    }
}

/// What to print: the digest's text, or what became of the queueing.
pub async fn run(a: &Args, cfg: &Config, pool: &Pool) -> Result<String, DigestCliError> {
    let day = NaiveDate::parse_from_str(a.date.trim(), "%Y-%m-%d")
        .map_err(|_| DigestCliError::Date(a.date.clone()))?;
    let period = if a.weekly {
        Period::Weekly
    } else {
        Period::Daily
    };
    let locale = crate::mail::report::report_locale(&cfg.mail).map_err(|p| {
        MailError::Config(
            p.iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let opts = GatherOptions::from_config(cfg)?;
    let d = gather(pool, &opts, period, day, chrono::Utc::now()).await?;
    if !a.send {
        return Ok(render::text(&d, &locale));
    }
    let subject = render::subject(&d, &ReportLocale::default());
    Ok(if enqueue(pool, &cfg.mail.auditors, &d).await? {
        format!("queued for {}: {subject}\n", cfg.mail.auditors.join(", "))
    } else {
        format!("already in the outbox, not queued again: {subject}\n")
    })
}
