//! Property tests of every parser that reads what people and other systems send: contact
//! lists, billing's account rows, phone numbers, the config file and the readings API body.
//! Each property runs a fixed number of cases (a few seconds in all, inside `make test`):
//! nothing panics, what is accepted keeps the documented invariants and round-trips, what
//! is refused says which line or field.

use std::path::Path;

use contactd::config::{Config, ConfigError, DialFormat, DialingConfig};
use contactd::core::accounts::{parse_money, parse_row, AccountRow, MAX_BALANCE_MINOR};
use contactd::core::lists::rows::{FileKind, Row, RowReader};
use contactd::core::meter::AccountRules;
use contactd::core::numbers::{is_e164, normalize};
use contactd::http::readings::parse_submission;
use contactd::store::lists::row_rules;
use proptest::prelude::*;

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        max_shrink_iters: 500,
        ..ProptestConfig::default()
    }
}

/// A national number as billing or a person would type it, with its canonical form.
fn ru_number() -> impl Strategy<Value = (String, String)> {
    ("9[0-9]{9}", 0..6usize).prop_map(|(d, style)| {
        let canon = format!("+7{d}");
        let written = match style {
            0 => d.clone(),
            1 => format!("8{d}"),
            2 => format!("7{d}"),
            3 => format!("+7 {} {}-{}-{}", &d[..3], &d[3..6], &d[6..8], &d[8..]),
            4 => format!("8 ({}) {}-{}-{}", &d[..3], &d[3..6], &d[6..8], &d[8..]),
            _ => format!("+7({}){}", &d[..3], &d[3..]),
        };
        (written, canon)
    })
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

// ---------------------------------------------------------------------------------------
// Contact lists
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
enum Got {
    Contact {
        line: u64,
        phone: String,
        name: String,
        account: String,
    },
    Problem {
        line: u64,
        reason: String,
    },
}

fn read_list(bytes: &[u8]) -> Result<Vec<Got>, String> {
    let rules = row_rules(&DialingConfig::default()).map_err(|e| e.to_string())?;
    let mut r = RowReader::new(Path::new("p.csv"), bytes, FileKind::Contacts, rules)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(row) = r.next_row().map_err(|e| e.to_string())? {
        out.push(match row {
            Row::Contact(c) => Got::Contact {
                line: c.line,
                phone: c.phone,
                name: c.name.to_string(),
                account: c.account.to_string(),
            },
            Row::Problem(p) => Got::Problem {
                line: p.line,
                reason: p.reason,
            },
        });
    }
    Ok(out)
}

fn line_of(g: &Got) -> u64 {
    match g {
        Got::Contact { line, .. } | Got::Problem { line, .. } => *line,
    }
}

/// Names as people type them: letters, spaces, commas, quotes, sometimes a line break.
fn person_name() -> impl Strategy<Value = String> {
    "[A-Za-zА-Яа-яё .,'\"\\-]{0,30}(\n[A-Za-z ]{1,10})?"
}

proptest! {
    #![proptest_config(cases(300))]

    /// Arbitrary bytes after a good header: no panic; every row has a line inside the file,
    /// in order; every refusal says why; every contact is canonical E.164 without NUL.
    #[test]
    fn list_reader_never_panics_and_keeps_its_invariants(
        body in proptest::collection::vec(
            prop_oneof![
                Just(b'"'), Just(b','), Just(b';'), Just(b'\n'), Just(b'\r'), Just(0u8),
                Just(b'+'), b'0'..=b'9', any::<u8>()
            ],
            0..400,
        )
    ) {
        let mut text = b"phone,name,account\n".to_vec();
        text.extend_from_slice(&body);
        // line breaks: `\n`, `\r\n` or a lone `\r`
        let lines = 1 + text
            .iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && text.get(i + 1) != Some(&b'\n')))
            .count() as u64;
        let rows = match read_list(&text) {
            Ok(rows) => rows,
            // a read error names the file and the line
            Err(e) => { prop_assert!(e.contains("line"), "{e}"); return Ok(()); }
        };
        let mut last = 1;
        for g in &rows {
            let line = line_of(g);
            prop_assert!(line > last && line <= lines, "line {line} after {last} of {lines}: {rows:?}");
            last = line;
            match g {
                Got::Contact { phone, name, account, .. } => {
                    prop_assert!(is_e164(phone), "{phone}");
                    prop_assert!(!name.contains('\0') && !account.contains('\0'));
                    prop_assert!(name.chars().count() <= 200 && account.chars().count() <= 40);
                }
                Got::Problem { reason, .. } => prop_assert!(!reason.is_empty()),
            }
        }
    }

    /// Arbitrary bytes, header included: no panic, and a refused file names line 1.
    #[test]
    fn list_header_never_panics(text in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Err(e) = read_list(&text) {
            prop_assert!(e.contains("line") || e.contains("UTF-16"), "{e}");
        }
    }

    /// Rows written by a CSV writer (names with commas, quotes, line breaks) read back as
    /// they were written, each on the line where it starts.
    #[test]
    fn list_rows_round_trip(
        rows in proptest::collection::vec((ru_number(), person_name(), "[0-9]{0,12}"), 1..30),
        semicolons in any::<bool>(),
    ) {
        let mut w = csv::WriterBuilder::new()
            .delimiter(if semicolons { b';' } else { b',' })
            .from_writer(Vec::new());
        w.write_record(["phone", "name", "account"]).unwrap();
        let mut line = 2u64;
        let mut want = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for ((written, canon), name, account) in &rows {
            w.write_record([written, name, account]).unwrap();
            want.push((line, seen.insert(canon.clone()), canon.clone(), name.trim().to_string(), account.clone()));
            line += 1 + name.matches('\n').count() as u64;
        }
        let text = w.into_inner().unwrap();
        let got = read_list(&text).map_err(TestCaseError::fail)?;
        prop_assert_eq!(got.len(), want.len(), "{:?}", got);
        for (g, (line, first, canon, name, account)) in got.iter().zip(&want) {
            match g {
                Got::Contact { line: l, phone, name: n, account: a } => {
                    prop_assert!(*first, "a duplicate was accepted: {g:?}");
                    prop_assert_eq!((l, phone, n, a), (line, canon, name, account));
                }
                Got::Problem { line: l, reason } => {
                    prop_assert!(!*first, "{reason}");
                    prop_assert_eq!(l, line);
                    prop_assert!(reason.starts_with("duplicate of line"), "{reason}");
                }
            }
        }
    }

    /// One line anywhere opens a quote it never closes: that line alone is refused ("unclosed
    /// quote", its own line number) and every other row still reads as written.
    #[test]
    fn an_unclosed_quote_anywhere_costs_one_line(
        n in 1..40usize,
        at in any::<prop::sample::Index>(),
        stray in any::<Option<prop::sample::Index>>(),
        crlf in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let broken = at.index(n + 1);
        // optionally a second stray quote further down, which the reader pairs with the first
        let stray = stray.map(|s| s.index(n + 1)).filter(|s| *s > broken);
        let mut text = format!("phone,name,account{eol}");
        for i in 0..=n {
            let phone = format!("+7916123{:04}", i);
            if i == broken {
                text.push_str(&format!("{phone},\"Broken {i},{i}{eol}"));
            } else if Some(i) == stray {
                text.push_str(&format!("{phone},Name \"Jr,{i}{eol}"));
            } else {
                text.push_str(&format!("{phone},Name {i},{i}{eol}"));
            }
        }
        let got = read_list(text.as_bytes()).map_err(TestCaseError::fail)?;
        prop_assert_eq!(got.len(), n + 1, "{:?}", got);
        for (i, g) in got.iter().enumerate() {
            let line = i as u64 + 2;
            match g {
                Got::Problem { line: l, reason } if i == broken => {
                    prop_assert_eq!(*l, line);
                    prop_assert!(reason.starts_with("unclosed quote"), "{reason}");
                }
                Got::Contact { line: l, account, .. } if i != broken => {
                    prop_assert_eq!(*l, line);
                    prop_assert_eq!(account, &i.to_string());
                }
                other => prop_assert!(false, "row {i} (broken {broken}): {other:?}\n{got:?}"),
            }
        }
    }
}

