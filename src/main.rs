//! The `contactd` binary: arguments → logging → config → the chosen command.
//! Errors become sysexits codes so systemd (`RestartPreventExitStatus=78`) and scripts can
//! tell a config typo from an unreachable database.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use contactd::cli::exit::Exit;
use contactd::config::{Config, LogConfig, LogFormat};
use tracing::{error, info};

// glibc's malloc was a third or more of the samples in profiles of the event path, the IVR
// and the dialer (`_int_malloc`, `malloc_consolidate`, `unlink_chunk` on many small,
// short-lived strings across threads); mimalloc's per-thread pages serve those better.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "contactd",
    version,
    about = "Contact-center daemon driving FreeSWITCH over ESL"
)]
struct Cli {
    /// TOML config file; every key can be overridden by CONTACTD__SECTION__KEY.
    #[arg(long, short, env = "CONTACTD_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (systemd: Type=notify).
    Run,
    /// Load and validate the config, print problems with their keys, exit 0 if fine.
    CheckConfig,
    /// Apply the SQL migrations in sql/ to the configured database.
    Migrate,
    /// Create the PostgreSQL roles and database (least privilege) and migrate as the owner;
    /// run as the PostgreSQL superuser: `runuser -u postgres -- contactd setup-db`.
    SetupDb(contactd::cli::setup_db::Args),
    /// Every trunk: state (in service, alarm, switch down), capacity, lines in use.
    Trunks,
    /// Contact lists: import a CSV, show, list.
    Lists {
        #[command(subcommand)]
        cmd: contactd::cli::lists::ListsCommand,
    },
    /// The do-not-call list, checked when each call is dialed.
    Dnc {
        #[command(subcommand)]
        cmd: contactd::cli::lists::DncCommand,
    },
    /// Notification campaigns: create, ls, show, pause, resume, cancel, report.
    Campaigns {
        #[command(subcommand)]
        cmd: contactd::cli::campaigns::CampaignsCommand,
    },
    /// Operators (ACD): add, ls, skill, groups, state, day.
    Operators {
        #[command(subcommand)]
        cmd: contactd::cli::operators::OperatorsCommand,
    },
    /// QA: the calls sampled for review on a day (list) and a reviewer's score (review).
    Qa {
        #[command(subcommand)]
        cmd: contactd::cli::qa::QaCommand,
    },
    /// E-mail and SMS sent during calls: ls --call UUID | --campaign ID.
    Messages {
        #[command(subcommand)]
        cmd: contactd::cli::messages::MessagesCommand,
    },
    /// Accounts and meters: import billing's CSV.
    Accounts {
        #[command(subcommand)]
        cmd: contactd::cli::accounts::AccountsCommand,
    },
    /// Meter readings: export for billing.
    Readings {
        #[command(subcommand)]
        cmd: contactd::cli::accounts::ReadingsCommand,
    },
    /// Operators needed for a load and a service-level goal (Erlang C); needs no config.
    /// `--from-history --queue Q`: each half-hour of the coming days from past weeks.
    Staffing(contactd::cli::staffing::Args),
    /// Queue and operator KPIs per interval (15m, 30m, day, week, month), table or CSV.
    Kpi(contactd::cli::kpi::Args),
    /// The auditors' digest of a day (or a week): print its text, or queue it with --send.
    Digest(contactd::cli::digest::Args),
    /// Run the FreeSWITCH simulator alone, on 127.0.0.1.
    Sim {
        /// ESL listen address.
        #[arg(long, default_value = "127.0.0.1:8021")]
        listen: String,
        /// ESL password.
        #[arg(long, default_value = "ClueCon")]
        password: String,
        /// Simulator TOML (trunks, subscribers); see contactd::sim::SimConfig.
        #[arg(long)]
        sim_config: Option<PathBuf>,
    },
    /// Simulator + daemon in one process against local Redis and PostgreSQL, with a
    /// scripted scenario that prints what happened.
    Demo {
        /// PostgreSQL server URL (the demo creates its own database there).
        #[arg(
            long,
            env = "CONTACTD_DEMO_PG",
            default_value = "postgres://postgres@127.0.0.1:5432/postgres"
        )]
        postgres: String,
        #[arg(
            long,
            env = "CONTACTD_DEMO_REDIS",
            default_value = "redis://127.0.0.1:6379/0"
        )]
        redis: String,
        /// Language of the prompts and of the mailed report: ru or en.
        #[arg(long, default_value = "ru")]
        language: String,
        /// Time zone of the report's times (default: Europe/Moscow for ru, UTC for en).
        #[arg(long)]
        time_zone: Option<String>,
        /// The generated prompts (`make prompts` writes them to target/prompts).
        #[arg(long, default_value = "target/prompts")]
        prompts: PathBuf,
        /// Mail the report to this SMTP port on 127.0.0.1 instead of the demo's own mailbox.
        #[arg(long)]
        smtp_port: Option<u16>,
    },
}

