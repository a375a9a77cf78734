//! What FreeSWITCH's say modules play: the file names mod_say_en and mod_say_ru put in a
//! `file_string://` list (relative to the language's sound prefix) for numbers, items,
//! persons and messages, pronounced, counted or iterated; and the `say` language lookup
//! (switch_ivr_say: the language from `<module>:<lang>`, else the channel's `language` /
//! `default_language`, else the module name).

/// How many digits a number may have (en_say_general_count, ru_say_count).
const MAX_DIGITS: usize = 9;

/// switch_strip_commas: the digits of `text` with commas dropped; None if anything else is
/// in it (the module then answers nothing).
fn digits_of(text: &str) -> Option<String> {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            out.push(c);
        } else if c != ',' {
            return None;
        }
    }
    Some(out)
}

/// The files (`digits/5`, no extension) say module `module` plays for `text`; None when the
/// module answers nothing (a say type it has no numbers for, not a number, too long).
/// `ru_gender`: the channel's `gender` variable (mod_say_ru reads it; `it` for neuter).
pub fn words(
    module: &str,
    kind: &str,
    method: &str,
    text: &str,
    ru_gender: Option<&str>,
) -> Option<Vec<String>> {
    let kind = kind.to_ascii_uppercase();
    if !matches!(kind.as_str(), "NUMBER" | "ITEMS" | "PERSONS" | "MESSAGES") {
        return None;
    }
    let method = method.to_ascii_uppercase();
    let digits = digits_of(text)?;
    if method == "ITERATED" {
        return Some(digits.chars().map(|c| format!("digits/{c}")).collect());
    }
    if digits.len() > MAX_DIGITS {
        return None;
    }
    let n: u64 = digits.parse().unwrap_or(0);
    let w = match module {
        "en" => en_count(n, &method),
        "ru" => {
            let neuter = kind == "MESSAGES" || matches!(ru_gender, Some("it" | "средний"));
            ru_count(n, neuter)
        }
        _ => return None,
    };
    Some(w)
}

/// en_say_general_count: millions, thousands, then the rest (`h-` files when counted).
fn en_count(n: u64, method: &str) -> Vec<String> {
    let mut w = Vec::new();
    if n == 0 {
        w.push("digits/0".to_string());
        return w;
    }
    if !matches!(method, "PRONOUNCED" | "COUNTED") {
        return w;
    }
    let group = |v: u64| ((v / 100 % 10), (v / 10 % 10), (v % 10));
    let (a, b, c) = group(n / 1_000_000);
    en_group(&mut w, a, b, c, false, Some("digits/million"));
    let (a, b, c) = group(n / 1000);
    en_group(&mut w, a, b, c, false, Some("digits/thousand"));
    let (a, b, c) = group(n);
    en_group(&mut w, a, b, c, method == "COUNTED", None);
    w
}

