//! Notice calls with call progress (`[amd] notices`). The originate's script listens for
//! the first utterance (`wait_for_silence`), then waits a bounded time, then plays the
//! message: contactd replaces that script as soon as it knows what answered —
//! - a person: the message at once (the rest as without call progress);
//! - a machine: a wait for its beep (at most `beep_wait_ms`), then `wait_for_silence`
//!   until the beep is over, then the message (reported `machine`, never `listened_*`);
//! - an announcement, a fax, silence: hung up, not reached.
//!
//! If contactd cannot act (the link dropped, it died), the script still plays the message
//! after the wait (2.5 s) and hangs up, so nobody is left on an open line.
//!
//! A call taken over after a restart or a link drop is followed as it is: its own script
//! plays the message after the wait. Classifying it again ([`before_message`], then
//! [`screen`] with `resumed`) parked it to listen, and a further link drop mid-listen left
//! it parked in dead air (faults_link), so the notice runner does not do it for now.

use std::time::Duration;

use freeswitch_types::HangupCause;
use tracing::{debug, warn};

use crate::clock::Clock;
use crate::config::AmdSettings;
use crate::core::amd::{after_beep_args, Detection};
use crate::core::campaign::outcome::Outcome;
use crate::core::channels::{HangupInfo, SwitchEvent};
use crate::core::values::InvalidValue;
use crate::esl::commands::InlineScript;
use crate::esl::control::{CallWatch, SwitchLink, WatchEvent};
use crate::service::amd::{self, Listen};
use crate::service::notice_call;
use crate::store::campaigns::AttemptEnd;

/// How long the first script waits after listening before it plays the message by itself:
/// ample for contactd to act on the verdict (milliseconds), short enough that a person whose
/// call contactd lost sight of hears the message within about 4 s of answering.
const FALLBACK: Duration = Duration::from_millis(2500);

/// The script the notice's originate runs from the answer on: listen, wait, then `tail`
/// (the message script of [`crate::service::notice_call::switch_script`]).
pub fn first_script(s: &AmdSettings, tail: &InlineScript) -> Result<InlineScript, InvalidValue> {
    Ok(InlineScript::new()
        .then("wait_for_silence", &s.listen_args())?
        .then("sleep", &FALLBACK.as_millis().to_string())?
        .and(tail))
}

/// What answered a notice call, and what was done about it.
#[derive(Debug, Clone)]
pub enum Screened {
    /// A person (or unknown, the link having dropped): the message plays; follow it.
    Person,
    /// A machine: the message was started after its beep (`beep`), or after the wait.
    Machine { beep: bool },
    /// Not reached; contactd hung up. `kind`: the detected tone, `fax`, `silence`.
    NotReached {
        outcome: Outcome,
        kind: String,
        hangup: Option<HangupInfo>,
    },
    /// `silence` by the verdict, but the first script's own fallback had begun the
    /// message when contactd hung up (its last look and its hangup raced the script's
    /// wait): heard in part, so never dialed again. `detected`/`kind`: the verdict.
    HeardPart {
        detected: Outcome,
        kind: String,
        hangup: Option<HangupInfo>,
        listened_ms: i32,
    },
    /// The party hung up before a verdict.
    HungUp(HangupInfo),
    /// Taken over and silent since: the message plays as to a person, no verdict noted.
    Unsure,
}

/// The message scripts: for a person, and for a machine (no confirmation asked: a machine
/// presses no key). None: the message cannot be scripted (checked when the campaign was
/// made); the first script's own message then plays.
pub struct Tails {
    pub person: InlineScript,
    pub machine: InlineScript,
}

/// The notice's message scripts for call `uuid` ([`notice_call::switch_script`]).
pub fn tails(uuid: &str, audio: &str, confirm: Option<&str>) -> Option<Tails> {
    Some(Tails {
        person: notice_call::switch_script(uuid, audio, confirm).ok()?,
        machine: notice_call::switch_script(uuid, audio, None).ok()?,
    })
}

