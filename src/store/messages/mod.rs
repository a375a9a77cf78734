//! The `messages` and `message_attempts` tables (`sql/013_messages.sql`): e-mail and SMS
//! sent during a call. Every statement is parameterised. A message is claimed for sending
//! with `FOR UPDATE SKIP LOCKED` and a lease, so two senders (two instances) never send one
//! row at once, and a sender that died mid-send leaves a `sending` row that is taken over
//! once its lease ran out.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde::Serialize;
use uuid::Uuid;

use super::journal::Write;
use super::StoreError;

mod context;
pub use context::{call_context, contact_context, CallContext};

/// A message to write, rendered and checked — or, with `error`, one that could not be
/// made for this call (a field the subscriber lacks, no address on record), written
/// `failed` with the reason so the failure is on record with the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub call_uuid: Uuid,
    pub template: String,
    pub trigger: String,
    pub campaign_id: Option<i64>,
    pub channel: String,
    pub recipient: String,
    pub subject: Option<String>,
    pub body: String,
    pub attachments: Vec<String>,
    pub error: Option<String>,
}

impl NewMessage {
    fn state(&self) -> &'static str {
        if self.error.is_some() {
            "failed"
        } else {
            "queued"
        }
    }
}

/// Writes the message unless `(call_uuid, template, trigger)` is already there. Returns its
/// id and whether this call wrote it.
pub async fn enqueue(pool: &Pool, m: &NewMessage) -> Result<(i64, bool), StoreError> {
    let db = pool.get().await?;
    let reference = Uuid::new_v4().simple().to_string();
    if let Some(r) = db
        .query_opt(
            "INSERT INTO messages (call_uuid, template, trigger, campaign_id, channel, recipient,
                                   subject, body, attachments, ref, state, last_error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (call_uuid, template, trigger) DO NOTHING
             RETURNING id",
            &[
                &m.call_uuid,
                &m.template,
                &m.trigger,
                &m.campaign_id,
                &m.channel,
                &m.recipient,
                &m.subject,
                &m.body,
                &m.attachments,
                &reference,
                &m.state(),
                &m.error,
            ],
        )
        .await?
    {
        return Ok((r.get(0), true));
    }
    let r = db
        .query_one(
            "SELECT id FROM messages WHERE call_uuid = $1 AND template = $2 AND trigger = $3",
            &[&m.call_uuid, &m.template, &m.trigger],
        )
        .await?;
    Ok((r.get(0), false))
}

/// [`enqueue`] as a journal write (`store::journal`): durable while PostgreSQL is away and
/// replayed once it is back. Idempotent like every journal write — the key `(call,
/// template, trigger)` makes a replay, or the same rule firing again, write nothing — and
/// it carries its own time `at` (queued at, due at), not the replay's.
pub fn enqueue_write(m: &NewMessage, at: DateTime<Utc>) -> Write {
    let attachments = serde_json::to_string(&m.attachments).unwrap_or_else(|_| "[]".into());
    Write::new(
        format!(
            "message {} ({}) for call {}",
            m.template, m.trigger, m.call_uuid
        ),
        "INSERT INTO messages (call_uuid, template, trigger, campaign_id, channel, recipient,
                               subject, body, attachments, ref, state, last_error,
                               created_at, next_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
                 ARRAY(SELECT jsonb_array_elements_text(($9::text)::jsonb)),
                 $10, $11, $12, $13, $13)
         ON CONFLICT (call_uuid, template, trigger) DO NOTHING",
        vec![
            m.call_uuid.into(),
            m.template.as_str().into(),
            m.trigger.as_str().into(),
            m.campaign_id.into(),
            m.channel.as_str().into(),
            m.recipient.as_str().into(),
            m.subject.as_deref().into(),
            m.body.as_str().into(),
            attachments.into(),
            Uuid::new_v4().simple().to_string().into(),
            m.state().into(),
            m.error.as_deref().into(),
            at.into(),
        ],
    )
}

/// A message claimed for one send.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub attempt_no: i32,
    pub call_uuid: Uuid,
    pub channel: String,
    pub recipient: String,
    pub subject: Option<String>,
    pub body: String,
    pub attachments: Vec<String>,
    /// Message-ID / client_ref: the same on every send of this message.
    pub reference: String,
    pub created_unix: i64,
}

