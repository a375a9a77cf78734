//! Reads a digest's period from PostgreSQL into a [`Digest`]: the only part of the digest
//! that does I/O. Days are cut at local midnight in `[mail] report_time_zone`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use deadpool_postgres::Pool;

use super::{
    day_start, CampaignRun, Digest, ForecastInterval, IntervalRow, Kpi, OperatorTotals, Period,
    QueueForecast, QueueTotals, ReadingsByChannel, Section,
};
use crate::config::Config;
use crate::core::kpi::{KpiQuery, KpiReport, OperatorCounts, OperatorKpi, Span};
use crate::core::report::{ReportCounts, TargetGroup};
use crate::mail::MailError;
use crate::store::forecast::{forecast as store_forecast, ForecastQuery, Goal};
use crate::store::kpi::KpiStore;

/// Past weeks the forecast averages (the same weekday and half-hour of each).
pub const FORECAST_WEEKS: u32 = 4;

/// The channels readings arrive by (`meter_readings.source`): each is listed, zeros too.
pub const CHANNELS: [&str; 3] = ["ivr", "web", "messenger"];

/// What gathering needs from the config.
#[derive(Debug, Clone)]
pub struct GatherOptions {
    /// Where days start and end.
    pub zone: Tz,
    /// The campaigns' confirmation key (`[campaigns] confirm_key`), for their counts.
    pub confirm_key: String,
    /// Each queue's service-level target, seconds.
    pub targets: BTreeMap<String, u32>,
    /// The queues forecast (`[acd.queue.*]`) and the goal each is staffed for (its
    /// `service_level_goal` % within `service_level_seconds`, Erlang C).
    pub goals: BTreeMap<String, Goal>,
    /// Handle time assumed where history has no answered call (`[acd] default_handle_seconds`).
    pub default_handle: Duration,
    /// Days forecast after the period (`[mail] digest_forecast_days`).
    pub forecast_days: u32,
}

impl GatherOptions {
    pub fn from_config(cfg: &Config) -> Result<Self, MailError> {
        let zone = crate::mail::report::report_locale(&cfg.mail)
            .map_err(|p| MailError::Config(format!("{}: {}", p[0].0, p[0].1)))?
            .time_zone;
        Ok(GatherOptions {
            zone,
            confirm_key: cfg.campaigns.confirm_key.clone(),
            targets: cfg.acd.service_level_targets(),
            goals: cfg
                .acd
                .queue
                .iter()
                .map(|(name, q)| {
                    let goal = Goal {
                        target: Duration::from_secs(u64::from(q.service_level_seconds)),
                        service_level: q.service_level_goal / 100.0,
                        patience: None,
                    };
                    (name.clone(), goal)
                })
                .collect(),
            default_handle: Duration::from_secs(cfg.acd.default_handle_seconds),
            forecast_days: cfg.mail.digest_forecast_days,
        })
    }
}

