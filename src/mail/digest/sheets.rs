//! The digest's CSV attachments, made for Excel like the campaign report's: UTF-8 with BOM,
//! the `[mail]` separator and decimal mark, local times with the zone named in the header,
//! headers in the mail's language. A section that is not available has no file.

use super::{Digest, Period, Section};
use crate::core::report::{Language, ReportLocale};
use crate::mail::report::sheets::{excel_text, UTF8_BOM};

/// `2026-12-01` for a day, `week-2026-11-23` for a week.
fn suffix(d: &Digest) -> String {
    match d.period {
        Period::Daily => d.first_day.format("%Y-%m-%d").to_string(),
        Period::Weekly => d.first_day.format("week-%Y-%m-%d").to_string(),
    }
}

/// The attachments' file names, in the order they are attached.
pub fn names(d: &Digest) -> Vec<String> {
    let s = suffix(d);
    let mut out = Vec::new();
    if d.kpi.available().is_some() {
        out.push(format!("kpi-queues-{s}.csv"));
        out.push(format!("kpi-operators-{s}.csv"));
        out.push(format!("kpi-intervals-{s}.csv"));
    }
    out.push(format!("campaigns-{s}.csv"));
    out.push(format!("readings-{s}.csv"));
    if d.forecast.available().is_some() {
        out.push(format!("forecast-{s}.csv"));
    }
    out
}

/// A CSV being written in the locale.
struct Sheet<'a> {
    loc: &'a ReportLocale,
    w: csv::Writer<Vec<u8>>,
}

impl<'a> Sheet<'a> {
    fn new(loc: &'a ReportLocale, header: &[(&str, &str)]) -> csv::Result<Sheet<'a>> {
        let mut out = Vec::new();
        out.extend_from_slice(UTF8_BOM);
        let mut w = csv::WriterBuilder::new()
            .delimiter(loc.csv_separator)
            .from_writer(out);
        w.write_record(header.iter().map(|(en, ru)| match loc.language {
            Language::En => *en,
            Language::Ru => *ru,
        }))?;
        Ok(Sheet { loc, w })
    }

    fn row(&mut self, cells: &[String]) -> csv::Result<()> {
        self.w.write_record(cells)
    }

    /// A decimal cell with the locale's mark; empty when there is no value.
    fn dec(&self, v: Option<f64>, decimals: usize) -> String {
        v.map(|v| {
            self.loc
                .csv_decimal(&format!("{v:.decimals$}"))
                .into_owned()
        })
        .unwrap_or_default()
    }

    fn pct(&self, v: Option<f64>) -> String {
        self.dec(v.map(|v| v * 100.0), 1)
    }

    fn finish(self) -> csv::Result<Vec<u8>> {
        self.w
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))
    }
}

