//! `[trunk_group.NAME]`: trunks (possibly on several switches) a campaign dials through as
//! one, in a configured order; and the checks of the trunk keys the groups and span alarms
//! add (`trunk.NAME.span`, `mail.sysadmins`).

use serde::{Deserialize, Serialize};

use super::{Config, ConfigProblem};
pub use crate::core::trunks::GroupOrder;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkGroupConfig {
    /// `[trunk.NAME]` sections, in the order `fill_first` fills them.
    pub trunks: Vec<String>,
    /// `fill_first` (default), `round_robin` or `least_used`.
    #[serde(default)]
    pub order: GroupOrder,
}

impl Config {
    /// Whether `name` is a trunk or a trunk group: what a campaign's `trunk` may name.
    pub fn names_trunk_or_group(&self, name: &str) -> bool {
        self.trunk.contains_key(name) || self.trunk_group.contains_key(name)
    }

    /// The trunks `name` dials through, in order: the group's, or the trunk alone.
    pub fn trunks_of(&self, name: &str) -> Vec<String> {
        match self.trunk_group.get(name) {
            Some(g) => g.trunks.clone(),
            None if self.trunk.contains_key(name) => vec![name.to_string()],
            None => Vec::new(),
        }
    }

    /// The channels `name` (a trunk or a group) has in all: what a campaign's lines may be.
    pub fn channels_of(&self, name: &str) -> Option<u32> {
        let trunks = self.trunks_of(name);
        (!trunks.is_empty()).then(|| trunks.iter().map(|t| self.trunk[t].channels).sum())
    }

    /// The problems of the trunk groups, the trunks' spans and the sysadmins' addresses.
    pub(super) fn trunk_group_problems(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        let mut bad = |key: String, problem: &str| {
            out.push(ConfigProblem {
                key,
                problem: problem.into(),
            })
        };
        for (name, g) in &self.trunk_group {
            let key = |k: &str| format!("trunk_group.{name}.{k}");
            if self.trunk.contains_key(name) {
                bad(
                    format!("trunk_group.{name}"),
                    "a [trunk.NAME] has this name too: a campaign's trunk would be ambiguous",
                );
            }
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                || name.is_empty()
            {
                bad(
                    format!("trunk_group.{name}"),
                    "name must be letters, digits, '-' or '_'",
                );
            }
            if g.trunks.is_empty() {
                bad(key("trunks"), "must name at least one [trunk.NAME]");
            }
            for (i, t) in g.trunks.iter().enumerate() {
                if !self.trunk.contains_key(t) {
                    bad(
                        key("trunks"),
                        &format!("{t:?} names no [trunk.NAME] section"),
                    );
                }
                if g.trunks[..i].contains(t) {
                    bad(key("trunks"), &format!("{t:?} is listed twice"));
                }
            }
        }
        for (name, t) in &self.trunk {
            if let Some(span) = &t.span {
                if span.is_empty()
                    || !span
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    bad(
                        format!("trunk.{name}.span"),
                        "must be the span's number or name (letters, digits, '-' or '_')",
                    );
                }
            }
        }
        for a in &self.mail.sysadmins {
            if crate::mail::parse_address(a).is_err() {
                bad(
                    "mail.sysadmins".into(),
                    &format!("{a:?} is not an e-mail address"),
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn cfg(extra: &str) -> Result<Config, String> {
        let text = format!(
            "{}\n[switch.fs2]\nhost = \"127.0.0.1\"\npassword = \"x\"\n\
             [trunk.gw]\nswitch = \"fs2\"\nkind = \"sip\"\nchannels = 4\ndial = \"sofia/gateway/gw1/{{number}}\"\n{extra}",
            crate::config::tests::GOOD
        );
        Config::from_toml(&text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_group_over_two_switches_is_what_a_campaign_may_name() {
        let c = cfg("[trunk_group.all]\ntrunks = [\"e1\", \"gw\"]\norder = \"round_robin\"\n[campaigns]\ntrunk = \"all\"\n")
            .unwrap();
        assert_eq!(c.trunks_of("all"), ["e1", "gw"]);
        assert_eq!(c.trunks_of("gw"), ["gw"]);
        assert!(c.trunks_of("nope").is_empty());
        assert_eq!(c.trunk["e1"].span_name().as_deref(), Some("1"));
        assert_eq!(c.trunk["gw"].span_name(), None);
    }

    #[test]
    fn bad_groups_are_named_by_their_key() {
        let e = cfg("[trunk_group.all]\ntrunks = [\"e1\", \"nope\", \"e1\"]\n").unwrap_err();
        assert!(
            e.contains("trunk_group.all.trunks: \"nope\" names no"),
            "{e}"
        );
        assert!(e.contains("\"e1\" is listed twice"), "{e}");
        let e = cfg("[trunk_group.all]\ntrunks = []\norder = \"random\"\n").unwrap_err();
        assert!(e.contains("order") || e.contains("random"), "{e}");
        let e = cfg("[trunk_group.e1]\ntrunks = [\"gw\"]\n").unwrap_err();
        assert!(
            e.contains("trunk_group.e1: a [trunk.NAME] has this name"),
            "{e}"
        );
        let e = cfg("[campaigns]\ntrunk = \"nope\"\n").unwrap_err();
        assert!(e.contains("campaigns.trunk"), "{e}");
        let e = cfg("[mail]\nsysadmins = [\"not an address\"]\n").unwrap_err();
        assert!(e.contains("mail.sysadmins"), "{e}");
    }
}
