//! How an operator-campaign call ends: the attempt outcomes only these calls have, the
//! attempt end made of one, and the wait for a call's hang-up.

use std::time::Duration;

use crate::core::channels::SwitchEvent;
use crate::esl::control::{CallWatch, SwitchLink, WatchEvent};
use crate::store::campaigns::AttemptEnd;

/// How an answered call ended for the campaign (the attempt's outcome).
pub const CONNECTED: &str = "connected";
pub const ABANDONED: &str = "abandoned";
/// A person who hung up before an operator or the message reached them.
pub const HUNG_UP: &str = "hung_up";

pub(super) fn end_with(outcome: &str, cause: Option<String>) -> AttemptEnd {
    AttemptEnd {
        outcome: outcome.to_string(),
        cause,
        ..Default::default()
    }
}

/// Until the call ends (looked up after a lost link: its hang-up may have been missed).
pub(super) async fn wait_hangup(link: &SwitchLink, watch: &mut CallWatch, call: &str) {
    while let Some(ev) = watch.recv().await {
        match ev {
            WatchEvent::Switch(SwitchEvent::Hangup(_)) => return,
            WatchEvent::LinkLost
                if link.back_and_exists(call, Duration::from_secs(60)).await != Some(true) =>
            {
                return
            }
            _ => {}
        }
    }
}