proptest! {
    #![proptest_config(cases(300))]

    /// A list mixing sound rows, quoted names (with commas, spanning lines), stray quotes
    /// that open a field or sit inside one, and junk: every sound row comes back as a
    /// contact on its own line, whatever the stray quotes around it did. Nothing is
    /// swallowed.
    #[test]
    fn no_sound_row_is_ever_swallowed(
        kinds in proptest::collection::vec(0..6usize, 1..40),
        crlf in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = format!("phone,name,account{eol}");
        // (line, account) of every row that must come back as a contact
        let mut sound = Vec::new();
        let mut line = 2u64;
        for (i, kind) in kinds.iter().enumerate() {
            let phone = format!("+7916123{i:04}");
            let row = match kind {
                0 => format!("{phone},Name {i},{i}"),
                1 => format!("{phone},\"Broken {i},{i}"),
                2 => format!("{phone},Na\"me {i},{i}"),
                3 => format!("{phone},\"Two{eol}lines {i}\",{i}"),
                4 => format!("{phone},\"Smith, J{i}\",{i}"),
                _ => "hello \"world".to_string(),
            };
            if matches!(kind, 0 | 3 | 4) {
                sound.push((line, i.to_string()));
            }
            line += 1 + row.matches(eol).count() as u64;
            text.push_str(&row);
            text.push_str(eol);
        }
        let got = read_list(text.as_bytes()).map_err(TestCaseError::fail)?;
        let contacts: Vec<(u64, String)> = got
            .iter()
            .filter_map(|g| match g {
                Got::Contact { line, account, .. } => Some((*line, account.clone())),
                _ => None,
            })
            .collect();
        for want in &sound {
            prop_assert!(contacts.contains(want), "{want:?} missing: {got:?}\n{text}");
        }
        // only the broken and junk rows are refused
        for g in &got {
            if let Got::Problem { line, reason } = g {
                prop_assert!(!sound.iter().any(|(l, _)| l == line), "line {line} refused: {reason}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Billing's account rows
// ---------------------------------------------------------------------------------------

const ACCOUNT_FIELDS: [&str; 11] = [
    "account",
    "holder",
    "phone",
    "balance",
    "meter",
    "zones",
    "digits",
    "last_date",
    "last_1",
    "last_2",
    "last_3",
];

fn account_row(fields: &[(String, String)]) -> Result<AccountRow, String> {
    let col = |k: &str| {
        fields
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    let rules = DialingConfig::default();
    parse_row(&col, &|p| normalize(p, &rules))
}

fn good_account_fields() -> Vec<(String, String)> {
    [
        ("account", "1234534"),
        ("holder", "Ivanov"),
        ("phone", "8 (916) 123-45-67"),
        ("balance", "-12,5"),
        ("meter", "M1"),
        ("zones", "2"),
        ("digits", "5"),
        ("last_date", "01.03.2025"),
        ("last_1", "01000"),
        ("last_2", "500"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn check_accepted(r: &AccountRow) -> Result<(), TestCaseError> {
    prop_assert!(!r.account.is_empty() && r.account.len() <= 20);
    prop_assert!(r.account.bytes().all(|b| b.is_ascii_digit()));
    prop_assert!(
        r.holder.chars().count() <= 200 && !has_control(&r.holder),
        "{:?}",
        r.holder
    );
    prop_assert!(!r.meter.is_empty() && r.meter.chars().count() <= 40 && !has_control(&r.meter));
    prop_assert!(r.phone.as_deref().is_none_or(is_e164));
    prop_assert!(r.balance_minor.abs() <= MAX_BALANCE_MINOR);
    prop_assert!((1..=3).contains(&r.zones) && (3..=9).contains(&r.digits));
    prop_assert_eq!(r.last.len(), usize::from(r.zones));
    for v in &r.last {
        prop_assert!(*v >= 0 && *v < 10i64.pow(u32::from(r.digits)));
    }
    Ok(())
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,30}",
        "[0-9.,-]{0,30}",
        "-?[0-9]{15,25}([.,][0-9]{0,3})?",
        Just("\0".to_string()),
        (0..3000usize).prop_map(|n| "x".repeat(n)),
    ]
}

proptest! {
    #![proptest_config(cases(500))]

    /// Any value in any field of a good row: no panic; accepted rows keep every limit;
    /// refused ones name the field they refuse.
    #[test]
    fn account_rows_keep_their_limits(
        changes in proptest::collection::vec((0..ACCOUNT_FIELDS.len(), any_text()), 1..4)
    ) {
        let mut fields = good_account_fields();
        for (i, v) in &changes {
            fields.push((ACCOUNT_FIELDS[*i].to_string(), v.clone()));
        }
        match account_row(&fields) {
            Ok(r) => check_accepted(&r)?,
            Err(e) => {
                prop_assert!(e.len() < 400, "the value is not echoed whole: {} bytes", e.len());
                let named = ACCOUNT_FIELDS.iter().any(|f| e.starts_with(f));
                prop_assert!(named, "no field named: {e}");
            }
        }
    }

    /// Every amount within the limit round-trips through its written forms; anything
    /// outside it, or not an amount, is None.
    #[test]
    fn money_round_trips_within_the_limit(
        minor in -MAX_BALANCE_MINOR..=MAX_BALANCE_MINOR,
        comma in any::<bool>(),
    ) {
        let sign = if minor < 0 { "-" } else { "" };
        let (u, f) = (minor.abs() / 100, minor.abs() % 100);
        let sep = if comma { "," } else { "." };
        prop_assert_eq!(parse_money(&format!("{sign}{u}{sep}{f:02}")), Some(minor));
        if f % 10 == 0 {
            prop_assert_eq!(parse_money(&format!("{sign}{u}{sep}{}", f / 10)), Some(minor));
        }
    }

    #[test]
    fn money_never_overflows(s in "-?[0-9]{0,25}([.,][0-9]{0,3})?|.{0,30}") {
        if let Some(m) = parse_money(&s) {
            prop_assert!(m.abs() <= MAX_BALANCE_MINOR, "{s:?} -> {m}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Phone numbers
// ---------------------------------------------------------------------------------------

fn dialing_rules() -> impl Strategy<Value = DialingConfig> {
    ("[1-9][0-9]{0,2}", 4..=14usize, "[0-9]{0,2}", "[0-9]{1,4}").prop_map(|(cc, len, tp, ip)| {
        DialingConfig {
            country_code: cc,
            national_number_length: len,
            trunk_prefix: tp,
            international_prefix: ip,
            dial_format: DialFormat::National,
            default_time_zone: "Europe/Moscow".into(),
        }
    })
}

proptest! {
    #![proptest_config(cases(1000))]

    /// Anything typed, any valid rules: no panic; an accepted number is `+` and digits only
    /// (nothing typed reaches the switch), and normalising it again gives it back.
    #[test]
    fn normalised_numbers_are_plus_and_digits(
        input in prop_oneof![".{0,45}", "[0-9 ()+.\\-]{0,30}", "\\+?[0-9]{1,20}"],
        rules in dialing_rules(),
    ) {
        match normalize(&input, &rules) {
            Ok(n) => {
                let digits = n.strip_prefix('+').unwrap_or(&n);
                prop_assert!(n.starts_with('+') && !digits.is_empty(), "{input:?} -> {n:?}");
                prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{input:?} -> {n:?}");
                prop_assert_eq!(normalize(&n, &rules), Ok(n.clone()), "{:?}", input);
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    /// Every way of writing one Russian number gives the same canonical E.164.
    #[test]
    fn written_forms_of_one_number_agree((written, canon) in ru_number()) {
        let n = normalize(&written, &DialingConfig::default());
        prop_assert_eq!(n.as_deref(), Ok(canon.as_str()), "{:?}", written);
        prop_assert!(is_e164(&canon));
    }
}

// ---------------------------------------------------------------------------------------
// The config file
// ---------------------------------------------------------------------------------------

const GOOD_CONFIG: &str = r#"
[switch.fs1]
host = "127.0.0.1"
password = "SuperSecretEsl"
[http]
token = "0123456789abcdef-secret"
[trunk.e1]
switch = "fs1"
kind = "e1"
channels = 30
dial = "freetdm/1/a/{number}"
"#;

/// Keys the config knows, by section, and a few it does not.
const CONFIG_KEYS: &[(&str, &str)] = &[
    ("daemon", "instance"),
    ("daemon", "spool_dir"),
    ("campaigns", "lines"),
    ("campaigns", "window_start"),
    ("campaigns", "window_end"),
    ("campaigns", "window_days"),
    ("campaigns", "max_attempts"),
    ("campaigns", "confirm_key"),
    ("dialing", "country_code"),
    ("dialing", "national_number_length"),
    ("dialing", "default_time_zone"),
    ("mail", "from"),
    ("mail", "auditors"),
    ("mail", "smtp_port"),
    ("ivr", "max_daily_kwh"),
    ("redis", "prefix"),
    ("postgres", "pool_size"),
    ("log", "level"),
    ("prompts", "language"),
    ("acd", "ring_timeout_seconds"),
    ("outbound", "listen"),
    ("campaigns", "no_such_key"),
];

/// A TOML basic string holding `s` exactly.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (0u32..100_000).prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        ".{0,20}".prop_map(|s| toml_string(&s)),
        "[0-9:]{0,6}".prop_map(|s| format!("\"{s}\"")),
        Just("[]".to_string()),
        Just("[\"a\", 1]".to_string()),
        Just("{ x = 1 }".to_string()),
        Just("1.5".to_string()),
    ]
}

proptest! {
    #![proptest_config(cases(400))]

    /// Any value for any key: `from_toml` never panics, and every error names a key (the
    /// one changed when it is the culprit).
    #[test]
    fn every_config_error_names_a_key(
        changes in proptest::collection::vec((0..CONFIG_KEYS.len(), toml_value()), 1..3)
    ) {
        let mut text = GOOD_CONFIG.to_string();
        let mut set = std::collections::BTreeMap::new();
        for (i, v) in &changes {
            set.insert(CONFIG_KEYS[*i], v.clone());
        }
        let mut section = "";
        for ((s, k), v) in &set {
            if *s != section {
                text.push_str(&format!("[{s}]\n"));
                section = s;
            }
            text.push_str(&format!("{k} = {v}\n"));
        }
        let keys: Vec<String> = set.keys().map(|(s, k)| format!("{s}.{k}")).collect();
        match Config::from_toml(&text) {
            Ok(_) => {}
            Err(ConfigError::Key { key, reason }) => {
                prop_assert!(keys.iter().any(|k| key.starts_with(k.as_str())), "key {key:?} ({reason}) for {keys:?}");
            }
            Err(ConfigError::Invalid(problems)) => {
                prop_assert!(!problems.is_empty());
                for p in &problems {
                    // A rule between two keys (window_start before window_end) is filed under
                    // one and names the other in its text: either may be the one changed.
                    prop_assert!(
                        keys.iter().any(|k| p.key.starts_with(k.as_str()) || p.problem.contains(k.as_str())),
                        "{p} for {keys:?}"
                    );
                }
            }
            Err(e @ ConfigError::File { .. }) => prop_assert!(false, "{e} for\n{text}"),
        }
    }

    /// Arbitrary text: never a panic; a file that is not TOML says where.
    #[test]
    fn config_text_never_panics(tail in ".{0,80}") {
        if let Err(ConfigError::File { reason, .. }) = Config::from_toml(&format!("{GOOD_CONFIG}{tail}")) {
            prop_assert!(reason.contains("line"), "{reason}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// POST /api/v1/readings
// ---------------------------------------------------------------------------------------

const RULES: AccountRules = AccountRules {
    min_len: 6,
    max_len: 12,
    check_digit: false,
};

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{json, Value};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u8>().prop_map(|n| json!(n)),
        "[0-9]{0,12}".prop_map(Value::String),
        ".{0,12}".prop_map(Value::String),
        Just(json!("web")),
        Just(json!("messenger")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("account".to_string()),
                    Just("meter".to_string()),
                    Just("zones".to_string()),
                    Just("source".to_string()),
                    Just("zone".to_string()),
                    Just("value".to_string()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn check_refusal(field: &str, rule: &str, error: &str) -> Result<(), TestCaseError> {
    prop_assert!(!field.is_empty() && !rule.is_empty() && !error.is_empty());
    let known = ["body", "account", "meter", "zones", "source"]
        .iter()
        .any(|f| field.starts_with(f));
    prop_assert!(known, "field {field:?}");
    Ok(())
}

proptest! {
    #![proptest_config(cases(500))]

    #[test]
    fn readings_body_never_panics(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Err(r) = parse_submission(&body, RULES) {
            check_refusal(&r.field, r.rule, &r.error)?;
        }
    }

    /// Any JSON: refusals name a field and a rule; what is accepted has a valid account,
    /// a known source and one entry per zone given.
    #[test]
    fn readings_json_is_accepted_or_named(v in json_value()) {
        let body = serde_json::to_vec(&v).unwrap();
        match parse_submission(&body, RULES) {
            Ok(s) => {
                prop_assert!(s.account.bytes().all(|b| b.is_ascii_digit()));
                prop_assert!((6..=12).contains(&s.account.len()));
                prop_assert!(s.source == "web" || s.source == "messenger");
                prop_assert_eq!(s.entries.len(), v["zones"].as_array().map_or(0, Vec::len));
            }
            Err(r) => check_refusal(&r.field, r.rule, &r.error)?,
        }
    }

    /// A well-formed submission comes back as sent; a wrong type names its field's path.
    #[test]
    fn readings_submission_round_trips(
        account in "[0-9]{6,12}",
        meter in proptest::option::of("[A-Z0-9-]{1,8}"),
        zones in proptest::collection::vec((1u8..=3, "[0-9]{1,9}", any::<bool>()), 1..4),
        messenger in any::<bool>(),
        wrong in 0..4usize,
    ) {
        use serde_json::json;
        let zs: Vec<serde_json::Value> = zones
            .iter()
            .map(|(z, v, as_number)| {
                if *as_number {
                    json!({"zone": z, "value": v.parse::<u64>().unwrap()})
                } else {
                    json!({"zone": z, "value": v})
                }
            })
            .collect();
        let source = if messenger { "messenger" } else { "web" };
        let mut body = json!({"account": account, "zones": zs, "source": source});
        if let Some(m) = &meter {
            body["meter"] = json!(m);
        }
        let s = parse_submission(&serde_json::to_vec(&body).unwrap(), RULES)
            .map_err(|r| TestCaseError::fail(format!("{}: {}", r.field, r.error)))?;
        prop_assert_eq!(&s.account, &account);
        prop_assert_eq!(&s.meter, &meter);
        prop_assert_eq!(s.source, source);
        let want: Vec<(u8, String)> = zones
            .iter()
            .map(|(z, v, as_number)| {
                let v = if *as_number { v.parse::<u64>().unwrap().to_string() } else { v.clone() };
                (*z, v)
            })
            .collect();
        prop_assert_eq!(&s.entries, &want);
        // one field of the wrong type: the error names where
        let (path, bad) = match wrong {
            0 => ("account", json!(123)),
            1 => ("zones[0].zone", json!("one")),
            2 => ("zones", json!({"zone": 1})),
            _ => ("source", json!(["web"])),
        };
        match path {
            "zones[0].zone" => body["zones"][0]["zone"] = bad,
            p => body[p] = bad,
        }
        let r = parse_submission(&serde_json::to_vec(&body).unwrap(), RULES)
            .err()
            .ok_or_else(|| TestCaseError::fail("accepted a wrong type"))?;
        prop_assert!(r.error.starts_with(path), "{path}: {}", r.error);
    }
}
