//! switch_ivr_play_file: opening the source (a missing file is refused before anything is
//! played), PLAYBACK_START/STOP, DTMF terminators, uuid_break, hangup; `file_string://`
//! lists opened part by part as mod_dptools does (a `CUSTOM filestring::fail` event for each
//! part that cannot be opened, `filestring::open` / `::close` around the others, 250 ms of
//! silence before the first part).

use std::time::Duration;

use super::apps::{media_begin, media_end, read_dtmf, stop_cond};
use super::core::Core;
use super::media::{self, Length};
use super::session::{Sess, Vars};

/// The response of a playback that could not open its source.
pub const NOT_FOUND: &str = "FILE NOT FOUND";

/// Fire a `CUSTOM` event of mod_dptools' file_string (`filestring::fail|open|close`). It
/// carries no channel headers; an ESL client gets it with `event ... ALL`, or with
/// `event ... CUSTOM filestring::fail` naming the subclass.
pub fn fire_filestring(core: &Core, what: &str, file: &str) {
    let line = match what {
        "fail" => 5019,
        "open" => 5035,
        _ => 4975,
    };
    let mut ev = core.new_event("CUSTOM", "mod_dptools.c", "next_file", line);
    ev.headers
        .insert(0, ("Event-Subclass".into(), format!("filestring::{what}")));
    ev.add("File", file);
    core.fire(ev);
}

/// The directory relative names are played from: the channel's `sound_prefix`, else
/// `$${sounds_dir}`.
pub fn sound_prefix(sess: &Sess) -> String {
    sess.with(|s| s.var("sound_prefix").map(str::to_string))
        .unwrap_or_else(|| sess.core.cfg.sounds_dir.clone())
}

/// Play a file: PLAYBACK_START/STOP. `terminators`: DTMF that cut it short.
/// Returns (Application-Response, digits read, ms played).
///
/// As switch_ivr_play_file: a source that cannot be opened plays nothing and answers
/// `FILE NOT FOUND` at once (no PLAYBACK events); a `local_stream://` source never ends by
/// itself; CF_BREAK (uuid_break) or a terminator ends it with status BREAK
/// (`Playback-Status: break`, response `FILE PLAYED`); a hangup, transfer or uuid_bridge
/// with FALSE (`done`, `PLAYBACK ERROR`).
pub async fn playback(sess: &Sess, file: &str, terminators: &str) -> (String, Vec<char>, u64) {
    playback_as(sess, file, terminators, Some(file)).await
}

/// [`playback`] without input arguments (switch_ivr_play_file with NULL args, as for
/// play_and_get_digits' invalid-input file): DTMF is not read, it stays queued for what
/// reads next.
pub async fn playback_no_input(sess: &Sess, file: &str) -> String {
    playback_with(sess, file, None, Some(file)).await.0
}

