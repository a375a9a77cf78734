//! A waiting caller's timeline, sans-IO: when to renew the lease on driving the caller, when
//! to look at its place in the queue (an overflow deadline, a stale offer), when to tell it
//! its position, when its maximum wait is over, and how often to retry queueing a caller
//! admitted while Redis was away. The caller's task sleeps until [`Timeline::poll_timeout`],
//! carries out what [`Timeline::handle_timeout`] returns and reports back; nothing here
//! reads a clock or does I/O. Generic over the instant type so the task uses tokio's
//! (pausable) instants and tests plain durations.

use std::ops::Add;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineConfig {
    /// Position announcements; None: never.
    pub announce_every: Option<Duration>,
    /// How often the queue data is looked at when nothing else is due: a stale offer of
    /// this caller is noticed within this.
    pub check_every: Duration,
    /// The lease on the caller is renewed this often (a fraction of its length).
    pub renew_every: Duration,
    /// How soon a failed step (queueing a pending caller, renewing the lease) is tried again.
    pub retry_every: Duration,
}

/// What is due now, in the order to do it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Queue the caller admitted while Redis was away; report [`Timeline::handle_queued`].
    Queue,
    /// Renew the lease; report [`Timeline::handle_lease_renewed`].
    RenewLease,
    /// Read the caller's place in the queue and how long it has waited; report
    /// [`Timeline::handle_waited`]. `announce`: tell it its position too, and report
    /// [`Timeline::handle_announced`].
    ReadQueue { announce: bool },
}

/// What the wait read by [`Step::ReadQueue`] means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Waited the maximum: move the caller on (the queue's overflow).
    Overflow,
    Stay,
}

#[derive(Debug, Clone)]
pub struct Timeline<I> {
    cfg: TimelineConfig,
    pending: bool,
    retry_at: I,
    renew_at: I,
    next_check: I,
    next_announce: Option<I>,
}

impl<I: Copy + Ord + Add<Duration, Output = I>> Timeline<I> {
    /// A caller that starts waiting at `now`; `pending` if it is not queued yet (Redis was
    /// away when it was admitted). The first announcement comes one period after `now`.
    pub fn new(now: I, cfg: TimelineConfig, pending: bool) -> Self {
        Self {
            pending,
            retry_at: now,
            renew_at: now,
            next_check: now,
            next_announce: cfg.announce_every.map(|every| now + every),
            cfg,
        }
    }

    /// When to call [`Timeline::handle_timeout`] next.
    pub fn poll_timeout(&self) -> I {
        if self.pending {
            return self.retry_at;
        }
        let due = self.renew_at.min(self.next_check);
        self.next_announce.map_or(due, |a| due.min(a))
    }

    /// The steps due at `now`. A pending caller is only queued: nothing else applies to it
    /// before it is in a queue.
    pub fn handle_timeout(&mut self, now: I) -> Vec<Step> {
        if self.pending {
            if now < self.retry_at {
                return Vec::new();
            }
            self.retry_at = now + self.cfg.retry_every;
            return vec![Step::Queue];
        }
        let mut steps = Vec::new();
        if now >= self.renew_at {
            // Tried again soon unless it is reported renewed.
            self.renew_at = now + self.cfg.retry_every;
            steps.push(Step::RenewLease);
        }
        let announce = self.next_announce.is_some_and(|at| now >= at);
        if announce || now >= self.next_check {
            self.next_check = now + self.cfg.check_every;
            if announce {
                // Told later if it could not be told now (ringing): the next look.
                self.next_announce = Some(self.next_check);
            }
            steps.push(Step::ReadQueue { announce });
        }
        steps
    }

    /// The pending caller is in its queue now (the lease was taken with it).
    pub fn handle_queued(&mut self, now: I) {
        self.pending = false;
        self.renew_at = now + self.cfg.renew_every;
        self.next_check = now;
    }

    pub fn handle_lease_renewed(&mut self, now: I) {
        self.renew_at = now + self.cfg.renew_every;
    }

    /// The caller has waited `waited` since it arrived, in a queue whose callers wait at
    /// most `max_wait` (None: no limit; it is the queue's, and a caller can change queues):
    /// overflow, or be back exactly when the maximum wait is reached.
    pub fn handle_waited(&mut self, now: I, waited: Duration, max_wait: Option<Duration>) -> Wait {
        match max_wait {
            Some(max) if waited >= max => Wait::Overflow,
            Some(max) => {
                self.next_check = self.next_check.min(now + (max - waited));
                Wait::Stay
            }
            None => Wait::Stay,
        }
    }

