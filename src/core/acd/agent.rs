//! One operator's state machine: logged out, ready, offered (ringing), talking, after-call work,
//! break (with a reason), absent, and "not ready (missed)" after an unanswered offer. It owns
//! the legal transitions, the after-call-work deadline and the time spent in each state (the
//! KPIs); it does not know about queues or Redis — the I/O shell carries out its actions.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};

use super::CallId;

/// What an operator is doing, as the supervisor's wallboard shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentState {
    LoggedOut,
    Ready,
    /// The call rings on the operator's phone.
    Offered {
        call: CallId,
    },
    Talking {
        call: CallId,
    },
    /// After-call work: ends by itself at `until` unless the operator ends it first.
    WrapUp {
        until: DateTime<Utc>,
    },
    Break {
        reason: String,
    },
    Absent,
    /// Did not answer an offer within the ring timeout; stays out of routing until they say so,
    /// because an operator who walked away would otherwise be offered every next call.
    Missed,
}

/// The state's name without its data, for errors, logs and KPIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StateName {
    LoggedOut,
    Ready,
    Offered,
    Talking,
    WrapUp,
    Break,
    Absent,
    Missed,
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

impl AgentState {
    pub fn name(&self) -> StateName {
        match self {
            AgentState::LoggedOut => StateName::LoggedOut,
            AgentState::Ready => StateName::Ready,
            AgentState::Offered { .. } => StateName::Offered,
            AgentState::Talking { .. } => StateName::Talking,
            AgentState::WrapUp { .. } => StateName::WrapUp,
            AgentState::Break { .. } => StateName::Break,
            AgentState::Absent => StateName::Absent,
            AgentState::Missed => StateName::Missed,
        }
    }
}

/// What happened to the operator (from their phone, the switch or the supervisor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentInput {
    LogIn,
    LogOut,
    /// The operator asks for calls (also ends after-call work, a break, absence or "missed").
    GoReady,
    TakeBreak {
        reason: String,
    },
    GoAbsent,
    /// Routing reserved `call` for this operator; their phone starts ringing.
    Offer {
        call: CallId,
    },
    Answer,
    /// The ring timeout passed without an answer.
    RingTimeout,
    /// The caller hung up while the operator's phone rang: no fault of the operator's.
    CallerGone,
    /// The call ended while talking.
    HangUp,
}

impl AgentInput {
    /// The state this input leads to, named for errors.
    fn target(&self, wrap_up: TimeDelta) -> StateName {
        match self {
            AgentInput::LogIn | AgentInput::GoReady | AgentInput::CallerGone => StateName::Ready,
            AgentInput::LogOut => StateName::LoggedOut,
            AgentInput::TakeBreak { .. } => StateName::Break,
            AgentInput::GoAbsent => StateName::Absent,
            AgentInput::Offer { .. } => StateName::Offered,
            AgentInput::Answer => StateName::Talking,
            AgentInput::RingTimeout => StateName::Missed,
            AgentInput::HangUp if wrap_up > TimeDelta::zero() => StateName::WrapUp,
            AgentInput::HangUp => StateName::Ready,
        }
    }
}

/// What the I/O shell must do after a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAction {
    /// Every change, with its time, for the operator's day log.
    Logged {
        at: DateTime<Utc>,
        from: StateName,
        to: StateName,
    },
    /// Make the operator routable; `idle_since` orders the longest-idle choice.
    Available { idle_since: DateTime<Utc> },
    /// Take the operator out of routing.
    Unavailable,
    /// The unanswered call goes back to the head of its queue.
    ReturnCall { call: CallId },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error("operator cannot go from {from} to {to}")]
    Illegal { from: StateName, to: StateName },
}

/// Time spent per state since login, for the KPIs (occupancy, ACW share, breaks by reason).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentTimes {
    pub ready: TimeDelta,
    pub offered: TimeDelta,
    pub talking: TimeDelta,
    pub wrap_up: TimeDelta,
    pub breaks: BTreeMap<String, TimeDelta>,
    pub absent: TimeDelta,
    pub missed: TimeDelta,
    /// Offers that rang out, a KPI of its own.
    pub missed_offers: u32,
}

