//! Guards the prompt set: every prompt name the code plays (`Step::Play("…")`,
//! `prompt: "…"`, `invalid_prompt: "…"`, `collect("…"`, `prompt("…")` in src/) is in
//! `scripts/prompts.sh`, and the script generates each one, in Russian and English, as
//! 8 kHz 16-bit mono PCM WAV (into a temporary directory; generated files are never committed).
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn script_names() -> BTreeSet<String> {
    let out = Command::new(root().join("scripts/prompts.sh"))
        .arg("--list")
        .output()
        .expect("scripts/prompts.sh runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            // the simulator plays what it is told; it names no prompts of its own
            if !p.ends_with("sim") {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn names_in_code() -> BTreeSet<String> {
    let re = regex::Regex::new(
        r#"(?:Step::Play\(|\bprompt: |invalid_prompt: |\bcollect\(|\bprompt\()"([a-z0-9_]+)""#,
    )
    .unwrap();
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut names = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        names.extend(re.captures_iter(&text).map(|c| c[1].to_string()));
    }
    names
}

#[test]
fn every_prompt_the_code_plays_is_in_the_script() {
    let code = names_in_code();
    // the scan must really see the flows' prompts, or this test proves nothing
    for known in [
        "greeting",
        "enter_pin",
        "main_menu",
        "enter_reading_night",
        "reading_too_high",
    ] {
        assert!(code.contains(known), "scan missed {known}: {code:?}");
    }
    let script = script_names();
    let missing: Vec<_> = code.difference(&script).collect();
    assert!(
        missing.is_empty(),
        "prompts used in src/ but not in scripts/prompts.sh: {missing:?}"
    );
}

/// (format tag, channels, sample rate, bits per sample) from the `fmt ` chunk.
fn wav_format(bytes: &[u8]) -> Option<(u16, u16, u32, u16)> {
    if bytes.get(0..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().ok()?) as usize;
        let body = bytes.get(at + 8..at + 8 + len)?;
        if id == b"fmt " {
            let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
            let rate = u32::from_le_bytes(body[4..8].try_into().ok()?);
            return Some((u16_at(0), u16_at(2), rate, u16_at(14)));
        }
        at += 8 + len + (len & 1);
    }
    None
}

/// The script's output, generated once for the tests of this file.
fn generated() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new(root().join("scripts/prompts.sh"))
            .arg(dir.path())
            .status()
            .expect("scripts/prompts.sh runs (espeak-ng and sox: make tools)");
        assert!(status.success());
        dir
    })
    .path()
}

fn names_of(lang: &str) -> Vec<String> {
    let out = Command::new(root().join("scripts/prompts.sh"))
        .args(["--list", lang])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn check_wav(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        wav_format(&bytes),
        Some((1, 1, 8000, 16)),
        "{} is not 8 kHz 16-bit mono PCM",
        path.display()
    );
    assert!(
        bytes.len() > 44 + 1600,
        "{} is (nearly) silent/empty",
        path.display()
    );
}

#[test]
fn generated_prompts_are_8khz_16bit_mono_in_both_languages() {
    let dir = generated();
    for lang in ["ru", "en"] {
        let names = names_of(lang);
        // the spoken prompts are in both languages; only number words differ
        for n in [
            "greeting",
            "acd_wait_minutes",
            "num/n0",
            "num/rub_5",
            "num/minute_1",
        ] {
            assert!(names.iter().any(|x| x == n), "{lang}: {n} missing");
        }
        for name in names {
            check_wav(&dir.join(lang).join(format!("{name}.wav")));
        }
    }
    check_wav(&dir.join("music/8000/contactd-hold.wav"));
}

/// Every file the switch is asked to open when contactd speaks a number, an amount, a
/// count of minutes or digits, for the values callers hear (list sizes, readings,
/// balances with kopecks, debts, queue positions), in both languages.
#[test]
fn every_spoken_number_is_backed_by_a_generated_file() {
    use contactd::core::speech::{self, Gender, Lang, MINUTE};
    let dir = generated();
    let mut values: Vec<u64> = vec![
        0,
        1,
        2,
        5,
        11,
        12,
        14,
        21,
        22,
        25,
        101,
        111,
        1000,
        1001,
        2001,
        4000,
        5000,
        11_000,
        12_540,
        21_000,
        99_999,
        100_000,
        999_999,
        1_000_000,
        2_345_678,
        21_000_000,
        999_999_999,
        1_000_000_000,
        speech::MAX_SPOKEN,
        speech::MAX_SPOKEN + 1,
        u64::MAX,
    ];
    values.extend(0..=2100);
    // balances in kopecks: whole rubles, kopecks alone, both; debts are said by their size
    let amounts: Vec<i64> = vec![
        0,
        1,
        2,
        5,
        11,
        21,
        99,
        100,
        101,
        102,
        105,
        111,
        2101,
        12_345,
        100_000,
        123_456_789,
        -1,
        -250,
        -12_345,
        -100_000,
        i64::MIN + 1,
    ];
    let mut checked = 0usize;
    for (lang, code) in [(Lang::Ru, "ru"), (Lang::En, "en")] {
        let mut lists: Vec<Vec<String>> = Vec::new();
        for &v in &values {
            lists.push(speech::number(lang, v, Gender::Masc));
            lists.push(speech::number(lang, v, Gender::Fem));
            lists.push(speech::count(lang, v, MINUTE));
            lists.push(speech::digits(lang, &v.to_string()).unwrap());
        }
        for cur in contactd::config::CURRENCIES {
            for &a in &amounts {
                lists.push(speech::money(lang, a.unsigned_abs(), cur).unwrap());
            }
        }
        for words in lists {
            assert!(!words.is_empty());
            for w in words {
                let f = dir.join(code).join(format!("{w}.wav"));
                assert!(f.is_file(), "{code}: {} does not exist", f.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 10_000, "only {checked} files checked");
}
