//! Configuration: defaults → TOML file → `CONTACTD__SECTION__KEY` environment, then `validate()`.
//!
//! Owns the shape of `contactd.toml` and every check made before start. Unknown keys are
//! rejected and every error names the key path, so a typo in a sysadmin's file is caught at
//! `contactd check-config`, not at 3 a.m. Secrets (ESL password, HTTP token, SMTP password)
//! are wrapped in [`Secret`] so they never reach a log line through `Debug`.

mod acd;
mod amd;
mod campaigns;
mod dialer;
mod infra;
mod ivr;
mod messages;
mod qa;
mod switch;
mod trunks;
mod validate;
mod wallboard;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use acd::{AcdConfig, AcdQueueConfig};
pub use amd::AmdSettings;
pub use campaigns::{CampaignDefaults, MailConfig, ManagerConfig, SmtpTls, MAX_CAMPAIGN_LINES};
pub use dialer::OperatorCampaignConfig;
pub use infra::{
    DaemonConfig, HttpConfig, LogConfig, LogFormat, PostgresConfig, PromptsConfig, RedisConfig,
    ShutdownConfig,
};
use ivr::default_service_codes;
pub use ivr::{IvrConfig, IvrMenuAction, CURRENCIES};
pub use messages::{is_template_name, read_ca_file, MessageTemplate, MessagesConfig, SmsConfig};
pub use qa::QaConfig;
pub use switch::{OutboundConfig, SwitchConfig, TrunkConfig, TrunkKind};
pub use trunks::{GroupOrder, TrunkGroupConfig};
pub use validate::{is_queue_name, ConfigProblem};
pub use wallboard::WallboardConfig;

// The dialing rules and the service codes' actions are core types (the core decides with them);
// they are config sections too, under these names.
pub use crate::core::flows::service::ServiceAction;
pub use crate::core::numbers::{DialFormat, DialingConfig};

/// A string that must not be printed: `Debug` and `Display` show `***`.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub daemon: DaemonConfig,
    /// FreeSWITCH nodes by name; a map (not a list) so `CONTACTD__SWITCH__FS1__PASSWORD` works.
    #[serde(default)]
    pub switch: BTreeMap<String, SwitchConfig>,
    /// External line groups (E1 span, FXO card, SIP gateway) by name.
    #[serde(default)]
    pub trunk: BTreeMap<String, TrunkConfig>,
    /// Named groups of trunks (possibly on several switches) a campaign may dial through.
    #[serde(default)]
    pub trunk_group: BTreeMap<String, TrunkGroupConfig>,
    #[serde(default)]
    pub outbound: OutboundConfig,
    #[serde(default)]
    pub redis: RedisConfig,
    #[serde(default)]
    pub postgres: PostgresConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub shutdown: ShutdownConfig,
    #[serde(default)]
    pub prompts: PromptsConfig,
    #[serde(default)]
    pub dialing: DialingConfig,
    #[serde(default)]
    pub mail: MailConfig,
    #[serde(default)]
    pub campaigns: CampaignDefaults,
    /// Managers allowed to use the service short codes, by name.
    #[serde(default)]
    pub managers: BTreeMap<String, ManagerConfig>,
    /// Service short code → what it does (`notice`, `notice_confirm`, `progress`, `pause_resume`).
    #[serde(default = "default_service_codes")]
    pub service_codes: BTreeMap<String, ServiceAction>,
    /// The meter-reading IVR of the trunk numbers (menu, checks, hours, hand-over).
    #[serde(default)]
    pub ivr: IvrConfig,
    /// Operator routing: queues, ring timeout, after-call work, announcements.
    #[serde(default)]
    pub acd: AcdConfig,
    /// The supervisors' live board, its plan and the public wait counter.
    #[serde(default)]
    pub wallboard: WallboardConfig,
    /// Which ACD calls are sampled for review (`[qa]`).
    #[serde(default)]
    pub qa: QaConfig,
    /// E-mail and SMS templates sent during a call, and their delivery (`[messages]`).
    #[serde(default)]
    pub messages: MessagesConfig,
    /// The HTTP SMS gateway (`[sms]`).
    #[serde(default)]
    pub sms: SmsConfig,

    /// Answering-machine detection and call progress on campaign calls (`[amd]`).
    #[serde(default)]
    pub amd: AmdSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("config key {key}: {reason}")]
    Key { key: String, reason: String },
    #[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ConfigProblem>),
}

