//! Campaign reports: what an auditor receives when a notification campaign ends, and what
//! `contactd campaigns report ID` prints. Owns the counting rules (what "reached" and
//! "confirmed" mean), the per-subscriber rows, and how a person reads them; reads
//! PostgreSQL only, decides nothing else.
//!
//! A report is gathered once, in one snapshot: the campaign, its counts, and every
//! subscriber's row as a *machine CSV* ([`CSV_HEADER`]: outcome codes, UTC RFC 3339 times,
//! `,`). Everything a person reads is rendered from that in a [`ReportLocale`] (`[mail]
//! report_language`, `report_time_zone`, `csv_separator`): the subject, the plain-text and
//! HTML summaries, the CSV for Excel (UTF-8 BOM, the locale's separator and decimal mark,
//! local times, outcome codes beside their translation) and the `.xlsx` workbook (a summary
//! sheet and a sheet of every subscriber, typed cells). The outbox keeps the gathered facts
//! ([`CampaignReport::to_outbox_body`]) and the mailer renders them when it sends.

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Offset, SecondsFormat, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use deadpool_postgres::Pool;
use futures_util::{pin_mut, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::config::MailConfig;
use crate::store::postgres::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("campaign {0} does not exist")]
    NotFound(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("building the CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("building the .xlsx: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}

impl From<tokio_postgres::Error> for ReportError {
    fn from(e: tokio_postgres::Error) -> Self {
        ReportError::Store(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for ReportError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        ReportError::Store(e.into())
    }
}

/// The campaign as the report names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignInfo {
    pub id: i64,
    pub name: String,
    pub list_number: i32,
    /// `None` when the list was deleted after the campaign.
    pub list_name: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub state: String,
    pub lines: i32,
    pub trunk: String,
    /// The campaign asked subscribers for a confirmation key.
    pub confirm: bool,
}

/// Subscribers by final outcome. `reached + busy + no_answer + failed + invalid + dnc +
/// unknown + cancelled + pending == total`; `rejected_at_import` is outside `total` (those
/// rows never became targets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportCounts {
    pub total: i64,
    pub reached: i64,
    pub listened_full: i64,
    pub listened_partial: i64,
    pub confirmed: i64,
    pub busy: i64,
    pub no_answer: i64,
    pub failed: i64,
    pub invalid: i64,
    pub dnc: i64,
    /// Includes done targets whose outcome is missing or not a known name: the report says
    /// "unknown" rather than guess.
    pub unknown: i64,
    pub cancelled: i64,
    /// Not done yet (`pending` or `dialing`); a busy target waiting for its retry is here.
    pub pending: i64,
    pub rejected_at_import: i64,
    /// Originates made (rows of `attempts`).
    pub attempts: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CampaignReport {
    pub campaign: CampaignInfo,
    pub counts: ReportCounts,
    /// The confirmation key the counts were made with.
    pub confirm_key: String,
    /// The machine CSV: [`CSV_HEADER`], then one row per target.
    csv: String,
}

/// Columns of the machine CSV, in order (`contactd campaigns report ID` prints it; the
/// auditors' CSV and `.xlsx` are rendered from it).
pub const CSV_HEADER: [&str; 11] = [
    "phone",
    "name",
    "account",
    "outcome",
    "attempts",
    "last_hangup_cause",
    "last_q850",
    "listened_seconds",
    "listened_fully",
    "confirm_key",
    "last_attempt_at",
];

const CAMPAIGN_SQL: &str = "
    SELECT c.id, c.name, c.list_number, l.name, c.created_by, c.created_at, c.finished_at,
           c.state, c.lines, c.trunk, c.confirm
    FROM campaigns c LEFT JOIN contact_lists l ON l.number = c.list_number
    WHERE c.id = $1";

// Outcomes only count once a target is done: a pending target keeps its last outcome
// (e.g. busy) while it waits for a retry, and must be reported as pending, not busy.
const COUNTS_SQL: &str = "
    SELECT count(*),
      count(*) FILTER (WHERE status = 'done' AND outcome = 'listened_full'),
      count(*) FILTER (WHERE status = 'done' AND outcome = 'listened_partial'),
      count(*) FILTER (WHERE status = 'done' AND outcome IN ('listened_full', 'listened_partial')
        AND EXISTS (SELECT 1 FROM attempts a
                    WHERE a.campaign_id = t.campaign_id AND a.contact_id = t.contact_id
                      AND a.answered_at IS NOT NULL AND a.confirm_key = $2)),
      count(*) FILTER (WHERE status = 'done' AND outcome = 'busy'),
      count(*) FILTER (WHERE status = 'done' AND outcome = 'no_answer'),
      count(*) FILTER (WHERE status = 'done' AND outcome = 'failed'),
      count(*) FILTER (WHERE status = 'done' AND outcome = 'invalid'),
      count(*) FILTER (WHERE status = 'done' AND outcome = 'dnc'),
      count(*) FILTER (WHERE status = 'done' AND (outcome IS NULL OR outcome NOT IN
        ('listened_full', 'listened_partial', 'busy', 'no_answer', 'failed', 'invalid',
         'dnc', 'cancelled'))),
      count(*) FILTER (WHERE status = 'done' AND outcome = 'cancelled'),
      count(*) FILTER (WHERE status <> 'done'),
      (SELECT count(*) FROM attempts a WHERE a.campaign_id = $1)
    FROM campaign_targets t WHERE t.campaign_id = $1";

// One row per target in list (file) order. `last` is the latest originate (its cause and
// time, and the count of originates); `best` is the answered attempt that got furthest
// into the message, whose listening and key the auditor cares about.
const ROWS_SQL: &str = "
    SELECT t.phone, COALESCE(k.name, ''), COALESCE(k.account, ''), t.status, t.outcome,
           COALESCE(last.n, 0), last.hangup_cause, last.q850, last.created_at,
           best.listened_ms, best.listened_full, best.confirm_key
    FROM campaign_targets t
    LEFT JOIN contacts k ON k.id = t.contact_id
    LEFT JOIN LATERAL (
        SELECT a.hangup_cause, a.q850, a.created_at, count(*) OVER () AS n
        FROM attempts a WHERE a.campaign_id = t.campaign_id AND a.contact_id = t.contact_id
        ORDER BY a.attempt_no DESC, a.created_at DESC LIMIT 1) last ON true
    LEFT JOIN LATERAL (
        SELECT a.listened_ms, a.listened_full, a.confirm_key
        FROM attempts a WHERE a.campaign_id = t.campaign_id AND a.contact_id = t.contact_id
          AND a.answered_at IS NOT NULL
        ORDER BY a.listened_full DESC NULLS LAST, a.listened_ms DESC NULLS LAST,
                 a.attempt_no DESC LIMIT 1) best ON true
    WHERE t.campaign_id = $1
    ORDER BY t.contact_id";

/// Reads the campaign, its counts and every subscriber's row. `confirm_key` is the key
/// that counts as a confirmation (`campaigns.confirm_key` of the config).
pub async fn campaign_report(
    pool: &Pool,
    campaign_id: i64,
    confirm_key: &str,
) -> Result<CampaignReport, ReportError> {
    let mut db = pool.get().await?;
    // One snapshot for counts and rows, so a campaign still running cannot make the CSV
    // disagree with the summary above it.
    let tx = db
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let row = tx
        .query_opt(CAMPAIGN_SQL, &[&campaign_id])
        .await?
        .ok_or(ReportError::NotFound(campaign_id))?;
    let campaign = CampaignInfo {
        id: row.get(0),
        name: row.get(1),
        list_number: row.get(2),
        list_name: row.get(3),
        created_by: row.get(4),
        created_at: row.get(5),
        finished_at: row.get(6),
        state: row.get(7),
        lines: row.get(8),
        trunk: row.get(9),
        confirm: row.get(10),
    };
    let c = tx
        .query_one(COUNTS_SQL, &[&campaign_id, &confirm_key])
        .await?;
    let rejected: i64 = tx
        .query_one(
            "SELECT count(*) FROM list_rejects WHERE list_number = $1 AND kind = 'rejected'",
            &[&campaign.list_number],
        )
        .await?
        .get(0);
    let counts = ReportCounts {
        total: c.get(0),
        listened_full: c.get(1),
        listened_partial: c.get(2),
        reached: c.get::<_, i64>(1) + c.get::<_, i64>(2),
        confirmed: c.get(3),
        busy: c.get(4),
        no_answer: c.get(5),
        failed: c.get(6),
        invalid: c.get(7),
        dnc: c.get(8),
        unknown: c.get(9),
        cancelled: c.get(10),
        pending: c.get(11),
        rejected_at_import: rejected,
        attempts: c.get(12),
    };
    let csv = stream_csv(&tx, campaign_id).await?;
    tx.commit().await?;
    Ok(CampaignReport {
        campaign,
        counts,
        confirm_key: confirm_key.to_string(),
        csv,
    })
}

/// Writes rows into the CSV as they arrive: tokio-postgres applies back-pressure to the
/// socket, so 200,000 targets never sit in memory as `Row`s, only as CSV text.
async fn stream_csv(
    tx: &deadpool_postgres::Transaction<'_>,
    campaign_id: i64,
) -> Result<String, ReportError> {
    let stmt = tx.prepare(ROWS_SQL).await?;
    let rows = tx.query_raw(&stmt, [&campaign_id]).await?;
    pin_mut!(rows);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADER)?;
    while let Some(r) = rows.try_next().await? {
        let status: String = r.get(3);
        let outcome: Option<String> = r.get(4);
        // Until done, the stored outcome is only the last try's; say where the target stands.
        let outcome = if status == "done" {
            outcome.unwrap_or_else(|| "unknown".into())
        } else {
            status
        };
        let n: i64 = r.get(5);
        let cause: Option<String> = r.get(6);
        let q850: Option<i32> = r.get(7);
        let last_at: Option<DateTime<Utc>> = r.get(8);
        let listened_ms: Option<i32> = r.get(9);
        let full: Option<bool> = r.get(10);
        let key: Option<String> = r.get(11);
        w.write_record([
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2),
            outcome,
            n.to_string(),
            cause.unwrap_or_default(),
            q850.map(|q| q.to_string()).unwrap_or_default(),
            listened_ms.map(seconds).unwrap_or_default(),
            if full == Some(true) { "yes" } else { "no" }.to_string(),
            key.unwrap_or_default(),
            last_at.map(rfc3339).unwrap_or_default(),
        ])?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    // Every field written is a Rust `String`, so the bytes are UTF-8.
    Ok(String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8"))
}

/// Milliseconds as seconds with one decimal (`42.5`): what a person reads.
fn seconds(ms: i32) -> String {
    format!("{}.{}", ms / 1000, (ms % 1000) / 100)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

// ---- how a person reads it -----------------------------------------------------------

/// The language a report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Ru,
    En,
}

impl Language {
    /// `ru` or `en`.
    pub fn parse(s: &str) -> Option<Language> {
        match s.trim() {
            "ru" => Some(Language::Ru),
            "en" => Some(Language::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::Ru => "ru",
            Language::En => "en",
        }
    }

    /// `;` in Russian: Excel in a Russian locale splits a CSV on it (`,` is its decimal
    /// mark); `,` in English.
    pub fn default_csv_separator(self) -> u8 {
        match self {
            Language::Ru => b';',
            Language::En => b',',
        }
    }
}

/// How a report is shown to people: its language, the zone its times are given in, and the
/// CSV's field separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportLocale {
    pub language: Language,
    pub time_zone: Tz,
    pub csv_separator: u8,
}

impl Default for ReportLocale {
    /// English, UTC, `,`: the `[mail]` defaults.
    fn default() -> Self {
        ReportLocale::new(Language::En, Tz::UTC)
    }
}

impl ReportLocale {
    /// With the language's CSV separator.
    pub fn new(language: Language, time_zone: Tz) -> Self {
        ReportLocale {
            language,
            time_zone,
            csv_separator: language.default_csv_separator(),
        }
    }

    /// From `[mail] report_language`, `report_time_zone` and `csv_separator`; every
    /// problem is returned with the key it is about.
    pub fn from_config(m: &MailConfig) -> Result<Self, Vec<(&'static str, &'static str)>> {
        let mut problems = Vec::new();
        let language = Language::parse(&m.report_language);
        if language.is_none() {
            problems.push(("mail.report_language", "must be ru or en"));
        }
        let time_zone = m.report_time_zone.trim().parse::<Tz>().ok();
        if time_zone.is_none() {
            problems.push((
                "mail.report_time_zone",
                "is not an IANA time zone (e.g. Europe/Moscow)",
            ));
        }
        let separator = match m.csv_separator.as_deref() {
            None => None,
            Some(";") => Some(b';'),
            Some(",") => Some(b','),
            Some("\t") => Some(b'\t'),
            Some(_) => {
                problems.push((
                    "mail.csv_separator",
                    "must be \";\", \",\" or a tab (\"\\t\")",
                ));
                None
            }
        };
        match (language, time_zone) {
            (Some(language), Some(time_zone)) if problems.is_empty() => Ok(ReportLocale {
                language,
                time_zone,
                csv_separator: separator.unwrap_or(language.default_csv_separator()),
            }),
            _ => Err(problems),
        }
    }

    /// The zone as named beside a time: `Europe/Moscow, UTC+3` (the offset in force at `t`),
    /// or `UTC`.
    pub fn zone_at(&self, t: DateTime<Utc>) -> String {
        let name = self.time_zone.name();
        if matches!(name, "UTC" | "Etc/UTC") {
            return "UTC".into();
        }
        let offset = self
            .time_zone
            .offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc();
        format!("{name}, {}", utc_offset(offset))
    }

    /// A time for a person, to the minute, with its zone: `01.12.2026 21:33
    /// (Europe/Moscow, UTC+3)` in Russian, `2026-12-01 21:33 (Europe/Moscow, UTC+3)` in
    /// English.
    pub fn time(&self, t: DateTime<Utc>) -> String {
        let format = match self.language {
            Language::Ru => "%d.%m.%Y %H:%M",
            Language::En => "%Y-%m-%d %H:%M",
        };
        let local = t.with_timezone(&self.time_zone);
        format!("{} ({})", local.format(format), self.zone_at(t))
    }

    /// A time in a CSV cell: local, to the second, in the form Excel of this language
    /// reads as a date (the column header names the zone).
    fn csv_time(&self, t: DateTime<Utc>) -> String {
        let format = match self.language {
            Language::Ru => "%d.%m.%Y %H:%M:%S",
            Language::En => "%Y-%m-%d %H:%M:%S",
        };
        t.with_timezone(&self.time_zone).format(format).to_string()
    }

    /// The number format of the `.xlsx` date cells.
    fn excel_date_format(&self) -> &'static str {
        match self.language {
            Language::Ru => "dd.mm.yyyy hh:mm:ss",
            Language::En => "yyyy-mm-dd hh:mm:ss",
        }
    }

    /// A decimal from the machine CSV (`8.2`) as the CSV writes it: `8,2` in Russian, where
    /// Excel would read `8.2` as the 8th of February.
    fn csv_decimal<'a>(&self, machine: &'a str) -> Cow<'a, str> {
        match self.language {
            Language::Ru => Cow::Owned(machine.replace('.', ",")),
            Language::En => Cow::Borrowed(machine),
        }
    }
}

