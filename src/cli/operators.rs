//! `contactd operators ...`: add and list operators, their skills and groups, change an
//! operator's state by hand (checked by the same state machine the ACD uses) and report the
//! time spent per state in a day — the figures KPIs and pay are computed from.

use chrono::{NaiveDate, Utc};
use deadpool_postgres::Pool;

use super::exit::Exit;
use crate::config::Config;
use crate::core::acd::agent::{next, Command, StateName};
use crate::core::acd::names::{
    check_break_reason, check_endpoint, check_group, check_name, check_new_operator,
};
use crate::core::lists::printable;
use crate::store::operators::{Operator, Operators};
use crate::store::StoreError;

#[derive(Debug, clap::Subcommand)]
pub enum OperatorsCommand {
    /// Add an operator: login ([a-z0-9_.-]), full name, and the phone they answer on: a dial
    /// string like a trunk's (user/1001, sofia/gateway/GW/NUMBER, sofia/PROFILE/USER@HOST,
    /// freetdm/SPAN/CHAN/NUMBER, loopback/EXT[/CONTEXT]).
    Add {
        login: String,
        name: String,
        endpoint: String,
    },
    /// One line per operator: state, endpoint, skills.
    Ls,
    /// Set an operator's level (1..10) in an existing routing group.
    Skill {
        login: String,
        group: String,
        level: i16,
    },
    /// The routing groups and how many operators each has.
    Groups,
    /// Print the operator's own API token (opens only their screen-pop stream).
    Token { login: String },
    /// Add a routing group (a-z, 0-9, _; then name it in an [acd.queue.NAME] group).
    AddGroup { name: String },
    /// Change an operator's state: login, logout, ready, break (with a reason), absent.
    State {
        login: String,
        state: String,
        reason: Option<String>,
    },
    /// Time per state on a day (YYYY-MM-DD, in [dialing] default_time_zone).
    Day { login: String, date: String },
}

#[derive(Debug, thiserror::Error)]
pub enum OperatorCliError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OperatorCliError {
    pub fn exit_code(&self) -> Exit {
        match self {
            OperatorCliError::Invalid(_) => Exit::DataErr,
            OperatorCliError::Store(StoreError::NotFound(_)) => Exit::DataErr,
            OperatorCliError::Store(e) if e.is_retryable() => Exit::Unavailable,
            _ => Exit::Software,
        }
    }
}

async fn operator(store: &Operators, login: &str) -> Result<Operator, OperatorCliError> {
    store
        .get(login)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("operator {}", printable(login))).into())
}

/// The operator's skills from PostgreSQL into routing's copy in Redis.
async fn copy_skills(
    live: &crate::store::acd::AcdStore,
    store: &Operators,
    login: &str,
    id: i64,
) -> Result<(), OperatorCliError> {
    let skills = store.skills(id).await?;
    live.set_skills(login, &crate::store::acd::skill_levels(&skills))
        .await?;
    Ok(())
}

/// The command and break reason `state` and `reason` ask for; a break's reason follows the
/// same rule as the API's and the phone's.
fn command(state: &str, reason: Option<String>) -> Result<(Command, String), OperatorCliError> {
    let command = Command::from_word(state)
        .filter(|c| c.word() == state)
        .ok_or_else(|| {
            OperatorCliError::Invalid(format!(
                "state {state:?}: use login, logout, ready, break REASON or absent"
            ))
        })?;
    match (command, reason) {
        (Command::TakeBreak, Some(r)) => {
            check_break_reason(&r).map_err(OperatorCliError::Invalid)?;
            Ok((command, r))
        }
        (Command::TakeBreak, None) => Err(OperatorCliError::Invalid(
            "break needs a reason (1-32 letters, digits, '_' or '-'), e.g. lunch".into(),
        )),
        (_, Some(_)) => Err(OperatorCliError::Invalid(format!(
            "a reason is only for break, not for {state:?}"
        ))),
        (_, None) => Ok((command, String::new())),
    }
}

