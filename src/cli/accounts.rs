//! `contactd accounts …` and `contactd readings …`: clap subcommands and their runners.
//! main.rs loads the config, opens and migrates the pool, and maps an `Err` to
//! [`AccountsError::exit_code`].

use std::path::PathBuf;

use chrono::NaiveDate;
use deadpool_postgres::Pool;

use crate::config::Config;
use crate::core::lists::shown;
use crate::store::accounts::{export_readings, import_accounts, AccountsError};

/// Problem rows printed under an import report.
const REPORT_ROWS: usize = 50;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum AccountsCommand {
    /// Import billing's CSV (account, holder, phone, balance, meter, zones, digits,
    /// last_date, last_1, last_2, last_3); bad rows are reported by line, the rest stored.
    Import { file: PathBuf },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ReadingsCommand {
    /// Pending readings since DATE (YYYY-MM-DD) as CSV, to stdout or --output.
    Export {
        #[arg(long)]
        since: NaiveDate,
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

pub async fn run_accounts(
    cmd: AccountsCommand,
    cfg: &Config,
    pool: &Pool,
) -> Result<(), AccountsError> {
    match cmd {
        AccountsCommand::Import { file } => {
            let r = import_accounts(pool, &file, &cfg.dialing).await?;
            println!(
                "{}: {} rows, {} stored, {} refused",
                shown(&file),
                r.rows,
                r.accepted,
                r.problems.len()
            );
            for (line, reason) in r.problems.iter().take(REPORT_ROWS) {
                println!("  line {line}: {reason}");
            }
            if r.problems.len() > REPORT_ROWS {
                println!("  … and {} more", r.problems.len() - REPORT_ROWS);
            }
            Ok(())
        }
    }
}

pub async fn run_readings(
    cmd: ReadingsCommand,
    _cfg: &Config,
    pool: &Pool,
) -> Result<(), AccountsError> {
    match cmd {
        ReadingsCommand::Export { since, output } => {
            let n = match &output {
                Some(path) => export_readings(pool, since, std::fs::File::create(path)?).await?,
                None => export_readings(pool, since, std::io::stdout().lock()).await?,
            };
            eprintln!("{n} reading(s) exported");
            Ok(())
        }
    }
}
