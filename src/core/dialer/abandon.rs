//! The abandon window of one campaign: every answered person with whether they got an
//! operator in time, kept long enough for the rolling 24 h figure and for "since the day
//! start" (a local midnight, at most 25 h back across a DST change).

use std::collections::VecDeque;

use chrono::{DateTime, TimeDelta, Utc};

/// Beyond this, a gap between the switch's answer and contactd's clock is taken for the two
/// clocks disagreeing (NTP not running on one of them), not for the person's wait: counting
/// it would send every call to the abandon message at once.
pub const MAX_ANSWER_LAG: TimeDelta = TimeDelta::milliseconds(1_000);

/// How long ago the person answered, for the abandon limit that runs from their answer: the
/// switch's answer time (`answered_us`, its clock) against contactd's `now`. Zero when the
/// answer is not known, is in the future, or is older than [`MAX_ANSWER_LAG`] (the clocks
/// disagree; contactd hearing of the answer then starts the limit, as before).
pub fn answer_lag(answered_us: Option<i64>, now: DateTime<Utc>) -> std::time::Duration {
    let Some(at) = answered_us.and_then(DateTime::from_timestamp_micros) else {
        return std::time::Duration::ZERO;
    };
    match now.signed_duration_since(at) {
        lag if lag > TimeDelta::zero() && lag <= MAX_ANSWER_LAG => lag.to_std().unwrap_or_default(),
        _ => std::time::Duration::ZERO,
    }
}

/// How long answered calls are kept: 24 h, and a local day start up to 25 h back.
const KEEP_HOURS: i64 = 26;

/// Abandon figures of one campaign: the legal rolling 24 h and since the day start.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AbandonFigures {
    pub answered_24h: u32,
    pub abandoned_24h: u32,
    /// abandoned ÷ answered × 100 over the last 24 h; 0 before anyone answered.
    pub pct_24h: f64,
    pub answered_today: u32,
    pub abandoned_today: u32,
    pub pct_today: f64,
}

/// Answered persons by answer time, oldest first, with whether they were abandoned.
#[derive(Debug, Default)]
pub(super) struct AbandonWindow {
    calls: VecDeque<(DateTime<Utc>, bool)>,
}

impl AbandonWindow {
    pub(super) fn push(&mut self, at: DateTime<Utc>, abandoned: bool) {
        // events arrive in time order; a late one is put in its place
        let i = self.calls.partition_point(|(t, _)| *t <= at);
        self.calls.insert(i, (at, abandoned));
        let last = self.calls.back().map_or(at, |c| c.0);
        self.prune(last);
    }

    /// Seeds from the records after a restart; older than the kept span is dropped.
    pub(super) fn extend(&mut self, calls: impl IntoIterator<Item = (DateTime<Utc>, bool)>) {
        self.calls.extend(calls);
        self.calls.make_contiguous().sort_by_key(|c| c.0);
        if let Some(last) = self.calls.back().map(|c| c.0) {
            self.prune(last);
        }
    }

    fn prune(&mut self, now: DateTime<Utc>) {
        let oldest = now - TimeDelta::hours(KEEP_HOURS);
        while self.calls.front().is_some_and(|c| c.0 < oldest) {
            self.calls.pop_front();
        }
    }

    /// (answered, abandoned) with an answer time in `(since, now]`.
    fn count(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> (u32, u32) {
        let from = self.calls.partition_point(|c| c.0 <= since);
        let to = self.calls.partition_point(|c| c.0 <= now);
        let mut answered = 0u32;
        let mut abandoned = 0u32;
        for (_, a) in self.calls.range(from..to.max(from)) {
            answered += 1;
            abandoned += u32::from(*a);
        }
        (answered, abandoned)
    }

    pub(super) fn figures(&self, now: DateTime<Utc>, day_start: DateTime<Utc>) -> AbandonFigures {
        let (answered_24h, abandoned_24h) = self.count(now - TimeDelta::hours(24), now);
        // the day start itself belongs to the day
        let (answered_today, abandoned_today) =
            self.count(day_start - TimeDelta::nanoseconds(1), now);
        AbandonFigures {
            answered_24h,
            abandoned_24h,
            pct_24h: pct(abandoned_24h, answered_24h),
            answered_today,
            abandoned_today,
            pct_today: pct(abandoned_today, answered_today),
        }
    }

    /// The rolling 24 h (answered, percentage) the pacer's fallback works from.
    pub(super) fn last_24h(&self, now: DateTime<Utc>) -> (u32, f64) {
        let (answered, abandoned) = self.count(now - TimeDelta::hours(24), now);
        (answered, pct(abandoned, answered))
    }
}

fn pct(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        f64::from(part) * 100.0 / f64::from(whole)
    }
}

#[cfg(test)]
mod lag_tests {
    use super::*;
    use std::time::Duration;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_780_000_000_000 + ms).unwrap()
    }

    #[test]
    fn the_wait_counts_from_the_switchs_answer() {
        let answered = at(0).timestamp_micros();
        assert_eq!(
            answer_lag(Some(answered), at(350)),
            Duration::from_millis(350)
        );
        assert_eq!(
            answer_lag(Some(answered), at(1_000)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn clocks_that_disagree_are_not_taken_for_a_wait() {
        let answered = at(0).timestamp_micros();
        // the switch's clock ahead of contactd's, or behind by more than a lag can be
        assert_eq!(answer_lag(Some(answered), at(-200)), Duration::ZERO);
        assert_eq!(answer_lag(Some(answered), at(1_001)), Duration::ZERO);
        assert_eq!(answer_lag(Some(answered), at(60_000)), Duration::ZERO);
        assert_eq!(answer_lag(None, at(0)), Duration::ZERO);
    }
}
