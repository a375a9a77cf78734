//! Accounts, meters and meter readings in PostgreSQL: lookups for the IVR and the API, the
//! one way readings are stored (checked again inside the transaction by
//! [`crate::core::meter::check_submission`]), billing's CSV import and the readings export,
//! and the `contactd accounts …` / `contactd readings …` commands.
//!
//! - [`store`]: lookups and [`store::store_readings`].
//! - [`import`]: `accounts import FILE.csv` (bad rows reported by line, the rest kept).
//! - [`export`]: `readings export --since DATE` (CSV for billing).
//! - [`ivr`]: answers the meter flow's queries for the inbound adapter.
//! - [`cli`]: clap subcommands [`cli::AccountsCommand`], [`cli::ReadingsCommand`].

pub mod cli;
pub mod export;
pub mod import;
pub mod ivr;
pub mod store;

use crate::store::postgres::pg_detail;

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("postgres: {}", pg_detail(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("postgres pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{}: cannot open: {source}", crate::lists::shown(path))]
    Open {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("{0}")]
    Usage(String),
}

impl AccountsError {
    /// The process's exit code.
    pub fn exit_code(&self) -> crate::cli::exit::Exit {
        use crate::cli::exit::Exit;
        match self {
            AccountsError::Pool(_) => Exit::Unavailable,
            AccountsError::Postgres(e) if e.is_closed() || e.as_db_error().is_none() => {
                Exit::Unavailable
            }
            AccountsError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => Exit::NoInput,
            AccountsError::Io(_) => Exit::IoErr,
            AccountsError::Open { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Exit::NoInput
            }
            AccountsError::Open { .. } => Exit::IoErr,
            AccountsError::Usage(_) => Exit::Usage,
            _ => Exit::DataErr,
        }
    }
}

/// Wall-clock time where the utility is (`dialing.default_time_zone`): readings are dated
/// and office hours judged in it, never in UTC.
pub fn local_time(
    cfg: &crate::config::Config,
    now: chrono::DateTime<chrono::Utc>,
) -> chrono::NaiveDateTime {
    let tz: chrono_tz::Tz = cfg
        .dialing
        .default_time_zone
        .parse()
        .unwrap_or(chrono_tz::Europe::Moscow);
    now.with_timezone(&tz).naive_local()
}

/// The checks' limits from the config.
pub fn reading_rules(cfg: &crate::config::Config) -> crate::core::meter::ReadingRules {
    crate::core::meter::ReadingRules {
        max_daily_kwh: cfg.ivr.max_daily_kwh,
    }
}