impl Screened {
    /// The attempt's end for a call that is over: not reached, or hung up before a verdict
    /// (as a hang-up before the message: `listened_partial`, 0 ms). Person and machine calls
    /// end as their message does.
    pub fn end(self) -> AttemptEnd {
        match self {
            Screened::NotReached {
                outcome,
                kind,
                hangup,
            } => AttemptEnd {
                q850: hangup.as_ref().and_then(|h| h.q850),
                cause: hangup.map(|h| h.cause),
                listened_ms: Some(0),
                listened_full: Some(false),
                outcome: outcome.as_str().into(),
                detected: Some(outcome.as_str().into()),
                detected_kind: Some(kind),
                ..Default::default()
            },
            Screened::HeardPart {
                detected,
                kind,
                hangup,
                listened_ms,
            } => AttemptEnd {
                q850: hangup.as_ref().and_then(|h| h.q850),
                cause: hangup.map(|h| h.cause),
                listened_ms: Some(listened_ms),
                listened_full: Some(false),
                outcome: Outcome::ListenedPartial.as_str().into(),
                detected: Some(detected.as_str().into()),
                detected_kind: Some(kind),
                ..Default::default()
            },
            Screened::HungUp(h) => AttemptEnd {
                q850: h.q850,
                cause: Some(h.cause),
                listened_ms: Some(0),
                listened_full: Some(false),
                outcome: Outcome::ListenedPartial.as_str().into(),
                ..Default::default()
            },
            Screened::Person | Screened::Unsure | Screened::Machine { .. } => AttemptEnd {
                outcome: Outcome::Unknown.as_str().into(),
                ..Default::default()
            },
        }
    }
}

/// An originate that was not answered: a network announcement if one was heard in its
/// early media (`kind`), else by its cause as without call progress. Early media without
/// a SIT (`voice`) counts as an announcement only when the network released the call for
/// a reason of its own: busy, an invalid number, and the ring timeouts (ring-back music
/// nobody answered) keep their cause's outcome.
pub fn unanswered_end(cause: String, q850: Option<i32>, kind: Option<String>) -> AttemptEnd {
    let kind = kind.filter(|k| k != amd::VOICE || released_after_voice(&cause));
    let (outcome, detected) = match &kind {
        Some(_) => (Outcome::Announcement, Some("announcement".to_string())),
        None => (crate::core::campaign::outcome::unanswered(&cause), None),
    };
    AttemptEnd {
        outcome: outcome.as_str().into(),
        cause: Some(cause),
        q850,
        detected,
        detected_kind: kind,
        ..Default::default()
    }
}

/// Whether a release after early media without a SIT was the network ending its voice
/// announcement (not a busy line, a wrong number, or a ring-back that timed out).
fn released_after_voice(cause: &str) -> bool {
    use crate::core::campaign::outcome::unanswered;
    use HangupCause as C;
    let timed_out = matches!(
        cause.parse::<HangupCause>(),
        Ok(C::NoAnswer
            | C::NoUserResponse
            | C::OriginatorCancel
            | C::ProgressTimeout
            | C::AllottedTimeout
            | C::RecoveryOnTimerExpire)
    );
    !timed_out && !matches!(unanswered(cause), Outcome::Busy | Outcome::Invalid)
}

/// A machine took the message (or its start): reported `machine`, never as listened;
/// `heard` is the end its message had.
pub fn machine_end(heard: AttemptEnd, beep: bool) -> AttemptEnd {
    AttemptEnd {
        outcome: Outcome::Machine.as_str().into(),
        detected: Some("machine".into()),
        detected_kind: Some(if beep { "beep" } else { "no_beep" }.into()),
        ..heard
    }
}

/// Whether the answered call `uuid`, taken over, has not reached its message: the switch
/// runs the first script's listening or wait, or the park of a classification.
pub async fn before_message(link: &SwitchLink, uuid: &str) -> bool {
    match link.getvar(uuid, "current_application").await {
        Ok(Some(app)) => matches!(app.as_str(), "wait_for_silence" | "sleep" | "park"),
        _ => false,
    }
}

