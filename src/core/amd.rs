//! Answering-machine detection and call progress: what answered a call, from what the
//! switch's own detectors reported after the answer. Pure; every time is the switch's
//! (`Event-Date-Timestamp`, µs), so a simulator on a compressed clock is judged the same.
//!
//! The evidence (see docs/design.md, "Answering-machine detection"):
//! - mod_avmd's `CUSTOM avmd::beep`: a voicemail beep, i.e. a machine;
//! - mod_spandsp's `DETECTED_TONE` (`Detected-Tone: <name>` from contactd's descriptor):
//!   `SIT*` is a network announcement, `CNG`/`CED` a fax;
//! - the end of `wait_for_silence`: the first utterance ended. Its loop ends
//!   `after_greeting_silence` of quiet after the utterance, plus 25 frames (500 ms) it
//!   always waits before returning; else it ends at its timeout. As it returns it sets
//!   `wait_for_silence_timeout` (`true`: the timeout ended it, `false`: the silence) and
//!   `wait_for_silence_listenhits` (loud frames heard), which CHANNEL_EXECUTE_COMPLETE
//!   carries (`switch_ivr_wait_for_silence`). A timeout with more loud frames than a
//!   word needs is talk without a pause for the whole analysis: a machine's greeting (or
//!   a recorded announcement), never "nobody spoke"; with fewer it is silence. A switch
//!   that does not report them is judged by the time alone (a timeout is silence).
//!
//! Limits: a recorded voice without SIT tones and without a beep sounds like a beepless
//! machine once answered; the service tells it apart by what follows (the far end
//! releases the call instead of waiting for a message, or the voice was already heard as
//! early media before the answer: see `service::amd`).

use std::time::Duration;

/// What answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detection {
    Person,
    /// A machine: a long greeting, or its beep (`beep: true`) was heard.
    Machine {
        beep: bool,
    },
    /// A network announcement; `kind` is what was detected (`sit`, `sit_ic`, `voice`, …).
    Announcement {
        kind: String,
    },
    Fax,
    /// Nobody spoke within the analysis time.
    Silence,
}

impl Detection {
    /// The code stored with the call and shown in reports.
    pub fn code(&self) -> &'static str {
        match self {
            Detection::Person => "person",
            Detection::Machine { .. } => "machine",
            Detection::Announcement { .. } => "announcement",
            Detection::Fax => "fax",
            Detection::Silence => "silence",
        }
    }
}

/// What a detector reported, at the switch's time.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// `wait_for_silence` returned; `timed_out` and `loud_frames` are its channel
    /// variables when the switch reported them.
    ListenDone {
        at_us: i64,
        timed_out: Option<bool>,
        loud_frames: Option<u32>,
    },
    /// `avmd::beep`.
    Beep { at_us: i64 },
    /// `DETECTED_TONE` with its `Detected-Tone` name.
    Tone { name: String, at_us: i64 },
}

/// The frames `wait_for_silence` waits after the silence it looked for (25 × 20 ms).
pub const LISTEN_COUNTDOWN: Duration = Duration::from_millis(500);
/// One frame of audio.
pub const FRAME: Duration = Duration::from_millis(20);

/// The timing rules (mod_amd's names where they mean the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// A first utterance that ends later than this after the answer is a machine's greeting.
    pub greeting: Duration,
    /// Quiet that ends an utterance.
    pub after_greeting_silence: Duration,
    /// `wait_for_silence`'s timeout: nobody spoke by then is silence.
    pub total_analysis: Duration,
    /// Speech shorter than this does not start an utterance (`listen_hits`).
    pub min_word: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            greeting: Duration::from_millis(1500),
            after_greeting_silence: Duration::from_millis(300),
            total_analysis: Duration::from_millis(5000),
            min_word: Duration::from_millis(100),
        }
    }
}

