//! E-mail: the outbox of reports and the loop that delivers it over SMTP.
//!
//! A report is first written to the `outbox` table (one row per campaign, so enqueuing twice
//! sends once), then sent by [`run_outbox`]. A row is never deleted: it is marked `sent_at`
//! once the SMTP server accepted it, and until then every failure is recorded (`tries`,
//! `last_error`) and retried later. Delivery is at-least-once: a crash between the server's
//! acceptance and the `sent_at` update sends the report again (with the same Message-ID, so
//! mail clients can fold the duplicate), which beats a report silently lost.
//!
//! A campaign report's row keeps the report's facts (`body`: [`CampaignReport::to_outbox_body`];
//! `attachment`: the machine CSV), and the mailer renders them when it sends, in the
//! `[mail]` language and time zone: a `multipart/mixed` of a `multipart/alternative` (the
//! plain-text summary, and the same as HTML with tables), the CSV for Excel (gzip-compressed
//! above [`GZIP_ABOVE`]) and the `.xlsx` workbook. Rows whose body is finished text (queued
//! by an older version) are sent as they are.
//!
//! - [`report`]: how a campaign report reads (subject, text, HTML, CSV for Excel, `.xlsx`).
//! - [`digest`]: the auditors' daily and weekly digest (gathered facts, rendered when sent).
//! - `outbox`: the table's rows written, claimed, sent, retried; `message`: a row made into
//!   the MIME message.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{MailConfig, SmtpTls};
use crate::core::report::ReportLocale;
use crate::store::postgres::StoreError;

mod attach;
pub mod digest;
mod message;
mod outbox;
pub mod report;

pub use attach::{file_name, GZIP_ABOVE};
use message::build;
pub use message::{header_text, XLSX_ROWS_AT_MOST};
use outbox::OutboxMessage;
pub use outbox::{
    backoff, enqueue_report, run_outbox, send_due_once, KIND_CAMPAIGN_REPORT, MAX_RETRY,
    SHUTDOWN_GRACE,
};

/// One SMTP conversation may not hang the outbox longer than this.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid e-mail address {address:?}: {reason}")]
    Address { address: String, reason: String },
    #[error("no recipients: set mail.auditors or the manager's e-mail")]
    NoRecipients,
    #[error("mail config: {0}")]
    Config(String),
    #[error("building the message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("rendering the report: {0}")]
    Render(String),
    #[error("smtp: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<tokio_postgres::Error> for MailError {
    fn from(e: tokio_postgres::Error) -> Self {
        MailError::Store(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for MailError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        MailError::Store(e.into())
    }
}

impl MailError {
    /// A failure that may pass by itself: connection refused, timeouts, TLS hiccups, 4xx
    /// replies, the database being away. 5xx replies and bad data are not retryable in
    /// this sense, yet the outbox still keeps such a report and tries it again at
    /// [`MAX_RETRY`] intervals: a 5xx is most often the relay's configuration (relaying
    /// denied, authentication required), which the sysadmin fixes, and dropping the
    /// report would lose it silently. `last_error` shows the reason meanwhile.
    pub fn is_retryable(&self) -> bool {
        match self {
            MailError::Smtp(e) => !e.is_permanent(),
            MailError::Store(e) => e.is_retryable(),
            MailError::Address { .. }
            | MailError::NoRecipients
            | MailError::Config(_)
            | MailError::Render(_)
            | MailError::Build(_) => false,
        }
    }
}

/// Parses an address the way lettre will send to it; the error names it.
pub fn parse_address(address: &str) -> Result<Address, MailError> {
    address
        .trim()
        .parse::<Address>()
        .map_err(|e| MailError::Address {
            address: address.to_string(),
            reason: e.to_string(),
        })
}

/// The SMTP transport `[mail]` describes (host, port, TLS mode, credentials, timeout): the
/// reports' outbox and the messages sent during calls both send through it.
pub fn smtp_transport(cfg: &MailConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let builder = match cfg.tls {
        SmtpTls::None => {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.smtp_host.as_str())
        }
        SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.smtp_host)
            .map_err(|e| MailError::Config(format!("mail.smtp_host: {e}")))?,
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.smtp_host)
            .map_err(|e| MailError::Config(format!("mail.smtp_host: {e}")))?,
    };
    let mut builder = builder.port(cfg.smtp_port).timeout(Some(SMTP_TIMEOUT));
    if !cfg.username.is_empty() {
        builder = builder.credentials(Credentials::new(
            cfg.username.clone(),
            cfg.password.expose().to_string(),
        ));
    }
    Ok(builder.build())
}