/// Whether the answered call `uuid` is past the first script's listening and wait: its own
/// fallback started the message (contactd's verdict came later than the wait).
async fn message_began(link: &SwitchLink, uuid: &str) -> bool {
    match link.getvar(uuid, "current_application").await {
        Ok(Some(app)) => {
            !app.is_empty() && !matches!(app.as_str(), "wait_for_silence" | "sleep" | "park")
        }
        _ => false,
    }
}

/// Classifies the answered notice call `uuid` and sets its script accordingly. `resumed`:
/// taken over before its message ([`before_message`]); listened to again from now.
pub async fn screen(
    link: &SwitchLink,
    clock: &Clock,
    watch: &mut CallWatch,
    uuid: &str,
    s: &AmdSettings,
    tails: Option<Tails>,
    resumed: bool,
) -> Screened {
    let Some(tails) = tails else {
        warn!(%uuid, "message not scriptable; the call's own script plays it");
        return Screened::Person;
    };
    let listen = if resumed {
        // the running script's listening cannot be told from a new one's: park the call
        // and listen by an execute whose completion is known by its uuid
        if let Ok(park) = InlineScript::new().then("park", "") {
            amd::run_script(link, uuid, &park).await;
        }
        Listen::Execute
    } else {
        Listen::Script
    };
    let c = amd::classify_call(link, watch, uuid, s, clock, listen).await;
    if c.lost {
        // the script goes on by itself; the message's follower looks the call up
        return Screened::Person;
    }
    if let Some(h) = c.hangup {
        return Screened::HungUp(h);
    }
    debug!(%uuid, detection = ?c.detection, "notice call answered by");
    let (outcome, kind) = match c.detection {
        Detection::Person => {
            amd::stop_detectors(link, uuid, s).await;
            // if this fails the script plays the message after its wait
            amd::run_script(link, uuid, &tails.person).await;
            return Screened::Person;
        }
        Detection::Machine { beep } => {
            let early = c.early_media;
            return machine(link, clock, watch, uuid, s, &tails.machine, beep, early).await;
        }
        Detection::Silence if resumed => {
            amd::stop_detectors(link, uuid, s).await;
            amd::run_script(link, uuid, &tails.person).await;
            return Screened::Unsure;
        }
        // Silence, told only after the script's own wait ran out (contactd slow to read
        // the verdict: a loaded machine, a store stalling): the message is already playing
        // to whoever is there. Hung up now it was heard in part and recorded `silence`,
        // and so dialed again — the message twice. It plays on and is followed as any.
        Detection::Silence if message_began(link, uuid).await => {
            warn!(%uuid, "silence told after the message began; following the message");
            amd::stop_detectors(link, uuid, s).await;
            return Screened::Unsure;
        }
        Detection::Announcement { kind } => (Outcome::Announcement, kind),
        Detection::Fax => (Outcome::Fax, "fax".to_string()),
        Detection::Silence => (Outcome::Silence, "silence".to_string()),
    };
    amd::stop_detectors(link, uuid, s).await;
    not_reached(link, clock, watch, uuid, outcome, kind).await
}

/// Hangs up a call the verdict says was not reached. A `silence` verdict whose hangup came
/// after the message had begun (the script's wait ran out between contactd's last look,
/// [`message_began`], and its hangup) is [`Screened::HeardPart`]: a silent person may have
/// heard it. A tone, fax or voice announcement is no person, and stays not reached.
async fn not_reached(
    link: &SwitchLink,
    clock: &Clock,
    watch: &mut CallWatch,
    uuid: &str,
    outcome: Outcome,
    kind: String,
) -> Screened {
    let (hangup, heard) = hang_up(link, clock, watch, uuid).await;
    match heard.filter(|_| outcome == Outcome::Silence) {
        Some(listened_ms) => {
            warn!(%uuid, verdict = outcome.as_str(), listened_ms, "the message had begun when contactd hung up: heard in part, not dialed again");
            Screened::HeardPart {
                detected: outcome,
                kind,
                hangup,
                listened_ms,
            }
        }
        None => Screened::NotReached {
            outcome,
            kind,
            hangup,
        },
    }
}

