//! `contactd lists …` and `contactd dnc …`: clap subcommands and their runners, which print
//! human-readable text to stdout. main.rs loads the config, opens and migrates the pool, and
//! maps an `Err` to [`ListError::exit_code`].

use std::fmt::Write as _;
use std::path::PathBuf;

use deadpool_postgres::Pool;

use crate::config::Config;
use crate::core::lists::{printable, shown, ImportOptions, ListError, RowProblem};
use crate::lists::dnc::{self, DncImportReport};
use crate::store::lists::{
    all_lists, import_csv, list_problems, list_summary, ImportReport, ListSummary,
};

/// Rows shown under an import report.
const REPORT_ROWS: usize = 20;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ListsCommand {
    /// Import a CSV file (header row: phone, name, account, tz; other columns kept) as list NUMBER.
    Import {
        /// CSV file, UTF-8, `,` or `;` separated, with a header row.
        file: PathBuf,
        /// The list number the manager keys on the phone (1-9999).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=9999))]
        number: u16,
        /// A name for people.
        #[arg(long)]
        name: String,
        /// Replace the contacts of an existing list (atomically).
        #[arg(long)]
        replace: bool,
    },
    /// Show one list: counts, and the first rejected or duplicate rows with their lines.
    Show {
        #[arg(value_parser = clap::value_parser!(u16).range(1..=9999))]
        number: u16,
        /// How many rejected rows to print.
        #[arg(long, default_value_t = 20)]
        rejects: u16,
    },
    /// One line per list.
    Ls,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum DncCommand {
    /// Put a number on the do-not-call list.
    Add {
        number: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Put every number of a CSV file (column phone, optional reason) on the list.
    Import {
        file: PathBuf,
        /// Reason for rows without a reason column.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Take a number off the do-not-call list.
    Remove { number: String },
    /// Print the whole list.
    Ls,
    /// Say whether a number is on the list.
    Check { number: String },
}

pub async fn run_lists(cmd: ListsCommand, cfg: &Config, pool: &Pool) -> Result<(), ListError> {
    match cmd {
        ListsCommand::Import {
            file,
            number,
            name,
            replace,
        } => {
            let opts = ImportOptions {
                list_number: number,
                name,
                replace,
            };
            let report = import_csv(pool, &file, opts, &cfg.dialing).await?;
            print!("{}", render_import(&report));
        }
        ListsCommand::Show { number, rejects } => {
            let db = pool.get().await?;
            let s = list_summary(&db, number).await?;
            let problems = list_problems(&db, number, i64::from(rejects)).await?;
            print!("{}", render_show(&s, &problems));
        }
        ListsCommand::Ls => {
            let db = pool.get().await?;
            print!("{}", render_ls(&all_lists(&db).await?));
        }
    }
    Ok(())
}

pub async fn run_dnc(cmd: DncCommand, cfg: &Config, pool: &Pool) -> Result<(), ListError> {
    let rules = &cfg.dialing;
    match cmd {
        DncCommand::Add { number, reason } => {
            let db = pool.get().await?;
            let (e164, new) = dnc::add(&db, &number, &reason, "cli", rules).await?;
            if new {
                println!("{e164} added to the do-not-call list");
            } else {
                println!("{e164} was already on the do-not-call list");
            }
        }
        DncCommand::Import { file, reason } => {
            let report = dnc::import(pool, &file, &reason, rules).await?;
            print!("{}", render_dnc_import(&file, &report));
        }
        DncCommand::Remove { number } => {
            let db = pool.get().await?;
            let (e164, was) = dnc::remove(&db, &number, rules).await?;
            if was {
                println!("{e164} removed from the do-not-call list");
            } else {
                println!("{e164} was not on the do-not-call list");
            }
        }
        DncCommand::Ls => {
            let db = pool.get().await?;
            let entries = dnc::list(&db).await?;
            let mut out = String::new();
            for e in &entries {
                let _ = writeln!(
                    out,
                    "{:<16} {}  {:<20} {}",
                    e.phone,
                    e.added_at.format("%Y-%m-%d %H:%M"),
                    printable(&e.source),
                    printable(&e.reason)
                );
            }
            let _ = writeln!(out, "{} numbers on the do-not-call list", entries.len());
            print!("{out}");
        }
        DncCommand::Check { number } => {
            let e164 = crate::core::numbers::normalize(&number, rules).map_err(|reason| {
                ListError::BadNumber {
                    input: number.clone(),
                    reason,
                }
            })?;
            let db = pool.get().await?;
            if dnc::is_blocked(&db, &e164).await? {
                println!("{e164} is on the do-not-call list");
            } else {
                println!("{e164} is not on the do-not-call list");
            }
        }
    }
    Ok(())
}

fn render_problems(out: &mut String, problems: &[RowProblem], shown: usize, total: u64) {
    for p in problems.iter().take(shown) {
        let _ = writeln!(out, "  {p}");
        let _ = writeln!(out, "      {}", printable(&p.raw));
    }
    let more = total.saturating_sub(shown.min(problems.len()) as u64);
    if more > 0 {
        let _ = writeln!(out, "  … and {more} more");
    }
}

pub fn render_import(r: &ImportReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "list {} {:?}: {} in {:.2} s",
        r.list_number,
        r.name,
        if r.replaced {
            "contacts replaced"
        } else {
            "created"
        },
        r.elapsed.as_secs_f64()
    );
    let _ = writeln!(out, "  rows read   {:>8}", r.rows_read);
    let _ = writeln!(out, "  accepted    {:>8}", r.accepted);
    let _ = writeln!(out, "  rejected    {:>8}", r.rejected);
    let _ = writeln!(out, "  duplicates  {:>8}", r.duplicates);
    let _ = writeln!(
        out,
        "  on DNC now  {:>8} (kept; never dialled while on the list)",
        r.on_dnc
    );
    if !r.problems.is_empty() {
        let _ = writeln!(out, "rows not stored as contacts:");
        render_problems(
            &mut out,
            &r.problems,
            REPORT_ROWS,
            r.rejected + r.duplicates,
        );
        let _ = writeln!(out, "(all of them: contactd lists show {})", r.list_number);
    }
    out
}

pub fn render_show(s: &ListSummary, problems: &[RowProblem]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "list {} {:?}", s.number, s.name);
    let _ = writeln!(out, "  source      {}", printable(&s.source_file));
    let _ = writeln!(
        out,
        "  created     {}",
        s.created_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    if let Some(at) = s.replaced_at {
        let _ = writeln!(out, "  replaced    {}", at.format("%Y-%m-%d %H:%M:%S UTC"));
    }
    let _ = writeln!(out, "  rows read   {:>8}", s.rows_read);
    let _ = writeln!(out, "  accepted    {:>8}", s.accepted);
    let _ = writeln!(out, "  rejected    {:>8}", s.rejected);
    let _ = writeln!(out, "  duplicates  {:>8}", s.duplicates);
    let _ = writeln!(out, "  contacts    {:>8}", s.contacts);
    let _ = writeln!(out, "  on DNC now  {:>8}", s.on_dnc);
    if !problems.is_empty() {
        let _ = writeln!(out, "rows not stored as contacts:");
        let total = u64::try_from(s.rejected + s.duplicates).unwrap_or(0);
        render_problems(&mut out, problems, problems.len(), total);
    }
    out
}

pub fn render_ls(lists: &[ListSummary]) -> String {
    let mut out = String::new();
    if lists.is_empty() {
        out.push_str("no lists\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{:>4}  {:>8}  {:>8}  {:>6}  {:>6}  {:<16}  NAME",
        "NO", "CONTACTS", "REJECTED", "DUPS", "DNC", "CREATED"
    );
    for s in lists {
        let _ = writeln!(
            out,
            "{:>4}  {:>8}  {:>8}  {:>6}  {:>6}  {:<16}  {}",
            s.number,
            s.contacts,
            s.rejected,
            s.duplicates,
            s.on_dnc,
            s.replaced_at
                .unwrap_or(s.created_at)
                .format("%Y-%m-%d %H:%M"),
            s.name
        );
    }
    out
}

pub fn render_dnc_import(file: &std::path::Path, r: &DncImportReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} rows read in {:.2} s: {} added, {} already on the list, {} rejected, {} duplicates",
        shown(file),
        r.rows_read,
        r.elapsed.as_secs_f64(),
        r.added,
        r.already,
        r.rejected,
        r.duplicates
    );
    render_problems(
        &mut out,
        &r.problems,
        REPORT_ROWS,
        r.rejected + r.duplicates,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: ListsCommand,
    }

    #[test]
    fn list_numbers_outside_1_9999_are_refused_by_clap() {
        let parse =
            |n: &str| Cli::try_parse_from(["x", "import", "f.csv", "--number", n, "--name", "n"]);
        assert!(parse("0").is_err());
        assert!(parse("10000").is_err());
        assert!(matches!(
            parse("9999").unwrap().cmd,
            ListsCommand::Import { number: 9999, .. }
        ));
    }
}
