//! Attempts: one row per originate, written before it; its answer, its end, and the
//! subscriber's next step, in one statement where nothing else has to happen between.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Campaigns;
use crate::store::journal::{Param, Write};
use crate::store::StoreError;

/// The end of one attempt as contactd saw it.
#[derive(Debug, Clone, Default)]
pub struct AttemptEnd {
    pub cause: Option<String>,
    pub q850: Option<i32>,
    pub listened_ms: Option<i32>,
    pub listened_full: Option<bool>,
    pub confirm_key: Option<String>,
    pub outcome: String,
    /// What answered (`person`, `machine`, …) when call progress ran.
    pub detected: Option<String>,
    /// Its detail: the tone of an announcement, `beep`/`no_beep` of a machine.
    pub detected_kind: Option<String>,
}

/// An attempt's end: `$1` its uuid, `$2`–`$10` as [`end_params`] gives them.
macro_rules! end_attempt_sql {
    () => {
        "UPDATE attempts SET ended_at = $8, hangup_cause = $2, q850 = $3, listened_ms = $4,
                listened_full = $5, confirm_key = $6, outcome = $7, detected = $9,
                detected_kind = $10
         WHERE uuid = $1"
    };
}

fn end_params(uuid: Uuid, e: &AttemptEnd, at: DateTime<Utc>) -> Vec<Param> {
    vec![
        uuid.into(),
        e.cause.as_ref().into(),
        e.q850.into(),
        e.listened_ms.into(),
        e.listened_full.into(),
        e.confirm_key.as_ref().into(),
        e.outcome.as_str().into(),
        at.into(),
        e.detected.as_ref().into(),
        e.detected_kind.as_ref().into(),
    ]
}

/// A subscriber's next step after an attempt ([`NextStep`]), given the places of its
/// parameters: campaign, contact, attempts, outcome, next_at (NULL: done with the outcome).
macro_rules! settle_target_sql {
    ($campaign:literal, $contact:literal, $attempts:literal, $outcome:literal, $next:literal) => {
        concat!(
            "UPDATE campaign_targets SET attempts = ",
            $attempts,
            ", outcome = ",
            $outcome,
            ",
                    status = CASE WHEN ",
            $next,
            "::timestamptz IS NULL THEN 'done' ELSE 'pending' END,
                    next_at = COALESCE(",
            $next,
            ", next_at)
             WHERE campaign_id = ",
            $campaign,
            " AND contact_id = ",
            $contact
        )
    };
}

/// [`settle_target_sql`]'s parameters, in its order.
fn next_params(n: &NextStep<'_>) -> [Param; 5] {
    [
        n.campaign.into(),
        n.contact.into(),
        n.attempts.into(),
        n.outcome.into(),
        n.next_at.into(),
    ]
}

/// What happens to a subscriber after an attempt ([`Campaigns::after_attempt`]'s fields).
pub struct NextStep<'a> {
    pub campaign: i64,
    pub contact: i64,
    pub attempts: i32,
    pub outcome: &'a str,
    /// `None`: the subscriber is done with `outcome`.
    pub next_at: Option<DateTime<Utc>>,
}

impl Campaigns {
    /// An attempt was made; `next_at` = `None` means the subscriber is done with `outcome`.
    pub async fn after_attempt(
        &self,
        id: i64,
        contact: i64,
        attempts: i32,
        outcome: &str,
        next_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let next = NextStep {
            campaign: id,
            contact,
            attempts,
            outcome,
            next_at,
        };
        self.writer
            .write(Write::new(
                format!("campaign {id} contact {contact} attempt {attempts}: {outcome}"),
                settle_target_sql!("$1", "$2", "$3", "$4", "$5"),
                next_params(&next).into(),
            ))
            .await
    }

    pub async fn insert_attempt(
        &self,
        uuid: Uuid,
        id: i64,
        contact: i64,
        attempt_no: i32,
        number: &str,
    ) -> Result<(), StoreError> {
        let db = self.writer.pool().get().await?;
        db.execute(
            "INSERT INTO attempts (uuid, campaign_id, contact_id, attempt_no, number_dialed)
             VALUES ($1, $2, $3, $4, $5)",
            &[&uuid, &id, &contact, &attempt_no, &number],
        )
        .await?;
        Ok(())
    }

    /// When attempt `uuid`'s row was committed (the database's clock), if it exists: its
    /// originate can only have followed.
    pub async fn attempt_created(
        &self,
        uuid: Uuid,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        let db = self.writer.pool().get().await?;
        let row = db
            .query_opt("SELECT created_at FROM attempts WHERE uuid = $1", &[&uuid])
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// An attempt that never reached the line (no free channel) is not an attempt. Its call
    /// row goes too while the switch's events never touched it (a call that never existed
    /// is not a record; one the switch did create and end keeps its row).
    pub async fn delete_attempt(&self, uuid: Uuid) -> Result<(), StoreError> {
        self.writer
            .write(Write::new(
                format!("attempt {uuid} withdrawn"),
                "WITH a AS (DELETE FROM attempts WHERE uuid = $1)
                 DELETE FROM calls WHERE uuid = $1 AND state = 'dialing'
                   AND answered_at IS NULL AND ended_at IS NULL",
                vec![uuid.into()],
            ))
            .await
    }

    pub async fn attempt_answered(&self, uuid: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.writer
            .write(Write::new(
                format!("attempt {uuid} answered"),
                "UPDATE attempts SET answered_at = COALESCE(answered_at, $2) WHERE uuid = $1",
                vec![uuid.into(), at.into()],
            ))
            .await
    }

    /// The call was answered and its message is about to be sent to the switch, in one
    /// write (one round trip and commit per answered call, not two): from here on a restart
    /// must not dial this subscriber again.
    pub async fn attempt_answered_and_playing(
        &self,
        uuid: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.writer
            .write(Write::new(
                format!("attempt {uuid} answered, message started"),
                "UPDATE attempts SET answered_at = COALESCE(answered_at, $2),
                        playback_started_at = COALESCE(playback_started_at, $2)
                 WHERE uuid = $1",
                vec![uuid.into(), at.into()],
            ))
            .await
    }

    pub async fn finish_attempt(
        &self,
        uuid: Uuid,
        e: &AttemptEnd,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.writer
            .write(Write::new(
                format!("attempt {uuid} ended: {}", e.outcome),
                end_attempt_sql!(),
                end_params(uuid, e, at),
            ))
            .await
    }

    /// [`Self::finish_attempt`] and [`Self::after_attempt`] in one statement: one round
    /// trip and one commit per call instead of two, and no moment at which the attempt has
    /// ended while its subscriber is still `dialing`.
    pub async fn finish_and_settle(
        &self,
        uuid: Uuid,
        e: &AttemptEnd,
        at: DateTime<Utc>,
        next: &NextStep<'_>,
    ) -> Result<(), StoreError> {
        let mut params = end_params(uuid, e, at);
        params.extend(next_params(next));
        self.writer
            .write(Write::new(
                format!(
                    "attempt {uuid} ended: {}; campaign {} contact {} attempt {}: {}",
                    e.outcome, next.campaign, next.contact, next.attempts, next.outcome
                ),
                concat!(
                    "WITH a AS (",
                    end_attempt_sql!(),
                    ") ",
                    settle_target_sql!("$11", "$12", "$13", "$14", "$15")
                ),
                params,
            ))
            .await
    }
}
