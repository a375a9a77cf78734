//! After a restart (or a lost originate): subscribers of operator campaigns left `dialing`
//! with nobody calling them. As for the notice campaigns, nobody who may have been connected
//! is dialed again: an answered call is ended and its subscriber done (`unknown`); a call
//! never answered is retried by its cause; one with no call row was never sent.

use std::sync::Arc;
use std::time::Duration;

use freeswitch_types::HangupCause;
use tracing::{info, warn};

use super::OpRunner;
use crate::core::campaign::outcome::{self, Outcome};
use crate::store::StoreError;

impl OpRunner {
    pub(super) async fn recover(self: &Arc<Self>) -> Result<(), StoreError> {
        for op in self.ops.active().await? {
            if !self.drives(op.campaign_id) {
                continue; // another instance's calls, or nobody's yet: its driver's to recover
            }
            let Some(c) = self.campaigns.get(op.campaign_id).await? else {
                continue;
            };
            // A preview contact on an operator's screen is theirs, not stranded.
            let held = self.held().held_contacts(c.id).await?;
            let stranded: Vec<_> = {
                let all = self.campaigns.stranded(c.id).await?;
                let driving = self.driving.lock().expect("driving");
                all.into_iter()
                    .filter(|s| !driving.contains(&(c.id, s.contact_id)))
                    .filter(|s| !held.contains(&s.contact_id))
                    .collect()
            };
            if !stranded.is_empty() {
                info!(
                    campaign = c.id,
                    n = stranded.len(),
                    "operator campaign: recovering subscribers nobody calls"
                );
            }
            for s in stranded {
                let attempt_no = s.attempts + 1;
                if let Some(o) = s.outcome.as_deref() {
                    self.settle(&c, s.contact_id, s.attempts.max(1), o).await;
                    continue;
                }
                let Some(uuid) = s.uuid else {
                    self.campaigns
                        .requeue(c.id, s.contact_id, self.clock.now())
                        .await?;
                    continue;
                };
                let call = uuid.to_string();
                if let Some(link) = self.link_for(&c.trunk) {
                    if matches!(link.exists(&call).await, Ok(true)) {
                        // Nobody follows it any more: ended (its row then says if it was answered).
                        let _ = link.kill(&call, HangupCause::NormalClearing).await;
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                }
                let rec = self.calls.get(uuid).await.ok().flatten();
                let outcome = match &rec {
                    None => {
                        // No call row: written before the originate, so none was sent.
                        self.campaigns.delete_attempt(uuid).await?;
                        self.campaigns
                            .requeue(c.id, s.contact_id, self.clock.now())
                            .await?;
                        continue;
                    }
                    Some(r) if s.answered || r.answered_at.is_some() => Outcome::Unknown.as_str(),
                    Some(r) => match r.hangup_cause.as_deref() {
                        Some(cause) if cause != "UNKNOWN" => outcome::unanswered(cause).as_str(),
                        _ => Outcome::NoAnswer.as_str(),
                    },
                };
                warn!(campaign = c.id, contact = s.contact_id, %uuid, outcome, "operator campaign attempt recovered");
                let end = crate::store::campaigns::AttemptEnd {
                    outcome: outcome.to_string(),
                    cause: rec.and_then(|r| r.hangup_cause),
                    ..Default::default()
                };
                self.finish(&c, s.contact_id, attempt_no, uuid, &end).await;
            }
        }
        Ok(())
    }
}
