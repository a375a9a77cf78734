//! IVR applications: `play_and_get_digits` (tries, timeouts, terminators, regex,
//! invalid prompt; sets the variable, `read_result`, `read_terminator_used` as in
//! traces 10, 26 and 30), `record` (RECORD_START/STOP, a real WAV file), `record_session` /
//! `stop_record_session` (a media bug: returns at once, records through bridges
//! until stopped or hangup, then writes the WAV), and `say` (one file_string playback of
//! the say module's files under the language's sound prefix).

use std::path::Path;

use super::apps::read_dtmf;
use super::media;
use super::playback::{playback, playback_as, playback_no_input, NOT_FOUND};
use super::say;
use super::session::{Sess, Vars};
use super::SimConfig;

const ALL_DIGITS: &str = "0123456789*#ABCD";

/// How switch_ivr_read ended.
#[derive(PartialEq)]
enum Read {
    Success,
    Timeout,
    TooSmall,
    /// the prompt could not be opened: nothing is set
    NotFound,
    Hangup,
}

/// `play_and_get_digits min max tries timeout terminators file invalid_file var regex
/// [digit_timeout]`, as switch_play_and_get_digits: each try is a switch_ivr_read (which
/// clears `read_result` and the variable first; a prompt that cannot be opened ends it at
/// once with neither set), then, unless the digits pass, the invalid-input file is played,
/// after the last try too. `read_terminator_used` is never cleared (stale in later reads).
pub async fn play_and_get_digits(sess: &Sess, arg: &str) {
    let a: Vec<&str> = arg.split_whitespace().collect();
    let num = |i: usize| a.get(i).map(|v| atoi(v)).unwrap_or(0);
    let min = num(0).max(0) as usize;
    let max = (num(1).max(0) as usize).max(min);
    let mut tries = num(2);
    let timeout = if a.len() > 3 { num(3).max(1000) } else { 1000 } as u64;
    let terms = a.get(4).copied().filter(|t| !t.is_empty()).unwrap_or("#");
    let file = a.get(5).copied().unwrap_or("");
    let invalid = a.get(6).copied().unwrap_or("");
    let var = a.get(7).copied().unwrap_or("");
    // switch_regex_match: PCRE, not anchored
    let re = a.get(8).and_then(|r| super::config::regex(r));
    let digit_timeout = match a.get(9).map(|v| atoi(v)) {
        Some(d) if d > 0 => d as u64,
        _ => timeout,
    };
    let invalid_var = format!("{var}_invalid");
    if re.is_some() && !var.is_empty() {
        sess.modify(|s| s.set_var(&invalid_var, ""));
    }
    // keys pressed before it began are still queued: they count (FreeSWITCH flushes nothing)
    while tries > 0 && !sess.hungup() {
        let (status, digits) = read(sess, min, max, timeout, digit_timeout, terms, file, var).await;
        if status == Read::Hangup {
            break;
        }
        let ok = matches!(status, Read::Success | Read::Timeout) && digits.len() >= min;
        if ok && !digits.is_empty() {
            match &re {
                Some(r) if !r.is_match(&digits) => sess.modify(|s| {
                    s.set_var(var, "");
                    if !var.is_empty() {
                        s.set_var(&invalid_var, &digits);
                    }
                }),
                _ => return,
            }
        }
        if sess.hungup() {
            break;
        }
        if !invalid.is_empty() {
            // played without input: a key pressed meanwhile waits for the next try
            playback_no_input(sess, invalid).await;
        }
        tries -= 1;
    }
}

/// C's atoi: leading digits (with a sign), 0 when there are none.
fn atoi(v: &str) -> i64 {
    let v = v.trim_start();
    let (neg, rest) = match v.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let d: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n = d.parse::<i64>().unwrap_or(0);
    if neg {
        -n
    } else {
        n
    }
}

