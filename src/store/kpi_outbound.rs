//! Operator campaigns' outbound KPIs in SQL (what they mean: `core::kpi::outbound`): the
//! calls a person answered (`operator_calls`, by `answered_at`, `operator_calls_answered`)
//! with their talk and after-call work from the ACD's record of the same call (`acd_calls`).

use chrono::{DateTime, Utc};

use super::kpi::{trunc, KpiStore};
use super::StoreError;
use crate::core::kpi::{CampaignCounts, CampaignKpi, KpiQuery};

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl KpiStore {
    /// Each operator campaign's outbound figures per interval of `q`, by interval then name.
    pub async fn campaigns(&self, q: &KpiQuery) -> Result<Vec<CampaignKpi>, StoreError> {
        let tz = self.zone().name();
        let sql = format!(
            "SELECT ({b} AT TIME ZONE $3) AS start, o.campaign_id, cp.name,
               count(*),
               count(*) FILTER (WHERE o.connected_at IS NOT NULL),
               count(*) FILTER (WHERE o.abandoned_at IS NOT NULL),
               coalesce(sum(a.talk_s), 0)::float8, coalesce(sum(a.wrap_up_s), 0)::float8,
               count(*) FILTER (WHERE a.talk_s IS NOT NULL)
             FROM operator_calls o
             JOIN campaigns cp ON cp.id = o.campaign_id
             LEFT JOIN acd_calls a ON a.call_uuid = o.uuid
             WHERE o.answered_at >= $1 AND o.answered_at < $2 AND o.answered_by = 'person'
             GROUP BY 1, 2, 3 ORDER BY 1, 3",
            b = trunc(q.by, "(o.answered_at AT TIME ZONE $3)")
        );
        let rows = self.rows(&sql, &[&q.from, &q.to, &tz]).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let start: DateTime<Utc> = r.get(0);
                let c = CampaignCounts {
                    answered: count(r.get(3)),
                    connected: count(r.get(4)),
                    abandoned: count(r.get(5)),
                    talk_s: r.get(6),
                    wrap_up_s: r.get(7),
                    handled: count(r.get(8)),
                };
                CampaignKpi::new(start, r.get(1), r.get(2), &c)
            })
            .collect())
    }
}