    /// The position was told at `now`: the next one a period later.
    pub fn handle_announced(&mut self, now: I) {
        self.next_announce = self.cfg.announce_every.map(|every| now + every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn cfg() -> TimelineConfig {
        TimelineConfig {
            announce_every: Some(t(30)),
            check_every: t(3),
            renew_every: t(2),
            retry_every: Duration::from_millis(500),
        }
    }

    /// Runs the timeline like the caller's task does, every step succeeding, with the
    /// caller having arrived at 0, until `until`; returns what it did and when.
    fn drive(
        tl: &mut Timeline<Duration>,
        max_wait: Option<Duration>,
        until: Duration,
    ) -> Vec<(Duration, Step)> {
        let mut done = Vec::new();
        loop {
            let now = tl.poll_timeout();
            if now > until {
                return done;
            }
            for step in tl.handle_timeout(now) {
                done.push((now, step));
                match step {
                    Step::Queue => tl.handle_queued(now),
                    Step::RenewLease => tl.handle_lease_renewed(now),
                    Step::ReadQueue { announce } => {
                        if tl.handle_waited(now, now, max_wait) == Wait::Overflow {
                            return done;
                        }
                        if announce {
                            tl.handle_announced(now);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn announcements_every_period_and_overflow_exactly_at_the_maximum_wait() {
        let mut tl = Timeline::new(t(0), cfg(), false);
        let done = drive(&mut tl, Some(t(70)), t(600));
        let announced: Vec<_> = done
            .iter()
            .filter(|(_, s)| *s == Step::ReadQueue { announce: true })
            .map(|(at, _)| *at)
            .collect();
        assert_eq!(announced, [t(30), t(60)]);
        let (last, step) = *done.last().unwrap();
        assert_eq!((last, step), (t(70), Step::ReadQueue { announce: false }));
        // The lease is renewed on time all along.
        let renewals = done.iter().filter(|(_, s)| *s == Step::RenewLease).count();
        assert_eq!(renewals, 36, "every 2 s from 0 to 70");
    }

    #[test]
    fn nothing_is_due_between_deadlines() {
        let mut tl = Timeline::new(t(0), cfg(), false);
        assert_eq!(tl.poll_timeout(), t(0));
        assert_eq!(
            tl.handle_timeout(t(0)),
            [Step::RenewLease, Step::ReadQueue { announce: false }]
        );
        tl.handle_lease_renewed(t(0));
        assert_eq!(tl.handle_waited(t(0), t(0), Some(t(70))), Wait::Stay);
        assert_eq!(tl.poll_timeout(), t(2));
        assert!(tl.handle_timeout(Duration::from_millis(1999)).is_empty());
    }

    #[test]
    fn a_failed_renewal_is_tried_again_soon_and_an_untold_position_at_the_next_look() {
        let mut tl = Timeline::new(t(0), cfg(), false);
        tl.handle_timeout(t(0));
        // Not reported renewed: again in half a second.
        assert_eq!(tl.poll_timeout(), Duration::from_millis(500));
        tl.handle_lease_renewed(Duration::from_millis(500));
        let mut tl = Timeline::new(t(0), cfg(), false);
        let steps = tl.handle_timeout(t(30));
        assert!(steps.contains(&Step::ReadQueue { announce: true }));
        // Ringing at 30 s: no announcement made; tried at the next look, 3 s on.
        let steps = tl.handle_timeout(t(33));
        assert!(
            steps.contains(&Step::ReadQueue { announce: true }),
            "{steps:?}"
        );
    }

    #[test]
    fn a_pending_caller_is_only_queued_retrying_until_it_is() {
        let mut tl = Timeline::new(t(0), cfg(), true);
        assert_eq!(tl.handle_timeout(t(0)), [Step::Queue]);
        assert_eq!(tl.poll_timeout(), Duration::from_millis(500));
        assert!(tl.handle_timeout(Duration::from_millis(400)).is_empty());
        assert_eq!(tl.handle_timeout(t(1)), [Step::Queue]);
        tl.handle_queued(t(1));
        assert_eq!(tl.poll_timeout(), t(1), "looks at the queue at once");
        assert_eq!(
            tl.handle_timeout(t(1)),
            [Step::ReadQueue { announce: false }]
        );
    }

    #[test]
    fn without_limits_nothing_overflows_and_nothing_is_announced() {
        let mut tl = Timeline::new(
            t(0),
            TimelineConfig {
                announce_every: None,
                ..cfg()
            },
            false,
        );
        let done = drive(&mut tl, None, t(3600));
        assert!(done
            .iter()
            .all(|(_, s)| *s != Step::ReadQueue { announce: true }));
        assert_eq!(done.last().unwrap().0, t(3600));
    }
}
