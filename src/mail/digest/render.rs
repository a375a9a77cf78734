//! How a person reads the digest: the subject, the plain text and the HTML (tables, the
//! charts by Content-ID with their scales and legends), in the `[mail]` language and zone.
//! Pure functions of a [`Digest`].

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};

use super::chart::{Chart, ChartKind};
use super::{Digest, Kpi, OperatorTotals, Period, QueueForecast, QueueTotals, Section};
use crate::core::report::labels::{quoted, state_text};
use crate::core::report::{percent, Language, ReportLocale};

/// `en` or `ru` text by the language.
fn tr(lang: Language, en: &'static str, ru: &'static str) -> &'static str {
    match lang {
        Language::En => en,
        Language::Ru => ru,
    }
}

fn date(lang: Language, d: NaiveDate) -> String {
    match lang {
        Language::En => d.format("%Y-%m-%d").to_string(),
        Language::Ru => d.format("%d.%m.%Y").to_string(),
    }
}

/// `2026-12-01` or `2026-11-23 – 2026-11-29`.
fn period(d: &Digest, lang: Language) -> String {
    match d.period {
        Period::Daily => date(lang, d.first_day),
        Period::Weekly => format!(
            "{} – {}",
            date(lang, d.first_day),
            date(lang, d.last_day())
        ),
    }
}

/// A decimal with the language's mark.
fn num(lang: Language, v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    match lang {
        Language::En => s,
        Language::Ru => s.replace('.', ","),
    }
}

fn pct(lang: Language, v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{} %", num(lang, v * 100.0, 1)))
}

fn secs(lang: Language, v: Option<f64>) -> String {
    v.map_or_else(
        || "–".into(),
        |v| format!("{} {}", num(lang, v, 1), tr(lang, "s", "с")),
    )
}

/// `7 h 05 min`.
fn hours(lang: Language, s: f64) -> String {
    let m = (s / 60.0).round() as i64;
    format!(
        "{} {} {:02} {}",
        m / 60,
        tr(lang, "h", "ч"),
        m % 60,
        tr(lang, "min", "мин")
    )
}

/// The subject: `Daily digest 2026-12-01: 44 calls, service level 88.9 %`.
pub fn subject(d: &Digest, loc: &ReportLocale) -> String {
    let lang = loc.language;
    let title = match d.period {
        Period::Daily => tr(lang, "Daily digest", "Ежедневная сводка"),
        Period::Weekly => tr(lang, "Weekly digest", "Еженедельная сводка"),
    };
    match d.kpi.available() {
        Some(k) => {
            let all = QueueTotals::merge("", &k.queues);
            format!(
                "{title} {}: {} {}, {} {}",
                period(d, lang),
                all.offered,
                tr(lang, "calls", "звонков"),
                tr(lang, "service level", "уровень обслуживания"),
                pct(lang, all.service_level)
            )
        }
        None => format!("{title} {}", period(d, lang)),
    }
}

/// A table as rows of cells, header first.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// The leading columns that are names (left-aligned); the rest are figures.
    left: usize,
}