fn hms(secs: i64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

fn state_label(key: &str) -> String {
    StateName::from_key(key)
        .map(|s| s.to_string())
        .unwrap_or_else(|| key.to_string())
}

pub async fn run_operators(
    cmd: OperatorsCommand,
    cfg: &Config,
    pool: &Pool,
) -> Result<(), OperatorCliError> {
    let store = Operators::new(pool.clone());
    match cmd {
        OperatorsCommand::Add {
            login,
            name,
            endpoint,
        } => {
            let name = name.trim();
            check_new_operator(&login, name, &endpoint).map_err(OperatorCliError::Invalid)?;
            if store.get(&login).await?.is_some() {
                return Err(OperatorCliError::Invalid(format!(
                    "operator {} already exists",
                    printable(&login)
                )));
            }
            let id = store.create(&login, name, &endpoint).await?;
            println!("operator {login} added (id {id}): {name}, {endpoint}");
        }
        OperatorsCommand::Ls => {
            for o in store.list().await? {
                let state = match store.current(o.id).await? {
                    Some(p) if p.reason.is_empty() => state_label(&p.state),
                    Some(p) => format!("{} ({})", state_label(&p.state), p.reason),
                    None => StateName::LoggedOut.to_string(),
                };
                let skills: Vec<String> = store
                    .skills(o.id)
                    .await?
                    .into_iter()
                    .map(|(g, l)| format!("{g}:{l}"))
                    .collect();
                println!(
                    "{:<16}  {:<20}  {:<24}  {}  {}",
                    o.login,
                    state,
                    o.endpoint,
                    skills.join(","),
                    o.name
                );
            }
        }
        OperatorsCommand::Skill {
            login,
            group,
            level,
        } => {
            check_name("group", &group).map_err(OperatorCliError::Invalid)?;
            if !(1..=10).contains(&level) {
                return Err(OperatorCliError::Invalid(format!(
                    "level {level}: must be 1 to 10"
                )));
            }
            let o = operator(&store, &login).await?;
            store.set_skill(o.id, &group, level).await?;
            println!("operator {login}: {group} level {level}");
            // Routing's copy follows at once (a login no longer waits to re-read the row).
            // Without Redis, the row stands and the operator's next login copies it.
            let copied = async {
                let live = crate::store::acd::AcdStore::connect_to(
                    crate::store::redis_conn::RedisTarget::of(&cfg.redis),
                    &cfg.redis.prefix,
                )
                .await?;
                if live.endpoint(&login).await?.is_none() {
                    // never copied: the daemon copies the row when it starts or they log in
                    return Ok(());
                }
                copy_skills(&live, &store, &login, o.id).await?;
                live.publish_kick("cli").await?;
                Ok::<(), OperatorCliError>(())
            };
            if let Err(e) = copied.await {
                eprintln!(
                    "warning: routing not updated ({e}); it takes the skill at {}'s next login",
                    printable(&login)
                );
            }
        }
        OperatorsCommand::Token { login } => {
            let o = operator(&store, &login).await?;
            if cfg.http.token.expose().is_empty() {
                return Err(OperatorCliError::Invalid(
                    "http.token is not set: operator tokens are derived from it".into(),
                ));
            }
            println!(
                "{}",
                crate::http::auth::operator_token(cfg.http.token.expose(), &o.login)
            );
        }
        OperatorsCommand::AddGroup { name } => {
            check_group(&name).map_err(OperatorCliError::Invalid)?;
            if !store.add_group(&name).await? {
                return Err(OperatorCliError::Invalid(format!(
                    "group {name:?} already exists"
                )));
            }
            println!("group {name} added");
        }
        OperatorsCommand::Groups => {
            for (g, n) in store.groups().await? {
                println!("{g:<16}  {n} operators");
            }
        }
        OperatorsCommand::State {
            login,
            state,
            reason,
        } => {
            let (command, reason) = command(&state, reason)?;
            let o = operator(&store, &login).await?;
            let now = Utc::now();
            // The same table the ACD and its Redis scripts follow, from the state last logged.
            let from = match store.current(o.id).await? {
                Some(p) => StateName::from_key(&p.state).ok_or_else(|| {
                    OperatorCliError::Invalid(format!("unknown logged state {:?}", p.state))
                })?,
                None => StateName::LoggedOut,
            };
            let to = next(from, command.input())
                .map_err(|e| OperatorCliError::Invalid(format!("{}: {e}", printable(&login))))?;
            // Routing follows at once: the live state in Redis changes first (refused while
            // the operator rings or talks), then the period is logged.
            let live = crate::store::acd::AcdStore::connect_to(
                crate::store::redis_conn::RedisTarget::of(&cfg.redis),
                &cfg.redis.prefix,
            )
            .await?;
            if !live
                .agent_command(&login, command, now.timestamp_millis())
                .await?
            {
                // The live state is not the one logged (a call came meanwhile, or Redis lost it).
                let now_live = live
                    .agent_info(&login)
                    .await?
                    .map_or(StateName::LoggedOut, |i| i.state);
                return Err(OperatorCliError::Invalid(if now_live.on_call() {
                    format!(
                        "operator {} is on a call now: change the state after it",
                        printable(&login)
                    )
                } else {
                    format!(
                        "operator {} is {now_live} in routing now",
                        printable(&login)
                    )
                }));
            }
            if to == StateName::Ready && check_endpoint(&o.endpoint).is_ok() {
                live.set_endpoint(&login, &o.endpoint).await?;
                copy_skills(&live, &store, &login, o.id).await?;
                // The daemons route on a kick: tell them this operator can take a call.
                live.publish_kick("cli").await?;
            }
            store.log_state(o.id, to.key(), &reason, now).await?;
            if reason.is_empty() {
                println!("operator {login}: {from} -> {to}");
            } else {
                println!("operator {login}: {from} -> {to} ({reason})");
            }
        }
        OperatorsCommand::Day { login, date } => {
            let day = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
                .map_err(|_| OperatorCliError::Invalid(format!("date {date:?}: use YYYY-MM-DD")))?;
            let o = operator(&store, &login).await?;
            let tz = &cfg.dialing.default_time_zone;
            let rows = store.time_in_states(o.id, day, tz).await?;
            println!("operator {login} on {day} ({tz}):");
            if rows.is_empty() {
                println!("  not logged in");
            }
            let mut total = 0;
            for (state, reason, secs) in rows {
                total += secs;
                let label = if reason.is_empty() {
                    state_label(&state)
                } else {
                    format!("{} ({reason})", state_label(&state))
                };
                println!("  {label:<28} {:>9}  {secs} s", hms(secs));
            }
            println!("  {:<28} {:>9}  {total} s", "logged in", hms(total));
        }
    }
    Ok(())
}
