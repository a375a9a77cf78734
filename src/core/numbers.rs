//! Phone numbers as people write them → one canonical E.164 form (`+79161234567`), and that
//! form → the digits sent to a trunk. Owns every rule about what a dialable number is.
//!
//! Input may carry spaces, no-break spaces, dashes, dots and one pair of parentheses, and a
//! leading `+`. Anything else (letters, `&`, line breaks, a second `+`) is refused outright:
//! the canonical form is rebuilt from the digits only, so nothing typed by a person can
//! reach the switch's command line.
//!
//! Without `+`, with [`DialingConfig`] `{cc, trunk, intl, len}` (Russia: `7`, `8`, `810`, 10),
//! the digits are tried in this order, the first match wins:
//! 1. exactly `len` digits: a national number (`9161234567`);
//! 2. `trunk` + `len` digits (`89161234567`);
//! 3. `cc` + `len` digits (`79161234567`);
//! 4. `intl` + an international number (`810380501234567` → `+380501234567`).
//!
//! A national number never starts with `0`. An international number (after `+` or `intl`)
//! whose country code is ours must have exactly `len` national digits; a foreign one must be
//! 8–15 digits in all (E.164). A foreign number written without `+` or `intl` is ambiguous
//! and refused.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How numbers written by people (`8 (916) 123-45-67`, `+7916...`) become one canonical
/// form, and how that form is dialed on the trunks.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialingConfig {
    /// Country calling code without `+` (`7` Russia/Kazakhstan, `380` Ukraine, `994` Azerbaijan).
    pub country_code: String,
    /// Digits of a national significant number (10 in Russia: 916 123 45 67).
    pub national_number_length: usize,
    /// Domestic trunk prefix people write before the national number (`8` in Russia, `0` elsewhere).
    pub trunk_prefix: String,
    /// Prefix for dialing abroad from this country (`810` in Russia, `00` elsewhere).
    pub international_prefix: String,
    /// How a canonical number is sent to the trunk: `national` (trunk prefix + national
    /// number, e.g. 89161234567), `e164` (+79161234567) or `international` (e.g. 0079161234567).
    pub dial_format: DialFormat,
    /// Time zone of subscribers unless a list row says otherwise (calling windows use it).
    pub default_time_zone: String,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DialFormat {
    National,
    E164,
    International,
}

impl DialingConfig {
    /// The utility's own time zone. `Config::validate` refuses a name that is not one,
    /// naming `dialing.default_time_zone`, so this never guesses.
    pub fn zone(&self) -> chrono_tz::Tz {
        self.default_time_zone
            .parse()
            .expect("dialing.default_time_zone is checked by Config::validate")
    }
}

impl Default for DialingConfig {
    fn default() -> Self {
        Self {
            country_code: "7".into(),
            national_number_length: 10,
            trunk_prefix: "8".into(),
            international_prefix: "810".into(),
            dial_format: DialFormat::National,
            default_time_zone: "Europe/Moscow".into(),
        }
    }
}

/// Longest input accepted, in characters, before any parsing.
pub const MAX_INPUT_CHARS: usize = 40;

/// Why a written number is not dialable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NumberError {
    #[error("empty phone")]
    Empty,
    #[error("too long: {0} characters (at most {MAX_INPUT_CHARS})")]
    TooLong(usize),
    #[error("character {0:?} is not allowed in a phone number (only digits, a leading +, spaces, - . ( ))")]
    BadChar(char),
    #[error("'+' is only allowed at the start")]
    MisplacedPlus,
    #[error("unbalanced parentheses")]
    Parentheses,
    #[error("no digits")]
    NoDigits,
    #[error("a national number cannot start with 0")]
    LeadingZero,
    #[error("a +{cc} number has {expected} digits after the country code, this one has {got}")]
    DomesticLength {
        cc: String,
        expected: usize,
        got: usize,
    },
    #[error("an international number has 8-15 digits, this one has {0}")]
    InternationalLength(usize),
    #[error("a country code cannot start with 0")]
    CountryCodeZero,
    #[error("{got} digits: expected {expected}")]
    WrongLength { got: usize, expected: String },
}

/// True when `s` looks like what [`normalize`] returns: `+`, a non-zero digit, 7-14 more digits.
pub fn is_e164(s: &str) -> bool {
    let Some(d) = s.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
}