/// `UTC+3`, `UTC+5:30`, `UTC-3:30`, `UTC+0`.
fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    if minutes % 60 == 0 {
        format!("UTC{sign}{}", minutes / 60)
    } else {
        format!("UTC{sign}{}:{:02}", minutes / 60, minutes % 60)
    }
}

/// Every label of the report, in each language.
#[derive(Debug, Clone, Copy)]
enum L {
    Campaign,
    Name,
    State,
    List,
    ListDeleted,
    StartedBy,
    StartedAt,
    FinishedAt,
    NotFinished,
    Lines,
    OnTrunk,
    Trunk,
    ConfirmAsked,
    TimeZone,
    Yes,
    No,
    Subscribers,
    Reached,
    ListenedFull,
    ListenedPartial,
    ConfirmedWithKey,
    Busy,
    NoAnswer,
    Failed,
    Invalid,
    Dnc,
    Unknown,
    Cancelled,
    Pending,
    RejectedAtImport,
    Attempts,
    ReachedPercent,
    EachSubscriber,
    And,
    Figure,
    Value,
    SummarySheet,
    SubscribersSheet,
    TooManyRows,
    RowsNotHere,
    SummaryOnly,
}

impl L {
    fn tr(self, language: Language) -> &'static str {
        let (en, ru) = match self {
            L::Campaign => ("Campaign", "Кампания"),
            L::Name => ("Name", "Название"),
            L::State => ("State", "Состояние"),
            L::List => ("List", "Список"),
            L::ListDeleted => ("(deleted)", "(удалён)"),
            L::StartedBy => ("Started by", "Запустил"),
            L::StartedAt => ("Started at", "Начало"),
            L::FinishedAt => ("Finished at", "Окончание"),
            L::NotFinished => ("not finished", "не завершена"),
            L::Lines => ("Lines", "Линий"),
            L::OnTrunk => ("on trunk", "транк"),
            L::Trunk => ("Trunk", "Транк"),
            L::ConfirmAsked => ("Confirmation asked", "Запрашивалось подтверждение"),
            L::TimeZone => ("Times are in", "Время указано в поясе"),
            L::Yes => ("yes", "да"),
            L::No => ("no", "нет"),
            L::Subscribers => ("Subscribers in the campaign", "Абонентов в кампании"),
            L::Reached => (
                "Reached (answered and heard the message)",
                "Дозвонились (ответили и слушали сообщение)",
            ),
            L::ListenedFull => ("Listened to the end", "Прослушали до конца"),
            L::ListenedPartial => ("Hung up before the end", "Положили трубку до конца"),
            L::ConfirmedWithKey => ("Confirmed with key", "Подтвердили клавишей"),
            L::Busy => ("Busy", "Занято"),
            L::NoAnswer => ("No answer", "Не ответили"),
            L::Failed => ("Failed (network or line error)", "Ошибка сети или линии"),
            L::Invalid => ("Invalid number", "Неверный номер"),
            L::Dnc => (
                "On the do-not-call list (not dialed)",
                "В списке «не звонить» (не набирались)",
            ),
            L::Unknown => ("Result unknown", "Результат неизвестен"),
            L::Cancelled => ("Cancelled before dialing", "Отменены до набора"),
            L::Pending => ("Still pending", "Ещё не обзвонены"),
            L::RejectedAtImport => (
                "Rejected at import (invalid numbers, never dialed)",
                "Отклонены при загрузке списка (неверные номера, не набирались)",
            ),
            L::Attempts => ("Calls made (all attempts)", "Сделано звонков (все попытки)"),
            L::ReachedPercent => (
                "Reached, percent of subscribers",
                "Дозвонились, % от числа абонентов",
            ),
            L::EachSubscriber => ("Each subscriber's outcome", "Результат по каждому абоненту"),
            L::And => ("and", "и"),
            L::Figure => ("Figure", "Показатель"),
            L::Value => ("Value", "Значение"),
            L::SummarySheet => ("Summary", "Сводка"),
            L::SubscribersSheet => ("Subscribers", "Абоненты"),
            L::TooManyRows => (
                "Only the first 1,048,575 subscribers fit in a sheet; every one is in the CSV",
                "На лист помещаются только первые 1 048 575 абонентов; все они есть в CSV",
            ),
            L::RowsNotHere => (
                "Each subscriber's outcome: in the CSV only (every row here would make the e-mail too large)",
                "Результат по каждому абоненту: только в CSV (все строки здесь сделали бы письмо слишком большим)",
            ),
            L::SummaryOnly => (
                "the summary only: every row would make the e-mail too large",
                "только сводка: все строки сделали бы письмо слишком большим",
            ),
        };
        match language {
            Language::En => en,
            Language::Ru => ru,
        }
    }
}

