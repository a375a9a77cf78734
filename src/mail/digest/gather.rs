//! Reads a digest's period from PostgreSQL into a [`Digest`]: the only part of the digest
//! that does I/O. Days are cut at local midnight in `[mail] report_time_zone`.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use deadpool_postgres::Pool;

use super::{day_start, CampaignRun, Digest, Kpi, Period, QueueForecast, ReadingsByChannel, Section};
use crate::config::Config;
use crate::core::report::{ReportCounts, TargetGroup};
use crate::mail::MailError;

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
    /// The queues forecast (`[acd.queue.*]`).
    pub queues: Vec<String>,
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
            targets: BTreeMap::new(),
            queues: cfg.acd.queue.keys().cloned().collect(),
            forecast_days: cfg.mail.digest_forecast_days,
        })
    }
}

/// The digest of `period` starting on the local day `first_day`.
pub async fn gather(
    pool: &Pool,
    o: &GatherOptions,
    period: Period,
    first_day: NaiveDate,
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
        forecast: forecast(pool, o, end_day).await?,
    })
}

/// The period's KPIs per queue and operator, and per chart interval.
///
/// Not available in this build: `store::kpi` (the KPI queries over `acd_calls` and
/// `operator_states`) is not part of it yet, and the digest shows no figure it did not read.
async fn kpi(
    _pool: &Pool,
    _o: &GatherOptions,
    _period: Period,
    _from: DateTime<Utc>,
    _to: DateTime<Utc>,
) -> Result<Section<Kpi>, MailError> {
    Ok(Section::NotAvailable {
        reason: "the KPI queries (store::kpi) are not in this build".into(),
    })
}

/// The staffing forecast for the `forecast_days` days from `first_day`.
///
/// Not available in this build: `store::forecast` (the forecast from past weeks) is not
/// part of it yet.
async fn forecast(
    _pool: &Pool,
    _o: &GatherOptions,
    _first_day: NaiveDate,
) -> Result<Section<Vec<QueueForecast>>, MailError> {
    Ok(Section::NotAvailable {
        reason: "the staffing forecast (store::forecast) is not in this build".into(),
    })
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
            }
        })
        .collect())
}

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
    out.extend(by.into_iter().map(|(channel, (readings, meters, accounts))| {
        ReadingsByChannel {
            channel,
            readings,
            meters,
            accounts,
        }
    }));
    Ok(out)
}
