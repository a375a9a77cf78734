//! The report as sheets for an auditor's desktop: the CSV for Excel (UTF-8 BOM, the
//! locale's separator and decimal mark, local times, outcome codes beside their
//! translation) and the `.xlsx` workbook (a summary sheet and a sheet of every subscriber,
//! typed cells). Both are rendered from the machine CSV the report was gathered as.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Timelike, Utc};

use super::RenderError;
use crate::core::report::labels::{outcome_text, quoted, state_text, yes_no, Label as L};
use crate::core::report::{CampaignReport, Language, ReportLocale, CSV_HEADER};

// Machine CSV columns, by index into CSV_HEADER.
const C_PHONE: usize = 0;
const C_NAME: usize = 1;
const C_ACCOUNT: usize = 2;
const C_OUTCOME: usize = 3;
const C_ATTEMPTS: usize = 4;
const C_CAUSE: usize = 5;
const C_Q850: usize = 6;
const C_LISTENED: usize = 7;
const C_FULL: usize = 8;
const C_KEY: usize = 9;
const C_LAST_AT: usize = 10;

/// Columns of the auditors' CSV and `.xlsx` subscriber sheet, in order: the machine
/// columns with the outcome's translation after its code.
const LOCAL_COLUMNS: usize = 12;

/// Column titles of the auditors' `.xlsx` (and Russian CSV); the last names the zone.
fn column_titles(loc: &ReportLocale) -> [String; LOCAL_COLUMNS] {
    let zone = loc.time_zone.name();
    let titles: [&str; LOCAL_COLUMNS - 1] = match loc.language {
        Language::En => [
            "Phone",
            "Name",
            "Account",
            "Outcome code",
            "Outcome",
            "Attempts",
            "Last hangup cause",
            "Q.850 cause",
            "Listened, s",
            "Listened to the end",
            "Key pressed",
        ],
        Language::Ru => [
            "Телефон",
            "Абонент",
            "Лицевой счёт",
            "Код результата",
            "Результат",
            "Попыток",
            "Причина отбоя",
            "Код Q.850",
            "Прослушано, с",
            "Прослушано до конца",
            "Нажатая клавиша",
        ],
    };
    let last = match loc.language {
        Language::En => format!("Last call ({zone})"),
        Language::Ru => format!("Последний звонок ({zone})"),
    };
    let mut out: [String; LOCAL_COLUMNS] = Default::default();
    for (o, t) in out.iter_mut().zip(titles) {
        *o = t.to_string();
    }
    out[LOCAL_COLUMNS - 1] = last;
    out
}

/// The auditors' CSV header: Russian titles in Russian; in English the machine names that
/// scripts already read (`phone`, `outcome`, ...), with `outcome_text` after `outcome` and
/// the zone of `last_attempt_at` named.
fn csv_columns(loc: &ReportLocale) -> [String; LOCAL_COLUMNS] {
    match loc.language {
        Language::Ru => column_titles(loc),
        Language::En => {
            let mut out: [String; LOCAL_COLUMNS] = Default::default();
            let names = CSV_HEADER[..=C_OUTCOME]
                .iter()
                .copied()
                .chain(["outcome_text"])
                .chain(CSV_HEADER[C_ATTEMPTS..C_LAST_AT].iter().copied());
            for (o, n) in out.iter_mut().zip(names) {
                *o = n.to_string();
            }
            out[LOCAL_COLUMNS - 1] =
                format!("{} ({})", CSV_HEADER[C_LAST_AT], loc.time_zone.name());
            out
        }
    }
}

/// Width of each `.xlsx` subscriber column, in characters.
const COLUMN_WIDTHS: [f64; LOCAL_COLUMNS] = [
    16.0, 32.0, 14.0, 16.0, 30.0, 9.0, 24.0, 10.0, 13.0, 14.0, 10.0, 22.0,
];

