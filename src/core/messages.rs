//! Messages sent during a call (e-mail or SMS), the pure part: filling a template's
//! placeholders from the call's contact, counting the SMS segments a text takes (GSM 03.38
//! 7-bit or UCS-2), and deciding what follows a failed send. No I/O, no clock: the service
//! (`service::messages`) reads the call, stores the message and talks to the providers.

use std::collections::BTreeMap;
use std::time::Duration;

/// Placeholders a template may use, filled from the call's contact (the list row), the
/// account card, the campaign, the operator and the day. A list's own columns are
/// `{extra.COLUMN}` (the header as imported).
pub const PLACEHOLDERS: [&str; 9] = [
    "name", "account", "phone", "email", "balance", "debt", "campaign", "operator", "date",
];

/// The prefix of a list column's placeholder: `{extra.tariff}`.
pub const EXTRA: &str = "extra.";

fn known(name: &str) -> bool {
    PLACEHOLDERS.contains(&name)
        || name.strip_prefix(EXTRA).is_some_and(|c| {
            !c.is_empty()
                && c.chars()
                    .all(|ch| !ch.is_control() && ch != '{' && ch != '}')
        })
}

/// Formats minor units (kopecks, cents) as `1234.56`, `-7.05`.
pub fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            _ => None,
        }
    }
}

/// A piece of a template: literal text or a placeholder's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Field(&'a str),
}

/// Splits a template into text and `{placeholder}`s; `{{` and `}}` stand for a brace.
/// Errors name the problem: an unclosed brace, an unknown placeholder.
pub fn parse_template(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let Some(at) = rest.find(['{', '}']) else {
            out.push(Piece::Text(rest));
            break;
        };
        if at > 0 {
            out.push(Piece::Text(&rest[..at]));
        }
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push(Piece::Text("{"));
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push(Piece::Text("}"));
            rest = after;
        } else if tail.starts_with('}') {
            return Err("a lone '}' (write '}}' for a brace)".into());
        } else {
            let Some(end) = tail.find('}') else {
                return Err("a '{' is not closed (write '{{' for a brace)".into());
            };
            let name = &tail[1..end];
            if !known(name) {
                return Err(format!(
                    "unknown placeholder {{{name}}} (known: {}, {{{EXTRA}COLUMN}})",
                    PLACEHOLDERS
                        .iter()
                        .map(|p| format!("{{{p}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            out.push(Piece::Field(name));
            rest = &tail[end + 1..];
        }
    }
    Ok(out)
}

/// The values of one call's placeholders (`extra.COLUMN` for a list column). A field the
/// call does not have is absent (or blank).
pub type Fields = BTreeMap<String, String>;

/// Why a template could not be filled for one call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The template itself is wrong (the config check refuses this at start).
    #[error("{0}")]
    Template(String),
    /// This call has no value for a placeholder: sending a blank in its place would be
    /// wrong (a debt of "" roubles), so the message fails, naming it.
    #[error("{{{0}}} has no value for this call")]
    Missing(String),
}

/// Fills `template` with `fields`. Values are inserted as they are (they come from the
/// contact list or the account card, already checked on import). A placeholder without a
/// value (absent or blank) is an error naming it, never an empty gap.
pub fn render(template: &str, fields: &Fields) -> Result<String, RenderError> {
    let mut out = String::with_capacity(template.len());
    for piece in parse_template(template).map_err(RenderError::Template)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Field(f) => match fields.get(f).filter(|v| !v.trim().is_empty()) {
                Some(v) => out.push_str(v),
                None => return Err(RenderError::Missing(f.to_string())),
            },
        }
    }
    Ok(out)
}

/// The SMS alphabet a text needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// GSM 03.38 default alphabet (7-bit): 160 characters, 153 per part when concatenated.
    Gsm7,
    /// Anything else (Cyrillic among it): 70 UTF-16 units, 67 per part when concatenated.
    Ucs2,
}

/// How a text goes out as SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Segments {
    pub encoding: Encoding,
    /// Septets (GSM-7, extension characters count two) or UTF-16 units (UCS-2).
    pub units: usize,
    /// Parts the network bills and delivers.
    pub count: usize,
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{c}";

/// Counts the parts `text` takes: GSM-7 if every character is in the default alphabet or
/// its extension (which costs two septets), else UCS-2 (a character outside the BMP costs
/// two units). One part holds 160 septets / 70 units; a longer text is split into parts of
/// 153 / 67 (the rest is the concatenation header).
pub fn sms_segments(text: &str) -> Segments {
    let mut septets = 0usize;
    let mut gsm = true;
    for c in text.chars() {
        if GSM7_BASIC.contains(c) {
            septets += 1;
        } else if GSM7_EXTENSION.contains(c) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    let (encoding, units, single, part) = if gsm {
        (Encoding::Gsm7, septets, 160, 153)
    } else {
        (Encoding::Ucs2, text.encode_utf16().count(), 70, 67)
    };
    let count = if units <= single {
        1
    } else {
        units.div_ceil(part)
    };
    Segments {
        encoding,
        units,
        count,
    }
}

/// What follows a failed send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again after this long.
    RetryIn(Duration),
    /// Final: the provider refused it for good, or the tries are used up.
    GiveUp,
}

