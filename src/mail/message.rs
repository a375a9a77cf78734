//! One outbox row made into a message: a campaign report or a digest rendered in the
//! configured locale (text, HTML, CSV for Excel gzipped above a size, `.xlsx`), or
//! a row of finished text as it is; and the escaping of user data in headers and file names.

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;

use super::attach::{csv_attachment, file_name};
use super::outbox::OutboxMessage;
use super::{digest, parse_address, MailError};
use crate::core::report::{CampaignReport, ReportLocale};

/// One outbox row's message: a campaign report rendered in `locale`, or a row of finished
/// text as it is.
pub(super) fn build(
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

/// The report's `.xlsx` carries every subscriber up to this size (about 100,000
/// subscribers), the summary alone above it: a 200,000-row workbook is ~10 MB (~13 MB
/// encoded), which with the CSV would pass the 10 MB many relays accept.
pub const XLSX_ROWS_AT_MOST: usize = 5 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MailConfig;
    use crate::mail::attach::gzip;
    use crate::mail::Mailer;
    use crate::mail::GZIP_ABOVE;

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
