//! `contactd campaigns ...`: create, list, show, pause, resume, cancel, report. A campaign
//! created here is the same thing as one a manager starts by phone; the running daemon picks
//! it up within a second.

use std::path::PathBuf;

use deadpool_postgres::Pool;

use super::exit::CampaignCliError;
use crate::config::Config;
use crate::core::campaign::limits::{
    check_campaign_name, check_lines, MAX_ATTEMPTS, MAX_NAME_CHARS,
};
use crate::core::lists::printable;
use crate::core::values::MediaFile;
use crate::store::campaigns::{Campaigns, NewCampaign};
use crate::store::StoreError;

// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, clap::Subcommand)]
pub enum CampaignsCommand {
    /// Start a notice campaign to a list.
    Create {
        /// List number (as imported with `lists import --number`).
        #[arg(long)]
        list: i32,
        /// The message: an absolute path of a WAV file readable by FreeSWITCH.
        #[arg(long)]
        audio: PathBuf,
        #[arg(long)]
        name: Option<String>,
        /// Ask each subscriber for the confirmation key after the message.
        #[arg(long)]
        confirm: bool,
        /// Lines this campaign may hold at once (default: [campaigns] lines).
        #[arg(long)]
        lines: Option<u32>,
        /// Trunk to dial on (default: [campaigns] trunk).
        #[arg(long)]
        trunk: Option<String>,
        /// Caller ID shown to subscribers.
        #[arg(long)]
        caller_id: Option<String>,
        /// Calling window days, e.g. mon-sat.
        #[arg(long)]
        days: Option<String>,
        /// Window start HH:MM (subscriber's time zone).
        #[arg(long)]
        from: Option<String>,
        /// Window end HH:MM.
        #[arg(long)]
        until: Option<String>,
        /// Force one time zone for everyone instead of each subscriber's.
        #[arg(long)]
        time_zone: Option<String>,
        #[arg(long)]
        max_attempts: Option<u32>,
        /// Gets the report besides the auditors.
        #[arg(long)]
        email: Option<String>,
        /// A `[messages.templates.NAME]` sent to subscribers who pressed the
        /// confirmation key (needs --confirm).
        #[arg(long)]
        after_confirm: Option<String>,
        /// A `[messages.templates.NAME]` sent to subscribers not reached after the last
        /// retry (busy, no answer, network failure).
        #[arg(long)]
        when_unreached: Option<String>,
    },
    /// Start an operator campaign: --mode preview|progressive|predictive --queue Q --list N.
    Start(super::op_campaigns::StartArgs),
    /// One line per campaign.
    Ls,
    /// Progress of one campaign.
    Show {
        id: i64,
    },
    Pause {
        id: i64,
    },
    Resume {
        id: i64,
    },
    /// Nobody else is called; calls in progress finish; the report follows.
    Cancel {
        id: i64,
    },
    /// The same report the auditors get by e-mail: summary and every subscriber's outcome.
    /// The summary is in `[mail] report_language` and `report_time_zone` unless overridden.
    Report {
        id: i64,
        /// ru or en.
        #[arg(long)]
        language: Option<String>,
        /// IANA time zone of the times shown, e.g. Europe/Moscow.
        #[arg(long)]
        time_zone: Option<String>,
    },
}

