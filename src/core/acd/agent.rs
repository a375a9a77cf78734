//! One operator's states and the one table of changes between them: logged out, ready,
//! offered (ringing), talking, after-call work, break, absent, and "not ready (missed)" after
//! an unanswered offer. Everything that changes an operator's state checks it here: the CLI
//! against the stored state, the ACD's commands against the live state, and the Redis scripts
//! through tables generated from [`StateName`] and [`next`] (`store::acd`), so the atomic
//! part in Redis cannot allow what this forbids. No clock, no I/O.

use std::fmt;

/// What an operator is doing, as the supervisor's wallboard shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StateName {
    LoggedOut,
    Ready,
    /// The call rings on the operator's phone.
    Offered,
    Talking,
    /// After-call work: ends by itself after the configured time unless the operator ends it.
    WrapUp,
    Break,
    Absent,
    /// Did not answer an offer within the ring timeout; stays out of routing until they say so,
    /// because an operator who walked away would otherwise be offered every next call.
    Missed,
}

impl StateName {
    pub const ALL: [StateName; 8] = [
        StateName::LoggedOut,
        StateName::Ready,
        StateName::Offered,
        StateName::Talking,
        StateName::WrapUp,
        StateName::Break,
        StateName::Absent,
        StateName::Missed,
    ];

    /// The name in `operator_states.state` and in the API.
    pub fn key(self) -> &'static str {
        match self {
            StateName::LoggedOut => "logged_out",
            StateName::Ready => "ready",
            StateName::Offered => "offered",
            StateName::Talking => "talking",
            StateName::WrapUp => "wrap_up",
            StateName::Break => "break",
            StateName::Absent => "absent",
            StateName::Missed => "missed",
        }
    }

    /// The name in Redis's live state: letters only, because the live value is
    /// `name|at|idle|offer|call` and the scripts read the name with Lua's `%a+`; kept as
    /// it was so a live state written before an upgrade still reads.
    pub fn live_key(self) -> &'static str {
        match self {
            StateName::LoggedOut => "loggedout",
            StateName::WrapUp => "wrapup",
            other => other.key(),
        }
    }

    /// The inverse of [`StateName::key`].
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }

    /// The inverse of [`StateName::live_key`].
    pub fn from_live_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.live_key() == key)
    }

    /// Ringing or talking: only routing moves the operator on, never a command, or an
    /// operator could be given a second call.
    pub fn on_call(self) -> bool {
        matches!(self, StateName::Offered | StateName::Talking)
    }

    /// Counted as staffing a queue for a caller's estimated wait: at work, whether free now
    /// or busy with a call (a break or an absence is not coming back soon).
    pub fn staffed(self) -> bool {
        !matches!(
            self,
            StateName::LoggedOut | StateName::Absent | StateName::Break
        )
    }
}

/// From when a restored live state counts (see [`StateName::restored`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// From the start of the logged period.
    Logged,
    /// From the moment it is restored.
    Now,
}

impl StateName {
    /// The live state to put back for an operator whose last logged state is this one,
    /// when Redis lost the live state and no leg of theirs is up on the switch: an offer,
    /// a talk or after-call work was cut short by the loss, so they are ready from now;
    /// logged out is no live state at all.
    pub fn restored(self) -> Option<(StateName, Since)> {
        match self {
            StateName::LoggedOut => None,
            StateName::Offered | StateName::Talking | StateName::WrapUp => {
                Some((StateName::Ready, Since::Now))
            }
            s => Some((s, Since::Logged)),
        }
    }
}

impl fmt::Display for StateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StateName::LoggedOut => "logged out",
            StateName::Ready => "ready",
            StateName::Offered => "offered",
            StateName::Talking => "talking",
            StateName::WrapUp => "after-call work",
            StateName::Break => "break",
            StateName::Absent => "absent",
            StateName::Missed => "not ready (missed)",
        })
    }
}

/// What happens to an operator: their own commands (phone, API, CLI) and routing's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentInput {
    /// Start work; also "back to work" for one who is logged in but away.
    LogIn,
    LogOut,
    /// The operator asks for calls (ends after-call work, a break, absence or "missed").
    GoReady,
    /// A break (the reason is the caller's to keep; it does not change the rules).
    TakeBreak,
    GoAbsent,
    /// Routing reserved a call for this operator; their phone starts ringing.
    Offer,
    Answer,
    /// The ring timeout passed without an answer.
    RingTimeout,
    /// The caller hung up while the operator's phone rang: no fault of the operator's.
    CallerGone,
    /// The talk ended (hang-up or the call moved on by a transfer): after-call work.
    HangUp,
    /// The after-call work's time is up.
    WrapUpDone,
    /// The operator answered but their leg was gone before the bridge: as if they missed it.
    BridgeFailed,
    /// The operator answered, but the call left before it was bridged to them (its caller
    /// hung up, or a campaign's person was given the abandon message): no talk, and no
    /// fault of theirs, so no after-call work either.
    NotBridged,
}