/// The canonical E.164 form (`+79161234567`) of a number as written by a person.
pub fn normalize(input: &str, rules: &DialingConfig) -> Result<String, NumberError> {
    let s = input.trim_matches([' ', '\t', '\u{a0}']);
    if s.is_empty() {
        return Err(NumberError::Empty);
    }
    let chars = s.chars().count();
    if chars > MAX_INPUT_CHARS {
        return Err(NumberError::TooLong(chars));
    }
    let mut digits = String::with_capacity(16);
    let mut plus = false;
    let mut depth = 0u8;
    let mut pairs = 0u8;
    for (i, c) in s.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => plus = true,
            '+' => return Err(NumberError::MisplacedPlus),
            ' ' | '\u{a0}' | '-' | '.' => {}
            '(' => {
                depth += 1;
                pairs += 1;
                if depth > 1 || pairs > 1 {
                    return Err(NumberError::Parentheses);
                }
            }
            ')' => {
                if depth == 0 {
                    return Err(NumberError::Parentheses);
                }
                depth -= 1;
            }
            other => return Err(NumberError::BadChar(other)),
        }
    }
    if depth != 0 {
        return Err(NumberError::Parentheses);
    }
    if digits.is_empty() {
        return Err(NumberError::NoDigits);
    }
    if plus {
        return international(&digits, rules);
    }
    let cc = rules.country_code.as_str();
    let tp = rules.trunk_prefix.as_str();
    let ip = rules.international_prefix.as_str();
    let len = rules.national_number_length;
    let n = digits.len();
    if n == len {
        return domestic(&digits, rules);
    }
    let mut leading_zero = None;
    if !tp.is_empty() && n == tp.len() + len && digits.starts_with(tp) {
        // `0` + `0…` is not a national number; it may still be `00` + an international one.
        match domestic(&digits[tp.len()..], rules) {
            Err(e @ NumberError::LeadingZero) => leading_zero = Some(e),
            done => return done,
        }
    }
    if n == cc.len() + len && digits.starts_with(cc) {
        return domestic(&digits[cc.len()..], rules);
    }
    if !ip.is_empty() && n > ip.len() && digits.starts_with(ip) {
        return international(&digits[ip.len()..], rules);
    }
    if let Some(e) = leading_zero {
        return Err(e);
    }
    Err(NumberError::WrongLength {
        got: n,
        expected: format!(
            "{len} (national), {tp}+{len}, {cc}+{len}, or +/{ip} and an international number"
        ),
    })
}

fn domestic(national: &str, rules: &DialingConfig) -> Result<String, NumberError> {
    if national.starts_with('0') {
        return Err(NumberError::LeadingZero);
    }
    Ok(format!("+{}{national}", rules.country_code))
}

fn international(digits: &str, rules: &DialingConfig) -> Result<String, NumberError> {
    if digits.starts_with('0') {
        return Err(NumberError::CountryCodeZero);
    }
    if let Some(national) = digits.strip_prefix(rules.country_code.as_str()) {
        if national.len() != rules.national_number_length {
            return Err(NumberError::DomesticLength {
                cc: rules.country_code.clone(),
                expected: rules.national_number_length,
                got: national.len(),
            });
        }
        return domestic(national, rules);
    }
    if !(8..=15).contains(&digits.len()) {
        return Err(NumberError::InternationalLength(digits.len()));
    }
    Ok(format!("+{digits}"))
}