impl AgentTimes {
    fn add(&mut self, state: &AgentState, d: TimeDelta) {
        match state {
            AgentState::LoggedOut => {}
            AgentState::Ready => self.ready += d,
            AgentState::Offered { .. } => self.offered += d,
            AgentState::Talking { .. } => self.talking += d,
            AgentState::WrapUp { .. } => self.wrap_up += d,
            AgentState::Break { reason } => {
                *self.breaks.entry(reason.clone()).or_default() += d;
            }
            AgentState::Absent => self.absent += d,
            AgentState::Missed => self.missed += d,
        }
    }
}

pub struct Agent {
    state: AgentState,
    /// When the current state began.
    since: DateTime<Utc>,
    /// Since when the operator has had no call: kept across a ring that the caller abandoned,
    /// so an operator does not lose their place in the longest-idle order for it.
    idle_since: DateTime<Utc>,
    wrap_up: TimeDelta,
    times: AgentTimes,
}

impl Agent {
    /// A logged-out operator; `wrap_up` is the configured after-call work (zero: none).
    pub fn new(now: DateTime<Utc>, wrap_up: TimeDelta) -> Self {
        Self {
            state: AgentState::LoggedOut,
            since: now,
            idle_since: now,
            wrap_up,
            times: AgentTimes::default(),
        }
    }

    pub fn state(&self) -> &AgentState {
        &self.state
    }

    /// Accumulated times, including the state the operator is in now.
    pub fn times(&self, now: DateTime<Utc>) -> AgentTimes {
        let mut t = self.times.clone();
        t.add(&self.state, elapsed(self.since, now));
        t
    }

    /// The after-call-work deadline, if any; the shell calls [`Agent::handle_timeout`] then.
    pub fn poll_timeout(&self) -> Option<DateTime<Utc>> {
        match self.state {
            AgentState::WrapUp { until } => Some(until),
            _ => None,
        }
    }

    /// Ends after-call work whose deadline has passed; nothing otherwise.
    pub fn handle_timeout(&mut self, now: DateTime<Utc>) -> Vec<AgentAction> {
        match self.state {
            AgentState::WrapUp { until } if now >= until => self.become_ready(now),
            _ => Vec::new(),
        }
    }

    pub fn handle(
        &mut self,
        now: DateTime<Utc>,
        input: AgentInput,
    ) -> Result<Vec<AgentAction>, AgentError> {
        use AgentState as S;
        let illegal = AgentError::Illegal {
            from: self.state.name(),
            to: input.target(self.wrap_up),
        };
        let actions = match (&self.state, input) {
            (S::LoggedOut, AgentInput::LogIn) => self.become_ready(now),
            (
                S::Ready | S::WrapUp { .. } | S::Break { .. } | S::Absent | S::Missed,
                AgentInput::LogOut,
            ) => self.leave_routing(now, S::LoggedOut),
            (S::WrapUp { .. } | S::Break { .. } | S::Absent | S::Missed, AgentInput::GoReady) => {
                self.become_ready(now)
            }
            (
                S::Ready | S::WrapUp { .. } | S::Absent | S::Missed,
                AgentInput::TakeBreak { reason },
            ) => self.leave_routing(now, S::Break { reason }),
            (S::Ready | S::WrapUp { .. } | S::Break { .. } | S::Missed, AgentInput::GoAbsent) => {
                self.leave_routing(now, S::Absent)
            }
            // Routing already took the operator out of the available set atomically.
            (S::Ready, AgentInput::Offer { call }) => self.go(now, S::Offered { call }),
            (S::Offered { call }, AgentInput::Answer) => {
                let call = call.clone();
                self.go(now, S::Talking { call })
            }
            (S::Offered { call }, AgentInput::RingTimeout) => {
                let call = call.clone();
                self.times.missed_offers += 1;
                let mut a = self.go(now, S::Missed);
                a.push(AgentAction::ReturnCall { call });
                a
            }
            (S::Offered { .. }, AgentInput::CallerGone) => {
                let mut a = self.go(now, S::Ready);
                a.push(AgentAction::Available {
                    idle_since: self.idle_since,
                });
                a
            }
            (S::Talking { .. }, AgentInput::HangUp) if self.wrap_up > TimeDelta::zero() => {
                let until = now + self.wrap_up;
                self.idle_since = now;
                self.go(now, S::WrapUp { until })
            }
            (S::Talking { .. }, AgentInput::HangUp) => self.become_ready(now),
            _ => return Err(illegal),
        };
        Ok(actions)
    }

