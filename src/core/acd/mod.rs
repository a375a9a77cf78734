//! Operator routing (ACD), pure: operator states with their times ([`agent`]), one queue's
//! order and limits ([`queue`]), and the choice of operator for a call ([`routing`]).
//! No I/O and no clock reads: every input carries `now`; the shared live state (the queue and
//! operator availability every contactd instance sees) lives in `store::acd`.
pub mod agent;
pub mod queue;
pub mod routing;

/// A call's id as the switch knows it (the channel UUID of the caller's leg).
pub type CallId = String;
/// An operator's id (login), unique across the contact center.
pub type AgentId = String;
