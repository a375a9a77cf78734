//! The one clock. `core` never reads the time (decisions take `now` as an argument) and
//! `service` reads it only through a [`Clock`] handed in by the composition root, so a test
//! can run a service on tokio's paused time and see timed decisions (overflow deadlines,
//! retries, calling windows) happen without waiting for them.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// Wall-clock time and monotonic instants, from one source.
#[derive(Clone, Debug)]
pub struct Clock(Arc<Source>);

#[derive(Debug)]
enum Source {
    /// The machine's clocks: `Utc::now()` and tokio's `Instant::now()`.
    System,
    /// Wall time that follows tokio's clock from a fixed start: under
    /// `tokio::time::pause` both stand still and advance together.
    FollowTokio {
        start: DateTime<Utc>,
        at: tokio::time::Instant,
    },
}

impl Clock {
    /// The daemon's clock.
    pub fn system() -> Self {
        Clock(Arc::new(Source::System))
    }

    /// A clock whose wall time starts at `start` and advances with tokio's (pausable) time.
    pub fn following_tokio(start: DateTime<Utc>) -> Self {
        Clock(Arc::new(Source::FollowTokio {
            start,
            at: tokio::time::Instant::now(),
        }))
    }

    /// Wall-clock time now.
    pub fn now(&self) -> DateTime<Utc> {
        match &*self.0 {
            Source::System => Utc::now(),
            Source::FollowTokio { start, at } => {
                let elapsed = tokio::time::Instant::now().saturating_duration_since(*at);
                *start + TimeDelta::from_std(elapsed).unwrap_or(TimeDelta::MAX)
            }
        }
    }

    /// A monotonic instant now (tokio's, so `sleep_until` and paused time agree with it).
    pub fn instant(&self) -> tokio::time::Instant {
        tokio::time::Instant::now()
    }

    /// How long since `earlier` (zero if `earlier` is in the future).
    pub fn since(&self, earlier: tokio::time::Instant) -> Duration {
        self.instant().saturating_duration_since(earlier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn following_tokio_moves_with_paused_time() {
        let start = DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::following_tokio(start);
        let t0 = clock.instant();
        assert_eq!(clock.now(), start);
        tokio::time::sleep(Duration::from_secs(90)).await;
        assert_eq!(clock.now(), start + TimeDelta::seconds(90));
        assert_eq!(clock.since(t0), Duration::from_secs(90));
    }

    #[test]
    fn system_clock_is_the_machines() {
        let clock = Clock::system();
        let before = Utc::now();
        let now = clock.now();
        assert!(now >= before && now - before < TimeDelta::seconds(5));
    }
}
