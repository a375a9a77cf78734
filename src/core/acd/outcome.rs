//! How a call left the ACD and where a callback request stands: the names PostgreSQL's
//! CHECK constraints (sql/006_acd.sql) allow, in one place.

/// `acd_calls.outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcdOutcome {
    Answered,
    Abandoned,
    Transferred,
    Overflowed,
    /// Left a number to be called back.
    Callback,
    Lost,
}

impl AcdOutcome {
    pub const ALL: [AcdOutcome; 6] = [
        AcdOutcome::Answered,
        AcdOutcome::Abandoned,
        AcdOutcome::Transferred,
        AcdOutcome::Overflowed,
        AcdOutcome::Callback,
        AcdOutcome::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AcdOutcome::Answered => "answered",
            AcdOutcome::Abandoned => "abandoned",
            AcdOutcome::Transferred => "transferred",
            AcdOutcome::Overflowed => "overflowed",
            AcdOutcome::Callback => "callback",
            AcdOutcome::Lost => "lost",
        }
    }
}

/// `acd_callbacks.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackState {
    /// Waiting for an operator (again, after a failed attempt with attempts left).
    Pending,
    Dialing,
    Done,
    Failed,
}

impl CallbackState {
    pub const ALL: [CallbackState; 4] = [
        CallbackState::Pending,
        CallbackState::Dialing,
        CallbackState::Done,
        CallbackState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallbackState::Pending => "pending",
            CallbackState::Dialing => "dialing",
            CallbackState::Done => "done",
            CallbackState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for AcdOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for CallbackState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names are the ones the schema's CHECK constraints list.
    #[test]
    fn names_match_the_schema() {
        let sql = include_str!("../../../sql/006_acd.sql");
        for o in AcdOutcome::ALL {
            assert!(sql.contains(&format!("'{}'", o.as_str())), "{o:?}");
        }
        for c in CallbackState::ALL {
            assert!(sql.contains(&format!("'{}'", c.as_str())), "{c:?}");
            assert_eq!(CallbackState::parse(c.as_str()), Some(c));
        }
        assert_eq!(CallbackState::parse("Pending"), None);
    }
}