/// The number to put in a trunk's dial string for a canonical `e164` number, per
/// `rules.dial_format`: `national` → trunk prefix + national number for our country and
/// international prefix + digits abroad; `e164` → unchanged; `international` → international
/// prefix + digits. Input that is not canonical is returned unchanged, so the final check,
/// [`crate::core::values::PhoneNumber::parse`], refuses it rather than this function
/// guessing.
pub fn dial_string_number(e164: &str, rules: &DialingConfig) -> String {
    if !is_e164(e164) {
        return e164.to_string();
    }
    let digits = &e164[1..];
    match rules.dial_format {
        DialFormat::E164 => e164.to_string(),
        DialFormat::International => format!("{}{digits}", rules.international_prefix),
        DialFormat::National => match digits.strip_prefix(rules.country_code.as_str()) {
            Some(national) if national.len() == rules.national_number_length => {
                format!("{}{national}", rules.trunk_prefix)
            }
            _ => format!("{}{digits}", rules.international_prefix),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::values::PhoneNumber;

    fn ru() -> DialingConfig {
        DialingConfig::default()
    }

    fn ua() -> DialingConfig {
        DialingConfig {
            country_code: "380".into(),
            national_number_length: 9,
            trunk_prefix: "0".into(),
            international_prefix: "00".into(),
            dial_format: DialFormat::National,
            default_time_zone: "Europe/Kyiv".into(),
        }
    }

    fn az() -> DialingConfig {
        DialingConfig {
            country_code: "994".into(),
            national_number_length: 9,
            trunk_prefix: "0".into(),
            international_prefix: "00".into(),
            dial_format: DialFormat::National,
            default_time_zone: "Asia/Baku".into(),
        }
    }

    #[test]
    fn russian_spellings_of_one_number_agree() {
        for input in [
            "+7 (916) 123-45-67",
            "8 916 1234567",
            "79161234567",
            "9161234567",
            "8(916)123-45-67",
            "+79161234567",
            "916.123.45.67",
            "  8 916 123 45 67  ",
            "8\u{a0}916\u{a0}123\u{a0}45\u{a0}67",
            "810 7 916 123 45 67",
            "+7 916 123 45 67",
        ] {
            assert_eq!(
                normalize(input, &ru()).as_deref(),
                Ok("+79161234567"),
                "{input:?}"
            );
        }
    }

    #[test]
    fn russian_toll_free_and_foreign_numbers() {
        assert_eq!(normalize("8 800 123-45-67", &ru()).unwrap(), "+78001234567");
        assert_eq!(
            normalize("+380 50 123 45 67", &ru()).unwrap(),
            "+380501234567"
        );
        assert_eq!(
            normalize("810 380 50 123 4567", &ru()).unwrap(),
            "+380501234567"
        );
        assert_eq!(
            normalize("+994 12 345 67 89", &ru()).unwrap(),
            "+994123456789"
        );
        assert_eq!(normalize("+49 30 1234567", &ru()).unwrap(), "+49301234567");
        // 8 digits: the shortest E.164 number accepted
        assert_eq!(normalize("+3705123456", &ru()).unwrap(), "+3705123456");
    }

    #[test]
    fn ukrainian_rules() {
        for input in [
            "050 123 45 67",
            "0501234567",
            "+380 (50) 123-45-67",
            "380501234567",
            "501234567",
            "00 380 50 123 45 67",
        ] {
            assert_eq!(
                normalize(input, &ua()).as_deref(),
                Ok("+380501234567"),
                "{input:?}"
            );
        }
        // a Russian number from Ukraine: international prefix or +
        assert_eq!(
            normalize("00 7 916 123 45 67", &ua()).unwrap(),
            "+79161234567"
        );
        assert_eq!(
            normalize("+7 916 123 45 67", &ua()).unwrap(),
            "+79161234567"
        );
        // written as a Russian would: 8 + 10 digits means nothing in Ukraine
        assert!(normalize("8 916 123 45 67", &ua()).is_err());
        assert!(matches!(
            normalize("+380 50 123 45 6", &ua()),
            Err(NumberError::DomesticLength { .. })
        ));
    }

    #[test]
    fn azerbaijani_rules() {
        for input in [
            "050 123 45 67",
            "+994 50 123 45 67",
            "994501234567",
            "(012) 345-67-89",
        ] {
            let n = normalize(input, &az()).unwrap();
            assert!(n.starts_with("+994") && n.len() == 13, "{input:?} -> {n}");
        }
        assert_eq!(normalize("050 123 45 67", &az()).unwrap(), "+994501234567");
        assert_eq!(
            normalize("0 (12) 345-67-89", &az()).unwrap(),
            "+994123456789"
        );
    }

    #[test]
    fn rejections() {
        let bad = |s: &str| normalize(s, &ru()).unwrap_err();
        assert_eq!(bad(""), NumberError::Empty);
        assert_eq!(bad("   "), NumberError::Empty);
        assert_eq!(bad("abc"), NumberError::BadChar('a'));
        assert_eq!(bad("8 916 ABC 45 67"), NumberError::BadChar('A'));
        assert_eq!(bad("8916123456я"), NumberError::BadChar('я'));
        assert!(matches!(
            bad("12345"),
            NumberError::WrongLength { got: 5, .. }
        ));
        assert!(matches!(
            bad("891612345678"),
            NumberError::WrongLength { .. }
        ));
        assert!(matches!(
            bad("+7 916 123 45 6"),
            NumberError::DomesticLength { got: 9, .. }
        ));
        assert!(matches!(
            bad("+7 916 123 45 678"),
            NumberError::DomesticLength { got: 11, .. }
        ));
        assert_eq!(bad("+1234567"), NumberError::InternationalLength(7));
        assert_eq!(
            bad("+1234567890123456"),
            NumberError::InternationalLength(16)
        );
        assert_eq!(bad("+0 916 123 45 67"), NumberError::CountryCodeZero);
        assert_eq!(bad("0161234567"), NumberError::LeadingZero);
        assert_eq!(bad("8 016 123 45 67"), NumberError::LeadingZero);
        assert_eq!(bad("7 016 123 45 67"), NumberError::LeadingZero);
        assert_eq!(bad("+7+9161234567"), NumberError::MisplacedPlus);
        assert_eq!(bad("8 (916 123-45-67"), NumberError::Parentheses);
        assert_eq!(bad("8 ((916)) 123-45-67"), NumberError::Parentheses);
        assert_eq!(bad("8 916) 123-45-67"), NumberError::Parentheses);
        assert_eq!(bad("---"), NumberError::NoDigits);
        assert!(matches!(bad(&"9".repeat(41)), NumberError::TooLong(41)));
        // Unicode digits are not ASCII digits
        assert!(matches!(bad("٩١٦١٢٣٤٥٦٧"), NumberError::BadChar(_)));
        assert!(matches!(
            bad("９１６１２３４５６７"),
            NumberError::BadChar(_)
        ));
    }

    #[test]
    fn injection_attempts_are_refused() {
        for s in [
            "9161234567\napi hupall",
            "9161234567\r\n",
            "9161234567 &park",
            "9161234567&park()",
            "9161234567,origination_caller_id_number=1",
            "9161234567|8005551234",
            "9161234567;bgapi",
            "{x=y}9161234567",
            "9161234567'",
            "9161234567\"",
            "9161234567\\",
            "9161234567\0",
            "9161234567/",
            "sofia/gateway/x/9161234567",
            "9161234567\tx",
        ] {
            assert!(normalize(s, &ru()).is_err(), "{s:?} accepted");
        }
    }

    #[test]
    fn every_accepted_number_is_canonical_and_dialable() {
        for input in ["8 916 1234567", "+380501234567", "810 49 30 1234567"] {
            let e164 = normalize(input, &ru()).unwrap();
            assert!(is_e164(&e164), "{e164}");
            for format in [
                DialFormat::National,
                DialFormat::E164,
                DialFormat::International,
            ] {
                let rules = DialingConfig {
                    dial_format: format,
                    ..ru()
                };
                let d = dial_string_number(&e164, &rules);
                PhoneNumber::parse(&d).unwrap_or_else(|e| panic!("{d}: {e:?}"));
            }
        }
    }

    #[test]
    fn dial_string_rendering() {
        let with = |f: DialFormat, base: DialingConfig| DialingConfig {
            dial_format: f,
            ..base
        };
        let nat = with(DialFormat::National, ru());
        assert_eq!(dial_string_number("+79161234567", &nat), "89161234567");
        assert_eq!(dial_string_number("+380501234567", &nat), "810380501234567");
        let e = with(DialFormat::E164, ru());
        assert_eq!(dial_string_number("+79161234567", &e), "+79161234567");
        let intl = with(DialFormat::International, ru());
        assert_eq!(dial_string_number("+79161234567", &intl), "81079161234567");
        let ua_nat = with(DialFormat::National, ua());
        assert_eq!(dial_string_number("+380501234567", &ua_nat), "0501234567");
        assert_eq!(dial_string_number("+79161234567", &ua_nat), "0079161234567");
        // not canonical: left as is so PhoneNumber::parse refuses it
        let junk = dial_string_number("9161234567 &park", &nat);
        assert!(PhoneNumber::parse(&junk).is_err());
        assert!(!is_e164("+0123456789"));
        assert!(!is_e164("79161234567"));
    }
}
