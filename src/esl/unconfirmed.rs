//! An originate whose reply was lost with the link (`DialError::Unconfirmed`): the call may
//! ring, may have been answered while nobody watched, or may be gone. It is looked up on the
//! switch once the link is back and followed while it still rings — never taken for a
//! failure, which would leave an answered person in silence and dial them again.

use std::time::Duration;

use freeswitch_esl_tokio::HangupCause;
use tracing::warn;

use super::control::{CallWatch, SwitchLink, WatchEvent};
use crate::core::channels::{HangupInfo, SwitchEvent};

/// Where a looked-up call stands.
#[derive(Debug)]
pub enum Unconfirmed {
    /// Found answered: it was answered while nobody followed it.
    AnsweredUnseen,
    /// Answered while followed.
    Answered,
    /// Hung up while followed.
    Ended(HangupInfo),
    /// Not on the switch any more.
    Gone,
    /// The switch could not be asked (`why`): nothing is known of the call.
    Unreachable(String),
    /// Still ringing `ring` after it was found: hung up (`NO_ANSWER`).
    NoAnswer,
}

impl SwitchLink {
    /// Looks up the call `watch` follows once the link is back (waited for up to
    /// `link_back`) and, while it rings, follows it for up to `ring` from each look-up
    /// (looked up again after another drop). `watch` must exist before the look-up, so
    /// that an answer between the two is not missed.
    pub async fn follow_unconfirmed(
        &self,
        watch: &mut CallWatch,
        ring: Duration,
        link_back: Duration,
    ) -> Unconfirmed {
        let uuid = watch.uuid.clone();
        loop {
            match self.find_channel(&uuid, link_back).await {
                Err(why) => return Unconfirmed::Unreachable(why),
                Ok(None) => return Unconfirmed::Gone,
                Ok(Some(row)) if row.answered => return Unconfirmed::AnsweredUnseen,
                Ok(Some(_)) => {}
            }
            let until = tokio::time::Instant::now() + ring;
            loop {
                match tokio::time::timeout_at(until, watch.recv()).await {
                    Ok(Some(WatchEvent::Switch(SwitchEvent::Answer { .. }))) => {
                        return Unconfirmed::Answered
                    }
                    Ok(Some(WatchEvent::Switch(SwitchEvent::Hangup(h)))) => {
                        return Unconfirmed::Ended(h)
                    }
                    Ok(Some(WatchEvent::LinkLost)) => break,
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => {
                        if let Err(e) = self.kill(&uuid, HangupCause::NoAnswer).await {
                            warn!(%uuid, "could not end a call seen no more: {e}");
                        }
                        return Unconfirmed::NoAnswer;
                    }
                }
            }
        }
    }
}