/// switch_ivr_read: the prompt (any digit cuts it short), then digits until `max`, a
/// terminator or a timeout (`timeout` for the first digit, `digit_timeout` between them).
#[allow(clippy::too_many_arguments)]
async fn read(
    sess: &Sess,
    min: usize,
    max: usize,
    timeout: u64,
    digit_timeout: u64,
    terms: &str,
    file: &str,
    var: &str,
) -> (Read, String) {
    sess.modify(|s| {
        s.set_var("read_result", "");
        s.set_var(var, "");
    });
    let mut got: Vec<char> = Vec::new();
    let mut term_used: Option<char> = None;
    if !file.is_empty() && !file.eq_ignore_ascii_case("silence") {
        let (resp, d, _) = playback(sess, file, ALL_DIGITS).await;
        if resp == NOT_FOUND {
            return (Read::NotFound, String::new());
        }
        got.extend(d);
    }
    if sess.hungup() {
        return (Read::Hangup, String::new());
    }
    // digits typed during the prompt count; a terminator there ends the input
    if let Some(pos) = got.iter().position(|c| terms.contains(*c)) {
        term_used = Some(got[pos]);
        got.truncate(pos);
    }
    let mut status = Read::Success;
    if term_used.is_none() && (got.len() < min || got.len() < max) {
        'collect: loop {
            let wait = if got.is_empty() {
                timeout
            } else {
                digit_timeout
            };
            let hit = sess
                .wait_until(Some(wait), |s| s.is_hungup() || !s.dtmf.is_empty())
                .await;
            if sess.hungup() {
                return (Read::Hangup, String::new());
            }
            if !hit {
                status = Read::Timeout;
                break;
            }
            for c in read_dtmf(sess) {
                if terms.contains(c) {
                    term_used = Some(c);
                    break 'collect;
                }
                got.push(c);
                if got.len() >= max {
                    break 'collect;
                }
            }
        }
    }
    if let Some(t) = term_used {
        sess.modify(|s| s.set_var("read_terminator_used", &t.to_string()));
    }
    if min > 0 && got.len() < min {
        status = Read::TooSmall;
    }
    let result = match status {
        Read::Success => "success",
        Read::Timeout => "timeout",
        _ => "failure",
    };
    let digits: String = got.iter().collect();
    sess.modify(|s| {
        s.set_var("read_result", result);
        if !var.is_empty() && !digits.is_empty() {
            s.set_var(var, &digits);
        }
    });
    (status, digits)
}