impl AgentInput {
    pub const ALL: [AgentInput; 13] = [
        AgentInput::LogIn,
        AgentInput::LogOut,
        AgentInput::GoReady,
        AgentInput::TakeBreak,
        AgentInput::GoAbsent,
        AgentInput::Offer,
        AgentInput::Answer,
        AgentInput::RingTimeout,
        AgentInput::CallerGone,
        AgentInput::HangUp,
        AgentInput::WrapUpDone,
        AgentInput::BridgeFailed,
        AgentInput::NotBridged,
    ];

    /// Its name in the scripts' transition table.
    pub fn key(self) -> &'static str {
        match self {
            AgentInput::LogIn => "log_in",
            AgentInput::LogOut => "log_out",
            AgentInput::GoReady => "go_ready",
            AgentInput::TakeBreak => "take_break",
            AgentInput::GoAbsent => "go_absent",
            AgentInput::Offer => "offer",
            AgentInput::Answer => "answer",
            AgentInput::RingTimeout => "ring_timeout",
            AgentInput::CallerGone => "caller_gone",
            AgentInput::HangUp => "hang_up",
            AgentInput::WrapUpDone => "wrap_up_done",
            AgentInput::BridgeFailed => "bridge_failed",
            AgentInput::NotBridged => "not_bridged",
        }
    }

    /// The state this input leads to when it is allowed.
    pub fn target(self) -> StateName {
        match self {
            AgentInput::LogIn
            | AgentInput::GoReady
            | AgentInput::CallerGone
            | AgentInput::NotBridged
            | AgentInput::WrapUpDone => StateName::Ready,
            AgentInput::LogOut => StateName::LoggedOut,
            AgentInput::TakeBreak => StateName::Break,
            AgentInput::GoAbsent => StateName::Absent,
            AgentInput::Offer => StateName::Offered,
            AgentInput::Answer => StateName::Talking,
            AgentInput::RingTimeout | AgentInput::BridgeFailed => StateName::Missed,
            AgentInput::HangUp => StateName::WrapUp,
        }
    }
}

/// An operator's own change of state (phone, API, CLI), as opposed to routing's events:
/// the only inputs a person may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    LogIn,
    LogOut,
    GoReady,
    TakeBreak,
    GoAbsent,
}

impl Command {
    pub const ALL: [Command; 5] = [
        Command::LogIn,
        Command::LogOut,
        Command::GoReady,
        Command::TakeBreak,
        Command::GoAbsent,
    ];

    /// What a person types or sends for it (`contactd operators state`, the API).
    pub fn word(self) -> &'static str {
        match self {
            Command::LogIn => "login",
            Command::LogOut => "logout",
            Command::GoReady => "ready",
            Command::TakeBreak => "break",
            Command::GoAbsent => "absent",
        }
    }

    /// The inverse of [`Command::word`]; the API also takes the states' own names for
    /// logging in and out.
    pub fn from_word(word: &str) -> Option<Self> {
        match word {
            "logged_in" => Some(Command::LogIn),
            "logged_out" => Some(Command::LogOut),
            _ => Self::ALL.into_iter().find(|c| c.word() == word),
        }
    }

    pub fn input(self) -> AgentInput {
        match self {
            Command::LogIn => AgentInput::LogIn,
            Command::LogOut => AgentInput::LogOut,
            Command::GoReady => AgentInput::GoReady,
            Command::TakeBreak => AgentInput::TakeBreak,
            Command::GoAbsent => AgentInput::GoAbsent,
        }
    }
}

/// The reason a break is given when none is named (the phone's feature code has none).
pub const DEFAULT_BREAK_REASON: &str = "break";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error("operator cannot go from {from} to {to}")]
    Illegal { from: StateName, to: StateName },
}

/// The one table of operator state changes: the state `input` leads to from `from`, or why
/// not. A break may be taken again with another reason; repeating any other change is
/// refused, so a command that changed nothing says so.
pub fn next(from: StateName, input: AgentInput) -> Result<StateName, AgentError> {
    use AgentInput as I;
    use StateName as S;
    let to = input.target();
    let away = matches!(from, S::WrapUp | S::Break | S::Absent | S::Missed);
    let ok = match input {
        I::LogIn => from == S::LoggedOut || away,
        I::GoReady => away,
        I::LogOut => from == S::Ready || away,
        I::TakeBreak => from == S::Ready || away,
        I::GoAbsent => from == S::Ready || (away && from != S::Absent),
        I::Offer => from == S::Ready,
        I::Answer | I::RingTimeout | I::CallerGone => from == S::Offered,
        I::HangUp | I::BridgeFailed | I::NotBridged => from == S::Talking,
        I::WrapUpDone => from == S::WrapUp,
    };
    if ok {
        Ok(to)
    } else {
        Err(AgentError::Illegal { from, to })
    }
}

