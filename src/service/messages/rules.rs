//! A notice campaign's message rules (`campaigns.after_confirm`, `campaigns.when_unreached`,
//! set by `contactd campaigns create --after-confirm / --when-unreached`).
//!
//! When the runner places a call (PostgreSQL is up then: the attempt row is written
//! before the originate) it asks [`Messages::prepare_rules`] for the rules' messages,
//! rendered from the subscriber's row and kept in memory with the call. They fire at the
//! moment they are due: `after_confirm` when the subscriber presses the confirmation key
//! (while the call is still up), `when_unreached` when the attempt settles as not reached
//! with no retry left. Firing is a journal write (`store::journal`): while PostgreSQL is
//! away it is spooled (fsync'd) and written once the server is back, and the key `(call,
//! template, trigger)` makes every repeat — a replay, the same rule firing again after a
//! restart — write nothing, so a rule's message is made once and sent once.
//!
//! A call contactd takes over after a restart has no prepared rules: its settle reads the
//! rules and the recorded key from PostgreSQL instead ([`Messages::on_attempt_settled`]).

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use tracing::{error, warn};
use uuid::Uuid;

use super::{failed, MessageError, Messages, Recipient};
use crate::core::campaign::outcome::Outcome;
use crate::store::messages::{self as store, NewMessage};
use crate::store::StoreError;

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

/// One call's rule messages, made when it was placed.
#[derive(Debug, Default)]
pub struct Rules {
    after_confirm: Option<NewMessage>,
    when_unreached: Option<NewMessage>,
    /// `after_confirm` was written (at the key press): the settle need not write it again.
    confirmed: AtomicBool,
}

impl Rules {
    pub fn is_empty(&self) -> bool {
        self.after_confirm.is_none() && self.when_unreached.is_none()
    }

    /// A message waits for the confirmation key.
    pub fn on_key(&self) -> bool {
        self.after_confirm.is_some()
    }
}

/// Not reached, for `when_unreached`: the line was busy, nobody answered, or the network
/// failed, to the last retry. A number that does not exist, a do-not-call entry, an
/// unknown or cancelled end are not "not reached".
fn unreached(o: Outcome) -> bool {
    matches!(o, Outcome::Busy | Outcome::NoAnswer | Outcome::Failed)
}

impl Messages {
    /// The rule messages of campaign `campaign`'s call `call` to subscriber `contact`,
    /// rendered now (`now` fills `{date}`). A template the subscriber's row cannot fill
    /// (a missing field, no e-mail address) becomes a message recorded `failed` with the
    /// reason when its rule fires. Err only when PostgreSQL cannot be read.
    pub async fn prepare_rules(
        &self,
        campaign: i64,
        contact: i64,
        call: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Rules, StoreError> {
        let (after_confirm, when_unreached) = store::campaign_rules(&self.pool, campaign).await?;
        if after_confirm.is_none() && when_unreached.is_none() {
            return Ok(Rules::default());
        }
        let ctx = store::contact_context(&self.pool, campaign, contact)
            .await?
            .unwrap_or_default();
        let make =
            |name: Option<String>, trigger: &str| {
                let name = name?;
                let t = match self.template(&name) {
                    Ok(t) => t,
                    Err(e) => {
                        // the template left the config since the campaign was made
                        warn!(campaign, template = %name, "campaign message rule skipped: {e}");
                        return None;
                    }
                };
                let built = self.build(call, &name, t, Recipient::Default, trigger, &ctx, now);
                Some(built.unwrap_or_else(|e| {
                    failed(call, &name, t, Recipient::Default, trigger, &ctx, &e)
                }))
            };
        Ok(Rules {
            after_confirm: make(after_confirm, AFTER_CONFIRM),
            when_unreached: make(when_unreached, WHEN_UNREACHED),
            confirmed: AtomicBool::new(false),
        })
    }

    /// The subscriber pressed `key`: the `after_confirm` message, if it is the
    /// confirmation key. Written once per call.
    pub async fn on_key(&self, rules: &Rules, key: &str, now: DateTime<Utc>) {
        let Some(m) = &rules.after_confirm else {
            return;
        };
        if key != self.config.campaigns.confirm_key || rules.confirmed.swap(true, Ordering::SeqCst)
        {
            return;
        }
        self.fire(m, now).await;
    }

    /// The attempt settled: `when_unreached` if it was not reached and no retry follows.
    /// `rules`: the call's prepared rules; None for a call taken over after a restart.
    pub async fn on_settled(&self, rules: Option<&Rules>, s: Settled, now: DateTime<Utc>) {
        match rules {
            Some(rules) => self.unreached_rule(rules, s, now).await,
            None => self.on_attempt_settled(s).await,
        }
    }

    async fn unreached_rule(&self, rules: &Rules, s: Settled, now: DateTime<Utc>) {
        if let Some(m) = &rules.when_unreached {
            if s.last && unreached(s.outcome) {
                self.fire(m, now).await;
            }
        }
    }

    /// Writes a rule's message through the journal; kept (spooled) while PostgreSQL is away.
    async fn fire(&self, m: &NewMessage, now: DateTime<Utc>) {
        match self.writer.write(store::enqueue_write(m, now)).await {
            Ok(()) if self.writer.backlog() == 0 => {
                // (written straight away: when it was spooled the sender finds it after
                // the replay, at its next look)
                tracing::info!(call = %m.call_uuid, template = %m.template, trigger = %m.trigger, failed = m.error.is_some(), "campaign message rule fired");
                if m.error.is_none() {
                    self.wake.notify_one();
                    self.notify_others().await;
                }
            }
            Ok(()) => {
                warn!(call = %m.call_uuid, template = %m.template, trigger = %m.trigger, "campaign message rule fired while PostgreSQL is away; spooled, sent once it is back")
            }
            Err(e) => {
                error!(call = %m.call_uuid, template = %m.template, trigger = %m.trigger, "campaign message rule not recorded: {e}")
            }
        }
    }

    /// The rules of a call taken over after a restart, read from PostgreSQL at its settle
    /// (the key as the switch noted it). Never fails the campaign: a problem is logged.
    pub async fn on_attempt_settled(&self, s: Settled) {
        if let Err(e) = self.apply_rules(s).await {
            warn!(campaign = s.campaign_id, contact = s.contact_id, error = %e, "campaign message rule not applied");
        }
    }

    async fn apply_rules(&self, s: Settled) -> Result<(), MessageError> {
        let (after_confirm, when_unreached) =
            store::campaign_rules(&self.pool, s.campaign_id).await?;
        if after_confirm.is_none() && when_unreached.is_none() {
            return Ok(());
        }
        let Some((call, key)) =
            store::last_attempt(&self.pool, s.campaign_id, s.contact_id).await?
        else {
            return Ok(());
        };
        let rules = self
            .prepare_rules(s.campaign_id, s.contact_id, call, Utc::now())
            .await?;
        if key.as_deref() == Some(self.config.campaigns.confirm_key.as_str()) && s.outcome.reached()
        {
            self.on_key(
                &rules,
                self.config.campaigns.confirm_key.as_str(),
                Utc::now(),
            )
            .await;
        }
        self.unreached_rule(&rules, s, Utc::now()).await;
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