/// Retries never wait longer than this.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);

/// After send number `tries` (1-based) failed: a permanent refusal (bad address, a 4xx from
/// the SMS gateway, a 5xx SMTP reply) is final; a passing failure is tried again after
/// `base * 2^(tries-1)` (at most [`MAX_RETRY`]) until `max_tries` sends were made.
pub fn after_failure(tries: u32, retryable: bool, max_tries: u32, base: Duration) -> AfterFailure {
    if !retryable || tries >= max_tries {
        return AfterFailure::GiveUp;
    }
    let factor = 2u32.saturating_pow(tries.saturating_sub(1));
    AfterFailure::RetryIn(base.checked_mul(factor).unwrap_or(MAX_RETRY).min(MAX_RETRY))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        [
            ("name", "Орлова Анна"),
            ("account", "100234"),
            ("phone", "+79161234567"),
            ("debt", "1520.40"),
            ("extra.tariff", "двухставочный"),
            ("campaign", " "),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn placeholders_are_filled_and_braces_escaped() {
        let t = "{name}, лицевой счёт {account}, долг {debt} ₽, тариф {extra.tariff}: {{не поле}}.";
        assert_eq!(
            render(t, &fields()).unwrap(),
            "Орлова Анна, лицевой счёт 100234, долг 1520.40 ₽, тариф двухставочный: {не поле}."
        );
    }

    #[test]
    fn a_field_the_call_lacks_fails_the_render_naming_it() {
        assert_eq!(
            render("{name}: {balance}", &fields()),
            Err(RenderError::Missing("balance".into()))
        );
        // blank is as good as absent: never a gap in the text
        assert_eq!(
            render("{campaign}", &fields()),
            Err(RenderError::Missing("campaign".into()))
        );
        assert_eq!(
            render("{extra.meter}", &fields()).unwrap_err().to_string(),
            "{extra.meter} has no value for this call"
        );
    }

    #[test]
    fn money_is_minor_units_with_two_decimals() {
        assert_eq!(money(152040), "1520.40");
        assert_eq!(money(-705), "-7.05");
        assert_eq!(money(0), "0.00");
        assert_eq!(money(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn template_mistakes_are_named() {
        let e = parse_template("Hello {nmae}").unwrap_err();
        assert!(e.contains("{nmae}") && e.contains("{name}"), "{e}");
        assert!(parse_template("{extra.}").is_err());
        assert!(parse_template("{extra.tariff} {operator} {date} {debt}").is_ok());
        assert!(parse_template("a { b").unwrap_err().contains("not closed"));
        assert!(parse_template("a } b").unwrap_err().contains("lone"));
        assert!(parse_template("").unwrap().is_empty());
    }

    #[test]
    fn gsm7_text_fits_160_then_153_per_part() {
        let s = sms_segments(&"a".repeat(160));
        assert_eq!((s.encoding, s.units, s.count), (Encoding::Gsm7, 160, 1));
        assert_eq!(sms_segments(&"a".repeat(161)).count, 2);
        assert_eq!(sms_segments(&"a".repeat(306)).count, 2);
        assert_eq!(sms_segments(&"a".repeat(307)).count, 3);
        // extension characters cost two septets
        let s = sms_segments(&"€".repeat(80));
        assert_eq!((s.encoding, s.units, s.count), (Encoding::Gsm7, 160, 1));
        assert_eq!(sms_segments(&"€".repeat(81)).count, 2);
        assert_eq!(sms_segments("").count, 1);
    }

    #[test]
    fn russian_text_is_ucs2_70_then_67_per_part() {
        let s = sms_segments(&"ж".repeat(70));
        assert_eq!((s.encoding, s.units, s.count), (Encoding::Ucs2, 70, 1));
        assert_eq!(sms_segments(&"ж".repeat(71)).count, 2);
        assert_eq!(sms_segments(&"ж".repeat(134)).count, 2);
        assert_eq!(sms_segments(&"ж".repeat(135)).count, 3);
        // one Cyrillic letter turns a Latin text into UCS-2
        let s = sms_segments(&format!("{}д", "a".repeat(69)));
        assert_eq!((s.encoding, s.count), (Encoding::Ucs2, 1));
        // a character outside the BMP is two UTF-16 units
        assert_eq!(sms_segments("😀").units, 2);
    }

    #[test]
    fn failures_retry_with_backoff_until_the_tries_are_used() {
        let b = Duration::from_secs(10);
        assert_eq!(after_failure(1, true, 5, b), AfterFailure::RetryIn(b));
        assert_eq!(
            after_failure(3, true, 5, b),
            AfterFailure::RetryIn(Duration::from_secs(40))
        );
        assert_eq!(after_failure(5, true, 5, b), AfterFailure::GiveUp);
        assert_eq!(after_failure(1, false, 5, b), AfterFailure::GiveUp);
        assert_eq!(
            after_failure(30, true, 100, b),
            AfterFailure::RetryIn(MAX_RETRY)
        );
    }
}