pub async fn run_campaigns(
    cmd: CampaignsCommand,
    cfg: &Config,
    pool: &Pool,
) -> Result<(), CampaignCliError> {
    let store = Campaigns::new(pool.clone());
    match cmd {
        CampaignsCommand::Start(args) => super::op_campaigns::start(args, cfg, pool).await?,
        CampaignsCommand::Create {
            list,
            audio,
            name,
            confirm,
            lines,
            trunk,
            caller_id,
            days,
            from,
            until,
            time_zone,
            max_attempts,
            email,
            after_confirm,
            when_unreached,
        } => {
            let d = &cfg.campaigns;
            for (flag, t) in [
                ("--after-confirm", &after_confirm),
                ("--when-unreached", &when_unreached),
            ] {
                if let Some(t) = t {
                    if !crate::config::is_template_name(t)
                        || !cfg.messages.templates.contains_key(t)
                    {
                        return Err(CampaignCliError::Invalid(format!(
                            "{flag} {:?}: no such [messages.templates.NAME] in the config",
                            printable(t)
                        )));
                    }
                }
            }
            if after_confirm.is_some() && !confirm {
                return Err(CampaignCliError::Invalid(
                    "--after-confirm needs --confirm (nobody is asked for the key otherwise)"
                        .into(),
                ));
            }
            let audio = audio.to_string_lossy().to_string();
            MediaFile::parse(&audio)
                .map_err(|e| CampaignCliError::Invalid(format!("--audio: {e}")))?;
            let name = name.unwrap_or_else(|| format!("list {list}"));
            check_campaign_name(&name).map_err(|e| {
                CampaignCliError::Invalid(if name.chars().count() > MAX_NAME_CHARS {
                    format!("--name: {e}")
                } else {
                    format!("--name {name:?}: {e}")
                })
            })?;
            let trunk = trunk.unwrap_or_else(|| d.trunk.clone());
            // a trunk or a trunk group: its channels in all
            let Some(channels) = cfg.channels_of(&trunk) else {
                return Err(CampaignCliError::Invalid(format!(
                    "--trunk {trunk:?}: no such [trunk.NAME] or [trunk_group.NAME] section in the config"
                )));
            };
            let lines = lines.unwrap_or(d.lines);
            check_lines(lines)
                .map_err(|e| CampaignCliError::Invalid(format!("--lines {lines}: {e}")))?;
            if lines > channels {
                return Err(CampaignCliError::Invalid(format!(
                    "--lines {lines}: must be 1 to {channels} (trunk {trunk:?} has {channels} channels)"
                )));
            }
            let max_attempts = match max_attempts {
                Some(n) if !(1..=MAX_ATTEMPTS).contains(&n) => {
                    return Err(CampaignCliError::Invalid(format!(
                        "--max-attempts {n}: must be 1–{MAX_ATTEMPTS}"
                    )))
                }
                Some(n) => n,
                None => d.max_attempts.clamp(1, i32::MAX as u32),
            };
            let (days, from, until) = (
                days.unwrap_or_else(|| d.window_days.clone()),
                from.unwrap_or_else(|| d.window_start.clone()),
                until.unwrap_or_else(|| d.window_end.clone()),
            );
            crate::core::campaign::window::Window::parse(&days, &from, &until)
                .map_err(|e| CampaignCliError::Invalid(format!("calling window: {e}")))?;
            if let Some(tz) = &time_zone {
                tz.parse::<chrono_tz::Tz>().map_err(|_| {
                    CampaignCliError::Invalid(format!("--time-zone {tz:?}: not an IANA zone"))
                })?;
            }
            if let Some(cid) = &caller_id {
                crate::core::values::PhoneNumber::parse(cid)
                    .map_err(|e| CampaignCliError::Invalid(format!("--caller-id: {e}")))?;
            }
            if let Some(e) = &email {
                e.parse::<lettre::Address>().map_err(|_| {
                    CampaignCliError::Invalid(format!("--email {e:?}: not an e-mail address"))
                })?;
            }
            let (id, n) = store
                .create(&NewCampaign {
                    name,
                    confirm,
                    trunk,
                    lines: lines as i32,
                    caller_id,
                    window_days: days,
                    window_start: from,
                    window_end: until,
                    time_zone,
                    max_attempts: max_attempts as i32,
                    manager_email: email,
                    after_confirm,
                    when_unreached,
                    ..NewCampaign::with_defaults(d, list, &audio, "cli")
                })
                .await?;
            println!("campaign {id} started: {n} subscribers, {lines} lines");
        }
        CampaignsCommand::Ls => {
            for c in store.list().await? {
                let p = store.progress(c.id).await?;
                println!(
                    "{:>5}  {:<9}  called {} of {}  reached {}  list {}  {}",
                    c.id,
                    c.state,
                    p.done,
                    p.total,
                    p.reached,
                    c.list_number,
                    printable(&c.name)
                );
            }
        }
        CampaignsCommand::Show { id } => {
            let c = store
                .get(id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("campaign {id}")))?;
            let p = store.progress(id).await?;
            println!(
                "campaign {id} '{}': {}\n  list {}, {} lines on {}, window {} {}-{}\n  called {} of {}, reached {}, dialing now {}",
                printable(&c.name), c.state, c.list_number, c.lines, c.trunk, c.window_days, c.window_start,
                c.window_end, p.done, p.total, p.reached, p.dialing
            );
        }
        CampaignsCommand::Pause { id } => state(&store, id, &["running"], "paused").await?,
        CampaignsCommand::Resume { id } => state(&store, id, &["paused"], "running").await?,
        CampaignsCommand::Cancel { id } => {
            if store.cancel(id).await? {
                println!("campaign {id} cancelled");
            } else {
                return Err(CampaignCliError::Invalid(format!(
                    "campaign {id} is not running or paused"
                )));
            }
        }
        CampaignsCommand::Report {
            id,
            language,
            time_zone,
        } => {
            let mut mail = cfg.mail.clone();
            let flags = [
                ("mail.report_language", language.is_some(), "--language"),
                ("mail.report_time_zone", time_zone.is_some(), "--time-zone"),
            ];
            mail.report_language = language.unwrap_or(mail.report_language);
            mail.report_time_zone = time_zone.unwrap_or(mail.report_time_zone);
            let loc = crate::mail::report::report_locale(&mail).map_err(|problems| {
                let named: Vec<String> = problems
                    .iter()
                    .map(|(key, msg)| {
                        let by_flag = flags.iter().find(|(k, given, _)| k == key && *given);
                        format!("{} {msg}", by_flag.map_or(*key, |(_, _, flag)| *flag))
                    })
                    .collect();
                CampaignCliError::Invalid(named.join("; "))
            })?;
            let text =
                crate::mail::report::print_report_in(pool, id, &cfg.campaigns.confirm_key, &loc)
                    .await
                    .map_err(|e| CampaignCliError::Report(e.to_string()))?;
            print!("{text}");
        }
    }
    Ok(())
}

async fn state(
    store: &Campaigns,
    id: i64,
    from: &[&str],
    to: &str,
) -> Result<(), CampaignCliError> {
    if store.set_state(id, from, to).await? {
        println!("campaign {id} {to}");
        Ok(())
    } else {
        Err(CampaignCliError::Invalid(format!(
            "campaign {id} is not {}",
            from.join(" or ")
        )))
    }
}
