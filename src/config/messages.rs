//! `[messages]` (the templates an operator or a campaign rule sends during a call, and how
//! their delivery is retried) and `[sms]` (the HTTP SMS gateway). Checked before start:
//! each template's placeholders, subject, attachments (readable, under the size cap) and
//! SMS length, every problem named by its key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Config, Secret};
use crate::core::messages::{parse_template, sms_segments, Channel};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessagesConfig {
    /// First retry delay after a passing failure; doubles up to an hour.
    pub retry_seconds: u64,
    /// Sends tried at most (the first one included) before a message is `failed`.
    pub max_tries: u32,
    /// Largest total size of one template's attachments.
    pub attachments_max_bytes: u64,
    /// Most SMS parts one rendered text may take.
    pub sms_max_segments: usize,
    /// The templates by name (`[messages.templates.NAME]`).
    pub templates: BTreeMap<String, MessageTemplate>,
}

impl Default for MessagesConfig {
    fn default() -> Self {
        Self {
            retry_seconds: 30,
            max_tries: 6,
            attachments_max_bytes: 10 * 1024 * 1024,
            sms_max_segments: 4,
            templates: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MessageTemplate {
    pub channel: Channel,
    /// E-mail only; placeholders allowed; no line breaks.
    #[serde(default)]
    pub subject: Option<String>,
    /// The text, with placeholders (`core::messages::PLACEHOLDERS`): `{name}`,
    /// `{account}`, `{phone}`, `{email}`, `{balance}`, `{debt}`, `{campaign}`,
    /// `{operator}`, `{date}`, and a list column as `{extra.COLUMN}`. An unknown one is
    /// refused at start; one a call has no value for fails that message, named.
    pub body: String,
    /// E-mail only: files attached as they are (absolute paths).
    #[serde(default)]
    pub attachments: Vec<PathBuf>,
}

/// `[sms]`: an HTTP gateway taking `POST {url}` with JSON `{to, text, client_ref}` and a
/// bearer token. 2xx is accepted, 4xx refused for good, 5xx and timeouts tried again.
/// `https://` is verified against the bundled Mozilla roots plus `ca_file` (rustls);
/// plain `http://` is accepted only to a loopback address (a local relay), since the token
/// and the texts would cross the network in clear.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// Empty: no SMS gateway (SMS templates are refused at start).
    pub url: String,
    /// Sent as `Authorization: Bearer …`; `CONTACTD__SMS__TOKEN` keeps it out of the file.
    pub token: Secret,
    /// The sender name or number the gateway shows, if it takes one.
    pub sender: Option<String>,
    pub timeout_seconds: u64,
    /// A PEM file of CA certificates trusted besides the bundled roots: a private
    /// gateway's own CA (or its self-signed certificate).
    pub ca_file: Option<PathBuf>,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            token: Secret::default(),
            sender: None,
            timeout_seconds: 10,
            ca_file: None,
        }
    }
}

impl Config {
    /// The `[messages]` and `[sms]` checks; called by `validate`.
    pub(super) fn validate_messages(&self, bad: &mut impl FnMut(String, &str)) {
        let m = &self.messages;
        if m.max_tries == 0 || m.max_tries > 100 {
            bad("messages.max_tries".into(), "must be 1-100");
        }
        if m.sms_max_segments == 0 || m.sms_max_segments > 10 {
            bad("messages.sms_max_segments".into(), "must be 1-10");
        }
        let sms = &self.sms;
        if !sms.url.is_empty() {
            match reqwest::Url::parse(&sms.url) {
                Ok(u) if u.scheme() == "https" && u.host_str().is_some() => {}
                Ok(u) if u.scheme() == "http" && u.host_str().is_some_and(is_loopback) => {}
                Ok(u) if u.scheme() == "http" && u.host_str().is_some() => bad(
                    "sms.url".into(),
                    "http:// is allowed only to a loopback address: the token and the texts would \
                     cross the network in clear; use https:// (a private CA goes in sms.ca_file)",
                ),
                _ => bad(
                    "sms.url".into(),
                    "must be an https:// URL (or http:// to a loopback address)",
                ),
            }
            if sms.token.expose().contains(['\r', '\n']) {
                bad("sms.token".into(), "must not contain line breaks");
            }
        }
        if let Some(path) = &sms.ca_file {
            if let Err(e) = read_ca_file(path) {
                bad("sms.ca_file".into(), &e);
            }
        }
        if sms.timeout_seconds == 0 || sms.timeout_seconds > 120 {
            bad("sms.timeout_seconds".into(), "must be 1-120");
        }
        for (name, t) in &m.templates {
            let key = format!("messages.templates.{name}");
            self.validate_template(&key, name, t, bad);
        }
    }

