//! Drives one answered notification call over the control link: play the message, measure
//! how much of it the subscriber heard (PLAYBACK_START → PLAYBACK_STOP on the switch's own
//! clock), ask for the confirmation key where the campaign wants it, hang up, and report.
//!
//! Every wait has a deadline derived from what it waits for (the message's length, the
//! confirmation's timeouts, plus a margin); a call whose flow cannot go on is hung up, so
//! nobody is left listening to silence. If the control link drops, the call is looked up
//! on the switch once the link is back: a playback that ended meanwhile left its result in
//! the channel variable `contactd_msg` (set right after the message by the switch itself),
//! a collected key in `contactd_digits`; a channel that is gone ended unseen (`unknown`).

use std::time::Duration;

use freeswitch_types::HangupCause;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::clock::Clock;
use crate::core::channels::SwitchEvent;
use crate::core::values::{InvalidValue, MediaFile};
use crate::esl::commands::InlineScript;
use crate::esl::control::{CallWatch, SwitchLink, WatchEvent};

mod notes;
pub use notes::{
    forget_notes, switch_end, switch_notes, NotedEnd, DIGITS_VAR, END_REALM, KEY_REALM,
    MESSAGE_REALM,
};

/// Slack on top of what a wait is for: event delivery, a loaded switch.
const MARGIN: Duration = Duration::from_secs(20);
/// The longest contactd waits for a dropped control link to come back mid-call.
const LINK_BACK: Duration = Duration::from_secs(30);

/// What the subscriber experienced after answering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Heard {
    pub listened_ms: Option<i32>,
    pub full: bool,
    pub confirm_key: Option<String>,
    /// The subscriber hung up before contactd did.
    pub party_hung_up: bool,
    pub cause: Option<String>,
    pub q850: Option<i32>,
    /// Events were lost and the call ended unseen.
    pub unknown: bool,
}

pub struct Script<'a> {
    pub audio: &'a str,
    /// `play_and_get_digits` arguments for the confirmation, if asked for.
    pub confirm: Option<String>,
    /// How long the message plays (its file's length, or the longest a message may be).
    pub message: Duration,
    /// How long the confirmation may take (prompts and key timeouts).
    pub confirm_time: Duration,
    /// Told the key, and when it was seen, the moment the subscriber pressed it after the
    /// whole message (a message rule fires then, while the call is still up).
    pub on_key: Option<tokio::sync::oneshot::Sender<(String, chrono::DateTime<chrono::Utc>)>>,
}

enum Wait {
    Done {
        response: String,
        digits: Option<String>,
    },
    HungUp,
    Lost,
}

/// What to look at on the switch when the link comes back mid-wait.
#[derive(Clone, Copy)]
enum Probe {
    Message,
    Digits,
}

struct Driver<'a> {
    link: &'a SwitchLink,
    clock: &'a Clock,
    watch: CallWatch,
    heard: Heard,
    started_us: Option<i64>,
    deadline: Instant,
}

