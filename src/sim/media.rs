//! Media stand-ins: what opening a file finds (a WAV file's length from its header, a
//! missing file refused, `silence_stream://`, `tone_stream://`, `file_string://` part by
//! part; `local_stream://` never ends), and writing a small real WAV for `record`.

use super::config::SimConfig;

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

/// How long a source plays once opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// this many ms
    Ms(u64),
    /// until the application is broken (music on hold, an endless tone)
    Endless,
}

/// What `switch_core_file_open` finds for `file`: its length, or None when it cannot be
/// opened (a plain file that does not exist). Relative names are looked up under `prefix`
/// (the channel's `sound_prefix`). A name in `SimConfig::media_ms` plays for that long
/// whether or not the file exists. `file_string://` lists are opened part by part
/// ([`file_string_parts`]).
pub fn open(cfg: &SimConfig, prefix: &str, file: &str) -> Option<Length> {
    let f = file.trim();
    let path = resolve(prefix, f);
    if let Some(ms) = cfg.media_ms.get(f).or_else(|| cfg.media_ms.get(&path)) {
        return Some(Length::Ms(*ms));
    }
    if is_endless(f) {
        return Some(Length::Endless);
    }
    if let Some(rest) = f.strip_prefix("silence_stream://") {
        // silence_stream://<ms>[,<thresh>]; 0 or -1: silence until broken
        let ms = rest
            .split(',')
            .next()
            .and_then(|v| v.trim().parse::<i64>().ok());
        return Some(match ms {
            Some(v) if v > 0 => Length::Ms(v as u64),
            _ => Length::Endless,
        });
    }
    if f.starts_with("tone_stream://") {
        return Some(tone_length(f));
    }
    if f.contains("://") {
        // a source the simulator does not model (http_cache://, shout://, ...)
        return Some(Length::Ms(cfg.default_playback_ms));
    }
    if !std::path::Path::new(&path).is_file() {
        return None;
    }
    Some(Length::Ms(wav_ms(&path).unwrap_or(cfg.default_playback_ms)))
}

/// A source's leading `{name=value,...}` blocks (switch_core_file_open's parameters, as
/// switch_event_create_brackets reads them: `,` between pairs, `'...'` around a value that
/// holds one) and the source after them.
pub fn file_params(file: &str) -> (Vec<(String, String)>, &str) {
    let mut params = Vec::new();
    let mut rest = file.trim_start();
    while let Some(inner) = rest.strip_prefix('{') {
        let Some(end) = inner.find('}') else { break };
        for pair in split_unquoted(&inner[..end]) {
            if let Some((k, v)) = pair.split_once('=') {
                let v = v.trim();
                let v = v
                    .strip_prefix('\'')
                    .and_then(|x| x.strip_suffix('\''))
                    .unwrap_or(v);
                params.push((k.trim().to_string(), v.to_string()));
            }
        }
        rest = inner[end + 1..].trim_start();
    }
    (params, rest)
}

/// `a=1,b='x,y'` split at the commas outside quotes.
fn split_unquoted(s: &str) -> Vec<&str> {
    let (mut out, mut start, mut quoted) = (Vec::new(), 0, false);
    for (i, c) in s.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// An absolute path as is, a relative name under the sound prefix.
pub fn resolve(prefix: &str, file: &str) -> String {
    if file.starts_with('/') || file.contains("://") || prefix.is_empty() {
        file.to_string()
    } else {
        format!("{}/{file}", prefix.trim_end_matches('/'))
    }
}

/// `tone_stream://%(on,off,freq)...[;loops=N]`: the cadences once, N times, or endless
/// with `loops=-1` (mod_tone_stream); a finite tone is capped at a minute.
fn tone_length(f: &str) -> Length {
    let loops = f
        .split(';')
        .find_map(|p| p.trim().strip_prefix("loops="))
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(1);
    if loops < 0 {
        return Length::Endless;
    }
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let mut once = 0u64;
    if let Some(re) = RE.get_or_init(|| regex::Regex::new(r"%\((\d+),(\d+)").ok()) {
        for c in re.captures_iter(f) {
            once += c[1].parse::<u64>().unwrap_or(0) + c[2].parse::<u64>().unwrap_or(0);
        }
    }
    let total = if once == 0 {
        500
    } else {
        once * loops.max(1) as u64
    };
    Length::Ms(total.min(60_000))
}

/// The parts of a `file_string://a!b!c` list, each with its length if it can be opened
/// (relative names under the sound prefix, as mod_dptools' next_file does).
pub fn file_string_parts(
    cfg: &SimConfig,
    prefix: &str,
    file: &str,
) -> Option<Vec<(String, Option<u64>)>> {
    let rest = file.trim().strip_prefix("file_string://")?;
    Some(
        rest.split('!')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let ms = match open(cfg, prefix, p) {
                    Some(Length::Ms(ms)) => Some(ms),
                    // an endless source inside a list plays for a minute in the simulator
                    Some(Length::Endless) => Some(60_000),
                    None => None,
                };
                (p.to_string(), ms)
            })
            .collect(),
    )
}

/// The silence mod_dptools' file_string plays before its first part (250 ms at 8 kHz), only
/// when that first part opened.
pub const FILE_STRING_LEAD_MS: u64 = 250;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_of_sources() {
        let cfg = SimConfig::default();
        assert_eq!(
            open(&cfg, "", "silence_stream://250"),
            Some(Length::Ms(250))
        );
        assert_eq!(
            open(&cfg, "", "tone_stream://%(400,200,600);loops=-1"),
            Some(Length::Endless)
        );
        assert_eq!(
            open(&cfg, "", "tone_stream://%(500,0,800)"),
            Some(Length::Ms(500))
        );
        assert_eq!(open(&cfg, "", "local_stream://moh"), Some(Length::Endless));
        assert_eq!(open(&cfg, "/nonexistent", "digits/1.wav"), None);
        assert_eq!(open(&cfg, "", "/nonexistent/x.wav"), None);
        let mut cfg = SimConfig::default();
        cfg.media_ms.insert("/virtual/x.wav".into(), 1200);
        assert_eq!(open(&cfg, "", "/virtual/x.wav"), Some(Length::Ms(1200)));
        cfg.media_ms.insert("/p/digits/1.wav".into(), 700);
        let parts =
            file_string_parts(&cfg, "/p", "file_string://digits/1.wav!digits/2.wav").unwrap();
        assert_eq!(
            parts,
            vec![
                ("digits/1.wav".to_string(), Some(700)),
                ("digits/2.wav".to_string(), None)
            ]
        );
    }
}
