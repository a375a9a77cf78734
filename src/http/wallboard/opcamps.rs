//! The wallboard's operator campaigns: per running campaign its mode, dial level, lines in
//! use, today's dialed / answered / connected, the abandon rate over the rolling 24 h and
//! today against the legal cap, and the operators working it. Counts come from PostgreSQL
//! (every instance's board shows every campaign); the dial level is the pacer's own, known
//! only on the instance pacing the campaign (none elsewhere).

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::debug;

use crate::service::acd::Acd;
use crate::service::opcamp::OpRunner;
use crate::store::redis::LiveState;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OpCampaignLive {
    pub id: i64,
    pub name: String,
    pub mode: String,
    pub queue: String,
    /// Calls held in flight per operator present, as last decided (None: paced elsewhere).
    pub dial_level: Option<f64>,
    pub lines_in_use: usize,
    pub lines: i32,
    pub dialed: i64,
    /// Persons who answered today.
    pub answered: i64,
    pub connected: i64,
    pub abandoned: i64,
    /// Abandoned ÷ answered persons, percent (None before anyone answered).
    pub abandon_pct_24h: Option<f64>,
    pub abandon_pct_today: Option<f64>,
    pub abandon_cap_pct: f64,
    /// Operators of the campaign's queue at work (ready, ringing, talking or wrapping up).
    pub operators: u32,
}

/// Percent, None over nothing.
pub fn abandon_pct(abandoned: i64, answered: i64) -> Option<f64> {
    (answered > 0).then(|| abandoned as f64 * 100.0 / answered as f64)
}

/// The running operator campaigns as the board shows them; `day` is the local midnight.
pub async fn op_campaigns(
    pool: &deadpool_postgres::Pool,
    acd: &Acd,
    runner: Option<&OpRunner>,
    live: &LiveState,
    cap_pct: f64,
    day: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<OpCampaignLive> {
    let ops = crate::store::op_campaigns::OpCampaigns::new(pool.clone());
    let campaigns = crate::store::campaigns::Campaigns::new(pool.clone());
    let active = match ops.active().await {
        Ok(a) => a,
        Err(e) => {
            debug!("wallboard: operator campaigns: {e}");
            return Vec::new();
        }
    };
    let decisions = runner.map(OpRunner::decisions).unwrap_or_default();
    let mut out = Vec::new();
    for op in active {
        let Ok(Some(c)) = campaigns.get(op.campaign_id).await else {
            continue;
        };
        if c.state != "running" {
            continue;
        }
        let n = match crate::store::op_board::op_board_counts(pool, c.id, day, now).await {
            Ok(n) => n,
            Err(e) => {
                debug!(campaign = c.id, "wallboard: operator campaign figures: {e}");
                continue;
            }
        };
        let lines_in_use = live
            .budget_in_use(&crate::service::opcamp::budget_of(c.id))
            .await
            .unwrap_or(0);
        let operators = acd.queue_floor(&op.queue).await.map_or(0, |f| {
            f.ready + (f.talking.len() + f.wrapping_up.len()) as u32
        });
        let dial_level = decisions
            .iter()
            .rev()
            .find(|(id, _)| *id == c.id)
            .map(|(_, d)| d.dial_level);
        out.push(OpCampaignLive {
            id: c.id,
            name: c.name,
            mode: op.mode,
            queue: op.queue,
            dial_level,
            lines_in_use,
            lines: c.lines,
            dialed: n.dialed_today,
            answered: n.answered_today,
            connected: n.connected_today,
            abandoned: n.abandoned_today,
            abandon_pct_24h: abandon_pct(n.abandoned_24h, n.answered_24h),
            abandon_pct_today: abandon_pct(n.abandoned_today, n.answered_today),
            abandon_cap_pct: cap_pct,
            operators,
        });
    }
    out
}