/// A machine: waits for its beep (bounded), then the message once the beep is over.
/// Without a beep it may be a network's voice announcement instead (no SIT): one that
/// releases the call during the wait is reported `announcement` (`voice`), as is one whose
/// voice began as early media before the answer (`early_media`) and never beeps — a
/// voicemail beeps, a network's recorded voice does not; such a call is hung up, not given
/// the message.
#[allow(clippy::too_many_arguments)]
async fn machine(
    link: &SwitchLink,
    clock: &Clock,
    watch: &mut CallWatch,
    uuid: &str,
    s: &AmdSettings,
    tail: &InlineScript,
    mut beep: bool,
    early_media: bool,
) -> Screened {
    let after_beep = || -> Result<InlineScript, InvalidValue> {
        Ok(InlineScript::new()
            .then("wait_for_silence", &after_beep_args(s.threshold))?
            .and(tail))
    };
    if !beep {
        let wait = Duration::from_millis(s.beep_wait_ms);
        // after early media the message waits for a beep; the switch hangs up by itself
        // if contactd is gone
        let then = match early_media {
            true => InlineScript::new().then("hangup", "NORMAL_CLEARING"),
            false => Ok(tail.clone()),
        };
        if let Ok(script) = InlineScript::new()
            .then("sleep", &wait.as_millis().to_string())
            .and_then(|w| then.map(|t| w.and(&t)))
        {
            amd::run_script(link, uuid, &script).await;
        }
        let mut hangup = None;
        let heard = amd::wait_beep(watch, clock, wait + Duration::from_secs(5), &mut hangup);
        match heard.await {
            Some(true) => beep = true,
            Some(false) if early_media => {
                amd::stop_detectors(link, uuid, s).await;
                let voice = amd::VOICE.to_string();
                return not_reached(link, clock, watch, uuid, Outcome::Announcement, voice).await;
            }
            Some(false) => {}
            // released before any beep or message: nobody was there to take one
            None if hangup.is_some() => {
                amd::stop_detectors(link, uuid, s).await;
                return Screened::NotReached {
                    outcome: Outcome::Announcement,
                    kind: amd::VOICE.into(),
                    hangup,
                };
            }
            // the link dropped: the script goes on by itself
            None => {
                amd::stop_detectors(link, uuid, s).await;
                return Screened::Machine { beep: false };
            }
        }
    }
    if beep {
        match after_beep() {
            Ok(script) => {
                amd::run_script(link, uuid, &script).await;
            }
            Err(e) => warn!(%uuid, "after-beep script: {e}"),
        }
    }
    amd::stop_detectors(link, uuid, s).await;
    Screened::Machine { beep }
}

/// Hangs up (best effort) and waits briefly for the switch's hangup event. Also says how
/// much of a playback began meanwhile (ms; None: none began): nothing but the message plays
/// on a notice call, and the first script starts it by itself once its wait is over.
async fn hang_up(
    link: &SwitchLink,
    clock: &Clock,
    watch: &mut CallWatch,
    uuid: &str,
) -> (Option<HangupInfo>, Option<i32>) {
    if let Err(e) = link.hangup(uuid, HangupCause::NormalClearing).await {
        debug!(%uuid, "hangup: {e}");
        if let Err(e) = link.kill(uuid, HangupCause::NormalClearing).await {
            warn!(%uuid, "not-reached call may stay up: {e}");
        }
    }
    let until = clock.instant() + Duration::from_secs(5);
    let mut seen = None;
    let (mut began, mut stopped) = (None, None);
    while let Ok(Some(ev)) = tokio::time::timeout_at(until, watch.recv()).await {
        match ev {
            WatchEvent::Switch(SwitchEvent::Hangup(h)) => {
                let complete = h.complete;
                seen = Some(h);
                if complete {
                    break;
                }
            }
            WatchEvent::Switch(SwitchEvent::PlaybackStart { at_us, .. }) => {
                began.get_or_insert(at_us);
            }
            WatchEvent::Switch(SwitchEvent::PlaybackStop { at_us, .. }) => stopped = Some(at_us),
            WatchEvent::LinkLost => break,
            _ => {}
        }
    }
    let heard = began.map(|b| ((stopped.unwrap_or(b) - b) / 1000).max(0) as i32);
    (seen, heard)
}
