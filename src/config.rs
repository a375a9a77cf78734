//! Configuration: defaults → TOML file → `CONTACTD__SECTION__KEY` environment, then `validate()`.
//!
//! Owns the shape of `contactd.toml` and every check made before start. Unknown keys are
//! rejected and every error names the key path, so a typo in a sysadmin's file is caught at
//! `contactd check-config`, not at 3 a.m. Secrets (ESL password, HTTP token, SMTP password)
//! are wrapped in [`Secret`] so they never reach a log line through `Debug`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

// The dialing rules and the service codes' actions are core types (the core decides with them);
// they are config sections too, under these names.
pub use crate::core::flows::service::ServiceAction;
pub use crate::core::numbers::{DialFormat, DialingConfig};
use crate::core::values::{check_dtmf, MediaFile, PhoneNumber};

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
}

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
        }
    }
}

/// What a key of the trunk menu does.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IvrMenuAction {
    Readings,
    Balance,
    Operator,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IvrConfig {
    /// Key → action of the main menu.
    pub menu: BTreeMap<String, IvrMenuAction>,
    /// Where the IVR hands callers over: `queue:<name>` (the ACD), or a `user/`, `sofia/`
    /// endpoint bridged directly (no queue, no records).
    pub operator: String,
    pub account_min_length: u8,
    pub account_max_length: u8,
    /// The last digit of an account number is a Luhn check digit.
    pub account_check_digit: bool,
    /// Highest plausible consumption per zone per day since the last reading (kWh).
    pub max_daily_kwh: i64,
    /// Currency the balance is said in: `RUB` (rubles and kopecks), `UAH`, `AZN`.
    pub currency: String,
    /// Operators' hours per weekday (`mon` … `sun` → `HH:MM-HH:MM`, local time of
    /// `dialing.default_time_zone`); a missing day is closed. Readings are taken around the clock.
    pub hours: BTreeMap<String, String>,
    /// `YYYY-MM-DD` days the operators do not work.
    pub holidays: Vec<String>,
}

impl Default for IvrConfig {
    fn default() -> Self {
        let menu = [
            ("1", IvrMenuAction::Readings),
            ("2", IvrMenuAction::Balance),
            ("0", IvrMenuAction::Operator),
        ];
        let days = ["mon", "tue", "wed", "thu", "fri", "sat"];
        Self {
            menu: menu.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            operator: "queue:general".into(),
            account_min_length: 6,
            account_max_length: 12,
            account_check_digit: false,
            max_daily_kwh: 100,
            currency: "RUB".into(),
            hours: days
                .into_iter()
                .map(|d| (d.to_string(), "08:00-20:00".to_string()))
                .collect(),
            holidays: Vec::new(),
        }
    }
}

