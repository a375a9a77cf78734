//! How a person reads a campaign report: the e-mail subject, the plain-text and HTML
//! summaries, what `contactd campaigns report ID` prints, and what the outbox keeps of a
//! report until it is sent ([`CampaignReport::to_outbox_body`]). The facts and the counting
//! rules are `core::report`'s, the reading `store::report`'s; the rendering methods of
//! [`CampaignReport`] are defined here, beside the mail they are for.
//!
//! Everything is rendered in a [`ReportLocale`] (`[mail] report_language`,
//! `report_time_zone`, `csv_separator`; [`report_locale`]).
//!
//! - [`sheets`]: the CSV for Excel and the `.xlsx` workbook.

use std::fmt::Write as _;

use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};

use crate::config::MailConfig;
use crate::core::report::labels::{quoted, state_text, yes_no, Label as L};
use crate::core::report::{
    percent, CampaignInfo, CampaignReport, Language, ReportCounts, ReportLocale, CSV_HEADER,
};
use crate::store::report::{campaign_report, ReportError};

pub mod sheets;

/// Why a report's CSV for Excel or its workbook could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("building the CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("building the .xlsx: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}

/// The locale of `[mail] report_language`, `report_time_zone` and `csv_separator`; every
/// problem is returned with the key it is about.
pub fn report_locale(m: &MailConfig) -> Result<ReportLocale, Vec<(&'static str, &'static str)>> {
    ReportLocale::from_keys(
        &m.report_language,
        &m.report_time_zone,
        m.csv_separator.as_deref(),
    )
}

/// Escapes text for HTML element content and attribute values.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The outbox body of a report: the gathered facts, rendered when the mail is sent.
#[derive(Serialize, Deserialize)]
struct OutboxBody {
    format: String,
    campaign: CampaignInfo,
    counts: ReportCounts,
    confirm_key: String,
}

/// `format` of [`OutboxBody`].
const OUTBOX_FORMAT: &str = "contactd.campaign_report.v1";

/// The auditors' e-mail of a report, rendered ([`CampaignReport::render_mail`]).
#[derive(Debug, Clone)]
pub struct MailParts {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The CSV for Excel ([`CampaignReport::render_local_csv`]).
    pub csv: Vec<u8>,
    pub xlsx: Vec<u8>,
    /// The workbook has the subscriber sheet (false: the summary alone, too many rows).
    pub xlsx_rows: bool,
}

impl CampaignReport {
    /// The e-mail subject: `Campaign 12 'Water outage' finished: 240 of 300 reached`,
    /// `Кампания 12 «Отключение воды» завершена: дозвонились до 240 из 300`.
    pub fn subject(&self, loc: &ReportLocale) -> String {
        let c = &self.campaign;
        let (reached, total) = (self.counts.reached, self.counts.total);
        let name = quoted(&c.name, loc.language);
        let state = state_text(&c.state, loc.language);
        match loc.language {
            Language::En => {
                format!(
                    "Campaign {} {name} {state}: {reached} of {total} reached",
                    c.id
                )
            }
            Language::Ru => format!(
                "Кампания {} {name} {state}: дозвонились до {reached} из {total}",
                c.id
            ),
        }
    }

    /// `Campaign 12 'Water outage': finished`.
    fn title(&self, loc: &ReportLocale) -> String {
        let c = &self.campaign;
        format!(
            "{} {} {}: {}",
            L::Campaign.tr(loc.language),
            c.id,
            quoted(&c.name, loc.language),
            state_text(&c.state, loc.language)
        )
    }

    /// The campaign's facts under the title, as label and value.
    fn info_lines(&self, loc: &ReportLocale) -> Vec<(&'static str, String)> {
        let lang = loc.language;
        let c = &self.campaign;
        let list = match &c.list_name {
            Some(name) => format!("{} {}", c.list_number, quoted(name, lang)),
            None => format!("{} {}", c.list_number, L::ListDeleted.tr(lang)),
        };
        let finished = match c.finished_at {
            Some(t) => loc.time(t),
            None => L::NotFinished.tr(lang).to_string(),
        };
        let lines = match lang {
            Language::En => format!("{} {} {}", c.lines, L::OnTrunk.tr(lang), c.trunk),
            Language::Ru => format!("{}, {} {}", c.lines, L::OnTrunk.tr(lang), c.trunk),
        };
        vec![
            (L::List.tr(lang), list),
            (L::StartedBy.tr(lang), c.created_by.clone()),
            (L::StartedAt.tr(lang), loc.time(c.created_at)),
            (L::FinishedAt.tr(lang), finished),
            (L::Lines.tr(lang), lines),
            (
                L::ConfirmAsked.tr(lang),
                yes_no(c.confirm, lang).to_string(),
            ),
        ]
    }

