//! What the staffing forecast reads from PostgreSQL: a queue's calls per local day and
//! half-hour over the past weeks (`acd_calls`), when history began, and the operators'
//! shrinkage (`operator_states`); the forecast itself is `core::forecast`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use deadpool_postgres::Pool;

use crate::core::forecast::{day_start, ForecastInput, SlotHistory};
pub use crate::core::forecast::{Goal, IntervalForecast};

use super::StoreError;

/// What to forecast.
#[derive(Debug, Clone)]
pub struct ForecastQuery {
    pub queue: String,
    /// Past weeks averaged (1–52).
    pub weeks: u32,
    /// First local day forecast, and how many days.
    pub first_day: NaiveDate,
    pub days: u32,
    pub goal: Goal,
    /// Handle time assumed where history has calls but no answered one at all
    /// (`acd.default_handle_seconds`).
    pub default_handle: Duration,
    /// The time now: days not over are not history, and an open state period ends now.
    pub now: DateTime<Utc>,
}

/// A queue's forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    pub queue: String,
    /// Share of staffed time on break or absent over the same weeks (0–0.9).
    pub shrinkage: f64,
    /// Every real half-hour of the days asked, in order.
    pub intervals: Vec<IntervalForecast>,
}

/// The forecast of `q.queue`, intervals in the local days of `zone` (`[mail]
/// report_time_zone`).
pub async fn forecast(pool: &Pool, zone: Tz, q: &ForecastQuery) -> Result<Forecast, StoreError> {
    let window_start = q
        .first_day
        .checked_sub_days(Days::new(7 * u64::from(q.weeks)))
        .and_then(|d| day_start(zone, d));
    let (Some(from), Some(to)) = (window_start, day_start(zone, q.first_day)) else {
        return Err(StoreError::Config(format!(
            "no forecast window before {}",
            q.first_day
        )));
    };
    let client = pool.get().await?;
    // Local day and wall slot computed by PostgreSQL in the same IANA zone.
    let rows = client
        .query(
            "SELECT (l)::date, (extract(hour FROM l) * 2 + floor(extract(minute FROM l) / 30))::int,
                    count(*), count(*) FILTER (WHERE talk_s IS NOT NULL),
                    COALESCE(sum(talk_s + COALESCE(wrap_up_s, 0)), 0)::float8
             FROM (SELECT entered_at AT TIME ZONE $2 AS l, talk_s, wrap_up_s FROM acd_calls
                   WHERE queue = $1 AND entered_at >= $3 AND entered_at < $4) c
             GROUP BY 1, 2",
            &[&q.queue, &zone.name(), &from, &to],
        )
        .await?;
    let mut history = BTreeMap::new();
    let (mut answered, mut handle) = (0u64, 0.0);
    for r in rows {
        let slot: i32 = r.get(1);
        let h = SlotHistory {
            calls: r.get::<_, i64>(2) as u64,
            answered: r.get::<_, i64>(3) as u64,
            handle_s: r.get(4),
        };
        answered += h.answered;
        handle += h.handle_s;
        history.insert((r.get::<_, NaiveDate>(0), slot as u32), h);
    }
    let recorded_from: Option<DateTime<Utc>> = client
        .query_one("SELECT min(entered_at) FROM acd_calls", &[])
        .await?
        .get(0);
    // Staffed time (every state but logged_out) and break/absent time, periods clipped to
    // the window, an open period ending now.
    let end = to.min(q.now);
    let row = client
        .query_one(
            "SELECT COALESCE(sum(s), 0)::float8,
                    COALESCE(sum(s) FILTER (WHERE state IN ('break', 'absent')), 0)::float8
             FROM (SELECT state, greatest(0, extract(epoch FROM
                          least(COALESCE(until, $3), $2) - greatest(since, $1))) AS s
                   FROM operator_states
                   WHERE state <> 'logged_out' AND since < $2
                     AND (until IS NULL OR until > $1)) p",
            &[&from, &end, &q.now],
        )
        .await?;
    let shrinkage = crate::core::forecast::shrinkage(row.get(1), row.get(0));
    let fallback_aht = if answered > 0 {
        Duration::from_secs_f64(handle / answered as f64)
    } else {
        q.default_handle
    };
    let input = ForecastInput {
        zone,
        first_day: q.first_day,
        days: q.days,
        weeks: q.weeks,
        recorded_from,
        now: q.now,
        history,
        goal: q.goal,
        fallback_aht,
        shrinkage,
    };
    Ok(Forecast {
        queue: q.queue.clone(),
        shrinkage,
        intervals: crate::core::forecast::forecast(&input),
    })
}
