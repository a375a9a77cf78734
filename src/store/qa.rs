//! QA sampling in PostgreSQL (`sql/010_qa.sql`): a day's finished ACD calls go through
//! `core::qa::select`, the picks are inserted (never updated or removed), reviews appended.
//! Days are local days of `[mail] report_time_zone`, like the reports'.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use deadpool_postgres::Pool;
use serde::Serialize;
use uuid::Uuid;

use super::StoreError;
use crate::core::forecast::day_start;
use crate::core::qa::{next_sweep, select, Call, Review, Rules};

/// Names the advisory lock that serialises one day's selection across instances.
const LOCK_KEY: i32 = 0x7161; // "qa"

/// Per operator login: calls sampled, of them reviewed, the mean of their newest scores.
pub type Coverage = BTreeMap<String, (u64, u64, Option<f64>)>;

#[derive(Clone)]
pub struct QaStore {
    pool: Pool,
    zone: Tz,
}

/// A sampled call as listed for a reviewer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub call: Uuid,
    pub day: NaiveDate,
    pub queue: String,
    /// Login of the operator who answered it (none: never answered).
    pub operator: Option<String>,
    pub reasons: Vec<String>,
    pub recording: Option<String>,
    pub entered_at: DateTime<Utc>,
    pub waited_s: Option<f64>,
    /// Talk plus after-call work.
    pub handle_s: Option<f64>,
    pub transferred_to: Option<String>,
    /// The newest review, if any.
    pub review: Option<ReviewRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewRecord {
    pub reviewer: String,
    pub score: u8,
    pub comment: String,
    pub reviewed_at: DateTime<Utc>,
}

impl QaStore {
    pub fn new(pool: Pool, zone: Tz) -> Self {
        Self { pool, zone }
    }

