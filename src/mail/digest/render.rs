//! How a person reads the digest: the subject, the plain text and the HTML (the tables of
//! `tables`, the charts by Content-ID with their scales and legends), in the `[mail]`
//! language and zone. Pure functions of a [`Digest`].

use std::fmt::Write as _;

use super::chart::{Chart, ChartKind};
use super::tables::{
    campaign_table, date, esc, forecast_table, operator_table, outbound_table, pct, queue_table,
    readings_table, tr, Table,
};
use super::{Digest, Period, QueueTotals, Section};
use crate::core::report::{Language, ReportLocale};

/// `2026-12-01` or `2026-11-23 – 2026-11-29`.
fn period(d: &Digest, lang: Language) -> String {
    match d.period {
        Period::Daily => date(lang, d.first_day),
        Period::Weekly => format!("{} – {}", date(lang, d.first_day), date(lang, d.last_day())),
    }
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
    out.push((
        tr(lang, "Calls by queue", "Звонки по очередям").to_string(),
        queues,
    ));
    out.push((tr(lang, "Operators", "Операторы").to_string(), operators));
    let campaigns = if d.campaigns.is_empty() {
        Body::Line(tr(lang, "No campaign dialed.", "Обзвонов не было.").into())
    } else {
        Body::Table(campaign_table(lang, d))
    };
    let mut bodies = vec![campaigns];
    if let Some(t) = outbound_table(lang, d) {
        bodies.push(Body::Table(t));
    }
    out.push((tr(lang, "Campaigns", "Обзвоны").into(), bodies));
    out.push((
        tr(
            lang,
            "Meter readings by channel",
            "Показания счётчиков по каналам",
        )
        .into(),
        vec![Body::Table(readings_table(lang, d))],
    ));
    let forecast = match &d.forecast {
        Section::Available { data } if data.is_empty() => {
            Body::Line(tr(lang, "No queue to forecast.", "Нет очередей для прогноза.").into())
        }
        Section::Available { data } => Body::Table(forecast_table(lang, d, data)),
        Section::NotAvailable { reason } => Body::Line(not_available(lang, reason)),
    };
    out.push((
        tr(
            lang,
            "Staffing forecast",
            "Прогноз потребности в операторах",
        )
        .into(),
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
        assert!(
            t.contains("Not available: the KPI store is not in this build"),
            "{t}"
        );
        assert!(t.contains("Not available: no forecast"), "{t}");
        assert!(!t.contains("Service level"), "{t}");
        assert_eq!(
            subject(&d, &ReportLocale::default()),
            "Daily digest 2026-12-01"
        );
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
        assert!(
            h.contains("&lt;b&gt;x&lt;/b&gt;") && !h.contains("<b>x"),
            "{h}"
        );
    }
}