/// A campaign state as a person reads it.
fn state_text(state: &str, language: Language) -> Cow<'_, str> {
    let (en, ru) = match state {
        "running" => ("running", "идёт"),
        "paused" => ("paused", "приостановлена"),
        "cancelled" => ("cancelled", "отменена"),
        "finished" => ("finished", "завершена"),
        other => return Cow::Borrowed(other),
    };
    Cow::Borrowed(match language {
        Language::En => en,
        Language::Ru => ru,
    })
}

/// An outcome code of the machine CSV as a person reads it; a code this version does not
/// know is shown as it is.
pub fn outcome_text(code: &str, language: Language) -> Cow<'_, str> {
    let (en, ru) = match code {
        "listened_full" => ("Listened to the end", "Прослушал до конца"),
        "listened_partial" => ("Hung up before the end", "Положил трубку до конца"),
        "busy" => ("Busy", "Занято"),
        "no_answer" => ("No answer", "Не ответил"),
        "failed" => ("Failed (network or line error)", "Ошибка сети или линии"),
        "invalid" => ("Invalid number", "Неверный номер"),
        "dnc" => ("On the do-not-call list", "В списке «не звонить»"),
        "unknown" => ("Result unknown", "Результат неизвестен"),
        "cancelled" => ("Cancelled before dialing", "Отменён до набора"),
        "pending" => ("Not called yet", "Ещё не обзвонен"),
        "dialing" => ("Being called", "Идёт звонок"),
        other => return Cow::Borrowed(other),
    };
    Cow::Borrowed(match language {
        Language::En => en,
        Language::Ru => ru,
    })
}

