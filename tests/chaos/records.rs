//! What contactd recorded, read from its PostgreSQL after a scenario: the campaign's
//! attempts and targets, the inbound calls and ACD calls still open, the readings stored.

use std::collections::HashMap;
use std::time::Duration;

use crate::metrics::Records;
use crate::services;

pub async fn pg_client(url: &str) -> Option<tokio_postgres::Client> {
    let (c, conn) = tokio::time::timeout(
        Duration::from_secs(3),
        tokio_postgres::connect(url, tokio_postgres::NoTls),
    )
    .await
    .ok()?
    .ok()?;
    tokio::spawn(conn);
    Some(c)
}

pub async fn campaign_state(url: &str, id: i64) -> Option<String> {
    let c = pg_client(url).await?;
    let r = c
        .query_opt("SELECT state FROM campaigns WHERE id = $1", &[&id])
        .await
        .ok()??;
    Some(r.get(0))
}

/// A campaign's attempts (uuid → outcome) and its targets not done (phone, status).
pub async fn campaign_rows(
    c: &tokio_postgres::Client,
    id: i64,
) -> Result<(HashMap<String, Option<String>>, Vec<(String, String)>), String> {
    let e = |x: tokio_postgres::Error| services::pg_error(&x);
    let attempts = c
        .query(
            "SELECT uuid::text, outcome FROM attempts WHERE campaign_id = $1",
            &[&id],
        )
        .await
        .map_err(e)?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let stranded = c
        .query(
            "SELECT phone, status FROM campaign_targets WHERE campaign_id = $1 AND status <> 'done'
             ORDER BY phone",
            &[&id],
        )
        .await
        .map_err(e)?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    Ok((attempts, stranded))
}

pub async fn read_records(url: &str, id: i64, finished: bool) -> Result<Records, String> {
    let c = pg_client(url).await.ok_or("PostgreSQL unreachable")?;
    let e = |x: tokio_postgres::Error| services::pg_error(&x);
    let mut r = Records {
        finished,
        ..Default::default()
    };
    (r.attempts, r.stranded) = campaign_rows(&c, id).await?;
    for row in c
        .query(
            "SELECT uuid::text, state FROM calls
             WHERE direction = 'inbound' AND state NOT IN ('ended', 'failed')",
            &[],
        )
        .await
        .map_err(e)?
    {
        r.open_calls.push((row.get(0), row.get(1)));
    }
    for row in c
        .query(
            "SELECT call_uuid::text FROM acd_calls WHERE ended_at IS NULL",
            &[],
        )
        .await
        .map_err(e)?
    {
        r.open_acd.push(row.get(0));
    }
    for row in c
        .query(
            "SELECT call_uuid::text FROM meter_readings WHERE call_uuid IS NOT NULL",
            &[],
        )
        .await
        .map_err(e)?
    {
        r.readings.insert(row.get(0));
    }
    Ok(r)
}

/// The records are complete when nothing in them is left open (contactd may still be
/// writing what it spooled while PostgreSQL was away).
pub fn settled(r: &Records, truth: &[contactd::sim::PartyRecord], budget: &str) -> bool {
    let campaign_ok = truth
        .iter()
        .filter(|p| p.var("contactd_budget") == Some(budget))
        .all(|p| matches!(r.attempts.get(&p.uuid), Some(Some(_))));
    campaign_ok && r.open_calls.is_empty() && r.open_acd.is_empty() && r.stranded.is_empty()
}
