//! Call progress on the simulated line: what a far end "sounds like" after it answered
//! (a person's hello, a machine's greeting and beep, a network announcement's SIT tones
//! and voice, a fax's CNG tones, silence), and the switch's detectors that listen to it:
//! mod_avmd (`avmd <uuid> start|stop` API, `avmd_start`/`avmd_stop` apps; `CUSTOM
//! avmd::start|beep|stop`), mod_spandsp's tone descriptors (`spandsp_start_tone_detect`
//! API/app; `DETECTED_TONE` with `Detected-Tone` and the channel's headers, once per tone
//! heard), and mod_dptools' `wait_for_silence` (its loop run frame by frame over the
//! sounds). Nothing is fired unless a detector runs. The sounds are timed from the answer.

use std::sync::Arc;

use super::core::{lock, Core};
use super::frame_order::{detectors_caught_up, Due};
use super::session::{Sess, Vars};

pub mod sounds;
pub use sounds::{after_apps, sounds, Seg, Sound};

/// The party's sounds and when they start (sim ms since start): its early media, else its
/// answer. The answer is the channel's own (its ground truth is written a moment after
/// CHANNEL_ANSWER).
fn party(core: &Core, uuid: &str) -> Option<(Vec<Seg>, u64)> {
    // a voice that began as early media goes on through the answer
    let answered_us = core.chan(uuid).map(|c| {
        let st = lock(&c.st);
        match st.caller.progress_media_us {
            0 => st.caller.answered_us,
            us => us,
        }
    })?;
    let (number, noted) = {
        let st = lock(&core.st);
        let r = st.truth.get(uuid)?;
        (r.number.clone(), r.answered_at_ms)
    };
    let answered = match answered_us {
        0 => noted?,
        us => {
            let ago_ms = (core.now_us() - us).max(0) as u64 / 1000;
            core.sim_ms().saturating_sub(ago_ms)
        }
    };
    Some((sounds(&core.cfg.behaviour_for(&number)), answered))
}

/// Early media from the far end (switch_channel_perform_mark_pre_answered): the sounds of
/// an unanswered call are timed from here.
pub fn early_media(a: &Sess) {
    let now = a.core.now_us();
    let first = a.modify(|s| {
        let first = s.caller.progress_media_us == 0 && s.caller.answered_us == 0;
        if first {
            s.caller.progress_media_us = now;
        }
        first && !s.is_hungup()
    });
    if first {
        a.fire(
            "CHANNEL_PROGRESS_MEDIA",
            (
                "switch_channel.c",
                "switch_channel_perform_mark_pre_answered",
                3652,
            ),
            Vars::Yes,
            &[],
            &[],
        );
    }
}

fn loud(sounds: &[Seg], t: u64) -> bool {
    sounds.iter().any(|s| s.from <= t && t < s.to)
}

/// How `wait_for_silence` returned: when (ms after the answer), and what it sets on the
/// channel as it does (`wait_for_silence_timeout`, `…_listenhits`, `…_silence_hits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SilenceEnd {
    pub at: u64,
    pub timeout: bool,
    pub listening: u32,
    pub silence_hits: u32,
}

/// switch_ivr_wait_for_silence over the sounds from `start` (ms after the answer). Frames of
/// 20 ms; after `silence_hits` quiet frames that follow more than `listen_hits` loud ones it
/// reads 25 more frames, then returns; at `timeout_ms` (0: none) it returns anyway.
pub fn silence_end(
    sounds: &[Seg],
    start: u64,
    silence_hits: u32,
    listen_hits: u32,
    timeout_ms: u64,
) -> Option<SilenceEnd> {
    let mut left = (timeout_ms / 20) as i64;
    let (mut listening, mut hits, mut countdown) = (0u32, silence_hits.max(1), 0u32);
    for k in 0..(24 * 3600 * 50u64) {
        let t = start + k * 20;
        let end = |timeout, hits| SilenceEnd {
            at: t,
            timeout,
            listening,
            silence_hits: hits,
        };
        if timeout_ms > 0 {
            left -= 1;
            if left <= 0 {
                return Some(end(true, hits));
            }
        }
        if countdown > 0 {
            countdown -= 1;
            if countdown == 0 {
                return Some(end(false, hits));
            }
            continue;
        }
        let is_loud = loud(sounds, t);
        if is_loud {
            listening += 1;
        }
        if listening > listen_hits && !is_loud {
            hits -= 1;
            if hits == 0 {
                countdown = 25;
            }
        } else {
            hits = silence_hits.max(1);
        }
    }
    None
}