    /// The counts, labelled, in the order the auditor reads them.
    fn count_lines(&self, lang: Language) -> Vec<(String, i64)> {
        let n = &self.counts;
        let l = |label: L| label.tr(lang).to_string();
        let mut lines = vec![
            (l(L::Subscribers), n.total),
            (l(L::Reached), n.reached),
            (l(L::ListenedFull), n.listened_full),
            (l(L::ListenedPartial), n.listened_partial),
            (
                format!("{} {}", L::ConfirmedWithKey.tr(lang), self.confirm_key),
                n.confirmed,
            ),
            (l(L::Busy), n.busy),
            (l(L::NoAnswer), n.no_answer),
        ];
        // call progress outcomes: shown when there are any (older reports read as before)
        for (label, v) in [
            (L::Machine, n.machine),
            (L::Announcement, n.announcement),
            (L::Fax, n.fax),
            (L::Silence, n.silence),
        ] {
            if v > 0 {
                lines.push((l(label), v));
            }
        }
        lines.extend([
            (l(L::Failed), n.failed),
            (l(L::Invalid), n.invalid),
            (l(L::Dnc), n.dnc),
            (l(L::Unknown), n.unknown),
            (l(L::Cancelled), n.cancelled),
            (l(L::Pending), n.pending),
            (l(L::RejectedAtImport), n.rejected_at_import),
            (l(L::Attempts), n.attempts),
            (l(L::ReachedPercent), percent(n.reached, n.total)),
        ]);
        lines
    }

    /// `Each subscriber's outcome: campaign-12.csv and campaign-12.xlsx`, or, when the
    /// workbook holds the summary alone, says so.
    fn attachments_line(&self, lang: Language, xlsx_rows: bool) -> String {
        if xlsx_rows {
            format!(
                "{}: {} {} {}",
                L::EachSubscriber.tr(lang),
                self.csv_name(),
                L::And.tr(lang),
                self.xlsx_name()
            )
        } else {
            format!(
                "{}: {} ({}: {})",
                L::EachSubscriber.tr(lang),
                self.csv_name(),
                self.xlsx_name(),
                L::SummaryOnly.tr(lang)
            )
        }
    }

    /// Everything the auditors' e-mail carries, in `loc`. The workbook holds every
    /// subscriber when it comes to at most `xlsx_max_bytes`; above that (about 100,000
    /// subscribers for 5 MiB) it holds the summary alone, and the text and HTML say the rows
    /// are in the CSV, so the message stays within what mail relays commonly accept.
    pub fn render_mail(
        &self,
        loc: &ReportLocale,
        xlsx_max_bytes: usize,
    ) -> Result<MailParts, RenderError> {
        let mut xlsx = self.xlsx(loc, true)?;
        let xlsx_rows = xlsx.len() <= xlsx_max_bytes;
        if !xlsx_rows {
            xlsx = self.xlsx(loc, false)?;
        }
        Ok(MailParts {
            subject: self.subject(loc),
            text: self.text(loc, xlsx_rows),
            html: self.html(loc, xlsx_rows),
            csv: self.render_local_csv(loc)?,
            xlsx,
            xlsx_rows,
        })
    }

    /// The plain-text body: a header, then one labelled count per line.
    pub fn render_text(&self, loc: &ReportLocale) -> String {
        self.text(loc, true)
    }

