//! The KPI counting in SQL (what the figures mean: `core::kpi`). Intervals are cut in the
//! reports' local time zone: a day is the local calendar day, 30 minutes start at :00 and
//! :30 local time.
//!
//! Four queries at once, each on its own connection; three range scans, each bounded on an indexed time column so a year of history does not
//! slow today's wallboard:
//! - queues: inbound calls by `entered_at` (`acd_calls_entered`);
//! - operators' calls: by `answered_at`, looked up through `entered_at` from a day earlier
//!   (nobody waits a day in a queue);
//! - operators' time: the state periods that began in the range (`operator_states_since`)
//!   plus each operator's last one before it (`operator_states_day`, one step back per
//!   operator), split at every interval boundary by `generate_series`;
//! - operator campaigns' outbound calls by `answered_at` (`store::kpi_outbound`).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use deadpool_postgres::Pool;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::qa::QaStore;
use super::StoreError;
use crate::core::kpi::{
    KpiQuery, KpiReport, OperatorCounts, OperatorKpi, QaCoverage, QueueCounts, QueueKpi, Span,
    DEFAULT_TARGET_S, SHORT_ABANDON_S, STATES,
};

#[derive(Clone)]
pub struct KpiStore {
    pool: Pool,
    zone: Tz,
}

/// The SQL for the local interval a local timestamp falls in. Only [`Span`]'s fixed
/// values reach the text; every value the user gives is a parameter.
pub(super) fn trunc(by: Span, local: &str) -> String {
    match by {
        Span::Minutes(m) => {
            format!("date_bin(interval '{m} minutes', {local}, timestamp '2000-01-01')")
        }
        Span::Day => format!("date_trunc('day', {local})"),
        Span::Week => format!("date_trunc('week', {local})"),
        Span::Month => format!("date_trunc('month', {local})"),
    }
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl KpiStore {
    pub fn new(pool: Pool, zone: Tz) -> Self {
        Self { pool, zone }
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// One query on its own connection: the four of a report run at once (PostgreSQL
    /// works them on separate cores), each in a transaction so its settings stay its own.
    pub(super) async fn rows(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // The planner overestimates the split periods by 100x and would JIT-compile the
        // query (over a second on this machine, more than the query itself); the hash of
        // a month's intervals wants more than the default 4 MB.
        tx.batch_execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")
            .await?;
        let rows = tx.query(sql, params).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Queues (unless one operator was asked for), operators, and (unless one queue was
    /// asked for: samples are per operator) the operators' QA coverage, for `q`. `targets`: each
    /// queue's service-level seconds; queues not named take [`DEFAULT_TARGET_S`].
    pub async fn report(
        &self,
        q: &KpiQuery,
        targets: &BTreeMap<String, u32>,
    ) -> Result<KpiReport, StoreError> {
        let tz = self.zone.name();
        let names: Vec<&str> = targets.keys().map(String::as_str).collect();
        let secs: Vec<i32> = targets
            .values()
            .map(|v| i32::try_from(*v).unwrap_or(i32::MAX))
            .collect();
        let def = i32::try_from(DEFAULT_TARGET_S).unwrap_or(20);
        let target_of = |queue: &str| targets.get(queue).copied().unwrap_or(DEFAULT_TARGET_S);

        let queue_sql = format!(
            "WITH t AS (SELECT * FROM unnest($4::text[], $5::int[]) AS t(queue, target_s))
             SELECT ({b} AT TIME ZONE $3) AS start, c.queue,
               count(*),
               count(*) FILTER (WHERE c.answered_at IS NOT NULL),
               count(*) FILTER (WHERE c.answered_at IS NOT NULL
                                 AND c.waited_s <= coalesce(t.target_s, $6)),
               count(*) FILTER (WHERE c.outcome = 'abandoned'),
               count(*) FILTER (WHERE c.outcome = 'abandoned'
                                 AND coalesce(c.abandoned_after_s, c.waited_s) < $7),
               count(*) FILTER (WHERE c.outcome IN ('transferred', 'overflowed')),
               coalesce(sum(c.waited_s) FILTER (WHERE c.answered_at IS NOT NULL), 0),
               coalesce(sum(c.talk_s + coalesce(c.wrap_up_s, 0))
                        FILTER (WHERE c.answered_at IS NOT NULL AND c.talk_s IS NOT NULL), 0),
               count(*) FILTER (WHERE c.answered_at IS NOT NULL AND c.talk_s IS NOT NULL),
               count(*) FILTER (WHERE c.answered_at IS NULL AND c.outcome IS NULL
                                 AND c.entered_at > now() - make_interval(
                                       secs => coalesce(t.target_s, $6)))
             FROM acd_calls c LEFT JOIN t ON t.queue = c.queue
             WHERE c.entered_at >= $1 AND c.entered_at < $2 AND c.direction = 'inbound'
               AND ($8::text IS NULL OR c.queue = $8)
             GROUP BY 1, 2 ORDER BY 1, 2",
            b = trunc(q.by, "(c.entered_at AT TIME ZONE $3)")
        );
        let calls_sql = format!(
            "WITH t AS (SELECT * FROM unnest($4::text[], $5::int[]) AS t(queue, target_s))
             SELECT ({b} AT TIME ZONE $3) AS start, c.operator,
               count(*),
               count(*) FILTER (WHERE c.waited_s <= coalesce(t.target_s, $6)
                                 AND c.direction = 'inbound'),
               coalesce(sum(c.talk_s), 0), coalesce(sum(c.wrap_up_s), 0),
               count(*) FILTER (WHERE c.talk_s IS NOT NULL),
               count(*) FILTER (WHERE c.direction = 'outbound')
             FROM acd_calls c LEFT JOIN t ON t.queue = c.queue
             WHERE c.operator IS NOT NULL
               AND c.entered_at >= $1::timestamptz - interval '1 day' AND c.entered_at < $2
               AND c.answered_at >= $1 AND c.answered_at < $2
               AND ($7::text IS NULL OR c.queue = $7)
               AND ($8::text IS NULL OR c.operator = (SELECT id FROM operators WHERE login = $8))
             GROUP BY 1, 2",
            b = trunc(q.by, "(c.answered_at AT TIME ZONE $3)")
        );
        let step = q.by.pg_interval();
        let cols = STATES
            .iter()
            .map(|s| format!("coalesce(sum(secs) FILTER (WHERE state = '{s}'), 0)"))
            .collect::<Vec<_>>()
            .join(", ");
        // The periods in the range, clipped to it: those that began in it and each
        // operator's last one before it. Logged-out time is not counted (nights and
        // weekends would make a row per operator per interval for nothing).
        let periods = format!(
            "WITH p AS (
               SELECT operator, state, since, until FROM operator_states
                WHERE since >= $1 AND since < $2 AND state <> 'logged_out'
                  AND ($4::text IS NULL OR operator = (SELECT id FROM operators WHERE login = $4))
               UNION ALL
               SELECT l.operator, l.state, l.since, l.until FROM operators o
                 CROSS JOIN LATERAL (
                   SELECT operator, state, since, until FROM operator_states s
                    WHERE s.operator = o.id AND s.since < $1
                    ORDER BY s.since DESC LIMIT 1) l
                WHERE (l.until IS NULL OR l.until > $1) AND l.state <> 'logged_out'
                  AND ($4::text IS NULL OR o.login = $4)
             ), c AS (
               SELECT operator, state, a, e, {fa} AS fa, {fe} AS fe
                 FROM (SELECT operator, state, greatest(since, $1) AS a,
                              least(coalesce(until, greatest(now(), since)), $2) AS e
                         FROM p) x
                WHERE e > a
             )",
            fa = trunc(q.by, "(a AT TIME ZONE $3)"),
            fe = trunc(q.by, "((e - interval '1 microsecond') AT TIME ZONE $3)"),
        );
        // Most periods (a ring, a call, its wrap-up) lie within one interval: summed as
        // they are; the rest are split at each boundary by a second query. date_part, not
        // extract: extract's numeric arithmetic doubles the time.
        let within_sql = format!(
            "{periods}
             SELECT (fa AT TIME ZONE $3) AS start, operator, {cols}
               FROM (SELECT operator, state, date_part('epoch', e - a) AS secs, fa
                       FROM c WHERE fa = fe) w
              GROUP BY fa, operator"
        );
        let across_sql = format!(
            "{periods}
             SELECT (lb AT TIME ZONE $3) AS start, operator, {cols}
               FROM (SELECT c.operator, c.state, b.lb,
                            date_part('epoch',
                              least(c.e, (b.lb + interval '{step}') AT TIME ZONE $3)
                              - greatest(c.a, b.lb AT TIME ZONE $3)) AS secs
                       FROM c CROSS JOIN LATERAL
                            generate_series(c.fa, c.fe, interval '{step}') AS b(lb)
                      WHERE c.fa <> c.fe) s
              WHERE secs > 0 GROUP BY lb, operator"
        );
        let state_params: [&(dyn ToSql + Sync); 4] = [&q.from, &q.to, &tz, &q.operator];
        let call_params: [&(dyn ToSql + Sync); 8] = [
            &q.from,
            &q.to,
            &tz,
            &names,
            &secs,
            &def,
            &q.queue,
            &q.operator,
        ];
        let (queue_rows, call_rows, within, across, campaigns) = tokio::try_join!(
            async {
                if q.operator.is_some() {
                    return Ok(Vec::new());
                }
                self.rows(
                    &queue_sql,
                    &[
                        &q.from,
                        &q.to,
                        &tz,
                        &names,
                        &secs,
                        &def,
                        &SHORT_ABANDON_S,
                        &q.queue,
                    ],
                )
                .await
            },
            self.rows(&calls_sql, &call_params),
            self.rows(&within_sql, &state_params),
            self.rows(&across_sql, &state_params),
            async {
                if q.operator.is_some() || q.queue.is_some() {
                    return Ok(Vec::new());
                }
                self.campaigns(q).await
            },
        )?;

        let mut report = KpiReport {
            campaigns,
            ..KpiReport::default()
        };
        for r in queue_rows {
            let queue: String = r.get(1);
            let c = QueueCounts {
                offered: count(r.get(2)),
                answered: count(r.get(3)),
                answered_in_target: count(r.get(4)),
                abandoned: count(r.get(5)),
                abandoned_short: count(r.get(6)),
                transferred: count(r.get(7)),
                wait_sum_s: r.get(8),
                handle_sum_s: r.get(9),
                handled: count(r.get(10)),
                waiting_in_target: count(r.get(11)),
            };
            let target = target_of(&queue);
            report
                .queues
                .push(QueueKpi::new(r.get(0), queue, target, &c));
        }

        // Operators: their answered calls and their time per state, merged by interval.
        let mut ops: BTreeMap<(DateTime<Utc>, i64), OperatorCounts> = BTreeMap::new();
        for r in call_rows {
            let c = ops.entry((r.get(0), r.get(1))).or_default();
            c.answered = count(r.get(2));
            c.answered_in_target = count(r.get(3));
            c.talk_s = r.get(4);
            c.wrap_up_s = r.get(5);
            c.handled = count(r.get(6));
            c.outbound = count(r.get(7));
        }
        for r in within.iter().chain(&across) {
            let c = ops.entry((r.get(0), r.get(1))).or_default();
            for (i, s) in STATES.iter().enumerate() {
                let v: f64 = r.get(2 + i);
                if v > 0.0 {
                    *c.state_s.entry((*s).to_string()).or_default() += v;
                }
            }
        }

        if !ops.is_empty() {
            let ids: Vec<i64> = ops.keys().map(|(_, id)| *id).collect();
            let who: HashMap<i64, (String, String)> = self
                .pool
                .get()
                .await?
                .query(
                    "SELECT id, login, name FROM operators WHERE id = ANY($1)",
                    &[&ids],
                )
                .await?
                .into_iter()
                .map(|r| (r.get(0), (r.get(1), r.get(2))))
                .collect();
            for ((start, id), c) in ops {
                let (login, name) = who
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| (format!("#{id}"), String::new()));
                report
                    .operators
                    .push(OperatorKpi::from_counts(start, login, name, c));
            }
            report
                .operators
                .sort_by(|a, b| (a.start, &a.login).cmp(&(b.start, &b.login)));
        }
        if q.queue.is_none() {
            let cov = QaStore::new(self.pool.clone(), self.zone)
                .coverage(q.from, q.to)
                .await?;
            report.qa = cov
                .into_iter()
                .filter(|(login, _)| q.operator.as_ref().is_none_or(|o| o == login))
                .map(|(login, (sampled, reviewed, score))| {
                    QaCoverage::new(login, sampled, reviewed, score)
                })
                .collect();
        }
        Ok(report)
    }
}
