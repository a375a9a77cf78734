//! `[amd]`: answering-machine detection and call progress on answered campaign calls —
//! which detectors run (mod_avmd, mod_spandsp's tone descriptor) and the first-utterance
//! timing `wait_for_silence` is given. See docs/design.md, "Answering-machine detection".

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigProblem;
use crate::core::amd::Rules;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AmdSettings {
    /// Classify notice-campaign calls (machines get the message after the beep, reported
    /// `machine`; announcements, fax and silence are hung up, not reached).
    pub notices: bool,
    /// Classify operator-campaign calls (machines never reach an operator).
    pub enabled: bool,
    /// mod_avmd beep detection.
    pub avmd: bool,
    /// mod_spandsp tone detection with this descriptor of spandsp.conf (SIT, fax); empty: off.
    pub tone_descriptor: String,
    /// `wait_for_silence` energy threshold (mean absolute sample of a 20 ms frame).
    pub threshold: u32,
    /// Speech shorter than this does not start an utterance.
    pub min_word_ms: u64,
    /// Quiet that ends an utterance.
    pub after_greeting_silence_ms: u64,
    /// A first utterance ending later than this after the answer is a machine's greeting.
    pub greeting_ms: u64,
    /// Nobody spoke within this: silence.
    pub total_analysis_ms: u64,
    /// How long a notice waits for a machine's beep after its greeting before leaving the
    /// message anyway.
    pub beep_wait_ms: u64,
}

impl Default for AmdSettings {
    fn default() -> Self {
        AmdSettings {
            notices: true,
            enabled: true,
            avmd: true,
            tone_descriptor: "contactd".into(),
            threshold: 200,
            min_word_ms: 100,
            after_greeting_silence_ms: 300,
            greeting_ms: 1500,
            total_analysis_ms: 5000,
            beep_wait_ms: 20_000,
        }
    }
}

impl AmdSettings {
    /// The classifier's timing rules.
    pub fn rules(&self) -> Rules {
        Rules {
            greeting: Duration::from_millis(self.greeting_ms),
            after_greeting_silence: Duration::from_millis(self.after_greeting_silence_ms),
            total_analysis: Duration::from_millis(self.total_analysis_ms),
            min_word: Duration::from_millis(self.min_word_ms),
        }
    }

    /// `wait_for_silence` arguments for the first utterance.
    pub fn listen_args(&self) -> String {
        crate::core::amd::listen_args(&self.rules(), self.threshold)
    }

    /// Problems, named by key.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        let mut bad = |key: &str, problem: &str| {
            out.push(ConfigProblem {
                key: format!("amd.{key}"),
                problem: problem.into(),
            })
        };
        let d = &self.tone_descriptor;
        if d.len() > 32
            || !d
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            bad(
                "tone_descriptor",
                "must be up to 32 of A-Z a-z 0-9 _ - (a descriptor name of spandsp.conf)",
            );
        }
        if !(1..=32_767).contains(&self.threshold) {
            bad("threshold", "must be 1-32767");
        }
        if !(20..=2000).contains(&self.min_word_ms) {
            bad("min_word_ms", "must be 20-2000");
        }
        if !(100..=5000).contains(&self.after_greeting_silence_ms) {
            bad("after_greeting_silence_ms", "must be 100-5000");
        }
        if !(300..=10_000).contains(&self.greeting_ms) {
            bad("greeting_ms", "must be 300-10000");
        }
        let least = self.greeting_ms + self.after_greeting_silence_ms + 500;
        if self.total_analysis_ms > 30_000 || self.total_analysis_ms <= least {
            bad(
                "total_analysis_ms",
                "must be at most 30000 and more than greeting_ms + after_greeting_silence_ms + 500",
            );
        }
        if self.beep_wait_ms > 60_000 {
            bad("beep_wait_ms", "must be 0-60000");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    use crate::config::tests::MINIMAL as GOOD;

    #[test]
    fn defaults_load_and_mistakes_are_named_by_key() {
        let cfg = Config::from_toml(GOOD).unwrap();
        assert!(cfg.amd.notices && cfg.amd.enabled);
        assert_eq!(cfg.amd.listen_args(), "200 15 5 5000");
        let text = format!(
            "{GOOD}\n[amd]\ntone_descriptor = \"a b\"\nthreshold = 0\ngreeting_ms = 4000\n\
             total_analysis_ms = 4000\nbeep_wait_ms = 90000\n"
        );
        let err = Config::from_toml(&text).unwrap_err().to_string();
        for key in [
            "amd.tone_descriptor",
            "amd.threshold",
            "amd.total_analysis_ms",
            "amd.beep_wait_ms",
        ] {
            assert!(err.contains(key), "{key} missing in: {err}");
        }
        let err = Config::from_toml(&format!("{GOOD}\n[amd]\nnotice = false\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("notice"), "{err}");
    }
}
