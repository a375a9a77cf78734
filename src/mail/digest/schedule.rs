//! When the digest is due, and the task that queues it.
//!
//! At `[mail] digest_at` local time (`report_time_zone`) the daily digest of the day before
//! is due, and on Mondays (with `digest_weekly`) the weekly one of the seven days before.
//! The rule ([`DigestSchedule::due`]) is pure and takes `now`, so it is the same for the
//! task and for a daemon that starts late: whatever is due today and not in the outbox yet
//! is queued at start, so a daemon that was down at the time catches up yesterday's digest
//! (only that: older days are not sent). Every instance runs the task; the outbox's
//! `UNIQUE (kind, period)` lets one of them queue each digest, and the outbox sends it once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use deadpool_postgres::Pool;
use tokio::sync::watch;

use super::gather::{gather, GatherOptions};
use super::{enqueue, queued, Period};
use crate::clock::Clock;
use crate::config::{Config, MailConfig};
use crate::mail::MailError;

/// The weekly digest goes out on this day, covering the seven days before.
pub const FIRST_DAY_OF_WEEK: Weekday = Weekday::Mon;

/// The task looks again at least this often, so a wall clock set forward or back is
/// followed within this long.
const LOOK_AT_LEAST_EVERY: Duration = Duration::from_secs(600);

/// After a failure (database away) the task tries again this much later.
const RETRY: Duration = Duration::from_secs(60);

/// `HH:MM`, the form of `[mail] digest_at`.
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    (s.len() == 5)
        .then(|| NaiveTime::parse_from_str(s, "%H:%M").ok())
        .flatten()
}

/// When digests are due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestSchedule {
    pub at: NaiveTime,
    pub weekly: bool,
    pub zone: Tz,
}

impl DigestSchedule {
    /// From `[mail]`; `None` when no digest is configured (`digest_at` unset) or the keys
    /// are wrong (the config check names them).
    pub fn from_config(m: &MailConfig) -> Option<DigestSchedule> {
        Some(DigestSchedule {
            at: parse_time(m.digest_at.as_deref()?)?,
            weekly: m.digest_weekly,
            zone: m.report_time_zone.trim().parse().ok()?,
        })
    }

    /// The instant `at` on the local `day`: a time a DST jump skips is taken an hour
    /// later, a repeated one at its first occurrence.
    pub fn fire_at(&self, day: NaiveDate) -> DateTime<Utc> {
        let local = day.and_time(self.at);
        self.zone
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                self.zone
                    .from_local_datetime(&(local + chrono::TimeDelta::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&local))
    }

    /// The digests due at `now`, as (period, first day covered): from today's `at` on,
    /// yesterday's daily digest and, on the first day of the week, the last seven days'.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<(Period, NaiveDate)> {
        let today = now.with_timezone(&self.zone).date_naive();
        if now < self.fire_at(today) {
            return Vec::new();
        }
        let mut out = vec![(Period::Daily, today - Days::new(1))];
        if self.weekly && today.weekday() == FIRST_DAY_OF_WEEK {
            out.push((Period::Weekly, today - Days::new(7)));
        }
        out
    }

    /// The next time something falls due, strictly after `now`.
    pub fn next_fire(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let today = now.with_timezone(&self.zone).date_naive();
        let fire = self.fire_at(today);
        if now < fire {
            fire
        } else {
            self.fire_at(today + Days::new(1))
        }
    }
}

