//! Accounts, meters and meter readings in PostgreSQL: lookups for the IVR and the API, the
//! single place readings are written, billing's accounts import and the readings export.
//! Every statement is parameterised; the checks themselves live in `core::meter` (readings)
//! and `core::accounts` (billing's rows). Readings are checked again here, inside the
//! transaction, against the meter row locked `FOR UPDATE`, so a reading accepted by the IVR
//! a minute ago and a web form now cannot both slip past the same last value.
//!
//! [`answer`] answers the meter flow's queries for the inbound adapter from these lookups.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Pool;
use uuid::Uuid;

use crate::config::{Config, DialingConfig};
use crate::core::accounts::{read_accounts, AccountsFileError, ImportReport};
use crate::core::lists::shown;
use crate::core::meter::{
    check_submission, AccountInfo, CheckedReading, LastReading, MeterInfo, MeterSpec, ReadingError,
    ReadingRules,
};
use crate::store::pipelined_tx::PipelinedTx;
use crate::store::postgres::pg_detail;

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("postgres: {}", pg_detail(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("postgres pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{}: cannot open: {source}", shown(path))]
    Open {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("{0}")]
    Usage(String),
}

/// Wall-clock time where the utility is (`dialing.default_time_zone`): readings are dated
/// and office hours judged in it, never in UTC.
pub fn local_time(cfg: &Config, now: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
    now.with_timezone(&cfg.dialing.zone()).naive_local()
}

/// The checks' limits from the config.
pub fn reading_rules(cfg: &Config) -> ReadingRules {
    ReadingRules {
        max_daily_kwh: cfg.ivr.max_daily_kwh,
    }
}

/// The account whose phone is `caller_e164`, when exactly one account has it.
pub async fn account_of_caller(
    pool: &Pool,
    caller_e164: &str,
) -> Result<Option<String>, AccountsError> {
    let db = pool.get().await?;
    // Asked by every IVR call: prepared once per connection, then one round trip.
    let q = db
        .prepare_cached("SELECT number FROM accounts WHERE phone = $1 ORDER BY number LIMIT 2")
        .await?;
    let rows = db.query(&q, &[&caller_e164]).await?;
    Ok(match rows.as_slice() {
        [one] => Some(one.get(0)),
        _ => None,
    })
}

/// An account with its meters and each zone's last accepted reading.
pub async fn account(pool: &Pool, number: &str) -> Result<Option<AccountInfo>, AccountsError> {
    let db = pool.get().await?;
    let (acc_q, meters_q) = tokio::try_join!(
        db.prepare_cached("SELECT number, balance_minor FROM accounts WHERE number = $1"),
        db.prepare_cached(
            "SELECT m.id, m.serial, m.zones, m.digits, z.zone, z.last_value, z.last_date
             FROM meters m LEFT JOIN meter_zones z ON z.meter = m.id
             WHERE m.account = $1 ORDER BY m.id, z.zone",
        ),
    )?;
    // Both sent at once (tokio-postgres pipelines requests polled together): an IVR call
    // waits one round trip for its account, not two.
    let by_number: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&number];
    let (acc, rows) = tokio::try_join!(
        db.query_opt(&acc_q, &by_number),
        db.query(&meters_q, &by_number),
    )?;
    let Some(acc) = acc else {
        return Ok(None);
    };
    let mut meters: Vec<MeterInfo> = Vec::new();
    for r in rows {
        let id: i64 = r.get(0);
        if meters.last().map(|m| m.id) != Some(id) {
            meters.push(MeterInfo {
                id,
                serial: r.get(1),
                spec: MeterSpec {
                    zones: r.get::<_, i16>(2) as u8,
                    digits: r.get::<_, i16>(3) as u8,
                },
                last: Vec::new(),
            });
        }
        if let (Some(value), Some(date)) = (r.get::<_, Option<i64>>(5), r.get(6)) {
            if let Some(m) = meters.last_mut() {
                m.last.push(LastReading { value, date });
            }
        }
    }
    Ok(Some(AccountInfo {
        number: acc.get(0),
        balance_minor: acc.get(1),
        meters,
    }))
}

