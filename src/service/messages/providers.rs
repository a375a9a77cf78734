//! The providers a message leaves through: SMTP (lettre, the `[mail]` transport) and an
//! HTTP SMS gateway (`[sms]`). Each send carries the message's own reference — the
//! e-mail's Message-ID, the SMS's `client_ref` — the same on every retry of the message.
//! Errors say whether trying again may help; none carries the gateway's token or URL.

use std::error::Error as _;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;

use crate::config::{Config, SmsConfig};
use crate::store::messages::Claimed;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// May pass by itself (connection refused, a timeout, a 4xx SMTP reply, a 5xx or 429
    /// from the gateway).
    #[error("{0}")]
    Passing(String),
    /// Refused for good (a 5xx SMTP reply, a 4xx from the gateway, a bad message).
    #[error("{0}")]
    Permanent(String),
}

impl ProviderError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, ProviderError::Passing(_))
    }
}

/// The senders built from the config; a channel without one fails its messages as
/// passing errors (kept queued until `max_tries`).
pub struct Providers {
    smtp: Result<(AsyncSmtpTransport<Tokio1Executor>, Mailbox), String>,
    sms: Option<SmsGateway>,
}

impl Providers {
    pub fn new(config: &Config) -> Self {
        let smtp = crate::mail::smtp_transport(&config.mail)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                config
                    .mail
                    .from
                    .parse::<Mailbox>()
                    .map(|from| (t, from))
                    .map_err(|e| format!("mail.from: {e}"))
            });
        Providers {
            smtp,
            sms: SmsGateway::new(&config.sms),
        }
    }

    /// Sends one claimed message; the provider's id for it when it gave one.
    pub async fn send(&self, m: &Claimed) -> Result<Option<String>, ProviderError> {
        match m.channel.as_str() {
            "email" => self.send_email(m).await,
            "sms" => match &self.sms {
                Some(g) => g.send(&m.recipient, &m.body, &m.reference).await,
                None => Err(ProviderError::Passing("no [sms] gateway configured".into())),
            },
            other => Err(ProviderError::Permanent(format!(
                "unknown channel {other:?}"
            ))),
        }
    }

    async fn send_email(&self, m: &Claimed) -> Result<Option<String>, ProviderError> {
        let (transport, from) = self
            .smtp
            .as_ref()
            .map_err(|e| ProviderError::Passing(format!("mail is not configured: {e}")))?;
        let msg = build_email(from, m).await?;
        match transport.send(msg).await {
            Ok(r) => Ok(Some(
                format!("{} {}", r.code(), r.message().collect::<Vec<_>>().join(" "))
                    .chars()
                    .take(200)
                    .collect(),
            )),
            Err(e) if e.is_permanent() => Err(ProviderError::Permanent(format!("smtp: {e}"))),
            Err(e) => Err(ProviderError::Passing(format!("smtp: {e}"))),
        }
    }
}

/// The e-mail of a claimed message: plain text, the template's files attached, and a
/// Message-ID made of the message's reference (so a resend is the same message).
pub async fn build_email(from: &Mailbox, m: &Claimed) -> Result<Message, ProviderError> {
    let to = crate::mail::parse_address(&m.recipient)
        .map_err(|e| ProviderError::Permanent(e.to_string()))?;
    let subject = crate::mail::header_text(m.subject.as_deref().unwrap_or_default());
    let b = Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, to))
        .subject(subject)
        .message_id(Some(format!(
            "<contactd.message.{}@{}>",
            m.reference,
            from.email.domain()
        )));
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(m.body.clone());
    let built = if m.attachments.is_empty() {
        b.singlepart(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(text);
        for path in &m.attachments {
            // checked at start; a file gone since is the sysadmin's to put back
            let data = tokio::fs::read(path)
                .await
                .map_err(|e| ProviderError::Passing(format!("attachment {path}: {e}")))?;
            let name = std::path::Path::new(path)
                .file_name()
                .map(|n| crate::mail::file_name(&n.to_string_lossy()))
                .unwrap_or_else(|| "attachment".into());
            parts = parts.singlepart(Attachment::new(name.clone()).body(data, content_type(&name)));
        }
        b.multipart(parts)
    };
    built.map_err(|e| ProviderError::Permanent(format!("building the e-mail: {e}")))
}

fn content_type(name: &str) -> ContentType {
    let ext = name
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let t = match ext.as_str() {
        "pdf" => "application/pdf",
        "txt" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/octet-stream",
    };
    ContentType::parse(t).expect("a valid literal content type")
}

/// An HTTP SMS gateway: `POST url` with `Authorization: Bearer TOKEN` and JSON
/// `{"to", "text", "client_ref", "sender"?}`. 2xx: accepted (`id` or `message_id` of a JSON
/// reply is kept); 408, 429 and 5xx: try again; other 4xx: refused for good; no answer in
/// `timeout_seconds`: try again.
#[derive(Clone)]
pub struct SmsGateway {
    client: reqwest::Client,
    url: reqwest::Url,
    token: crate::config::Secret,
    sender: Option<String>,
}

impl std::fmt::Debug for SmsGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsGateway")
            .field("host", &self.url.host_str())
            .finish_non_exhaustive()
    }
}

impl SmsGateway {
    /// None without `[sms] url` (validation refuses a bad one, and a bad `ca_file`).
    /// TLS is rustls with the bundled Mozilla roots and the certificates of `ca_file`.
    pub fn new(cfg: &SmsConfig) -> Option<Self> {
        let url = reqwest::Url::parse(&cfg.url).ok()?;
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(url.scheme() == "https")
            .timeout(Duration::from_secs(cfg.timeout_seconds.max(1)))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = &cfg.ca_file {
            match crate::config::read_ca_file(path) {
                Ok(certs) => {
                    for c in certs {
                        b = b.add_root_certificate(c);
                    }
                }
                Err(e) => {
                    tracing::error!(ca_file = %path.display(), "sms.ca_file {e}; no SMS gateway");
                    return None;
                }
            }
        }
        let client = b.build().ok()?;
        Some(SmsGateway {
            client,
            url,
            token: cfg.token.clone(),
            sender: cfg.sender.clone(),
        })
    }

    pub async fn send(
        &self,
        to: &str,
        text: &str,
        client_ref: &str,
    ) -> Result<Option<String>, ProviderError> {
        let mut body = json!({"to": to, "text": text, "client_ref": client_ref});
        if let Some(s) = &self.sender {
            body["sender"] = json!(s);
        }
        let mut req = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if !self.token.expose().is_empty() {
            req = req.bearer_auth(self.token.expose());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ProviderError::Passing(format!("sms gateway: {}", describe(&e))))?;
        let status = resp.status();
        let reply = resp.text().await.unwrap_or_default();
        let said: String = reply
            .chars()
            .take(200)
            .filter(|c| !c.is_control())
            .collect();
        if status.is_success() {
            let id = serde_json::from_str::<serde_json::Value>(&reply)
                .ok()
                .and_then(|v| {
                    v.get("id")
                        .or_else(|| v.get("message_id"))
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                });
            return Ok(id.map(|i| i.chars().take(200).collect()));
        }
        let what = format!("sms gateway answered {status}: {said}");
        if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
            Err(ProviderError::Passing(what))
        } else {
            Err(ProviderError::Permanent(what))
        }
    }
}

/// Why a request failed, without reqwest's own Display (which names the URL).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "no answer in time"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut cause = e.source();
    let mut last = None;
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    match last {
        Some(c) if !e.is_timeout() => format!("{what}: {c}"),
        _ => what.to_string(),
    }
}