impl Config {
    /// Layers the file (if given) and the environment, then validates.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = path {
            if !path.exists() {
                return Err(ConfigError::File {
                    path: path.into(),
                    reason: "no such file".into(),
                });
            }
            builder = builder.add_source(
                config::File::from(path)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        builder = builder.add_source(
            config::Environment::with_prefix("CONTACTD")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        );
        let merged = builder.build().map_err(|e| ConfigError::File {
            path: path.map(Path::to_path_buf).unwrap_or_default(),
            reason: e.to_string(),
        })?;
        Self::from_layers(merged)
    }

    /// Parses a TOML text alone (tests, the demo).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let merged = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()
            .map_err(|e| ConfigError::File {
                path: PathBuf::from("<inline>"),
                reason: e.to_string(),
            })?;
        Self::from_layers(merged)
    }

    fn from_layers(merged: config::Config) -> Result<Self, ConfigError> {
        // Through serde_json so serde_path_to_error can name the exact key that failed.
        let tree: serde_json::Value =
            merged
                .try_deserialize()
                .map_err(|e: config::ConfigError| ConfigError::Key {
                    key: "<root>".into(),
                    reason: e.to_string(),
                })?;
        let cfg: Config = serde_path_to_error::deserialize(tree).map_err(|e| {
            let path = e.path().to_string();
            ConfigError::Key {
                key: if path == "." { "<root>".into() } else { path },
                reason: e.into_inner().to_string(),
            }
        })?;
        cfg.validate()?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::validate::check_dial_template;
    use super::*;

    /// A whole valid configuration: one switch, one trunk, the API token. The sections'
    /// own tests (`config::messages`, …) build on it too.
    pub(super) const GOOD: &str = r#"
        [switch.fs1]
        host = "127.0.0.1"
        password = "ClueCon"
        [trunk.e1]
        switch = "fs1"
        kind = "e1"
        channels = 30
        dial = "freetdm/1/a/{number}"
        [http]
        token = "0123456789abcdef0123"
    "#;

    /// The least a configuration needs (no trunk): for the sections' own tests.
    pub(super) const MINIMAL: &str = r#"
        [switch.fs1]
        host = "127.0.0.1"
        password = "ClueCon"
        [http]
        token = "0123456789abcdef0123"
    "#;

    #[test]
    fn good_config_loads_with_defaults() {
        let cfg = Config::from_toml(GOOD).unwrap();
        assert_eq!(cfg.switch["fs1"].port, 8021);
        assert_eq!(cfg.outbound.listen, "127.0.0.1:8084");
        assert_eq!(cfg.trunk["e1"].channels, 30);
    }

    #[test]
    fn unknown_key_is_named_with_its_path() {
        let text = GOOD.replace("password = \"ClueCon\"", "pasword = \"ClueCon\"");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("pasword"), "{err}");
        assert!(err.contains("switch.fs1"), "{err}");
    }

    #[test]
    fn wrong_type_is_named_with_its_path() {
        let text = GOOD.replace("channels = 30", "channels = \"thirty\"");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("trunk.e1.channels"), "{err}");
    }

    #[test]
    fn validation_names_each_bad_key() {
        let text = GOOD
            .replace("channels = 30", "channels = 31")
            .replace("switch = \"fs1\"", "switch = \"fs9\"")
            .replace("freetdm/1/a/{number}", "freetdm/1/a/{number} &park()");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("trunk.e1.channels: an E1 span"), "{err}");
        assert!(err.contains("trunk.e1.switch: names no"), "{err}");
        assert!(err.contains("trunk.e1.dial"), "{err}");
    }

    #[test]
    fn dial_templates_take_the_operators_grammar() {
        for ok in [
            "freetdm/1/a/{number}",
            "sofia/gateway/provider/{number}",
            "sofia/external/{number}@sip.provider.example",
            "loopback/{number}/from-trunk",
            "loopback/{number}/from-trunk/XML",
            "user/{number}",
        ] {
            assert_eq!(check_dial_template(ok), Ok(()), "{ok}");
        }
        for (bad, says) in [
            ("freetdm/1/a/{number} &park()", "whitespace"),
            ("freetdm/1/a/{number}\n", "control character"),
            ("freetdm/1/a/{number},freetdm/2/a/{number}", "exactly once"),
            ("freetdm/1/a/{number}|user/1", "another leg"),
            ("sofia/gateway/gw/{number}:_:user/1", "another leg"),
            ("[x=1]freetdm/1/a/{number}", "variable block"),
            ("{x=1}freetdm/1/a/{number}", "braces"),
            ("loopback/{number}/ctx/inline", "only be XML"),
            ("sip/{number}", "must be user/EXT"),
        ] {
            let e = check_dial_template(bad).expect_err(bad);
            assert!(e.contains(says), "{bad:?}: {e:?}");
        }
        let text = GOOD.replace("freetdm/1/a/{number}", "loopback/{number}/x/inline");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(
            err.contains("trunk.e1.dial") && err.contains("XML"),
            "{err}"
        );
    }

    #[test]
    fn paths_that_would_split_a_switch_argument_are_rejected() {
        let text = format!("{GOOD}\n[campaigns]\naudio_dir = \"/var/lib/my messages\"\n");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("campaigns.audio_dir"), "{err}");
    }

    #[test]
    fn short_token_is_rejected() {
        let text = GOOD.replace("0123456789abcdef0123", "short");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("http.token"), "{err}");
    }

    #[test]
    fn acd_mistakes_are_named_by_key() {
        let text = format!(
            "{GOOD}
[acd]
ring_timeout_seconds = 0
music_on_hold = \"moh music.wav\"
webhook_url = \"https://crm.example/pop\"
[acd.queue.general]
max_waiting = 0
overflow = \"queue:nowhere\"
[acd.queue.Meter]
overflow = \"queue:Meter\"
[ivr]
operator = \"queue:sales\"
"
        );
        let err = Config::from_toml(&text).unwrap_err().to_string();
        for key in [
            "acd.ring_timeout_seconds",
            "acd.music_on_hold",
            "acd.webhook_url",
            "acd.queue.general.max_waiting",
            "acd.queue.general.overflow: names a queue that is not configured",
            "acd.queue.Meter: name must be",
            "acd.queue.Meter.overflow: cannot overflow to itself",
            "ivr.operator: names an [acd.queue.NAME]",
        ] {
            assert!(err.contains(key), "{key} missing in: {err}");
        }
        // The defaults are valid, and the IVR hands over to the general queue.
        let cfg = Config::from_toml(GOOD).unwrap();
        assert_eq!(cfg.ivr.operator, "queue:general");
        assert_eq!(cfg.acd.queue["general"].max_waiting, 6);
    }

    #[test]
    fn report_keys_are_checked_and_named() {
        let cfg = Config::from_toml(GOOD).unwrap();
        assert_eq!(
            (
                cfg.mail.report_language.as_str(),
                cfg.mail.report_time_zone.as_str(),
                cfg.mail.csv_separator.as_deref()
            ),
            ("en", "UTC", None)
        );
        let ru = format!(
            "{GOOD}\n[mail]\nreport_language = \"ru\"\nreport_time_zone = \"Europe/Moscow\"\n"
        );
        assert!(Config::from_toml(&ru).is_ok());
        let text = format!(
            "{GOOD}\n[mail]\nreport_language = \"russian\"\nreport_time_zone = \"MSK\"\ncsv_separator = \"|\"\n"
        );
        let err = Config::from_toml(&text).unwrap_err().to_string();
        for key in [
            "mail.report_language: must be ru or en",
            "mail.report_time_zone: is not an IANA time zone",
            "mail.csv_separator: must be",
        ] {
            assert!(err.contains(key), "{key} missing in: {err}");
        }
    }

    #[test]
    fn digest_keys_are_checked_and_named() {
        let ok =
            format!("{GOOD}\n[mail]\nauditors = [\"audit@x.example\"]\ndigest_at = \"07:00\"\n");
        assert_eq!(
            Config::from_toml(&ok).unwrap().mail.digest_at.as_deref(),
            Some("07:00")
        );
        let text = format!("{GOOD}\n[mail]\ndigest_at = \"7 am\"\ndigest_forecast_days = 0\n");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(
            err.contains("mail.digest_at: must be a local time HH:MM"),
            "{err}"
        );
        assert!(
            err.contains("mail.digest_forecast_days: must be 1-14"),
            "{err}"
        );
        let text = format!("{GOOD}\n[mail]\ndigest_at = \"07:00\"\n");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(
            err.contains("mail.auditors: must name at least one recipient"),
            "{err}"
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let cfg = Config::from_toml(GOOD).unwrap();
        let dump = format!("{cfg:?}");
        assert!(!dump.contains("ClueCon"));
        assert!(!dump.contains("0123456789abcdef0123"));
    }
}

#[cfg(test)]
mod example_tests {
    #[test]
    fn the_example_config_is_valid() {
        let text = include_str!("../../contactd.example.toml");
        let cfg = super::Config::from_toml(text).expect("contactd.example.toml must load");
        assert_eq!(cfg.trunk["e1"].channels, 30);
        assert_eq!(cfg.mail.report_language, "ru");
        assert_eq!(cfg.mail.csv_separator.as_deref(), Some(";"));
    }
}
