//! The daemon's own surroundings: `[daemon]`, `[redis]`, `[postgres]`, `[http]`, `[log]`,
//! `[shutdown]` and `[prompts]`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Secret;

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
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// The one server; with `sentinels`, only its database number and password are used.
    pub url: Secret,
    /// Redis Sentinel (`host:port` each): contactd uses the primary they name as
    /// `master_name` and follows it after a failover. Empty: `url` is the server.
    pub sentinels: Vec<String>,
    pub master_name: String,
    /// Every key contactd writes starts with this.
    pub prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: Secret("redis://127.0.0.1:6379/0".into()),
            sentinels: Vec::new(),
            master_name: String::new(),
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
    /// Opens the wallboard (`/wallboard`) and nothing else; empty: only `token` does.
    pub supervisor_token: Secret,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            token: Secret(String::new()),
            supervisor_token: Secret(String::new()),
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

#[cfg(test)]
mod tests {
    use crate::config::tests::MINIMAL as GOOD;
    use crate::config::Config;

    #[test]
    fn sentinels_load_and_their_mistakes_are_named_by_key() {
        let text = format!(
            "{GOOD}\n[redis]\nsentinels = [\"10.0.0.1:26379\", \"s2:26379\"]\nmaster_name = \"contactd\"\n"
        );
        let cfg = Config::from_toml(&text).unwrap();
        assert_eq!(cfg.redis.sentinels.len(), 2);
        let err = Config::from_toml(&format!(
            "{GOOD}\n[redis]\nsentinels = [\"10.0.0.1\", \"s2:0\"]\n"
        ))
        .unwrap_err()
        .to_string();
        for key in [
            "redis.sentinels[0]",
            "redis.sentinels[1]",
            "redis.master_name",
        ] {
            assert!(err.contains(key), "{key} missing in: {err}");
        }
        let err = Config::from_toml(&format!("{GOOD}\n[redis]\nmaster_name = \"x\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("only with redis.sentinels"), "{err}");
    }
}
