//! What a simulated far end sounds like after it answered (or in its early media), as timed
//! stretches the detectors in [`super`] listen to, and the applications it runs meanwhile.

use crate::sim::config::{AfterAnswer, Behaviour};
use crate::sim::session::{Sess, Vars};

/// What the far end sends during one stretch.
#[derive(Debug, Clone, PartialEq)]
pub enum Sound {
    Speech,
    /// A voicemail beep (a steady sine).
    Beep {
        hz: f64,
    },
    /// A tone of spandsp's descriptor, by name (`SIT`, `CNG`).
    Tone(String),
}

/// One stretch of sound, ms after the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Seg {
    pub from: u64,
    pub to: u64,
    pub sound: Sound,
}

/// A person who says nothing particular: "Алло?" from 200 to 600 ms.
const HELLO: (u64, u64) = (200, 400);
/// CNG: 1100 Hz, 0.5 s on, 3 s off (T.30).
const CNG_CYCLE: u64 = 3500;

/// The sounds of a far end with this behaviour (none for one that never answers).
pub fn sounds(b: &Behaviour) -> Vec<Seg> {
    let speech = |from: u64, len: u64| Seg {
        from,
        to: from + len,
        sound: Sound::Speech,
    };
    if let Behaviour::EarlyAnnouncement { tone, voice_ms, .. } = b {
        return announcement(tone, *voice_ms);
    }
    let Behaviour::Answer { after, .. } = b else {
        return Vec::new();
    };
    match after {
        AfterAnswer::Stay | AfterAnswer::HangupAfter { .. } | AfterAnswer::PressDigits { .. } => {
            vec![speech(HELLO.0, HELLO.1)]
        }
        AfterAnswer::Person {
            after_ms, speak_ms, ..
        } => vec![speech(*after_ms, *speak_ms)],
        AfterAnswer::Machine {
            greeting_ms,
            gap_ms,
            beep_hz,
            beep_ms,
            ..
        } => {
            let beep = 300 + greeting_ms + gap_ms;
            vec![
                speech(300, *greeting_ms),
                Seg {
                    from: beep,
                    to: beep + beep_ms,
                    sound: Sound::Beep { hz: *beep_hz },
                },
            ]
        }
        AfterAnswer::Announcement { tone, voice_ms } => announcement(tone, *voice_ms),
        AfterAnswer::Fax { hangup_ms } => (0..hangup_ms.div_ceil(CNG_CYCLE))
            .map(|k| Seg {
                from: 500 + k * CNG_CYCLE,
                to: 1000 + k * CNG_CYCLE,
                sound: Sound::Tone("CNG".into()),
            })
            .collect(),
        AfterAnswer::Silence { .. } => Vec::new(),
    }
}

/// SIT (three segments of ~330 ms, heard as one tone), then the voice; an empty `tone`: a
/// network that plays the voice alone (quiet until it starts).
fn announcement(tone: &str, voice_ms: u64) -> Vec<Seg> {
    let sit = Seg {
        from: 100,
        to: 1100,
        sound: Sound::Tone(tone.to_string()),
    };
    let voice = Seg {
        from: 1200,
        to: 1200 + voice_ms,
        sound: Sound::Speech,
    };
    match tone.is_empty() {
        true => vec![voice],
        false => vec![sit, voice],
    }
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

/// The far end's applications after its answer for the call-progress behaviours.
pub fn after_apps(after: &AfterAnswer) -> Vec<(&'static str, String)> {
    let stay_or_hang = |ms: Option<u64>| match ms {
        Some(ms) => vec![
            ("sleep", ms.to_string()),
            ("hangup", "NORMAL_CLEARING".into()),
        ],
        None => vec![("park", String::new())],
    };
    match after {
        AfterAnswer::Person { hangup_ms, .. } | AfterAnswer::Silence { hangup_ms } => {
            stay_or_hang(*hangup_ms)
        }
        AfterAnswer::Machine {
            greeting_ms,
            gap_ms,
            beep_ms,
            record_ms,
            ..
        } => stay_or_hang(Some(300 + greeting_ms + gap_ms + beep_ms + record_ms)),
        AfterAnswer::Announcement { voice_ms, .. } => stay_or_hang(Some(1200 + voice_ms + 200)),
        AfterAnswer::Fax { hangup_ms } => stay_or_hang(Some(*hangup_ms)),
        _ => Vec::new(),
    }
}
