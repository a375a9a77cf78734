//! What an operator does with operator campaigns: sets the disposition of the campaign call
//! they just had (from the configured list; a callback code schedules a callback with its
//! time and number), and in preview mode asks for the next contact and then for its call.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::{info, warn};
use uuid::Uuid;

use super::{ContactCard, OpRunner};
use crate::core::campaign::pacer::{CampaignRules, DncVerdict, WindowVerdict};
use crate::store::campaigns::Target;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{0}")]
    Invalid(String),
    #[error("no such {0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("storage: {0}")]
    Store(String),
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(w) => OpError::NotFound(w),
            e => OpError::Store(e.to_string()),
        }
    }
}

impl From<crate::service::acd::AcdError> for OpError {
    fn from(e: crate::service::acd::AcdError) -> Self {
        OpError::Store(e.to_string())
    }
}

/// A disposition as the operator sends it.
#[derive(Debug, Clone)]
pub struct Disposition {
    pub call: Uuid,
    pub code: String,
    pub callback_at: Option<DateTime<Utc>>,
    pub callback_number: Option<String>,
}

impl OpRunner {
    /// Sets the disposition of `login`'s campaign call; the callback's id if it scheduled one.
    pub async fn set_disposition(
        &self,
        login: &str,
        d: Disposition,
    ) -> Result<Option<i64>, OpError> {
        let o = &self.config.campaigns.operator;
        if !o.dispositions.contains(&d.code) {
            return Err(OpError::Invalid(format!(
                "disposition {:?}: one of {}",
                d.code,
                o.dispositions.join(", ")
            )));
        }
        let now = self.clock.now();
        let callback = o.callback_dispositions.contains(&d.code);
        let number = match (callback, &d.callback_at, &d.callback_number) {
            (false, None, None) => None,
            (false, _, _) => {
                return Err(OpError::Invalid(format!(
                    "disposition {:?} schedules no callback: callback_at and callback_number are for {}",
                    d.code,
                    o.callback_dispositions.join(", ")
                )))
            }
            (true, None, _) => {
                return Err(OpError::Invalid(format!(
                    "disposition {:?} needs callback_at (RFC 3339)",
                    d.code
                )))
            }
            (true, Some(at), _) if *at <= now => {
                return Err(OpError::Invalid("callback_at is in the past".into()))
            }
            (true, Some(_), n) => Some(n.clone()),
        };
        let number = match number.flatten() {
            Some(n) => Some(
                crate::core::numbers::normalize(&n, &self.config.dialing)
                    .map_err(|e| OpError::Invalid(format!("callback_number {n:?}: {e}")))?,
            ),
            None => None,
        };
        let callback = d
            .callback_at
            .filter(|_| callback)
            .map(|at| (at, number.as_deref()));
        let Some(done) = self
            .ops
            .dispose(d.call, login, &d.code, now, callback)
            .await?
        else {
            return Err(OpError::NotFound(format!(
                "campaign call {} of operator {login} without a disposition",
                d.call
            )));
        };
        if let (Some(at), false) = (d.callback_at, done.repeated) {
            let (campaign, contact) = (done.campaign, done.contact);
            info!(operator = login, campaign, contact, due_at = %at, "callback scheduled");
        }
        let id = done.callback;
        // Stored: accepted. Routing is told now, and again on a repeat; if Redis does not
        // answer, the ACD finds the stored disposition itself once it does.
        if let Err(e) = self.acd.disposition_set(login, &d.call.to_string()).await {
            warn!(operator = login, call = %d.call, "disposition stored, routing not told yet: {e}");
        }
        info!(operator = login, call = %d.call, code = %d.code, "disposition set");
        Ok(id)
    }

