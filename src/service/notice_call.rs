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

use tokio::time::Instant;
use tracing::{debug, warn};

use crate::core::channels::SwitchEvent;
use crate::esl::control::{CallWatch, SwitchLink, WatchEvent};

/// Set on the channel right after the message, by the switch, to the playback's result.
pub const MESSAGE_RESULT_VAR: &str = "contactd_msg";
/// Where `play_and_get_digits` puts the confirmation key.
pub const DIGITS_VAR: &str = "contactd_digits";

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
}

/// Where the call is when contactd takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Just answered: nothing was played yet.
    Fresh,
    /// Taken over (after a restart or a lost originate reply): the message may already
    /// have been sent to the switch and be playing, or over.
    Resume { message_sent: bool },
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
                        let digits = digits.filter(|_| read_result.as_deref() == Some("success"));
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
        let until = Instant::now() + Duration::from_millis(500);
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

    /// The control link dropped: once it is back, is the call still there, and did what we
    /// wait for finish meanwhile? None: keep waiting (the events flow again).
    async fn after_link_loss(&mut self, probe: Probe) -> Option<Wait> {
        let uuid = self.watch.uuid.clone();
        let mut tries = 0;
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if !self.link.wait_connected(left.min(LINK_BACK)).await {
                return Some(Wait::Lost);
            }
            match self.link.api(&format!("uuid_exists {uuid}")).await {
                Ok(b) if b.trim() == "true" => break,
                Ok(_) => return Some(Wait::Lost),
                // Dropped again meanwhile: wait for it once more.
                Err(e) if tries < 3 => {
                    debug!(%uuid, "uuid_exists after reconnect: {e}");
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(_) => return Some(Wait::Lost),
            }
        }
        let var = match probe {
            Probe::Message => MESSAGE_RESULT_VAR,
            Probe::Digits => DIGITS_VAR,
        };
        match self.link.getvar(&uuid, var).await {
            // Not expanded: a switch that did not run the marker the way FreeSWITCH does.
            Ok(Some(v)) if v.contains("${") => None,
            Ok(Some(v)) => Some(match probe {
                Probe::Message => Wait::Done {
                    response: v,
                    digits: None,
                },
                Probe::Digits => Wait::Done {
                    response: String::new(),
                    digits: Some(v),
                },
            }),
            Ok(None) => None,
            Err(e) => {
                debug!(%uuid, "getvar after reconnect: {e}");
                Some(Wait::Lost)
            }
        }
    }

    /// Sends `app` to the call; a link that is down is waited for (the call lives on).
    /// Err(true): the call is gone; Err(false): the switch could not be reached.
    async fn execute(&self, app: &str, arg: &str) -> Result<String, bool> {
        let uuid = &self.watch.uuid;
        for _ in 0..3 {
            match self.link.execute(uuid, app, arg).await {
                Ok(a) => return Ok(a),
                Err(e) => {
                    debug!(%uuid, "{app} not sent: {e}");
                    if !self.link.wait_connected(LINK_BACK).await {
                        return Err(false);
                    }
                    match self.link.api(&format!("uuid_exists {uuid}")).await {
                        Ok(b) if b.trim() == "true" => {}
                        Ok(_) => return Err(true),
                        Err(_) => {}
                    }
                }
            }
        }
        Err(false)
    }

    /// Hangs up (best effort) and waits briefly for the switch's own cause.
    async fn hang_up(&mut self) {
        let uuid = self.watch.uuid.clone();
        if let Err(e) = self.link.hangup(&uuid, "NORMAL_CLEARING").await {
            debug!(%uuid, "hangup: {e}");
            // The link may be down: make sure the call does not outlive us on the switch.
            if self.link.wait_connected(LINK_BACK).await {
                let _ = self
                    .link
                    .api(&format!("uuid_kill {uuid} NORMAL_CLEARING"))
                    .await;
            }
        }
        let until = Instant::now() + Duration::from_secs(5);
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

/// Runs the script on an answered call watched by `watch`; always returns what is known,
/// and never returns with the call still up unless the switch cannot be reached.
pub async fn drive(link: &SwitchLink, watch: CallWatch, script: Script<'_>, start: Start) -> Heard {
    let uuid = watch.uuid.clone();
    let mut d = Driver {
        link,
        watch,
        heard: Heard::default(),
        started_us: None,
        deadline: Instant::now() + script.message + MARGIN,
    };
    // Answered: from here on what was heard is a measurement, 0 until the message starts.
    d.heard.listened_ms = Some(0);
    let wait = match start {
        Start::Resume { message_sent: true } => {
            // Over already? The switch set the result variable right after it.
            match link.getvar(&uuid, MESSAGE_RESULT_VAR).await {
                Ok(Some(r)) if !r.contains("${") => Wait::Done {
                    response: r,
                    digits: None,
                },
                // Still playing (or the variable was never queued): wait for its end.
                _ => d.wait_app(None, "playback", Probe::Message, false).await,
            }
        }
        Start::Fresh
        | Start::Resume {
            message_sent: false,
        } => {
            let app = match d.execute("playback", script.audio).await {
                Ok(a) => a,
                Err(gone) => {
                    if gone {
                        d.heard.party_hung_up = true;
                    } else {
                        d.heard.unknown = true;
                        d.hang_up().await;
                    }
                    return d.heard;
                }
            };
            // Queued behind the message: records its result on the channel, so a link that
            // drops mid-message does not lose whether it was heard to the end.
            let marker = format!("{MESSAGE_RESULT_VAR}=${{current_application_response}}");
            if let Err(e) = link.execute(&uuid, "set", &marker).await {
                debug!(%uuid, "result marker not queued: {e}");
            }
            d.wait_app(Some(&app), "playback", Probe::Message, true)
                .await
        }
    };
    match wait {
        Wait::Done { response, .. } => d.heard.full = response == "FILE PLAYED",
        Wait::HungUp => return d.heard,
        Wait::Lost => {
            d.heard.unknown = true;
            d.hang_up().await;
            return d.heard;
        }
    }
    if d.heard.full && d.heard.listened_ms == Some(0) {
        // Played to the end while contactd could not see its events.
        d.heard.listened_ms = Some(script.message.as_millis().min(i32::MAX as u128) as i32);
    }
    if let (true, Some(args)) = (d.heard.full, &script.confirm) {
        d.deadline = Instant::now() + script.confirm_time + MARGIN;
        match d.execute("play_and_get_digits", args).await {
            Ok(app) => match d
                .wait_app(Some(&app), "play_and_get_digits", Probe::Digits, false)
                .await
            {
                Wait::Done { digits, .. } => d.heard.confirm_key = digits,
                Wait::HungUp => return d.heard,
                Wait::Lost => {
                    d.hang_up().await;
                    return d.heard;
                }
            },
            Err(_) => warn!(%uuid, "confirmation prompt could not be sent"),
        }
    }
    d.hang_up().await;
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
