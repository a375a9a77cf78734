//! Each operator campaign's [`Pacer`] (the pure `core::dialer` pacing) and the counts the
//! runner keeps for it: the floor it is asked with comes from the ACD's live state.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tracing::warn;

use super::OpRunner;
use crate::core::dialer::{DialMode, Floor, Pacer, PacingSettings};
use crate::service::acd::QueueFloor;
use crate::store::campaigns::Campaign;
use crate::store::op_campaigns::OpCampaign;

/// One campaign's pacing state in this runner.
pub struct CampaignPacing {
    pub pacer: Pacer,
    pub mode: DialMode,
    /// Calls this runner drives for the campaign (ringing, being connected or talking).
    pub calls: u32,
    /// Of those, placed and not yet answered or failed: since when, by call.
    pub ringing: std::collections::HashMap<uuid::Uuid, tokio::time::Instant>,
    /// Answered people waiting for an operator now.
    pub connecting: u32,
    /// Answered calls past that: talking with an operator, or hearing the abandon message.
    pub answered: u32,
}

impl OpRunner {
    /// The pacing settings of a campaign in `mode`, from `[campaigns.operator]`.
    pub fn pacing_settings(&self, mode: DialMode) -> PacingSettings {
        let o = &self.config.campaigns.operator;
        PacingSettings {
            mode,
            max_ratio: o.max_ratio,
            abandon_cap_pct: o.abandon_cap_pct,
            reestimate_every: Duration::from_secs(o.reestimate_seconds),
            connect_within: o.connect_within(),
        }
    }

    /// Makes the campaign's pacer, seeded with the last 24 h of answers (after a restart the
    /// abandon rate goes on from where it was).
    pub(super) async fn ensure_pacing(&self, c: &Campaign, op: &OpCampaign) {
        if self.pacing.lock().expect("pacing").contains_key(&c.id) {
            return;
        }
        let mode: DialMode = op.mode.parse().unwrap_or(DialMode::Progressive);
        let now = self.clock.now();
        let mut pacer = Pacer::new(self.pacing_settings(mode), now);
        match self.ops.history(c.id, now - TimeDelta::hours(24)).await {
            Ok(h) => pacer.handle_history(h),
            Err(e) => warn!(campaign = c.id, "abandon history not read: {e}"),
        }
        self.pacing
            .lock()
            .expect("pacing")
            .entry(c.id)
            .or_insert(CampaignPacing {
                pacer,
                mode,
                calls: 0,
                ringing: Default::default(),
                connecting: 0,
                answered: 0,
            });
    }

    /// How many calls the campaign's pacer wants placed now.
    pub(super) fn to_dial(
        &self,
        id: i64,
        q: &QueueFloor,
        lines_free: u32,
        now: DateTime<Utc>,
    ) -> u32 {
        let inbound_first = self.config.campaigns.operator.inbound_first;
        let mut pacing = self.pacing.lock().expect("pacing");
        let Some(p) = pacing.get_mut(&id) else {
            return 0;
        };
        // Waiting callers take ready operators first when inbound goes first; answered
        // people of this campaign waiting for an operator are about to take one too.
        let waiting_inbound = q.waiting.saturating_sub(p.connecting);
        let taken = if inbound_first {
            waiting_inbound + p.connecting
        } else {
            p.connecting
        };
        let floor = Floor {
            ready: q.ready.saturating_sub(taken),
            wrapping_up: q.wrapping_up.clone(),
            talking: q.talking.clone(),
            // every call not answered yet, the ones still being written before their
            // originate included (not in `ringing` yet)
            in_flight: p.calls.saturating_sub(p.connecting + p.answered),
            ringing: p.ringing.values().map(|at| self.clock.since(*at)).collect(),
            lines_free,
        };
        p.pacer.handle_timeout(now);
        if p.mode == DialMode::Preview {
            return 0;
        }
        p.pacer.to_dial(now, &floor).min(lines_free)
    }
}
