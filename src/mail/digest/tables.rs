//! The digest's tables (queues, operators, campaigns, readings, forecast) as rows of cells,
//! and how a table is written as plain text and as HTML; with the number and date forms of
//! each language.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};

use super::{Digest, Kpi, OperatorTotals, QueueForecast, QueueTotals};
use crate::core::report::labels::{quoted, state_text};
use crate::core::report::{percent, Language};

/// `en` or `ru` text by the language.
pub(super) fn tr(lang: Language, en: &'static str, ru: &'static str) -> &'static str {
    match lang {
        Language::En => en,
        Language::Ru => ru,
    }
}

pub(super) fn date(lang: Language, d: NaiveDate) -> String {
    match lang {
        Language::En => d.format("%Y-%m-%d").to_string(),
        Language::Ru => d.format("%d.%m.%Y").to_string(),
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

pub(super) fn pct(lang: Language, v: Option<f64>) -> String {
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

/// A table as rows of cells, header first.
pub(super) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// The leading columns that are names (left-aligned); the rest are figures.
    left: usize,
}

impl Table {
    pub(super) fn text(&self, out: &mut String) {
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

    pub(super) fn html(&self, out: &mut String) {
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
pub(super) fn esc(s: &str) -> String {
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

pub(super) fn queue_table(lang: Language, k: &Kpi) -> Table {
    let row = |q: &QueueTotals, name: String| {
        vec![
            name,
            q.offered.to_string(),
            q.answered.to_string(),
            if q.target_s > 0 {
                format!(
                    "{} ({} {})",
                    q.answered_in_target,
                    q.target_s,
                    tr(lang, "s", "с")
                )
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
            "Queue",
            "Offered",
            "Answered",
            "In target",
            "Abandoned",
            "of them ≤5 s",
            "Transferred",
            "Service level",
            "Abandon rate",
            "ASA",
            "AHT",
        ],
        Language::Ru => [
            "Очередь",
            "Поступило",
            "Отвечено",
            "В норматив",
            "Брошено",
            "из них ≤5 с",
            "Переведено",
            "Уровень обслуживания",
            "Доля брошенных",
            "ССО",
            "ССВО",
        ],
    };
    Table {
        header: header.iter().map(|s| s.to_string()).collect(),
        rows,
        left: 1,
    }
}

pub(super) fn operator_table(lang: Language, ops: &[OperatorTotals]) -> Table {
    let header = match lang {
        Language::En => [
            "#",
            "Operator",
            "Answered",
            "AHT",
            "Logged in",
            "Break",
            "Occupancy",
            "Calls/hour",
            "Service level",
            "QA reviewed",
        ],
        Language::Ru => [
            "№",
            "Оператор",
            "Отвечено",
            "ССВО",
            "В системе",
            "Перерыв",
            "Занятость",
            "Звонков/час",
            "Уровень обслуживания",
            "Прослушано (контроль)",
        ],
    };
    let rows = ops
        .iter()
        .enumerate()
        .map(|(i, o)| {
            vec![
                (i + 1).to_string(),
                format!("{} ({})", o.name, o.login),
                if o.outbound > 0 {
                    // outbound work is the operator's too, shown so it is not taken for inbound
                    format!(
                        "{} ({} {})",
                        o.answered,
                        o.outbound,
                        tr(lang, "outbound", "исходящих")
                    )
                } else {
                    o.answered.to_string()
                },
                secs(lang, o.aht_s),
                hours(lang, o.staffed_s),
                hours(lang, o.break_s),
                pct(lang, o.occupancy),
                o.calls_per_hour
                    .map_or_else(|| "–".into(), |v| num(lang, v, 1)),
                pct(lang, o.service_level),
                qa_cell(lang, o),
            ]
        })
        .collect();
    Table {
        header: header.iter().map(|s| s.to_string()).collect(),
        rows,
        left: 2,
    }
}

pub(super) fn campaign_table(lang: Language, d: &Digest) -> Table {
    let header = match lang {
        Language::En => [
            "Campaign",
            "State",
            "Calls made",
            "Answered",
            "Subscribers",
            "Reached",
            "Confirmed",
            "Busy",
            "No answer",
            "Pending",
        ],
        Language::Ru => [
            "Кампания",
            "Состояние",
            "Звонков",
            "Отвечено",
            "Абонентов",
            "Дозвонились",
            "Подтвердили",
            "Занято",
            "Не ответили",
            "Ожидают",
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

/// The operator campaigns' outbound figures (None when no operator campaign ran).
pub(super) fn outbound_table(lang: Language, d: &Digest) -> Option<Table> {
    let header = match lang {
        Language::En => [
            "Operator campaign",
            "Answered (persons)",
            "Connected",
            "Abandoned",
            "Talk",
            "AHT",
        ],
        Language::Ru => [
            "Кампания операторов",
            "Ответили (люди)",
            "Соединено",
            "Брошено",
            "Разговор",
            "ССВО",
        ],
    };
    let rows: Vec<Vec<String>> = d
        .campaigns
        .iter()
        .filter_map(|c| c.outbound.as_ref().map(|o| (c, o)))
        .map(|(c, o)| {
            vec![
                format!("{} {}", c.id, quoted(&c.name, lang)),
                o.answered.to_string(),
                o.connected.to_string(),
                format!("{} ({} %)", o.abandoned, percent(o.abandoned, o.answered)),
                hours(lang, o.talk_s),
                secs(lang, o.aht_s),
            ]
        })
        .collect();
    (!rows.is_empty()).then(|| Table {
        header: header.iter().map(|s| s.to_string()).collect(),
        rows,
        left: 1,
    })
}

fn channel_name(lang: Language, channel: &str) -> String {
    match channel {
        "ivr" => tr(lang, "IVR (phone)", "IVR (телефон)").into(),
        "web" => tr(lang, "Web", "Сайт").into(),
        "messenger" => tr(lang, "Messenger", "Мессенджер").into(),
        other => other.into(),
    }
}

pub(super) fn readings_table(lang: Language, d: &Digest) -> Table {
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

/// A queue's forecast day: its calls, and the interval needing the most operators.
struct ForecastDay {
    day: NaiveDate,
    calls: f64,
    operators: u32,
    with_shrinkage: u32,
    peak_at: DateTime<Utc>,
}

/// Per queue and day: the calls forecast and the most operators to schedule at once.
pub(super) fn forecast_table(lang: Language, d: &Digest, f: &[QueueForecast]) -> Table {
    let zone = d.zone();
    let header = match lang {
        Language::En => [
            "Queue",
            "Day",
            "Calls expected",
            "Peak operators needed",
            "with breaks",
            "at",
            "Breaks (shrinkage)",
        ],
        Language::Ru => [
            "Очередь",
            "День",
            "Ожидается звонков",
            "Пик: нужно операторов",
            "с перерывами",
            "в",
            "Перерывы (shrinkage)",
        ],
    };
    let mut rows = Vec::new();
    for q in f {
        let mut days: Vec<ForecastDay> = Vec::new();
        for i in &q.intervals {
            let day = i.start.with_timezone(&zone).date_naive();
            if days.last().is_none_or(|d| d.day != day) {
                days.push(ForecastDay {
                    day,
                    calls: 0.0,
                    operators: 0,
                    with_shrinkage: 0,
                    peak_at: i.start,
                });
            }
            let e = days.last_mut().expect("pushed above");
            e.calls += i.calls;
            if i.with_shrinkage > e.with_shrinkage {
                (e.operators, e.with_shrinkage, e.peak_at) =
                    (i.operators, i.with_shrinkage, i.start);
            }
        }
        for ForecastDay {
            day,
            calls,
            operators: ops,
            with_shrinkage: with,
            peak_at: at,
        } in days
        {
            rows.push(vec![
                q.queue.clone(),
                date(lang, day),
                num(lang, calls, 0),
                ops.to_string(),
                with.to_string(),
                if with > 0 {
                    at.with_timezone(&zone).format("%H:%M").to_string()
                } else {
                    "–".into()
                },
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

/// "reviewed of sampled, mean score": `1/2, 85.0`; a dash when nothing was sampled.
fn qa_cell(lang: Language, o: &OperatorTotals) -> String {
    if o.qa_sampled == 0 {
        return "–".into();
    }
    let score = o
        .qa_score
        .map_or_else(String::new, |v| format!(", {}", num(lang, v, 1)));
    format!("{}/{}{score}", o.qa_reviewed, o.qa_sampled)
}