/// The network's announcement kind for a spandsp tone name, if it is one.
pub fn tone_kind(name: &str) -> Option<Detection> {
    let n = name.trim().to_ascii_lowercase();
    if n.starts_with("sit") {
        Some(Detection::Announcement { kind: n })
    } else if matches!(n.as_str(), "cng" | "ced" | "cng_tone" | "ced_tone") {
        Some(Detection::Fax)
    } else {
        None
    }
}

/// Follows one call from the moment its detectors started.
#[derive(Debug, Clone)]
pub struct Classifier {
    rules: Rules,
    started_us: i64,
    verdict: Option<Detection>,
}

impl Classifier {
    /// `started_us`: when listening began (the answer), on the switch's clock.
    pub fn new(rules: Rules, started_us: i64) -> Self {
        Classifier {
            rules,
            started_us,
            verdict: None,
        }
    }

    pub fn verdict(&self) -> Option<&Detection> {
        self.verdict.as_ref()
    }

    /// Takes one report; returns the verdict once there is one (and keeps it: later
    /// reports change nothing, except a beep turning a beepless machine into one that beeped).
    pub fn handle(&mut self, h: &Heard) -> Option<Detection> {
        let next = match (&self.verdict, h) {
            (Some(Detection::Machine { beep: false }), Heard::Beep { .. }) => {
                Some(Detection::Machine { beep: true })
            }
            (Some(_), _) => None,
            (None, Heard::Beep { .. }) => Some(Detection::Machine { beep: true }),
            (None, Heard::Tone { name, .. }) => tone_kind(name),
            (
                None,
                Heard::ListenDone {
                    at_us,
                    timed_out,
                    loud_frames,
                },
            ) => Some(self.listen_done(*at_us, *timed_out, *loud_frames)),
        };
        if let Some(v) = next {
            self.verdict = Some(v);
        }
        self.verdict.clone()
    }

    fn listen_done(&self, at_us: i64, timed_out: Option<bool>, loud: Option<u32>) -> Detection {
        let elapsed = Duration::from_micros((at_us - self.started_us).max(0) as u64);
        // Returned at its timeout: no utterance ended. The switch's own account says
        // whether anybody spoke meanwhile; without it, the time (give or take a frame).
        let timed_out = timed_out.unwrap_or(elapsed + FRAME * 2 >= self.rules.total_analysis);
        if timed_out {
            return match loud {
                Some(n) if n > frames(self.rules.min_word) => Detection::Machine { beep: false },
                _ => Detection::Silence,
            };
        }
        let ended = elapsed.saturating_sub(self.rules.after_greeting_silence + LISTEN_COUNTDOWN);
        if ended <= self.rules.greeting {
            Detection::Person
        } else {
            Detection::Machine { beep: false }
        }
    }

    /// The party hung up before a verdict: nobody it could be told apart from silence.
    pub fn hung_up(&mut self) -> Detection {
        self.verdict.get_or_insert(Detection::Silence).clone()
    }
}

/// Whole 20 ms frames in `d` (at least one).
fn frames(d: Duration) -> u32 {
    (d.as_millis() / FRAME.as_millis()).max(1) as u32
}

/// `wait_for_silence` arguments for the first utterance: `<thresh> <silence_hits>
/// <listen_hits> <timeout_ms>` (hits are 20 ms frames).
pub fn listen_args(rules: &Rules, threshold: u32) -> String {
    format!(
        "{threshold} {} {} {}",
        frames(rules.after_greeting_silence),
        frames(rules.min_word),
        rules.total_analysis.as_millis()
    )
}

