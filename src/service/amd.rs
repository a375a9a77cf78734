//! Call progress on an answered call: starts the switch's detectors (mod_avmd's beep,
//! mod_spandsp's tone descriptor) by their API commands, listens for the end of the first
//! utterance with `wait_for_silence`, feeds what they report to [`core::amd`], and stops
//! the detectors. The verdict for a person comes as soon as the first utterance ended
//! (about 0.8 s after it: `after_greeting_silence_ms` + the 500 ms `wait_for_silence` always
//! adds), so a typical "hello" is classified within 1.5 s of the answer.
//!
//! What the pure rules cannot hear is judged here by what the call does: early media
//! before the answer (CHANNEL_PROGRESS_MEDIA) is noted on the verdict ([`Classified`]) so
//! a beepless "machine" that was already talking before it answered can be taken for the
//! network's recorded voice it usually is; [`watch_early_media`] reports early media the
//! network released without an answer as a `voice` announcement.
//!
//! [`core::amd`]: crate::core::amd

use std::time::Duration;

use tracing::{debug, warn};
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::AmdSettings;
use crate::core::amd::{Classifier, Detection, Heard};
use crate::core::channels::{HangupInfo, SwitchEvent};
use crate::esl::commands::InlineScript;
use crate::esl::control::{CallWatch, SwitchLink, WatchEvent};

/// Who runs `wait_for_silence` on the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// classify sends it (`sendmsg execute`): the channel must be idle (parked).
    Execute,
    /// The call's own script runs it first thing after the answer ([`AmdSettings::listen_args`]).
    Script,
}

/// A verdict and how the call stands.
#[derive(Debug, Clone)]
pub struct Classified {
    pub detection: Detection,
    /// The party hung up before (or as) the verdict came.
    pub hangup: Option<HangupInfo>,
    /// The control link dropped: the verdict is a guess (`Person`), the call's script goes on.
    pub lost: bool,
    /// The far end sent early media before it answered (CHANNEL_PROGRESS_MEDIA): ring-back,
    /// or an announcement that may go on after the answer.
    pub early_media: bool,
}

/// Slack on top of the analysis time for events to arrive.
const MARGIN: Duration = Duration::from_secs(10);

/// A channel uuid contactd can put in a command (it chose it itself; checked anyway).
fn checked(uuid: &str) -> Option<String> {
    Uuid::parse_str(uuid).ok().map(|u| u.to_string())
}

/// Starts beep and tone detection on `uuid` (API commands: they work whatever the channel
/// is running). A detector that cannot start is logged; the others still decide.
pub async fn start_detectors(link: &SwitchLink, uuid: &str, s: &AmdSettings) {
    let Some(uuid) = checked(uuid) else {
        warn!(%uuid, "not a channel uuid; no detectors started");
        return;
    };
    let mut cmds = Vec::new();
    if s.avmd {
        cmds.push(format!("avmd {uuid} start"));
    }
    // the descriptor name was checked at config load: [A-Za-z0-9_-]
    if !s.tone_descriptor.is_empty() {
        cmds.push(format!(
            "spandsp_start_tone_detect {uuid} {}",
            s.tone_descriptor
        ));
    }
    for cmd in cmds {
        match link.api(&cmd).await {
            Ok(r) if r.trim_start().starts_with("-ERR") || r.contains("-USAGE") => {
                warn!(%uuid, "{cmd}: {}", r.trim())
            }
            Ok(_) => {}
            Err(e) => warn!(%uuid, "{cmd}: {e}"),
        }
    }
}

/// Stops what [`start_detectors`] started (best effort: a hangup stops them too).
pub async fn stop_detectors(link: &SwitchLink, uuid: &str, s: &AmdSettings) {
    let Some(uuid) = checked(uuid) else { return };
    if s.avmd {
        if let Err(e) = link.api(&format!("avmd {uuid} stop")).await {
            debug!(%uuid, "avmd stop: {e}");
        }
    }
    if !s.tone_descriptor.is_empty() {
        if let Err(e) = link.api(&format!("spandsp_stop_tone_detect {uuid}")).await {
            debug!(%uuid, "spandsp_stop_tone_detect: {e}");
        }
    }
}

