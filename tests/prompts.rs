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
    // the currency words are named at run time: currency_<code>_major / _minor
    let mut code = code;
    for c in contactd::config::CURRENCIES {
        for part in ["major", "minor"] {
            code.insert(format!("currency_{}_{part}", c.to_ascii_lowercase()));
        }
    }
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

#[test]
fn generated_prompts_are_8khz_16bit_mono_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(root().join("scripts/prompts.sh"))
        .arg(dir.path())
        .status()
        .expect("scripts/prompts.sh runs (espeak-ng and sox: make tools)");
    assert!(status.success());
    for lang in ["ru", "en"] {
        for name in script_names() {
            let path = dir.path().join(lang).join(format!("{name}.wav"));
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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
    }
}
