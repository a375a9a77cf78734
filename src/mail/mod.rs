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

use std::time::Duration;

use deadpool_postgres::Pool;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::watch;

use crate::config::{MailConfig, SmtpTls};
use crate::core::report::{CampaignReport, ReportLocale};
use crate::store::postgres::StoreError;

pub mod digest;
pub mod report;

/// The outbox `kind` of a campaign report.
pub const KIND_CAMPAIGN_REPORT: &str = "campaign_report";

/// Retries never wait longer than this, whatever the number of failures.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);

/// How long a send in flight may finish after shutdown was asked.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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
    fn build(&self, m: OutboxMessage) -> Result<Message, MailError> {
        build(&self.from, &self.locale, self.xlsx_max, m)
    }
}

/// One outbox row's message: a campaign report rendered in `locale`, or a row of finished
/// text as it is.
fn build(
    from: &Mailbox,
    locale: &ReportLocale,
    xlsx_max: usize,
    m: OutboxMessage,
) -> Result<Message, MailError> {
    // a digest's row keeps its facts, rendered here like a report's
    let digest = match digest::Digest::from_outbox(&m.body) {
        Some(d) => Some(digest::mail_body(&d, locale)?),
        None => None,
    };
    let (report, attachment) = match CampaignReport::from_outbox(&m.body, m.attachment) {
        Ok(report) => {
            let parts = report
                .render_mail(locale, xlsx_max)
                .map_err(|e| MailError::Render(e.to_string()))?;
            (Some((report, parts)), None)
        }
        Err(attachment) => (None, attachment),
    };
    let subject = match (&digest, &report) {
        (Some((subject, _)), _) => subject.clone(),
        (None, Some((_, parts))) => parts.subject.clone(),
        (None, None) => m.subject,
    };
    let mut b = Message::builder()
        .from(from.clone())
        .subject(header_text(&subject))
        // Stable across retries, so a duplicate after a crash is recognisable.
        .message_id(Some(format!(
            "<contactd.outbox.{}.{}@{}>",
            m.id,
            m.created_unix,
            from.email.domain()
        )));
    if m.recipients.is_empty() {
        return Err(MailError::NoRecipients);
    }
    for r in &m.recipients {
        b = b.to(Mailbox::new(None, parse_address(r)?));
    }
    if let Some((_, body)) = digest {
        return Ok(b.multipart(body)?);
    }
    if let Some((r, parts)) = report {
        let xlsx_type =
            ContentType::parse("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                .expect("a valid literal content type");
        let body = MultiPart::alternative_plain_html(parts.text, parts.html);
        return Ok(b.multipart(
            MultiPart::mixed()
                .multipart(body)
                .singlepart(csv_attachment(r.csv_name(), parts.csv))
                .singlepart(Attachment::new(file_name(&r.xlsx_name())).body(parts.xlsx, xlsx_type)),
        )?);
    }
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(m.body);
    let msg = match (m.attachment_name, attachment) {
        (Some(name), Some(data)) => b.multipart(
            MultiPart::mixed()
                .singlepart(text)
                .singlepart(csv_attachment(name, data.into_bytes())),
        )?,
        _ => b.singlepart(text)?,
    };
    Ok(msg)
}

/// A header value built from user data (the campaign name in the subject): every control
/// character escaped (`\n`, `\u{1b}`), so none reaches a header, raw or RFC 2047-encoded,
/// where it could fold in a header of its own or drive a terminal.
pub fn header_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// An attachment's file name: control characters, `/`, `\` and `"` become `_`.
pub fn file_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | '"' | '\u{2028}' | '\u{2029}') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// A CSV attachment as it is, or gzip-compressed as `NAME.gz` above [`GZIP_ABOVE`].
fn csv_attachment(name: String, data: Vec<u8>) -> SinglePart {
    let name = file_name(&name);
    if data.len() > GZIP_ABOVE {
        let gz = ContentType::parse("application/gzip").expect("a valid literal content type");
        Attachment::new(format!("{name}.gz")).body(gzip(&data), gz)
    } else {
        let csv =
            ContentType::parse("text/csv; charset=utf-8").expect("a valid literal content type");
        Attachment::new(name).body(data, csv)
    }
}

