//! `[switch.NAME]` (FreeSWITCH nodes over ESL), `[trunk.NAME]` (external line groups) and
//! `[outbound]` (the socket the dialplan connects calls to).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchConfig {
    pub host: String,
    #[serde(default = "default_esl_port")]
    pub port: u16,
    pub password: Secret,
    /// First reconnect delay; doubles up to `reconnect_max_ms`.
    #[serde(default = "default_reconnect_min")]
    pub reconnect_min_ms: u64,
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_ms: u64,
    /// Events buffered between the socket reader and contactd; FreeSWITCH itself drops a
    /// listener whose queue is full, so read fast into a bounded queue.
    #[serde(default = "default_event_queue")]
    pub event_queue: usize,
}

fn default_esl_port() -> u16 {
    8021
}
fn default_reconnect_min() -> u64 {
    500
}
fn default_reconnect_max() -> u64 {
    30_000
}
fn default_event_queue() -> usize {
    50_000
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TrunkKind {
    /// FreeTDM E1 span: 30 voice channels.
    E1,
    /// FreeTDM analog FXO card: one call per port.
    Fxo,
    /// SIP gateway with a provider-given channel limit.
    Sip,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    /// Which `[switch.NAME]` carries this trunk.
    pub switch: String,
    pub kind: TrunkKind,
    /// Channels the trunk has; never exceeded across all campaigns.
    pub channels: u32,
    /// Dial string with `{number}`, e.g. `freetdm/1/a/{number}` or `sofia/gateway/gw1/{number}`.
    pub dial: String,
    /// The FreeTDM span (its number, or its name in freetdm.conf) whose alarms take this
    /// trunk out of service. Unset: the span the dial string names (`freetdm/1/...` → 1);
    /// none for other endpoints.
    #[serde(default)]
    pub span: Option<String>,
    /// How long a channel of this trunk stays unusable after its call ends, before it is
    /// dialed on again. Unset: 600 ms on FreeTDM (its analog module holds a hung-up channel
    /// 500 ms before it is free; an ISDN or R2 span clears with the network), 0 on SIP.
    #[serde(default)]
    pub release_guard_ms: Option<u64>,
}

/// A hung-up FreeTDM channel's time to be free again: ftmod_analog keeps it in HANGUP for
/// 500 ms, then needs a poll of its span thread to close it.
const FREETDM_RELEASE_GUARD: Duration = Duration::from_millis(600);

impl TrunkConfig {
    /// How long a channel stays unusable after its call ends (see `release_guard_ms`).
    pub fn release_guard(&self) -> Duration {
        match (self.release_guard_ms, self.kind) {
            (Some(ms), _) => Duration::from_millis(ms),
            (None, TrunkKind::E1 | TrunkKind::Fxo) => FREETDM_RELEASE_GUARD,
            (None, TrunkKind::Sip) => Duration::ZERO,
        }
    }

    /// The span whose alarms this trunk follows, if it is a FreeTDM trunk.
    pub fn span_name(&self) -> Option<String> {
        self.span
            .clone()
            .or_else(|| crate::core::trunks::span_of_dial(&self.dial))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    /// Where the dialplan's `socket <addr> async full` connects.
    pub listen: String,
    /// Calls handled at once; one more is refused (its `socket` app fails and the
    /// dialplan goes on), so an overload cannot exhaust the daemon.
    pub max_calls: usize,
    /// How old a call may grow, from its first ring, while contactd holds it at start
    /// waiting for PostgreSQL and Redis (`service::lobby`); then the caller is told the
    /// service is unavailable and hung up.
    pub lobby_max_seconds: u64,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8084".into(),
            max_calls: 2000,
            lobby_max_seconds: 120,
        }
    }
}
