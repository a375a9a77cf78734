//! Account lookups and the single place readings are written. Every statement is
//! parameterised; the checks themselves live in `core::meter` and are re-run here, inside
//! the transaction, against the meter row locked `FOR UPDATE`, so a reading accepted by the
//! IVR a minute ago and a web form now cannot both slip past the same last value.

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Pool;
use uuid::Uuid;

use super::AccountsError;
use crate::core::meter::{
    check_submission, AccountInfo, CheckedReading, LastReading, MeterInfo, MeterSpec, ReadingError,
    ReadingRules,
};

/// The account whose phone is `caller_e164`, when exactly one account has it.
pub async fn account_of_caller(
    pool: &Pool,
    caller_e164: &str,
) -> Result<Option<String>, AccountsError> {
    let db = pool.get().await?;
    let rows = db
        .query(
            "SELECT number FROM accounts WHERE phone = $1 ORDER BY number LIMIT 2",
            &[&caller_e164],
        )
        .await?;
    Ok(match rows.as_slice() {
        [one] => Some(one.get(0)),
        _ => None,
    })
}

/// An account with its meters and each zone's last accepted reading.
pub async fn account(pool: &Pool, number: &str) -> Result<Option<AccountInfo>, AccountsError> {
    let db = pool.get().await?;
    let Some(acc) = db
        .query_opt(
            "SELECT number, balance_minor FROM accounts WHERE number = $1",
            &[&number],
        )
        .await?
    else {
        return Ok(None);
    };
    let rows = db
        .query(
            "SELECT m.id, m.serial, m.zones, m.digits, z.zone, z.last_value, z.last_date
             FROM meters m LEFT JOIN meter_zones z ON z.meter = m.id
             WHERE m.account = $1 ORDER BY m.id, z.zone",
            &[&number],
        )
        .await?;
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
    let mut db = pool.get().await?;
    let tx = db.transaction().await?;
    let Some(m) = tx
        .query_opt(
            "SELECT zones, digits FROM meters WHERE id = $1 AND account = $2 FOR UPDATE",
            &[&meter, &account],
        )
        .await?
    else {
        return Err(StoreReadingsError::UnknownMeter {
            account: account.to_string(),
            meter,
        });
    };
    let spec = MeterSpec {
        zones: m.get::<_, i16>(0) as u8,
        digits: m.get::<_, i16>(1) as u8,
    };
    let last: Vec<LastReading> = tx
        .query(
            "SELECT last_value, last_date FROM meter_zones WHERE meter = $1 ORDER BY zone",
            &[&meter],
        )
        .await?
        .iter()
        .map(|r| LastReading {
            value: r.get(0),
            date: r.get(1),
        })
        .collect();
    let checked = check_submission(spec, &last, entries, who.today, rules)
        .map_err(|(i, e)| StoreReadingsError::Invalid(i, e))?;
    for r in &checked {
        let zone = i16::from(r.zone);
        tx.execute(
            "UPDATE meter_readings SET status = 'replaced'
             WHERE meter = $1 AND zone = $2 AND reading_date = $3 AND status = 'pending'",
            &[&meter, &zone, &who.today],
        )
        .await?;
        tx.execute(
            "INSERT INTO meter_readings (meter, zone, value, consumption, rolled_over,
                 reading_date, source, call_uuid, caller, submitted_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &meter,
                &zone,
                &r.value,
                &r.consumption,
                &r.rolled_over,
                &who.today,
                &who.source,
                &who.call_uuid,
                &who.caller,
                &who.at,
            ],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(checked)
}
