//! Which ACD calls a supervisor must review (QA sampling), and what a review may say. Pure:
//! `store::qa` reads a day's calls and what is already sampled, asks [`select`] and stores
//! the answer (never removing a sample).
//!
//! Selection is deterministic: the same calls and samples give the same picks on any
//! instance and any run. Percentage sampling and the per-operator picks order calls by a
//! stable hash of the call's uuid ([`stable_rank`], SHA-256), not by a random draw, so a
//! second instance or a second run picks the same calls. Samples are kept for good, so a call
//! once picked stays picked even if the day's figures move later (the queue's average
//! handle time grows, another rule already covered an operator).
//!
//! Notice campaign calls are not sampled: they are recorded messages played to subscribers,
//! with no operator and no recording of the call (`calls` has no recording column).
//! Operator-campaign calls a person answered are: they wait in the ACD and are recorded
//! like inbound calls (`acd_calls.direction = 'outbound'`). The queue's percentage and its
//! long-call average are about the queue's inbound calls; `[qa] outbound` samples an
//! operator's outbound calls, and the per-operator rule counts both directions.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::forecast::day_start;

/// Why a call was picked; stored by name (`sql/010_qa.sql` checks the names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// The queue's percentage (`[qa] percent`).
    Percent,
    /// Topping up an operator's calls of the day to `[qa] per_operator_per_day`.
    PerOperator,
    /// Handle time above `[qa] long_call_factor` × the queue's average of the day.
    Long,
    /// Transferred by the operator to another queue.
    Transferred,
    /// Abandoned after waiting longer than `[qa] abandoned_after_seconds`.
    AbandonedWait,
    /// An operator's outbound (operator-campaign) call, by `[qa] outbound`.
    Outbound,
}

impl Reason {
    pub const ALL: [Reason; 6] = [
        Reason::Percent,
        Reason::PerOperator,
        Reason::Long,
        Reason::Transferred,
        Reason::AbandonedWait,
        Reason::Outbound,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Percent => "percent",
            Reason::PerOperator => "per_operator",
            Reason::Long => "long",
            Reason::Transferred => "transferred",
            Reason::AbandonedWait => "abandoned_wait",
            Reason::Outbound => "outbound",
        }
    }

    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The sampling rules (from `[qa]`); a rule at 0 (or false) is off.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    /// Percentage (0–100) of each queue's answered calls, by queue name.
    pub percent: BTreeMap<String, f64>,
    /// Answered calls per operator per day (at least, counting every reason).
    pub per_operator_per_day: u32,
    /// A call handled longer than this × its queue's average of the day (0: off).
    pub long_call_factor: f64,
    /// Calls the operator transferred.
    pub transferred: bool,
    /// Calls abandoned after waiting longer than this, seconds (0: off).
    pub abandoned_after_seconds: u64,
    /// Percentage (0–100) of an operator's handled outbound calls, by operator login.
    pub outbound: BTreeMap<String, f64>,
}

/// One finished call of the day, as selection sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub uuid: Uuid,
    pub queue: String,
    /// The operator who answered (id), if any.
    pub operator: Option<i64>,
    /// Talk plus after-call work, if answered.
    pub handle_s: Option<f64>,
    /// Outcome `transferred`: passed on to another queue after an answer.
    pub transferred: bool,
    /// Seconds waited before hanging up unanswered.
    pub abandoned_after_s: Option<f64>,
    /// An operator-campaign call (else an inbound caller).
    pub outbound: bool,
    /// The login of [`Call::operator`].
    pub login: Option<String>,
}