/// Replaces what the channel runs with `script` (`uuid_transfer <uuid> '<apps>' inline`:
/// the running application ends, `wait_for_silence` and `sleep` included).
pub async fn run_script(link: &SwitchLink, uuid: &str, script: &InlineScript) -> bool {
    let Some(uuid) = checked(uuid) else {
        return false;
    };
    match link
        .api(&format!("uuid_transfer {uuid} {}", script.dialplan()))
        .await
    {
        Ok(r) if r.trim_start().starts_with("+OK") => true,
        Ok(r) => {
            warn!(%uuid, "uuid_transfer: {}", r.trim());
            false
        }
        Err(e) => {
            warn!(%uuid, "uuid_transfer: {e}");
            false
        }
    }
}

/// Classifies the answered call `uuid`: starts the detectors, runs `wait_for_silence` on
/// the (parked) channel, and stops the detectors once decided. For operator campaigns:
/// only a `Person` should reach an operator.
pub async fn classify(
    link: &SwitchLink,
    watch: &mut CallWatch,
    uuid: &str,
    s: &AmdSettings,
    clock: &Clock,
) -> Detection {
    let c = classify_call(link, watch, uuid, s, clock, Listen::Execute).await;
    stop_detectors(link, uuid, s).await;
    c.detection
}

/// [`classify`] without stopping the detectors (a notice waits on for a machine's beep).
/// Listening starts at the channel's answer as the watch reports it (the `CHANNEL_ANSWER`
/// still unread on it), else now.
pub async fn classify_call(
    link: &SwitchLink,
    watch: &mut CallWatch,
    uuid: &str,
    s: &AmdSettings,
    clock: &Clock,
    listen: Listen,
) -> Classified {
    start_detectors(link, uuid, s).await;
    let sent = clock.instant();
    let mut listen_app = None;
    if listen == Listen::Execute {
        match link
            .execute(uuid, "wait_for_silence", &s.listen_args())
            .await
        {
            Ok(app_uuid) => listen_app = Some(app_uuid),
            Err(e) => warn!(%uuid, "wait_for_silence not started: {e}"),
        }
    }
    let deadline = sent + Duration::from_millis(s.total_analysis_ms) + MARGIN;
    let mut started_us: Option<i64> = None;
    let mut classifier: Option<Classifier> = None;
    let mut pending: Vec<Heard> = Vec::new();
    let mut early_media = false;
    loop {
        let ev = match tokio::time::timeout_at(deadline, watch.recv()).await {
            Ok(Some(WatchEvent::Switch(ev))) => ev,
            Ok(ev @ (Some(WatchEvent::LinkLost) | None)) => {
                if ev.is_some() {
                    // the call's follower must look it up: events were lost meanwhile
                    watch.put_back(WatchEvent::LinkLost);
                }
                return Classified {
                    detection: Detection::Person,
                    hangup: None,
                    lost: true,
                    early_media,
                };
            }
            Err(_) => {
                // no end of the first utterance reported at all: nobody to talk to
                warn!(%uuid, "no detector verdict in time; taking it as silence");
                return Classified {
                    detection: Detection::Silence,
                    hangup: None,
                    lost: false,
                    early_media,
                };
            }
        };
        let heard = match ev {
            SwitchEvent::EarlyMedia { .. } => {
                early_media = true;
                continue;
            }
            SwitchEvent::Answer { at_us, .. } => {
                started_us.get_or_insert(at_us);
                continue;
            }
            SwitchEvent::ExecuteComplete {
                application,
                application_uuid,
                at_us,
                silence_timeout,
                listen_hits,
                ..
            } if application == "wait_for_silence"
                && listen_app
                    .as_deref()
                    .is_none_or(|a| application_uuid.as_deref() == Some(a)) =>
            {
                if started_us.is_none() {
                    // the answer was read before: time it by contactd's clock
                    started_us = Some(at_us - clock.since(sent).as_micros() as i64);
                }
                Heard::ListenDone {
                    at_us,
                    timed_out: silence_timeout,
                    loud_frames: listen_hits,
                }
            }
            SwitchEvent::Beep { at_us, .. } => Heard::Beep { at_us },
            SwitchEvent::Tone { name, at_us, .. } => Heard::Tone { name, at_us },
            SwitchEvent::Hangup(h) => {
                let detection = classifier
                    .as_mut()
                    .map(Classifier::hung_up)
                    .unwrap_or(Detection::Silence);
                return Classified {
                    detection,
                    hangup: Some(h),
                    lost: false,
                    early_media,
                };
            }
            _ => continue,
        };
        pending.push(heard);
        let Some(start) = started_us else {
            // a beep or tone before the answer was read: decided once it is
            continue;
        };
        let c = classifier.get_or_insert_with(|| Classifier::new(s.rules(), start));
        let mut verdict = None;
        for h in pending.drain(..) {
            verdict = c.handle(&h);
        }
        if let Some(detection) = verdict {
            debug!(%uuid, ?detection, "call progress");
            return Classified {
                detection,
                hangup: None,
                lost: false,
                early_media,
            };
        }
    }
}