/// The `wait_for_silence` application: `<thresh> <silence_hits> <listen_hits> <timeout_ms>`.
/// Only a hangup, transfer or bridge ends it early (its loop does not look at CF_BREAK);
/// returning by itself it sets its three variables first, as the switch does, so its
/// CHANNEL_EXECUTE_COMPLETE carries them.
pub async fn wait_for_silence(sess: &Sess, arg: &str) {
    let a: Vec<u64> = arg
        .split_whitespace()
        .map_while(|w| w.parse().ok())
        .collect();
    if a.len() < 4 {
        return;
    }
    let core = &sess.core;
    let uuid = sess.uuid();
    let (sounds, answered) = party(core, &uuid).unwrap_or((Vec::new(), core.sim_ms()));
    let start = core.sim_ms().saturating_sub(answered);
    let end = silence_end(&sounds, start, a[1] as u32, a[2] as u32, a[3]);
    core.truth_if(&uuid, |r| r.detectors.push("wait_for_silence".into()));
    let ms = end.map(|e| e.at.saturating_sub(start));
    let broken = sess
        .wait_until(ms, |s| {
            s.is_hungup() || s.transfer.is_some() || s.bridge_req.is_some()
        })
        .await;
    if let (false, Some(e)) = (broken, end) {
        detectors_caught_up(core, &uuid, e.at).await;
        sess.modify(|s| {
            s.set_var("wait_for_silence_timeout", &e.timeout.to_string());
            s.set_var("wait_for_silence_listenhits", &e.listening.to_string());
            s.set_var("wait_for_silence_silence_hits", &e.silence_hits.to_string());
        });
    }
}

fn custom(core: &Core, sub: &str, uuid: &str, line: u32, extra: &[(&str, String)]) {
    let mut ev = core.new_event("CUSTOM", "mod_avmd.c", "avmd_fire_event", line);
    ev.headers
        .insert(0, ("Event-Subclass".into(), sub.to_string()));
    ev.add("Unique-ID", uuid);
    ev.add("Call-command", "avmd");
    for (k, v) in extra {
        ev.add(k, v.clone());
    }
    ev.chan_uuid = Some(uuid.to_string());
    core.fire(ev);
}

/// `avmd <uuid> start|stop` (and the apps): beep detection on the channel's read stream.
pub fn avmd(core: &Arc<Core>, uuid: &str, start: bool) -> String {
    let Some(ch) = core.chan(uuid) else {
        return "-ERR No such channel!\n".into();
    };
    let gen = core.id();
    let was = {
        let mut st = lock(&core.st);
        let d = st.detectors.entry(uuid.to_string()).or_default();
        let was = std::mem::replace(&mut d.avmd, start.then_some(gen));
        if !start {
            // a stopped detector reports nothing more
            if let Some(g) = was {
                d.due.remove(&g);
            }
        }
        was
    };
    let now = core.now_us().to_string();
    if !start {
        if was.is_some() {
            custom(
                core,
                "avmd::stop",
                uuid,
                1400,
                &[
                    ("Beep-Status", "NOTDETECTED".into()),
                    ("Total-time", "0".into()),
                ],
            );
        }
        return "+OK\n".into();
    }
    if was.is_some() {
        return "-ERR avmd already started!\n".into();
    }
    core.truth_if(uuid, |r| r.detectors.push("avmd".into()));
    custom(core, "avmd::start", uuid, 1392, &[("Start-time", now)]);
    let Some((sounds, answered)) = party(core, uuid) else {
        return "+OK\n".into();
    };
    let Some((hz, from, to)) = sounds.iter().find_map(|s| match s.sound {
        Sound::Beep { hz } => Some((hz, s.from, s.to)),
        _ => None,
    }) else {
        return "+OK\n".into();
    };
    // DESA-2 needs a steady stretch: detected ~100 ms in, if the beep is not over
    let at = from + 100.min((to - from) / 2);
    if core.sim_ms().saturating_sub(answered) > at {
        return "+OK\n".into();
    }
    // noted before the task runs: a late task must still come before `wait_for_silence`
    let due = Due::new(core, uuid, gen);
    due.set(Some(at));
    let sess = Sess::new(core.clone(), ch);
    let uuid = uuid.to_string();
    tokio::spawn(async move {
        let core = sess.core.clone();
        let now = core.sim_ms().saturating_sub(answered);
        sess.wait_until(Some(at.saturating_sub(now)), |s| s.is_hungup())
            .await;
        let running = lock(&core.st)
            .detectors
            .get(&uuid)
            .is_some_and(|d| d.avmd == Some(gen));
        if !running || sess.hungup() {
            return;
        }
        sess.modify(|s| s.set_var("avmd_detect", "TRUE"));
        custom(
            &core,
            "avmd::beep",
            &uuid,
            1330,
            &[
                ("Beep-Status", "DETECTED".into()),
                ("Frequency", format!("{hz:.6}")),
                ("Frequency-variance", "0.000012".into()),
                ("Amplitude", "2412.000000".into()),
                ("Amplitude-variance", "0.000031".into()),
                ("Detection-time", "100000".into()),
                ("Detector-resolution", "2".into()),
                ("Detector-offset", "0".into()),
                ("Detector-index", "1".into()),
            ],
        );
        drop(due); // the beep is out: `wait_for_silence` need not wait for it
    });
    "+OK\n".into()
}