    fn go(&mut self, now: DateTime<Utc>, to: AgentState) -> Vec<AgentAction> {
        self.times.add(&self.state, elapsed(self.since, now));
        let from = self.state.name();
        self.state = to;
        self.since = now;
        vec![AgentAction::Logged {
            at: now,
            from,
            to: self.state.name(),
        }]
    }

    /// Idle time counts from the moment the operator could take a call.
    fn become_ready(&mut self, now: DateTime<Utc>) -> Vec<AgentAction> {
        self.idle_since = now;
        let mut a = self.go(now, AgentState::Ready);
        a.push(AgentAction::Available { idle_since: now });
        a
    }

    fn leave_routing(&mut self, now: DateTime<Utc>, to: AgentState) -> Vec<AgentAction> {
        let was_ready = self.state == AgentState::Ready;
        let mut a = self.go(now, to);
        if was_ready {
            a.push(AgentAction::Unavailable);
        }
        a
    }
}

/// A clock step backwards (NTP) must not subtract time from the KPIs.
fn elapsed(from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
    (to - from).max(TimeDelta::zero())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
    }

    fn s(secs: i64) -> TimeDelta {
        TimeDelta::seconds(secs)
    }

    fn ready_agent(wrap_up: i64) -> Agent {
        let mut a = Agent::new(t(0), s(wrap_up));
        a.handle(t(0), AgentInput::LogIn).unwrap();
        a
    }

    fn offer(call: &str) -> AgentInput {
        AgentInput::Offer { call: call.into() }
    }

    #[test]
    fn login_makes_the_operator_available_and_logs_the_change() {
        let mut a = Agent::new(t(0), s(30));
        let out = a.handle(t(5), AgentInput::LogIn).unwrap();
        assert_eq!(
            out,
            vec![
                AgentAction::Logged {
                    at: t(5),
                    from: StateName::LoggedOut,
                    to: StateName::Ready
                },
                AgentAction::Available { idle_since: t(5) }
            ]
        );
    }

    #[test]
    fn a_full_call_with_after_call_work_that_ends_by_itself() {
        let mut a = ready_agent(30);
        a.handle(t(10), offer("c1")).unwrap();
        a.handle(t(14), AgentInput::Answer).unwrap();
        assert_eq!(a.state(), &AgentState::Talking { call: "c1".into() });
        let out = a.handle(t(134), AgentInput::HangUp).unwrap();
        assert_eq!(out.len(), 1, "no availability during after-call work");
        assert_eq!(a.poll_timeout(), Some(t(164)));
        assert!(a.handle_timeout(t(163)).is_empty(), "not yet");
        let out = a.handle_timeout(t(164));
        assert!(out.contains(&AgentAction::Available { idle_since: t(164) }));
        assert_eq!(a.poll_timeout(), None);
        let times = a.times(t(200));
        assert_eq!(times.ready, s(10 + 36));
        assert_eq!(times.offered, s(4));
        assert_eq!(times.talking, s(120));
        assert_eq!(times.wrap_up, s(30));
    }

    #[test]
    fn operator_may_end_after_call_work_early() {
        let mut a = ready_agent(60);
        a.handle(t(1), offer("c1")).unwrap();
        a.handle(t(2), AgentInput::Answer).unwrap();
        a.handle(t(3), AgentInput::HangUp).unwrap();
        let out = a.handle(t(13), AgentInput::GoReady).unwrap();
        assert!(out.contains(&AgentAction::Available { idle_since: t(13) }));
        assert!(a.handle_timeout(t(63)).is_empty(), "stale deadline ignored");
        assert_eq!(a.times(t(13)).wrap_up, s(10));
    }

    #[test]
    fn without_after_call_work_hangup_returns_straight_to_ready() {
        let mut a = ready_agent(0);
        a.handle(t(1), offer("c1")).unwrap();
        a.handle(t(2), AgentInput::Answer).unwrap();
        let out = a.handle(t(9), AgentInput::HangUp).unwrap();
        assert_eq!(a.state(), &AgentState::Ready);
        assert!(out.contains(&AgentAction::Available { idle_since: t(9) }));
    }

    #[test]
    fn ring_timeout_marks_missed_and_returns_the_call() {
        let mut a = ready_agent(30);
        a.handle(t(1), offer("c9")).unwrap();
        let out = a.handle(t(21), AgentInput::RingTimeout).unwrap();
        assert_eq!(a.state(), &AgentState::Missed);
        assert!(out.contains(&AgentAction::ReturnCall { call: "c9".into() }));
        assert!(!out
            .iter()
            .any(|x| matches!(x, AgentAction::Available { .. })));
        assert_eq!(a.times(t(21)).missed_offers, 1);
        a.handle(t(40), AgentInput::GoReady).unwrap();
        assert_eq!(a.times(t(40)).missed, s(19));
    }

    #[test]
    fn caller_gone_while_ringing_keeps_the_operators_place() {
        let mut a = ready_agent(30);
        a.handle(t(50), offer("c1")).unwrap();
        let out = a.handle(t(55), AgentInput::CallerGone).unwrap();
        assert!(out.contains(&AgentAction::Available { idle_since: t(0) }));
    }

    #[test]
    fn breaks_accumulate_by_reason_and_absence_separately() {
        let mut a = ready_agent(0);
        let lunch = || AgentInput::TakeBreak {
            reason: "lunch".into(),
        };
        let out = a.handle(t(100), lunch()).unwrap();
        assert!(out.contains(&AgentAction::Unavailable));
        a.handle(t(1900), AgentInput::GoReady).unwrap();
        a.handle(
            t(2000),
            AgentInput::TakeBreak {
                reason: "coffee".into(),
            },
        )
        .unwrap();
        a.handle(t(2300), AgentInput::GoAbsent).unwrap();
        a.handle(t(2400), AgentInput::GoReady).unwrap();
        a.handle(t(2500), lunch()).unwrap();
        let times = a.times(t(2600));
        assert_eq!(times.breaks["lunch"], s(1800 + 100));
        assert_eq!(times.breaks["coffee"], s(300));
        assert_eq!(times.absent, s(100));
        assert_eq!(times.ready, s(100 + 100 + 100));
    }

    #[test]
    fn illegal_transitions_name_from_and_to() {
        let mut a = ready_agent(30);
        let err = a.handle(t(1), AgentInput::Answer).unwrap_err();
        assert_eq!(
            err,
            AgentError::Illegal {
                from: StateName::Ready,
                to: StateName::Talking
            }
        );
        assert_eq!(err.to_string(), "operator cannot go from ready to talking");
        a.handle(t(2), offer("c1")).unwrap();
        // Neither a second offer nor logging out while the phone rings.
        assert!(a.handle(t(3), offer("c2")).is_err());
        assert!(a.handle(t(3), AgentInput::LogOut).is_err());
        a.handle(t(4), AgentInput::Answer).unwrap();
        let err = a
            .handle(t(5), AgentInput::TakeBreak { reason: "x".into() })
            .unwrap_err();
        assert_eq!(err.to_string(), "operator cannot go from talking to break");
        assert_eq!(a.state(), &AgentState::Talking { call: "c1".into() });
    }

    #[test]
    fn logged_out_time_is_not_counted_and_backward_clock_adds_nothing() {
        let mut a = ready_agent(0);
        a.handle(t(60), AgentInput::LogOut).unwrap();
        a.handle(t(1000), AgentInput::LogIn).unwrap();
        assert_eq!(a.times(t(1010)).ready, s(70));
        assert_eq!(a.times(t(900)).ready, s(60), "clock stepped back");
    }
}