/// Every attachment as (file name, bytes), named as [`names`] says.
pub fn csvs(d: &Digest, loc: &ReportLocale) -> csv::Result<Vec<(String, Vec<u8>)>> {
    // times in the zone the days were cut in, which the headers name
    let loc = &ReportLocale {
        time_zone: d.zone(),
        ..*loc
    };
    let names = names(d);
    let mut files = Vec::new();
    let zone = d.time_zone.as_str();
    let start_col = (
        format!("interval_start ({zone})"),
        format!("начало интервала ({zone})"),
    );
    if let Some(k) = d.kpi.available() {
        let mut s = Sheet::new(loc, QUEUE_HEADER)?;
        for q in &k.queues {
            let row = queue_cells(&s, q);
            s.row(&row)?;
        }
        files.push(s.finish()?);

        let mut s = Sheet::new(loc, OPERATOR_HEADER)?;
        for o in &k.operators {
            let row = vec![
                o.login.clone(),
                excel_text(&o.name).into_owned(),
                o.answered.to_string(),
                s.dec(Some(o.talk_s), 0),
                s.dec(Some(o.wrap_up_s), 0),
                s.dec(o.aht_s, 1),
                s.dec(Some(o.staffed_s), 0),
                s.dec(Some(o.break_s), 0),
                s.pct(o.occupancy),
                s.dec(o.calls_per_hour, 2),
                s.pct(o.service_level),
            ];
            s.row(&row)?;
        }
        files.push(s.finish()?);

        let mut header = vec![(start_col.0.as_str(), start_col.1.as_str())];
        header.extend_from_slice(QUEUE_HEADER);
        let mut s = Sheet::new(loc, &header)?;
        for i in &k.intervals {
            let mut row = vec![loc.csv_time(i.start)];
            row.extend(queue_cells(&s, &i.totals));
            s.row(&row)?;
        }
        files.push(s.finish()?);
    }

    let mut s = Sheet::new(loc, CAMPAIGN_HEADER)?;
    for c in &d.campaigns {
        let n = &c.counts;
        let mut row = vec![
            c.id.to_string(),
            excel_text(&c.name).into_owned(),
            c.state.clone(),
            c.finished_at.map(|t| loc.csv_time(t)).unwrap_or_default(),
            c.attempts_in_period.to_string(),
            c.answered_in_period.to_string(),
        ];
        row.extend(
            [
                n.total,
                n.reached,
                n.listened_full,
                n.listened_partial,
                n.confirmed,
                n.busy,
                n.no_answer,
                n.failed,
                n.invalid,
                n.dnc,
                n.unknown,
                n.cancelled,
                n.pending,
            ]
            .map(|v| v.to_string()),
        );
        s.row(&row)?;
    }
    files.push(s.finish()?);

    let mut s = Sheet::new(loc, READINGS_HEADER)?;
    for r in &d.readings {
        s.row(&[
            r.channel.clone(),
            r.readings.to_string(),
            r.meters.to_string(),
            r.accounts.to_string(),
        ])?;
    }
    files.push(s.finish()?);

    if let Section::Available { data } = &d.forecast {
        let mut header = vec![
            ("queue", "очередь"),
            (start_col.0.as_str(), start_col.1.as_str()),
        ];
        header.extend_from_slice(FORECAST_HEADER);
        let mut s = Sheet::new(loc, &header)?;
        for q in data {
            for i in &q.intervals {
                let row = vec![
                    q.queue.clone(),
                    loc.csv_time(i.start),
                    s.dec(Some(i.calls), 2),
                    s.dec(Some(i.aht_s), 1),
                    i.operators.to_string(),
                    i.with_shrinkage.to_string(),
                    s.pct(Some(i.service_level)),
                    s.pct(Some(q.shrinkage)),
                ];
                s.row(&row)?;
            }
        }
        files.push(s.finish()?);
    }
    Ok(names.into_iter().zip(files).collect())
}

fn queue_cells(s: &Sheet, q: &super::QueueTotals) -> Vec<String> {
    vec![
        q.queue.clone(),
        q.target_s.to_string(),
        q.offered.to_string(),
        q.answered.to_string(),
        q.answered_in_target.to_string(),
        q.abandoned.to_string(),
        q.abandoned_short.to_string(),
        q.transferred.to_string(),
        s.pct(q.service_level),
        s.pct(q.abandon_rate),
        s.dec(q.asa_s, 1),
        s.dec(q.aht_s, 1),
    ]
}

const QUEUE_HEADER: &[(&str, &str)] = &[
    ("queue", "очередь"),
    ("target_s", "норматив_с"),
    ("offered", "поступило"),
    ("answered", "отвечено"),
    ("answered_in_target", "отвечено_в_норматив"),
    ("abandoned", "брошено"),
    ("abandoned_within_5s", "брошено_за_5с"),
    ("transferred", "переведено"),
    ("service_level_pct", "уровень_обслуживания_проц"),
    ("abandon_rate_pct", "доля_брошенных_проц"),
    ("asa_s", "ссо_с"),
    ("aht_s", "ссво_с"),
];

const OPERATOR_HEADER: &[(&str, &str)] = &[
    ("login", "логин"),
    ("name", "имя"),
    ("answered", "отвечено"),
    ("talk_s", "разговор_с"),
    ("wrap_up_s", "обработка_с"),
    ("aht_s", "ссво_с"),
    ("logged_in_s", "в_системе_с"),
    ("break_s", "перерыв_с"),
    ("occupancy_pct", "занятость_проц"),
    ("calls_per_hour", "звонков_в_час"),
    ("service_level_pct", "уровень_обслуживания_проц"),
];

