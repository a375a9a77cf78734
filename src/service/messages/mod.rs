//! E-mail or SMS during a call: an operator (API, screen pop) or a notice campaign's rule
//! sends a configured template (`[messages.templates.NAME]`) about a call.
//!
//! [`Messages::send_for_call`] renders the template from the call's contact, checks the
//! recipient, and writes one `messages` row keyed by `(call, template, trigger)` — the
//! same rule firing twice (a replay after a crash, a double click) finds the row and sends
//! nothing more — then wakes the sender. The sender ([`Messages::run`], `sender.rs`) claims
//! due rows (`FOR UPDATE SKIP LOCKED` and a lease: two instances never send one row at
//! once), sends through the provider (`providers.rs`: SMTP via lettre, an HTTP SMS
//! gateway) and records every send in `message_attempts`.
//!
//! Delivery is at-least-once. The one window for a duplicate is a crash after the provider
//! accepted a send and before `sent` was committed (one short transaction); the resend
//! carries the same Message-ID / `client_ref`, so the duplicate is recognisable downstream,
//! and the interrupted send is recorded as such.
//!
//! - `sender.rs`: the delivery loop.
//! - `providers.rs`: the SMTP and SMS-gateway adapters and their error classes.
//! - `rules.rs`: a notice campaign's `after_confirm` / `when_unreached` rules.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::{Config, MessageTemplate};
use crate::core::messages::{render, sms_segments, Channel, RenderError};
use crate::store::journal::{Journal, Writer};
use crate::store::messages::{self as store, CallContext, NewMessage};
use crate::store::StoreError;

mod providers;
mod rules;
mod sender;

pub use providers::{ProviderError, SmsGateway};
pub use rules::{Rules, Settled};

/// The channel PostgreSQL notifies when a message is queued (`sql/013_messages.sql` has no
/// trigger: [`Messages::send_for_call`] notifies), so every instance's sender wakes.
pub const CHANNEL: &str = "contactd_messages";

/// A `messages` row's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MessageId(pub i64);

/// What [`Messages::queue`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub id: MessageId,
    /// false: the same template was already queued for the call by the same trigger
    pub created: bool,
    /// Written `failed` at once, and why (a field of the template the call lacks). Told
    /// by the write itself, not by the row read back: the gateway may refuse a message
    /// and the row turn `failed` before the reader looks.
    pub refused: Option<String>,
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// The call's own: its number for an SMS, the contact's e-mail (list column `email`)
    /// for an e-mail.
    Default,
    /// An address or number given by the operator; checked like everything else.
    To(String),
}

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("no template {0:?} in [messages.templates]")]
    UnknownTemplate(String),
    #[error("no call {0} is known")]
    UnknownCall(String),
    #[error("not a call id: {0:?}")]
    BadCallId(String),
    #[error("recipient {given:?}: {reason}")]
    BadRecipient { given: String, reason: String },
    #[error("no recipient: the call has no {0} on record; give \"to\"")]
    NoRecipient(&'static str),
    #[error("template {template}: {reason}")]
    Render { template: String, reason: String },
    /// The template asks for a field this call has none of: recorded as a failed message.
    #[error("template {template}: {reason}")]
    Missing { template: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MessageError {
    /// The request was wrong (as opposed to the database being away).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, MessageError::Store(_))
    }
}

/// The messages service: queueing (any task) and the delivery loop (one per instance).
#[derive(Clone)]
pub struct Messages {
    pool: Pool,
    config: Arc<Config>,
    /// A message was queued (here or, through NOTIFY, on another instance): look now.
    wake: Arc<Notify>,
    /// Where a campaign rule's message is written: through the daemon's journal, so a rule
    /// firing while PostgreSQL is away is kept and written once it is back.
    writer: Writer,
}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messages").finish_non_exhaustive()
    }
}

impl Messages {
    pub fn new(pool: Pool, config: Arc<Config>) -> Self {
        Messages {
            writer: Writer::Direct(pool.clone()),
            pool,
            config,
            wake: Arc::default(),
        }
    }

