//! Which subscribers' calls this process follows now, or followed a moment ago. A recovery
//! reads the subscribers left `dialing` from PostgreSQL and takes over those nobody
//! follows; a driver may write its call's end and let go while that read is under way, so
//! "nobody follows it now" is not enough: the read may predate the end it wrote. A
//! subscriber is left alone if a driver held it at any moment since the read began
//! ([`Drivers::busy_since`]); a driver that let go before then had its writes in before
//! the read, which sees them.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

/// `(campaign, contact)`.
pub type Key = (i64, i64);

/// How long a driver's end is remembered: far longer than any read of the stranded.
const KEEP: Duration = Duration::from_secs(600);

#[derive(Debug, Default)]
pub struct Drivers {
    now: HashSet<Key>,
    ended: HashMap<Key, Instant>,
}

impl Drivers {
    pub fn begin(&mut self, key: Key) {
        self.now.insert(key);
    }

    /// The driver of `key` let go at `at` (its records written).
    pub fn end(&mut self, key: Key, at: Instant) {
        self.now.remove(&key);
        self.ended.insert(key, at);
        if let Some(old) = at.checked_sub(KEEP) {
            self.ended.retain(|_, t| *t >= old);
        }
    }

    /// Held by a driver now, or let go at `since` or later.
    pub fn busy_since(&self, key: Key, since: Instant) -> bool {
        self.now.contains(&key) || self.ended.get(&key).is_some_and(|t| *t >= since)
    }

    /// Any subscriber of `campaign` held now.
    pub fn any_of(&self, campaign: i64) -> bool {
        self.now.iter().any(|&(c, _)| c == campaign)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_driver_that_let_go_during_the_read_still_counts() {
        let t0 = Instant::now();
        let mut d = Drivers::default();
        d.begin((1, 7));
        d.begin((1, 8));
        d.end((1, 8), t0);
        // the recovery's read begins
        let since = t0 + Duration::from_millis(5);
        // a call that ends while the read is under way
        d.end((1, 7), t0 + Duration::from_millis(20));
        assert!(d.busy_since((1, 7), since), "ended during the read");
        assert!(
            !d.busy_since((1, 8), since),
            "ended before the read: its writes are seen"
        );
        assert!(!d.busy_since((1, 9), since), "never driven");
        d.begin((2, 1));
        assert!(d.busy_since((2, 1), since) && d.any_of(2) && !d.any_of(1));
    }

    #[test]
    fn old_ends_are_forgotten() {
        let t0 = Instant::now();
        let mut d = Drivers::default();
        d.end((1, 1), t0);
        d.end((1, 2), t0 + KEEP + Duration::from_secs(1));
        assert!(!d.ended.contains_key(&(1, 1)));
        assert!(d.ended.contains_key(&(1, 2)));
    }
}
