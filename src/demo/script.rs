//! What the demo's scenes share: their error, how they print, how a scripted person keys.

use std::fmt::Display;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DemoError(pub(crate) String);

pub(crate) fn err(what: &str) -> impl FnOnce(&dyn Display) -> DemoError + '_ {
    move |e| DemoError(format!("{what}: {e}"))
}

pub(crate) fn say(line: impl Display) {
    println!("{line}");
}

/// Simulated ms a scripted caller waits after a prompt starts before keying, as a person
/// does: digits keyed before `play_and_get_digits` starts listening are not collected.
pub const KEY_PAUSE_MS: u64 = 300;