/// A schedule of file_string events: (offset from PLAYBACK_START, [(what, part)]).
type Marks = Vec<(u64, Vec<(&'static str, String)>)>;

/// [`playback`], noting `label` (if any) in the party's ground truth (`played`) instead of
/// the file: `say` notes its arguments. Nothing is noted for a source that cannot be opened.
pub async fn playback_as(
    sess: &Sess,
    file: &str,
    terminators: &str,
    label: Option<&str>,
) -> (String, Vec<char>, u64) {
    playback_with(sess, file, Some(terminators), label).await
}

/// `terminators`: None = no input (DTMF left queued).
async fn playback_with(
    sess: &Sess,
    file: &str,
    terminators: Option<&str>,
    label: Option<&str>,
) -> (String, Vec<char>, u64) {
    let prefix = sound_prefix(sess);
    let cfg = &sess.core.cfg;
    // `{name=value,...}` ahead of the source: switch_core_file_open's file parameters,
    // merged into PLAYBACK_START/STOP as headers
    let (params, source) = media::file_params(file);
    let label = label.map(|l| media::file_params(l).1);
    let (length, marks, first) = match media::file_string_parts(cfg, &prefix, source) {
        Some(parts) => match file_string_schedule(&sess.core, &parts) {
            Some(x) => x,
            None => return (NOT_FOUND.to_string(), Vec::new(), 0),
        },
        None => match media::open(cfg, &prefix, source) {
            Some(l) => (l, Vec::new(), source.to_string()),
            None => return (NOT_FOUND.to_string(), Vec::new(), 0),
        },
    };
    sess.modify(|s| s.opened.push(first));
    if let Some(l) = label {
        if sess.answered() {
            let uuid = sess.uuid();
            let at = sess.core.sim_ms();
            sess.core.truth_if(&uuid, |r| {
                r.played.push(l.to_string());
                r.played_at_ms.push(at);
            });
        }
    }
    media_begin(sess);
    let r = play(sess, file, &params, terminators, length, marks).await;
    media_end(sess);
    r
}

/// Open a file_string list as next_file does: `fail` for each part that cannot be opened
/// up to the first that can (then `open`); None when none can. The rest is scheduled at
/// the part boundaries: `close` of the finished part, `fail` of missing ones, `open` of
/// the next, and `close` of the last at the end. Also returns the part opened first.
fn file_string_schedule(
    core: &Core,
    parts: &[(String, Option<u64>)],
) -> Option<(Length, Marks, String)> {
    let first = parts.iter().position(|(_, ms)| ms.is_some());
    let upto = first.unwrap_or(parts.len());
    for (p, _) in &parts[..upto] {
        fire_filestring(core, "fail", p);
    }
    let first = first?;
    fire_filestring(core, "open", &parts[first].0);
    // the leading silence only when the list's very first part opened (context->index == 0)
    let mut at = if first == 0 {
        media::FILE_STRING_LEAD_MS
    } else {
        0
    };
    at += parts[first].1.unwrap_or(0);
    let mut marks: Marks = Vec::new();
    let mut events = vec![("close", parts[first].0.clone())];
    for (p, ms) in &parts[first + 1..] {
        match ms {
            None => events.push(("fail", p.clone())),
            Some(ms) => {
                events.push(("open", p.clone()));
                marks.push((at, std::mem::take(&mut events)));
                at += ms;
                events.push(("close", p.clone()));
            }
        }
    }
    marks.push((at, events));
    Some((Length::Ms(at), marks, parts[first].0.clone()))
}

/// Simulated ms elapsed since `start`.
fn sim_ms_since(core: &Core, start: tokio::time::Instant) -> u64 {
    (start.elapsed().as_secs_f64() * 1000.0 / core.scale()) as u64
}

/// Real time left until simulated offset `at_ms`, as simulated ms rounded up (0: reached).
fn left_until(core: &Core, start: tokio::time::Instant, at_ms: u64) -> u64 {
    let left = core.dur(at_ms).saturating_sub(start.elapsed());
    if left == Duration::ZERO {
        0
    } else {
        (left.as_secs_f64() * 1000.0 / core.scale()).ceil().max(1.0) as u64
    }
}

async fn play(
    sess: &Sess,
    file: &str,
    params: &[(String, String)],
    terminators: Option<&str>,
    length: Length,
    mut marks: Marks,
) -> (String, Vec<char>, u64) {
    let input = terminators.is_some();
    let terminators = terminators.unwrap_or("");
    let total = match length {
        Length::Ms(ms) => Some(ms),
        Length::Endless => None,
    };
    let mut head = Vec::new();
    if let Some(t) = media::file_type(file) {
        head.push(("Playback-File-Type", t.to_string()));
    }
    head.push(("Playback-File-Path", file.to_string()));
    head.extend(params.iter().map(|(k, v)| (k.as_str(), v.clone())));
    sess.fire(
        "PLAYBACK_START",
        ("mod_dptools.c", "playback_function", 1), // header names matter, not lines
        Vars::Yes,
        &[],
        &head,
    );
    let start = tokio::time::Instant::now();
    let mut digits = Vec::new();
    let mut cut = false;
    let mut broke = false;
    loop {
        // the file_string parts that ended by now
        while marks
            .first()
            .is_some_and(|(at, _)| left_until(&sess.core, start, *at) == 0 && Some(*at) != total)
        {
            for (what, p) in marks.remove(0).1 {
                fire_filestring(&sess.core, what, &p);
                if what == "open" {
                    sess.modify(|s| s.opened.push(p));
                }
            }
        }
        let next = marks.first().map(|(at, _)| *at).or(total);
        let wait = match next {
            Some(at) => {
                let left = left_until(&sess.core, start, at);
                if left == 0 {
                    break; // the end
                }
                Some(left)
            }
            None => None,
        };
        let hit = sess
            .wait_until(wait, |s| stop_cond(s) || (input && !s.dtmf.is_empty()))
            .await;
        if !hit {
            continue;
        }
        if sess.with(stop_cond) {
            cut = true;
            broke = sess.modify(|s| std::mem::replace(&mut s.brk, false));
            break;
        }
        let got = read_dtmf(sess);
        let term = got.iter().any(|c| terminators.contains(*c));
        digits.extend(got);
        if term {
            cut = true;
            broke = true;
            break;
        }
    }
    if !cut {
        // played to its end: next_file closes the last part
        for (_, events) in marks {
            for (what, p) in events {
                fire_filestring(&sess.core, what, &p);
            }
        }
    }
    let played = sim_ms_since(&sess.core, start).min(total.unwrap_or(u64::MAX));
    let hung = sess.hungup();
    let samples = played * 8;
    sess.modify(|s| {
        s.set_var("playback_last_offset_pos", &samples.to_string());
        s.set_var("playback_seconds", &(played / 1000).to_string());
        s.set_var("playback_ms", &played.to_string());
        s.set_var("playback_samples", &samples.to_string());
    });
    let status = if broke && !hung { "break" } else { "done" };
    // switch_ivr_play_file: the status goes before the file's parameters
    head.truncate(head.len() - params.len());
    head.push(("Playback-Status", status.to_string()));
    head.extend(params.iter().map(|(k, v)| (k.as_str(), v.clone())));
    sess.fire(
        "PLAYBACK_STOP",
        ("mod_dptools.c", "playback_function", 2),
        Vars::Yes,
        &[],
        &head,
    );
    let uuid = sess.uuid();
    let answered = sess.answered();
    sess.core.truth(&uuid, |r| {
        if answered {
            r.heard_ms += played;
        }
        if cut || hung {
            r.playbacks_interrupted += 1;
        } else {
            r.playbacks_completed += 1;
        }
    });
    // a hangup, transfer or uuid_bridge leaves the channel not "ready": FALSE
    let resp = if hung || (cut && !broke) {
        "PLAYBACK ERROR"
    } else {
        "FILE PLAYED"
    };
    (resp.to_string(), digits, played)
}