/// mod_say_en's play_group.
fn en_group(w: &mut Vec<String>, a: u64, b: u64, mut c: u64, counted: bool, what: Option<&str>) {
    if a > 0 {
        w.push(format!("digits/{a}"));
        w.push("digits/hundred".into());
    }
    if b > 1 {
        if c == 0 && counted {
            w.push(format!("digits/h-{b}0"));
        } else {
            w.push(format!("digits/{b}0"));
        }
    } else if b == 1 {
        w.push(format!("digits/1{c}"));
        c = 0;
    }
    if c > 0 {
        w.push(if counted {
            format!("digits/h-{c}")
        } else {
            format!("digits/{c}")
        });
    }
    if let Some(what) = what {
        if a > 0 || b > 0 || c > 0 {
            w.push(what.to_string());
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Million,
    Thousand,
    Empty,
    Zero,
}

/// The nominative rows of mod_say_ru's matrix (m_00 male, m_01 neuter): the words for 0-5,
/// then the thousand and million forms after 1-5 ("" = the digit is not said).
struct RuForms {
    num: [&'static str; 6],
    thousand: [(&'static str, &'static str); 6],
    million: [(&'static str, &'static str); 6],
}

const THOUSANDS: [(&str, &str); 6] = [
    ("", ""),
    ("1f", "thousand"),
    ("2f", "thousands-i"),
    ("3", "thousands-i"),
    ("4", "thousands-i"),
    ("5", "thousands"),
];

const RU_MALE: RuForms = RuForms {
    num: ["0", "1", "2", "3", "4", "5"],
    thousand: THOUSANDS,
    million: [
        ("", ""),
        ("1", "million"),
        ("2", "million-a"),
        ("3", "million-a"),
        ("4", "million-a"),
        ("5", "millions"),
    ],
};

const RU_NEUTER: RuForms = RuForms {
    num: ["0", "1n", "2", "3", "4", "5"],
    thousand: THOUSANDS,
    million: [
        ("", ""),
        ("", "million"),
        ("2", "million-a"),
        ("3", "million-a"),
        ("4", "million-a"),
        ("5", "millions"),
    ],
};

/// ru_say_count in the nominative case (mod_say_ru's other genders and cases come from the
/// channel's `gender` / `cases` variables, which the simulator does not model beyond neuter).
fn ru_count(n: u64, neuter: bool) -> Vec<String> {
    let forms = if neuter { &RU_NEUTER } else { &RU_MALE };
    let mut w = Vec::new();
    let p = |div: u64| ((n / div / 100 % 10), (n / div / 10 % 10), (n / div % 10));
    if n == 0 {
        ru_group(&mut w, forms, 0, 0, 0, Unit::Zero);
        return w;
    }
    let (a, b, c) = p(1_000_000);
    if a + b + c > 0 {
        // the millions and thousands groups are said in the male nominative when more follows
        let f = if n % 1_000_000 > 0 { &RU_MALE } else { forms };
        ru_group(&mut w, f, a, b, c, Unit::Million);
    }
    let (a, b, c) = p(1000);
    if a + b + c > 0 {
        let f = if n % 1000 > 0 { &RU_MALE } else { forms };
        ru_group(&mut w, f, a, b, c, Unit::Thousand);
    }
    let (a, b, c) = p(1);
    ru_group(&mut w, forms, a, b, c, Unit::Empty);
    w
}

/// mod_say_ru's play_group for the nominative rows (no prefixes or endings).
fn ru_group(w: &mut Vec<String>, f: &RuForms, a: u64, b: u64, mut c: u64, what: Unit) {
    let unit_word = |w: &mut Vec<String>| match what {
        Unit::Million => w.push("digits/millions".into()),
        Unit::Thousand => w.push("digits/thousands".into()),
        _ => {}
    };
    if a > 0 {
        w.push(format!("digits/{a}00"));
        if b == 0 && c == 0 {
            unit_word(w);
        }
    }
    if b > 1 {
        w.push(format!("digits/{b}0"));
        if c == 0 {
            unit_word(w);
        }
    } else if b == 1 {
        w.push(format!("digits/1{c}"));
        unit_word(w);
        c = 0;
    }
    if c > 0 || what == Unit::Zero {
        if c <= 5 {
            let i = c as usize;
            match what {
                Unit::Million | Unit::Thousand => {
                    let (digit, unit) = if what == Unit::Million {
                        f.million[i]
                    } else {
                        f.thousand[i]
                    };
                    if !digit.is_empty() {
                        w.push(format!("digits/{digit}"));
                    }
                    w.push(format!("digits/{unit}"));
                }
                _ => w.push(format!("digits/{}", f.num[i])),
            }
        } else {
            w.push(format!("digits/{c}"));
            unit_word(w);
        }
    }
}

/// switch_say_file: the `file_string://` list of the files, each with `.ext`.
pub fn file_string(words: &[String], ext: &str) -> String {
    let parts: Vec<String> = words.iter().map(|w| format!("{w}.{ext}")).collect();
    format!("file_string://{}", parts.join("!"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs(module: &str, method: &str, text: &str) -> String {
        file_string(&words(module, "number", method, text, None).unwrap(), "wav")
    }

    #[test]
    fn lists_match_the_traces() {
        // 10-outbound-record-say
        assert_eq!(
            fs("ru", "pronounced", "1234"),
            "file_string://digits/1f.wav!digits/thousand.wav!digits/200.wav!digits/30.wav!digits/4.wav"
        );
        assert_eq!(
            fs("en", "iterated", "123"),
            "file_string://digits/1.wav!digits/2.wav!digits/3.wav"
        );
        assert!(words("en", "number", "nosuchmethod", "123", None)
            .unwrap()
            .is_empty());
        // 30-missing-sounds
        assert_eq!(
            fs("ru", "pronounced", "123"),
            "file_string://digits/100.wav!digits/20.wav!digits/3.wav"
        );
        assert_eq!(
            fs("en", "pronounced", "45"),
            "file_string://digits/40.wav!digits/5.wav"
        );
        // 27-contactd-ivr-reading (freeswitch.log)
        assert_eq!(
            fs("en", "pronounced", "5100"),
            "file_string://digits/5.wav!digits/thousand.wav!digits/1.wav!digits/hundred.wav"
        );
        assert_eq!(
            fs("en", "pronounced", "3050"),
            "file_string://digits/3.wav!digits/thousand.wav!digits/50.wav"
        );
        assert_eq!(
            fs("en", "iterated", "01"),
            "file_string://digits/0.wav!digits/1.wav"
        );
    }

    #[test]
    fn larger_numbers_and_forms() {
        let en = |m: &str, t: &str| words("en", "number", m, t, None).unwrap().join(" ");
        assert_eq!(
            en("pronounced", "2015013"),
            "digits/2 digits/million digits/15 digits/thousand digits/13"
        );
        assert_eq!(en("counted", "21"), "digits/20 digits/h-1");
        assert_eq!(en("counted", "30"), "digits/h-30");
        assert_eq!(en("pronounced", "0"), "digits/0");
        assert!(words("en", "number", "pronounced", "1234567890", None).is_none());
        assert!(words("en", "number", "pronounced", "12a", None).is_none());
        assert!(words("en", "currency", "pronounced", "12", None).is_none());
        let ru = |t: &str| {
            words("ru", "number", "pronounced", t, None)
                .unwrap()
                .join(" ")
        };
        assert_eq!(ru("0"), "digits/0");
        assert_eq!(ru("2000"), "digits/2f digits/thousands-i");
        assert_eq!(ru("5000"), "digits/5 digits/thousands");
        assert_eq!(ru("11000"), "digits/11 digits/thousands");
        assert_eq!(ru("300000"), "digits/300 digits/thousands");
        assert_eq!(ru("1000001"), "digits/1 digits/million digits/1");
        let msgs = words("ru", "messages", "pronounced", "1", None).unwrap();
        assert_eq!(msgs, ["digits/1n"]);
    }
}
