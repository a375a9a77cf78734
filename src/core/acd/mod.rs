//! Operator routing (ACD), pure: the operator states and the one table of changes between
//! them ([`agent`]), who qualifies for a queue's calls ([`routing`]), a queue's overflow,
//! call kinds and estimated wait ([`queue`]), and the names and phones operators are given
//! ([`names`]). No I/O and no clock reads; the shared live state (the queue and operator
//! availability every contactd instance sees) lives in `store::acd`, whose scripts take
//! their states and transitions from here.
pub mod agent;
pub mod names;
pub mod outcome;
pub mod queue;
pub mod routing;
pub mod timeline;