    fn text(&self, loc: &ReportLocale, xlsx_rows: bool) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{}", self.title(loc));
        for (label, value) in self.info_lines(loc) {
            let _ = writeln!(s, "{label}: {value}");
        }
        s.push('\n');
        for (label, value) in self.count_lines(loc.language) {
            let _ = writeln!(s, "{label}: {value}");
        }
        s.push('\n');
        let _ = writeln!(s, "{}", self.attachments_line(loc.language, xlsx_rows));
        s
    }

    /// The HTML body: the same summary as [`render_text`](Self::render_text), the
    /// campaign's facts and the counts as tables (inline styles only: mail clients drop
    /// `<style>`).
    pub fn render_html(&self, loc: &ReportLocale) -> String {
        self.html(loc, true)
    }

    fn html(&self, loc: &ReportLocale, xlsx_rows: bool) -> String {
        const TH: &str =
            "style=\"text-align:left;padding:3px 16px 3px 0;font-weight:normal;color:#555\"";
        const CELL: &str = "style=\"border:1px solid #bbb;padding:4px 10px;text-align:left\"";
        const NUM: &str = "style=\"border:1px solid #bbb;padding:4px 10px;text-align:right\"";
        const HEAD: &str =
            "style=\"border:1px solid #bbb;padding:4px 10px;text-align:left;background:#eee\"";
        let lang = loc.language;
        let mut h = String::new();
        let _ = writeln!(h, "<!DOCTYPE html>");
        let _ = writeln!(h, "<html lang=\"{}\">", lang.code());
        let _ = writeln!(
            h,
            "<head><meta charset=\"utf-8\"><title>{}</title></head>",
            html_escape(&self.subject(loc))
        );
        let _ = writeln!(
            h,
            "<body style=\"font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222\">"
        );
        let _ = writeln!(
            h,
            "<h2 style=\"font-size:18px\">{}</h2>",
            html_escape(&self.title(loc))
        );
        let _ = writeln!(
            h,
            "<table style=\"border-collapse:collapse;margin-bottom:16px\">"
        );
        for (label, value) in self.info_lines(loc) {
            let _ = writeln!(
                h,
                "<tr><th scope=\"row\" {TH}>{}</th><td>{}</td></tr>",
                html_escape(label),
                html_escape(&value)
            );
        }
        let _ = writeln!(h, "</table>");
        let _ = writeln!(h, "<table style=\"border-collapse:collapse\">");
        let _ = writeln!(
            h,
            "<thead><tr><th {HEAD}>{}</th><th {HEAD}>{}</th></tr></thead>",
            L::Figure.tr(lang),
            L::Value.tr(lang)
        );
        let _ = writeln!(h, "<tbody>");
        for (label, value) in self.count_lines(lang) {
            let _ = writeln!(
                h,
                "<tr><td {CELL}>{}</td><td {NUM}>{value}</td></tr>",
                html_escape(&label)
            );
        }
        let _ = writeln!(h, "</tbody>");
        let _ = writeln!(h, "</table>");
        let _ = writeln!(
            h,
            "<p>{}</p>",
            html_escape(&self.attachments_line(lang, xlsx_rows))
        );
        let _ = writeln!(h, "</body>");
        let _ = writeln!(h, "</html>");
        h
    }

    /// What the outbox keeps of a report (the campaign, the counts, the key; the machine
    /// CSV goes beside it as the attachment): the mailer renders it in the configured
    /// language and zone when it sends, so a report queued during a mail outage goes out
    /// as the config says at that time.
    pub fn to_outbox_body(&self) -> String {
        serde_json::to_string(&OutboxBody {
            format: OUTBOX_FORMAT.into(),
            campaign: self.campaign.clone(),
            counts: self.counts,
            confirm_key: self.confirm_key.clone(),
        })
        .expect("plain data serializes")
    }

    /// The report an outbox row holds, from its body and attachment (the machine CSV). A
    /// body that is not a report (finished text, queued by an older version) gives the
    /// attachment back untouched.
    pub fn from_outbox(
        body: &str,
        machine_csv: Option<String>,
    ) -> Result<CampaignReport, Option<String>> {
        let stored = body
            .starts_with('{')
            .then(|| serde_json::from_str::<OutboxBody>(body).ok())
            .flatten()
            .filter(|b| b.format == OUTBOX_FORMAT);
        let Some(b) = stored else {
            return Err(machine_csv);
        };
        Ok(CampaignReport::new(
            b.campaign,
            b.counts,
            b.confirm_key,
            machine_csv.unwrap_or_else(|| format!("{}\n", CSV_HEADER.join(","))),
        ))
    }
}

/// What `contactd campaigns report ID` prints with the `[mail]` defaults (English, UTC):
/// the text summary, then the machine CSV.
pub async fn print_report(
    pool: &Pool,
    campaign_id: i64,
    confirm_key: &str,
) -> Result<String, ReportError> {
    print_report_in(pool, campaign_id, confirm_key, &ReportLocale::default()).await
}

/// The text summary in `loc` (what the auditors read), then the machine CSV (codes, UTC
/// times, `,`: for scripts).
pub async fn print_report_in(
    pool: &Pool,
    campaign_id: i64,
    confirm_key: &str,
    loc: &ReportLocale,
) -> Result<String, ReportError> {
    let report = campaign_report(pool, campaign_id, confirm_key).await?;
    let mut out = report.render_text(loc);
    out.push('\n');
    out.push_str(report.render_csv());
    Ok(out)
}

#[cfg(test)]
mod tests;
