//! What the store's methods return, and the live values of calls and operators.

use crate::core::acd::agent::StateName;

/// The result of [`AcdStore::enqueue`](super::AcdStore::enqueue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Waiting at 1-based `position`; `seq` is its arrival order (kept if it was already there).
    Waiting { position: u64, seq: u64 },
    /// The queue holds `max_waiting` callers already: offer a callback.
    Refused,
    /// The call is ringing or talking with an operator; it is not queued twice.
    AlreadyOffered,
}

/// A call reserved for an operator. `offer` names this one offer, so a ring timeout that
/// arrives after the call was offered again is recognised as stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub call: String,
    pub agent: String,
    pub offer: u64,
}

/// What an offer reads before it rings, returned with its reservation: the call's meta
/// (JSON) and the operator's phone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferStart {
    pub meta: Option<String>,
    pub endpoint: Option<String>,
}

/// What [`AcdStore::abandon`](super::AcdStore::abandon) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandoned {
    WasWaiting,
    /// The operator's phone was ringing; they are ready again.
    WasRinging,
    /// Not in a queue nor ringing (talking, or already gone): nothing changed.
    NotFound,
}

/// An operator's entry in `acd:agents`: `state|at_ms|idle_ms|offer|call`.
pub fn agent_value(
    state: StateName,
    at_ms: i64,
    idle_ms: Option<i64>,
    offer: Option<u64>,
    call: Option<&str>,
) -> String {
    format!(
        "{}|{at_ms}|{}|{}|{}",
        state.live_key(),
        idle_ms.map(|v| v.to_string()).unwrap_or_default(),
        offer.map(|v| v.to_string()).unwrap_or_default(),
        call.unwrap_or_default()
    )
}

/// A call's entry in `acd:calls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    pub priority: u8,
    pub seq: u64,
    pub arrived_ms: i64,
    pub queue: String,
}

impl CallInfo {
    pub(super) fn parse(s: &str) -> Option<Self> {
        let mut it = s.splitn(4, '|');
        Some(Self {
            priority: it.next()?.parse().ok()?,
            seq: it.next()?.parse().ok()?,
            arrived_ms: it.next()?.parse().ok()?,
            queue: it.next()?.to_string(),
        })
    }
}

/// An operator's entry in `acd:agents`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInfo {
    pub state: StateName,
    pub at_ms: i64,
    pub idle_ms: Option<i64>,
    pub offer: Option<u64>,
    pub call: Option<String>,
}

impl AgentInfo {
    pub(super) fn parse(s: &str) -> Option<Self> {
        let mut it = s.splitn(5, '|');
        let state = StateName::from_live_key(it.next()?)?;
        let at_ms = it.next()?.parse().unwrap_or(0);
        let idle_ms = it.next().and_then(|v| v.parse().ok());
        let offer = it.next().and_then(|v| v.parse().ok());
        let call = it.next().filter(|v| !v.is_empty()).map(str::to_string);
        Some(Self {
            state,
            at_ms,
            idle_ms,
            offer,
            call,
        })
    }
}
