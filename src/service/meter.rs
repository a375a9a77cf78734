//! The meter-reading flow's questions answered from the accounts store, for the inbound
//! call adapter (the flow itself is `core::flows::meter`; the SQL is `store::accounts`).

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tracing::{info, warn};
use uuid::Uuid;

use crate::config::Config;
use crate::core::flow::{Answer, Query};
use crate::store::accounts::{
    account, account_of_caller, local_time, reading_rules, store_readings, Provenance,
};

/// Answers the meter-reading flow's questions (`Query::AccountOfCaller`, `Account`,
/// `StoreReadings`) for the inbound adapter. A failed lookup answers "lookup failed" (the
/// caller's account, "none": they key it) / "not stored" (the flow then hands the caller to
/// an operator) and is logged.
///
/// `None` when the query is not one of the meter flow's.
pub async fn answer(
    pool: &Pool,
    cfg: &Config,
    q: &Query,
    call: Uuid,
    caller: &str,
    now: DateTime<Utc>,
) -> Option<Answer> {
    Some(match q {
        Query::AccountOfCaller => {
            let found = match crate::core::numbers::normalize(caller, &cfg.dialing) {
                Ok(e164) => account_of_caller(pool, &e164).await.unwrap_or_else(|e| {
                    warn!(%call, error = ?e.to_string(), "account of caller");
                    None
                }),
                Err(_) => None,
            };
            Answer::CallerAccount(found)
        }
        Query::Account(number) => match account(pool, number).await {
            Ok(found) => Answer::Account(found),
            Err(e) => {
                warn!(%call, error = ?e.to_string(), "account lookup");
                Answer::AccountLookupFailed
            }
        },
        Query::StoreReadings {
            account,
            meter,
            readings,
        } => {
            let entries: Vec<(u8, String)> =
                readings.iter().map(|(z, v)| (*z, v.to_string())).collect();
            let who = Provenance {
                source: "ivr",
                call_uuid: Some(call),
                caller: crate::core::values::PhoneNumber::parse(caller)
                    .ok()
                    .map(|n| n.as_str().to_string()),
                at: now,
                today: local_time(cfg, now).date(),
            };
            let rules = reading_rules(cfg);
            match store_readings(pool, account, *meter, &entries, rules, &who).await {
                Ok(stored) => {
                    info!(%call, ?account, ?meter, zones = stored.len(), "meter readings stored");
                    Answer::ReadingsStored(true)
                }
                Err(e) => {
                    warn!(%call, ?account, ?meter, error = ?e.to_string(), "meter readings not stored");
                    Answer::ReadingsStored(false)
                }
            }
        }
        _ => return None,
    })
}
