//! The runners' shared record of the subscribers whose calls they follow
//! ([`crate::core::drivers`]), stamped by the runner's clock: a call's task says
//! `begin`/`end`, a recovery takes `read_begins` before reading the stranded and keeps only
//! those nobody held since.

use std::sync::Mutex;

use tokio::time::Instant;

use crate::clock::Clock;
use crate::core::drivers::{Drivers, Key};

pub struct Driving {
    drivers: Mutex<Drivers>,
    clock: Clock,
}

impl Driving {
    pub fn new(clock: Clock) -> Self {
        Self {
            drivers: Mutex::default(),
            clock,
        }
    }

    pub fn begin(&self, key: Key) {
        self.drivers.lock().expect("driving").begin(key);
    }

    /// The call of `key` let go now, its records written.
    pub fn end(&self, key: Key) {
        let at = self.clock.instant();
        self.drivers.lock().expect("driving").end(key, at);
    }

    /// Any subscriber of `campaign` held now.
    pub fn any_of(&self, campaign: i64) -> bool {
        self.drivers.lock().expect("driving").any_of(campaign)
    }

    /// Taken just before a read of the stranded; hand it to [`Self::left_alone`].
    pub fn read_begins(&self) -> Instant {
        self.clock.instant()
    }

    /// Of `found` (read after `since`), those no driver held at any moment since.
    pub fn left_alone<T>(&self, found: Vec<T>, since: Instant, key: impl Fn(&T) -> Key) -> Vec<T> {
        let d = self.drivers.lock().expect("driving");
        found
            .into_iter()
            .filter(|s| !d.busy_since(key(s), since))
            .collect()
    }
}