/// Who sent a reading and how.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// `ivr`, `web` or `messenger`.
    pub source: &'static str,
    pub call_uuid: Option<Uuid>,
    pub caller: Option<String>,
    pub at: DateTime<Utc>,
    /// The local date of the submission ("the same day" for replacement, days since the last).
    pub today: NaiveDate,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreReadingsError {
    #[error("no meter {meter} on account {account}")]
    UnknownMeter { account: String, meter: i64 },
    /// The entry index (into the submitted list) and the rule it broke.
    #[error("{1}")]
    Invalid(Option<usize>, ReadingError),
    #[error(transparent)]
    Db(#[from] AccountsError),
}

impl From<tokio_postgres::Error> for StoreReadingsError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for StoreReadingsError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Db(e.into())
    }
}

/// Checks and stores every zone of one meter in one transaction. A pending reading of the
/// same meter, zone and day is marked `replaced` (kept as history), never overwritten.
pub async fn store_readings(
    pool: &Pool,
    account: &str,
    meter: i64,
    entries: &[(u8, String)],
    rules: ReadingRules,
    who: &Provenance,
) -> Result<Vec<CheckedReading>, StoreReadingsError> {
    let db = pool.get().await?;
    // Each statement prepared once per connection, and the meter read with its zones in
    // one query; `BEGIN` goes with the read and `COMMIT` with the writes: an IVR call that
    // stores its readings waits two round trips.
    let (read, replace, insert) = tokio::try_join!(
        db.prepare_cached(
            "SELECT m.zones, m.digits, z.last_value, z.last_date
             FROM meters m LEFT JOIN meter_zones z ON z.meter = m.id
             WHERE m.id = $1 AND m.account = $2 ORDER BY z.zone FOR UPDATE OF m",
        ),
        db.prepare_cached(
            "UPDATE meter_readings SET status = 'replaced'
             WHERE meter = $1 AND zone = $2 AND reading_date = $3 AND status = 'pending'",
        ),
        db.prepare_cached(
            "INSERT INTO meter_readings (meter, zone, value, consumption, rolled_over,
                 reading_date, source, call_uuid, caller, submitted_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        ),
    )?;
    let tx = PipelinedTx::new(db);
    let rows = tx
        .begin_with(tx.client().query(&read, &[&meter, &account]))
        .await?;
    let Some(first) = rows.first() else {
        tx.rollback().await;
        return Err(StoreReadingsError::UnknownMeter {
            account: account.to_string(),
            meter,
        });
    };
    let spec = MeterSpec {
        zones: first.get::<_, i16>(0) as u8,
        digits: first.get::<_, i16>(1) as u8,
    };
    // a meter without zone rows yet: one row of NULLs from the outer join
    let last: Vec<LastReading> = rows
        .iter()
        .filter_map(|r| {
            Some(LastReading {
                value: r.get::<_, Option<i64>>(2)?,
                date: r.get::<_, Option<NaiveDate>>(3)?,
            })
        })
        .collect();
    let checked = match check_submission(spec, &last, entries, who.today, rules) {
        Ok(checked) => checked,
        Err((i, e)) => {
            tx.rollback().await;
            return Err(StoreReadingsError::Invalid(i, e));
        }
    };
    let zones: Vec<i16> = checked.iter().map(|r| i16::from(r.zone)).collect();
    // Sent together, run in order on the one connection: each zone's pending reading of
    // the day is marked replaced before the new one goes in (the one-pending index).
    type P<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);
    let replaced: Vec<[P; 3]> = zones.iter().map(|z| [&meter as P, z, &who.today]).collect();
    let inserted: Vec<[P; 10]> = checked
        .iter()
        .zip(&zones)
        .map(|(r, z)| {
            [
                &meter as P,
                z,
                &r.value,
                &r.consumption,
                &r.rolled_over,
                &who.today,
                &who.source,
                &who.call_uuid,
                &who.caller,
                &who.at,
            ]
        })
        .collect();
    let mut writes = Vec::with_capacity(2 * checked.len());
    for (rp, ip) in replaced.iter().zip(&inserted) {
        writes.push(tx.client().execute(&replace, rp));
        writes.push(tx.client().execute(&insert, ip));
    }
    tx.commit_with(futures_util::future::try_join_all(writes))
        .await?;
    Ok(checked)
}