const CAMPAIGN_HEADER: &[(&str, &str)] = &[
    ("campaign", "кампания"),
    ("name", "название"),
    ("state", "состояние"),
    ("finished_at", "завершена"),
    ("calls_in_period", "звонков_за_период"),
    ("answered_in_period", "отвечено_за_период"),
    ("subscribers", "абонентов"),
    ("reached", "дозвонились"),
    ("listened_full", "прослушали_полностью"),
    ("listened_partial", "прослушали_частично"),
    ("confirmed", "подтвердили"),
    ("busy", "занято"),
    ("no_answer", "не_ответили"),
    ("failed", "ошибка"),
    ("invalid", "неверный_номер"),
    ("dnc", "запрет_звонков"),
    ("unknown", "неизвестно"),
    ("cancelled", "отменено"),
    ("pending", "ожидают"),
];

const READINGS_HEADER: &[(&str, &str)] = &[
    ("channel", "канал"),
    ("readings", "показаний"),
    ("meters", "счётчиков"),
    ("accounts", "лицевых_счетов"),
];

const FORECAST_HEADER: &[(&str, &str)] = &[
    ("calls", "звонков"),
    ("aht_s", "ссво_с"),
    ("operators_needed", "нужно_операторов"),
    ("with_breaks", "с_перерывами"),
    ("service_level_pct", "уровень_обслуживания_проц"),
    ("shrinkage_pct", "перерывы_проц"),
];

#[cfg(test)]
mod tests {
    use chrono_tz::Tz;

    use super::super::sample;
    use super::*;

    fn parse(data: &[u8], sep: u8) -> Vec<Vec<String>> {
        assert!(data.starts_with(UTF8_BOM));
        csv::ReaderBuilder::new()
            .delimiter(sep)
            .has_headers(false)
            .from_reader(&data[UTF8_BOM.len()..])
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect()
    }

    #[test]
    fn every_section_has_its_csv() {
        let d = sample::digest();
        let files = csvs(&d, &ReportLocale::default()).unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "kpi-queues-2026-12-01.csv",
                "kpi-operators-2026-12-01.csv",
                "kpi-intervals-2026-12-01.csv",
                "campaigns-2026-12-01.csv",
                "readings-2026-12-01.csv",
                "forecast-2026-12-01.csv"
            ]
        );
        let queues = parse(&files[0].1, b',');
        assert_eq!(queues[0][2], "offered");
        assert_eq!(queues[1][..4], ["general", "20", "40", "36"]);
        assert_eq!(queues[1][8], "82.1");
        let intervals = parse(&files[2].1, b',');
        assert_eq!(intervals[0][0], "interval_start (Europe/Moscow)");
        // slot 18 of 1 December in Moscow: 09:00
        assert_eq!(intervals[1][0], "2026-12-01 09:00:00");
        let readings = parse(&files[4].1, b',');
        assert_eq!(readings[1], ["ivr", "5", "3", "3"]);
    }

    #[test]
    fn russian_csvs_use_semicolons_and_decimal_commas() {
        let d = sample::digest();
        let loc = ReportLocale::new(Language::Ru, "Europe/Moscow".parse::<Tz>().unwrap());
        let files = csvs(&d, &loc).unwrap();
        let queues = parse(&files[0].1, b';');
        assert_eq!(queues[0][0], "очередь");
        assert_eq!(queues[1][8], "82,1");
        let intervals = parse(&files[2].1, b';');
        assert_eq!(intervals[1][0], "01.12.2026 09:00:00");
    }

    #[test]
    fn names_that_excel_would_run_are_quoted() {
        let mut d = sample::digest();
        d.campaigns[0].name = "=HYPERLINK(\"http://x\")".into();
        let files = csvs(&d, &ReportLocale::default()).unwrap();
        let campaigns = parse(&files[3].1, b',');
        assert_eq!(campaigns[1][1], "'=HYPERLINK(\"http://x\")");
    }

    #[test]
    fn sections_not_available_have_no_file() {
        let mut d = sample::digest();
        d.kpi = Section::NotAvailable { reason: "x".into() };
        d.forecast = Section::NotAvailable { reason: "y".into() };
        let files = csvs(&d, &ReportLocale::default()).unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["campaigns-2026-12-01.csv", "readings-2026-12-01.csv"]
        );
    }
}
