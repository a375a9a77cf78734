//! Dialing more of a campaign: how many lines the pacer gives it now, the subscribers
//! claimed for them (fenced by the campaign's driver lease), and a task per call.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::{debug, warn};

use super::{budget_of, CampaignRunner};
use crate::core::campaign::pacer::{CampaignRules, LineBudget};
use crate::service::screen::screen;
use crate::store::campaigns::{Campaign, Target};
use crate::store::StoreError;

impl CampaignRunner {
    pub(super) async fn dial_more(
        self: &Arc<Self>,
        c: &Campaign,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // true: subscribers were claimed (dialed, or put back for later)
        // a trunk or a group: its channels in service and their lines in use
        let budget_key = budget_of(c.id);
        // both asked at once: each round trip here delays the next call on a freed line
        // (and whether the leases can be trusted: not while they are rebuilt)
        let (capacity, budget_in_use, leases_ok) = futures_util::future::join3(
            self.trunks.capacity(&c.trunk),
            self.live.budget_in_use(&budget_key),
            self.live.leases_trusted(),
        )
        .await;
        if !leases_ok.unwrap_or(false) {
            return Ok(false);
        }
        let Some((trunk_channels, trunk_in_use)) = capacity? else {
            warn!(campaign = c.id, trunk = %c.trunk, "campaign names an unknown trunk");
            return Ok(false);
        };
        let parsed = CampaignRules::parse(
            &c.window_days,
            &c.window_start,
            &c.window_end,
            c.time_zone.as_deref(),
        );
        let Some(rules) = self.pacer().rules(c.id, parsed) else {
            return Ok(false);
        };
        let budget = LineBudget {
            lines: c.lines.max(0) as usize,
            mine: self.active_of(c.id),
            budget_in_use: budget_in_use?,
            trunk_channels,
            trunk_in_use,
        };
        let n = self.pacer().free_lines(budget, now);
        if n == 0 {
            return Ok(false);
        }
        let fence = match &self.drivers {
            Some(d) => match d.fence(c.id).await {
                Some(f) => Some(f),
                None => return Ok(false),
            },
            None => None,
        };
        // the message rules asked with the claim: one round trip fewer before the originates
        let (claimed, message_rules) = futures_util::future::join(
            self.claim(c.id, n as i64, now, fence),
            crate::service::dial_batch::read_message_rules(
                self.messages.as_ref(),
                self.campaigns.pool(),
                c.id,
            ),
        )
        .await;
        let (claimed, blocked) = claimed?;
        if claimed.is_empty() {
            return Ok(false);
        }
        let targets = screen(
            &self.campaigns,
            &self.pacer,
            &rules,
            c.id,
            claimed,
            blocked,
            now,
        )
        .await?;
        if targets.is_empty() {
            return Ok(true);
        }
        // A trunk per call (of the group, in its order), its lease, then the batch's rows in
        // one transaction, then the originates (dial_batch).
        let budget = budget_of(c.id);
        let batch = crate::service::dial_batch::Batch {
            pool: self.campaigns.pool(),
            live: &self.live,
            messages: self.messages.as_ref(),
            config: &self.config,
            trunks: &self.trunks,
            budget: &budget,
        };
        let (ready, back) =
            crate::service::dial_batch::prepare(&batch, c, targets, message_rules, now).await;
        for (t, why) in back {
            let at = self.put_back(why);
            self.log_write(self.campaigns.requeue(c.id, t.contact_id, at).await);
        }
        for p in ready {
            let me = self.clone();
            let c = c.clone();
            self.spawn_driver(c.id, p.target.contact_id, async move {
                me.call_one(&c, p).await;
            });
        }
        Ok(true)
    }

    /// Claims up to `n` subscribers with their do-not-call verdicts in the same statement. If
    /// that fails (the list unreadable, say) the plain claim is tried, and the screening asks
    /// the list itself, so that an unreadable list is told and paced as such.
    async fn claim(
        &self,
        id: i64,
        n: i64,
        now: DateTime<Utc>,
        fence: Option<i64>,
    ) -> Result<(Vec<Target>, Option<HashSet<String>>), StoreError> {
        match self.campaigns.claim_due_screened(id, n, now, fence).await {
            Ok((claimed, blocked)) => Ok((claimed, Some(blocked))),
            Err(e) => {
                debug!(campaign = id, "claim with the do-not-call list failed: {e}");
                let claimed = self.campaigns.claim_due(id, n, now, fence).await?;
                Ok((claimed, None))
            }
        }
    }

    /// Runs `f` as the one task calling `contact`; the line count and the recovery's
    /// exclusion follow it.
    pub(super) fn spawn_driver(
        self: &Arc<Self>,
        campaign: i64,
        contact: i64,
        f: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        *self
            .active
            .lock()
            .expect("active lock")
            .entry(campaign)
            .or_default() += 1;
        self.driving.begin((campaign, contact));
        let me = self.clone();
        tokio::spawn(async move {
            f.await;
            me.driving.end((campaign, contact));
            let done = me
                .line_done
                .lock()
                .expect("line done lock")
                .remove(&(campaign, contact));
            let left = {
                let mut active = me.active.lock().expect("active lock");
                let n = active.entry(campaign).or_default();
                if !done {
                    *n -= 1;
                }
                *n
            };
            // Its line was counted free when the call ended (`line_done`); once settled
            // the campaign may be complete, which the last call's look finds out (a look
            // per settle would keep the runner busy when the next line frees).
            if !done || left == 0 {
                me.line_freed.notify_one();
            }
        });
    }
}
