//! What the ACD shows the outside world: the screen-pop card, operator commands, views of
//! queues and operators, and its errors. The HTTP API and the feature codes use only these.

use serde::Serialize;

use crate::core::acd::agent::{Command, DEFAULT_BREAK_REASON};
use crate::core::acd::names::check_break_reason;

/// What an operator (or a supervisor on their behalf) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorCommand {
    /// Log in: ready for calls.
    Login,
    Logout,
    /// Back to work from a break, absence, a missed call or after-call work.
    Ready,
    /// A break with its reason (lunch, training, ...): letters, digits, `_`, `-`.
    Break(String),
    Absent,
}

impl OperatorCommand {
    /// Parses the API's `{"state": "...", "reason": "..."}`.
    pub fn parse(state: &str, reason: Option<&str>) -> Result<Self, AcdError> {
        let command = Command::from_word(state).ok_or_else(|| {
            let words: Vec<&str> = Command::ALL.iter().map(|c| c.word()).collect();
            AcdError::Invalid(format!("state {state:?}: one of {}", words.join(", ")))
        })?;
        Ok(match command {
            Command::LogIn => Self::Login,
            Command::LogOut => Self::Logout,
            Command::GoReady => Self::Ready,
            Command::GoAbsent => Self::Absent,
            Command::TakeBreak => {
                let r = reason.unwrap_or(DEFAULT_BREAK_REASON);
                check_break_reason(r).map_err(AcdError::Invalid)?;
                Self::Break(r.to_string())
            }
        })
    }

    /// The core's command, and the break's reason ("" for the others).
    pub fn command(&self) -> (Command, &str) {
        match self {
            Self::Login => (Command::LogIn, ""),
            Self::Logout => (Command::LogOut, ""),
            Self::Ready => (Command::GoReady, ""),
            Self::Break(r) => (Command::TakeBreak, r),
            Self::Absent => (Command::GoAbsent, ""),
        }
    }
}

/// Blind: the operator's leg is released at once and the caller waits in the target queue.
/// Attended: the operator stays with the caller on hold until the target answers... see
/// `Acd::transfer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferMode {
    Blind,
    Attended,
}

/// The customer card pushed to the operator's screen when a call is offered.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScreenPop {
    /// The caller's channel UUID (the key for transfers and records).
    pub call: String,
    pub operator: String,
    pub queue: String,
    pub caller: Option<String>,
    /// When the call entered the queue and when it was offered (RFC 3339).
    pub entered_at: String,
    pub offered_at: String,
    pub waited_s: f64,
    /// What the IVR learned: account, step reached, and any `contactd_*` variables.
    pub ivr: std::collections::BTreeMap<String, String>,
    pub customer: Option<CustomerCard>,
    /// An operator campaign's call: the campaign, the contact's row, the call script.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<super::campaign_card::CampaignCard>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct CustomerCard {
    pub account: String,
    pub holder: String,
    /// Minor units (kopecks) and the configured currency.
    pub balance_minor: i64,
    pub currency: String,
    pub last_readings: Vec<ReadingView>,
    pub recent_calls: Vec<RecentCall>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReadingView {
    pub meter: String,
    pub zone: String,
    pub value: i64,
    pub taken_on: String,
    pub source: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecentCall {
    pub at: String,
    pub queue: String,
    pub outcome: Option<String>,
    pub operator: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueueView {
    pub name: String,
    pub group: String,
    /// Caller channel UUIDs, head first.
    pub waiting: Vec<String>,
    pub max_waiting: usize,
    pub ready_operators: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OperatorView {
    pub login: String,
    pub name: String,
    pub endpoint: String,
    /// A `core::acd::agent::StateName`'s key.
    pub state: String,
    pub since: Option<String>,
    pub call: Option<String>,
    pub skills: Vec<(String, u8)>,
}

#[derive(Debug, thiserror::Error)]
pub enum AcdError {
    #[error("{0}")]
    Invalid(String),
    #[error("no such {0}")]
    NotFound(String),
    /// The change is not possible now (the operator is on a call, the call is not talking).
    #[error("{0}")]
    Conflict(String),
    #[error("storage: {0}")]
    Store(String),
    #[error("switch: {0}")]
    Switch(String),
}

impl From<crate::store::postgres::StoreError> for AcdError {
    fn from(e: crate::store::postgres::StoreError) -> Self {
        AcdError::Store(e.to_string())
    }
}
