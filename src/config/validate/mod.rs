//! `Config::validate`: every check made before start, each problem named by its key path.

use std::fmt;
use std::net::SocketAddr;

use super::{Config, ConfigError, TrunkKind, MAX_CAMPAIGN_LINES};
use crate::core::values::{check_dtmf, PhoneNumber};

mod flows;

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

impl Config {
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
            if t.release_guard_ms.is_some_and(|ms| ms > 10_000) {
                bad(
                    key("release_guard_ms"),
                    "at most 10000 (a channel clears in well under a second)",
                );
            }
        }
        if self.outbound.max_calls == 0 {
            bad(
                "outbound.max_calls".into(),
                "must be at least 1 (calls handled at once)",
            );
        }
        if !(1..=3600).contains(&self.outbound.lobby_max_seconds) {
            bad(
                "outbound.lobby_max_seconds".into(),
                "must be 1 to 3600 (seconds a caller is held while the stores are away)",
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
        for (i, s) in self.redis.sentinels.iter().enumerate() {
            let port = s.rsplit_once(':').and_then(|(h, p)| {
                (!h.is_empty() && !h.contains(char::is_whitespace)).then_some(p)
            });
            if port
                .and_then(|p| p.parse::<u16>().ok())
                .is_none_or(|p| p == 0)
            {
                bad(format!("redis.sentinels[{i}]"), "must be host:port");
            }
        }
        if !self.redis.sentinels.is_empty() && !is_identifier(&self.redis.master_name) {
            bad(
                "redis.master_name".into(),
                "with redis.sentinels, the name the sentinels monitor the primary by (letters, digits, '-', '_')",
            );
        }
        if self.redis.sentinels.is_empty() && !self.redis.master_name.is_empty() {
            bad("redis.master_name".into(), "only with redis.sentinels");
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
        if let Some(at) = &m.digest_at {
            if crate::mail::digest::schedule::parse_time(at).is_none() {
                bad(
                    "mail.digest_at".into(),
                    "must be a local time HH:MM (e.g. \"07:00\")",
                );
            } else if m.auditors.is_empty() {
                bad(
                    "mail.auditors".into(),
                    "must name at least one recipient when mail.digest_at is set",
                );
            }
        }
        if !(1..=14).contains(&m.digest_forecast_days) {
            bad("mail.digest_forecast_days".into(), "must be 1-14");
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
        if !self.trunk.is_empty() && !self.names_trunk_or_group(&c.trunk) {
            bad(
                "campaigns.trunk".into(),
                "names no [trunk.NAME] or [trunk_group.NAME] section",
            );
        }
        for p in self.trunk_group_problems() {
            bad(p.key, &p.problem);
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
        self.validate_messages(&mut bad);

        for p in self.campaigns.operator.problems() {
            let (key, problem) = p.split_once(": ").unwrap_or(("campaigns.operator", &p));
            bad(key.to_string(), problem);
        }
        // These paths end up inside `playback`/`record` arguments on the switch: a space
        // would split the argument, so only a plain absolute path is accepted.
        for (key, path) in [
            ("prompts.dir", &self.prompts.dir),
            ("campaigns.audio_dir", &self.campaigns.audio_dir),
            ("daemon.recordings_dir", &self.daemon.recordings_dir),
        ] {
            if !crate::core::values::is_plain_path(&path.to_string_lossy()) {
                bad(
                    key.into(),
                    "must be an absolute path of letters, digits, _ . / - only",
                );
            }
        }
        if !matches!(self.prompts.language.as_str(), "ru" | "en") {
            bad("prompts.language".into(), "must be ru or en");
        }
        self.validate_wallboard(&mut bad);
        problems.extend(self.qa.problems(&self.acd.queue));
        problems.extend(self.amd.problems());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
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
pub(super) fn check_dial_template(dial: &str) -> Result<(), String> {
    crate::core::dialstring::check_template(dial)
}
