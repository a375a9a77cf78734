//! The rows a batch of campaign calls needs before any of its originates: one `attempts` row
//! and one `calls` row each, written by ONE statement of two multi-row inserts. Committed
//! means durable for every call of the batch at once, so the dialer sends the batch's
//! originates only after `write` returns Ok, and none of them if it fails.

use deadpool_postgres::Pool;
use uuid::Uuid;

use super::StoreError;
use crate::core::call::CallState;

/// One call of the batch: its attempt (campaign side) and its call record (switch side).
#[derive(Debug, Clone)]
pub struct AttemptRow {
    /// The `origination_uuid`: key of both rows.
    pub uuid: Uuid,
    pub campaign_id: i64,
    pub contact_id: i64,
    pub attempt_no: i32,
    /// The number as dialed (the attempt's `number_dialed`, the call's `number`).
    pub number: String,
    /// The switch the originate goes to (the call's `node`); none for a number that cannot
    /// be dialed (an attempt ending `invalid` at once, no call).
    pub node: Option<String>,
    pub trunk: String,
}

/// Writes every row of `rows` in one transaction (nothing if it fails). The `calls` rows are
/// those `dialer::place_call` writes for one call (`ON CONFLICT DO NOTHING` alike).
pub async fn write(pool: &Pool, rows: &[AttemptRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut uuids = Vec::with_capacity(rows.len());
    let mut campaigns = Vec::with_capacity(rows.len());
    let mut contacts = Vec::with_capacity(rows.len());
    let mut attempt_nos = Vec::with_capacity(rows.len());
    let mut numbers = Vec::with_capacity(rows.len());
    let (mut call_uuids, mut nodes, mut trunks, mut call_numbers) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        uuids.push(r.uuid);
        campaigns.push(r.campaign_id);
        contacts.push(r.contact_id);
        attempt_nos.push(r.attempt_no);
        numbers.push(r.number.as_str());
        if let Some(node) = &r.node {
            call_uuids.push(r.uuid);
            nodes.push(node.as_str());
            trunks.push(r.trunk.as_str());
            call_numbers.push(r.number.as_str());
        }
    }
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 10] = [
        &uuids,
        &campaigns,
        &contacts,
        &attempt_nos,
        &numbers,
        &call_uuids,
        &nodes,
        &trunks,
        &call_numbers,
        &CallState::Dialing.as_str(),
    ];
    // ONE statement, so one round trip and atomic without BEGIN/COMMIT of their own: both
    // inserts or neither.
    let db = pool.get().await?;
    let stmt = db
        .prepare_cached(
            "WITH a AS (
            INSERT INTO attempts (uuid, campaign_id, contact_id, attempt_no, number_dialed)
            SELECT * FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::int4[], $5::text[])
         )
         INSERT INTO calls (uuid, node, direction, purpose, trunk, number, state)
         SELECT u, n, 'outbound', 'campaign', t, num, $10
         FROM unnest($6::uuid[], $7::text[], $8::text[], $9::text[]) AS x(u, n, t, num)
         ON CONFLICT (uuid) DO NOTHING",
        )
        .await?;
    db.execute(&stmt, &params).await?;
    Ok(())
}
