//! The abandon message is the switch's own: every operator-campaign call runs, from its
//! answer, the script [`call_script`] — `sleep` until `abandon_message_after_ms`, the
//! campaign's message, `hangup`. Bridging the call to an operator (`uuid_bridge`) ends the
//! `sleep` before it is up, and `hangup_after_bridge` ends the call with the operator's
//! leg, so the message never follows a talk. Nothing else is run on the call meanwhile
//! but the detector's `wait_for_silence` (run inside the `sleep`, as switch_ivr_sleep parses
//! the channel's queued messages): so a person whom no operator reached hears the message
//! on time whether contactd is there or not — killed, restarting, or cut off from the
//! switch. contactd only waits for it ([`OpRunner::abandon_heard`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use freeswitch_types::HangupCause;
use tracing::{info, warn};
use uuid::Uuid;

use super::OpRunner;
use crate::config::OperatorCampaignConfig;
use crate::core::channels::SwitchEvent;
use crate::core::values::MediaFile;
use crate::esl::commands::{AfterAnswer, InlineScript};
use crate::esl::control::{CallWatch, SwitchLink, WatchEvent};
use crate::store::campaigns::Campaign;

/// What an answered operator-campaign call runs (module doc). A campaign whose message is
/// not a playable path gets the `sleep` and the hang-up without it: it ends the call of a
/// person nobody takes rather than leaving them on a silent line.
pub(super) fn call_script(c: &Campaign, o: &OperatorCampaignConfig) -> AfterAnswer {
    let head = || {
        InlineScript::new()
            .then("set", "hangup_after_bridge=true")?
            // a key pressed while waiting must not end the wait (and start the message)
            .then("set", "sleep_eat_digits=true")?
            .then("set", "playback_terminators=none")?
            .then("sleep", &o.abandon_message_after_ms().to_string())
    };
    let message = MediaFile::parse(&c.audio)
        .ok()
        .and_then(|f| InlineScript::new().then("playback", f.as_str()).ok());
    if message.is_none() {
        warn!(campaign = c.id, audio = %c.audio, "abandon message not playable: calls nobody takes are hung up without it");
    }
    let script = head().and_then(|h| {
        let h = match &message {
            Some(m) => h.and(m),
            None => h,
        };
        h.then("hangup", "NORMAL_CLEARING")
    });
    AfterAnswer::Inline(script.expect("fixed applications and a checked path"))
}

/// How an abandoned call ended.
pub(super) enum Abandon {
    /// The message was played and the call hung up: when the message started, if seen.
    Heard(Option<DateTime<Utc>>),
    /// An operator was bridged to the call after all (an offer answered at the last moment,
    /// or one made while contactd had lost sight of the call): it is a talk.
    Taken,
}

impl OpRunner {
    /// No operator took the call: the switch plays the message (module doc); waits for
    /// the call's end and returns when the message started, as the switch reported it.
    /// A call still up long after the message would have ended is hung up.
    pub(super) async fn abandon_heard(
        &self,
        c: &Campaign,
        id: Uuid,
        link: &SwitchLink,
        watch: &mut CallWatch,
    ) -> Abandon {
        let call = id.to_string();
        let o = &self.config.campaigns.operator;
        let limit = Duration::from_millis(o.abandon_message_after_ms().max(o.connect_within_ms))
            + Duration::from_secs(u64::from(self.config.campaigns.max_message_seconds) + 5);
        let ended = tokio::time::timeout(limit, async {
            while let Some(ev) = watch.recv().await {
                match ev {
                    WatchEvent::Switch(SwitchEvent::Hangup(_)) => return false,
                    WatchEvent::Switch(SwitchEvent::Bridge { .. }) => return true,
                    WatchEvent::LinkLost => {
                        if link.back_and_exists(&call, Duration::from_secs(60)).await != Some(true)
                        {
                            return false;
                        }
                        // a bridge made while the link was down sent its event into the void
                        if link.bridged(&call).await {
                            return true;
                        }
                    }
                    _ => {}
                }
            }
            false
        })
        .await;
        match ended {
            Ok(true) => {
                info!(campaign = c.id, %call, "an operator was bridged to the call after all");
                return Abandon::Taken;
            }
            Ok(false) => {}
            Err(_) => {
                warn!(campaign = c.id, %call, "abandoned call still up after its message: hanging up");
                let _ = link.kill(&call, HangupCause::NormalClearing).await;
            }
        }
        let started = watch
            .playback_started_us()
            .and_then(DateTime::from_timestamp_micros);
        if started.is_none() {
            info!(campaign = c.id, %call, "abandoned: the message's start was not seen");
        }
        Abandon::Heard(started)
    }
}
