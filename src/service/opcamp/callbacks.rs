//! Callbacks operators schedule with a disposition: dialed at their time, when the operator
//! who scheduled it is ready (the person is offered to them alone); if that operator is
//! still not ready `callback_grace_seconds` after the time, to any operator of the queue.
//! The time was agreed with the person: neither the calling window nor the do-not-call list
//! holds a callback back.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tracing::{info, warn};

use super::OpRunner;
use crate::core::acd::agent::StateName;
use crate::core::dialer::preview_left_behind;
use crate::store::campaigns::Target;
use crate::store::StoreError;

impl OpRunner {
    /// The callbacks `login` scheduled, latest due first: how each went (done, failed after
    /// its retries, pending again).
    pub async fn callbacks_of(
        &self,
        login: &str,
        limit: i64,
    ) -> Result<Vec<crate::store::op_held::CallbackRow>, super::operator::OpError> {
        Ok(self.held().callbacks_of(login, limit).await?)
    }

    pub(super) async fn callbacks_due(self: &Arc<Self>, now: DateTime<Utc>) {
        let driven: Option<Vec<i64>> = self
            .drivers
            .as_ref()
            .map(|d| d.driven().into_iter().map(|(id, _)| id).collect());
        let by = self.holder();
        let due = match self
            .ops
            .take_due_callbacks(now, driven.as_deref(), &by)
            .await
        {
            Ok(d) => d,
            Err(e) => {
                warn!("operator callbacks not read: {e}");
                return;
            }
        };
        let grace = self.config.campaigns.operator.callback_grace_seconds;
        for mut cb in due {
            let (Ok(Some(c)), Ok(Some(op))) = (
                self.campaigns.get(cb.campaign_id).await,
                self.ops.get(cb.campaign_id).await,
            ) else {
                self.log_write(self.ops.callback_state(cb.id, "failed", None, None).await);
                continue;
            };
            let ready = matches!(
                self.acd.operator_state(&cb.operator).await,
                Some((StateName::Ready, _))
            );
            let late = now - cb.due_at > TimeDelta::seconds(grace as i64);
            if ready {
                cb.to_operator = true;
            } else if late {
                cb.to_operator = false;
            } else {
                // Their operator is busy or away: looked at again at the next look.
                self.log_write(self.ops.callback_state(cb.id, "pending", None, None).await);
                continue;
            }
            let attempts = self
                .ops
                .attempts_of(c.id, cb.contact_id)
                .await
                .unwrap_or_default();
            let t = Target {
                contact_id: cb.contact_id,
                phone: cb.number.clone(),
                tz: None,
                attempts,
            };
            info!(
                campaign = c.id,
                callback = cb.id,
                operator = %cb.operator,
                to_operator = cb.to_operator,
                "dialing an operator's callback"
            );
            self.spawn_call(c, op, t, Some(cb), None);
        }
    }
}

impl OpRunner {
    /// Previewed contacts held by operators who went away (`[campaigns.operator]
    /// preview_release_seconds`) go back to their list for someone else. Taken in one step
    /// (as a dial is), so an operator pressing call at that moment gets one or the other.
    pub(super) async fn release_left_previews(&self) -> Result<(), StoreError> {
        let held = self.held();
        let after = Duration::from_secs(self.config.campaigns.operator.preview_release_seconds);
        for (login, campaign) in held.previews().await? {
            if !preview_left_behind(self.acd.operator_state(&login).await, after) {
                continue;
            }
            if let Some(t) = held.take_preview(&login, campaign).await? {
                info!(
                    operator = %login,
                    campaign,
                    contact = t.contact_id,
                    "operator away: previewed contact back to the list"
                );
                self.campaigns
                    .requeue(campaign, t.contact_id, self.clock.now())
                    .await?;
            }
        }
        Ok(())
    }
}
