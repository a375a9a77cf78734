//! IVR applications: `play_and_get_digits` (tries, timeouts, terminators, regex,
//! invalid prompt; sets the variable, `read_result`, `read_terminator_used` as in
//! trace 10), `record` (RECORD_START/STOP, a real WAV file), `record_session` /
//! `stop_record_session` (a media bug: returns at once, records through bridges
//! until stopped or hangup, then writes the WAV), and `say` (one file_string playback).

use super::apps::{playback, playback_as, read_dtmf};
use super::media;
use super::session::{Sess, Vars};

const ALL_DIGITS: &str = "0123456789*#ABCD";

/// `play_and_get_digits min max tries timeout terminators file invalid_file var regex [digit_timeout]`
pub async fn play_and_get_digits(sess: &Sess, arg: &str) {
    let a: Vec<&str> = arg.split_whitespace().collect();
    let num = |i: usize, d: u64| a.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(d);
    let min = num(0, 1) as usize;
    let max = num(1, 1).max(1) as usize;
    let tries = num(2, 1).max(1);
    let timeout = num(3, 5000);
    let terms = a.get(4).copied().unwrap_or("#");
    let terms = if terms == "none" { "" } else { terms };
    let file = a.get(5).copied().unwrap_or("");
    let invalid = a.get(6).copied().unwrap_or("");
    let var = a.get(7).copied().unwrap_or("");
    let re = a
        .get(8)
        .and_then(|r| regex::Regex::new(&format!("^(?:{r})$")).ok());
    let digit_timeout = num(9, timeout);
    sess.modify(|s| s.dtmf.clear());
    for _ in 0..tries {
        let mut got: Vec<char> = Vec::new();
        let mut term_used: Option<char> = None;
        if !file.is_empty() {
            let (_, d, _) = playback(sess, file, ALL_DIGITS).await;
            got.extend(d);
        }
        if sess.hungup() {
            break;
        }
        // digits typed during the prompt count; a terminator there ends input
        if let Some(pos) = got.iter().position(|c| terms.contains(*c)) {
            term_used = Some(got[pos]);
            got.truncate(pos);
        }
        while term_used.is_none() && got.len() < max {
            let wait = if got.is_empty() {
                timeout
            } else {
                digit_timeout
            };
            let hit = sess
                .wait_until(Some(wait), |s| s.is_hungup() || !s.dtmf.is_empty())
                .await;
            if !hit || sess.hungup() {
                break;
            }
            for c in read_dtmf(sess) {
                if term_used.is_some() || got.len() >= max {
                    continue;
                }
                if terms.contains(c) {
                    term_used = Some(c);
                } else {
                    got.push(c);
                }
            }
        }
        if sess.hungup() {
            break;
        }
        let s: String = got.iter().collect();
        let ok = s.len() >= min && re.as_ref().map(|r| r.is_match(&s)).unwrap_or(true);
        if ok && !s.is_empty() {
            sess.modify(|st| {
                if !var.is_empty() {
                    st.set_var(var, &s);
                }
                st.set_var("read_result", "success");
                if let Some(t) = term_used {
                    st.set_var("read_terminator_used", &t.to_string());
                }
            });
            return;
        }
        sess.modify(|st| st.set_var("read_result", "failure"));
        if !invalid.is_empty() && !invalid.starts_with("silence") {
            playback(sess, invalid, "").await;
        }
        if sess.hungup() {
            break;
        }
    }
    sess.modify(|st| st.set_var("read_result", "failure"));
}

/// `record <path> [max_secs] [silence_thresh] [silence_hits]`.
pub async fn record(sess: &Sess, arg: &str) {
    let a: Vec<&str> = arg.split_whitespace().collect();
    let path = a.first().copied().unwrap_or("").to_string();
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
    media::write_wav(&path, el.min(max_ms.unwrap_or(u64::MAX)));
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

fn dir_exists(path: &str) -> bool {
    match std::path::Path::new(path).parent() {
        Some(d) => d.as_os_str().is_empty() || d.is_dir(),
        None => false,
    }
}

/// `record_session <path>`: switch_ivr_record_session adds a media bug and the
/// application returns at once; the recording goes on through bridges until
/// `stop_record_session` or hangup (CS_HANGUP removes the bug, [`stop_record_session`]).
/// Like FreeSWITCH it does not create directories: if the file cannot be opened
/// there is no recording and no event. The path is kept in `sim_record_session`
/// and in the party's ground truth (`PartyRecord::recording`).
pub fn record_session(sess: &Sess, arg: &str) {
    let path = arg.split_whitespace().next().unwrap_or("").to_string();
    if path.is_empty() || !dir_exists(&path) {
        return;
    }
    stop_record_session(sess); // one recording per channel in the simulator
    let now = sess.core.now_us();
    let uuid = sess.modify(|s| {
        s.recording = Some((path.clone(), now));
        s.set_var("sim_record_session", &path);
        s.uuid.clone()
    });
    if sess.core.has_truth(&uuid) {
        sess.core.truth(&uuid, |r| r.recording = Some(path.clone()));
    }
    bug_events(sess, &path, true);
}

/// Close a running `record_session`: write the WAV (as long as the recording ran),
/// RECORD_STOP and MEDIA_BUG_STOP. No-op if none runs.
pub fn stop_record_session(sess: &Sess) {
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
    media::write_wav(&path, ((end - t0) / 1000).max(0) as u64);
    bug_events(sess, &path, false);
}

fn bug_events(sess: &Sess, path: &str, start: bool) {
    let (rec, bug) = if start {
        ("RECORD_START", "MEDIA_BUG_START")
    } else {
        ("RECORD_STOP", "MEDIA_BUG_STOP")
    };
    sess.fire(
        rec,
        ("switch_ivr_async.c", "record_callback", 1),
        Vars::Yes,
        &[],
        &[("Record-File-Path", path.to_string())],
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

/// `say <lang> <type> <method> <text>`.
pub async fn say(sess: &Sess, arg: &str) -> Option<String> {
    let a: Vec<&str> = arg.split_whitespace().collect();
    if a.len() < 4 {
        return None;
    }
    let words = media::say_words(a[0], a[1], a[2], a[3])?;
    let fs = media::file_string(&words);
    playback_as(sess, &fs, "", Some(arg)).await;
    None
}

/// `uuid_record <uuid> start|stop <path>`: RECORD_START + MEDIA_BUG_START, or the STOP pair.
pub fn record_bug(sess: &Sess, path: &str, start: bool) {
    let (rec, bug) = if start {
        ("RECORD_START", "MEDIA_BUG_START")
    } else {
        ("RECORD_STOP", "MEDIA_BUG_STOP")
    };
    if start {
        sess.modify(|s| s.set_var("sim_record_started_us", &sess.core.now_us().to_string()));
    } else {
        let t0 = sess.with(|s| {
            s.var("sim_record_started_us")
                .and_then(|v| v.parse::<i64>().ok())
        });
        let ms = t0
            .map(|t| ((sess.core.now_us() - t) / 1000).max(0) as u64)
            .unwrap_or(0);
        media::write_wav(path, ms);
    }
    let mut post = vec![("Record-File-Path", path.to_string())];
    if !start {
        // uuid_record stop (switch_ivr_stop_record_session) ends it this way
        post.push(("Record-Completion-Cause", "success-maxtime".to_string()));
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
