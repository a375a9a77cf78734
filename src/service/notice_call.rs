//! Drives one answered notification call over the control link: play the message, measure
//! how much of it the subscriber heard (PLAYBACK_START → PLAYBACK_STOP on the switch's own
//! clock), ask for the confirmation key where the campaign wants it, hang up, and report.

use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, warn};

use crate::core::channels::SwitchEvent;
use crate::esl::control::{CallWatch, SwitchLink, WatchEvent};

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
    /// The longest the whole call may take before contactd hangs up.
    pub limit: Duration,
}

enum Wait {
    Done {
        response: String,
        digits: Option<String>,
    },
    HungUp,
    Lost,
}

struct Driver<'a> {
    link: &'a SwitchLink,
    watch: CallWatch,
    heard: Heard,
    started_us: Option<i64>,
    deadline: Instant,
}

impl Driver<'_> {
    /// Waits for the EXECUTE_COMPLETE of `app_uuid`, noting playback times and the hangup.
    async fn wait_app(&mut self, app_uuid: &str) -> Wait {
        loop {
            let ev = match tokio::time::timeout_at(self.deadline, self.watch.recv()).await {
                Ok(Some(ev)) => ev,
                Ok(None) | Err(_) => return Wait::Lost,
            };
            match ev {
                WatchEvent::LinkLost => {
                    if !self.survived_link_loss().await {
                        return Wait::Lost;
                    }
                }
                WatchEvent::Switch(ev) => match ev {
                    SwitchEvent::PlaybackStart { at_us, .. } => {
                        self.started_us.get_or_insert(at_us);
                    }
                    SwitchEvent::PlaybackStop { at_us, .. } => {
                        if let Some(s) = self.started_us.take() {
                            let ms = ((at_us - s) / 1000).max(0) as i32;
                            self.heard.listened_ms = Some(self.heard.listened_ms.unwrap_or(0) + ms);
                        }
                    }
                    SwitchEvent::ExecuteComplete {
                        application_uuid,
                        response,
                        digits,
                        read_result,
                        ..
                    } if application_uuid.as_deref() == Some(app_uuid) => {
                        let digits = digits.filter(|_| read_result.as_deref() == Some("success"));
                        return Wait::Done { response, digits };
                    }
                    SwitchEvent::Hangup(h) => {
                        self.heard.party_hung_up = true;
                        self.heard.cause = Some(h.cause.clone());
                        self.heard.q850 = h.q850;
                        // The app's EXECUTE_COMPLETE (PLAYBACK ERROR) and PLAYBACK_STOP may
                        // still follow; take them if they come at once.
                        self.drain_after_hangup().await;
                        return Wait::HungUp;
                    }
                    _ => {}
                },
            }
        }
    }

    async fn drain_after_hangup(&mut self) {
        let until = Instant::now() + Duration::from_millis(500);
        while let Ok(Some(WatchEvent::Switch(ev))) =
            tokio::time::timeout_at(until, self.watch.recv()).await
        {
            match ev {
                SwitchEvent::PlaybackStop { at_us, .. } => {
                    if let Some(s) = self.started_us.take() {
                        let ms = ((at_us - s) / 1000).max(0) as i32;
                        self.heard.listened_ms = Some(self.heard.listened_ms.unwrap_or(0) + ms);
                    }
                }
                SwitchEvent::Hangup(h) if h.complete => {
                    self.heard.q850 = self.heard.q850.or(h.q850);
                    break;
                }
                _ => {}
            }
        }
    }

    /// After the control link dropped: once it is back, is the channel still there?
    async fn survived_link_loss(&mut self) -> bool {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.link.back_and_exists(&self.watch.uuid, left).await {
            Some(true) => true,
            Some(false) => {
                self.heard.unknown = true;
                false
            }
            None => false,
        }
    }
}

/// Runs the script on an answered call watched by `watch`; always returns what is known.
pub async fn drive(link: &SwitchLink, watch: CallWatch, script: Script<'_>) -> Heard {
    let uuid = watch.uuid.clone();
    let mut d = Driver {
        link,
        watch,
        heard: Heard::default(),
        started_us: None,
        deadline: Instant::now() + script.limit,
    };
    // Answered: from here on what was heard is a measurement, 0 until the message starts.
    d.heard.listened_ms = Some(0);
    let app = match link.execute(&uuid, "playback", script.audio).await {
        Ok(a) => a,
        Err(e) => {
            debug!(%uuid, "playback refused: {e}");
            d.heard.party_hung_up = true;
            return d.heard;
        }
    };
    match d.wait_app(&app).await {
        Wait::Done { response, .. } => d.heard.full = response == "FILE PLAYED",
        Wait::HungUp => return d.heard,
        Wait::Lost => {
            d.heard.unknown = true;
            return d.heard;
        }
    }
    if let (true, Some(args)) = (d.heard.full, &script.confirm) {
        match link.execute(&uuid, "play_and_get_digits", args).await {
            Ok(app) => match d.wait_app(&app).await {
                Wait::Done { digits, .. } => d.heard.confirm_key = digits,
                Wait::HungUp => return d.heard,
                Wait::Lost => {
                    d.heard.unknown = true;
                    return d.heard;
                }
            },
            Err(e) => warn!(%uuid, "confirmation prompt refused: {e}"),
        }
    }
    if let Err(e) = link.hangup(&uuid, "NORMAL_CLEARING").await {
        debug!(%uuid, "hangup: {e}");
    }
    // Wait for the hang-up to be confirmed so the cause is the switch's.
    let until = Instant::now() + Duration::from_secs(5);
    while let Ok(Some(ev)) = tokio::time::timeout_at(until, d.watch.recv()).await {
        if let WatchEvent::Switch(SwitchEvent::Hangup(h)) = ev {
            d.heard.cause = Some(h.cause.clone());
            d.heard.q850 = d.heard.q850.or(h.q850);
            if h.complete {
                break;
            }
        }
    }
    d.heard
}
