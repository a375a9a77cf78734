//! `[wallboard]`: the supervisors' live board — its default language, the day's plan and the
//! public wait counter's rate limit; checked here, each problem named by its key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Config;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WallboardConfig {
    /// `ru` or `en`: the board's text when neither `?lang=` nor the browser says.
    pub language: String,
    /// The day's plan: answered calls each operator should reach (0 = no plan shown).
    pub plan_calls_per_operator: u32,
    /// The day's plan per queue: answered calls; queues not named have none.
    pub plan_calls_per_queue: BTreeMap<String, u32>,
    /// How often the day's and the interval's figures (and campaigns) are read again, besides
    /// at the end of each call.
    pub stats_refresh_seconds: u64,
    /// Public wait counter: requests a client address may make in a burst...
    pub public_burst: u32,
    /// ...and refilled at this many per minute.
    pub public_per_minute: u32,
    /// How long a login to the board lasts.
    pub session_hours: u64,
}

impl Default for WallboardConfig {
    fn default() -> Self {
        Self {
            language: "ru".into(),
            plan_calls_per_operator: 0,
            plan_calls_per_queue: BTreeMap::new(),
            stats_refresh_seconds: 5,
            public_burst: 10,
            public_per_minute: 60,
            session_hours: 12,
        }
    }
}

impl Config {
    pub(super) fn validate_wallboard(&self, bad: &mut impl FnMut(String, &str)) {
        let w = &self.wallboard;
        if !matches!(w.language.as_str(), "ru" | "en") {
            bad("wallboard.language".into(), "must be ru or en");
        }
        for q in w.plan_calls_per_queue.keys() {
            if !self.acd.queue.contains_key(q) {
                bad(
                    format!("wallboard.plan_calls_per_queue.{q}"),
                    "names a queue that is not configured in [acd.queue.NAME]",
                );
            }
        }
        if !(1..=300).contains(&w.stats_refresh_seconds) {
            bad("wallboard.stats_refresh_seconds".into(), "must be 1 to 300");
        }
        if w.public_burst == 0 || w.public_burst > 10_000 {
            bad("wallboard.public_burst".into(), "must be 1 to 10000");
        }
        if w.public_per_minute == 0 || w.public_per_minute > 60_000 {
            bad("wallboard.public_per_minute".into(), "must be 1 to 60000");
        }
        if !(1..=168).contains(&w.session_hours) {
            bad("wallboard.session_hours".into(), "must be 1 to 168");
        }
        let sup = self.http.supervisor_token.expose();
        if !sup.is_empty() && sup.len() < 16 {
            bad(
                "http.supervisor_token".into(),
                "must be empty (none) or at least 16 characters",
            );
        }
        if !sup.is_empty() && sup == self.http.token.expose() {
            bad(
                "http.supervisor_token".into(),
                "must differ from http.token",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    use crate::config::tests::MINIMAL as GOOD;

    #[test]
    fn wallboard_defaults_are_valid() {
        let cfg = Config::from_toml(GOOD).unwrap();
        assert_eq!(cfg.wallboard.language, "ru");
        assert_eq!(cfg.wallboard.plan_calls_per_operator, 0);
        assert!(cfg.http.supervisor_token.expose().is_empty());
    }

    #[test]
    fn wallboard_mistakes_are_named_by_key() {
        let text = GOOD.replace(
            "[http]\n        token = \"0123456789abcdef0123\"",
            "[http]\ntoken = \"0123456789abcdef0123\"\nsupervisor_token = \"short\"\n\
             [wallboard]\nlanguage = \"de\"\nstats_refresh_seconds = 0\npublic_burst = 0\n\
             public_per_minute = 0\nsession_hours = 0\n\
             [wallboard.plan_calls_per_queue]\nnowhere = 10\ngeneral = 50\n",
        );
        let err = Config::from_toml(&text).unwrap_err().to_string();
        for key in [
            "wallboard.language: must be ru or en",
            "wallboard.plan_calls_per_queue.nowhere: names a queue",
            "wallboard.stats_refresh_seconds",
            "wallboard.public_burst",
            "wallboard.public_per_minute",
            "wallboard.session_hours",
            "http.supervisor_token",
        ] {
            assert!(err.contains(key), "{key} missing in: {err}");
        }
        assert!(!err.contains("plan_calls_per_queue.general"), "{err}");
        let same = GOOD.replace(
            "token = \"0123456789abcdef0123\"",
            "token = \"0123456789abcdef0123\"\nsupervisor_token = \"0123456789abcdef0123\"",
        );
        let err = Config::from_toml(&same).unwrap_err().to_string();
        assert!(err.contains("http.supervisor_token: must differ"), "{err}");
    }

    #[test]
    fn an_unknown_wallboard_key_is_named() {
        let text = format!("{GOOD}\n[wallboard]\nlanguag = \"en\"\n");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("languag"), "{err}");
    }
}