    /// Preview: the next contact of `campaign` for `login` (the same one until it is dialed,
    /// held for them in PostgreSQL: a restart of contactd does not lose it or give it away).
    pub async fn preview_next(
        &self,
        login: &str,
        campaign: i64,
    ) -> Result<Option<ContactCard>, OpError> {
        let held = self.held();
        if let Some((c, t)) = held.held_preview(login).await? {
            if c == campaign {
                return Ok(Some(self.contact_card(&t).await?));
            }
            // Another campaign's contact on their screen: back to its list.
            if let Some(t) = held.take_preview(login, c).await? {
                self.campaigns
                    .requeue(c, t.contact_id, self.clock.now())
                    .await?;
            }
        }
        let op = self
            .ops
            .get(campaign)
            .await?
            .ok_or_else(|| OpError::NotFound(format!("operator campaign {campaign}")))?;
        if op.mode != "preview" {
            return Err(OpError::Conflict(format!(
                "campaign {campaign} is {}, not preview",
                op.mode
            )));
        }
        let now = self.clock.now();
        let Some(t) = self
            .campaigns
            .claim_due(campaign, 1, now, None)
            .await?
            .pop()
        else {
            return Ok(None);
        };
        if let Err(e) = held.hold_preview(login, campaign, &t).await {
            // Not held (e.g. a second request of the same operator got there first): the
            // contact goes back to the list rather than stay claimed by nobody.
            self.campaigns.requeue(campaign, t.contact_id, now).await?;
            return Err(OpError::Conflict(format!(
                "operator {login}: preview not held ({e}): ask again"
            )));
        }
        Ok(Some(self.contact_card(&t).await?))
    }

    async fn contact_card(&self, t: &Target) -> Result<ContactCard, OpError> {
        Ok(match self.ops.contact(t.contact_id).await? {
            Some(r) => r.into(),
            None => ContactCard {
                id: t.contact_id,
                phone: t.phone.clone(),
                ..Default::default()
            },
        })
    }

    /// Preview: the operator pressed call: the contact they were shown is dialed now (its
    /// window and the do-not-call list checked at this moment) and connected to them.
    pub async fn preview_dial(
        self: &Arc<Self>,
        login: &str,
        campaign: i64,
    ) -> Result<i64, OpError> {
        // Taken from the operator in one step: a second press finds nothing to dial.
        let Some(t) = self.held().take_preview(login, campaign).await? else {
            return Err(OpError::Conflict(format!(
                "operator {login} has no contact of campaign {campaign} on screen: GET …/preview first"
            )));
        };
        let id = campaign;
        let (Some(c), Some(op)) = (self.campaigns.get(id).await?, self.ops.get(id).await?) else {
            return Err(OpError::NotFound(format!("operator campaign {campaign}")));
        };
        let now = self.clock.now();
        let rules = CampaignRules::parse(
            &c.window_days,
            &c.window_start,
            &c.window_end,
            c.time_zone.as_deref(),
        )
        .map_err(|p| OpError::Conflict(format!("campaign {campaign}: {p}")))?;
        let window = self.rules().window(&rules, t.tz.as_deref(), now);
        if let WindowVerdict::ClosedUntil(at) = window {
            self.campaigns.requeue(id, t.contact_id, at).await?;
            return Err(OpError::Conflict(format!(
                "outside the calling window until {at}"
            )));
        }
        let blocked = crate::lists::dnc::is_blocked_in(self.campaigns.pool(), &t.phone)
            .await
            .map_err(|e| e.to_string());
        let verdict = self.rules().handle_dnc(blocked, now);
        match verdict {
            DncVerdict::Dial => {}
            DncVerdict::Skip => {
                self.campaigns.skip(id, t.contact_id, "dnc").await?;
                return Err(OpError::Conflict(
                    "the number is on the do-not-call list".into(),
                ));
            }
            DncVerdict::RetryAt(at) => {
                self.campaigns.requeue(id, t.contact_id, at).await?;
                return Err(OpError::Store("do-not-call list unreadable".into()));
            }
        }
        let contact = t.contact_id;
        self.spawn_call(c, op, t, None, Some(login.to_string()));
        Ok(contact)
    }
}