fn init_logging(log: &LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn load(path: Option<&PathBuf>) -> Result<Config, ExitCode> {
    let path = path
        .cloned()
        .unwrap_or_else(|| PathBuf::from("/etc/contactd/contactd.toml"));
    match Config::load(Some(&path)) {
        Ok(c) => {
            init_logging(&c.log);
            Ok(c)
        }
        Err(e) => {
            // Logging starts anyway so the problem reaches the journal.
            init_logging(&LogConfig::default());
            error!("{e}");
            Err(ExitCode::from(Exit::Config))
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("cannot start the async runtime: {e}");
            ExitCode::from(Exit::Software)
        })
}

/// Loads the config, opens and migrates the database, runs `f`; errors go to the log with
/// their sysexits code.
fn with_pool<F, Fut>(path: Option<&PathBuf>, f: F) -> Result<(), ExitCode>
where
    F: FnOnce(Config, deadpool_postgres::Pool) -> Fut,
    Fut: std::future::Future<Output = Result<(), (String, Exit)>>,
{
    let cfg = load(path)?;
    runtime()?.block_on(async {
        let pool =
            contactd::store::postgres::pool(cfg.postgres.url.expose(), cfg.postgres.pool_size)
                .map_err(|e| {
                    error!("{e}");
                    ExitCode::from(Exit::Config)
                })?;
        contactd::store::migrate::run(&pool).await.map_err(|e| {
            error!("database: {e}");
            ExitCode::from(if e.is_retryable() {
                Exit::Unavailable
            } else {
                Exit::DataErr
            })
        })?;
        f(cfg, pool).await.map_err(|(msg, code)| {
            error!("{msg}");
            ExitCode::from(code)
        })
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(Exit::Usage)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

fn real_main(cli: Cli) -> Result<(), ExitCode> {
    match cli.command {
        Command::CheckConfig => {
            let cfg = load(cli.config.as_ref())?;
            println!(
                "config OK: {} switch(es), {} trunk(s)",
                cfg.switch.len(),
                cfg.trunk.len()
            );
            Ok(())
        }
        Command::Migrate => {
            let cfg = load(cli.config.as_ref())?;
            runtime()?.block_on(async {
                let pool = contactd::store::postgres::pool(
                    cfg.postgres.url.expose(),
                    cfg.postgres.pool_size,
                )
                .map_err(|e| {
                    error!("{e}");
                    ExitCode::from(Exit::Config)
                })?;
                match contactd::store::migrate::run(&pool).await {
                    Ok(applied) if applied.is_empty() => {
                        println!("schema up to date");
                        Ok(())
                    }
                    Ok(applied) => {
                        println!("applied: {}", applied.join(", "));
                        Ok(())
                    }
                    Err(e) => {
                        error!("migration failed: {e}");
                        Err(ExitCode::from(if e.is_retryable() {
                            Exit::Unavailable
                        } else {
                            Exit::DataErr
                        }))
                    }
                }
            })
        }
        Command::SetupDb(args) => {
            init_logging(&LogConfig::default());
            runtime()?
                .block_on(contactd::cli::setup_db::run(args))
                .map_err(|e| {
                    error!("setup-db: {e}");
                    ExitCode::from(e.code)
                })
        }
        Command::Lists { cmd } => with_pool(cli.config.as_ref(), |cfg, pool| async move {
            contactd::cli::lists::run_lists(cmd, &cfg, &pool)
                .await
                .map_err(|e| (e.to_string(), Exit::from(&e)))
        }),
        Command::Dnc { cmd } => with_pool(cli.config.as_ref(), |cfg, pool| async move {
            contactd::cli::lists::run_dnc(cmd, &cfg, &pool)
                .await
                .map_err(|e| (e.to_string(), Exit::from(&e)))
        }),
        Command::Campaigns { cmd } => with_pool(cli.config.as_ref(), |cfg, pool| async move {
            contactd::cli::campaigns::run_campaigns(cmd, &cfg, &pool)
                .await
                .map_err(|e| (e.to_string(), e.exit_code()))
        }),
        Command::Operators { cmd } => with_pool(cli.config.as_ref(), |cfg, pool| async move {
            contactd::cli::operators::run_operators(cmd, &cfg, &pool)
                .await
                .map_err(|e| (e.to_string(), e.exit_code()))
        }),
        Command::Qa { cmd } => with_pool(cli.config.as_ref(), |cfg, pool| async move {
            let out = contactd::cli::qa::run_qa(cmd, &cfg, &pool)
                .await
                .map_err(|e| (e.to_string(), e.exit_code()))?;
            print!("{out}");
            Ok(())
        }),
        Command::Messages { cmd } => with_pool(cli.config.as_ref(), |_cfg, pool| async move {
            let out = contactd::cli::messages::run_messages(cmd, &pool)
                .await
                .map_err(|e| (e.to_string(), e.exit_code()))?;
            print!("{out}");
            Ok(())
        }),
        Command::Accounts { cmd } => with_pool(cli.config.as_ref(), |cfg, pool| async move {
            contactd::cli::accounts::run_accounts(cmd, &cfg, &pool)
                .await
                .map_err(|e| (e.to_string(), Exit::from(&e)))
        }),
        Command::Readings { cmd } => with_pool(cli.config.as_ref(), |cfg, pool| async move {
            contactd::cli::accounts::run_readings(cmd, &cfg, &pool)
                .await
                .map_err(|e| (e.to_string(), Exit::from(&e)))
        }),
        Command::Digest(args) => with_pool(cli.config.as_ref(), |cfg, pool| async move {
            let out = contactd::cli::digest::run(&args, &cfg, &pool)
                .await
                .map_err(|e| (e.to_string(), e.exit_code()))?;
            print!("{out}");
            Ok(())
        }),
        Command::Trunks => {
            let cfg = load(cli.config.as_ref())?;
            runtime()?.block_on(async {
                match contactd::cli::trunks::run(&cfg, chrono::Utc::now()).await {
                    Ok(out) => {
                        print!("{out}");
                        Ok(())
                    }
                    Err((msg, code)) => {
                        error!("{msg}");
                        Err(ExitCode::from(code))
                    }
                }
            })
        }
        Command::Run => {
            let cfg = load(cli.config.as_ref())?;
            runtime()?.block_on(async {
                contactd::app::run(cfg).await.map_err(|e| {
                    error!("{e}");
                    ExitCode::from(e.exit_code())
                })
            })
        }
        Command::Kpi(args) => with_pool(cli.config.as_ref(), |cfg, pool| async move {
            let out = contactd::cli::kpi::run(&args, &cfg, &pool)
                .await
                .map_err(|e| (e.to_string(), e.exit_code()))?;
            print!("{out}");
            Ok(())
        }),
        Command::Staffing(args) if args.from_history => {
            with_pool(cli.config.as_ref(), |cfg, pool| async move {
                let now = chrono::Utc::now();
                let report =
                    contactd::cli::staffing::run_from_history(&args, &cfg, &pool, now).await?;
                print!("{report}");
                Ok(())
            })
        }
        Command::Staffing(args) => match contactd::cli::staffing::run(&args) {
            Ok(report) => {
                print!("{report}");
                Ok(())
            }
            Err(e) => {
                eprintln!("contactd staffing: {e}");
                Err(ExitCode::from(Exit::Usage))
            }
        },
        Command::Sim {
            listen,
            password,
            sim_config,
        } => {
            init_logging(&LogConfig::default());
            let mut cfg = match sim_config {
                Some(p) => {
                    let text = std::fs::read_to_string(&p).map_err(|e| {
                        error!("{}: {e}", p.display());
                        ExitCode::from(Exit::NoInput)
                    })?;
                    contactd::sim::SimConfig::from_toml(&text).map_err(|e| {
                        error!("{}: {e}", p.display());
                        ExitCode::from(Exit::Config)
                    })?
                }
                None => contactd::sim::SimConfig::default(),
            };
            cfg.listen = listen;
            cfg.password = password;
            runtime()?.block_on(async {
                let sim = contactd::sim::Simulator::start(cfg).await.map_err(|e| {
                    error!("simulator: {e}");
                    ExitCode::from(Exit::OsErr)
                })?;
                info!(addr = %sim.esl_addr(), "FreeSWITCH simulator listening; Ctrl-C stops it");
                let _ = tokio::signal::ctrl_c().await;
                Ok(())
            })
        }
        Command::Demo {
            postgres,
            redis,
            language,
            time_zone,
            prompts,
            smtp_port,
        } => {
            init_logging(&LogConfig {
                level: "warn".into(),
                ..LogConfig::default()
            });
            runtime()?.block_on(async {
                let time_zone = time_zone.unwrap_or_else(|| {
                    if language == "ru" {
                        "Europe/Moscow"
                    } else {
                        "UTC"
                    }
                    .to_string()
                });
                let opts = contactd::demo::Options {
                    language,
                    time_zone,
                    prompts,
                    smtp_port,
                };
                contactd::demo::run(&postgres, &redis, Duration::from_secs(120), &opts)
                    .await
                    .map_err(|e| {
                        eprintln!("demo failed: {e:#}");
                        ExitCode::from(Exit::Software)
                    })
            })
        }
    }
}