impl IvrConfig {
    /// The office hours as the pure core wants them (validated at load).
    pub fn office_hours(&self) -> crate::core::meter::OfficeHours {
        let mut h = crate::core::meter::OfficeHours::default();
        for (day, span) in &self.hours {
            let _ = h.set_day(day, span);
        }
        h.holidays = self
            .holidays
            .iter()
            .filter_map(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .collect();
        h
    }
}

/// Currencies the IVR can say a balance in (each has `currency_<code>_major/minor` prompts).
pub const CURRENCIES: [&str; 3] = ["RUB", "UAH", "AZN"];

fn default_service_codes() -> BTreeMap<String, ServiceAction> {
    [
        ("300", ServiceAction::PauseResume),
        ("301", ServiceAction::Notice),
        ("302", ServiceAction::NoticeConfirm),
        ("309", ServiceAction::Progress),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ManagerConfig {
    /// Caller ID (office extension or number) the manager calls from.
    pub phone: String,
    /// Keyed after the short code; digits only.
    pub pin: Secret,
    /// Gets the campaign report too.
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (a relay on localhost).
    #[default]
    None,
    /// STARTTLS upgrade, required.
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub tls: SmtpTls,
    /// Empty: no authentication.
    pub username: String,
    pub password: Secret,
    pub from: String,
    /// Receive every campaign report.
    pub auditors: Vec<String>,
    /// First retry delay after a failed send; doubles up to an hour. Reports are never dropped.
    pub retry_seconds: u64,
    /// Language of the campaign report (subject, text, HTML, CSV and .xlsx): `ru` or `en`.
    pub report_language: String,
    /// IANA zone the report's times are shown in (e.g. `Europe/Moscow`), named beside each.
    pub report_time_zone: String,
    /// Field separator of the report's CSV: `;`, `,` or a tab. Unset: `;` for `ru` (what
    /// Excel in a Russian locale splits on), `,` for `en`.
    pub csv_separator: Option<String>,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_host: "127.0.0.1".into(),
            smtp_port: 25,
            tls: SmtpTls::None,
            username: String::new(),
            password: Secret::default(),
            from: "contactd <contactd@localhost>".into(),
            auditors: Vec::new(),
            retry_seconds: 60,
            report_language: "en".into(),
            report_time_zone: "UTC".into(),
            csv_separator: None,
        }
    }
}

/// Most lines one campaign may hold: the schema's limit (`sql/003_campaigns.sql`,
/// `CHECK (lines BETWEEN 1 AND 240)`).
pub const MAX_CAMPAIGN_LINES: u32 = 240;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignDefaults {
    /// Trunk that campaigns started by phone dial on.
    pub trunk: String,
    /// Lines a campaign started by phone may hold at once.
    pub lines: u32,
    pub max_attempts: u32,
    pub retry_busy_seconds: u32,
    pub retry_no_answer_seconds: u32,
    pub ring_seconds: u32,
    /// e.g. `mon-sat`, `mon-fri`, `mon,wed,fri`.
    pub window_days: String,
    /// `HH:MM` in the subscriber's time zone.
    pub window_start: String,
    pub window_end: String,
    /// The key a subscriber presses to confirm.
    pub confirm_key: String,
    /// Where recorded messages are stored (must be readable by FreeSWITCH).
    pub audio_dir: PathBuf,
    /// Longest message a manager may record.
    pub max_message_seconds: u32,
    /// Silence that ends a recording.
    pub silence_seconds: u32,
}

impl Default for CampaignDefaults {
    fn default() -> Self {
        Self {
            trunk: "e1".into(),
            lines: 5,
            max_attempts: 3,
            retry_busy_seconds: 600,
            retry_no_answer_seconds: 1800,
            ring_seconds: 30,
            window_days: "mon-sat".into(),
            window_start: "09:00".into(),
            window_end: "20:00".into(),
            confirm_key: "1".into(),
            audio_dir: PathBuf::from("/var/lib/contactd/recordings/campaigns"),
            max_message_seconds: 120,
            silence_seconds: 5,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Names this contactd instance in Redis and logs; several instances may share one Redis.
    pub instance: String,
    /// Where recordings made by the switch are stored (must be shared with FreeSWITCH).
    pub recordings_dir: PathBuf,
    /// Local write spool: call, campaign, reading and ACD records written while PostgreSQL
    /// is away wait here (fsync'd) until it is back. Must be on a local disk.
    pub spool_dir: PathBuf,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            instance: "contactd-1".into(),
            recordings_dir: PathBuf::from("/var/lib/contactd/recordings"),
            spool_dir: PathBuf::from("/var/lib/contactd/spool"),
        }
    }
}

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

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    pub url: Secret,
    /// Every key contactd writes starts with this.
    pub prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: Secret("redis://127.0.0.1:6379/0".into()),
            prefix: "contactd:".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresConfig {
    /// libpq-style URL; may carry a password, hence secret.
    pub url: Secret,
    pub pool_size: usize,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            url: Secret("postgres://postgres@127.0.0.1:5432/contactd".into()),
            pool_size: 8,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub listen: String,
    /// Bearer token for `/api/*`; `/healthz` and `/metrics` are open (bind to loopback).
    pub token: Secret,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            token: Secret(String::new()),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Plain lines: the journal adds time and unit itself.
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// tracing-subscriber filter, e.g. `info,contactd::esl=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// On SIGTERM live calls may finish for this long before contactd exits.
    pub grace_seconds: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self { grace_seconds: 60 }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromptsConfig {
    /// Directory on the FreeSWITCH host holding `<language>/<prompt>.wav`.
    pub dir: PathBuf,
    /// `ru` or `en`.
    pub language: String,
}

impl PromptsConfig {
    /// The file of prompt `name` (`num/n5` for a number word) in the configured language.
    pub fn path(&self, name: &str) -> String {
        format!("{}/{}/{name}.wav", self.dir.display(), self.language)
    }

    /// The language numbers are spoken in (checked at load: ru or en).
    pub fn speech_lang(&self) -> crate::core::speech::Lang {
        crate::core::speech::Lang::parse(&self.language).unwrap_or(crate::core::speech::Lang::Ru)
    }

    /// Number words as one `file_string://` playback: heard without gaps between commands.
    pub fn spoken(&self, words: &[String]) -> String {
        crate::core::speech::file_string(words.iter().map(|w| self.path(w)))
    }
}

impl Default for PromptsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("/usr/share/contactd/prompts"),
            language: "ru".into(),
        }
    }
}