/// `record <path> [max_secs] [silence_thresh] [silence_hits]`. Unlike `record_session`,
/// switch_ivr_record_file makes no directory: a file it cannot open hangs the channel up
/// (DESTINATION_OUT_OF_ORDER) before any RECORD_START.
pub async fn record(sess: &Sess, arg: &str) {
    let a: Vec<&str> = arg.split_whitespace().collect();
    let path = a.first().copied().unwrap_or("").to_string();
    if path.is_empty() {
        return; // mod_dptools logs its usage and returns
    }
    if !dir_exists(&sess.core.cfg, &path) {
        sess.hangup("DESTINATION_OUT_OF_ORDER", "switch");
        return;
    }
    sess.fire(
        "RECORD_START",
        ("mod_dptools.c", "record_function", 1),
        Vars::Yes,
        &[],
        &[("Record-File-Path", path.clone())],
    );
    let max_s = a.get(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let silence_hits = a.get(3).and_then(|v| v.parse::<u64>().ok());
    // mod_dptools' record stops on `playback_terminators` (default `*`; "none" disables).
    let terms = sess.with(|s| s.var("playback_terminators").map(str::to_string));
    let terms = match terms.as_deref() {
        Some("none") => String::new(),
        Some(t) => t.to_string(),
        None => "*".to_string(),
    };
    let start = tokio::time::Instant::now();
    let max_ms = if max_s == 0 { None } else { Some(max_s * 1000) };
    let mut spoke = false;
    loop {
        let el = (start.elapsed().as_secs_f64() * 1000.0 / sess.core.scale()) as u64;
        let left = max_ms.map(|m| m.saturating_sub(el));
        if left == Some(0) {
            break;
        }
        let step = match (left, silence_hits) {
            (Some(l), Some(h)) if spoke => Some(l.min(h * 1000)),
            (l, _) => l,
        };
        let was_speaking = sess.with(|s| s.far_speaking);
        let hit = sess
            .wait_until(step, |s| {
                s.is_hungup() || s.brk || !s.dtmf.is_empty() || s.far_speaking != was_speaking
            })
            .await;
        if sess.hungup() || sess.modify(|s| std::mem::replace(&mut s.brk, false)) {
            break;
        }
        if !hit {
            if spoke && silence_hits.is_some() && !sess.with(|s| s.far_speaking) {
                break;
            }
            continue;
        }
        if sess.with(|s| s.far_speaking) {
            spoke = true;
        }
        let d = read_dtmf(sess);
        if d.iter().any(|c| terms.contains(*c)) {
            break;
        }
    }
    let el = (start.elapsed().as_secs_f64() * 1000.0 / sess.core.scale()) as u64;
    write_recording(&sess.core.cfg, &path, el.min(max_ms.unwrap_or(u64::MAX)));
    sess.modify(|s| {
        s.set_var("record_ms", &el.to_string());
        s.set_var("record_seconds", &(el / 1000).to_string());
    });
    sess.fire(
        "RECORD_STOP",
        ("mod_dptools.c", "record_function", 2),
        Vars::Yes,
        &[],
        &[("Record-File-Path", path)],
    );
}

/// Is `dir` on the simulated switch's disk only ([`SimConfig::disk_dirs`])?
fn virtual_dir(cfg: &SimConfig, dir: &Path) -> bool {
    cfg.disk_dirs.iter().any(|v| dir.starts_with(v))
}

/// Can a file be opened at `path`: its directory exists (on the real disk or the simulated
/// one)?
fn dir_exists(cfg: &SimConfig, path: &str) -> bool {
    match Path::new(path).parent() {
        Some(d) => d.as_os_str().is_empty() || d.is_dir() || virtual_dir(cfg, d),
        None => false,
    }
}

/// switch_dir_make_recursive on the file's directory: true when it exists afterwards
/// (made on the real disk unless the simulated one has it).
fn make_parent_dir(cfg: &SimConfig, path: &str) -> bool {
    match Path::new(path).parent() {
        Some(d) => {
            d.as_os_str().is_empty() || virtual_dir(cfg, d) || std::fs::create_dir_all(d).is_ok()
        }
        None => false,
    }
}

/// A finished recording, `ms` long, written as a WAV unless it is on the simulated disk.
fn write_recording(cfg: &SimConfig, path: &str, ms: u64) {
    if !Path::new(path)
        .parent()
        .is_some_and(|d| virtual_dir(cfg, d))
    {
        media::write_wav(path, ms);
    }
}

/// `record_session <path>` (the app) and `uuid_record <uuid> start <path>` (the api) both
/// come down to switch_ivr_record_session_event: it creates the file's directory
/// (switch_dir_make_recursive, since 2011), opens the file and adds a media bug, then
/// returns at once; the recording goes on through bridges until it is stopped or the
/// channel hangs up (CS_HANGUP removes the bug, [`stop_record_session`]). If the
/// directory cannot be made there is no recording and no event, and `false` comes back
/// (the api then answers `-ERR Cannot record session!`). The path is kept in
/// `sim_record_session` and in the party's ground truth (`PartyRecord::recording`).
pub fn record_session(sess: &Sess, arg: &str) -> bool {
    let path = arg.split_whitespace().next().unwrap_or("").to_string();
    if path.is_empty() {
        return false;
    }
    if recording_path(sess).as_deref() == Some(path.as_str()) {
        // "Already recording [file]": success, and the running recording goes on untouched
        if sess.with(|s| super::bridge::true_var(s, "RECORD_TOGGLE_ON_REPEAT")) {
            stop_record_session(sess, None);
        }
        return true;
    }
    if !make_parent_dir(&sess.core.cfg, &path) {
        return false;
    }
    stop_record_session(sess, None); // one recording per channel in the simulator
    let now = sess.core.now_us();
    let uuid = sess.modify(|s| {
        s.recording = Some((path.clone(), now));
        s.set_var("sim_record_session", &path);
        s.uuid.clone()
    });
    if sess.core.has_truth(&uuid) {
        sess.core.truth(&uuid, |r| r.recording = Some(path.clone()));
    }
    bug_events(sess, &path, true, None);
    true
}

/// The path of the recording running on the channel, if any.
pub fn recording_path(sess: &Sess) -> Option<String> {
    sess.with(|s| s.recording.as_ref().map(|r| r.0.clone()))
}

/// Close a running recording: write the WAV (as long as the recording ran), RECORD_STOP
/// and MEDIA_BUG_STOP. `cause` is the Record-Completion-Cause an explicit stop reports
/// (`uuid_record stop` gives `success-maxtime`, trace 06). No-op if none runs.
pub fn stop_record_session(sess: &Sess, cause: Option<&str>) {
    let Some((path, t0)) = sess.modify(|s| s.recording.take()) else {
        return;
    };
    let end = sess.with(|s| {
        if s.caller.hangup_us > 0 {
            s.caller.hangup_us
        } else {
            0
        }
    });
    let end = if end > 0 { end } else { sess.core.now_us() };
    write_recording(&sess.core.cfg, &path, ((end - t0) / 1000).max(0) as u64);
    bug_events(sess, &path, false, cause);
}

fn bug_events(sess: &Sess, path: &str, start: bool, cause: Option<&str>) {
    let (rec, bug) = if start {
        ("RECORD_START", "MEDIA_BUG_START")
    } else {
        ("RECORD_STOP", "MEDIA_BUG_STOP")
    };
    let mut post = vec![("Record-File-Path", path.to_string())];
    if let Some(c) = cause {
        post.push(("Record-Completion-Cause", c.to_string()));
    }
    sess.fire(
        rec,
        ("switch_ivr_async.c", "record_callback", 1),
        Vars::Yes,
        &[],
        &post,
    );
    sess.fire(
        bug,
        ("switch_core_media_bug.c", "switch_core_media_bug_add", 1),
        Vars::Yes,
        &[],
        &[
            ("Media-Bug-Function", "session_record".to_string()),
            ("Media-Bug-Target", path.to_string()),
        ],
    );
}

/// `say <module>[:<lang>] <type> <method> [<gender>] <text>` (switch_ivr_say): the
/// language's sound prefix becomes the channel's `sound_prefix` (put back afterwards only
/// if it had one, as FreeSWITCH does), the say module's files are played as one
/// `file_string://` list. Missing files are each a `filestring::fail` event; with none to
/// play there are no PLAYBACK events and nothing is heard. The response is always `_none_`.
pub async fn say(sess: &Sess, arg: &str) -> Option<String> {
    let a: Vec<&str> = arg.split_whitespace().collect();
    if a.len() != 4 && a.len() != 5 {
        return None;
    }
    // `<module>:<lang>`; the language's say-module is what plays, as in FreeSWITCH
    let lang = a[0].split_once(':').map(|x| x.1).unwrap_or(a[0]);
    let text = a[a.len() - 1];
    let prefix = sess.core.cfg.say_prefix(lang)?;
    let enforced = sess.with(|s| {
        s.var("sound_prefix_enforced")
            .is_some_and(|v| matches!(v, "true" | "yes" | "on" | "1"))
    });
    let saved = sess.with(|s| s.var("sound_prefix").map(str::to_string));
    if !enforced {
        sess.modify(|s| s.set_var("sound_prefix", &prefix));
    }
    let gender = sess.with(|s| s.var("gender").map(str::to_string));
    let list = say_module(lang)
        .and_then(|m| say::words(m, a[1], a[2], text, gender.as_deref()))
        .filter(|w| !w.is_empty());
    if let Some(words) = list {
        let terms = playback_terminators(sess);
        playback_as(sess, &say::file_string(&words, "wav"), &terms, Some(arg)).await;
    }
    if let Some(p) = saved.filter(|_| !enforced) {
        sess.modify(|s| s.set_var("sound_prefix", &p));
    }
    None
}

/// The say module of a language (`say-module`): en and ru.
pub fn say_module(lang: &str) -> Option<&'static str> {
    match lang.split(['-', '_']).next().unwrap_or("") {
        "en" => Some("en"),
        "ru" => Some("ru"),
        _ => None,
    }
}

