//! `[qa]`: which ACD calls are sampled for a supervisor's review (`core::qa`); checked
//! here, each problem naming its key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ConfigProblem;
use crate::core::qa::Rules;

/// QA sampling rules; every rule is off by default.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QaConfig {
    /// Percentage (0–100) of each queue's answered calls, by queue name, e.g.
    /// `percent = { general = 5, meter = 2.5 }`.
    pub percent: BTreeMap<String, f64>,
    /// At least this many answered calls per operator per day (0: off).
    pub per_operator_per_day: u32,
    /// Calls handled longer than this × their queue's average of the day (0: off; else 1–100).
    pub long_call_factor: f64,
    /// Calls an operator transferred to another queue.
    pub transferred: bool,
    /// Calls abandoned after waiting longer than this, seconds (0: off).
    pub abandoned_after_seconds: u64,
    /// Percentage (0–100) of an operator's outbound (operator-campaign) calls, by operator
    /// login, e.g. `outbound = { ivanova = 20 }`: "only outbound calls of one operator".
    pub outbound: BTreeMap<String, f64>,
}

impl QaConfig {
    /// The rules for `core::qa`.
    pub fn rules(&self) -> Rules {
        Rules {
            percent: self.percent.clone(),
            per_operator_per_day: self.per_operator_per_day,
            long_call_factor: self.long_call_factor,
            transferred: self.transferred,
            abandoned_after_seconds: self.abandoned_after_seconds,
            outbound: self.outbound.clone(),
        }
    }

    /// Problems, by key; `queues` are the configured `[acd.queue.NAME]`s.
    pub fn problems(&self, queues: &BTreeMap<String, super::AcdQueueConfig>) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        let mut bad = |key: String, problem: &str| {
            out.push(ConfigProblem {
                key,
                problem: problem.into(),
            })
        };
        for (queue, p) in &self.percent {
            let key = format!("qa.percent.{queue}");
            if !queues.contains_key(queue) {
                bad(key.clone(), "names no [acd.queue.NAME]");
            }
            if !(p.is_finite() && (0.0..=100.0).contains(p)) {
                bad(key, "must be a percentage 0-100");
            }
        }
        for (login, p) in &self.outbound {
            let key = format!("qa.outbound.{login}");
            if login.is_empty()
                || login.len() > 64
                || !login
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
            {
                bad(
                    key.clone(),
                    "must be an operator login ([a-z0-9_.-], 1-64 characters)",
                );
            }
            if !(p.is_finite() && (0.0..=100.0).contains(p)) {
                bad(key, "must be a percentage 0-100");
            }
        }
        if self.per_operator_per_day > 1000 {
            bad("qa.per_operator_per_day".into(), "must be 0-1000");
        }
        let k = self.long_call_factor;
        if !(k == 0.0 || (k.is_finite() && (1.0..=100.0).contains(&k))) {
            bad(
                "qa.long_call_factor".into(),
                "must be 0 (off) or 1-100 (times the queue's average handle time)",
            );
        }
        if self.abandoned_after_seconds > 86_400 {
            bad("qa.abandoned_after_seconds".into(), "must be 0-86400");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    use crate::config::tests::MINIMAL as GOOD;

    #[test]
    fn qa_rules_load_and_mistakes_are_named_by_key() {
        let text = format!(
            "{GOOD}\n[qa]\npercent = {{ general = 5, meter = 2.5 }}\nper_operator_per_day = 2\n\
             long_call_factor = 3\ntransferred = true\nabandoned_after_seconds = 120\n"
        );
        let rules = Config::from_toml(&text).unwrap().qa.rules();
        assert_eq!(rules.percent["meter"], 2.5);
        assert_eq!(
            (
                rules.per_operator_per_day,
                rules.long_call_factor,
                rules.transferred
            ),
            (2, 3.0, true)
        );
        assert_eq!(
            Config::from_toml(GOOD).unwrap().qa.rules(),
            Default::default()
        );
        let text = format!(
            "{GOOD}\n[qa]\npercent = {{ general = 101, sales = 5 }}\nper_operator_per_day = 5000\n\
             long_call_factor = 0.5\nabandoned_after_seconds = 100000\n"
        );
        let err = Config::from_toml(&text).unwrap_err().to_string();
        for key in [
            "qa.percent.general: must be a percentage",
            "qa.percent.sales: names no [acd.queue.NAME]",
            "qa.per_operator_per_day",
            "qa.long_call_factor",
            "qa.abandoned_after_seconds",
        ] {
            assert!(err.contains(key), "{key} missing in: {err}");
        }
        let text = format!("{GOOD}\n[qa]\nprecent = {{ general = 5 }}\n");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("precent"), "{err}");
    }
}
