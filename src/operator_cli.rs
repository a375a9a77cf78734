//! `contactd operators ...`: add and list operators, their skills and groups, change an
//! operator's state by hand (checked by the same state machine the ACD uses) and report the
//! time spent per state in a day — the figures KPIs and pay are computed from.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use deadpool_postgres::Pool;

use crate::config::Config;
use crate::core::acd::agent::{Agent, AgentAction, AgentInput, StateName};
use crate::store::operators::{parse_state_key, state_key, Operator, Operators};
use crate::store::StoreError;

#[derive(Debug, clap::Subcommand)]
pub enum OperatorsCommand {
    /// Add an operator: login ([a-z0-9_.-]), full name, and the phone they answer on
    /// (user/1001, sofia/gateway/GW/NUMBER or freetdm/SPAN/CHAN/NUMBER).
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
    pub fn exit_code(&self) -> i32 {
        match self {
            OperatorCliError::Invalid(_) => 65,
            OperatorCliError::Store(StoreError::NotFound(_)) => 65,
            OperatorCliError::Store(e) if e.is_retryable() => 69,
            _ => 70,
        }
    }
}

fn check_name(what: &str, s: &str) -> Result<(), OperatorCliError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(OperatorCliError::Invalid(format!(
            "{what} {s:?}: use 1 to 64 of a-z 0-9 _ . -"
        )))
    }
}

/// A FreeSWITCH dial string an operator answers on: `user/EXT[@DOMAIN]`,
/// `sofia/PROFILE/DEST`, `sofia/gateway/GW/NUMBER` or `freetdm/SPAN/CHAN/NUMBER`. Characters
/// that would change the meaning of an originate (blanks, quotes, braces, commas, pipes) are
/// refused, so the string can be used verbatim.
pub fn check_endpoint(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 200 {
        return Err("must be 1 to 200 characters".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/_.-+@:#*".contains(*c)))
    {
        return Err(format!(
            "{:?} is not allowed (letters, digits and / _ . - + @ : # * only)",
            c
        ));
    }
    let parts: Vec<&str> = s.split('/').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err("has an empty part between slashes".into());
    }
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit() || b"+*#".contains(&b));
    match parts.as_slice() {
        ["user", _] => Ok(()),
        ["sofia", "gateway", _, n] if digits(n) => Ok(()),
        ["sofia", "gateway", ..] => Err("sofia/gateway wants sofia/gateway/GW/NUMBER".into()),
        ["sofia", _, _] => Ok(()),
        ["freetdm", span, chan, n]
            if span.bytes().all(|b| b.is_ascii_alphanumeric())
                && (chan.bytes().all(|b| b.is_ascii_digit())
                    || matches!(*chan, "a" | "A" | "r" | "R"))
                && digits(n) =>
        {
            Ok(())
        }
        ["freetdm", ..] => Err("freetdm wants freetdm/SPAN/CHAN/NUMBER".into()),
        _ => Err("must be user/EXT, sofia/gateway/GW/NUMBER or freetdm/SPAN/CHAN/NUMBER".into()),
    }
}

async fn operator(store: &Operators, login: &str) -> Result<Operator, OperatorCliError> {
    store
        .get(login)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("operator {login}")).into())
}

/// An operator's state machine put into `state` (the last logged one) at `since`, by the
/// inputs that lead there from logged out. The call and the after-call-work length do not
/// matter for the changes an operator makes by hand.
fn replay(state: StateName, reason: &str, since: DateTime<Utc>) -> Agent {
    let mut a = Agent::new(since, TimeDelta::seconds(1));
    let offer = || AgentInput::Offer {
        call: "logged".into(),
    };
    let path: Vec<AgentInput> = match state {
        StateName::LoggedOut => vec![],
        StateName::Ready => vec![AgentInput::LogIn],
        StateName::Break => vec![
            AgentInput::LogIn,
            AgentInput::TakeBreak {
                reason: reason.to_string(),
            },
        ],
        StateName::Absent => vec![AgentInput::LogIn, AgentInput::GoAbsent],
        StateName::Offered => vec![AgentInput::LogIn, offer()],
        StateName::Talking => vec![AgentInput::LogIn, offer(), AgentInput::Answer],
        StateName::WrapUp => vec![
            AgentInput::LogIn,
            offer(),
            AgentInput::Answer,
            AgentInput::HangUp,
        ],
        StateName::Missed => vec![AgentInput::LogIn, offer(), AgentInput::RingTimeout],
    };
    for input in path {
        a.handle(since, input)
            .expect("a path from logged out is legal");
    }
    a
}

