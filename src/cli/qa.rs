//! `contactd qa list|review`: the calls sampled for review on a day (sampling them first,
//! by the `[qa]` rules; idempotent) and a reviewer's score. Days and times are in `[mail]
//! report_time_zone`, like the reports.

use chrono::{NaiveDate, Utc};
use deadpool_postgres::Pool;
use uuid::Uuid;

use super::exit::Exit;
use crate::config::Config;
use crate::core::acd::names::check_name;
use crate::core::lists::printable;
use crate::core::qa::check_review;
use crate::mail::report::report_locale;
use crate::store::qa::{QaStore, Sample};
use crate::store::StoreError;

#[derive(Debug, clap::Subcommand)]
pub enum QaCommand {
    /// The calls to review on a day (YYYY-MM-DD): sampled now by the [qa] rules if not yet,
    /// with the reasons, the recording and the score so far.
    List {
        #[arg(long)]
        date: NaiveDate,
        #[arg(long)]
        queue: Option<String>,
        /// An operator's login.
        #[arg(long)]
        operator: Option<String>,
        /// CSV (comma-separated, UTF-8, times in UTC RFC 3339) instead of a table.
        #[arg(long)]
        csv: bool,
    },
    /// Score a sampled call (0-100) with a comment.
    Review {
        /// The call's uuid, as `qa list` shows it.
        call: String,
        #[arg(long)]
        score: i64,
        #[arg(long, default_value = "")]
        comment: String,
        /// Who reviewed it; default the user running the command ($SUDO_USER, $USER).
        #[arg(long)]
        reviewer: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum QaCliError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl QaCliError {
    pub fn exit_code(&self) -> Exit {
        match self {
            QaCliError::Invalid(_) => Exit::DataErr,
            QaCliError::Store(StoreError::NotFound(_)) => Exit::NoInput,
            QaCliError::Store(e) if e.is_retryable() => Exit::Unavailable,
            _ => Exit::Software,
        }
    }
}

fn store(cfg: &Config, pool: &Pool) -> QaStore {
    // checked at config load; UTC only if it somehow was not
    let zone = report_locale(&cfg.mail).map_or(chrono_tz::UTC, |l| l.time_zone);
    QaStore::new(pool.clone(), zone)
}

/// Runs `contactd qa …`; the text to print.
pub async fn run_qa(cmd: QaCommand, cfg: &Config, pool: &Pool) -> Result<String, QaCliError> {
    let qa = store(cfg, pool);
    match cmd {
        QaCommand::List {
            date,
            queue,
            operator,
            csv,
        } => {
            if let Some(q) = &queue {
                if !cfg.acd.queue.contains_key(q) {
                    return Err(QaCliError::Invalid(format!(
                        "--queue {}: no such [acd.queue.NAME]",
                        printable(q)
                    )));
                }
            }
            if let Some(o) = &operator {
                check_name("login", o).map_err(QaCliError::Invalid)?;
            }
            qa.select_day(&cfg.qa.rules(), date).await?;
            let samples = qa.list(date, queue.as_deref(), operator.as_deref()).await?;
            if csv {
                to_csv(&samples)
            } else {
                Ok(table(&samples, cfg))
            }
        }
        QaCommand::Review {
            call,
            score,
            comment,
            reviewer,
        } => {
            let call = Uuid::parse_str(call.trim()).map_err(|_| {
                QaCliError::Invalid(format!("{}: not a call uuid", printable(&call)))
            })?;
            let reviewer = reviewer
                .or_else(|| std::env::var("SUDO_USER").ok())
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_default();
            let review = check_review(&reviewer, score, &comment)
                .map_err(|e| QaCliError::Invalid(format!("--{e}")))?;
            qa.review(call, &review, Utc::now()).await?;
            Ok(format!(
                "call {call}: score {} by {}\n",
                review.score, review.reviewer
            ))
        }
    }
}

fn table(samples: &[Sample], cfg: &Config) -> String {
    let zone = report_locale(&cfg.mail).map_or(chrono_tz::UTC, |l| l.time_zone);
    let mut out = String::new();
    for s in samples {
        let score = s
            .review
            .as_ref()
            .map_or("-".to_string(), |r| format!("{} ({})", r.score, r.reviewer));
        out.push_str(&format!(
            "{}  {}  {:<12} {:<12} {:<28} score {:<16} {}\n",
            s.entered_at.with_timezone(&zone).format("%H:%M:%S"),
            s.call,
            s.queue,
            s.operator.as_deref().unwrap_or("-"),
            s.reasons.join(","),
            score,
            s.recording.as_deref().unwrap_or("(no recording)")
        ));
    }
    out.push_str(&format!(
        "{} call(s) to review, {} reviewed\n",
        samples.len(),
        samples.iter().filter(|s| s.review.is_some()).count()
    ));
    out
}

/// Free text a spreadsheet would run as a formula gets a leading `'` (the reports' rule).
fn as_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn to_csv(samples: &[Sample]) -> Result<String, QaCliError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let bad = |e: csv::Error| QaCliError::Invalid(format!("csv: {e}"));
    w.write_record([
        "call",
        "day",
        "queue",
        "operator",
        "reasons",
        "recording",
        "entered_at",
        "waited_s",
        "handle_s",
        "transferred_to",
        "score",
        "reviewer",
        "reviewed_at",
        "comment",
    ])
    .map_err(bad)?;
    let num = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_default();
    for s in samples {
        let r = s.review.as_ref();
        w.write_record([
            s.call.to_string(),
            s.day.to_string(),
            s.queue.clone(),
            s.operator.clone().unwrap_or_default(),
            s.reasons.join("+"),
            s.recording.clone().unwrap_or_default(),
            s.entered_at.to_rfc3339(),
            num(s.waited_s),
            num(s.handle_s),
            s.transferred_to.clone().unwrap_or_default(),
            r.map(|r| r.score.to_string()).unwrap_or_default(),
            r.map(|r| as_text(&r.reviewer)).unwrap_or_default(),
            r.map(|r| r.reviewed_at.to_rfc3339()).unwrap_or_default(),
            r.map(|r| as_text(&r.comment)).unwrap_or_default(),
        ])
        .map_err(bad)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| QaCliError::Invalid(format!("csv: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