/// Waits up to `limit` for a machine's beep on the watch. Some(true): heard; Some(false):
/// not in time; None: the call ended or the link dropped meanwhile (`hangup` filled in).
pub async fn wait_beep(
    watch: &mut CallWatch,
    clock: &Clock,
    limit: Duration,
    hangup: &mut Option<HangupInfo>,
) -> Option<bool> {
    let until = clock.instant() + limit;
    loop {
        match tokio::time::timeout_at(until, watch.recv()).await {
            Err(_) => return Some(false),
            Ok(Some(WatchEvent::Switch(SwitchEvent::Beep { .. }))) => return Some(true),
            Ok(Some(WatchEvent::Switch(SwitchEvent::Hangup(h)))) => {
                *hangup = Some(h);
                return None;
            }
            // the script's own fallback started the message: stop waiting
            Ok(Some(WatchEvent::Switch(SwitchEvent::PlaybackStart { .. }))) => return Some(false),
            Ok(Some(WatchEvent::Switch(_))) => {}
            Ok(Some(WatchEvent::LinkLost)) => {
                watch.put_back(WatchEvent::LinkLost);
                return None;
            }
            Ok(None) => return None,
        }
    }
}

/// Follows an originate until it is answered or gone: when the far end sends early media,
/// starts tone detection on it; a SIT heard there is a network announcement ("subscriber
/// unavailable" before any answer), and the call is hung up at once. Returns its kind;
/// `voice` when the far end released the call after early media without a SIT (a voice
/// announcement, or ring-back the caller gave up on: the cause tells them apart, see
/// `notice_amd::unanswered_end`).
pub async fn watch_early_media(
    link: SwitchLink,
    mut watch: CallWatch,
    s: AmdSettings,
) -> Option<String> {
    let uuid = checked(&watch.uuid)?;
    if s.tone_descriptor.is_empty() {
        return None;
    }
    let mut listening = false;
    let stop = |listening: bool| {
        let (link, uuid) = (link.clone(), uuid.clone());
        async move {
            if listening {
                let _ = link.api(&format!("spandsp_stop_tone_detect {uuid}")).await;
            }
        }
    };
    loop {
        match watch.recv().await? {
            WatchEvent::Switch(SwitchEvent::EarlyMedia { .. }) if !listening => {
                listening = true;
                let cmd = format!("spandsp_start_tone_detect {uuid} {}", s.tone_descriptor);
                if let Err(e) = link.api(&cmd).await {
                    debug!(%uuid, "{cmd}: {e}");
                }
            }
            WatchEvent::Switch(SwitchEvent::Tone { name, .. }) => {
                if let Some(Detection::Announcement { kind }) = crate::core::amd::tone_kind(&name) {
                    stop(listening).await;
                    let cause = freeswitch_types::HangupCause::NormalClearing;
                    if let Err(e) = link.kill(&uuid, cause).await {
                        warn!(%uuid, "announcement not hung up: {e}");
                    }
                    return Some(kind);
                }
            }
            WatchEvent::Switch(SwitchEvent::Answer { .. }) => {
                stop(listening).await;
                return None;
            }
            WatchEvent::Switch(SwitchEvent::Hangup(_)) if listening => {
                stop(listening).await;
                return Some(VOICE.to_string());
            }
            WatchEvent::Switch(SwitchEvent::Hangup(_)) | WatchEvent::LinkLost => return None,
            WatchEvent::Switch(_) => {}
        }
    }
}

/// The announcement kind of a recorded voice without SIT tones.
pub const VOICE: &str = "voice";