/// A free-text field (a name, an account) that Excel would take for a formula is prefixed
/// with `'`: a subscriber list must not run code on an auditor's desktop.
pub(crate) fn excel_text(s: &str) -> Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// The UTF-8 byte order mark: Excel reads a CSV as UTF-8 only when it starts with it.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The last row index an `.xlsx` sheet has (1,048,576 rows, the header included).
const EXCEL_LAST_ROW: u32 = 1_048_575;

/// A summary value in the `.xlsx`.
enum Cell {
    Text(String),
    Number(f64),
    Time(DateTime<Utc>),
}

fn excel_time(
    loc: &ReportLocale,
    t: DateTime<Utc>,
) -> Result<rust_xlsxwriter::ExcelDateTime, rust_xlsxwriter::XlsxError> {
    let l = t.with_timezone(&loc.time_zone);
    // Excel dates run from 1900 to 9999; outside that this is an error, not a wrong date.
    let year = u16::try_from(l.year()).unwrap_or(0);
    rust_xlsxwriter::ExcelDateTime::from_ymd(year, l.month() as u8, l.day() as u8)?.and_hms(
        l.hour() as u16,
        l.minute() as u8,
        l.second(),
    )
}

impl CampaignReport {
    /// The auditors' CSV, made for Excel: the UTF-8 BOM, the locale's separator and decimal
    /// mark, times local to the second (the header names the zone), and each outcome as its
    /// code and translated.
    pub fn render_local_csv(&self, loc: &ReportLocale) -> Result<Vec<u8>, RenderError> {
        let lang = loc.language;
        let mut out = Vec::with_capacity(
            self.render_csv().len() + self.render_csv().len() / 4 + UTF8_BOM.len(),
        );
        out.extend_from_slice(UTF8_BOM);
        let mut w = csv::WriterBuilder::new()
            .delimiter(loc.csv_separator)
            .from_writer(out);
        w.write_record(csv_columns(loc))?;
        let mut rows = csv::Reader::from_reader(self.render_csv().as_bytes());
        let mut rec = csv::StringRecord::new();
        while rows.read_record(&mut rec)? {
            let f = |i: usize| rec.get(i).unwrap_or("");
            let last_at = parse_time(f(C_LAST_AT))
                .map(|t| loc.csv_time(t))
                .unwrap_or_default();
            let fields: [Cow<str>; LOCAL_COLUMNS] = [
                Cow::Borrowed(f(C_PHONE)),
                excel_text(f(C_NAME)),
                excel_text(f(C_ACCOUNT)),
                Cow::Borrowed(f(C_OUTCOME)),
                outcome_text(f(C_OUTCOME), lang),
                Cow::Borrowed(f(C_ATTEMPTS)),
                Cow::Borrowed(f(C_CAUSE)),
                Cow::Borrowed(f(C_Q850)),
                loc.csv_decimal(f(C_LISTENED)),
                Cow::Borrowed(yes_no(f(C_FULL) == "yes", lang)),
                Cow::Borrowed(f(C_KEY)),
                Cow::Owned(last_at),
            ];
            w.write_record(fields.iter().map(|f| f.as_bytes()))?;
        }
        w.into_inner()
            .map_err(|e| RenderError::Csv(csv::Error::from(e.into_error())))
    }

    /// The auditors' workbook: a summary sheet and a sheet of every subscriber, with typed
    /// cells (times as Excel dates in the report's zone, counts and seconds as numbers), the
    /// header row bold, frozen and filtered. The subscriber sheet is written row by row
    /// through a temp file (`rust_xlsxwriter`'s constant-memory mode), so 200,000 rows do
    /// not sit in memory as cells.
    pub fn render_xlsx(&self, loc: &ReportLocale) -> Result<Vec<u8>, RenderError> {
        self.xlsx(loc, true)
    }

