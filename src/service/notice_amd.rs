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
    /// The party hung up before a verdict.
    HungUp(HangupInfo),
}

/// The message scripts: for a person, and for a machine (no confirmation asked: a machine
/// presses no key).
pub struct Tails<'a> {
    pub person: &'a InlineScript,
    pub machine: &'a InlineScript,
}

/// Classifies the answered notice call `uuid` and sets its script accordingly.
pub async fn screen(
    link: &SwitchLink,
    clock: &Clock,
    watch: &mut CallWatch,
    uuid: &str,
    s: &AmdSettings,
    tails: Tails<'_>,
) -> Screened {
    let c = amd::classify_call(link, watch, uuid, s, clock, Listen::Script).await;
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
            amd::run_script(link, uuid, tails.person).await;
            return Screened::Person;
        }
        Detection::Machine { beep } => {
            return machine(link, clock, watch, uuid, s, tails.machine, beep).await
        }
        Detection::Announcement { kind } => (Outcome::Announcement, kind),
        Detection::Fax => (Outcome::Fax, "fax".to_string()),
        Detection::Silence => (Outcome::Silence, "silence".to_string()),
    };
    amd::stop_detectors(link, uuid, s).await;
    let hangup = hang_up(link, clock, watch, uuid).await;
    Screened::NotReached {
        outcome,
        kind,
        hangup,
    }
}

/// A machine: waits for its beep (bounded), then the message once the beep is over.
async fn machine(
    link: &SwitchLink,
    clock: &Clock,
    watch: &mut CallWatch,
    uuid: &str,
    s: &AmdSettings,
    tail: &InlineScript,
    mut beep: bool,
) -> Screened {
    let after_beep = || -> Result<InlineScript, InvalidValue> {
        Ok(InlineScript::new()
            .then("wait_for_silence", &after_beep_args(s.threshold))?
            .and(tail))
    };
    if !beep {
        let wait = Duration::from_millis(s.beep_wait_ms);
        if let Ok(script) = InlineScript::new()
            .then("sleep", &wait.as_millis().to_string())
            .map(|w| w.and(tail))
        {
            amd::run_script(link, uuid, &script).await;
        }
        let mut hangup = None;
        match amd::wait_beep(watch, clock, wait + Duration::from_secs(5), &mut hangup).await {
            Some(heard) => beep = heard,
            // hung up (or the link dropped) before a beep: a machine all the same
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

/// Hangs up (best effort) and waits briefly for the switch's hangup event.
async fn hang_up(
    link: &SwitchLink,
    clock: &Clock,
    watch: &mut CallWatch,
    uuid: &str,
) -> Option<HangupInfo> {
    if let Err(e) = link.hangup(uuid, HangupCause::NormalClearing).await {
        debug!(%uuid, "hangup: {e}");
        if let Err(e) = link.kill(uuid, HangupCause::NormalClearing).await {
            warn!(%uuid, "not-reached call may stay up: {e}");
        }
    }
    let until = clock.instant() + Duration::from_secs(5);
    let mut seen = None;
    while let Ok(Some(ev)) = tokio::time::timeout_at(until, watch.recv()).await {
        match ev {
            WatchEvent::Switch(SwitchEvent::Hangup(h)) => {
                let complete = h.complete;
                seen = Some(h);
                if complete {
                    break;
                }
            }
            WatchEvent::LinkLost => break,
            _ => {}
        }
    }
    seen
}
