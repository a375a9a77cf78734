//! `contactd operators ...`: add and list operators, their skills and groups, change an
//! operator's state by hand (checked by the same state machine the ACD uses) and report the
//! time spent per state in a day — the figures KPIs and pay are computed from.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use deadpool_postgres::Pool;

use super::exit::Exit;
use crate::config::Config;
use crate::core::acd::agent::{Agent, AgentAction, AgentInput, StateName};
use crate::core::lists::printable;
use crate::store::operators::{parse_state_key, state_key, Operator, Operators};
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

/// A login, group or other operator-side name: 1 to 64 of `a-z 0-9 _ . -` (the schema's own
/// CHECK). Shared by this CLI and the HTTP API.
pub fn check_name(what: &str, s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("{what} {s:?}: use 1 to 64 of a-z 0-9 _ . -"))
    }
}

/// A new operator's login, full name (already trimmed: non-empty, printable, at most 200
/// characters) and endpoint, as both this CLI and the HTTP API accept them.
pub fn check_new_operator(login: &str, name: &str, endpoint: &str) -> Result<(), String> {
    check_name("login", login)?;
    if name.is_empty() || name.chars().count() > 200 || name.contains(char::is_control) {
        return Err("name: must be 1 to 200 printable characters".into());
    }
    check_endpoint(endpoint).map_err(|e| format!("endpoint {endpoint:?}: {e}"))
}

/// A FreeSWITCH dial string an operator answers on, used verbatim in `originate`: any
/// endpoint a trunk's dial template may give (`user/`, `sofia/`, `freetdm/`, `loopback/`),
/// checked by the same grammar ([`crate::core::dialstring`]), so nothing can add a leg, a
/// variable or an argument. The one check for the CLI, the HTTP API and the ACD (again
/// right before it rings the phone).
pub fn check_endpoint(s: &str) -> Result<(), String> {
    crate::core::dialstring::check_endpoint(s)
}

async fn operator(store: &Operators, login: &str) -> Result<Operator, OperatorCliError> {
    store
        .get(login)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("operator {}", printable(login))).into())
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
            "a reason is only for break, not for {state:?}"
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

/// A group name is what queues name in `[acd.queue.NAME] group` and Redis keys skills by.
pub fn check_group(name: &str) -> Result<(), String> {
    if crate::config::is_queue_name(name) {
        Ok(())
    } else {
        Err(format!("group {name:?}: 1-32 of a-z, 0-9, '_'"))
    }
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
                .map_err(|e| OperatorCliError::Invalid(format!("{}: {e}", printable(&login))))?;
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
            // Routing follows at once: the live state in Redis changes first (refused while
            // the operator rings or talks), then the period is logged.
            let live =
                crate::store::acd::AcdStore::connect(cfg.redis.url.expose(), &cfg.redis.prefix)
                    .await?;
            let now_ms = now.timestamp_millis();
            let applied = match to {
                StateName::Ready => live.agent_ready(&login, now_ms).await?,
                StateName::Break => live.agent_away(&login, "break", now_ms).await?,
                StateName::Absent => live.agent_away(&login, "absent", now_ms).await?,
                StateName::LoggedOut => live.agent_away(&login, "loggedout", now_ms).await?,
                _ => true,
            };
            if !applied {
                return Err(OperatorCliError::Invalid(format!(
                    "operator {} is on a call now: change the state after it",
                    printable(&login)
                )));
            }
            if to == StateName::Ready {
                let endpoint_ok = crate::service::acd::valid_endpoint(&o.endpoint);
                if endpoint_ok {
                    live.set_endpoint(&login, &o.endpoint).await?;
                    let skills = store.skills(o.id).await?;
                    let skills: Vec<(&str, u8)> = skills
                        .iter()
                        .map(|(g, l)| (g.as_str(), (*l).clamp(0, 10) as u8))
                        .collect();
                    live.set_skills(&login, &skills).await?;
                }
            }
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
            "user/alice.smith",
            "user/1001@pbx.local",
            "sofia/gateway/gw/84951234567",
            "sofia/gateway/my-gw_2/+74951234567",
            "freetdm/1/a/1234",
            "freetdm/1/A/1234",
            "freetdm/span_2/r/1234",
            "freetdm/1/7/+74951234567",
            // what a trunk may dial, an operator's phone may be
            "user/Alice",
            "loopback/1001",
            "loopback/op201/test_operators",
            "sofia/internal/1001@10.0.0.1",
        ] {
            assert_eq!(check_endpoint(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "user/10 01",
            "user/1001\n",
            "user/1001\t",
            "user/",
            "user/1/2",
            "user/1001@",
            "user/1001@pbx_local",
            "sip/1001",
            "loopback/op201/test_operators/inline",
            "sofia/gateway/gw",
            "sofia/gateway/gw/12a",
            "sofia/gateway/gw/+",
            "sofia/gateway//123",
            "sofia/internal/1001@10.0.0.1:5060",
            "sofia/gw:_:user/1001",
            "freetdm/1/x/123",
            "freetdm/1/h/123",
            "freetdm/1/a/",
            "{origination_caller_id_number=1}user/1001",
            "[leg_timeout=1]user/1001",
            "<var=1>user/1001",
            "user/1001,user/1002",
            "user/1001|user/1002",
            "user/1001:_:user/1002",
            "user/1001'",
            "user/1001\"",
            "sofia/gateway/gw/123456789012345678901",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad:?}");
        }
        assert!(check_endpoint(&format!("user/{}", "a".repeat(65))).is_err());
        assert!(check_endpoint(&format!("user/{}", "a".repeat(64))).is_ok());
        // The error names what is wrong (the CLI and the API prefix the escaped value).
        let e = check_new_operator("carol", "Carol", "user/1001\napi hupall").unwrap_err();
        assert!(
            e.starts_with("endpoint \"user/1001\\napi hupall\": "),
            "{e}"
        );
        assert!(e.contains("control character"), "{e}");
    }

    #[test]
    fn names_and_new_operators() {
        for ok in ["alice", "a", "op_1.x-y", &"a".repeat(64)] {
            assert_eq!(check_name("login", ok), Ok(()), "{ok}");
        }
        for bad in ["", "Alice", "al ice", "al/ice", "алиса", &"a".repeat(65)] {
            let e = check_name("login", bad).unwrap_err();
            assert!(e.starts_with("login "), "{e}");
        }
        assert_eq!(
            check_new_operator("alice", "Alice Smith", "user/1001"),
            Ok(())
        );
        assert!(check_new_operator("alice", "", "user/1001")
            .unwrap_err()
            .starts_with("name"));
        assert!(check_new_operator("alice", "A\u{7}", "user/1001")
            .unwrap_err()
            .starts_with("name"));
        assert!(check_new_operator("alice", "Alice", "user/1 001")
            .unwrap_err()
            .starts_with("endpoint"));
        assert!(check_new_operator("Alice", "Alice", "user/1001")
            .unwrap_err()
            .starts_with("login"));
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