/// Attachments above this are sent gzip-compressed: a 200,000-subscriber CSV is ~20 MB
/// (~27 MB encoded), more than many SMTP servers accept; compressed it is a few MB.
pub const GZIP_ABOVE: usize = 1024 * 1024;

/// The report's `.xlsx` carries every subscriber up to this size (about 100,000
/// subscribers), the summary alone above it: a 200,000-row workbook is ~10 MB (~13 MB
/// encoded), which with the CSV would pass the 10 MB many relays accept.
pub const XLSX_ROWS_AT_MOST: usize = 5 * 1024 * 1024;

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    enc.write_all(data).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
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

/// Writes the campaign's report to the outbox. Returns false when it was already there:
/// `UNIQUE (kind, campaign_id)` makes a second enqueue (a restart, a second instance) a no-op.
pub async fn enqueue_report(
    pool: &Pool,
    campaign_id: i64,
    recipients: &[String],
    report: &CampaignReport,
) -> Result<bool, MailError> {
    let to = self::recipients(recipients)?;
    let db = pool.get().await?;
    let n = db
        .execute(
            "INSERT INTO outbox (kind, campaign_id, recipients, subject, body,
                                 attachment_name, attachment)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (kind, campaign_id) DO NOTHING",
            &[
                &KIND_CAMPAIGN_REPORT,
                &campaign_id,
                &to,
                // the subject as the log and a reader of the table see it; the message is
                // rendered in the configured language when it is sent
                &report.subject(&ReportLocale::default()),
                &report.to_outbox_body(),
                &report.csv_name(),
                &report.render_csv(),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// An outbox row as sent.
struct OutboxMessage {
    id: i64,
    created_unix: i64,
    recipients: Vec<String>,
    subject: String,
    body: String,
    attachment_name: Option<String>,
    attachment: Option<String>,
}

/// Delay before the next try after `tries` failures (1-based): `base * 2^(tries-1)`, at
/// most [`MAX_RETRY`].
pub fn backoff(base: Duration, tries: u32) -> Duration {
    let factor = 2u32.saturating_pow(tries.saturating_sub(1));
    base.checked_mul(factor).unwrap_or(MAX_RETRY).min(MAX_RETRY)
}

/// Sends every row due now, one at a time, each claimed with `FOR UPDATE SKIP LOCKED` for
/// the length of its SMTP conversation, so two instances never send the same row. Returns
/// how many were sent. A failed send is recorded on its row, not returned as an error;
/// errors are the database's.
pub async fn send_due_once(
    pool: &Pool,
    mailer: &Mailer,
    retry_base: Duration,
) -> Result<usize, MailError> {
    send_due(pool, mailer, retry_base, None).await
}

/// [`send_due_once`] that stops between two messages once `stop` turns true.
async fn send_due(
    pool: &Pool,
    mailer: &Mailer,
    retry_base: Duration,
    stop: Option<&watch::Receiver<bool>>,
) -> Result<usize, MailError> {
    let mut sent = 0;
    // Walking by id makes one pass finite even when a failed row is due again at once
    // (retry_base of zero).
    let mut after_id: i64 = 0;
    loop {
        if stop.is_some_and(|s| *s.borrow()) {
            return Ok(sent);
        }
        let mut db = pool.get().await?;
        let tx = db.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT id, extract(epoch FROM created_at)::bigint, recipients, subject, body,
                        attachment_name, attachment, tries
                 FROM outbox
                 WHERE sent_at IS NULL AND next_try_at <= now() AND id > $1
                 ORDER BY id LIMIT 1
                 FOR UPDATE SKIP LOCKED",
                &[&after_id],
            )
            .await?
        else {
            return Ok(sent);
        };
        let m = OutboxMessage {
            id: row.get(0),
            created_unix: row.get(1),
            recipients: row.get(2),
            subject: row.get(3),
            body: row.get(4),
            attachment_name: row.get(5),
            attachment: row.get(6),
        };
        after_id = m.id;
        let tries = u32::try_from(row.get::<_, i32>(7)).unwrap_or(0) + 1;
        let (id, subject) = (m.id, m.subject.clone());
        match mailer.send(m).await {
            Ok(()) => {
                tx.execute(
                    "UPDATE outbox SET sent_at = now(), tries = tries + 1 WHERE id = $1",
                    &[&id],
                )
                .await?;
                tx.commit().await?;
                tracing::info!(outbox = id, subject = ?subject, "mail sent");
                sent += 1;
            }
            Err(e) => {
                // Permanent rejections wait the longest; see MailError::is_retryable.
                let delay = if e.is_retryable() {
                    backoff(retry_base, tries)
                } else {
                    MAX_RETRY
                };
                tx.execute(
                    "UPDATE outbox SET tries = tries + 1, last_error = $2,
                            next_try_at = now() + make_interval(secs => $3)
                     WHERE id = $1",
                    &[&id, &e.to_string(), &delay.as_secs_f64()],
                )
                .await?;
                tx.commit().await?;
                if e.is_retryable() {
                    tracing::warn!(outbox = id, server = %mailer.server, tries, retry_in_s = delay.as_secs(), error = %e, "mail not sent, will retry");
                } else {
                    tracing::error!(outbox = id, server = %mailer.server, tries, retry_in_s = delay.as_secs(), error = %e, "mail rejected, kept in the outbox");
                }
            }
        }
    }
}

/// Delivers the outbox until `shutdown` turns true (or its sender is gone). Wakes every
/// second; a database error is logged and the next tick tries again. On shutdown the message
/// in flight gets [`SHUTDOWN_GRACE`] to finish and be marked sent, so a report the server
/// already took is not sent again after restart; past the grace it is abandoned unsent (the
/// row stays due) rather than hold up the daemon's exit.
pub async fn run_outbox(
    pool: Pool,
    mailer: Mailer,
    retry_base: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            _ = tick.tick() => {}
            r = shutdown.changed() => if r.is_err() { return } else { continue },
        }
        let stop = shutdown.clone();
        let work = send_due(&pool, &mailer, retry_base, Some(&stop));
        tokio::pin!(work);
        let result = tokio::select! {
            r = &mut work => r,
            r = shutdown.changed() => {
                if r.is_ok() && !*shutdown.borrow() {
                    // changed back to false: not a shutdown, let the pass finish
                    work.await
                } else {
                    // the pass sees `stop` and ends after the message in flight
                    match tokio::time::timeout(SHUTDOWN_GRACE, work).await {
                        Ok(r) => r,
                        Err(_) => {
                            tracing::warn!("outbox: shutdown interrupted a send; it stays queued");
                            return;
                        }
                    }
                }
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "outbox: cannot read the outbox");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let b = Duration::from_secs(60);
        assert_eq!(backoff(b, 1), Duration::from_secs(60));
        assert_eq!(backoff(b, 2), Duration::from_secs(120));
        assert_eq!(backoff(b, 3), Duration::from_secs(240));
        assert_eq!(backoff(b, 7), MAX_RETRY);
        assert_eq!(backoff(b, 40), MAX_RETRY);
        assert_eq!(backoff(b, u32::MAX), MAX_RETRY);
    }

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

    #[test]
    fn control_characters_in_user_data_never_reach_a_header_raw() {
        let m = Mailer::new(&MailConfig::default()).unwrap();
        let msg = OutboxMessage {
            id: 1,
            created_unix: 0,
            recipients: vec!["audit@example.org".into()],
            subject: "C 'W\r\nBcc: e@x.org'\u{1b}".into(),
            body: "b".into(),
            attachment_name: Some("a\r\nX-Evil: 1\".csv".into()),
            attachment: Some("x,y\n".into()),
        };
        let formatted = String::from_utf8(m.build(msg).unwrap().formatted()).unwrap();
        let head = &formatted[..formatted.find("\r\n\r\n").unwrap()];
        println!("{formatted}");
        assert!(
            head.contains("Subject: C 'W\\r\\nBcc: e@x.org'\\u{1b}\r\n"),
            "{head}"
        );
        assert!(
            formatted.contains("filename=\"a__X-Evil: 1_.csv\""),
            "{formatted}"
        );
        assert!(!formatted
            .lines()
            .any(|l| l.starts_with("Bcc:") || l.starts_with("X-Evil")));
    }

    #[test]
    fn large_csv_is_attached_gzipped_and_small_as_is() {
        let m = Mailer::new(&MailConfig::default()).unwrap();
        let row = "+79161234567,Subscriber,ACC000001,listened_full,1,NORMAL_CLEARING,16,12.0,yes,,2026-11-25T10:00:00Z\n";
        let big = row.repeat(GZIP_ABOVE / row.len() + 10);
        let msg = |csv: &str| OutboxMessage {
            id: 1,
            created_unix: 0,
            recipients: vec!["audit@example.org".into()],
            subject: "s".into(),
            body: "b".into(),
            attachment_name: Some("campaign-1.csv".into()),
            attachment: Some(csv.to_string()),
        };
        let formatted = String::from_utf8(m.build(msg(&big)).unwrap().formatted()).unwrap();
        assert!(formatted.contains("campaign-1.csv.gz"), "gzip name missing");
        assert!(formatted.contains("application/gzip"));
        assert!(
            formatted.len() < big.len() / 10,
            "not compressed: {}",
            formatted.len()
        );
        let small = String::from_utf8(m.build(msg(row)).unwrap().formatted()).unwrap();
        assert!(small.contains("text/csv") && !small.contains(".gz"));
        // what is attached decompresses to the CSV
        use std::io::Read;
        let mut out = String::new();
        flate2::read::GzDecoder::new(&gzip(big.as_bytes())[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, big);
    }

    #[test]
    fn a_report_row_is_rendered_as_the_config_says() {
        use crate::core::report::{CampaignInfo, ReportCounts, CSV_HEADER};
        let cfg = MailConfig {
            report_language: "ru".into(),
            report_time_zone: "Europe/Moscow".into(),
            ..MailConfig::default()
        };
        let m = Mailer::new(&cfg).unwrap();
        let row = "+79161234567,Абонент,ACC000001,listened_full,1,NORMAL_CLEARING,16,12.0,yes,,2026-11-25T10:00:00Z\n";
        let rows = GZIP_ABOVE / row.len() + 10;
        let csv = format!("{}\n{}", CSV_HEADER.join(","), row.repeat(rows));
        let campaign = CampaignInfo {
            id: 5,
            name: "Вода".into(),
            list_number: 3,
            list_name: None,
            created_by: "cli".into(),
            created_at: "2026-12-01T18:33:37Z".parse().unwrap(),
            finished_at: None,
            state: "finished".into(),
            lines: 5,
            trunk: "e1".into(),
            confirm: false,
        };
        let counts = ReportCounts {
            total: rows as i64,
            ..Default::default()
        };
        let body = serde_json::json!({
            "format": "contactd.campaign_report.v1",
            "campaign": campaign,
            "counts": counts,
            "confirm_key": "1",
        });
        let msg = OutboxMessage {
            id: 1,
            created_unix: 0,
            recipients: vec!["audit@example.org".into()],
            subject: "Campaign 5 'Вода' finished: 0 of 1 reached".into(),
            body: body.to_string(),
            attachment_name: Some("campaign-5.csv".into()),
            attachment: Some(csv),
        };
        let formatted = String::from_utf8(m.build(msg).unwrap().formatted()).unwrap();
        for part in [
            "multipart/mixed",
            "multipart/alternative",
            "text/plain; charset=utf-8",
            "text/html; charset=utf-8",
            "filename=\"campaign-5.csv.gz\"",
            "application/gzip",
            "filename=\"campaign-5.xlsx\"",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ] {
            assert!(formatted.contains(part), "{part} missing");
        }
        assert!(!formatted.contains("text/csv"), "the large CSV is gzipped");
        // the subject is rendered, not the stored one (RFC 2047-encoded: no raw English)
        assert!(!formatted.contains("Campaign 5"), "stored subject sent");
    }
}