    fn bounds(&self, day: NaiveDate) -> Result<(DateTime<Utc>, DateTime<Utc>), StoreError> {
        let end = day.succ_opt().and_then(|d| day_start(self.zone, d));
        match (day_start(self.zone, day), end) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err(StoreError::NotFound(format!("day {day}"))),
        }
    }

    /// Samples the day's finished calls by `rules`; returns how many calls were added. Run
    /// again it adds only what the rules pick among calls that finished since (or to top up
    /// an operator); one instance at a time per day (an advisory lock).
    pub async fn select_day(&self, rules: &Rules, day: NaiveDate) -> Result<usize, StoreError> {
        let (from, to) = self.bounds(day)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, $2)",
            &[&LOCK_KEY, &day.num_days_from_ce()],
        )
        .await?;
        let rows = tx
            .query(
                "SELECT c.call_uuid, c.queue, c.operator,
                        CASE WHEN c.talk_s IS NOT NULL
                             THEN c.talk_s + COALESCE(c.wrap_up_s, 0) END,
                        c.answered_at IS NOT NULL
                            AND (c.transferred_to IS NOT NULL OR c.outcome = 'transferred'),
                        CASE WHEN c.outcome = 'abandoned' THEN c.abandoned_after_s END,
                        c.recording, c.direction = 'outbound', o.login
                 FROM acd_calls c LEFT JOIN operators o ON o.id = c.operator
                 WHERE c.entered_at >= $1 AND c.entered_at < $2 AND c.ended_at IS NOT NULL",
                &[&from, &to],
            )
            .await?;
        let mut recordings = BTreeMap::new();
        let calls: Vec<Call> = rows
            .iter()
            .map(|r| {
                recordings.insert(r.get::<_, Uuid>(0), r.get::<_, Option<String>>(6));
                Call {
                    uuid: r.get(0),
                    queue: r.get(1),
                    operator: r.get(2),
                    handle_s: r.get(3),
                    transferred: r.get(4),
                    abandoned_after_s: r.get(5),
                    outbound: r.get(7),
                    login: r.get(8),
                }
            })
            .collect();
        let already: BTreeMap<Uuid, Option<i64>> = tx
            .query(
                "SELECT call_uuid, operator FROM qa_samples WHERE day = $1",
                &[&day],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let picked = select(rules, &calls, &already);
        let insert = tx
            .prepare(
                "INSERT INTO qa_samples (call_uuid, day, queue, operator, reasons, recording)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (call_uuid) DO NOTHING",
            )
            .await?;
        let mut added = 0;
        for c in calls.iter().filter(|c| picked.contains_key(&c.uuid)) {
            let reasons: Vec<&str> = picked[&c.uuid].iter().map(|r| r.as_str()).collect();
            added += tx
                .execute(
                    &insert,
                    &[
                        &c.uuid,
                        &day,
                        &c.queue,
                        &c.operator,
                        &reasons,
                        &recordings[&c.uuid],
                    ],
                )
                .await?;
        }
        tx.commit().await?;
        Ok(added as usize)
    }

    /// The day's samples, oldest call first, optionally of one queue or operator login.
    pub async fn list(
        &self,
        day: NaiveDate,
        queue: Option<&str>,
        operator: Option<&str>,
    ) -> Result<Vec<Sample>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT s.call_uuid, s.day, s.queue, o.login, s.reasons, s.recording,
                        c.entered_at, c.waited_s,
                        CASE WHEN c.talk_s IS NOT NULL THEN c.talk_s + COALESCE(c.wrap_up_s, 0) END,
                        c.transferred_to, r.reviewer, r.score, r.comment, r.reviewed_at
                 FROM qa_samples s
                 JOIN acd_calls c USING (call_uuid)
                 LEFT JOIN operators o ON o.id = s.operator
                 LEFT JOIN LATERAL (
                     SELECT reviewer, score, comment, reviewed_at FROM qa_reviews q
                     WHERE q.call_uuid = s.call_uuid
                     ORDER BY reviewed_at DESC, id DESC LIMIT 1) r ON true
                 WHERE s.day = $1
                   AND ($2::text IS NULL OR s.queue = $2)
                   AND ($3::text IS NULL OR o.login = $3)
                 ORDER BY c.entered_at, s.call_uuid",
                &[&day, &queue, &operator],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Sample {
                call: r.get(0),
                day: r.get(1),
                queue: r.get(2),
                operator: r.get(3),
                reasons: r.get(4),
                recording: r.get(5),
                entered_at: r.get(6),
                waited_s: r.get(7),
                handle_s: r.get(8),
                transferred_to: r.get(9),
                review: r.get::<_, Option<String>>(10).map(|reviewer| ReviewRecord {
                    reviewer,
                    score: r.get::<_, i16>(11) as u8,
                    comment: r.get(12),
                    reviewed_at: r.get(13),
                }),
            })
            .collect())
    }

    /// Records a review of a sampled call (checked by `core::qa::check_review`);
    /// `NotFound` when the call is not sampled.
    pub async fn review(
        &self,
        call: Uuid,
        review: &Review,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let n = self
            .pool
            .get()
            .await?
            .execute(
                "INSERT INTO qa_reviews (call_uuid, reviewer, score, comment, reviewed_at)
                 SELECT call_uuid, $2, $3, $4, $5 FROM qa_samples WHERE call_uuid = $1",
                &[
                    &call,
                    &review.reviewer,
                    &i16::from(review.score),
                    &review.comment,
                    &at,
                ],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("sampled call {call}")));
        }
        Ok(())
    }

    /// QA coverage of the calls that entered in `[from, to)`, per login of the operator who
    /// answered them: sampled, reviewed, and the mean of each reviewed call's newest score.
    /// Counts what selection has sampled so far (`select_day` runs on `contactd qa list`
    /// and `GET /api/v1/qa`).
    pub async fn coverage(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Coverage, StoreError> {
        let rows = self
            .pool
            .get()
            .await?
            .query(
                "SELECT o.login, count(*), count(r.score), avg(r.score)::float8
                 FROM qa_samples s
                 JOIN acd_calls c USING (call_uuid)
                 JOIN operators o ON o.id = s.operator
                 LEFT JOIN LATERAL (
                     SELECT score FROM qa_reviews q WHERE q.call_uuid = s.call_uuid
                     ORDER BY reviewed_at DESC, id DESC LIMIT 1) r ON true
                 WHERE c.entered_at >= $1 AND c.entered_at < $2
                 GROUP BY o.login",
                &[&from, &to],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    (
                        r.get::<_, i64>(1) as u64,
                        r.get::<_, i64>(2) as u64,
                        r.get(3),
                    ),
                )
            })
            .collect())
    }

    /// The daily sweep: samples yesterday at start and each day just over
    /// ([`next_sweep`]), so coverage counts days nobody listed; retried a minute later when
    /// PostgreSQL fails. Two instances sweeping pick the same calls (`select_day`).
    pub async fn sweep(
        self,
        rules: Rules,
        clock: crate::clock::Clock,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            let yesterday = clock
                .now()
                .with_timezone(&self.zone)
                .date_naive()
                .pred_opt();
            let retry = match yesterday {
                Some(d) => match self.select_day(&rules, d).await {
                    Ok(n) => {
                        tracing::info!("QA: {n} call(s) of {d} sampled");
                        false
                    }
                    Err(e) => {
                        tracing::warn!("QA sampling of {d}: {e}; again in a minute");
                        true
                    }
                },
                None => false,
            };
            let now = clock.now();
            let wait = if retry {
                std::time::Duration::from_secs(60)
            } else {
                (next_sweep(self.zone, now) - now)
                    .to_std()
                    .unwrap_or(std::time::Duration::from_secs(60))
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    }
}
