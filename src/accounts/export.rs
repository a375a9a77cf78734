//! `contactd readings export --since DATE`: the pending (not replaced) readings submitted on
//! or after DATE, as CSV for billing, oldest first, with where each came from.

use std::io::Write;

use chrono::NaiveDate;
use deadpool_postgres::Pool;

use super::AccountsError;

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
