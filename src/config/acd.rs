//! `[acd]`: operator routing, its queues and their overflow; checked in `validate.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Operator routing (ACD).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcdConfig {
    /// An operator who does not answer within this becomes "not ready (missed)".
    pub ring_timeout_seconds: u64,
    /// After-call work: how long an operator stays out of routing after a call.
    pub wrap_up_seconds: u64,
    /// Waiting callers hear their position and the estimated wait this often (0 = never).
    pub announce_every_seconds: u64,
    /// What waiting callers hear between announcements.
    pub music_on_hold: String,
    /// Optional: the screen-pop card is also POSTed here as JSON (http:// only).
    pub webhook_url: String,
    /// Average handle time assumed until the queue has answered calls of its own (the
    /// estimated wait then uses its last 50: talk plus after-call work).
    pub default_handle_seconds: u64,
    /// Queues by name; the IVR hands over to `queue:<name>` (see `ivr.operator`).
    pub queue: BTreeMap<String, AcdQueueConfig>,
}

impl Default for AcdConfig {
    fn default() -> Self {
        let q = |group: &str, overflow: &str| AcdQueueConfig {
            group: group.into(),
            overflow: overflow.into(),
            ..AcdQueueConfig::default()
        };
        Self {
            ring_timeout_seconds: 15,
            wrap_up_seconds: 30,
            announce_every_seconds: 30,
            music_on_hold: "local_stream://moh".into(),
            webhook_url: String::new(),
            default_handle_seconds: 180,
            queue: [
                ("general", q("general", "callback")),
                ("meter", q("meter", "queue:general")),
                ("connection", q("connection", "queue:general")),
                ("contracts", q("contracts", "queue:general")),
                ("specialists", q("specialists", "queue:supervisors")),
                ("supervisors", q("supervisors", "callback")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        }
    }
}

/// One queue: which operators take it and what happens when it is full or too slow.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcdQueueConfig {
    /// The operator group (skill) that answers this queue.
    pub group: String,
    /// Lowest skill level in `group` an operator needs.
    pub min_level: u8,
    /// Callers waiting at most; the next hears "all operators are busy" and may leave a callback.
    pub max_waiting: usize,
    /// After this long waiting the caller overflows (0 = never).
    pub max_wait_seconds: u64,
    /// `callback` (offer a callback and end the call) or `queue:<name>`.
    pub overflow: String,
    /// 0-200; higher is answered first within the queue. Transfers enter at 250.
    pub priority: u8,
    /// The service-level target: answered within this many seconds (KPIs, wallboard).
    pub service_level_seconds: u32,
    /// The share of calls to answer within that target, percent (staffing forecasts).
    pub service_level_goal: f64,
}

impl Default for AcdQueueConfig {
    fn default() -> Self {
        Self {
            group: "general".into(),
            min_level: 1,
            max_waiting: 6,
            max_wait_seconds: 300,
            overflow: "callback".into(),
            priority: 100,
            service_level_seconds: 20,
            service_level_goal: 80.0,
        }
    }
}

impl AcdConfig {
    /// Each queue's service-level target, seconds (the KPIs' "answered in time").
    pub fn service_level_targets(&self) -> BTreeMap<String, u32> {
        self.queue
            .iter()
            .map(|(name, q)| (name.clone(), q.service_level_seconds))
            .collect()
    }
}