    /// The workbook, with the subscriber sheet or (`with_rows` false) the summary alone.
    pub(super) fn xlsx(&self, loc: &ReportLocale, with_rows: bool) -> Result<Vec<u8>, RenderError> {
        use rust_xlsxwriter::{Format, Workbook, Worksheet};
        let lang = loc.language;
        let mut wb = Workbook::new();
        let bold = Format::new().set_bold();
        let date = Format::new().set_num_format(loc.excel_date_format());
        let tenths = Format::new().set_num_format("0.0");
        let (rows, truncated) = if with_rows {
            let (sheet, truncated) = self.subscriber_sheet(&mut wb, loc, &bold, &date, &tenths)?;
            (Some(sheet), truncated)
        } else {
            (None, false)
        };

        let mut summary = Worksheet::new();
        summary.set_name(L::SummarySheet.tr(lang))?;
        summary.set_column_width(0, 58)?;
        summary.set_column_width(1, 30)?;
        summary.write_string_with_format(0, 0, L::Figure.tr(lang), &bold)?;
        summary.write_string_with_format(0, 1, L::Value.tr(lang), &bold)?;
        summary.set_freeze_panes(1, 0)?;
        let mut row = 0u32;
        let mut cells = self.summary_cells(loc);
        if truncated {
            cells.push((L::TooManyRows.tr(lang).into(), Cell::Text(self.csv_name())));
        }
        if !with_rows {
            cells.push((L::RowsNotHere.tr(lang).into(), Cell::Text(self.csv_name())));
        }
        for (label, value) in cells {
            row += 1;
            summary.write_string(row, 0, label)?;
            match value {
                Cell::Text(s) => {
                    summary.write_string(row, 1, s)?;
                }
                Cell::Number(n) => {
                    summary.write_number(row, 1, n)?;
                }
                Cell::Time(t) => {
                    summary.write_datetime_with_format(row, 1, excel_time(loc, t)?, &date)?;
                }
            }
        }
        summary.autofilter(0, 0, row, 1)?;
        wb.push_worksheet(summary);
        if let Some(rows) = rows {
            wb.push_worksheet(rows);
        }
        Ok(wb.save_to_buffer()?)
    }

    /// The sheet of every subscriber, written row by row through a temp file; true when
    /// the rows did not all fit in a sheet.
    fn subscriber_sheet(
        &self,
        wb: &mut rust_xlsxwriter::Workbook,
        loc: &ReportLocale,
        bold: &rust_xlsxwriter::Format,
        date: &rust_xlsxwriter::Format,
        tenths: &rust_xlsxwriter::Format,
    ) -> Result<(rust_xlsxwriter::Worksheet, bool), RenderError> {
        use rust_xlsxwriter::Worksheet;
        let lang = loc.language;
        let mut rows = wb.new_worksheet_with_constant_memory();
        rows.set_name(L::SubscribersSheet.tr(lang))?;
        for (col, (title, width)) in column_titles(loc).iter().zip(COLUMN_WIDTHS).enumerate() {
            let col = col as u16;
            // wide enough for the title and the filter button
            rows.set_column_width(col, width.max(title.chars().count() as f64 + 4.0))?;
            rows.write_string_with_format(0, col, title, bold)?;
        }
        rows.set_freeze_panes(1, 0)?;
        let mut last_row = 0u32;
        let mut truncated = false;
        let mut machine = csv::Reader::from_reader(self.render_csv().as_bytes());
        let mut rec = csv::StringRecord::new();
        while machine.read_record(&mut rec)? {
            if last_row == EXCEL_LAST_ROW {
                truncated = true;
                break;
            }
            last_row += 1;
            let row = last_row;
            let f = |i: usize| rec.get(i).unwrap_or("");
            let text = |ws: &mut Worksheet, col: u16, s: &str| -> Result<(), RenderError> {
                if !s.is_empty() {
                    ws.write_string(row, col, s)?;
                }
                Ok(())
            };
            text(&mut rows, 0, f(C_PHONE))?;
            text(&mut rows, 1, f(C_NAME))?;
            text(&mut rows, 2, f(C_ACCOUNT))?;
            text(&mut rows, 3, f(C_OUTCOME))?;
            text(&mut rows, 4, &outcome_text(f(C_OUTCOME), lang))?;
            if let Ok(n) = f(C_ATTEMPTS).parse::<i64>() {
                rows.write_number(row, 5, n as f64)?;
            }
            text(&mut rows, 6, f(C_CAUSE))?;
            if let Ok(q) = f(C_Q850).parse::<i32>() {
                rows.write_number(row, 7, q)?;
            }
            if let Ok(s) = f(C_LISTENED).parse::<f64>() {
                rows.write_number_with_format(row, 8, s, tenths)?;
            }
            text(&mut rows, 9, yes_no(f(C_FULL) == "yes", lang))?;
            text(&mut rows, 10, f(C_KEY))?;
            if let Some(t) = parse_time(f(C_LAST_AT)) {
                rows.write_datetime_with_format(row, 11, excel_time(loc, t)?, date)?;
            }
        }
        rows.autofilter(0, 0, last_row, LOCAL_COLUMNS as u16 - 1)?;
        Ok((rows, truncated))
    }

