//! systemd notify protocol: READY, WATCHDOG pings, STOPPING. A no-op outside systemd.

use std::time::Duration;

pub fn ready() {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
}

pub fn stopping() {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
}

/// No STATUS that repeats the last, and progress of one kind (the text before `:`) at most
/// once a second: the notify socket is a blocking datagram socket whose queue holds few
/// messages, and a slow reader must not stall the drain that reports its progress here.
pub fn status(text: &str) {
    use std::sync::Mutex;
    use std::time::Instant;
    static LAST: Mutex<Option<(String, Instant)>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((t, at)) = last.as_ref() {
        let kind = |s: &str| s.split(':').next().unwrap_or_default().to_string();
        if t == text || (kind(t) == kind(text) && at.elapsed() < Duration::from_secs(1)) {
            return;
        }
    }
    *last = Some((text.to_string(), Instant::now()));
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(text)]);
}

/// Half the unit's `WatchdogSec`, if systemd asked for pings.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 2)
}

pub fn watchdog() {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
}