/// When after-call work that began at `since_ms` is over (`WrapUpDone` is due), ms.
pub fn wrap_up_ends(since_ms: i64, wrap_up: std::time::Duration) -> i64 {
    since_ms.saturating_add(wrap_up.as_millis().min(i64::MAX as u128) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use AgentInput as I;
    use StateName as S;

    fn walk(inputs: &[AgentInput]) -> Result<StateName, AgentError> {
        inputs.iter().try_fold(S::LoggedOut, |s, i| next(s, *i))
    }

    #[test]
    fn a_full_call_with_after_call_work() {
        assert_eq!(
            walk(&[I::LogIn, I::Offer, I::Answer, I::HangUp]),
            Ok(S::WrapUp)
        );
        assert_eq!(
            walk(&[I::LogIn, I::Offer, I::Answer, I::HangUp, I::WrapUpDone]),
            Ok(S::Ready)
        );
        // The operator may end after-call work early.
        assert_eq!(
            walk(&[I::LogIn, I::Offer, I::Answer, I::HangUp, I::GoReady]),
            Ok(S::Ready)
        );
    }

    #[test]
    fn ring_timeout_and_failed_bridge_leave_the_operator_missed_until_they_say_so() {
        assert_eq!(walk(&[I::LogIn, I::Offer, I::RingTimeout]), Ok(S::Missed));
        assert_eq!(
            walk(&[I::LogIn, I::Offer, I::Answer, I::BridgeFailed]),
            Ok(S::Missed)
        );
        assert!(next(S::Missed, I::Offer).is_err(), "missed is not routable");
        assert_eq!(next(S::Missed, I::GoReady), Ok(S::Ready));
        // A caller who hung up while it rang is not the operator's fault.
        assert_eq!(walk(&[I::LogIn, I::Offer, I::CallerGone]), Ok(S::Ready));
        // Nor one gone after the answer but before the bridge: no talk, no wrap-up.
        assert_eq!(
            walk(&[I::LogIn, I::Offer, I::Answer, I::NotBridged]),
            Ok(S::Ready)
        );
        assert!(next(S::Offered, I::NotBridged).is_err(), "never answered");
        assert!(next(S::WrapUp, I::NotBridged).is_err(), "a talk that ended");
    }

    #[test]
    fn no_command_moves_an_operator_on_a_call() {
        for from in [S::Offered, S::Talking] {
            assert!(from.on_call());
            for input in Command::ALL.map(Command::input) {
                let err = next(from, input).unwrap_err();
                assert_eq!(
                    err,
                    AgentError::Illegal {
                        from,
                        to: input.target()
                    }
                );
            }
        }
        assert_eq!(
            next(S::Talking, I::TakeBreak).unwrap_err().to_string(),
            "operator cannot go from talking to break"
        );
        // Nor is an operator offered a second call.
        assert!(next(S::Offered, I::Offer).is_err());
    }

    #[test]
    fn commands_as_the_cli_and_the_phone_give_them() {
        assert_eq!(
            next(S::Ready, I::GoReady).unwrap_err().to_string(),
            "operator cannot go from ready to ready"
        );
        assert_eq!(
            next(S::LoggedOut, I::GoReady).unwrap_err().to_string(),
            "operator cannot go from logged out to ready"
        );
        assert!(next(S::LoggedOut, I::TakeBreak).is_err());
        assert!(next(S::LoggedOut, I::LogOut).is_err());
        assert!(next(S::Absent, I::GoAbsent).is_err());
        // Another reason for a break, and logging in again from a break, are fine.
        assert_eq!(next(S::Break, I::TakeBreak), Ok(S::Break));
        assert_eq!(next(S::Break, I::LogIn), Ok(S::Ready));
        assert_eq!(next(S::WrapUp, I::LogOut), Ok(S::LoggedOut));
    }

    #[test]
    fn names_round_trip_and_live_names_are_letters_only() {
        for s in StateName::ALL {
            assert_eq!(StateName::from_key(s.key()), Some(s));
            assert_eq!(StateName::from_live_key(s.live_key()), Some(s));
            assert!(s.live_key().bytes().all(|b| b.is_ascii_lowercase()), "{s}");
        }
        assert_eq!(StateName::from_key("wrapup"), None);
        assert_eq!(
            AgentInput::ALL
                .iter()
                .map(|i| i.key())
                .collect::<std::collections::HashSet<_>>()
                .len(),
            AgentInput::ALL.len()
        );
    }

    #[test]
    fn a_lost_live_state_is_restored_from_the_logged_one() {
        assert_eq!(S::LoggedOut.restored(), None);
        assert_eq!(S::Break.restored(), Some((S::Break, Since::Logged)));
        assert_eq!(S::Missed.restored(), Some((S::Missed, Since::Logged)));
        for cut_short in [S::Offered, S::Talking, S::WrapUp] {
            assert_eq!(cut_short.restored(), Some((S::Ready, Since::Now)));
        }
    }

    #[test]
    fn staffing_counts_operators_at_work() {
        let staffed: Vec<_> = StateName::ALL.into_iter().filter(|s| s.staffed()).collect();
        assert_eq!(
            staffed,
            [S::Ready, S::Offered, S::Talking, S::WrapUp, S::Missed]
        );
    }

    #[test]
    fn after_call_work_ends_its_configured_time_after_it_began() {
        let wrap = std::time::Duration::from_secs(30);
        assert_eq!(wrap_up_ends(1_000, wrap), 31_000);
        assert_eq!(wrap_up_ends(i64::MAX - 5, wrap), i64::MAX, "no overflow");
    }
}