    /// The summary sheet's rows: the campaign's facts (times as dates, the zone named), then
    /// the counts.
    fn summary_cells(&self, loc: &ReportLocale) -> Vec<(String, Cell)> {
        let lang = loc.language;
        let c = &self.campaign;
        let l = |label: L| label.tr(lang).to_string();
        let list = match &c.list_name {
            Some(name) => format!("{} {}", c.list_number, quoted(name, lang)),
            None => format!("{} {}", c.list_number, L::ListDeleted.tr(lang)),
        };
        let mut cells = vec![
            (l(L::Campaign), Cell::Number(c.id as f64)),
            (l(L::Name), Cell::Text(c.name.clone())),
            (
                l(L::State),
                Cell::Text(state_text(&c.state, lang).into_owned()),
            ),
            (l(L::List), Cell::Text(list)),
            (l(L::StartedBy), Cell::Text(c.created_by.clone())),
            (l(L::StartedAt), Cell::Time(c.created_at)),
            (
                l(L::FinishedAt),
                match c.finished_at {
                    Some(t) => Cell::Time(t),
                    None => Cell::Text(l(L::NotFinished)),
                },
            ),
            (l(L::TimeZone), Cell::Text(loc.zone_at(c.created_at))),
            (l(L::Lines), Cell::Number(f64::from(c.lines))),
            (l(L::Trunk), Cell::Text(c.trunk.clone())),
            (
                l(L::ConfirmAsked),
                Cell::Text(yes_no(c.confirm, lang).to_string()),
            ),
        ];
        for (label, value) in self.count_lines(lang) {
            cells.push((label, Cell::Number(value as f64)));
        }
        cells
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{moscow, sample};
    use super::*;

    #[test]
    fn the_local_csv_is_for_excel() {
        let r = sample();
        let ru = r.render_local_csv(&moscow(Language::Ru)).unwrap();
        assert!(ru.starts_with(UTF8_BOM));
        let text = std::str::from_utf8(&ru[3..]).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "Телефон;Абонент;Лицевой счёт;Код результата;Результат;Попыток;Причина отбоя;\
             Код Q.850;Прослушано, с;Прослушано до конца;Нажатая клавиша;\
             Последний звонок (Europe/Moscow)"
        );
        // a name that Excel would run as a formula is kept as text; 8.2 s has a decimal comma
        assert_eq!(
            lines.next().unwrap(),
            "+79161234567;\"'=HYPERLINK(\"\"x\"\")\";LS-1;listened_partial;Положил трубку до конца;\
             2;NORMAL_CLEARING;16;8,2;нет;;02.06.2025 09:10:05"
        );
        let en = r.render_local_csv(&ReportLocale::default()).unwrap();
        let text = std::str::from_utf8(&en[3..]).unwrap();
        assert!(text.starts_with(
            "phone,name,account,outcome,outcome_text,attempts,last_hangup_cause,last_q850,\
             listened_seconds,listened_fully,confirm_key,last_attempt_at (UTC)\n"
        ));
        assert!(
            text.contains(",listened_partial,Hung up before the end,2,"),
            "{text}"
        );
        assert!(text.ends_with(",8.2,no,,2025-06-02 06:10:05\n"), "{text}");
    }
}
