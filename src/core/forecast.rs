//! The staffing forecast from history: each 30-minute interval of the coming days from the
//! same weekday and local time of the past weeks, then operators by `core::staffing` and
//! the need with shrinkage (time staffed but on break or absent). Pure: the history and the
//! time come in as arguments (`store::forecast` reads them).
//!
//! **Intervals are local wall-clock half-hours** in the report zone (`[mail]
//! report_time_zone`), so "Monday 09:00" means 09:00 in the office whatever the UTC offset.
//! History is kept per local day and wall slot (0 = 00:00–00:30, … 47 = 23:30–24:00).
//!
//! **Which past days count.** The forecast of a day uses the same weekday in the `weeks`
//! weeks before `first_day`; a past day counts only if it is a whole day of recorded history:
//! on or after the day contactd recorded its first ACD call (`recorded_from`) and over
//! before `now`. Weeks before the history began, or a day not over yet, are left out of the
//! average (not counted as zero calls), so two weeks of history give a two-week average. A
//! counted day with no call in a slot does count as zero for it (the queue was quiet).
//!
//! **Daylight saving.** A day with a clock change has 46 or 50 real half-hours. A wall slot
//! that did not exist that day (spring forward) leaves that day out of that slot's average;
//! one that happened twice (fall back) has its calls halved, so every value averaged is per
//! real half-hour. The forecast day likewise has one interval per real half-hour, each from
//! its wall slot.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::staffing::{erlang_a, operators_needed, operators_needed_a, with_operators, Load};

/// One interval's length.
pub const INTERVAL: Duration = Duration::from_secs(30 * 60);
/// Wall slots in a day.
pub const SLOTS: u32 = 48;
/// Most operators considered for one interval; beyond, the goal is out of reach and this
/// figure is shown.
pub const MAX_OPERATORS: u32 = 5_000;
/// Shrinkage is capped here: with more, the need with shrinkage would be absurd (or
/// infinite at 100 %), and such a figure means the state log is wrong, not the staff.
pub const MAX_SHRINKAGE: f64 = 0.9;

/// The service-level goal the operators are counted for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Goal {
    /// Answer within this…
    pub target: Duration,
    /// …this share of the callers (0–1, exclusive).
    pub service_level: f64,
    /// The callers' average patience: Erlang A when given, Erlang C otherwise.
    pub patience: Option<Duration>,
}

/// What one past half-hour of a queue held.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SlotHistory {
    /// Calls offered (entered the queue).
    pub calls: u64,
    /// Of those, answered by an operator (with talk time).
    pub answered: u64,
    /// Talk plus after-call work of the answered calls, seconds.
    pub handle_s: f64,
}

/// Everything the forecast is made from.
#[derive(Debug, Clone)]
pub struct ForecastInput {
    pub zone: Tz,
    /// The first local day forecast, and how many.
    pub first_day: NaiveDate,
    pub days: u32,
    /// Past weeks the average is taken over.
    pub weeks: u32,
    /// The first ACD call ever recorded (any queue); `None`: no history at all.
    pub recorded_from: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
    /// The queue's history by local day and wall slot (absent: no call).
    pub history: BTreeMap<(NaiveDate, u32), SlotHistory>,
    pub goal: Goal,
    /// Average handle time for an interval with calls but no answered call in its history
    /// (the queue's over the whole window, else the configured default).
    pub fallback_aht: Duration,
    /// Share of staffed time on break or absent (0–1), see [`shrinkage`].
    pub shrinkage: f64,
}

/// One forecast interval.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalForecast {
    pub start: DateTime<Utc>,
    /// Calls expected in the half-hour (an average, not rounded).
    pub calls: f64,
    /// Average handle time expected, seconds (0 when no call is expected).
    pub aht_s: f64,
    /// Operators on calls needed to meet the goal (Erlang C, or A with a patience).
    pub operators: u32,
    /// Operators to roster once breaks and absence are allowed for.
    pub with_shrinkage: u32,
    /// The service level `operators` reach (1 when no call is expected).
    pub service_level: f64,
}

/// The W past dates of `day`'s weekday, newest first, before `first_day`.
fn same_weekdays(day: NaiveDate, first_day: NaiveDate, weeks: u32) -> Vec<NaiveDate> {
    // the latest date before first_day with day's weekday
    let back =
        (first_day.weekday().num_days_from_monday() + 7 - day.weekday().num_days_from_monday()) % 7;
    let back = if back == 0 { 7 } else { back };
    let latest = first_day - Days::new(u64::from(back));
    (0..weeks)
        .filter_map(|w| latest.checked_sub_days(Days::new(7 * u64::from(w))))
        .collect()
}

/// The UTC start of each real half-hour of a local day, with its wall slot.
pub fn intervals_of(zone: Tz, day: NaiveDate) -> Vec<(DateTime<Utc>, u32)> {
    let (Some(start), Some(end)) = (
        day_start(zone, day),
        day.succ_opt().and_then(|d| day_start(zone, d)),
    ) else {
        return Vec::new();
    };
    let step = chrono::Duration::minutes(30);
    let mut out = Vec::with_capacity(50);
    let mut t = start;
    while t < end {
        let local = t.with_timezone(&zone);
        out.push((t, local.hour() * 2 + local.minute() / 30));
        t += step;
    }
    out
}

