//! The switch runs a channel's call progress detectors and `wait_for_silence` on the
//! channel's one media thread, frame by frame, so what they report comes in frame order.
//! The simulator runs them as tasks that wake in any order on a loaded machine: each
//! detector notes its next event's time ([`Due`], in `core::Detectors::due`) before its task
//! runs, and `wait_for_silence` returns only once those due before its end are out.

use std::sync::Arc;

use super::core::{lock, Core};

/// A detector's entry in `core::Detectors::due`, removed when its task ends whatever way.
pub(super) struct Due {
    core: Arc<Core>,
    uuid: String,
    gen: u64,
}

impl Due {
    pub(super) fn new(core: &Arc<Core>, uuid: &str, gen: u64) -> Due {
        Due {
            core: core.clone(),
            uuid: uuid.to_string(),
            gen,
        }
    }

    /// The next event is due at `ms` after the answer (None: no more).
    pub(super) fn set(&self, ms: Option<u64>) {
        let mut st = lock(&self.core.st);
        let d = st.detectors.entry(self.uuid.clone()).or_default();
        match ms {
            Some(ms) => d.due.insert(self.gen, ms),
            None => d.due.remove(&self.gen),
        };
    }
}

impl Drop for Due {
    fn drop(&mut self) {
        if let Some(d) = lock(&self.core.st).detectors.get_mut(&self.uuid) {
            d.due.remove(&self.gen);
        }
    }
}

/// Waits until no detector of the channel has an event due at or before `at_ms` (after the
/// answer) still to fire: see `core::Detectors::due`. Bounded, in case a task is gone for good.
pub(super) async fn detectors_caught_up(core: &Core, uuid: &str, at_ms: u64) {
    let give_up = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    while lock(&core.st)
        .detectors
        .get(uuid)
        .is_some_and(|d| d.due.values().any(|&t| t <= at_ms))
        && tokio::time::Instant::now() < give_up
    {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}
