//! Outbound pacing of operator campaigns: how many calls to place now so that the persons
//! who answer find an operator, in preview, progressive or predictive mode, while the
//! abandon rate (answered persons who got no operator within `connect_within`) stays under
//! the legal cap. Pure, sans-IO like `core::campaign::pacer`: no async, no I/O, no clock
//! reads — every input carries `now`, [`Pacer::poll_timeout`] says when the next
//! re-estimate is due, [`Pacer::poll_decision`] hands out what was decided and why. The
//! service builds the [`Floor`] from the ACD's live state and places the calls; this module
//! never touches Redis, the switch or the store, and knows nothing of lists or windows
//! (those stay in `core::campaign`).

mod abandon;
mod estimate;
mod pacer;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use abandon::{answer_lag, AbandonFigures};
// the arithmetic itself, for the bench's reference dialer that feeds it the world's truth
pub use estimate::{
    calls_to_add, operators_free, person_within, ring_quantiles, Moment, RISK_PER_CALL,
};
pub use pacer::{Pacer, PacingDecision};

/// How an operator campaign decides when to dial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DialMode {
    /// The operator sees the contact and presses call: the pacer never dials by itself.
    Preview,
    /// One call per ready operator: no abandons unless an operator leaves meanwhile.
    Progressive,
    /// More calls than ready operators, from the answer rate and who is about to finish.
    Predictive,
}

impl DialMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preview => "preview",
            Self::Progressive => "progressive",
            Self::Predictive => "predictive",
        }
    }
}

impl fmt::Display for DialMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mode name that is not one of `preview`, `progressive`, `predictive`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dial mode {0:?} is not preview, progressive or predictive")]
pub struct UnknownDialMode(pub String);

impl FromStr for DialMode {
    type Err = UnknownDialMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "preview" => Ok(Self::Preview),
            "progressive" => Ok(Self::Progressive),
            "predictive" => Ok(Self::Predictive),
            other => Err(UnknownDialMode(other.into())),
        }
    }
}

/// A campaign's pacing rules.
#[derive(Debug, Clone, PartialEq)]
pub struct PacingSettings {
    pub mode: DialMode,
    /// Most calls in flight per operator present (ready, talking or wrapping up): VICIdial's
    /// "maximum dial level", 3.0 by default.
    pub max_ratio: f64,
    /// The legal abandon cap in percent (3 % in the UK and the US).
    pub abandon_cap_pct: f64,
    /// The estimates (answer rate, ring and handle times, the abandon fallback) are redone at
    /// least this often; 15 s as VICIdial.
    pub reestimate_every: Duration,
    /// An answered person must reach an operator within this, else the call is abandoned.
    pub connect_within: Duration,
}

impl Default for PacingSettings {
    fn default() -> Self {
        Self {
            mode: DialMode::Progressive,
            max_ratio: 3.0,
            abandon_cap_pct: 3.0,
            reestimate_every: Duration::from_secs(15),
            connect_within: Duration::from_secs(2),
        }
    }
}

/// What the floor looks like now (the service builds it from the ACD's live state and its
/// own calls).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Floor {
    /// Operators ready for this campaign now (not reserved).
    pub ready: u32,
    /// Per operator in after-call work: how long so far.
    pub wrapping_up: Vec<Duration>,
    /// Per operator talking (campaign call): how long so far.
    pub talking: Vec<Duration>,
    /// Calls placed, not yet answered or failed.
    pub in_flight: u32,
    /// Per call in flight: how long since it was placed. A call that has rung long is less
    /// likely a person (most no-answers ring to their timeout). Optional: when its length
    /// is not `in_flight`, every call in flight is taken as just placed (fewer calls).
    pub ringing: Vec<Duration>,
    /// Lines the campaign may still take (campaign cap and trunk).
    pub lines_free: u32,
}

impl Floor {
    /// Operators present for the campaign: the base of the dial level and of `max_ratio`.
    pub fn operators(&self) -> u32 {
        let busy = self.wrapping_up.len() + self.talking.len();
        self.ready
            .saturating_add(u32::try_from(busy).unwrap_or(u32::MAX))
    }
}

/// Who or what answered a call (the answering-machine detector's verdict). Only a person
/// counts as answered for the answer rate and the abandon rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnsweredBy {
    Person,
    Machine,
    Announcement,
    Fax,
    Silence,
}

/// Whether a preview held on the screen of an operator in `state` (and for how long in it;
/// `None`: their state is not known) is left behind: they are away (logged out, absent, on a
/// break, or not ready after a missed offer) for `release_after` or more. An operator
/// working (ready, offered, talking, wrap-up) keeps it; an unknown state (the live state
/// lost) never releases it — the contact stays theirs until it is known.
pub fn preview_left_behind(
    state: Option<(crate::core::acd::agent::StateName, Duration)>,
    release_after: Duration,
) -> bool {
    use crate::core::acd::agent::StateName as S;
    match state {
        Some((S::LoggedOut | S::Absent | S::Break | S::Missed, for_)) => for_ >= release_after,
        _ => false,
    }
}