/// When a local day begins, in UTC (its first instant, should midnight not exist).
pub fn day_start(zone: Tz, day: NaiveDate) -> Option<DateTime<Utc>> {
    // A zone that skips midnight begins the day at the first instant that exists; half-hour
    // steps find it.
    (0..48).find_map(|i| {
        let t = NaiveTime::from_num_seconds_from_midnight_opt(i * 1800, 0)?;
        zone.from_local_datetime(&day.and_time(t))
            .earliest()
            .map(|d| d.with_timezone(&Utc))
    })
}

/// How many real half-hours of `day` had each wall slot (2 in a fall-back hour, 0 if skipped).
fn slot_counts(zone: Tz, day: NaiveDate) -> [u8; SLOTS as usize] {
    let mut counts = [0u8; SLOTS as usize];
    for (_, slot) in intervals_of(zone, day) {
        counts[slot as usize] += 1;
    }
    counts
}

/// The past days that count (module doc): whole days of recorded history.
fn counts_as_history(input: &ForecastInput, day: NaiveDate) -> bool {
    let Some(from) = input.recorded_from else {
        return false;
    };
    let first_recorded = from.with_timezone(&input.zone).date_naive();
    let over = day
        .succ_opt()
        .and_then(|d| day_start(input.zone, d))
        .is_some_and(|end| end <= input.now);
    day >= first_recorded && over
}

/// Calls and AHT expected in `slot` of a day whose past same weekdays are `past`: the mean
/// per real half-hour over the counted days that had the slot; AHT weighted by answered calls.
fn average(
    input: &ForecastInput,
    past: &[(NaiveDate, [u8; SLOTS as usize])],
    slot: u32,
) -> (f64, Option<f64>) {
    let (mut days, mut calls, mut answered, mut handle) = (0u32, 0.0, 0.0, 0.0);
    for (day, counts) in past {
        let times = f64::from(counts[slot as usize]);
        if times == 0.0 {
            continue;
        }
        days += 1;
        if let Some(h) = input.history.get(&(*day, slot)) {
            calls += h.calls as f64 / times;
            answered += h.answered as f64;
            handle += h.handle_s;
        }
    }
    if days == 0 {
        return (0.0, None);
    }
    let aht = (answered > 0.0).then(|| handle / answered);
    (calls / f64::from(days), aht)
}

/// Operators needed for `calls` in a half-hour of `aht_s` each, and the service level they
/// reach; zero calls need nobody.
pub fn operators_for(calls: f64, aht_s: f64, goal: &Goal) -> (u32, f64) {
    if calls <= 0.0 || aht_s <= 0.0 {
        return (0, 1.0);
    }
    let load = Load {
        calls_per_hour: calls * 3600.0 / INTERVAL.as_secs_f64(),
        aht: Duration::from_secs_f64(aht_s),
    };
    match goal.patience {
        None => match operators_needed(load, goal.target, goal.service_level, MAX_OPERATORS) {
            Some(s) => (s.operators, s.service_level),
            None => {
                let s = with_operators(load, MAX_OPERATORS, goal.target);
                (MAX_OPERATORS, s.service_level)
            }
        },
        Some(p) => {
            match operators_needed_a(load, goal.target, goal.service_level, p, MAX_OPERATORS) {
                Some(s) => (s.operators, s.service_level),
                None => (
                    MAX_OPERATORS,
                    erlang_a(load, MAX_OPERATORS, goal.target, p).map_or(0.0, |s| s.service_level),
                ),
            }
        }
    }
}

/// Share of staffed time lost to breaks and absence, capped at [`MAX_SHRINKAGE`]; 0 when
/// nobody was staffed.
pub fn shrinkage(break_absent_s: f64, staffed_s: f64) -> f64 {
    let positive = |x: f64| x.is_finite() && x > 0.0;
    if !positive(staffed_s) || !positive(break_absent_s) {
        return 0.0;
    }
    (break_absent_s / staffed_s).min(MAX_SHRINKAGE)
}

/// Operators to roster so that `needed` are on calls while `shrinkage` of the staffed time
/// goes to breaks: ⌈n / (1 − shrinkage)⌉. The quotient is rounded to 1e-9 before the
/// ceiling, so 8 / (1 − 0.2) is 10, not 11 by a floating-point hair.
pub fn with_shrinkage(needed: u32, shrinkage: f64) -> u32 {
    if needed == 0 {
        return 0;
    }
    let s = shrinkage.clamp(0.0, MAX_SHRINKAGE);
    let q = f64::from(needed) / (1.0 - s);
    ((q * 1e9).round() / 1e9).ceil() as u32
}

/// Every real half-hour of `first_day` and the `days - 1` days after it, forecast.
pub fn forecast(input: &ForecastInput) -> Vec<IntervalForecast> {
    let mut out = Vec::new();
    for d in 0..input.days {
        let Some(day) = input.first_day.checked_add_days(Days::new(u64::from(d))) else {
            break;
        };
        let past: Vec<_> = same_weekdays(day, input.first_day, input.weeks)
            .into_iter()
            .filter(|p| counts_as_history(input, *p))
            .map(|p| (p, slot_counts(input.zone, p)))
            .collect();
        for (start, slot) in intervals_of(input.zone, day) {
            let (calls, aht) = average(input, &past, slot);
            let aht_s = if calls > 0.0 {
                aht.unwrap_or(input.fallback_aht.as_secs_f64())
            } else {
                0.0
            };
            let (operators, service_level) = operators_for(calls, aht_s, &input.goal);
            out.push(IntervalForecast {
                start,
                calls,
                aht_s,
                operators,
                with_shrinkage: with_shrinkage(operators, input.shrinkage),
                service_level,
            });
        }
    }
    out
}

#[cfg(test)]
#[path = "forecast_tests.rs"]
mod tests;