/// The digest of `period` starting on the local day `first_day`, gathered at `now` (the
/// forecast's history ends there).
pub async fn gather(
    pool: &Pool,
    o: &GatherOptions,
    period: Period,
    first_day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Digest, MailError> {
    let end_day = first_day + Days::new(period.days());
    let (from, to) = (day_start(o.zone, first_day), day_start(o.zone, end_day));
    Ok(Digest {
        period,
        first_day,
        time_zone: o.zone.name().to_string(),
        kpi: kpi(pool, o, period, from, to).await?,
        campaigns: campaigns(pool, &o.confirm_key, from, to).await?,
        readings: readings(pool, from, to).await?,
        forecast: forecast(pool, o, end_day, now).await?,
    })
}

/// The period's KPIs per queue and operator (`store::kpi`, one interval for the whole
/// period: a day, or the ISO week a weekly digest covers), and per chart interval (30
/// minutes of a day, the days of a week).
async fn kpi(
    pool: &Pool,
    o: &GatherOptions,
    period: Period,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Section<Kpi>, MailError> {
    let store = KpiStore::new(pool.clone(), o.zone);
    let (whole, chart, minutes) = match period {
        Period::Daily => (Span::Day, Span::Minutes(30), 30),
        Period::Weekly => (Span::Week, Span::Day, 1440),
    };
    let query = |by| KpiQuery {
        from,
        to,
        by,
        queue: None,
        operator: None,
    };
    let totals = store.report(&query(whole), &o.targets).await?;
    let intervals = store.report(&query(chart), &o.targets).await?;
    Ok(Section::Available {
        data: kpi_of(&totals, &intervals, minutes),
    })
}

/// The digest's KPIs from `store::kpi`'s reports: `totals` by the whole period, `intervals`
/// by the chart's interval. A period cut into several buckets (a week not starting on a
/// Monday) is taken together: queues by [`QueueTotals::merge`], operators from their
/// summed counts by `core::kpi`'s rules (AHT over the calls answered).
pub fn kpi_of(totals: &KpiReport, intervals: &KpiReport, interval_minutes: u32) -> Kpi {
    let mut queues: BTreeMap<&str, Vec<QueueTotals>> = BTreeMap::new();
    for q in &totals.queues {
        queues
            .entry(&q.queue)
            .or_default()
            .push(QueueTotals::from(q));
    }
    let mut operators: BTreeMap<(&str, &str), OperatorCounts> = BTreeMap::new();
    for op in &totals.operators {
        let c = operators.entry((&op.login, &op.name)).or_default();
        c.answered += op.answered;
        c.answered_in_target += op.answered_in_target;
        c.talk_s += op.talk_s;
        c.wrap_up_s += op.wrap_up_s;
        c.handled += op.answered;
        c.outbound += op.outbound;
        for (state, s) in &op.state_s {
            *c.state_s.entry(state.clone()).or_default() += s;
        }
    }
    Kpi {
        queues: queues
            .iter()
            .map(|(name, rows)| QueueTotals::merge(name, rows))
            .collect(),
        operators: operators
            .into_iter()
            .map(|((login, name), c)| {
                // the start is not kept: the row is the whole period
                let k = OperatorKpi::new(DateTime::UNIX_EPOCH, login.into(), name.into(), &c);
                let qa = totals.qa.iter().find(|q| q.login == k.login);
                OperatorTotals {
                    qa_sampled: qa.map_or(0, |q| q.sampled),
                    qa_reviewed: qa.map_or(0, |q| q.reviewed),
                    qa_score: qa.and_then(|q| q.mean_score),
                    login: k.login,
                    name: k.name,
                    answered: k.answered,
                    talk_s: k.talk_s,
                    wrap_up_s: k.wrap_up_s,
                    aht_s: k.aht_s,
                    staffed_s: k.staffed_s,
                    break_s: k.state_s.get("break").copied().unwrap_or(0.0),
                    occupancy: k.occupancy,
                    calls_per_hour: k.calls_per_hour,
                    service_level: k.service_level,
                    outbound: k.outbound,
                }
            })
            .collect(),
        intervals: intervals
            .queues
            .iter()
            .map(|q| IntervalRow {
                start: q.start,
                totals: QueueTotals::from(q),
            })
            .collect(),
        interval_minutes,
    }
}

/// The staffing forecast of each queue (`store::forecast`) for the `forecast_days` days from
/// `first_day`. A queue the forecast refuses (bad config, not a database outage) makes the
/// section not available, with the reason; an outage is an error, retried by the caller.
async fn forecast(
    pool: &Pool,
    o: &GatherOptions,
    first_day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Section<Vec<QueueForecast>>, MailError> {
    let mut out = Vec::new();
    for (queue, goal) in &o.goals {
        let q = ForecastQuery {
            queue: queue.clone(),
            weeks: FORECAST_WEEKS,
            first_day,
            days: o.forecast_days,
            goal: *goal,
            default_handle: o.default_handle,
            now,
        };
        let f = match store_forecast(pool, o.zone, &q).await {
            Ok(f) => f,
            Err(e) if e.is_retryable() => return Err(e.into()),
            Err(e) => {
                return Ok(Section::NotAvailable {
                    reason: format!("queue {queue}: {e}"),
                })
            }
        };
        out.push(QueueForecast {
            queue: f.queue,
            shrinkage: f.shrinkage,
            intervals: f
                .intervals
                .iter()
                .map(|i| ForecastInterval {
                    start: i.start,
                    calls: i.calls,
                    aht_s: i.aht_s,
                    operators: i.operators,
                    with_shrinkage: i.with_shrinkage,
                    service_level: i.service_level,
                })
                .collect(),
        });
    }
    Ok(Section::Available { data: out })
}

// Campaigns that dialed in [$1, $2) or finished in it, with the period's calls.
const CAMPAIGNS_SQL: &str = "
    WITH period AS (
        SELECT campaign_id, count(*) AS calls, count(answered_at) AS answered
        FROM attempts WHERE created_at >= $1 AND created_at < $2
        GROUP BY campaign_id)
    SELECT c.id, c.name, c.state, c.finished_at, coalesce(p.calls, 0),
           coalesce(p.answered, 0), c.list_number
    FROM campaigns c LEFT JOIN period p ON p.campaign_id = c.id
    WHERE p.campaign_id IS NOT NULL OR (c.finished_at >= $1 AND c.finished_at < $2)
    ORDER BY c.id";

// Their targets grouped as `ReportCounts::tally` needs them (as `store::report` does for
// one campaign), for all of them at once.
const GROUPS_SQL: &str = "
    WITH keyed AS (
        SELECT DISTINCT campaign_id, contact_id FROM attempts
        WHERE campaign_id = ANY($1) AND answered_at IS NOT NULL AND confirm_key = $2)
    SELECT t.campaign_id, t.status, t.outcome, k.contact_id IS NOT NULL, count(*)
    FROM campaign_targets t
    LEFT JOIN keyed k ON k.campaign_id = t.campaign_id AND k.contact_id = t.contact_id
    WHERE t.campaign_id = ANY($1)
    GROUP BY 1, 2, 3, 4";

const ATTEMPTS_SQL: &str = "
    SELECT campaign_id, count(*) FROM attempts WHERE campaign_id = ANY($1) GROUP BY 1";

const REJECTED_SQL: &str = "
    SELECT list_number, count(*) FROM list_rejects
    WHERE list_number = ANY($1) AND kind = 'rejected' GROUP BY 1";

async fn campaigns(
    pool: &Pool,
    confirm_key: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<CampaignRun>, MailError> {
    let mut db = pool.get().await?;
    // one snapshot: the counts agree with the list of campaigns
    let tx = db
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let rows = tx.query(CAMPAIGNS_SQL, &[&from, &to]).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let lists: Vec<i32> = rows.iter().map(|r| r.get(6)).collect();
    let mut groups: BTreeMap<i64, Vec<TargetGroup>> = BTreeMap::new();
    for r in tx.query(GROUPS_SQL, &[&ids, &confirm_key]).await? {
        groups.entry(r.get(0)).or_default().push(TargetGroup {
            status: r.get(1),
            outcome: r.get(2),
            keyed: r.get(3),
            targets: r.get(4),
        });
    }
    let attempts: BTreeMap<i64, i64> = tx
        .query(ATTEMPTS_SQL, &[&ids])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let rejected: BTreeMap<i32, i64> = tx
        .query(REJECTED_SQL, &[&lists])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut outbound: BTreeMap<i64, super::OutboundRun> = tx
        .query(OUTBOUND_SQL, &[&ids])
        .await?
        .iter()
        .map(|r| (r.get(0), super::OutboundRun::default()))
        .collect();
    for r in tx.query(OUTBOUND_CALLS_SQL, &[&ids, &from, &to]).await? {
        let handled: i64 = r.get(6);
        let (talk, wrap): (f64, f64) = (r.get(4), r.get(5));
        outbound.insert(
            r.get(0),
            super::OutboundRun {
                answered: r.get(1),
                connected: r.get(2),
                abandoned: r.get(3),
                talk_s: talk,
                aht_s: (handled > 0).then(|| (talk + wrap) / handled as f64),
            },
        );
    }
    tx.commit().await?;
    Ok(rows
        .iter()
        .map(|r| {
            let id: i64 = r.get(0);
            let list: i32 = r.get(6);
            CampaignRun {
                id,
                name: r.get(1),
                state: r.get(2),
                finished_at: r.get(3),
                attempts_in_period: r.get(4),
                answered_in_period: r.get(5),
                counts: ReportCounts::tally(
                    groups.get(&id).map_or(&[][..], Vec::as_slice),
                    attempts.get(&id).copied().unwrap_or(0),
                    rejected.get(&list).copied().unwrap_or(0),
                ),
                outbound: outbound.get(&id).cloned(),
            }
        })
        .collect())
}

// Which of the campaigns are operator campaigns.
const OUTBOUND_SQL: &str = "SELECT campaign_id FROM operator_campaigns WHERE campaign_id = ANY($1)";

// An operator campaign's persons answered in the period (`core::kpi::outbound`'s meaning).
const OUTBOUND_CALLS_SQL: &str = "
    SELECT o.campaign_id, count(*),
           count(*) FILTER (WHERE o.connected_at IS NOT NULL),
           count(*) FILTER (WHERE o.abandoned_at IS NOT NULL),
           coalesce(sum(a.talk_s), 0)::float8, coalesce(sum(a.wrap_up_s), 0)::float8,
           count(*) FILTER (WHERE a.talk_s IS NOT NULL)
    FROM operator_calls o LEFT JOIN acd_calls a ON a.call_uuid = o.uuid
    WHERE o.campaign_id = ANY($1) AND o.answered_by = 'person'
      AND o.answered_at >= $2 AND o.answered_at < $3
    GROUP BY 1";

// Every reading submitted in the period, a replaced one too (it was received).
const READINGS_SQL: &str = "
    SELECT r.source, count(*), count(DISTINCT r.meter), count(DISTINCT m.account)
    FROM meter_readings r JOIN meters m ON m.id = r.meter
    WHERE r.submitted_at >= $1 AND r.submitted_at < $2
    GROUP BY 1";

async fn readings(
    pool: &Pool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ReadingsByChannel>, MailError> {
    let db = pool.get().await?;
    let mut by: BTreeMap<String, (i64, i64, i64)> = db
        .query(READINGS_SQL, &[&from, &to])
        .await?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
        .collect();
    let mut out: Vec<ReadingsByChannel> = CHANNELS
        .iter()
        .map(|c| {
            let (readings, meters, accounts) = by.remove(*c).unwrap_or_default();
            ReadingsByChannel {
                channel: c.to_string(),
                readings,
                meters,
                accounts,
            }
        })
        .collect();
    // a channel added to the schema later is shown under its own name
    out.extend(by.into_iter().map(
        |(channel, (readings, meters, accounts))| ReadingsByChannel {
            channel,
            readings,
            meters,
            accounts,
        },
    ));
    Ok(out)
}