/// Gathers and queues that digest unless it is in the outbox already. Returns whether
/// this call queued it.
pub async fn enqueue_due(
    pool: &Pool,
    opts: &GatherOptions,
    recipients: &[String],
    period: Period,
    first_day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<bool, MailError> {
    // cheap look first: gathering reads the whole period
    if queued(pool, period, first_day).await? {
        return Ok(false);
    }
    let d = gather(pool, opts, period, first_day, now).await?;
    enqueue(pool, recipients, &d).await
}

/// Queues each digest when it falls due, until `shutdown`. Does nothing without
/// `[mail] digest_at`.
pub async fn run(
    pool: Pool,
    config: Arc<Config>,
    clock: Clock,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some(schedule) = DigestSchedule::from_config(&config.mail) else {
        return;
    };
    let opts = match GatherOptions::from_config(&config) {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "digest: not scheduled");
            return;
        }
    };
    tracing::info!(at = %schedule.at, zone = %schedule.zone, weekly = schedule.weekly, "digest scheduled");
    // what this task queued or found queued: not looked up again
    let mut done: BTreeSet<(&'static str, NaiveDate)> = BTreeSet::new();
    loop {
        let now = clock.now();
        let mut failed = false;
        let due = schedule.due(now);
        // only what is due today can be looked up again
        done.retain(|d| due.iter().any(|(p, day)| (p.kind(), *day) == *d));
        for (period, day) in due {
            if done.contains(&(period.kind(), day)) {
                continue;
            }
            match enqueue_due(&pool, &opts, &config.mail.auditors, period, day, now).await {
                Ok(queued_now) => {
                    if queued_now {
                        tracing::info!(kind = period.kind(), %day, "digest queued");
                    }
                    done.insert((period.kind(), day));
                }
                Err(e) => {
                    tracing::warn!(kind = period.kind(), %day, error = %e, "digest not queued, will retry");
                    failed = true;
                }
            }
        }
        let wait = if failed {
            RETRY
        } else {
            (schedule.next_fire(now) - now)
                .to_std()
                .unwrap_or_default()
                .min(LOOK_AT_LEAST_EVERY)
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            r = shutdown.wait_for(|s| *s) => { let _ = r; return; }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msk(at: &str, weekly: bool) -> DigestSchedule {
        DigestSchedule {
            at: parse_time(at).unwrap(),
            weekly,
            zone: "Europe/Moscow".parse().unwrap(),
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn digest_at_is_hh_mm() {
        assert_eq!(parse_time("07:00"), NaiveTime::from_hms_opt(7, 0, 0));
        assert_eq!(parse_time(" 23:59 "), NaiveTime::from_hms_opt(23, 59, 0));
        for bad in ["7:00", "24:00", "07:60", "07-00", "07:00:00", ""] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn yesterdays_digest_is_due_from_the_local_time_on() {
        let s = msk("07:00", true);
        // Wednesday 2 December 2026, 06:59:59 and 07:00 in Moscow (UTC+3)
        assert_eq!(s.due(t("2026-12-02T03:59:59Z")), vec![]);
        assert_eq!(
            s.due(t("2026-12-02T04:00:00Z")),
            vec![(Period::Daily, day("2026-12-01"))]
        );
        // still due (and queued once) for the rest of the day
        assert_eq!(
            s.due(t("2026-12-02T20:59:59Z")),
            vec![(Period::Daily, day("2026-12-01"))]
        );
        // 00:30 on the 3rd: the new day's time has not come yet
        assert_eq!(s.due(t("2026-12-02T21:30:00Z")), vec![]);
    }

    #[test]
    fn on_monday_the_week_before_is_due_too() {
        // Monday 7 December 2026, 07:00 Moscow
        let now = t("2026-12-07T04:00:00Z");
        assert_eq!(
            msk("07:00", true).due(now),
            vec![
                (Period::Daily, day("2026-12-06")),
                (Period::Weekly, day("2026-11-30"))
            ]
        );
        assert_eq!(
            msk("07:00", false).due(now),
            vec![(Period::Daily, day("2026-12-06"))]
        );
    }

    #[test]
    fn the_next_fire_is_today_or_tomorrow() {
        let s = msk("07:00", true);
        assert_eq!(
            s.next_fire(t("2026-12-02T03:00:00Z")),
            t("2026-12-02T04:00:00Z")
        );
        assert_eq!(
            s.next_fire(t("2026-12-02T04:00:00Z")),
            t("2026-12-03T04:00:00Z")
        );
        assert_eq!(
            s.next_fire(t("2026-12-02T22:00:00Z")),
            t("2026-12-03T04:00:00Z")
        );
    }

    #[test]
    fn a_time_skipped_by_dst_fires_an_hour_later() {
        let s = DigestSchedule {
            at: parse_time("02:30").unwrap(),
            weekly: false,
            zone: "Europe/Berlin".parse().unwrap(),
        };
        // 29 March 2026: 02:00 -> 03:00 in Berlin; 03:30 CEST is 01:30 UTC
        assert_eq!(s.fire_at(day("2026-03-29")), t("2026-03-29T01:30:00Z"));
        // 25 October 2026: 02:30 happens twice, the first (CEST) is 00:30 UTC
        assert_eq!(s.fire_at(day("2026-10-25")), t("2026-10-25T00:30:00Z"));
    }

    #[test]
    fn no_digest_without_digest_at() {
        assert_eq!(DigestSchedule::from_config(&MailConfig::default()), None);
        let m = MailConfig {
            digest_at: Some("06:15".into()),
            report_time_zone: "Asia/Yekaterinburg".into(),
            ..MailConfig::default()
        };
        let s = DigestSchedule::from_config(&m).unwrap();
        assert_eq!(s.at, NaiveTime::from_hms_opt(6, 15, 0).unwrap());
        assert!(s.weekly);
    }
}
