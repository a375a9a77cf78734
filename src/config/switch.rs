//! `[switch.NAME]` (FreeSWITCH nodes over ESL), `[trunk.NAME]` (external line groups) and
//! `[outbound]` (the socket the dialplan connects calls to).

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
}

impl TrunkConfig {
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
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8084".into(),
            max_calls: 2000,
        }
    }
}
