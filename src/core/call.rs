//! The states of a call record (`calls.state` in PostgreSQL): one home for their names, so
//! no service spells them itself.

/// Where a call stands, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallState {
    /// Written before the originate: it may or may not have reached the switch.
    Dialing,
    Ringing,
    Answered,
    /// Ended after an answer (or closed as `UNKNOWN` after a resync).
    Ended,
    /// Ended without an answer.
    Failed,
}

impl CallState {
    pub const ALL: [CallState; 5] = [
        CallState::Dialing,
        CallState::Ringing,
        CallState::Answered,
        CallState::Ended,
        CallState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Dialing => "dialing",
            CallState::Ringing => "ringing",
            CallState::Answered => "answered",
            CallState::Ended => "ended",
            CallState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The state a call ends in: `ended` once answered, else `failed`.
    pub fn end(answered: bool) -> Self {
        if answered {
            CallState::Ended
        } else {
            CallState::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_ends_follow_the_answer() {
        for st in CallState::ALL {
            assert_eq!(CallState::parse(st.as_str()), Some(st));
        }
        assert_eq!(CallState::end(true).as_str(), "ended");
        assert_eq!(CallState::end(false).as_str(), "failed");
    }
}