/// mod_dptools' on_dtmf: the digits that end a playback (`playback_terminators`, default `*`).
pub fn playback_terminators(sess: &Sess) -> String {
    let t = sess.with(|s| s.var("playback_terminators").map(str::to_string));
    match t.as_deref() {
        None => "*".into(),
        Some(t) if t.eq_ignore_ascii_case("any") => "1234567890*#".into(),
        Some(t) if t.eq_ignore_ascii_case("none") => String::new(),
        Some(t) => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulated_disk_has_its_directories_and_nothing_is_made_or_written_there() {
        let tmp = tempfile::tempdir().unwrap();
        let virt = tmp.path().join("capture");
        let cfg = SimConfig {
            disk_dirs: vec![virt.display().to_string()],
            ..Default::default()
        };
        let inside = virt.join("run/recordings/a.wav").display().to_string();
        assert!(dir_exists(&cfg, &inside));
        assert!(make_parent_dir(&cfg, &inside));
        write_recording(&cfg, &inside, 1000);
        assert!(!virt.exists(), "nothing on the real disk");

        // elsewhere, the real disk: missing until made, then written
        let real = tmp.path().join("real/day/b.wav").display().to_string();
        assert!(!dir_exists(&cfg, &real));
        assert!(make_parent_dir(&cfg, &real));
        assert!(dir_exists(&cfg, &real));
        write_recording(&cfg, &real, 1000);
        assert!(media::wav_ms(&real).is_some());

        // a plain file in the way: the directory cannot be made
        std::fs::write(tmp.path().join("plain"), b"x").unwrap();
        let blocked = tmp.path().join("plain/c.wav").display().to_string();
        assert!(!make_parent_dir(&cfg, &blocked));
    }
}
