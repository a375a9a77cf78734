//! What the wallboard shows of a running operator campaign, from PostgreSQL (so any
//! instance's board shows every campaign): today's dialed, answered, connected and
//! abandoned calls, and the abandons over the rolling 24 h the legal cap is judged on.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;

use super::StoreError;

/// Counts of one operator campaign. "Answered" are persons (the abandon rate's base).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpBoardCounts {
    pub dialed_today: i64,
    pub answered_today: i64,
    pub connected_today: i64,
    pub abandoned_today: i64,
    pub answered_24h: i64,
    pub abandoned_24h: i64,
}

/// `campaign`'s counts since local midnight `day` and over the 24 h before `now`.
pub async fn op_board_counts(
    pool: &Pool,
    campaign: i64,
    day: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<OpBoardCounts, StoreError> {
    let db = pool.get().await?;
    let since = now - chrono::Duration::hours(24);
    let r = db
        .query_one(
            "SELECT
               (SELECT count(*) FROM operator_calls o JOIN attempts a ON a.uuid = o.uuid
                 WHERE o.campaign_id = $1 AND a.created_at >= $2),
               count(*) FILTER (WHERE answered_at >= $2),
               count(*) FILTER (WHERE answered_at >= $2 AND connected_at IS NOT NULL),
               count(*) FILTER (WHERE answered_at >= $2 AND abandoned_at IS NOT NULL),
               count(*) FILTER (WHERE answered_at >= $3),
               count(*) FILTER (WHERE answered_at >= $3 AND abandoned_at IS NOT NULL)
             FROM operator_calls
             WHERE campaign_id = $1 AND answered_by = 'person'
               AND answered_at >= least($2, $3)",
            &[&campaign, &day, &since],
        )
        .await?;
    Ok(OpBoardCounts {
        dialed_today: r.get(0),
        answered_today: r.get(1),
        connected_today: r.get(2),
        abandoned_today: r.get(3),
        answered_24h: r.get(4),
        abandoned_24h: r.get(5),
    })
}
