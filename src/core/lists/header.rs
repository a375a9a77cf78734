//! A list file's header: which column is the phone, the name, the account, the zone or (in
//! a do-not-call file) the reason, matched generously (see `rows`), and which are kept as
//! extra data or ignored.

/// A subscriber list or a do-not-call file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Contacts,
    Dnc,
}

/// What a header cell is taken for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Role {
    Phone,
    Name,
    Account,
    Tz,
    Reason,
    /// Kept in `extra` under this (JSON-encoded) key.
    Extra(String),
    Ignored,
}

/// The role of column `header` in a file of `kind`.
pub(super) fn role_of(header: &str, kind: FileKind) -> Role {
    let key: String = header
        .trim()
        .to_lowercase()
        .replace('ё', "е")
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.' | '/' | '\u{a0}'))
        .collect();
    let role = match key.as_str() {
        "phone"
        | "phonenumber"
        | "telephone"
        | "tel"
        | "mobile"
        | "msisdn"
        | "number"
        | "телефон"
        | "тел"
        | "номер"
        | "номертелефона"
        | "мобильный" => Role::Phone,
        "name" | "fullname" | "fio" | "фио" | "имя" | "абонент" | "клиент" => {
            Role::Name
        }
        "account" | "accountno" | "accountnumber" | "лицевойсчет" | "лс" | "счет" => {
            Role::Account
        }
        "tz" | "timezone" | "часовойпояс" => Role::Tz,
        "reason" | "причина" if kind == FileKind::Dnc => Role::Reason,
        _ => Role::Extra(header.trim().to_string()),
    };
    match (kind, &role) {
        (FileKind::Contacts, _) | (FileKind::Dnc, Role::Phone | Role::Reason) => role,
        (FileKind::Dnc, _) => Role::Ignored,
    }
}