/// `spandsp_start_tone_detect <uuid> <descriptor>` / `spandsp_stop_tone_detect <uuid>`.
pub fn tone_detect(core: &Arc<Core>, uuid: &str, descriptor: Option<&str>) -> String {
    let Some(ch) = core.chan(uuid) else {
        return "-ERR No such channel!\n".into();
    };
    let gen = core.id();
    let tones = match descriptor {
        Some(d) => match core.cfg.tone_descriptors.get(d) {
            Some(t) => Some((d.to_string(), t.clone())),
            None => return format!("-ERR descriptor {d} not found\n"),
        },
        None => None,
    };
    {
        let mut st = lock(&core.st);
        let d = st.detectors.entry(uuid.to_string()).or_default();
        let was = std::mem::replace(&mut d.tones, tones.as_ref().map(|(d, _)| (d.clone(), gen)));
        // a stopped or replaced detector reports nothing more
        if let Some((_, g)) = was {
            d.due.remove(&g);
        }
    }
    let Some((d, names)) = tones else {
        return "+OK stopped\n".into();
    };
    core.truth_if(uuid, |r| r.detectors.push(format!("spandsp:{d}")));
    let reply = format!("+OK started tone detection for {uuid}\n");
    let Some((sounds, answered)) = party(core, uuid) else {
        return reply;
    };
    let now = core.sim_ms().saturating_sub(answered);
    // each reported once its cadence is complete
    let heard: Vec<(u64, String)> = sounds
        .into_iter()
        .filter_map(|s| match s.sound {
            Sound::Tone(name) if s.to >= now && names.contains(&name) => Some((s.to, name)),
            _ => None,
        })
        .collect();
    // noted before the task runs: a late task must still come before `wait_for_silence`
    let due = Due::new(core, uuid, gen);
    due.set(heard.first().map(|(at, _)| *at));
    let sess = Sess::new(core.clone(), ch);
    let uuid = uuid.to_string();
    tokio::spawn(async move {
        let core = sess.core.clone();
        for (at, name) in &heard {
            due.set(Some(*at));
            let wait = at.saturating_sub(core.sim_ms().saturating_sub(answered));
            sess.wait_until(Some(wait), |st| st.is_hungup()).await;
            let running = lock(&core.st)
                .detectors
                .get(&uuid)
                .and_then(|d| d.tones.as_ref())
                .is_some_and(|t| t.1 == gen);
            if !running || sess.hungup() {
                return;
            }
            sess.fire(
                "DETECTED_TONE",
                (
                    "mod_spandsp_dsp.c",
                    "callprogress_detector_process_buffer",
                    256,
                ),
                Vars::Yes,
                &[("Detected-Tone", name.clone())],
                &[],
            );
        }
    });
    reply
}

/// The call progress applications this module runs.
pub const APPS: [&str; 5] = [
    "wait_for_silence",
    "avmd_start",
    "avmd_stop",
    "spandsp_start_tone_detect",
    "spandsp_stop_tone_detect",
];

/// One of [`APPS`]: `wait_for_silence`, or a detector's app (the API's twin, acting on the
/// channel running it).
pub async fn app(sess: &Sess, app: &str, arg: &str) {
    let uuid = sess.uuid();
    let core = &sess.core;
    match app {
        "wait_for_silence" => wait_for_silence(sess, arg).await,
        "avmd_start" => drop(avmd(core, &uuid, true)),
        "avmd_stop" => drop(avmd(core, &uuid, false)),
        "spandsp_start_tone_detect" => drop(tone_detect(core, &uuid, Some(arg.trim()))),
        _ => drop(tone_detect(core, &uuid, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::config::{AfterAnswer, Behaviour};

    #[test]
    fn wait_for_silence_follows_the_frames() {
        let hello = [Seg {
            from: 200,
            to: 600,
            sound: Sound::Speech,
        }];
        // 15 quiet frames after 600, then 25 more: 600 + 300 + 500 (a frame of slack)
        let end = silence_end(&hello, 0, 15, 5, 5000).unwrap();
        assert!((1380..=1440).contains(&end.at), "{end:?}");
        assert!(!end.timeout && end.listening == 20, "{end:?}");
        // nobody speaks: the timeout, nothing loud
        let end = silence_end(&[], 0, 15, 5, 5000).unwrap();
        assert_eq!((end.at, end.timeout, end.listening), (4980, true, 0));
        // talk without a pause: the timeout too, but loud all along
        let talk = [Seg {
            from: 300,
            to: 9000,
            sound: Sound::Speech,
        }];
        let end = silence_end(&talk, 0, 15, 5, 5000).unwrap();
        assert_eq!((end.at, end.timeout, end.listening), (4980, true, 234));
        // a greeting then a beep: ends after the beep's quiet
        let b = Behaviour::Answer {
            ring_ms: 0,
            after: AfterAnswer::Machine {
                greeting_ms: 3000,
                gap_ms: 200,
                beep_hz: 1000.0,
                beep_ms: 500,
                record_ms: 20_000,
            },
        };
        let end = silence_end(&sounds(&b), 0, 15, 5, 8000).unwrap();
        assert!((4760..=4800).contains(&end.at), "{end:?}");
    }
}