fn quoted(name: &str, language: Language) -> String {
    match language {
        Language::En => format!("'{name}'"),
        Language::Ru => format!("«{name}»"),
    }
}

fn yes_no(yes: bool, language: Language) -> &'static str {
    if yes { L::Yes } else { L::No }.tr(language)
}

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
fn excel_text(s: &str) -> Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
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
    /// `campaign-12.csv`.
    pub fn csv_name(&self) -> String {
        format!("campaign-{}.csv", self.campaign.id)
    }

    /// `campaign-12.xlsx`.
    pub fn xlsx_name(&self) -> String {
        format!("campaign-{}.xlsx", self.campaign.id)
    }

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
    fn count_lines(&self, lang: Language) -> [(String, i64); 16] {
        let n = &self.counts;
        let l = |label: L| label.tr(lang).to_string();
        [
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
            (l(L::Failed), n.failed),
            (l(L::Invalid), n.invalid),
            (l(L::Dnc), n.dnc),
            (l(L::Unknown), n.unknown),
            (l(L::Cancelled), n.cancelled),
            (l(L::Pending), n.pending),
            (l(L::RejectedAtImport), n.rejected_at_import),
            (l(L::Attempts), n.attempts),
            (l(L::ReachedPercent), percent(n.reached, n.total)),
        ]
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
    ) -> Result<MailParts, ReportError> {
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

    /// The machine CSV: [`CSV_HEADER`], one row per target, outcome codes, UTC RFC 3339
    /// times, `,`. What `contactd campaigns report ID` prints after the summary.
    pub fn render_csv(&self) -> &str {
        &self.csv
    }

    /// The auditors' CSV, made for Excel: the UTF-8 BOM, the locale's separator and decimal
    /// mark, times local to the second (the header names the zone), and each outcome as its
    /// code and translated.
    pub fn render_local_csv(&self, loc: &ReportLocale) -> Result<Vec<u8>, ReportError> {
        let lang = loc.language;
        let mut out = Vec::with_capacity(self.csv.len() + self.csv.len() / 4 + UTF8_BOM.len());
        out.extend_from_slice(UTF8_BOM);
        let mut w = csv::WriterBuilder::new()
            .delimiter(loc.csv_separator)
            .from_writer(out);
        w.write_record(csv_columns(loc))?;
        let mut rows = csv::Reader::from_reader(self.csv.as_bytes());
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
            .map_err(|e| ReportError::Csv(csv::Error::from(e.into_error())))
    }

    /// The auditors' workbook: a summary sheet and a sheet of every subscriber, with typed
    /// cells (times as Excel dates in the report's zone, counts and seconds as numbers), the
    /// header row bold, frozen and filtered. The subscriber sheet is written row by row
    /// through a temp file (`rust_xlsxwriter`'s constant-memory mode), so 200,000 rows do
    /// not sit in memory as cells.
    pub fn render_xlsx(&self, loc: &ReportLocale) -> Result<Vec<u8>, ReportError> {
        self.xlsx(loc, true)
    }

    /// The workbook, with the subscriber sheet or (`with_rows` false) the summary alone.
    fn xlsx(&self, loc: &ReportLocale, with_rows: bool) -> Result<Vec<u8>, ReportError> {
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
    ) -> Result<(rust_xlsxwriter::Worksheet, bool), ReportError> {
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
        let mut machine = csv::Reader::from_reader(self.csv.as_bytes());
        let mut rec = csv::StringRecord::new();
        while machine.read_record(&mut rec)? {
            if last_row == EXCEL_LAST_ROW {
                truncated = true;
                break;
            }
            last_row += 1;
            let row = last_row;
            let f = |i: usize| rec.get(i).unwrap_or("");
            let text = |ws: &mut Worksheet, col: u16, s: &str| -> Result<(), ReportError> {
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
        Ok(CampaignReport {
            campaign: b.campaign,
            counts: b.counts,
            confirm_key: b.confirm_key,
            csv: machine_csv.unwrap_or_else(|| format!("{}\n", CSV_HEADER.join(","))),
        })
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn percent(part: i64, whole: i64) -> i64 {
    if whole == 0 {
        0
    } else {
        part * 100 / whole
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
mod tests {
    use super::*;

    fn sample() -> CampaignReport {
        CampaignReport {
            campaign: CampaignInfo {
                id: 12,
                name: "Water outage Lenina st.".into(),
                list_number: 7,
                list_name: Some("Lenina".into()),
                created_by: "2001".into(),
                created_at: DateTime::parse_from_rfc3339("2025-06-02T06:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc),
                finished_at: None,
                state: "finished".into(),
                lines: 5,
                trunk: "e1".into(),
                confirm: true,
            },
            counts: ReportCounts {
                total: 300,
                reached: 240,
                listened_full: 200,
                listened_partial: 40,
                ..Default::default()
            },
            confirm_key: "1".into(),
            csv: format!(
                "{}\n+79161234567,\"=HYPERLINK(\"\"x\"\")\",LS-1,listened_partial,2,NORMAL_CLEARING,16,8.2,no,,2025-06-02T06:10:05Z\n",
                CSV_HEADER.join(",")
            ),
        }
    }

    fn moscow(language: Language) -> ReportLocale {
        ReportLocale::new(language, chrono_tz::Europe::Moscow)
    }

    #[test]
    fn subject_and_labels_say_what_happened() {
        let r = sample();
        let en = ReportLocale::default();
        assert_eq!(
            r.subject(&en),
            "Campaign 12 'Water outage Lenina st.' finished: 240 of 300 reached"
        );
        let text = r.render_text(&en);
        assert!(text.contains("\nListened to the end: 200\n"), "{text}");
        assert!(text.contains("\nHung up before the end: 40\n"), "{text}");
        assert!(
            text.contains("\nReached, percent of subscribers: 80\n"),
            "{text}"
        );
        assert!(text.contains("Finished at: not finished"), "{text}");
        assert!(
            text.contains("Started at: 2025-06-02 06:00 (UTC)\n"),
            "{text}"
        );
    }

    #[test]
    fn russian_text_has_no_english_or_codes() {
        let r = sample();
        let ru = moscow(Language::Ru);
        assert_eq!(
            r.subject(&ru),
            "Кампания 12 «Water outage Lenina st.» завершена: дозвонились до 240 из 300"
        );
        let text = r.render_text(&ru);
        assert!(text.starts_with("Кампания 12 «Water outage Lenina st.»: завершена\n"));
        assert!(
            text.contains("\nНачало: 02.06.2025 09:00 (Europe/Moscow, UTC+3)\n"),
            "{text}"
        );
        assert!(text.contains("\nОкончание: не завершена\n"), "{text}");
        assert!(text.contains("\nПрослушали до конца: 200\n"), "{text}");
        assert!(text.contains("\nЛиний: 5, транк e1\n"), "{text}");
        for english in ["Listened", "Started", "listened_full", "finished", "yes"] {
            assert!(!text.contains(english), "{english:?} in:\n{text}");
        }
    }

    #[test]
    fn times_name_their_zone_and_offset() {
        let t = DateTime::parse_from_rfc3339("2026-12-01T18:33:37Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            moscow(Language::Ru).time(t),
            "01.12.2026 21:33 (Europe/Moscow, UTC+3)"
        );
        assert_eq!(
            moscow(Language::En).time(t),
            "2026-12-01 21:33 (Europe/Moscow, UTC+3)"
        );
        let kolkata = ReportLocale::new(Language::En, chrono_tz::Asia::Kolkata);
        assert_eq!(kolkata.time(t), "2026-12-02 00:03 (Asia/Kolkata, UTC+5:30)");
        let newfoundland = ReportLocale::new(Language::En, chrono_tz::America::St_Johns);
        assert_eq!(
            newfoundland.time(t),
            "2026-12-01 15:03 (America/St_Johns, UTC-3:30)"
        );
        // summer time is named as the offset in force then
        let july = DateTime::parse_from_rfc3339("2026-07-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let berlin = ReportLocale::new(Language::En, chrono_tz::Europe::Berlin);
        assert_eq!(berlin.time(july), "2026-07-01 14:00 (Europe/Berlin, UTC+2)");
        assert_eq!(berlin.time(t), "2026-12-01 19:33 (Europe/Berlin, UTC+1)");
        assert_eq!(ReportLocale::default().time(t), "2026-12-01 18:33 (UTC)");
    }

    #[test]
    fn the_locale_comes_from_the_mail_keys_and_names_bad_ones() {
        let mut m = MailConfig::default();
        assert_eq!(ReportLocale::from_config(&m), Ok(ReportLocale::default()));
        m.report_language = "ru".into();
        m.report_time_zone = "Europe/Moscow".into();
        let ru = ReportLocale::from_config(&m).unwrap();
        assert_eq!(ru, moscow(Language::Ru));
        assert_eq!(ru.csv_separator, b';');
        m.csv_separator = Some(",".into());
        assert_eq!(ReportLocale::from_config(&m).unwrap().csv_separator, b',');
        m.csv_separator = Some("\t".into());
        assert_eq!(ReportLocale::from_config(&m).unwrap().csv_separator, b'\t');
        m.report_language = "de".into();
        m.report_time_zone = "Moscow".into();
        m.csv_separator = Some("|".into());
        let keys: Vec<&str> = ReportLocale::from_config(&m)
            .unwrap_err()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            keys,
            [
                "mail.report_language",
                "mail.report_time_zone",
                "mail.csv_separator"
            ]
        );
    }

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

    #[test]
    fn html_escapes_what_people_typed() {
        let mut r = sample();
        r.campaign.name = "<b>Vodokanal & Co</b>".into();
        let html = r.render_html(&moscow(Language::Ru));
        assert!(
            html.contains("«&lt;b&gt;Vodokanal &amp; Co&lt;/b&gt;»"),
            "{html}"
        );
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("<table"), "{html}");
        assert!(html.contains("<html lang=\"ru\">"), "{html}");
    }

    #[test]
    fn the_outbox_body_round_trips() {
        let r = sample();
        let body = r.to_outbox_body();
        let back = CampaignReport::from_outbox(&body, Some(r.render_csv().to_string())).unwrap();
        assert_eq!(back, r);
        let legacy = CampaignReport::from_outbox("Campaign 12 'x': finished\n", Some("a".into()));
        assert_eq!(legacy, Err(Some("a".to_string())));
        assert!(CampaignReport::from_outbox("{\"format\":\"other\"}", None).is_err());
    }

    #[test]
    fn a_workbook_too_large_for_mail_keeps_the_summary_only() {
        use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
        let r = sample();
        let ru = moscow(Language::Ru);
        let full = r.render_mail(&ru, usize::MAX).unwrap();
        assert!(full.xlsx_rows);
        assert!(
            full.text.contains("campaign-12.csv и campaign-12.xlsx"),
            "{}",
            full.text
        );
        let small = r.render_mail(&ru, full.xlsx.len() - 1).unwrap();
        assert!(!small.xlsx_rows);
        assert_eq!(small.csv, full.csv, "the CSV has every row either way");
        for body in [&small.text, &small.html] {
            assert!(body.contains("campaign-12.xlsx: только сводка"), "{body}");
        }
        let mut wb: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(small.xlsx)).unwrap();
        assert_eq!(wb.sheet_names(), ["Сводка"]);
        let summary = wb.worksheet_range("Сводка").unwrap();
        let last = summary.rows().next_back().unwrap();
        assert!(
            matches!(&last[0], Data::String(s) if s.starts_with("Результат по каждому абоненту: только в CSV")),
            "{last:?}"
        );
        assert_eq!(last[1], Data::String("campaign-12.csv".into()));
    }

    #[test]
    fn seconds_keep_one_decimal() {
        assert_eq!(seconds(42_560), "42.5");
        assert_eq!(seconds(999), "0.9");
        assert_eq!(seconds(0), "0.0");
    }
}