/// Where a call falls in the stable order: the first 8 bytes of SHA-256 of its uuid's 16
/// bytes, as a big-endian number. The same on every machine, every run, every version.
pub fn stable_rank(uuid: Uuid) -> u64 {
    let digest = Sha256::digest(uuid.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"))
}

/// Is the call inside the first `percent` % of the hash space? Exact to 1/10 000 of a
/// percent; 0 picks nothing, 100 everything.
pub fn in_percent(uuid: Uuid, percent: f64) -> bool {
    let per_million = (percent.clamp(0.0, 100.0) * 10_000.0).round() as u64;
    stable_rank(uuid) % 1_000_000 < per_million
}

/// The new samples of one day: each call not yet sampled with every reason that applies.
/// `already` is the day's samples so far, with the operator of each (the per-operator rule
/// tops up to its count, whatever picked the earlier ones).
pub fn select(
    rules: &Rules,
    calls: &[Call],
    already: &BTreeMap<Uuid, Option<i64>>,
) -> BTreeMap<Uuid, BTreeSet<Reason>> {
    let mut picked: BTreeMap<Uuid, BTreeSet<Reason>> = BTreeMap::new();
    let mut pick = |uuid: Uuid, why: Reason| {
        if !already.contains_key(&uuid) {
            picked.entry(uuid).or_default().insert(why);
        }
    };
    // each queue's average handle time of the day, over its answered calls of the same
    // direction (an outbound call is long against outbound calls)
    let mut handled: BTreeMap<(&str, bool), (f64, u32)> = BTreeMap::new();
    for c in calls {
        if let Some(h) = c.handle_s {
            let e = handled.entry((c.queue.as_str(), c.outbound)).or_default();
            *e = (e.0 + h, e.1 + 1);
        }
    }
    for c in calls {
        let answered = c.handle_s.is_some();
        if answered
            && c.outbound
            && c.login
                .as_ref()
                .and_then(|l| rules.outbound.get(l))
                .is_some_and(|p| in_percent(c.uuid, *p))
        {
            pick(c.uuid, Reason::Outbound);
        }
        if answered
            && !c.outbound
            && rules
                .percent
                .get(&c.queue)
                .is_some_and(|p| in_percent(c.uuid, *p))
        {
            pick(c.uuid, Reason::Percent);
        }
        if let (Some(h), true) = (c.handle_s, rules.long_call_factor > 0.0) {
            let (sum, n) = handled[&(c.queue.as_str(), c.outbound)];
            if h > rules.long_call_factor * sum / f64::from(n) {
                pick(c.uuid, Reason::Long);
            }
        }
        if rules.transferred && c.transferred {
            pick(c.uuid, Reason::Transferred);
        }
        if rules.abandoned_after_seconds > 0
            && c.abandoned_after_s
                .is_some_and(|w| w > rules.abandoned_after_seconds as f64)
        {
            pick(c.uuid, Reason::AbandonedWait);
        }
    }
    if rules.per_operator_per_day > 0 {
        let mut have: BTreeMap<i64, u32> = BTreeMap::new();
        let sampled_ops = already.values().copied().chain(
            calls
                .iter()
                .filter(|c| picked.contains_key(&c.uuid))
                .map(|c| c.operator),
        );
        for op in sampled_ops.flatten() {
            *have.entry(op).or_default() += 1;
        }
        let mut free: BTreeMap<i64, Vec<(u64, Uuid)>> = BTreeMap::new();
        for c in calls {
            if let (Some(op), true) = (c.operator, c.handle_s.is_some()) {
                if !already.contains_key(&c.uuid) && !picked.contains_key(&c.uuid) {
                    free.entry(op)
                        .or_default()
                        .push((stable_rank(c.uuid), c.uuid));
                }
            }
        }
        for (op, mut candidates) in free {
            let want = rules
                .per_operator_per_day
                .saturating_sub(have.get(&op).copied().unwrap_or(0));
            candidates.sort_unstable();
            for (_, uuid) in candidates.into_iter().take(want as usize) {
                picked.entry(uuid).or_default().insert(Reason::PerOperator);
            }
        }
    }
    picked
}

/// How long after a local midnight the day just over is swept: calls still ending then
/// (a talk across midnight) are sampled with it.
pub const SWEEP_AFTER_MIDNIGHT: chrono::Duration = chrono::Duration::minutes(10);

/// When the daily sweep next runs: [`SWEEP_AFTER_MIDNIGHT`] after the next local midnight
/// (the day's first instant, in zones that skip midnight).
pub fn next_sweep(zone: chrono_tz::Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    let today = now.with_timezone(&zone).date_naive();
    let at = |d: Option<chrono::NaiveDate>| {
        d.and_then(|d| day_start(zone, d))
            .map(|t| t + SWEEP_AFTER_MIDNIGHT)
    };
    // still before today's sweep (00:00–00:10), else tomorrow's
    match at(Some(today)) {
        Some(t) if t > now => t,
        _ => at(today.succ_opt()).unwrap_or(now + chrono::Duration::days(1)),
    }
}

/// Longest review comment, characters.
pub const MAX_COMMENT_CHARS: usize = 2000;
/// Longest reviewer name, characters.
pub const MAX_REVIEWER_CHARS: usize = 64;

/// A reviewer's verdict on a sampled call, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub reviewer: String,
    /// 0–100.
    pub score: u8,
    pub comment: String,
}

/// A refused review: the field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewError {
    pub field: &'static str,
    pub problem: String,
}

impl std::fmt::Display for ReviewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// Checks a review as given (CLI or API): score 0–100; reviewer 1–64 characters, no control
/// character (it is shown and logged); comment at most 2000 characters, line breaks and tabs
/// allowed, other control characters refused (they would forge log lines or CSV rows).
pub fn check_review(reviewer: &str, score: i64, comment: &str) -> Result<Review, ReviewError> {
    let err = |field, problem: &str| ReviewError {
        field,
        problem: problem.into(),
    };
    let score = u8::try_from(score)
        .ok()
        .filter(|s| *s <= 100)
        .ok_or_else(|| err("score", "must be a whole number 0-100"))?;
    let reviewer = reviewer.trim();
    if reviewer.is_empty() || reviewer.chars().count() > MAX_REVIEWER_CHARS {
        return Err(err("reviewer", "must be 1-64 characters"));
    }
    if reviewer.chars().any(char::is_control) {
        return Err(err("reviewer", "must not contain control characters"));
    }
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(err("comment", "must be at most 2000 characters"));
    }
    if comment
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(err(
            "comment",
            "must not contain control characters (line breaks and tabs are allowed)",
        ));
    }
    Ok(Review {
        reviewer: reviewer.to_string(),
        score,
        comment: comment.trim_end().to_string(),
    })
}

#[cfg(test)]
#[path = "qa_tests.rs"]
mod tests;