/// The SMTP side of the outbox.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The language, zone and CSV separator reports are rendered in.
    locale: ReportLocale,
    /// [`XLSX_ROWS_AT_MOST`]; lowered by tests.
    xlsx_max: usize,
    // For log lines; the password is never kept outside the transport.
    server: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .field("locale", &self.locale)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    pub fn new(cfg: &MailConfig) -> Result<Mailer, MailError> {
        let from: Mailbox = cfg
            .from
            .parse()
            .map_err(|e: lettre::address::AddressError| MailError::Address {
                address: cfg.from.clone(),
                reason: e.to_string(),
            })?;
        let locale = report::report_locale(cfg).map_err(|problems| {
            let named: Vec<String> = problems.iter().map(|(k, p)| format!("{k}: {p}")).collect();
            MailError::Config(named.join("; "))
        })?;
        let transport = smtp_transport(cfg)?;
        Ok(Mailer {
            transport,
            from,
            locale,
            xlsx_max: XLSX_ROWS_AT_MOST,
            server: format!("{}:{} ({:?})", cfg.smtp_host, cfg.smtp_port, cfg.tls),
        })
    }

    /// Builds and sends one outbox row's message. Rendering a report (a 200,000-row
    /// `.xlsx` takes seconds of CPU) runs on the blocking pool, not on the runtime.
    async fn send(&self, m: OutboxMessage) -> Result<(), MailError> {
        let (from, locale, xlsx_max) = (self.from.clone(), self.locale, self.xlsx_max);
        let msg = tokio::task::spawn_blocking(move || build(&from, &locale, xlsx_max, m))
            .await
            .map_err(|e| MailError::Render(e.to_string()))??;
        self.transport.send(msg).await?;
        Ok(())
    }

    #[cfg(test)]
    fn build(&self, m: OutboxMessage) -> Result<lettre::Message, MailError> {
        build(&self.from, &self.locale, self.xlsx_max, m)
    }
}

/// Recipients in order, without duplicates (the manager may be an auditor too), each
/// validated; the first bad address is the error.
pub fn recipients(addresses: &[String]) -> Result<Vec<String>, MailError> {
    let mut out: Vec<String> = Vec::new();
    for a in addresses {
        let parsed = parse_address(a)?.to_string();
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&parsed)) {
            out.push(parsed);
        }
    }
    if out.is_empty() {
        return Err(MailError::NoRecipients);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn recipients_are_checked_and_deduplicated() {
        let ok = recipients(&["a@x.ru".into(), " b@x.ru".into(), "A@x.ru".into()]).unwrap();
        assert_eq!(ok, vec!["a@x.ru", "b@x.ru"]);
        let err = recipients(&["a@x.ru".into(), "not an address".into()]).unwrap_err();
        assert!(err.to_string().contains("not an address"), "{err}");
        assert!(matches!(recipients(&[]), Err(MailError::NoRecipients)));
    }

    #[test]
    fn every_tls_mode_builds_and_a_bad_sender_is_named() {
        for tls in [SmtpTls::None, SmtpTls::Starttls, SmtpTls::Tls] {
            let cfg = MailConfig {
                smtp_host: "smtp.vodokanal.example".into(),
                smtp_port: 587,
                tls,
                ..MailConfig::default()
            };
            assert!(Mailer::new(&cfg).is_ok(), "{tls:?}");
        }
        let cfg = MailConfig {
            from: "robot at vodokanal".into(),
            ..MailConfig::default()
        };
        let err = Mailer::new(&cfg).unwrap_err().to_string();
        assert!(err.contains("robot at vodokanal"), "{err}");
    }

    #[test]
    fn the_password_is_not_in_debug() {
        let cfg = MailConfig {
            username: "robot".into(),
            password: Secret("hunter2-smtp".into()),
            ..MailConfig::default()
        };
        let m = Mailer::new(&cfg).unwrap();
        assert!(!format!("{m:?}").contains("hunter2"));
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }
}
