//! `[campaigns.operator]`: what operator campaigns (preview, progressive, predictive) share:
//! the dispositions operators choose from, the abandon message, the default queue, the
//! pacing limits (most calls per available operator, the legal abandon cap) and how campaign
//! calls blend with inbound callers on the same operators.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OperatorCampaignConfig {
    /// The codes an operator may set after a campaign call (`POST …/disposition`).
    pub dispositions: Vec<String>,
    /// Of those, the ones that schedule a callback (`callback_at` and `callback_number`).
    pub callback_dispositions: Vec<String>,
    /// The abandon message (who is calling, a callback number): an absolute path readable by
    /// FreeSWITCH. A campaign started without `--abandon-message` plays this one.
    pub abandon_message: String,
    /// The ACD queue (`[acd.queue.NAME]`) a campaign started without `--queue` uses.
    pub queue: String,
    /// Most calls in flight per available operator (predictive).
    pub max_ratio: f64,
    /// The legal abandon cap, percent of answered calls (rolling 24 h and the day).
    pub abandon_cap_pct: f64,
    /// An answered person must reach an operator within this (ms); else the abandon message.
    pub connect_within_ms: u64,
    /// The switch itself starts the abandon message this long after the answer (ms, on the
    /// switch's clock) on a call not bridged to an operator by then: the call's own script
    /// (`sleep`, `playback`, `hangup`), so the message is heard even while contactd is down
    /// or cut off from the switch. Unset: `connect_within_ms` − 200. Only a simulator on a
    /// compressed clock wants it set (scaled to that clock).
    pub abandon_message_after_ms: Option<u64>,
    /// How often the predictive dial level is re-estimated at the latest (s).
    pub reestimate_seconds: u64,
    /// Blending: the priority a person answered by a campaign call gets in the ACD queue
    /// (inbound callers have their queue's `priority`; transfers 250). Higher goes first.
    pub outbound_priority: u8,
    /// Blending: inbound callers waiting in the campaign's queue take that many ready
    /// operators away from the campaign's pacing (true), or not (false).
    pub inbound_first: bool,
    /// A callback scheduled by an operator who is not logged in (or not ready) this long
    /// after it is due goes to any operator of the queue (s).
    pub callback_grace_seconds: u64,
    /// Ring time of the campaign's calls (s).
    pub ring_seconds: u32,
    /// An operator's phone rung (auto-answer) for a campaign call and not answered within
    /// this (ms) is a missed offer, as for inbound: "not ready (missed)", and the person is
    /// offered to the next ready operator while `connect_within_ms` lasts.
    pub operator_answer_ms: u64,
    /// An operator's callback that is not answered, busy or failed is dialed again this
    /// many times, `callback_retry_seconds` apart, then marked failed.
    pub callback_retries: u32,
    pub callback_retry_seconds: u32,
    /// A previewed contact held by an operator who has been logged out, absent, on a break
    /// or not ready (missed) this long (s) goes back to the list for someone else.
    pub preview_release_seconds: u64,
}

impl Default for OperatorCampaignConfig {
    fn default() -> Self {
        Self {
            dispositions: [
                "sale",
                "not_interested",
                "callback",
                "wrong_number",
                "do_not_call",
            ]
            .map(String::from)
            .to_vec(),
            callback_dispositions: vec!["callback".into()],
            abandon_message: "/var/lib/contactd/prompts/abandon.wav".into(),
            queue: "general".into(),
            max_ratio: 3.0,
            abandon_cap_pct: 3.0,
            connect_within_ms: 2000,
            abandon_message_after_ms: None,
            reestimate_seconds: 15,
            outbound_priority: 240,
            inbound_first: true,
            callback_grace_seconds: 300,
            ring_seconds: 25,
            operator_answer_ms: 500,
            callback_retries: 2,
            callback_retry_seconds: 600,
            preview_release_seconds: 900,
        }
    }
}

impl OperatorCampaignConfig {
    pub fn connect_within(&self) -> Duration {
        Duration::from_millis(self.connect_within_ms)
    }

    /// When the switch starts the abandon message itself (ms after the answer, switch clock).
    pub fn abandon_message_after_ms(&self) -> u64 {
        self.abandon_message_after_ms
            .unwrap_or(self.connect_within_ms.saturating_sub(200))
    }

    pub fn operator_answer(&self) -> Duration {
        Duration::from_millis(self.operator_answer_ms)
    }

    /// Problems a start must refuse, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let key = "campaigns.operator";
        if self.dispositions.is_empty() {
            out.push(format!("{key}.dispositions: at least one code"));
        }
        for d in self.dispositions.iter().chain(&self.callback_dispositions) {
            if d.is_empty()
                || d.len() > 40
                || !d
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                out.push(format!(
                    "{key}.dispositions: {d:?}: letters, digits, _ and - (1-40)"
                ));
            }
        }
        for d in &self.callback_dispositions {
            if !self.dispositions.contains(d) {
                out.push(format!(
                    "{key}.callback_dispositions: {d:?} is not in dispositions"
                ));
            }
        }
        if !(1.0..=10.0).contains(&self.max_ratio) {
            out.push(format!("{key}.max_ratio: 1.0 to 10.0"));
        }
        if !(0.0..=100.0).contains(&self.abandon_cap_pct) {
            out.push(format!("{key}.abandon_cap_pct: 0 to 100"));
        }
        if !(200..=10_000).contains(&self.connect_within_ms) {
            out.push(format!("{key}.connect_within_ms: 200 to 10000"));
        }
        if let Some(ms) = self.abandon_message_after_ms {
            if !(100..=600_000).contains(&ms) {
                out.push(format!("{key}.abandon_message_after_ms: 100 to 600000"));
            }
        }
        if !(100..=self.connect_within_ms.max(100)).contains(&self.operator_answer_ms) {
            out.push(format!(
                "{key}.operator_answer_ms: 100 to connect_within_ms ({})",
                self.connect_within_ms
            ));
        }
        if self.callback_retries > 20 {
            out.push(format!("{key}.callback_retries: 0 to 20"));
        }
        if !(1..=86_400).contains(&self.callback_retry_seconds) {
            out.push(format!("{key}.callback_retry_seconds: 1 to 86400"));
        }
        if !(60..=86_400).contains(&self.preview_release_seconds) {
            out.push(format!("{key}.preview_release_seconds: 60 to 86400"));
        }
        if !(1..=15).contains(&self.reestimate_seconds) {
            out.push(format!("{key}.reestimate_seconds: 1 to 15"));
        }
        if !self.abandon_message.starts_with('/') {
            out.push(format!("{key}.abandon_message: an absolute path"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert!(OperatorCampaignConfig::default().problems().is_empty());
    }

    #[test]
    fn the_operator_answer_and_callback_retry_limits_are_named() {
        let c = OperatorCampaignConfig {
            operator_answer_ms: 2500,
            callback_retry_seconds: 0,
            callback_retries: 21,
            ..Default::default()
        };
        let p = c.problems().join("\n");
        assert!(
            p.contains("operator_answer_ms: 100 to connect_within_ms (2000)"),
            "{p}"
        );
        assert!(p.contains("callback_retry_seconds: 1 to 86400"), "{p}");
        assert!(p.contains("callback_retries: 0 to 20"), "{p}");
    }

    #[test]
    fn a_callback_code_must_be_a_disposition() {
        let c = OperatorCampaignConfig {
            callback_dispositions: vec!["later".into()],
            ..Default::default()
        };
        assert!(c.problems()[0].contains("later"), "{:?}", c.problems());
    }
}
