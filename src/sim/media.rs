//! Media stand-ins: playback durations (WAV header of the file if present,
//! `silence_stream://`, `tone_stream://`, `file_string://`; `local_stream://` never
//! ends), the `say` word lists (en/ru numbers as in trace 10), and writing a small
//! real WAV for `record`.

/// A `local_stream://<name>` source (mod_local_stream, music on hold): it plays
/// until the application is broken (uuid_break, transfer, bridge, hangup).
pub fn is_endless(file: &str) -> bool {
    file.trim().starts_with("local_stream://")
}

/// `Playback-File-Type` FreeSWITCH adds to PLAYBACK_START/STOP (switch_ivr_play_file).
pub fn file_type(file: &str) -> Option<&'static str> {
    let f = file.trim();
    let starts = |p: &str| f.get(..p.len()).is_some_and(|x| x.eq_ignore_ascii_case(p));
    if starts("local_stream:") {
        Some("local_stream")
    } else if starts("tone_stream:") {
        Some("tone_stream")
    } else {
        None
    }
}

/// Duration of a playable thing in ms.
pub fn duration_ms(file: &str, default_ms: u64) -> u64 {
    duration_ms_with(file, default_ms, &std::collections::HashMap::new())
}

/// Like [`duration_ms`], with a table of known lengths by path.
pub fn duration_ms_with(
    file: &str,
    default_ms: u64,
    known: &std::collections::HashMap<String, u64>,
) -> u64 {
    let f = file.trim();
    if let Some(ms) = known.get(f) {
        return *ms;
    }
    if let Some(rest) = f.strip_prefix("silence_stream://") {
        return rest
            .split(',')
            .next()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|v| *v > 0)
            .map(|v| v as u64)
            .unwrap_or(default_ms);
    }
    if f.starts_with("tone_stream://") {
        // one cadence, e.g. %(1000,0,425) -> 1 s; loops are capped
        let re = regex::Regex::new(r"%\((\d+),(\d+)").ok();
        let mut total = 0u64;
        if let Some(re) = re {
            for c in re.captures_iter(f) {
                total += c[1].parse::<u64>().unwrap_or(0) + c[2].parse::<u64>().unwrap_or(0);
            }
        }
        return if total == 0 { 500 } else { total.min(60_000) };
    }
    if let Some(rest) = f.strip_prefix("file_string://") {
        return rest.split('!').map(|p| word_ms(p, default_ms)).sum();
    }
    wav_ms(f).unwrap_or(default_ms)
}

fn word_ms(p: &str, default_ms: u64) -> u64 {
    wav_ms(p).unwrap_or(if p.contains("digits/") {
        700
    } else {
        default_ms
    })
}

/// Length of a PCM WAV file from its header, if readable.
pub fn wav_ms(path: &str) -> Option<u64> {
    let data = std::fs::read(path).ok()?;
    if data.len() < 12 || &data[0..4] != b"RIFF" || &data[8..12] != b"WAVE" {
        return None;
    }
    let mut i = 12;
    let mut byte_rate = 0u64;
    while i + 8 <= data.len() {
        let id = &data[i..i + 4];
        let sz = u32::from_le_bytes([data[i + 4], data[i + 5], data[i + 6], data[i + 7]]) as usize;
        if id == b"fmt " && i + 20 <= data.len() {
            byte_rate =
                u32::from_le_bytes([data[i + 16], data[i + 17], data[i + 18], data[i + 19]]) as u64;
        }
        if id == b"data" {
            if byte_rate == 0 {
                byte_rate = 16000;
            }
            let len = sz.min(data.len().saturating_sub(i + 8)) as u64;
            return Some(len * 1000 / byte_rate);
        }
        i += 8 + sz + (sz & 1);
    }
    None
}

