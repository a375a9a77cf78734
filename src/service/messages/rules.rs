//! A notice campaign's message rules (`campaigns.after_confirm`, `campaigns.when_unreached`,
//! set by `contactd campaigns create --after-confirm / --when-unreached`): called by the
//! campaign runner each time a subscriber's attempt is settled, it queues the rule's
//! template about the subscriber's last call. Queueing is idempotent on (call, template,
//! trigger), so a settle replayed after a restart queues nothing more.

use super::{MessageError, Messages, Recipient};
use crate::core::campaign::outcome::Outcome;
use tracing::warn;

/// The trigger names the rules write in `messages.trigger`.
pub const AFTER_CONFIRM: &str = "after_confirm";
pub const WHEN_UNREACHED: &str = "when_unreached";

/// A subscriber's attempt, settled.
#[derive(Debug, Clone, Copy)]
pub struct Settled {
    pub campaign_id: i64,
    pub contact_id: i64,
    pub outcome: Outcome,
    /// No further attempt follows (the outcome is final).
    pub last: bool,
}

/// Not reached, for `when_unreached`: the line was busy, nobody answered, or the network
/// failed, to the last retry. A number that does not exist, a do-not-call entry, an
/// unknown or cancelled end are not "not reached".
fn unreached(o: Outcome) -> bool {
    matches!(o, Outcome::Busy | Outcome::NoAnswer | Outcome::Failed)
}

impl Messages {
    /// Queues what the campaign's rules ask for after this attempt. Never fails the
    /// campaign: a problem is logged (a bad recipient stays a log line, the database
    /// being away too — the next settle of the subscriber does not come, so say it loudly).
    pub async fn on_attempt_settled(&self, s: Settled) {
        if let Err(e) = self.apply_rules(s).await {
            warn!(campaign = s.campaign_id, contact = s.contact_id, error = %e, "campaign message rule not applied");
        }
    }

    async fn apply_rules(&self, s: Settled) -> Result<(), MessageError> {
        let (after_confirm, when_unreached) =
            crate::store::messages::campaign_rules(&self.pool, s.campaign_id).await?;
        if after_confirm.is_none() && when_unreached.is_none() {
            return Ok(());
        }
        let Some((call, key)) =
            crate::store::messages::last_attempt(&self.pool, s.campaign_id, s.contact_id).await?
        else {
            return Ok(());
        };
        let call = call.to_string();
        if let Some(t) = after_confirm {
            let confirmed = key.as_deref() == Some(self.config.campaigns.confirm_key.as_str());
            if confirmed && s.outcome.reached() {
                self.send_for_call(&call, &t, Recipient::Default, AFTER_CONFIRM)
                    .await?;
            }
        }
        if let Some(t) = when_unreached {
            if s.last && unreached(s.outcome) {
                self.send_for_call(&call, &t, Recipient::Default, WHEN_UNREACHED)
                    .await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unanswered_ends_count_as_not_reached() {
        for o in [Outcome::Busy, Outcome::NoAnswer, Outcome::Failed] {
            assert!(unreached(o), "{o:?}");
        }
        for o in [
            Outcome::ListenedFull,
            Outcome::ListenedPartial,
            Outcome::Invalid,
            Outcome::Dnc,
            Outcome::Unknown,
            Outcome::Cancelled,
        ] {
            assert!(!unreached(o), "{o:?}");
        }
    }
}