/// Claims the next message due (queued and due, or `sending` past its lease: its sender
/// died), records the send as started, and leases it for `lease`. The earlier send a
/// dead sender left open is marked `interrupted`.
pub async fn claim(
    pool: &Pool,
    instance: &str,
    lease: Duration,
) -> Result<Option<Claimed>, StoreError> {
    let mut db = pool.get().await?;
    let tx = db.transaction().await?;
    let Some(r) = tx
        .query_opt(
            "SELECT id, tries, call_uuid, channel, recipient, subject, body, attachments, ref,
                    extract(epoch FROM created_at)::bigint
             FROM messages
             WHERE (state = 'queued' AND next_at <= now())
                OR (state = 'sending' AND lease_until <= now())
             ORDER BY next_at, id LIMIT 1
             FOR UPDATE SKIP LOCKED",
            &[],
        )
        .await?
    else {
        return Ok(None);
    };
    let id: i64 = r.get(0);
    let attempt_no: i32 = r.get::<_, i32>(1) + 1;
    tx.execute(
        "UPDATE message_attempts SET result = 'interrupted', ended_at = now(),
                error = 'the sender stopped before the result was recorded: the provider may have it'
         WHERE message_id = $1 AND result = 'sending'",
        &[&id],
    )
    .await?;
    tx.execute(
        "UPDATE messages SET state = 'sending', tries = $2,
                lease_until = now() + make_interval(secs => $3)
         WHERE id = $1",
        &[&id, &attempt_no, &lease.as_secs_f64()],
    )
    .await?;
    tx.execute(
        "INSERT INTO message_attempts (message_id, attempt_no, instance) VALUES ($1, $2, $3)",
        &[&id, &attempt_no, &instance],
    )
    .await?;
    tx.commit().await?;
    Ok(Some(Claimed {
        id,
        attempt_no,
        call_uuid: r.get(2),
        channel: r.get(3),
        recipient: r.get(4),
        subject: r.get(5),
        body: r.get(6),
        attachments: r.get(7),
        reference: r.get(8),
        created_unix: r.get(9),
    }))
}

