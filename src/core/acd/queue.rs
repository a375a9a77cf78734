//! One queue, pure: the order callers are served in (priority, then arrival), the cap on
//! callers waiting (the next one is refused and offered a callback), the maximum wait after
//! which a caller overflows, the return of a caller to the head after a missed ring, and the
//! position and estimated wait a caller is told. The live, shared copy of the order is in
//! `store::acd`; this model decides and is what the tests reason with.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::CallId;

/// Where a caller goes when they have waited too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overflow {
    /// Another operator group's queue.
    Group(String),
    /// Hang up politely, promising a callback.
    Callback,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// Callers waiting at once; one more is refused. Small on purpose: a utility with two
    /// operators would rather call back than keep a seventh caller on hold for half an hour.
    pub max_waiting: usize,
    /// Counted from arrival, not from a requeue, so a missed ring does not restart the clock.
    pub max_wait: TimeDelta,
    pub overflow: Overflow,
    /// Used for estimates until the queue has handled a call of its own.
    pub default_handle_time: TimeDelta,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_waiting: 6,
            max_wait: TimeDelta::seconds(180),
            overflow: Overflow::Callback,
            default_handle_time: TimeDelta::seconds(180),
        }
    }
}

/// A caller in the queue. Higher `priority` is served first; `seq` is the arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub call: CallId,
    pub priority: u8,
    pub seq: u64,
    pub arrived: DateTime<Utc>,
}