    /// Campaign rules' messages go through `journal` (the daemon's record-write spool).
    pub fn with_journal(mut self, journal: Journal) -> Self {
        self.writer = Writer::Journal(journal);
        self
    }

    /// What wakes the sender; `store::notify::listen` on [`CHANNEL`] is given it.
    pub fn wake_handle(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The configured templates an operator may send (for a screen pop): name and channel.
    pub fn templates(&self) -> Vec<(String, Channel)> {
        self.config
            .messages
            .templates
            .iter()
            .map(|(name, t)| (name.clone(), t.channel))
            .collect()
    }

    /// Queues `template` about call `call_uuid` for `to`, once per `trigger`: a second
    /// call with the same three returns the first one's id and sends nothing more. Checks
    /// before writing: the template exists, the call is known, the recipient is a valid
    /// address / phone number, the rendered SMS fits `[messages] sms_max_segments`.
    pub async fn send_for_call(
        &self,
        call_uuid: &str,
        template: &str,
        to: Recipient,
        trigger: &str,
    ) -> Result<MessageId, MessageError> {
        self.queue(call_uuid, template, to, trigger)
            .await
            .map(|q| q.id)
    }

    /// [`Messages::send_for_call`] that also says whether this call queued it (false: it
    /// was already there). A template asking for a field the call lacks is recorded as a
    /// failed message (its `last_error` names the field) rather than refused unrecorded.
    pub async fn queue(
        &self,
        call_uuid: &str,
        template: &str,
        to: Recipient,
        trigger: &str,
    ) -> Result<Queued, MessageError> {
        let t = self.template(template)?;
        let uuid = Uuid::parse_str(call_uuid)
            .map_err(|_| MessageError::BadCallId(call_uuid.to_string()))?;
        let ctx = store::call_context(&self.pool, uuid)
            .await?
            .ok_or_else(|| MessageError::UnknownCall(uuid.to_string()))?;
        let m = match self.build(uuid, template, t, to.clone(), trigger, &ctx, Utc::now()) {
            Ok(m) => m,
            Err(e @ MessageError::Missing { .. }) => {
                failed(uuid, template, t, to, trigger, &ctx, &e)
            }
            Err(e) => return Err(e),
        };
        let (id, created) = store::enqueue(&self.pool, &m).await?;
        if created {
            self.queued(&m, id).await;
        }
        Ok(Queued {
            id: MessageId(id),
            created,
            refused: created.then(|| m.error.clone()).flatten(),
        })
    }

    fn template(&self, name: &str) -> Result<&MessageTemplate, MessageError> {
        self.config
            .messages
            .templates
            .get(name)
            .filter(|_| crate::config::is_template_name(name))
            .ok_or_else(|| MessageError::UnknownTemplate(name.to_string()))
    }

    /// Logs a message written and wakes the senders (a failed one has nothing to send).
    async fn queued(&self, m: &NewMessage, id: i64) {
        match &m.error {
            None => {
                tracing::info!(message = id, call = %m.call_uuid, template = %m.template, trigger = %m.trigger, channel = %m.channel, "message queued");
                self.wake.notify_one();
                self.notify_others().await;
            }
            Some(e) => {
                tracing::warn!(message = id, call = %m.call_uuid, template = %m.template, trigger = %m.trigger, error = %e, "message cannot be made for this call; recorded failed")
            }
        }
    }

    /// Renders template `t` for the call and checks the recipient and the SMS length.
    /// `now` fills `{date}` (the day in `[dialing] zone`, DD.MM.YYYY).
    #[allow(clippy::too_many_arguments)]
    fn build(
        &self,
        call_uuid: Uuid,
        name: &str,
        t: &MessageTemplate,
        to: Recipient,
        trigger: &str,
        ctx: &CallContext,
        now: DateTime<Utc>,
    ) -> Result<NewMessage, MessageError> {
        let recipient = self.recipient(t.channel, to, ctx)?;
        let mut fields = ctx.fields.clone();
        let day = now.with_timezone(&self.config.dialing.zone());
        fields.insert("date".into(), day.format("%d.%m.%Y").to_string());
        let rendered = |text: &str| {
            render(text, &fields).map_err(|e| match e {
                RenderError::Missing(_) => MessageError::Missing {
                    template: name.to_string(),
                    reason: e.to_string(),
                },
                RenderError::Template(reason) => MessageError::Render {
                    template: name.to_string(),
                    reason,
                },
            })
        };
        let body = rendered(&t.body)?;
        let subject = t.subject.as_deref().map(rendered).transpose()?;
        if t.channel == Channel::Sms {
            let s = sms_segments(&body);
            let max = self.config.messages.sms_max_segments;
            if s.count > max {
                return Err(MessageError::Render {
                    template: name.to_string(),
                    reason: format!(
                        "filled in, it takes {} SMS parts ({:?}), more than [messages] \
                         sms_max_segments ({max})",
                        s.count, s.encoding
                    ),
                });
            }
        }
        Ok(NewMessage {
            call_uuid,
            template: name.to_string(),
            trigger: trigger.to_string(),
            campaign_id: ctx.campaign_id,
            channel: t.channel.as_str().to_string(),
            recipient,
            subject,
            body,
            attachments: t
                .attachments
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            error: None,
        })
    }

    /// The recipient checked for `channel`: an E.164 number (`core::numbers`) or an
    /// address lettre will send to.
    fn recipient(
        &self,
        channel: Channel,
        to: Recipient,
        ctx: &CallContext,
    ) -> Result<String, MessageError> {
        let given = match to {
            Recipient::To(s) => s,
            Recipient::Default => match channel {
                Channel::Sms => ctx
                    .phone
                    .clone()
                    .ok_or(MessageError::NoRecipient("number"))?,
                Channel::Email => ctx
                    .email
                    .clone()
                    .filter(|e| !e.trim().is_empty())
                    .ok_or(MessageError::NoRecipient("e-mail address"))?,
            },
        };
        let bad = |reason: String| MessageError::BadRecipient {
            given: given.chars().take(100).collect(),
            reason,
        };
        match channel {
            Channel::Sms => crate::core::numbers::normalize(&given, &self.config.dialing)
                .map_err(|e| bad(e.to_string())),
            Channel::Email => {
                if given.chars().any(char::is_control) {
                    return Err(bad("control characters".into()));
                }
                crate::mail::parse_address(&given)
                    .map(|a| a.to_string())
                    .map_err(|_| bad("not an e-mail address".into()))
            }
        }
    }

    /// Wakes the senders of other instances (best effort: they also look on their own).
    async fn notify_others(&self) {
        if let Ok(db) = self.pool.get().await {
            // CHANNEL is a constant; pg_notify takes it as a parameter anyway
            let _ = db.execute("SELECT pg_notify($1, '')", &[&CHANNEL]).await;
        }
    }
}

/// The record of a message that could not be made for this call: `failed` at once, with
/// why, to whom it would have gone (as far as known) and the template's text unfilled.
fn failed(
    call_uuid: Uuid,
    name: &str,
    t: &MessageTemplate,
    to: Recipient,
    trigger: &str,
    ctx: &CallContext,
    e: &MessageError,
) -> NewMessage {
    let recipient = match to {
        Recipient::To(s) => s.chars().take(100).collect(),
        Recipient::Default => match t.channel {
            Channel::Sms => ctx.phone.clone(),
            Channel::Email => ctx.email.clone(),
        }
        .unwrap_or_default(),
    };
    NewMessage {
        call_uuid,
        template: name.to_string(),
        trigger: trigger.to_string(),
        campaign_id: ctx.campaign_id,
        channel: t.channel.as_str().to_string(),
        recipient,
        subject: t.subject.clone(),
        body: t.body.clone(),
        attachments: Vec::new(),
        error: Some(e.to_string()),
    }
}