/// The provider accepted send `attempt_no`: the message is `sent`. One transaction, so the
/// row and its attempt agree.
pub async fn mark_sent(
    pool: &Pool,
    id: i64,
    attempt_no: i32,
    provider_id: Option<&str>,
) -> Result<(), StoreError> {
    let mut db = pool.get().await?;
    let tx = db.transaction().await?;
    tx.execute(
        "UPDATE messages SET state = 'sent', sent_at = now(), provider_id = $2,
                lease_until = NULL, last_error = NULL
         WHERE id = $1",
        &[&id, &provider_id],
    )
    .await?;
    tx.execute(
        "UPDATE message_attempts SET result = 'accepted', ended_at = now(), provider_id = $3
         WHERE message_id = $1 AND attempt_no = $2",
        &[&id, &attempt_no, &provider_id],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Send `attempt_no` failed: again after `retry_in`, or `failed` for good (None).
pub async fn mark_failed(
    pool: &Pool,
    id: i64,
    attempt_no: i32,
    error: &str,
    retry_in: Option<Duration>,
) -> Result<(), StoreError> {
    let mut db = pool.get().await?;
    let tx = db.transaction().await?;
    let (state, result) = match retry_in {
        Some(_) => ("queued", "retry"),
        None => ("failed", "rejected"),
    };
    let secs = retry_in.unwrap_or_default().as_secs_f64();
    // Only while the row is still this send's: a sender whose lease ran out (and whose row
    // another sender took over) must not put it back in the queue under the new one.
    tx.execute(
        "UPDATE messages SET state = $2, last_error = $3, lease_until = NULL,
                next_at = now() + make_interval(secs => $4)
         WHERE id = $1 AND tries = $5 AND state = 'sending'",
        &[&id, &state, &error, &secs, &attempt_no],
    )
    .await?;
    tx.execute(
        "UPDATE message_attempts SET result = $3, ended_at = now(), error = $4
         WHERE message_id = $1 AND attempt_no = $2",
        &[&id, &attempt_no, &result, &error],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// When the next message falls due (a queued one, or a lease running out).
pub async fn next_due(pool: &Pool) -> Result<Option<DateTime<Utc>>, StoreError> {
    let db = pool.get().await?;
    let r = db
        .query_one(
            "SELECT min(CASE WHEN state = 'queued' THEN next_at ELSE lease_until END)
             FROM messages WHERE state IN ('queued', 'sending')",
            &[],
        )
        .await?;
    Ok(r.get(0))
}

/// One send of a message, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptRow {
    pub attempt_no: i32,
    pub instance: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub result: String,
    pub error: Option<String>,
    pub provider_id: Option<String>,
}

/// A message as listed (API, CLI), with its sends.
#[derive(Debug, Clone, Serialize)]
pub struct MessageRow {
    pub id: i64,
    pub call_uuid: Uuid,
    pub template: String,
    pub trigger: String,
    pub campaign_id: Option<i64>,
    pub channel: String,
    pub recipient: String,
    pub subject: Option<String>,
    pub body: String,
    pub state: String,
    pub tries: i32,
    pub last_error: Option<String>,
    pub next_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub provider_id: Option<String>,
    pub reference: String,
    pub created_at: DateTime<Utc>,
    pub attempts: Vec<AttemptRow>,
}

/// Which messages to list.
#[derive(Debug, Clone, Copy)]
pub enum Of {
    Call(Uuid),
    Campaign(i64),
    Id(i64),
}

/// The listing's query with one of [`list`]'s literal filters (values are parameters).
fn select_where(filter: &'static str) -> String {
    format!(
        "SELECT id, call_uuid, template, trigger, campaign_id, channel, recipient, subject, body,
                state, tries, last_error, next_at, sent_at, provider_id, ref, created_at
         FROM messages WHERE {filter} ORDER BY id"
    )
}

/// The messages of a call or a campaign (or one), oldest first, each with its sends.
pub async fn list(pool: &Pool, of: Of) -> Result<Vec<MessageRow>, StoreError> {
    let db = pool.get().await?;
    let rows = match of {
        Of::Call(u) => db.query(&select_where("call_uuid = $1"), &[&u]).await?,
        Of::Campaign(c) => db.query(&select_where("campaign_id = $1"), &[&c]).await?,
        Of::Id(i) => db.query(&select_where("id = $1"), &[&i]).await?,
    };
    let mut out: Vec<MessageRow> = rows
        .iter()
        .map(|r| MessageRow {
            id: r.get(0),
            call_uuid: r.get(1),
            template: r.get(2),
            trigger: r.get(3),
            campaign_id: r.get(4),
            channel: r.get(5),
            recipient: r.get(6),
            subject: r.get(7),
            body: r.get(8),
            state: r.get(9),
            tries: r.get(10),
            last_error: r.get(11),
            next_at: r.get(12),
            sent_at: r.get(13),
            provider_id: r.get(14),
            reference: r.get(15),
            created_at: r.get(16),
            attempts: Vec::new(),
        })
        .collect();
    let ids: Vec<i64> = out.iter().map(|m| m.id).collect();
    let attempts = db
        .query(
            "SELECT message_id, attempt_no, instance, started_at, ended_at, result, error,
                    provider_id
             FROM message_attempts WHERE message_id = ANY($1) ORDER BY message_id, attempt_no",
            &[&ids],
        )
        .await?;
    for a in attempts {
        let id: i64 = a.get(0);
        if let Some(m) = out.iter_mut().find(|m| m.id == id) {
            m.attempts.push(AttemptRow {
                attempt_no: a.get(1),
                instance: a.get(2),
                started_at: a.get(3),
                ended_at: a.get(4),
                result: a.get(5),
                error: a.get(6),
                provider_id: a.get(7),
            });
        }
    }
    Ok(out)
}

/// A notice campaign's message rules: (after_confirm, when_unreached) template names.
pub async fn campaign_rules(
    pool: &Pool,
    campaign_id: i64,
) -> Result<(Option<String>, Option<String>), StoreError> {
    let db = pool.get().await?;
    let r = db
        .query_opt(
            "SELECT after_confirm, when_unreached FROM campaigns WHERE id = $1",
            &[&campaign_id],
        )
        .await?;
    Ok(r.map(|r| (r.get(0), r.get(1))).unwrap_or_default())
}

/// Sets a campaign's message rules (checked against the config by the caller).
pub async fn set_campaign_rules(
    pool: &Pool,
    campaign_id: i64,
    after_confirm: Option<&str>,
    when_unreached: Option<&str>,
) -> Result<(), StoreError> {
    let db = pool.get().await?;
    db.execute(
        "UPDATE campaigns SET after_confirm = $2, when_unreached = $3 WHERE id = $1",
        &[&campaign_id, &after_confirm, &when_unreached],
    )
    .await?;
    Ok(())
}

/// A subscriber's latest attempt in a campaign: its call and the key they pressed.
pub async fn last_attempt(
    pool: &Pool,
    campaign: i64,
    contact: i64,
) -> Result<Option<(Uuid, Option<String>)>, StoreError> {
    let db = pool.get().await?;
    let r = db
        .query_opt(
            "SELECT uuid, confirm_key FROM attempts
             WHERE campaign_id = $1 AND contact_id = $2
             ORDER BY attempt_no DESC, created_at DESC LIMIT 1",
            &[&campaign, &contact],
        )
        .await?;
    Ok(r.map(|r| (r.get(0), r.get(1))))
}