impl Waiting {
    fn order(&self) -> (Reverse<u8>, u64) {
        (Reverse(self.priority), self.seq)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueAction {
    /// 1-based position, for "you are number 3 in the queue".
    Queued { call: CallId, position: usize },
    /// The queue is full: offer a callback instead.
    Refused { call: CallId },
    /// Waited longer than allowed: move the caller on.
    Overflowed { call: CallId, to: Overflow },
}

pub struct Queue {
    cfg: QueueConfig,
    waiting: BTreeMap<(Reverse<u8>, u64), Waiting>,
    next_seq: u64,
    handled: u32,
    handle_total: TimeDelta,
}

impl Queue {
    pub fn new(cfg: QueueConfig) -> Self {
        Self {
            cfg,
            waiting: BTreeMap::new(),
            next_seq: 1,
            handled: 0,
            handle_total: TimeDelta::zero(),
        }
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// A caller arrives. Arriving twice (a retried event) keeps the first place.
    pub fn handle_arrival(&mut self, now: DateTime<Utc>, call: &str, priority: u8) -> QueueAction {
        if let Some(position) = self.position(call) {
            return QueueAction::Queued {
                call: call.into(),
                position,
            };
        }
        if self.waiting.len() >= self.cfg.max_waiting {
            return QueueAction::Refused { call: call.into() };
        }
        let w = Waiting {
            call: call.into(),
            priority,
            seq: self.next_seq,
            arrived: now,
        };
        self.next_seq += 1;
        self.waiting.insert(w.order(), w);
        QueueAction::Queued {
            call: call.into(),
            position: self.position(call).expect("just inserted"),
        }
    }

    /// The caller to offer next, taken out of the queue.
    pub fn pop_head(&mut self) -> Option<Waiting> {
        self.waiting.pop_first().map(|(_, w)| w)
    }

    pub fn peek_head(&self) -> Option<&Waiting> {
        self.waiting.values().next()
    }

    /// After a missed ring: the caller keeps their original place, which is the head among
    /// their priority (everyone of that priority behind them arrived later). The cap does not
    /// apply: the caller was admitted already and refusing them now would drop them.
    pub fn requeue(&mut self, w: Waiting) {
        self.waiting.insert(w.order(), w);
    }

    /// The caller hung up while waiting.
    pub fn remove(&mut self, call: &str) -> Option<Waiting> {
        let key = self
            .waiting
            .iter()
            .find(|(_, w)| w.call == call)
            .map(|(k, _)| *k)?;
        self.waiting.remove(&key)
    }

    pub fn position(&self, call: &str) -> Option<usize> {
        self.waiting
            .values()
            .position(|w| w.call == call)
            .map(|i| i + 1)
    }

    /// Records a finished call's handle time (talk plus after-call work) for the estimates.
    pub fn handle_call_handled(&mut self, handle_time: TimeDelta) {
        self.handled += 1;
        self.handle_total += handle_time.max(TimeDelta::zero());
    }

    pub fn average_handle_time(&self) -> TimeDelta {
        if self.handled == 0 {
            self.cfg.default_handle_time
        } else {
            self.handle_total / self.handled as i32
        }
    }

    /// A rough estimate, position × AHT ÷ operators serving: callers are told a figure they
    /// can plan with, not a promise. With no operator serving, the estimate is for one.
    pub fn estimated_wait(&self, call: &str, operators: usize) -> Option<TimeDelta> {
        // Same rule as `estimate_wait`, in the model's own time type.
        let position = self.position(call)? as i32;
        let operators = operators.clamp(1, i32::MAX as usize) as i32;
        Some(self.average_handle_time() * position / operators)
    }

    /// The earliest moment a waiting caller overflows.
    pub fn poll_timeout(&self) -> Option<DateTime<Utc>> {
        self.waiting
            .values()
            .map(|w| w.arrived + self.cfg.max_wait)
            .min()
    }

    /// Moves on every caller who has waited `max_wait` or longer, in queue order.
    pub fn handle_timeout(&mut self, now: DateTime<Utc>) -> Vec<QueueAction> {
        let due: Vec<_> = self
            .waiting
            .iter()
            .filter(|(_, w)| now >= w.arrived + self.cfg.max_wait)
            .map(|(k, _)| *k)
            .collect();
        due.into_iter()
            .filter_map(|k| self.waiting.remove(&k))
            .map(|w| QueueAction::Overflowed {
                call: w.call,
                to: self.cfg.overflow.clone(),
            })
            .collect()
    }
}

/// The wait a caller at 1-based `position` can expect: the calls up to theirs shared by the
/// operators staffing the queue (at least one), each lasting the average handle time.
pub fn estimate_wait(
    position: u64,
    operators: usize,
    average_handle: std::time::Duration,
) -> std::time::Duration {
    let ops = operators.max(1) as u32;
    average_handle * (position.min(u64::from(u32::MAX)) as u32) / ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
    }

    fn queue() -> Queue {
        Queue::new(QueueConfig::default())
    }

    fn order(q: &mut Queue) -> Vec<String> {
        std::iter::from_fn(|| q.pop_head().map(|w| w.call)).collect()
    }

    #[test]
    fn priority_first_then_arrival() {
        let mut q = queue();
        q.handle_arrival(t(0), "a", 0);
        q.handle_arrival(t(1), "b", 1);
        q.handle_arrival(t(2), "c", 0);
        q.handle_arrival(t(3), "d", 1);
        assert_eq!(q.position("a"), Some(3));
        assert_eq!(order(&mut q), ["b", "d", "a", "c"]);
    }

    #[test]
    fn the_seventh_caller_is_refused_by_default() {
        let mut q = queue();
        for i in 0..6 {
            let out = q.handle_arrival(t(i), &format!("c{i}"), 0);
            assert_eq!(
                out,
                QueueAction::Queued {
                    call: format!("c{i}"),
                    position: i as usize + 1
                }
            );
        }
        assert_eq!(
            q.handle_arrival(t(7), "c6", 5),
            QueueAction::Refused { call: "c6".into() },
            "priority does not jump the cap"
        );
        q.pop_head();
        assert!(matches!(
            q.handle_arrival(t(8), "c7", 0),
            QueueAction::Queued { position: 6, .. }
        ));
    }

    #[test]
    fn the_cap_is_configurable_and_repeated_arrival_keeps_the_place() {
        let mut q = Queue::new(QueueConfig {
            max_waiting: 2,
            ..QueueConfig::default()
        });
        q.handle_arrival(t(0), "a", 0);
        q.handle_arrival(t(1), "b", 0);
        assert_eq!(
            q.handle_arrival(t(2), "a", 0),
            QueueAction::Queued {
                call: "a".into(),
                position: 1
            }
        );
        assert!(matches!(
            q.handle_arrival(t(2), "c", 0),
            QueueAction::Refused { .. }
        ));
    }

    #[test]
    fn missed_ring_puts_the_caller_back_at_the_head() {
        let mut q = queue();
        q.handle_arrival(t(0), "a", 0);
        q.handle_arrival(t(1), "b", 0);
        let a = q.pop_head().unwrap();
        q.handle_arrival(t(2), "c", 0);
        q.requeue(a);
        assert_eq!(q.position("a"), Some(1));
        assert_eq!(order(&mut q), ["a", "b", "c"]);
    }

    #[test]
    fn requeue_is_not_refused_by_a_full_queue() {
        let mut q = Queue::new(QueueConfig {
            max_waiting: 1,
            ..QueueConfig::default()
        });
        q.handle_arrival(t(0), "a", 0);
        let a = q.pop_head().unwrap();
        q.handle_arrival(t(1), "b", 0);
        q.requeue(a);
        assert_eq!(order(&mut q), ["a", "b"]);
    }

    #[test]
    fn overflow_after_max_wait_from_arrival() {
        let mut q = Queue::new(QueueConfig {
            max_wait: TimeDelta::seconds(60),
            overflow: Overflow::Group("billing-backup".into()),
            ..QueueConfig::default()
        });
        q.handle_arrival(t(0), "a", 0);
        q.handle_arrival(t(30), "b", 0);
        assert_eq!(q.poll_timeout(), Some(t(60)));
        assert!(q.handle_timeout(t(59)).is_empty());
        assert_eq!(
            q.handle_timeout(t(60)),
            vec![QueueAction::Overflowed {
                call: "a".into(),
                to: Overflow::Group("billing-backup".into())
            }]
        );
        assert_eq!(q.poll_timeout(), Some(t(90)));
        // A requeued caller keeps their arrival time and so their deadline.
        let b = q.pop_head().unwrap();
        q.requeue(b);
        assert_eq!(q.handle_timeout(t(95)).len(), 1);
        assert_eq!(q.poll_timeout(), None);
    }

    #[test]
    fn abandoned_caller_leaves_and_others_move_up() {
        let mut q = queue();
        q.handle_arrival(t(0), "a", 0);
        q.handle_arrival(t(1), "b", 0);
        assert_eq!(q.remove("a").map(|w| w.seq), Some(1));
        assert_eq!(q.remove("a"), None);
        assert_eq!(q.position("b"), Some(1));
    }

    #[test]
    fn estimate_wait_shares_calls_between_operators() {
        let aht = std::time::Duration::from_secs(120);
        assert_eq!(estimate_wait(1, 1, aht).as_secs(), 120);
        assert_eq!(estimate_wait(3, 2, aht).as_secs(), 180);
        // Nobody staffed: counted as one operator, not a division by zero.
        assert_eq!(estimate_wait(2, 0, aht).as_secs(), 240);
    }

    #[test]
    fn estimated_wait_from_average_handle_time() {
        let mut q = queue();
        q.handle_arrival(t(0), "a", 0);
        q.handle_arrival(t(1), "b", 0);
        q.handle_arrival(t(2), "c", 0);
        // Default until a call is handled.
        assert_eq!(q.estimated_wait("a", 1), Some(TimeDelta::seconds(180)));
        q.handle_call_handled(TimeDelta::seconds(100));
        q.handle_call_handled(TimeDelta::seconds(200));
        assert_eq!(q.average_handle_time(), TimeDelta::seconds(150));
        assert_eq!(q.estimated_wait("c", 2), Some(TimeDelta::seconds(225)));
        assert_eq!(q.estimated_wait("c", 0), Some(TimeDelta::seconds(450)));
        assert_eq!(q.estimated_wait("zz", 1), None);
    }
}
