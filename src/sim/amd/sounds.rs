//! What a simulated far end sounds like after it answered (or in its early media), as timed
//! stretches the detectors in [`super`] listen to, and the applications it runs meanwhile.

use crate::sim::config::{AfterAnswer, Behaviour};
use crate::sim::core::{lock, Core};

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

/// The party answered: note when a machine's beep ends (it records from there).
pub fn note_answer(core: &Core, uuid: &str, answered_ms: u64) {
    let number = match lock(&core.st).truth.get(uuid) {
        Some(r) => r.number.clone(),
        None => return,
    };
    let beep = sounds(&core.cfg.behaviour_for(&number))
        .into_iter()
        .find(|s| matches!(s.sound, Sound::Beep { .. }));
    if let Some(b) = beep {
        core.truth_if(uuid, |r| r.beep_end_ms = Some(answered_ms + b.to));
    }
}