fn input(state: &str, reason: Option<String>) -> Result<AgentInput, OperatorCliError> {
    let reason_unused = || {
        Err(OperatorCliError::Invalid(format!(
            "a reason is only for break, not for {state}"
        )))
    };
    Ok(match (state, reason) {
        ("break", Some(r))
            if !r.trim().is_empty() && r.len() <= 64 && !r.contains(char::is_control) =>
        {
            AgentInput::TakeBreak {
                reason: r.trim().to_string(),
            }
        }
        ("break", _) => {
            return Err(OperatorCliError::Invalid(
                "break needs a reason (1 to 64 printable characters), e.g. lunch".into(),
            ))
        }
        ("login" | "logout" | "ready" | "absent", Some(_)) => return reason_unused(),
        ("login", None) => AgentInput::LogIn,
        ("logout", None) => AgentInput::LogOut,
        ("ready", None) => AgentInput::GoReady,
        ("absent", None) => AgentInput::GoAbsent,
        (other, _) => {
            return Err(OperatorCliError::Invalid(format!(
                "state {other:?}: use login, logout, ready, break REASON or absent"
            )))
        }
    })
}

fn hms(secs: i64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

fn state_label(key: &str) -> String {
    parse_state_key(key)
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
            check_name("login", &login)?;
            let name = name.trim();
            if name.is_empty() || name.contains(char::is_control) {
                return Err(OperatorCliError::Invalid(
                    "name: must be non-empty printable text".into(),
                ));
            }
            check_endpoint(&endpoint)
                .map_err(|e| OperatorCliError::Invalid(format!("endpoint {endpoint:?}: {e}")))?;
            if store.get(&login).await?.is_some() {
                return Err(OperatorCliError::Invalid(format!(
                    "operator {login} already exists"
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
            check_name("group", &group)?;
            if !(1..=10).contains(&level) {
                return Err(OperatorCliError::Invalid(format!(
                    "level {level}: must be 1 to 10"
                )));
            }
            let o = operator(&store, &login).await?;
            store.set_skill(o.id, &group, level).await?;
            println!("operator {login}: {group} level {level}");
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
            let input = input(&state, reason)?;
            let o = operator(&store, &login).await?;
            let now = Utc::now();
            let mut agent = match store.current(o.id).await? {
                Some(p) => {
                    let name = parse_state_key(&p.state).ok_or_else(|| {
                        OperatorCliError::Invalid(format!("unknown logged state {:?}", p.state))
                    })?;
                    replay(name, &p.reason, p.since)
                }
                None => replay(StateName::LoggedOut, "", now),
            };
            let actions = agent
                .handle(now, input)
                .map_err(|e| OperatorCliError::Invalid(format!("{login}: {e}")))?;
            let (from, to) = actions
                .iter()
                .find_map(|a| match a {
                    AgentAction::Logged { from, to, .. } => Some((*from, *to)),
                    _ => None,
                })
                .expect("every change is logged");
            let reason = match agent.state() {
                crate::core::acd::agent::AgentState::Break { reason } => reason.clone(),
                _ => String::new(),
            };
            store.log_state(o.id, state_key(to), &reason, now).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        for ok in [
            "user/1001",
            "user/1001@pbx.local",
            "sofia/gateway/gw/84951234567",
            "sofia/internal/1001@10.0.0.1:5060",
            "freetdm/1/a/1234",
            "freetdm/1/7/+74951234567",
        ] {
            assert_eq!(check_endpoint(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "user/10 01",
            "user/1001\n",
            "user/",
            "user/1/2",
            "sip/1001",
            "sofia/gateway/gw",
            "sofia/gateway/gw/12a",
            "freetdm/1/x/123",
            "{origination_caller_id_number=1}user/1001",
            "user/1001,user/1002",
            "user/1001|user/1002",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn replay_reaches_every_state() {
        let t = Utc::now();
        for s in [
            StateName::LoggedOut,
            StateName::Ready,
            StateName::Offered,
            StateName::Talking,
            StateName::WrapUp,
            StateName::Break,
            StateName::Absent,
            StateName::Missed,
        ] {
            assert_eq!(replay(s, "lunch", t).state().name(), s);
        }
    }
}
