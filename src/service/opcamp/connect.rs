//! A person answered an operator-campaign call: the wait in the ACD for a ready operator
//! until `connect_within` is up, then the call taken back (or found bridged after all).

use std::time::Duration;

use tracing::{debug, warn};
use uuid::Uuid;

use super::{CampaignCard, OpRunner};
use crate::core::channels::SwitchEvent;
use crate::esl::control::{CallWatch, WatchEvent};
use crate::store::op_campaigns::OpCampaign;

/// An operator answered as the time ran out: how long the bridge may still take.
const BRIDGE_GRACE: Duration = Duration::from_secs(5);

/// Where the wait for an operator ended.
pub(super) enum Reached {
    Operator(String),
    Nobody,
    HungUp,
}

impl OpRunner {
    /// Waits in the ACD for an operator until `deadline`; then takes the call back.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn connect(
        &self,
        op: &OpCampaign,
        id: Uuid,
        watch: &mut CallWatch,
        number: &str,
        card: CampaignCard,
        deadline: tokio::time::Instant,
        only: Option<&str>,
    ) -> Reached {
        let call = id.to_string();
        let priority = self.config.campaigns.operator.outbound_priority;
        let queue = match only {
            Some(login) => crate::service::acd::Acd::personal_queue(login),
            None => op.queue.clone(),
        };
        if let Err(e) = self
            .acd
            .queue_campaign_call(&call, &queue, &op.queue, priority, number, card)
            .await
        {
            warn!(%call, %queue, "not queued for an operator: {e}");
            return Reached::Nobody;
        }
        // A link lost meanwhile is left on the watch for what follows (the talk, the
        // abandon message): the call's end may have been lost with it.
        let mut lost = false;
        let reached = async {
            // A callback for its operator: offered to them alone, as soon as they are ready.
            let mut offer_to = only;
            loop {
                if let Some(login) = offer_to {
                    match self.acd.offer_to(&queue, &op.queue, login).await {
                        Ok(true) => offer_to = None,
                        Ok(false) => {}
                        Err(e) => debug!(%call, "callback not offered yet: {e}"),
                    }
                }
                let again = offer_to.is_some();
                let retry = async move {
                    if again {
                        tokio::time::sleep(Duration::from_millis(100)).await
                    } else {
                        std::future::pending().await
                    }
                };
                tokio::select! {
                    () = retry => {}
                    ev = watch.recv() => match ev {
                        Some(WatchEvent::Switch(SwitchEvent::Bridge { .. })) => {
                            return match self.acd.operator_of(&call).await {
                                Some(login) => Reached::Operator(login),
                                None => Reached::Operator(String::new()),
                            };
                        }
                        Some(WatchEvent::Switch(SwitchEvent::Hangup(_))) | None => {
                            let _ = self.acd.withdraw_campaign_call(&queue, &call).await;
                            return Reached::HungUp;
                        }
                        Some(WatchEvent::LinkLost) => lost = true,
                        _ => {}
                    },
                    _ = tokio::time::sleep_until(deadline) => break,
                }
            }
            match self.acd.withdraw_campaign_call(&queue, &call).await {
                Ok(true) => return Reached::Nobody,
                Ok(false) => {}
                Err(e) => {
                    warn!(%call, "campaign call not withdrawn from the ACD: {e}");
                    return Reached::Nobody;
                }
            }
            // An operator answered just in time: the bridge is under way.
            let until = self.clock.instant() + BRIDGE_GRACE;
            loop {
                match tokio::time::timeout_at(until, watch.recv()).await {
                    Ok(Some(WatchEvent::Switch(SwitchEvent::Bridge { .. }))) => {
                        let login = self.acd.operator_of(&call).await.unwrap_or_default();
                        return Reached::Operator(login);
                    }
                    Ok(Some(WatchEvent::Switch(SwitchEvent::Hangup(_)))) | Ok(None) => {
                        return Reached::HungUp
                    }
                    Ok(Some(WatchEvent::LinkLost)) => lost = true,
                    Ok(Some(_)) => {}
                    Err(_) => return Reached::Nobody,
                }
            }
        }
        .await;
        if lost {
            watch.put_back(WatchEvent::LinkLost);
        }
        reached
    }
}