/// `wait_for_silence` arguments after a beep: the beep may still sound (any loud frame
/// starts listening), 100 ms of quiet ends it; if the beep is already over nothing is
/// heard and the timeout (2 s) lets the message start anyway.
pub fn after_beep_args(threshold: u32) -> String {
    format!("{threshold} 5 0 2000")
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_000_000_000;

    fn ms(v: i64) -> i64 {
        T0 + v * 1000
    }

    fn done(at: i64, timed_out: bool, loud: u32) -> Heard {
        Heard::ListenDone {
            at_us: ms(at),
            timed_out: Some(timed_out),
            loud_frames: Some(loud),
        }
    }

    #[test]
    fn a_short_hello_is_a_person_within_a_second_and_a_half() {
        let mut c = Classifier::new(Rules::default(), T0);
        // "Алло?" from 200 to 700 ms: done at 700 + 300 + 500
        assert_eq!(c.handle(&done(1500, false, 20)), Some(Detection::Person));
        // a beep later changes nothing
        assert_eq!(
            c.handle(&Heard::Beep { at_us: ms(3000) }),
            Some(Detection::Person)
        );
    }

    #[test]
    fn a_long_greeting_is_a_machine_and_its_beep_is_noted() {
        let mut c = Classifier::new(Rules::default(), T0);
        assert_eq!(
            c.handle(&done(4200, false, 150)),
            Some(Detection::Machine { beep: false })
        );
        assert_eq!(
            c.handle(&Heard::Beep { at_us: ms(4600) }),
            Some(Detection::Machine { beep: true })
        );
        let mut c = Classifier::new(Rules::default(), T0);
        assert_eq!(
            c.handle(&Heard::Beep { at_us: ms(3000) }),
            Some(Detection::Machine { beep: true })
        );
    }

    #[test]
    fn tones_and_silence() {
        let mut c = Classifier::new(Rules::default(), T0);
        let sit = Heard::Tone {
            name: "SIT".into(),
            at_us: ms(900),
        };
        assert_eq!(
            c.handle(&sit),
            Some(Detection::Announcement { kind: "sit".into() })
        );
        let mut c = Classifier::new(Rules::default(), T0);
        let cng = Heard::Tone {
            name: "CNG".into(),
            at_us: ms(600),
        };
        assert_eq!(c.handle(&cng), Some(Detection::Fax));
        let mut c = Classifier::new(Rules::default(), T0);
        let busy = Heard::Tone {
            name: "RING_TONE".into(),
            at_us: ms(600),
        };
        assert_eq!(c.handle(&busy), None);
        assert_eq!(c.handle(&done(5000, true, 0)), Some(Detection::Silence));
        let mut c = Classifier::new(Rules::default(), T0);
        assert_eq!(c.hung_up(), Detection::Silence);
    }

    #[test]
    fn a_timeout_after_talk_without_a_pause_is_a_machine_not_silence() {
        // 4.9 s of greeting with no 300 ms pause: the timeout ends it, 245 loud frames
        let mut c = Classifier::new(Rules::default(), T0);
        assert_eq!(
            c.handle(&done(5000, true, 245)),
            Some(Detection::Machine { beep: false })
        );
        // a cough (3 loud frames, under a word's 5) and nothing else: silence
        let mut c = Classifier::new(Rules::default(), T0);
        assert_eq!(c.handle(&done(5000, true, 3)), Some(Detection::Silence));
        // a switch that does not say: the time decides, a timeout is silence
        let mut c = Classifier::new(Rules::default(), T0);
        let bare = Heard::ListenDone {
            at_us: ms(4990),
            timed_out: None,
            loud_frames: None,
        };
        assert_eq!(c.handle(&bare), Some(Detection::Silence));
        // the switch's word beats the clock: silence found just before the timeout
        let mut c = Classifier::new(Rules::default(), T0);
        assert_eq!(
            c.handle(&done(4990, false, 150)),
            Some(Detection::Machine { beep: false })
        );
    }

    #[test]
    fn switch_arguments() {
        let r = Rules::default();
        assert_eq!(listen_args(&r, 200), "200 15 5 5000");
        assert_eq!(after_beep_args(200), "200 5 0 2000");
        assert_eq!(Detection::Machine { beep: true }.code(), "machine");
    }
}