    fn validate_template(
        &self,
        key: &str,
        name: &str,
        t: &MessageTemplate,
        bad: &mut impl FnMut(String, &str),
    ) {
        let m = &self.messages;
        if !is_template_name(name) {
            bad(
                key.into(),
                "name must be 1-64 of letters, digits, '-' or '_'",
            );
        }
        if let Err(e) = parse_template(&t.body) {
            bad(format!("{key}.body"), &e);
        }
        if t.body.trim().is_empty() {
            bad(format!("{key}.body"), "must not be empty");
        }
        match t.channel {
            Channel::Email => {
                match &t.subject {
                    None => bad(format!("{key}.subject"), "an e-mail template needs one"),
                    Some(s) if s.chars().any(char::is_control) => bad(
                        format!("{key}.subject"),
                        "must not contain line breaks or control characters",
                    ),
                    Some(s) => {
                        if let Err(e) = parse_template(s) {
                            bad(format!("{key}.subject"), &e);
                        }
                    }
                }
                let mut total = 0u64;
                for (i, path) in t.attachments.iter().enumerate() {
                    let akey = format!("{key}.attachments[{i}]");
                    if !path.is_absolute() {
                        bad(akey, "must be an absolute path");
                        continue;
                    }
                    match std::fs::File::open(path).and_then(|f| f.metadata()) {
                        Ok(meta) if meta.is_file() => total += meta.len(),
                        Ok(_) => bad(akey, "is not a file"),
                        Err(e) => bad(akey, &format!("cannot be read: {e}")),
                    }
                }
                if total > m.attachments_max_bytes {
                    bad(
                        format!("{key}.attachments"),
                        &format!(
                            "{total} bytes in all, more than messages.attachments_max_bytes ({})",
                            m.attachments_max_bytes
                        ),
                    );
                }
            }
            Channel::Sms => {
                if t.subject.is_some() {
                    bad(format!("{key}.subject"), "an SMS has no subject");
                }
                if !t.attachments.is_empty() {
                    bad(
                        format!("{key}.attachments"),
                        "an SMS carries no attachments",
                    );
                }
                if self.sms.url.is_empty() {
                    bad(
                        format!("{key}.channel"),
                        "sms needs an SMS gateway: set [sms] url",
                    );
                }
                // The fixed text alone must fit; the filled one is checked when sent.
                let fixed: String = parse_template(&t.body)
                    .map(|pieces| {
                        pieces
                            .into_iter()
                            .filter_map(|p| match p {
                                crate::core::messages::Piece::Text(s) => Some(s),
                                crate::core::messages::Piece::Field(_) => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let s = sms_segments(&fixed);
                if s.count > m.sms_max_segments {
                    bad(
                        format!("{key}.body"),
                        &format!(
                            "takes {} SMS parts ({:?}, {} units) before its placeholders are \
                             filled, more than messages.sms_max_segments ({})",
                            s.count, s.encoding, s.units, m.sms_max_segments
                        ),
                    );
                }
            }
        }
    }
}

/// `localhost`, 127.0.0.0/8 or ::1.
fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
}

/// The certificates of `[sms] ca_file`: at least one PEM certificate, each one parsed.
pub fn read_ca_file(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot be read: {e}"))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("is not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

/// A template's name: what the API and the campaign rules refer to it by.
pub fn is_template_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    use crate::config::tests::GOOD as BASE;

    #[test]
    fn good_templates_load() {
        let text = format!(
            "{BASE}
[sms]
url = \"http://127.0.0.1:9/send\"
[messages.templates.outage_sms]
channel = \"sms\"
body = \"{{name}}, воду отключат завтра. Лицевой счёт {{account}}.\"
[messages.templates.bill]
channel = \"email\"
subject = \"Счёт по лицевому счёту {{account}}\"
body = \"Здравствуйте, {{name}}!\"
"
        );
        let cfg = Config::from_toml(&text).unwrap();
        assert_eq!(cfg.messages.templates.len(), 2);
    }

    #[test]
    fn template_mistakes_are_named_by_key() {
        let long = "ж".repeat(300);
        let text = format!(
            "{BASE}
[messages.templates.a]
channel = \"email\"
subject = \"x {{acount}}\"
body = \"Hi {{nmae}}\"
attachments = [\"/nonexistent/contactd/tariffs.pdf\", \"relative.pdf\"]
[messages.templates.b]
channel = \"sms\"
body = \"{long}\"
[messages.templates.c]
channel = \"email\"
body = \"no subject\"
"
        );
        let err = Config::from_toml(&text).unwrap_err().to_string();
        for key in [
            "messages.templates.a.subject: unknown placeholder {acount}",
            "messages.templates.a.body: unknown placeholder {nmae}",
            "messages.templates.a.attachments[0]: cannot be read",
            "messages.templates.a.attachments[1]: must be an absolute path",
            "messages.templates.b.channel: sms needs an SMS gateway",
            "messages.templates.b.body: takes 5 SMS parts",
            "messages.templates.c.subject: an e-mail template needs one",
        ] {
            assert!(err.contains(key), "{key} missing in: {err}");
        }
        let unknown = format!("{BASE}\n[messages.templates.a]\nchanel = \"sms\"\nbody = \"x\"\n");
        let err = Config::from_toml(&unknown).unwrap_err().to_string();
        assert!(
            err.contains("messages.templates.a") && err.contains("chanel"),
            "{err}"
        );
    }

    #[test]
    fn a_line_break_in_a_subject_is_refused() {
        let text = format!(
            "{BASE}\n[messages.templates.a]\nchannel = \"email\"\nsubject = \"Hi\\r\\nBcc: x@y.z\"\nbody = \"b\"\n"
        );
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(
            err.contains("messages.templates.a.subject: must not contain line breaks"),
            "{err}"
        );
    }

    #[test]
    fn attachments_over_the_cap_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big.pdf");
        std::fs::write(&f, vec![0u8; 2048]).unwrap();
        let text = format!(
            "{BASE}\n[messages]\nattachments_max_bytes = 1024\n[messages.templates.a]\nchannel = \"email\"\nsubject = \"s\"\nbody = \"b\"\nattachments = [\"{}\"]\n",
            f.display()
        );
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(
            err.contains("messages.templates.a.attachments: 2048 bytes"),
            "{err}"
        );
    }

    #[test]
    fn the_sms_token_is_not_in_debug() {
        let text =
            format!("{BASE}\n[sms]\nurl = \"http://127.0.0.1:9/\"\ntoken = \"sms-secret-42\"\n");
        let cfg = Config::from_toml(&text).unwrap();
        assert!(!format!("{cfg:?}").contains("sms-secret-42"));
    }

    #[test]
    fn the_sms_gateway_url_is_https_or_loopback_http_and_its_ca_file_is_checked() {
        let with = |sms: &str| Config::from_toml(&format!("{BASE}\n[sms]\n{sms}\n"));
        for ok in [
            "url = \"https://sms.example.com/api/send\"",
            "url = \"http://127.0.0.1:8080/send\"",
            "url = \"http://localhost/send\"",
            "url = \"http://[::1]:9/send\"",
        ] {
            assert!(with(ok).is_ok(), "{ok}: {:?}", with(ok).err());
        }
        // the bearer token and the texts would cross the network in clear
        let err = with("url = \"http://10.1.2.3/send\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sms.url: http:// is allowed only to a loopback address"),
            "{err}"
        );
        let err = with("url = \"ftp://sms.example.com/\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sms.url: must be an https:// URL"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("ca.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        for (file, says) in [
            (
                junk.display().to_string(),
                "sms.ca_file: holds no PEM certificate",
            ),
            (
                "/nonexistent/ca.pem".to_string(),
                "sms.ca_file: cannot be read",
            ),
        ] {
            let err = with(&format!(
                "url = \"https://sms.example.com/send\"\nca_file = \"{file}\""
            ))
            .unwrap_err()
            .to_string();
            assert!(err.contains(says), "{says} missing in: {err}");
        }
    }
}
