//! The customer card of a screen pop, read from PostgreSQL when a call is offered: the
//! account (the one the IVR established, or else the one whose phone is calling), its
//! holder and balance, the newest readings per meter and zone, and the caller's last calls
//! to operators. Reads only; every statement is parameterised.
//!
//! The caller is matched to an account exactly as the IVR does it: the caller ID is
//! normalised by [`crate::core::numbers::normalize`] and looked up by
//! [`crate::store::accounts::account_of_caller`] (one account with that phone, or none).

use deadpool_postgres::Pool;

use super::types::{CustomerCard, ReadingView, RecentCall};
use crate::config::DialingConfig;
use crate::store::accounts::AccountsError;
use crate::store::postgres::StoreError;

/// At most this many readings on a card: the newest per meter and zone.
pub const MAX_READINGS: i64 = 6;
/// At most this many earlier calls on a card.
pub const MAX_RECENT_CALLS: i64 = 5;

fn store_error(e: AccountsError) -> StoreError {
    match e {
        AccountsError::Postgres(e) => StoreError::Postgres(e),
        AccountsError::Pool(e) => StoreError::Pool(e),
        other => StoreError::Config(other.to_string()),
    }
}

/// The card for a caller, or `None` when no account is known: neither `account` (from the
/// IVR) names one that exists, nor does exactly one account have the caller's phone.
/// `caller` is the caller ID as the switch gave it (national digits, `8…`, `+7…`); `dialing`
/// is how to read it (`[dialing]`), `currency` the configured one (`[ivr] currency`).
///
/// Recent calls are earlier, finished ACD calls (`outcome` set, so not the call being
/// offered) of the account or of the caller's number: as given, in E.164, or in the
/// `dialing.dial_format` form (the same for the account's own phone).
pub async fn customer_card(
    pool: &Pool,
    dialing: &DialingConfig,
    caller: Option<&str>,
    account: Option<&str>,
    currency: &str,
) -> Result<Option<CustomerCard>, StoreError> {
    let caller = caller.map(str::trim).filter(|c| !c.is_empty());
    let caller_e164 = caller.and_then(|c| crate::core::numbers::normalize(c, dialing).ok());
    // One pooled connection at a time: the lookups below each take and return their own.
    let mut found = match account.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => db_account(pool, a).await?,
        None => None,
    };
    if found.is_none() {
        if let Some(e164) = &caller_e164 {
            if let Some(number) = crate::store::accounts::account_of_caller(pool, e164)
                .await
                .map_err(store_error)?
            {
                found = db_account(pool, &number).await?;
            }
        }
    }
    let Some(acc) = found else {
        return Ok(None);
    };
    let number = acc.number;
    let db = pool.get().await?;

    let readings = db
        .query(
            "SELECT serial, zone, value, reading_date, source, status FROM (
                 SELECT DISTINCT ON (r.meter, r.zone) m.serial, r.zone, r.value,
                        r.reading_date, r.source, r.status, r.submitted_at, r.id
                 FROM meter_readings r JOIN meters m ON m.id = r.meter
                 WHERE m.account = $1
                 ORDER BY r.meter, r.zone, r.submitted_at DESC, r.id DESC) newest
             ORDER BY submitted_at DESC, id DESC LIMIT $2",
            &[&number, &MAX_READINGS],
        )
        .await?
        .iter()
        .map(|r| ReadingView {
            meter: r.get(0),
            zone: r.get::<_, i16>(1).to_string(),
            value: r.get(2),
            taken_on: r.get::<_, chrono::NaiveDate>(3).to_string(),
            source: r.get(4),
            status: r.get(5),
        })
        .collect();

    // The caller's number as it may have been recorded: as given now, canonical, and as
    // contactd writes it for the trunk; the same for the account's own phone.
    let mut numbers: Vec<String> = Vec::new();
    let dial = |e164: &String| crate::core::numbers::dial_string_number(e164, dialing);
    let written = caller.map(str::to_string).into_iter().chain(
        [caller_e164.as_ref(), acc.phone.as_ref()]
            .into_iter()
            .flatten()
            .flat_map(|e| [e.clone(), dial(e)]),
    );
    for n in written {
        if !numbers.contains(&n) {
            numbers.push(n);
        }
    }
    let recent_calls = db
        .query(
            "SELECT c.entered_at, c.queue, c.outcome, o.login
             FROM acd_calls c LEFT JOIN operators o ON o.id = c.operator
             WHERE (c.account = $1 OR c.caller = ANY($2)) AND c.outcome IS NOT NULL
             ORDER BY c.entered_at DESC LIMIT $3",
            &[&number, &numbers, &MAX_RECENT_CALLS],
        )
        .await?
        .iter()
        .map(|r| RecentCall {
            at: r.get::<_, chrono::DateTime<chrono::Utc>>(0).to_rfc3339(),
            queue: r.get(1),
            outcome: r.get(2),
            operator: r.get(3),
        })
        .collect();

    Ok(Some(CustomerCard {
        account: number,
        holder: acc.holder,
        balance_minor: acc.balance_minor,
        currency: currency.to_string(),
        last_readings: readings,
        recent_calls,
    }))
}

struct AccountRow {
    number: String,
    holder: String,
    balance_minor: i64,
    phone: Option<String>,
}

async fn db_account(pool: &Pool, number: &str) -> Result<Option<AccountRow>, StoreError> {
    let row = pool
        .get()
        .await?
        .query_opt(
            "SELECT number, holder, balance_minor, phone FROM accounts WHERE number = $1",
            &[&number],
        )
        .await?;
    Ok(row.map(|r| AccountRow {
        number: r.get(0),
        holder: r.get(1),
        balance_minor: r.get(2),
        phone: r.get(3),
    }))
}