impl Driver<'_> {
    fn stopped(&mut self, at_us: i64) {
        if let Some(s) = self.started_us.take() {
            let ms = ((at_us - s) / 1000).max(0) as i32;
            self.heard.listened_ms = Some(self.heard.listened_ms.unwrap_or(0) + ms);
        }
    }

    /// Waits for the EXECUTE_COMPLETE of `app_uuid` (or, if None, of any `app`), noting
    /// playback times and the hangup. `measure`: count playback time as heard.
    async fn wait_app(
        &mut self,
        app_uuid: Option<&str>,
        app: &str,
        probe: Probe,
        measure: bool,
    ) -> Wait {
        loop {
            let ev = match tokio::time::timeout_at(self.deadline, self.watch.recv()).await {
                Ok(Some(ev)) => ev,
                Ok(None) => return Wait::Lost,
                Err(_) => {
                    warn!(uuid = %self.watch.uuid, "call flow deadline passed; hanging up");
                    return Wait::Lost;
                }
            };
            match ev {
                WatchEvent::LinkLost => match self.after_link_loss(probe).await {
                    Some(w) => return w,
                    None => continue,
                },
                WatchEvent::Switch(ev) => match ev {
                    SwitchEvent::PlaybackStart { at_us, .. } if measure => {
                        self.started_us.get_or_insert(at_us);
                    }
                    SwitchEvent::PlaybackStop { at_us, .. } if measure => self.stopped(at_us),
                    SwitchEvent::ExecuteComplete {
                        application_uuid,
                        application,
                        response,
                        digits,
                        read_result,
                        ..
                    } if app_uuid.map_or(application == app, |a| {
                        application_uuid.as_deref() == Some(a)
                    }) =>
                    {
                        let digits =
                            digits.filter(|_| crate::core::flow::read_ok(read_result.as_deref()));
                        return Wait::Done { response, digits };
                    }
                    SwitchEvent::Hangup(h) => {
                        self.heard.party_hung_up = true;
                        self.heard.cause = Some(h.cause.clone());
                        self.heard.q850 = h.q850;
                        // The app's EXECUTE_COMPLETE (PLAYBACK ERROR) and PLAYBACK_STOP may
                        // still follow; take them if they come at once.
                        self.drain_after_hangup(measure).await;
                        return Wait::HungUp;
                    }
                    _ => {}
                },
            }
        }
    }

    async fn drain_after_hangup(&mut self, measure: bool) {
        let until = self.clock.instant() + Duration::from_millis(500);
        while let Ok(Some(WatchEvent::Switch(ev))) =
            tokio::time::timeout_at(until, self.watch.recv()).await
        {
            match ev {
                SwitchEvent::PlaybackStop { at_us, .. } if measure => self.stopped(at_us),
                SwitchEvent::Hangup(h) if h.complete => {
                    self.heard.q850 = self.heard.q850.or(h.q850);
                    break;
                }
                _ => {}
            }
        }
    }

    /// The control link dropped: once it is back, did what we wait for finish meanwhile
    /// (the switch noted it), is the call still there? None: keep waiting (events flow
    /// again).
    async fn after_link_loss(&mut self, probe: Probe) -> Option<Wait> {
        let uuid = self.watch.uuid.clone();
        let mut tries = 0;
        loop {
            let left = self
                .deadline
                .saturating_duration_since(self.clock.instant());
            if !self.link.wait_connected(left.min(LINK_BACK)).await {
                return Some(Wait::Lost);
            }
            // Existence first, notes second: the script notes its result before it hangs
            // up, so a channel found gone has its final notes (the other order races a
            // message that ends in between).
            let exists = match self.link.exists(&uuid).await {
                Ok(there) => there,
                // Dropped again meanwhile: wait for it once more.
                Err(e) if tries < 3 => {
                    debug!(%uuid, "uuid_exists after reconnect: {e}");
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(_) => return Some(Wait::Lost),
            };
            let notes = switch_notes(self.link, &uuid).await;
            let Some((msg, key)) = notes else {
                return (!exists).then_some(Wait::Lost);
            };
            return match probe {
                Probe::Message => match msg {
                    Some(response) => Some(Wait::Done {
                        response,
                        digits: None,
                    }),
                    None if exists => None,
                    None => Some(Wait::Lost),
                },
                Probe::Digits => match key {
                    Some(k) => Some(Wait::Done {
                        response: String::new(),
                        digits: Some(k),
                    }),
                    None if exists => None,
                    // Asked, not answered, and the switch hung up as scripted.
                    None => Some(Wait::Done {
                        response: String::new(),
                        digits: None,
                    }),
                },
            };
        }
    }

    /// The script hangs up right after its last application: wait for that, and hang up
    /// ourselves only if it does not come.
    async fn end(&mut self) {
        let until = self.clock.instant() + Duration::from_secs(3);
        while let Ok(Some(ev)) = tokio::time::timeout_at(until, self.watch.recv()).await {
            if let WatchEvent::Switch(SwitchEvent::Hangup(h)) = ev {
                self.heard.cause.get_or_insert_with(|| h.cause.clone());
                self.heard.q850 = self.heard.q850.or(h.q850);
                if h.complete {
                    return;
                }
            }
        }
        self.hang_up().await;
    }

    /// Hangs up (best effort) and waits briefly for the switch's own cause.
    async fn hang_up(&mut self) {
        let uuid = self.watch.uuid.clone();
        if let Err(e) = self
            .link
            .hangup(&uuid, freeswitch_types::HangupCause::NormalClearing)
            .await
        {
            debug!(%uuid, "hangup: {e}");
            // The link may be down: make sure the call does not outlive us on the switch.
            if self.link.wait_connected(LINK_BACK).await {
                if let Err(e) = self.link.kill(&uuid, HangupCause::NormalClearing).await {
                    warn!(%uuid, "call may outlive contactd on the switch: {e}");
                }
            }
        }
        let until = self.clock.instant() + Duration::from_secs(5);
        while let Ok(Some(ev)) = tokio::time::timeout_at(until, self.watch.recv()).await {
            if let WatchEvent::Switch(SwitchEvent::Hangup(h)) = ev {
                self.heard.cause.get_or_insert_with(|| h.cause.clone());
                self.heard.q850 = self.heard.q850.or(h.q850);
                if h.complete {
                    break;
                }
            }
        }
    }
}

/// The applications the switch runs from the subscriber's answer on (an inline dialplan
/// on the originate): the message, its result noted in mod_db, the confirmation prompt
/// and its key if asked for, and the hang-up. The switch runs all of it by itself, so a
/// contactd that dies or loses the link never leaves anyone listening to silence; contactd
/// watches the events and measures.
pub fn switch_script(
    uuid: &str,
    audio: &str,
    confirm: Option<&str>,
) -> Result<InlineScript, InvalidValue> {
    let mut s = InlineScript::new()
        .then("playback", MediaFile::parse(audio)?.as_str())?
        .then(
            "db",
            &format!("insert/{MESSAGE_REALM}/{uuid}/${{current_application_response}}"),
        )?;
    if let Some(args) = confirm {
        s = s.then("play_and_get_digits", args)?.then(
            "db",
            &format!("insert/{KEY_REALM}/{uuid}/${{{DIGITS_VAR}}}"),
        )?;
    }
    s.then("hangup", "NORMAL_CLEARING")
}