/// Write `ms` of 8 kHz 16-bit mono audio (a quiet tone) to `path` if its directory exists.
pub fn write_wav(path: &str, ms: u64) -> bool {
    let p = std::path::Path::new(path);
    match p.parent() {
        Some(d) if d.as_os_str().is_empty() || d.is_dir() => {}
        _ => return false,
    }
    let samples = (ms * 8) as usize;
    let mut pcm = Vec::with_capacity(samples * 2);
    for n in 0..samples {
        let v = ((n as f64 * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin() * 3000.0) as i16;
        pcm.extend_from_slice(&v.to_le_bytes());
    }
    let mut out = Vec::with_capacity(44 + pcm.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&((36 + pcm.len()) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&16000u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(pcm.len() as u32).to_le_bytes());
    out.extend_from_slice(&pcm);
    std::fs::write(p, out).is_ok()
}

/// Words (file names without `.wav`) FreeSWITCH's say module would play.
/// Supports `number pronounced|iterated` in en and ru; `None` = no reply.
pub fn say_words(lang: &str, kind: &str, method: &str, text: &str) -> Option<Vec<String>> {
    let kind = kind.to_ascii_lowercase();
    if !matches!(kind.as_str(), "number" | "items" | "persons" | "messages") {
        return None;
    }
    let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return None;
    }
    match method.to_ascii_lowercase().as_str() {
        "iterated" => Some(digits.chars().map(|c| c.to_string()).collect()),
        "pronounced" | "counted" => {
            let n: u64 = digits.parse().ok()?;
            Some(if lang.starts_with("ru") {
                ru_number(n)
            } else {
                en_number(n)
            })
        }
        _ => None,
    }
}

fn en_number(n: u64) -> Vec<String> {
    let mut w = Vec::new();
    if n == 0 {
        return vec!["0".into()];
    }
    let th = n / 1000 % 1000;
    if th > 0 {
        w.extend(en_hundreds(th));
        w.push("thousand".into());
    }
    w.extend(en_hundreds(n % 1000));
    w
}

fn en_hundreds(n: u64) -> Vec<String> {
    let mut w = Vec::new();
    if n >= 100 {
        w.push((n / 100).to_string());
        w.push("hundred".into());
    }
    let r = n % 100;
    if r >= 20 {
        w.push(format!("{}", r / 10 * 10));
        if r.rem_euclid(10) != 0 {
            w.push((r % 10).to_string());
        }
    } else if r > 0 {
        w.push(r.to_string());
    }
    w
}

fn ru_number(n: u64) -> Vec<String> {
    let mut w = Vec::new();
    if n == 0 {
        return vec!["0".into()];
    }
    let th = n / 1000 % 1000;
    if th > 0 {
        if th == 1 {
            w.push("1f".into());
        } else {
            w.extend(ru_hundreds(th));
        }
        w.push("thousand".into());
    }
    w.extend(ru_hundreds(n % 1000));
    w
}

fn ru_hundreds(n: u64) -> Vec<String> {
    let mut w = Vec::new();
    if n >= 100 {
        w.push(format!("{}", n / 100 * 100));
    }
    let r = n % 100;
    if r >= 20 {
        w.push(format!("{}", r / 10 * 10));
        if r.rem_euclid(10) != 0 {
            w.push((r % 10).to_string());
        }
    } else if r > 0 {
        w.push(r.to_string());
    }
    w
}

/// The `say_string` api output for a word list.
pub fn file_string(words: &[String]) -> String {
    let parts: Vec<String> = words.iter().map(|w| format!("digits/{w}.wav")).collect();
    format!("file_string://{}", parts.join("!"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn say_lists_match_trace_10() {
        let ru = say_words("ru", "number", "pronounced", "1234").unwrap();
        assert_eq!(
            file_string(&ru),
            "file_string://digits/1f.wav!digits/thousand.wav!digits/200.wav!digits/30.wav!digits/4.wav"
        );
        let en = say_words("en", "number", "iterated", "123").unwrap();
        assert_eq!(
            file_string(&en),
            "file_string://digits/1.wav!digits/2.wav!digits/3.wav"
        );
        assert!(say_words("en", "number", "nosuchmethod", "123").is_none());
        assert_eq!(duration_ms("silence_stream://250", 1000), 250);
    }
}