impl Table {
    fn text(&self, out: &mut String) {
        let cols = self.header.len();
        let mut widths = vec![0; cols];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        for r in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (c, w)) in r.iter().zip(&widths).enumerate() {
                let gap = if i == 0 { "" } else { "  " };
                if i < self.left {
                    let _ = write!(line, "{gap}{c:<w$}");
                } else {
                    let _ = write!(line, "{gap}{c:>w$}");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }

    fn html(&self, out: &mut String) {
        out.push_str("<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\" style=\"border-collapse:collapse\">\n<tr>");
        for h in &self.header {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
        out.push_str("</tr>\n");
        for r in &self.rows {
            out.push_str("<tr>");
            for (i, c) in r.iter().enumerate() {
                let align = if i < self.left { "left" } else { "right" };
                let _ = write!(out, "<td align=\"{align}\">{}</td>", esc(c));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
    }
}

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
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

fn queue_table(lang: Language, k: &Kpi) -> Table {
    let row = |q: &QueueTotals, name: String| {
        vec![
            name,
            q.offered.to_string(),
            q.answered.to_string(),
            if q.target_s > 0 {
                format!("{} ({} {})", q.answered_in_target, q.target_s, tr(lang, "s", "с"))
            } else {
                q.answered_in_target.to_string()
            },
            q.abandoned.to_string(),
            q.abandoned_short.to_string(),
            q.transferred.to_string(),
            pct(lang, q.service_level),
            pct(lang, q.abandon_rate),
            secs(lang, q.asa_s),
            secs(lang, q.aht_s),
        ]
    };
    let mut rows: Vec<Vec<String>> = k.queues.iter().map(|q| row(q, q.queue.clone())).collect();
    if k.queues.len() > 1 {
        let all = QueueTotals::merge("", &k.queues);
        rows.push(row(&all, tr(lang, "All queues", "Все очереди").into()));
    }
    let header = match lang {
        Language::En => [
            "Queue", "Offered", "Answered", "In target", "Abandoned", "of them ≤5 s",
            "Transferred", "Service level", "Abandon rate", "ASA", "AHT",
        ],
        Language::Ru => [
            "Очередь", "Поступило", "Отвечено", "В норматив", "Брошено", "из них ≤5 с",
            "Переведено", "Уровень обслуживания", "Доля брошенных", "ССО", "ССВО",
        ],
    };
    Table {
        header: header.iter().map(|s| s.to_string()).collect(),
        rows,
        left: 1,
    }
}

fn operator_table(lang: Language, ops: &[OperatorTotals]) -> Table {
    let header = match lang {
        Language::En => [
            "#", "Operator", "Answered", "AHT", "Logged in", "Break", "Occupancy",
            "Calls/hour", "Service level",
        ],
        Language::Ru => [
            "№", "Оператор", "Отвечено", "ССВО", "В системе", "Перерыв", "Занятость",
            "Звонков/час", "Уровень обслуживания",
        ],
    };
    let rows = ops
        .iter()
        .enumerate()
        .map(|(i, o)| {
            vec![
                (i + 1).to_string(),
                format!("{} ({})", o.name, o.login),
                o.answered.to_string(),
                secs(lang, o.aht_s),
                hours(lang, o.staffed_s),
                hours(lang, o.break_s),
                pct(lang, o.occupancy),
                o.calls_per_hour
                    .map_or_else(|| "–".into(), |v| num(lang, v, 1)),
                pct(lang, o.service_level),
            ]
        })
        .collect();
    Table {
        header: header.iter().map(|s| s.to_string()).collect(),
        rows,
        left: 2,
    }
}

fn campaign_table(lang: Language, d: &Digest) -> Table {
    let header = match lang {
        Language::En => [
            "Campaign", "State", "Calls made", "Answered", "Subscribers", "Reached",
            "Confirmed", "Busy", "No answer", "Pending",
        ],
        Language::Ru => [
            "Кампания", "Состояние", "Звонков", "Отвечено", "Абонентов", "Дозвонились",
            "Подтвердили", "Занято", "Не ответили", "Ожидают",
        ],
    };
    let rows = d
        .campaigns
        .iter()
        .map(|c| {
            let n = &c.counts;
            vec![
                format!("{} {}", c.id, quoted(&c.name, lang)),
                state_text(&c.state, lang).into_owned(),
                c.attempts_in_period.to_string(),
                c.answered_in_period.to_string(),
                n.total.to_string(),
                format!("{} ({} %)", n.reached, percent(n.reached, n.total)),
                n.confirmed.to_string(),
                n.busy.to_string(),
                n.no_answer.to_string(),
                n.pending.to_string(),
            ]
        })
        .collect();
    Table {
        header: header.iter().map(|s| s.to_string()).collect(),
        rows,
        left: 2,
    }
}

fn channel_name(lang: Language, channel: &str) -> String {
    match channel {
        "ivr" => tr(lang, "IVR (phone)", "IVR (телефон)").into(),
        "web" => tr(lang, "Web", "Сайт").into(),
        "messenger" => tr(lang, "Messenger", "Мессенджер").into(),
        other => other.into(),
    }
}

fn readings_table(lang: Language, d: &Digest) -> Table {
    let header = match lang {
        Language::En => ["Channel", "Readings", "Meters", "Accounts"],
        Language::Ru => ["Канал", "Показаний", "Счётчиков", "Лицевых счетов"],
    };
    let mut rows: Vec<Vec<String>> = d
        .readings
        .iter()
        .map(|r| {
            vec![
                channel_name(lang, &r.channel),
                r.readings.to_string(),
                r.meters.to_string(),
                r.accounts.to_string(),
            ]
        })
        .collect();
    let total: i64 = d.readings.iter().map(|r| r.readings).sum();
    rows.push(vec![
        tr(lang, "Total", "Всего").into(),
        total.to_string(),
        String::new(),
        String::new(),
    ]);
    Table {
        header: header.iter().map(|s| s.to_string()).collect(),
        rows,
        left: 1,
    }
}

/// Per queue and day: the calls forecast and the most operators to schedule at once.
fn forecast_table(lang: Language, d: &Digest, f: &[QueueForecast]) -> Table {
    let zone = d.zone();
    let header = match lang {
        Language::En => [
            "Queue", "Day", "Calls expected", "Peak operators needed", "with breaks",
            "at", "Breaks (shrinkage)",
        ],
        Language::Ru => [
            "Очередь", "День", "Ожидается звонков", "Пик: нужно операторов", "с перерывами",
            "в", "Перерывы (shrinkage)",
        ],
    };
    let mut rows = Vec::new();
    for q in f {
        let mut days: Vec<(NaiveDate, f64, u32, u32, Option<DateTime<Utc>>)> = Vec::new();
        for i in &q.intervals {
            let day = i.start.with_timezone(&zone).date_naive();
            if days.last().is_none_or(|d| d.0 != day) {
                days.push((day, 0.0, 0, 0, None));
            }
            let e = days.last_mut().expect("pushed above");
            e.1 += i.calls;
            if i.with_shrinkage > e.3 || e.4.is_none() {
                (e.2, e.3, e.4) = (i.operators, i.with_shrinkage, Some(i.start));
            }
        }
        for (day, calls, ops, with, at) in days {
            rows.push(vec![
                q.queue.clone(),
                date(lang, day),
                num(lang, calls, 0),
                ops.to_string(),
                with.to_string(),
                at.map(|t| t.with_timezone(&zone).format("%H:%M").to_string())
                    .unwrap_or_default(),
                format!("{} %", num(lang, q.shrinkage * 100.0, 1)),
            ]);
        }
    }
    Table {
        header: header.iter().map(|s| s.to_string()).collect(),
        rows,
        left: 2,
    }
}

fn not_available(lang: Language, reason: &str) -> String {
    format!("{}: {reason}", tr(lang, "Not available", "Нет данных"))
}

/// The sections of the digest, each as a heading and its body, for text and HTML alike.
enum Body {
    Table(Table),
    Line(String),
}

fn sections(d: &Digest, lang: Language) -> Vec<(String, Vec<Body>)> {
    let mut out = Vec::new();
    let (queues, operators) = match &d.kpi {
        Section::Available { data } => {
            let ops = if data.operators.is_empty() {
                Body::Line(tr(lang, "No operator was logged in.", "Операторы не работали.").into())
            } else {
                Body::Table(operator_table(lang, &data.operators))
            };
            (vec![Body::Table(queue_table(lang, data))], vec![ops])
        }
        Section::NotAvailable { reason } => (
            vec![Body::Line(not_available(lang, reason))],
            vec![Body::Line(not_available(lang, reason))],
        ),
    };
    out.push((tr(lang, "Calls by queue", "Звонки по очередям").to_string(), queues));
    out.push((tr(lang, "Operators", "Операторы").to_string(), operators));
    let campaigns = if d.campaigns.is_empty() {
        Body::Line(tr(lang, "No campaign dialed.", "Обзвонов не было.").into())
    } else {
        Body::Table(campaign_table(lang, d))
    };
    out.push((tr(lang, "Campaigns", "Обзвоны").into(), vec![campaigns]));
    out.push((
        tr(lang, "Meter readings by channel", "Показания счётчиков по каналам").into(),
        vec![Body::Table(readings_table(lang, d))],
    ));
    let forecast = match &d.forecast {
        Section::Available { data } if data.is_empty() => Body::Line(
            tr(lang, "No queue to forecast.", "Нет очередей для прогноза.").into(),
        ),
        Section::Available { data } => Body::Table(forecast_table(lang, d, data)),
        Section::NotAvailable { reason } => Body::Line(not_available(lang, reason)),
    };
    out.push((
        tr(lang, "Staffing forecast", "Прогноз потребности в операторах").into(),
        vec![forecast],
    ));
    out
}

fn title(d: &Digest, loc: &ReportLocale) -> String {
    let lang = loc.language;
    let t = match d.period {
        Period::Daily => tr(lang, "Daily digest", "Ежедневная сводка"),
        Period::Weekly => tr(lang, "Weekly digest", "Еженедельная сводка"),
    };
    format!("{t}: {} ({})", period(d, lang), d.time_zone)
}

/// The plain-text part (also what `contactd digest` prints).
pub fn text(d: &Digest, loc: &ReportLocale) -> String {
    let lang = loc.language;
    let mut out = title(d, loc);
    out.push_str("\n\n");
    for (heading, bodies) in sections(d, lang) {
        let _ = writeln!(out, "{heading}\n{}", "-".repeat(heading.chars().count()));
        for b in bodies {
            match b {
                Body::Table(t) => t.text(&mut out),
                Body::Line(l) => {
                    out.push_str(&l);
                    out.push('\n');
                }
            }
        }
        out.push('\n');
    }
    let names: Vec<String> = super::sheets::names(d);
    let _ = writeln!(
        out,
        "{}: {}",
        tr(lang, "Attached", "Во вложении"),
        names.join(", ")
    );
    out
}

/// What a chart shows, and its scale, under the image.
fn caption(d: &Digest, lang: Language, c: &Chart) -> String {
    let per = match d.period {
        Period::Daily => tr(lang, "per 30 minutes", "по 30 минут"),
        Period::Weekly => tr(lang, "per day", "по дням"),
    };
    match c.kind {
        ChartKind::Calls => format!(
            "{} {per}, {} ({}). {}: {}.",
            tr(lang, "Calls", "Звонки"),
            tr(lang, "all queues", "все очереди"),
            d.time_zone,
            tr(
                lang,
                "Light: offered, dark: answered; top of the scale",
                "Светлое: поступило, тёмное: отвечено; верх шкалы"
            ),
            c.scale_max
        ),
        ChartKind::ServiceLevel => format!(
            "{} {per}, {} ({}). {}",
            tr(lang, "Service level", "Уровень обслуживания"),
            tr(lang, "all queues", "все очереди"),
            d.time_zone,
            tr(
                lang,
                "No bar: no calls in the interval.",
                "Нет столбца: в интервале не было звонков."
            )
        ),
        ChartKind::Occupancy => tr(
            lang,
            "Operator occupancy (talk and after-call work ÷ logged-in time); bars numbered as in the operators table.",
            "Занятость операторов (разговор и поствызывная обработка ÷ время в системе); номера столбцов — как в таблице операторов.",
        )
        .into(),
    }
}

/// The HTML part; `charts` are referred to by Content-ID (`cid:`), each after its section.
pub fn html(d: &Digest, loc: &ReportLocale, charts: &[Chart]) -> String {
    let lang = loc.language;
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body style=\"font-family:sans-serif\">\n<h2>{}</h2>\n",
        lang.code(),
        esc(&subject(d, loc)),
        esc(&title(d, loc))
    );
    for (n, (heading, bodies)) in sections(d, lang).into_iter().enumerate() {
        let _ = writeln!(out, "<h3>{}</h3>", esc(&heading));
        for b in bodies {
            match b {
                Body::Table(t) => t.html(&mut out),
                Body::Line(l) => {
                    let _ = writeln!(out, "<p>{}</p>", esc(&l));
                }
            }
        }
        // the calls charts after the queues, occupancy after the operators
        let kinds: &[ChartKind] = match n {
            0 => &[ChartKind::Calls, ChartKind::ServiceLevel],
            1 => &[ChartKind::Occupancy],
            _ => &[],
        };
        for c in charts.iter().filter(|c| kinds.contains(&c.kind)) {
            let cap = caption(d, lang, c);
            let _ = writeln!(
                out,
                "<p><img src=\"cid:{}\" width=\"{}\" height=\"{}\" alt=\"{}\"><br><small>{}</small></p>",
                esc(&c.content_id),
                c.width,
                c.height,
                esc(&cap),
                esc(&cap)
            );
        }
    }
    let _ = writeln!(
        out,
        "<p>{}: {}</p>\n</body></html>",
        tr(lang, "Attached", "Во вложении"),
        esc(&super::sheets::names(d).join(", "))
    );
    out
}

#[cfg(test)]
mod tests {
    use chrono_tz::Tz;

    use super::super::{chart, sample};
    use super::*;

    fn ru() -> ReportLocale {
        ReportLocale::new(Language::Ru, "Europe/Moscow".parse::<Tz>().unwrap())
    }

    #[test]
    fn the_text_has_every_section_with_its_figures() {
        let d = sample::digest();
        let t = text(&d, &ReportLocale::default());
        print!("{t}");
        for want in [
            "Daily digest: 2026-12-01 (Europe/Moscow)",
            "general",
            // 40 offered, 36 answered, 32 in 20 s, 4 abandoned (1 within 5 s): 32/39
            "32 (20 s)",
            "82.1 %",
            "All queues",
            "Иванова Анна (ivanova)",
            "18.0 %",
            "8 h 00 min",
            "100 'Плановое отключение воды'",
            "1 (33 %)",
            "IVR (phone)",
            "Total               7",
            // forecast: 46 calls on 2 Dec, at most 6 with breaks at 10:30 Moscow
            "2026-12-02",
            "10:30",
            "25.0 %",
            "kpi-queues-2026-12-01.csv",
        ] {
            assert!(t.contains(want), "{want:?} not in\n{t}");
        }
        assert!(subject(&d, &ReportLocale::default())
            .starts_with("Daily digest 2026-12-01: 44 calls, service level 83.7 %"));
    }

    #[test]
    fn russian_uses_its_words_dates_and_decimal_comma() {
        let d = sample::digest();
        let t = text(&d, &ru());
        for want in [
            "Ежедневная сводка: 01.12.2026",
            "Все очереди",
            "82,1 %",
            "IVR (телефон)",
            "Прогноз потребности в операторах",
            "02.12.2026",
        ] {
            assert!(t.contains(want), "{want:?} not in\n{t}");
        }
        assert!(subject(&d, &ru()).starts_with("Ежедневная сводка 01.12.2026: 44 звонков"));
    }

    #[test]
    fn a_missing_source_says_not_available_and_invents_nothing() {
        let mut d = sample::digest();
        d.kpi = Section::NotAvailable {
            reason: "the KPI store is not in this build".into(),
        };
        d.forecast = Section::NotAvailable {
            reason: "no forecast".into(),
        };
        let t = text(&d, &ReportLocale::default());
        assert!(t.contains("Not available: the KPI store is not in this build"), "{t}");
        assert!(t.contains("Not available: no forecast"), "{t}");
        assert!(!t.contains("Service level"), "{t}");
        assert_eq!(subject(&d, &ReportLocale::default()), "Daily digest 2026-12-01");
        let h = html(&d, &ReportLocale::default(), &chart::charts(&d));
        assert!(!h.contains("cid:"), "{h}");
    }

    #[test]
    fn the_html_refers_to_each_chart_and_escapes_names() {
        let mut d = sample::digest();
        d.campaigns[0].name = "<b>x</b>".into();
        let charts = chart::charts(&d);
        let h = html(&d, &ReportLocale::default(), &charts);
        for c in &charts {
            assert!(h.contains(&format!("src=\"cid:{}\"", c.content_id)), "{h}");
        }
        assert!(h.contains("top of the scale: 20."), "{h}");
        assert!(h.contains("&lt;b&gt;x&lt;/b&gt;") && !h.contains("<b>x"), "{h}");
    }
}