/// Reads billing's file, checks every row (`core::accounts`), stores the good ones in one
/// transaction (upserted, so next month's file updates in place).
pub async fn import_accounts(
    pool: &Pool,
    path: &Path,
    dialing: &DialingConfig,
) -> Result<ImportReport, AccountsError> {
    let text = std::fs::read(path).map_err(|source| AccountsError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let normalize = |p: &str| crate::core::numbers::normalize(p, dialing);
    let (report, good) = read_accounts(&text, &normalize).map_err(|e| match e {
        AccountsFileError::Csv(e) => AccountsError::Csv(e),
        AccountsFileError::MissingColumn(need) => {
            AccountsError::Usage(format!("{}: header has no column {need:?}", shown(path)))
        }
    })?;
    let mut db = pool.get().await?;
    let tx = db.transaction().await?;
    for r in &good {
        tx.execute(
            "INSERT INTO accounts (number, holder, phone, balance_minor) VALUES ($1, $2, $3, $4)
             ON CONFLICT (number) DO UPDATE SET holder = EXCLUDED.holder,
                 phone = EXCLUDED.phone, balance_minor = EXCLUDED.balance_minor, updated_at = now()",
            &[&r.account, &r.holder, &r.phone, &r.balance_minor],
        )
        .await?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO meters (account, serial, zones, digits) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (account, serial) DO UPDATE SET zones = EXCLUDED.zones,
                     digits = EXCLUDED.digits
                 RETURNING id",
                &[
                    &r.account,
                    &r.meter,
                    &i16::from(r.zones),
                    &i16::from(r.digits),
                ],
            )
            .await?
            .get(0);
        tx.execute(
            "DELETE FROM meter_zones WHERE meter = $1 AND zone > $2",
            &[&id, &i16::from(r.zones)],
        )
        .await?;
        for (i, v) in r.last.iter().enumerate() {
            tx.execute(
                "INSERT INTO meter_zones (meter, zone, last_value, last_date) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (meter, zone) DO UPDATE SET last_value = EXCLUDED.last_value,
                     last_date = EXCLUDED.last_date",
                &[&id, &(i as i16 + 1), v, &r.last_date],
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// `contactd readings export --since DATE`: the pending (not replaced) readings submitted
/// on or after DATE, as CSV for billing, oldest first, with where each came from.
/// Writes the CSV; returns the number of readings written.
pub async fn export_readings(
    pool: &Pool,
    since: NaiveDate,
    out: impl Write,
) -> Result<u64, AccountsError> {
    let db = pool.get().await?;
    let rows = db
        .query(
            "SELECT m.account, m.serial, r.zone, r.value, r.consumption, r.rolled_over,
                    r.reading_date, r.source, coalesce(r.call_uuid::text, ''),
                    coalesce(r.caller, ''),
                    to_char(r.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
             FROM meter_readings r JOIN meters m ON m.id = r.meter
             WHERE r.status = 'pending' AND r.reading_date >= $1
             ORDER BY r.submitted_at, r.id",
            &[&since],
        )
        .await?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "account",
        "meter",
        "zone",
        "value",
        "consumption",
        "rolled_over",
        "reading_date",
        "source",
        "call_uuid",
        "caller",
        "submitted_at",
    ])?;
    for r in &rows {
        w.write_record([
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, i16>(2).to_string(),
            r.get::<_, i64>(3).to_string(),
            r.get::<_, i64>(4).to_string(),
            r.get::<_, bool>(5).to_string(),
            r.get::<_, NaiveDate>(6).to_string(),
            r.get::<_, String>(7),
            r.get::<_, String>(8),
            r.get::<_, String>(9),
            r.get::<_, String>(10),
        ])?;
    }
    w.flush()?;
    Ok(rows.len() as u64)
}
