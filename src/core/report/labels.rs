//! Every word a report shows a person, in each language: labels, campaign states, outcome
//! names, quoting. Codes this version does not know are shown as they are.

use std::borrow::Cow;

use super::locale::Language;

/// Every label of the report, in each language.
#[derive(Debug, Clone, Copy)]
pub enum Label {
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
    Machine,
    Announcement,
    Fax,
    Silence,
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

impl Label {
    pub fn tr(self, language: Language) -> &'static str {
        let (en, ru) = match self {
            Label::Campaign => ("Campaign", "Кампания"),
            Label::Name => ("Name", "Название"),
            Label::State => ("State", "Состояние"),
            Label::List => ("List", "Список"),
            Label::ListDeleted => ("(deleted)", "(удалён)"),
            Label::StartedBy => ("Started by", "Запустил"),
            Label::StartedAt => ("Started at", "Начало"),
            Label::FinishedAt => ("Finished at", "Окончание"),
            Label::NotFinished => ("not finished", "не завершена"),
            Label::Lines => ("Lines", "Линий"),
            Label::OnTrunk => ("on trunk", "транк"),
            Label::Trunk => ("Trunk", "Транк"),
            Label::ConfirmAsked => ("Confirmation asked", "Запрашивалось подтверждение"),
            Label::TimeZone => ("Times are in", "Время указано в поясе"),
            Label::Yes => ("yes", "да"),
            Label::No => ("no", "нет"),
            Label::Subscribers => ("Subscribers in the campaign", "Абонентов в кампании"),
            Label::Reached => (
                "Reached (answered and heard the message)",
                "Дозвонились (ответили и слушали сообщение)",
            ),
            Label::ListenedFull => ("Listened to the end", "Прослушали до конца"),
            Label::ListenedPartial => ("Hung up before the end", "Положили трубку до конца"),
            Label::ConfirmedWithKey => ("Confirmed with key", "Подтвердили клавишей"),
            Label::Busy => ("Busy", "Занято"),
            Label::NoAnswer => ("No answer", "Не ответили"),
            Label::Machine => (
                "Answering machine (message left after the beep)",
                "Автоответчик (сообщение оставлено после сигнала)",
            ),
            Label::Announcement => (
                "Network announcement (not reached)",
                "Сообщение сети (не дозвонились)",
            ),
            Label::Fax => ("Fax (not reached)", "Факс (не дозвонились)"),
            Label::Silence => (
                "Answered, nobody spoke (not reached)",
                "Ответили, но молчали (не дозвонились)",
            ),
            Label::Failed => ("Failed (network or line error)", "Ошибка сети или линии"),
            Label::Invalid => ("Invalid number", "Неверный номер"),
            Label::Dnc => (
                "On the do-not-call list (not dialed)",
                "В списке «не звонить» (не набирались)",
            ),
            Label::Unknown => ("Result unknown", "Результат неизвестен"),
            Label::Cancelled => ("Cancelled before dialing", "Отменены до набора"),
            Label::Pending => ("Still pending", "Ещё не обзвонены"),
            Label::RejectedAtImport => (
                "Rejected at import (invalid numbers, never dialed)",
                "Отклонены при загрузке списка (неверные номера, не набирались)",
            ),
            Label::Attempts => ("Calls made (all attempts)", "Сделано звонков (все попытки)"),
            Label::ReachedPercent => (
                "Reached, percent of subscribers",
                "Дозвонились, % от числа абонентов",
            ),
            Label::EachSubscriber => ("Each subscriber's outcome", "Результат по каждому абоненту"),
            Label::And => ("and", "и"),
            Label::Figure => ("Figure", "Показатель"),
            Label::Value => ("Value", "Значение"),
            Label::SummarySheet => ("Summary", "Сводка"),
            Label::SubscribersSheet => ("Subscribers", "Абоненты"),
            Label::TooManyRows => (
                "Only the first 1,048,575 subscribers fit in a sheet; every one is in the CSV",
                "На лист помещаются только первые 1 048 575 абонентов; все они есть в CSV",
            ),
            Label::RowsNotHere => (
                "Each subscriber's outcome: in the CSV only (every row here would make the e-mail too large)",
                "Результат по каждому абоненту: только в CSV (все строки здесь сделали бы письмо слишком большим)",
            ),
            Label::SummaryOnly => (
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
pub fn state_text(state: &str, language: Language) -> Cow<'_, str> {
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
        "machine" => (
            "Answering machine: message left after the beep",
            "Автоответчик: сообщение оставлено после сигнала",
        ),
        "announcement" => (
            "Network announcement: not reached",
            "Сообщение сети: не дозвонились",
        ),
        "fax" => ("Fax: not reached", "Факс: не дозвонились"),
        "silence" => (
            "Answered, nobody spoke: not reached",
            "Ответили, но молчали: не дозвонились",
        ),
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

pub fn quoted(name: &str, language: Language) -> String {
    match language {
        Language::En => format!("'{name}'"),
        Language::Ru => format!("«{name}»"),
    }
}

pub fn yes_no(yes: bool, language: Language) -> &'static str {
    if yes { Label::Yes } else { Label::No }.tr(language)
}