/// Follows an answered call running [`switch_script`]; always returns what is known, and
/// never returns with the call still up unless the switch cannot be reached.
/// `resume`: taken over mid-call (after a restart or a lost originate reply): what
/// already happened is read from the switch's notes.
pub async fn drive(
    link: &SwitchLink,
    clock: &Clock,
    watch: CallWatch,
    script: Script<'_>,
    resume: bool,
) -> Heard {
    let uuid = watch.uuid.clone();
    let mut d = Driver {
        link,
        clock,
        watch,
        heard: Heard::default(),
        started_us: None,
        deadline: clock.instant() + script.message + MARGIN,
    };
    // Answered: from here on what was heard is a measurement, 0 until the message starts.
    d.heard.listened_ms = Some(0);
    let mut confirm = script.confirm.is_some();
    let noted = if resume {
        // The confirmation of a call taken over is not followed: its result is whatever
        // the switch notes.
        confirm = false;
        match switch_notes(link, &uuid).await {
            Some((Some(r), key)) => Some((r, key)),
            _ => None,
        }
    } else {
        None
    };
    let wait = match noted {
        Some((response, key)) => {
            d.heard.confirm_key = key;
            Wait::Done {
                response,
                digits: None,
            }
        }
        None => d.wait_app(None, "playback", Probe::Message, !resume).await,
    };
    match wait {
        Wait::Done { response, .. } => d.heard.full = response == "FILE PLAYED",
        Wait::HungUp => return d.heard,
        Wait::Lost => {
            warn!(%uuid, resume, "lost sight of the message's end; hanging up");
            d.heard.unknown = true;
            d.hang_up().await;
            return d.heard;
        }
    }
    if !d.heard.full {
        d.heard.confirm_key = None;
    }
    if d.heard.full && d.heard.listened_ms == Some(0) {
        // Played to the end while contactd could not see its events.
        d.heard.listened_ms = Some(script.message.as_millis().min(i32::MAX as u128) as i32);
    }
    if confirm {
        d.deadline = d.clock.instant() + script.confirm_time + MARGIN;
        match d
            .wait_app(None, "play_and_get_digits", Probe::Digits, false)
            .await
        {
            Wait::Done { digits, .. } if d.heard.full => {
                if let (Some(k), Some(tx)) = (&digits, script.on_key) {
                    let _ = tx.send((k.clone(), d.clock.now()));
                }
                d.heard.confirm_key = digits
            }
            Wait::Done { .. } => {}
            Wait::HungUp => return d.heard,
            Wait::Lost => {
                d.hang_up().await;
                return d.heard;
            }
        }
    }
    d.end().await;
    d.heard
}

/// Length of a WAV file from its header, if it is readable here (the switch may keep its
/// recordings on another machine; the caller then assumes the longest message allowed).
pub fn wav_length(path: &str) -> Option<Duration> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut head = [0u8; 4096];
    let n = f.read(&mut head).ok()?;
    let head = &head[..n];
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return None;
    }
    let total = f.metadata().ok()?.len();
    let mut i = 12;
    let mut byte_rate = None;
    while i + 8 <= head.len() {
        let id = &head[i..i + 4];
        let len = u32::from_le_bytes(head[i + 4..i + 8].try_into().ok()?) as usize;
        if id == b"fmt " && i + 20 <= head.len() {
            byte_rate = Some(u32::from_le_bytes(head[i + 16..i + 20].try_into().ok()?));
        }
        if id == b"data" {
            let rate = u64::from(byte_rate.filter(|r| *r > 0)?);
            let data = (len as u64).min(total.saturating_sub((i + 8) as u64));
            return Some(Duration::from_millis(data * 1000 / rate));
        }
        i += 8 + len + (len & 1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_length_from_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.wav");
        // 8 kHz 16-bit mono: 16,000 bytes a second; 2.5 s of silence.
        let data = vec![0u8; 40_000];
        let mut f = Vec::new();
        f.extend_from_slice(b"RIFF");
        f.extend_from_slice(&((36 + data.len()) as u32).to_le_bytes());
        f.extend_from_slice(b"WAVEfmt ");
        f.extend_from_slice(&16u32.to_le_bytes());
        f.extend_from_slice(&1u16.to_le_bytes());
        f.extend_from_slice(&1u16.to_le_bytes());
        f.extend_from_slice(&8000u32.to_le_bytes());
        f.extend_from_slice(&16000u32.to_le_bytes());
        f.extend_from_slice(&2u16.to_le_bytes());
        f.extend_from_slice(&16u16.to_le_bytes());
        f.extend_from_slice(b"data");
        f.extend_from_slice(&(data.len() as u32).to_le_bytes());
        f.extend_from_slice(&data);
        std::fs::write(&p, f).unwrap();
        assert_eq!(
            wav_length(p.to_str().unwrap()),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(wav_length("/nonexistent/x.wav"), None);
        std::fs::write(dir.path().join("t.txt"), "not a wav").unwrap();
        assert_eq!(wav_length(dir.path().join("t.txt").to_str().unwrap()), None);
    }
}
