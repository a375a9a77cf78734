//! A queue's rules: its order and who it admits (applied atomically by the Redis scripts of
//! `store::acd`, generated from these), where a caller who waited too long goes, what kind
//! of ACD call a caller is, and the wait a caller is told. Pure.

use serde::{Deserialize, Serialize};

/// Where a caller goes when they have waited too long (`[acd.queue.NAME] overflow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overflow {
    /// Another queue, `queue:NAME`.
    Queue(String),
    /// `callback`: the caller is offered a callback instead of waiting on.
    Callback,
}

impl Overflow {
    /// Reads the configured value; None for anything else (the config refuses that at load).
    pub fn parse(s: &str) -> Option<Self> {
        match s.strip_prefix("queue:") {
            Some(q) if !q.is_empty() => Some(Overflow::Queue(q.to_string())),
            Some(_) => None,
            None if s == "callback" => Some(Overflow::Callback),
            None => None,
        }
    }
}

/// Between two priorities in a queue's order: more arrivals than the ACD's event clock hands
/// out before 2058, so a lower priority never overtakes a higher one, and the order stays an
/// exact integer (below 2⁵³) that a Redis sorted set keeps.
pub const PRIORITY_STRIDE: u64 = 1 << 40;

/// A caller's place in a queue's order, lowest first: the highest priority, then the
/// earliest arrival (`seq`, from the ACD's event clock). Redis orders the queue by it.
pub fn order_score(priority: u8, seq: u64) -> u64 {
    u64::from(255 - priority) * PRIORITY_STRIDE + seq
}

/// Whether a queue where `waiting` callers wait admits one more; if not, the caller is
/// offered a callback instead of waiting (`[acd.queue.NAME] max_waiting`).
pub fn admits(waiting: usize, max_waiting: usize) -> bool {
    waiting < max_waiting
}

/// What kind of call an ACD caller is, as every instance must know it (kept with the
/// caller's meta in Redis, under these names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// A caller waiting in a queue (or talking with an operator).
    #[default]
    #[serde(rename = "")]
    Waiting,
    /// Refused by a full queue or overflowed: being offered a callback instead.
    Callback,
    /// A callback being dialed: the operator leg first, then the customer.
    CallbackDial,
    /// An attended transfer's consult item: the target queue's operator is rung for it
    /// while the first operator holds the caller.
    Consult,
}

/// How long past the ring timeout an offer may still be under way at the instance that
/// made it (the originate's reply, the answer's handling) before others treat it as stale.
pub const OFFER_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// Whether an offer made at `offered_ms` is stale at `now_ms`: its phone would have rung
/// out (`ring_timeout`) plus [`OFFER_GRACE`], so nobody is carrying it on any more.
pub fn offer_is_stale(offered_ms: i64, now_ms: i64, ring_timeout: std::time::Duration) -> bool {
    let limit = (ring_timeout + OFFER_GRACE).as_millis() as i64;
    now_ms - offered_ms >= limit
}

/// The wait a caller at 1-based `position` can expect: the calls up to theirs shared by the
/// operators staffing the queue (at least one), each lasting the average handle time. A
/// figure to plan with, not a promise.
pub fn estimate_wait(
    position: u64,
    operators: usize,
    average_handle: std::time::Duration,
) -> std::time::Duration {
    let ops = operators.clamp(1, u32::MAX as usize) as u32;
    average_handle * (position.min(u64::from(u32::MAX)) as u32) / ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_first_then_arrival_and_a_full_queue_admits_nobody() {
        // a later arrival of a higher priority goes first; within one, the earlier
        assert!(order_score(200, 9_000) < order_score(100, 1));
        assert!(order_score(100, 1) < order_score(100, 2));
        // the latest arrival the clock hands out before 2058 stays behind the next priority
        assert!(order_score(100, PRIORITY_STRIDE - 1) < order_score(99, 0));
        assert!(
            order_score(0, PRIORITY_STRIDE - 1) < 1 << 53,
            "exact in a Redis score"
        );
        assert!(admits(5, 6));
        assert!(!admits(6, 6));
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
    fn an_offer_is_stale_once_it_would_have_rung_out_and_the_grace_is_over() {
        let ring = std::time::Duration::from_secs(25);
        assert!(!offer_is_stale(1_000, 1_000 + 44_999, ring));
        assert!(offer_is_stale(1_000, 1_000 + 45_000, ring));
        assert!(!offer_is_stale(1_000, 0, ring), "a clock behind the offer");
    }

    #[test]
    fn overflow_is_a_queue_or_a_callback() {
        assert_eq!(
            Overflow::parse("queue:billing"),
            Some(Overflow::Queue("billing".into()))
        );
        assert_eq!(Overflow::parse("callback"), Some(Overflow::Callback));
        assert_eq!(Overflow::parse("queue:"), None);
        assert_eq!(Overflow::parse("voicemail"), None);
    }

    #[test]
    fn call_kinds_keep_their_stored_names() {
        let names: Vec<String> = [
            CallKind::Waiting,
            CallKind::Callback,
            CallKind::CallbackDial,
            CallKind::Consult,
        ]
        .iter()
        .map(|k| serde_json::to_string(k).unwrap())
        .collect();
        assert_eq!(
            names,
            ["\"\"", "\"callback\"", "\"callback_dial\"", "\"consult\""]
        );
        let k: CallKind = serde_json::from_str("\"callback_dial\"").unwrap();
        assert_eq!(k, CallKind::CallbackDial);
    }
}