/// One problem in the configuration, naming the key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub key: String,
    pub problem: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
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

    /// Every check that can be made without touching the network.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut bad = |key: String, problem: &str| {
            problems.push(ConfigProblem {
                key,
                problem: problem.into(),
            })
        };
        let inst = &self.daemon.instance;
        if inst.is_empty()
            || inst.len() > 64
            || !inst
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        {
            bad(
                "daemon.instance".into(),
                "must be 1 to 64 of A-Z a-z 0-9 _ . - (it names this instance in Redis and logs)",
            );
        }
        if self.switch.is_empty() {
            bad(
                "switch".into(),
                "at least one [switch.NAME] FreeSWITCH node is required",
            );
        }
        for (name, sw) in &self.switch {
            if !is_identifier(name) {
                bad(
                    format!("switch.{name}"),
                    "name must be letters, digits, '-' or '_'",
                );
            }
            if sw.host.trim().is_empty() || sw.host.contains(char::is_whitespace) {
                bad(
                    format!("switch.{name}.host"),
                    "must be a host name or address",
                );
            }
            if sw.port == 0 {
                bad(format!("switch.{name}.port"), "must be 1-65535");
            }
            if sw.password.expose().is_empty() || sw.password.expose().contains(['\n', '\r', ' ']) {
                bad(
                    format!("switch.{name}.password"),
                    "must be non-empty without spaces or line breaks",
                );
            }
            if sw.reconnect_min_ms == 0 || sw.reconnect_min_ms > sw.reconnect_max_ms {
                bad(
                    format!("switch.{name}.reconnect_min_ms"),
                    "must be > 0 and <= reconnect_max_ms",
                );
            }
            if sw.event_queue < 1000 {
                bad(
                    format!("switch.{name}.event_queue"),
                    "must be at least 1000 events",
                );
            }
        }
        for (name, t) in &self.trunk {
            let key = |k: &str| format!("trunk.{name}.{k}");
            if !is_identifier(name) {
                bad(
                    format!("trunk.{name}"),
                    "name must be letters, digits, '-' or '_'",
                );
            }
            if !self.switch.contains_key(&t.switch) {
                bad(key("switch"), "names no [switch.NAME] section");
            }
            if t.channels == 0 {
                bad(key("channels"), "must be at least 1");
            }
            if t.kind == TrunkKind::E1 && t.channels > 30 {
                bad(key("channels"), "an E1 span has at most 30 voice channels");
            }
            if let Err(problem) = check_dial_template(&t.dial) {
                bad(key("dial"), &problem);
            }
        }
        if self.outbound.max_calls == 0 {
            bad(
                "outbound.max_calls".into(),
                "must be at least 1 (calls handled at once)",
            );
        }
        if self.outbound.listen.parse::<SocketAddr>().is_err() {
            bad(
                "outbound.listen".into(),
                "must be an address like 127.0.0.1:8084",
            );
        }
        if self.http.listen.parse::<SocketAddr>().is_err() {
            bad(
                "http.listen".into(),
                "must be an address like 127.0.0.1:8080",
            );
        }
        if self.http.token.expose().len() < 16 {
            bad(
                "http.token".into(),
                "must be at least 16 characters (set CONTACTD__HTTP__TOKEN)",
            );
        }
        if !self.redis.url.expose().starts_with("redis://")
            && !self.redis.url.expose().starts_with("rediss://")
        {
            bad("redis.url".into(), "must start with redis:// or rediss://");
        }
        if self.redis.prefix.is_empty()
            || !self
                .redis
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c))
        {
            bad(
                "redis.prefix".into(),
                "must be non-empty: letters, digits, '-', '_', ':', '.'",
            );
        }
        if self
            .postgres
            .url
            .expose()
            .parse::<tokio_postgres::Config>()
            .is_err()
        {
            bad("postgres.url".into(), "is not a valid PostgreSQL URL");
        }
        if self.postgres.pool_size == 0 {
            bad("postgres.pool_size".into(), "must be at least 1");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            bad(
                "log.level".into(),
                "is not a valid filter (e.g. info or info,contactd=debug)",
            );
        }
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let d = &self.dialing;
        if d.country_code.is_empty() || d.country_code.len() > 3 || !digits(&d.country_code) {
            bad(
                "dialing.country_code".into(),
                "must be 1-3 digits without +",
            );
        }
        if !(4..=14).contains(&d.national_number_length) {
            bad("dialing.national_number_length".into(), "must be 4-14");
        }
        if !digits(&d.trunk_prefix) || d.trunk_prefix.len() > 2 {
            bad("dialing.trunk_prefix".into(), "must be 0-2 digits");
        }
        if d.international_prefix.is_empty() || !digits(&d.international_prefix) {
            bad("dialing.international_prefix".into(), "must be digits");
        }
        if d.default_time_zone.parse::<chrono_tz::Tz>().is_err() {
            bad(
                "dialing.default_time_zone".into(),
                "is not an IANA time zone (e.g. Europe/Moscow)",
            );
        }
        let m = &self.mail;
        if m.smtp_host.trim().is_empty() || m.smtp_port == 0 {
            bad("mail.smtp_host".into(), "must name an SMTP server and port");
        }
        if m.from.parse::<lettre::message::Mailbox>().is_err() {
            bad("mail.from".into(), "is not an e-mail address");
        }
        for (i, a) in m.auditors.iter().enumerate() {
            if a.parse::<lettre::Address>().is_err() {
                bad(format!("mail.auditors[{i}]"), "is not an e-mail address");
            }
        }
        if m.retry_seconds == 0 {
            bad("mail.retry_seconds".into(), "must be at least 1");
        }
        if let Err(problems) = crate::core::report::ReportLocale::from_keys(
            &m.report_language,
            &m.report_time_zone,
            m.csv_separator.as_deref(),
        ) {
            for (key, problem) in problems {
                bad(key.into(), problem);
            }
        }
        let c = &self.campaigns;
        if !self.trunk.is_empty() && !self.trunk.contains_key(&c.trunk) {
            bad("campaigns.trunk".into(), "names no [trunk.NAME] section");
        }
        if !(1..=MAX_CAMPAIGN_LINES).contains(&c.lines) {
            bad(
                "campaigns.lines".into(),
                &format!("lines must be 1–{MAX_CAMPAIGN_LINES}"),
            );
        }
        if c.max_attempts == 0 {
            bad("campaigns.max_attempts".into(), "must be at least 1");
        }
        // Each part of the window named by its own key.
        use crate::core::campaign::window::Window;
        let hhmm = |s: &str| chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M").is_ok();
        if Window::parse(&c.window_days, "00:00", "23:59").is_err() {
            bad(
                "campaigns.window_days".into(),
                "must be days like mon-sat, mon-fri,sun or sat",
            );
        }
        if !hhmm(&c.window_start) {
            bad(
                "campaigns.window_start".into(),
                "must be a time HH:MM like 09:00",
            );
        }
        if !hhmm(&c.window_end) {
            bad(
                "campaigns.window_end".into(),
                "must be a time HH:MM like 20:00",
            );
        }
        if hhmm(&c.window_start)
            && hhmm(&c.window_end)
            && Window::parse("mon", &c.window_start, &c.window_end).is_err()
        {
            bad(
                "campaigns.window_start".into(),
                "must be before campaigns.window_end",
            );
        }
        if c.confirm_key.len() != 1 || check_dtmf(&c.confirm_key).is_err() {
            bad(
                "campaigns.confirm_key".into(),
                "must be one key: 0-9, * or #",
            );
        }
        for (name, mgr) in &self.managers {
            if PhoneNumber::parse(&mgr.phone).is_err() {
                bad(format!("managers.{name}.phone"), "must be digits (3 to 20)");
            }
            let pin = mgr.pin.expose();
            if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
                bad(format!("managers.{name}.pin"), "must be 4 to 8 digits");
            }
            if let Some(e) = &mgr.email {
                if e.parse::<lettre::Address>().is_err() {
                    bad(format!("managers.{name}.email"), "is not an e-mail address");
                }
            }
        }
        for code in self.service_codes.keys() {
            if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                bad(format!("service_codes.{code}"), "short codes are 3 digits");
            }
        }
        self.validate_ivr(&mut bad);
        self.validate_acd(&mut bad);
        // These paths end up inside `playback`/`record` arguments on the switch: a space
        // would split the argument, so only a plain absolute path is accepted.
        for (key, path) in [
            ("prompts.dir", &self.prompts.dir),
            ("campaigns.audio_dir", &self.campaigns.audio_dir),
            ("daemon.recordings_dir", &self.daemon.recordings_dir),
        ] {
            let p = path.to_string_lossy();
            if !p.starts_with('/')
                || p.contains("..")
                || !p
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_./-".contains(&b))
            {
                bad(
                    key.into(),
                    "must be an absolute path of letters, digits, _ . / - only",
                );
            }
        }
        if !matches!(self.prompts.language.as_str(), "ru" | "en") {
            bad("prompts.language".into(), "must be ru or en");
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

impl Config {
    fn validate_acd(&self, bad: &mut impl FnMut(String, &str)) {
        let a = &self.acd;
        if a.ring_timeout_seconds == 0 || a.ring_timeout_seconds > 120 {
            bad("acd.ring_timeout_seconds".into(), "must be 1-120");
        }
        if a.wrap_up_seconds > 3600 {
            bad("acd.wrap_up_seconds".into(), "must be 0-3600");
        }
        if MediaFile::parse(&a.music_on_hold).is_err() {
            bad(
                "acd.music_on_hold".into(),
                "must be a file path or local_stream://NAME without blanks",
            );
        }
        if !a.webhook_url.is_empty()
            && (!a.webhook_url.starts_with("http://")
                || a.webhook_url.contains(char::is_whitespace))
        {
            bad(
                "acd.webhook_url".into(),
                "must be empty or an http:// URL (put a TLS proxy in front for https)",
            );
        }
        if a.queue.is_empty() {
            bad(
                "acd.queue".into(),
                "at least one [acd.queue.NAME] is required",
            );
        }
        for (name, q) in &a.queue {
            let key = |k: &str| format!("acd.queue.{name}.{k}");
            if !is_queue_name(name) {
                bad(
                    format!("acd.queue.{name}"),
                    "name must be 1-32 of a-z, 0-9, '_'",
                );
            }
            if !is_queue_name(&q.group) {
                bad(key("group"), "must be 1-32 of a-z, 0-9, '_'");
            }
            if !(1..=10).contains(&q.min_level) {
                bad(key("min_level"), "must be 1-10");
            }
            if q.max_waiting == 0 || q.max_waiting > 10_000 {
                bad(key("max_waiting"), "must be 1-10000");
            }
            if q.priority > 200 {
                bad(key("priority"), "must be 0-200");
            }
            match q.overflow.strip_prefix("queue:") {
                Some(to) if to == name => bad(key("overflow"), "cannot overflow to itself"),
                Some(to) if !a.queue.contains_key(to) => {
                    bad(key("overflow"), "names a queue that is not configured")
                }
                Some(_) => {}
                None if q.overflow == "callback" => {}
                None => bad(key("overflow"), "must be `callback` or `queue:NAME`"),
            }
        }
        if let Some(q) = self.ivr.operator.strip_prefix("queue:") {
            if !a.queue.contains_key(q) {
                bad(
                    "ivr.operator".into(),
                    "names an [acd.queue.NAME] that is not configured",
                );
            }
        }
    }

    fn validate_ivr(&self, bad: &mut impl FnMut(String, &str)) {
        let v = &self.ivr;
        for key in v.menu.keys() {
            if key.len() != 1 || !key.bytes().all(|b| b.is_ascii_digit()) {
                bad(format!("ivr.menu.{key}"), "menu keys are one digit 0-9");
            }
        }
        // The bridge target reaches `sendmsg`: the same strict alphabet as a dial template.
        let queue = v.operator.strip_prefix("queue:");
        let op_ok = queue.is_some_and(is_queue_name)
            || (["user/", "sofia/", "freetdm/", "loopback/"]
                .iter()
                .any(|p| v.operator.starts_with(p))
                && v.operator
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/_.@+-".contains(&b)));
        if !op_ok {
            bad(
                "ivr.operator".into(),
                "must be queue:NAME or an endpoint like user/1000 (letters, digits, / _ . @ + -)",
            );
        }
        if v.account_min_length == 0 || v.account_min_length > v.account_max_length {
            bad(
                "ivr.account_min_length".into(),
                "must be at least 1 and not above account_max_length",
            );
        }
        if v.account_max_length > 20 {
            bad("ivr.account_max_length".into(), "must be at most 20");
        }
        if v.max_daily_kwh <= 0 {
            bad("ivr.max_daily_kwh".into(), "must be above 0");
        }
        if !CURRENCIES.contains(&self.ivr.currency.as_str()) {
            bad("ivr.currency".into(), "must be RUB, UAH or AZN");
        }
        for (day, span) in &v.hours {
            let mut h = crate::core::meter::OfficeHours::default();
            if let Err(e) = h.set_day(day, span) {
                bad(format!("ivr.hours.{day}"), &e);
            }
        }
        for (i, d) in v.holidays.iter().enumerate() {
            if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
                bad(format!("ivr.holidays[{i}]"), "must be a date YYYY-MM-DD");
            }
        }
    }
}

/// Queue and group names reach dialplan extensions (`acd_<queue>`) and Redis keys.
pub use crate::core::acd::names::is_queue_name;

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A dial template must be one endpoint with `{number}` where the number goes, and hold
/// nothing that could smuggle a second argument into `originate`: the grammar operators'
/// phones are checked with too (`core::dialstring`).
fn check_dial_template(dial: &str) -> Result<(), String> {
    crate::core::dialstring::check_template(dial)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
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
        let text = include_str!("../contactd.example.toml");
        let cfg = super::Config::from_toml(text).expect("contactd.example.toml must load");
        assert_eq!(cfg.trunk["e1"].channels, 30);
        assert_eq!(cfg.mail.report_language, "ru");
        assert_eq!(cfg.mail.csv_separator.as_deref(), Some(";"));
    }
}
