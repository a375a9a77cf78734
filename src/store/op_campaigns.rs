//! PostgreSQL repository of operator campaigns (`sql/014_operator_campaigns.sql`): the row
//! that makes a campaign an operator campaign, each call's record (answer, what answered,
//! connected or abandoned, operator, disposition) and the callbacks operators schedule. The
//! list, targets, attempts and their claiming are the notice campaigns' own
//! (`store::campaigns`): one set of dialing rules for both kinds.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use uuid::Uuid;

use super::campaigns::NewCampaign;
use super::journal::{Journal, Param, Write, Writer};
use super::StoreError;

/// What a disposition did ([`OpCampaigns::dispose`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposed {
    pub campaign: i64,
    pub contact: i64,
    /// The callback it scheduled.
    pub callback: Option<i64>,
    /// It had been set already, with the same code: nothing changed now.
    pub repeated: bool,
}

/// What makes a campaign an operator campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpCampaign {
    pub campaign_id: i64,
    pub mode: String,
    pub queue: String,
    pub script_url: Option<String>,
}

/// A contact's row as the screen pop shows it.
#[derive(Debug, Clone, Default)]
pub struct ContactRow {
    pub id: i64,
    pub phone: String,
    pub name: String,
    pub account: String,
    pub extra: serde_json::Value,
}

/// A callback an operator scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpCallback {
    pub id: i64,
    pub campaign_id: i64,
    pub contact_id: i64,
    pub operator: String,
    pub number: String,
    pub due_at: DateTime<Utc>,
    /// Offered to `operator` alone (false once they were away past the grace time).
    pub to_operator: bool,
}

/// Per-campaign figures (the demo, `campaigns show`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpFigures {
    pub calls: i64,
    pub answered_people: i64,
    pub connected: i64,
    pub abandoned: i64,
    pub machines: i64,
}

#[derive(Clone)]
pub struct OpCampaigns {
    pool: Pool,
    /// What a call lived (answer, connect, abandon, talk end) and the callbacks' states:
    /// through the journal in the daemon, so that a PostgreSQL outage loses none of it.
    writer: Writer,
}

impl OpCampaigns {
    pub fn new(pool: Pool) -> Self {
        Self {
            writer: Writer::Direct(pool.clone()),
            pool,
        }
    }

    /// Calls' records and callbacks' states go through `journal` (kept while PostgreSQL is
    /// away, replayed in order once it is back).
    pub fn with_journal(journal: Journal) -> Self {
        Self {
            pool: journal.pool().clone(),
            writer: Writer::Journal(journal),
        }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Creates the campaign, its operator row and one target per contact, in one
    /// transaction (the notice runner never sees it without its operator row).
    pub async fn create(&self, c: &NewCampaign, op: &OpCampaign) -> Result<(i64, i64), StoreError> {
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        // an operator campaign asks no confirmation key: its people talk to an operator
        let id = super::campaigns::insert_campaign(&tx, c, false).await?;
        tx.execute(
            "INSERT INTO operator_campaigns (campaign_id, mode, queue, script_url)
             VALUES ($1, $2, $3, $4)",
            &[&id, &op.mode, &op.queue, &op.script_url],
        )
        .await?;
        let n = super::campaigns::insert_targets(&tx, id, c.list_number).await?;
        tx.commit().await?;
        Ok((id, n))
    }

    /// Operator campaigns still to be worked (running, or cancelled with calls going on).
    pub async fn active(&self) -> Result<Vec<OpCampaign>, StoreError> {
        let db = self.pool.get().await?;
        let rows = db
            .query(
                "SELECT o.campaign_id, o.mode, o.queue, o.script_url
                 FROM operator_campaigns o JOIN campaigns c ON c.id = o.campaign_id
                 WHERE c.state = 'running' OR (c.state = 'cancelled' AND c.finished_at IS NULL)
                 ORDER BY o.campaign_id",
                &[],
            )
            .await?;
        Ok(rows.iter().map(op_row).collect())
    }

    pub async fn get(&self, id: i64) -> Result<Option<OpCampaign>, StoreError> {
        let db = self.pool.get().await?;
        let row = db
            .query_opt(
                "SELECT campaign_id, mode, queue, script_url FROM operator_campaigns
                 WHERE campaign_id = $1",
                &[&id],
            )
            .await?;
        Ok(row.as_ref().map(op_row))
    }

    pub async fn contact(&self, id: i64) -> Result<Option<ContactRow>, StoreError> {
        let db = self.pool.get().await?;
        let row = db
            .query_opt(
                "SELECT id, phone, name, account, extra FROM contacts WHERE id = $1",
                &[&id],
            )
            .await?;
        Ok(row.map(|r| ContactRow {
            id: r.get(0),
            phone: r.get(1),
            name: r.get(2),
            account: r.get(3),
            extra: r.get(4),
        }))
    }

    /// Written with the attempt, before the originate.
    pub async fn insert_call(
        &self,
        uuid: Uuid,
        campaign: i64,
        contact: i64,
        callback: Option<i64>,
        requested_by: Option<&str>,
    ) -> Result<(), StoreError> {
        let db = self.pool.get().await?;
        db.execute(
            "INSERT INTO operator_calls (uuid, campaign_id, contact_id, callback_id, requested_by)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (uuid) DO NOTHING",
            &[&uuid, &campaign, &contact, &callback, &requested_by],
        )
        .await?;
        Ok(())
    }

    /// Answered, and what answered (`person`, `machine`, ...; `kind` for an announcement).
    pub async fn answered(
        &self,
        uuid: Uuid,
        at: DateTime<Utc>,
        by: Option<&str>,
        kind: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write(
            format!("operator call {uuid} answered"),
            "UPDATE operator_calls SET answered_at = COALESCE(answered_at, $2),
                    answered_by = COALESCE($3, answered_by), detected_kind = COALESCE($4, detected_kind)
             WHERE uuid = $1",
            vec![uuid.into(), at.into(), by.into(), kind.into()],
        )
        .await
    }

    pub async fn connected(
        &self,
        uuid: Uuid,
        at: DateTime<Utc>,
        operator: &str,
    ) -> Result<(), StoreError> {
        self.write(
            format!("operator call {uuid} connected to {operator}"),
            "UPDATE operator_calls SET connected_at = COALESCE(connected_at, $2), operator = $3
             WHERE uuid = $1",
            vec![uuid.into(), at.into(), operator.into()],
        )
        .await
    }

    /// No operator in time: abandoned, the message sent to the switch at `message_at`.
    pub async fn abandoned(
        &self,
        uuid: Uuid,
        at: DateTime<Utc>,
        message_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.write(
            format!("operator call {uuid} abandoned"),
            "UPDATE operator_calls SET abandoned_at = COALESCE(abandoned_at, $2),
                    message_started_at = COALESCE(message_started_at, $3)
             WHERE uuid = $1",
            vec![uuid.into(), at.into(), message_at.into()],
        )
        .await
    }

    /// How far a call got, as recorded: `(connected, operator)`; None without its row.
    pub async fn progress(&self, uuid: Uuid) -> Result<Option<(bool, Option<String>)>, StoreError> {
        let db = self.pool.get().await?;
        let row = db
            .query_opt(
                "SELECT connected_at IS NOT NULL, operator FROM operator_calls WHERE uuid = $1",
                &[&uuid],
            )
            .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    pub async fn talk_ended(&self, uuid: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.write(
            format!("operator call {uuid} talk ended"),
            "UPDATE operator_calls SET talk_ended_at = COALESCE(talk_ended_at, $2)
             WHERE uuid = $1 AND connected_at IS NOT NULL",
            vec![uuid.into(), at.into()],
        )
        .await
    }

    /// Sets the disposition of `call` talked by `operator` and schedules the callback it
    /// asks for (`callback`: when, and the number, None for the contact's own), in one
    /// transaction: a disposition is never kept without its callback. A repeat of a
    /// disposition set already with the same code — a retry whose answer was lost, or
    /// whose next step failed — changes nothing and returns what the first one did. None
    /// if it is not that operator's campaign call, or it has another disposition.
    pub async fn dispose(
        &self,
        call: Uuid,
        operator: &str,
        code: &str,
        at: DateTime<Utc>,
        callback: Option<(DateTime<Utc>, Option<&str>)>,
    ) -> Result<Option<Disposed>, StoreError> {
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        let set = tx
            .query_opt(
                "UPDATE operator_calls SET disposition = $3, disposed_at = $4
                 WHERE uuid = $1 AND operator = $2 AND disposition IS NULL
                 RETURNING campaign_id, contact_id",
                &[&call, &operator, &code, &at],
            )
            .await?;
        let Some(row) = set else {
            let before = tx
                .query_opt(
                    "SELECT o.campaign_id, o.contact_id,
                            (SELECT min(id) FROM operator_callbacks WHERE from_call = o.uuid)
                     FROM operator_calls o
                     WHERE o.uuid = $1 AND o.operator = $2 AND o.disposition = $3",
                    &[&call, &operator, &code],
                )
                .await?;
            return Ok(before.map(|r| Disposed {
                campaign: r.get(0),
                contact: r.get(1),
                callback: r.get(2),
                repeated: true,
            }));
        };
        let (campaign, contact): (i64, i64) = (row.get(0), row.get(1));
        let mut id = None;
        if let Some((due_at, number)) = callback {
            let number = match number {
                Some(n) => n.to_string(),
                None => tx
                    .query_opt("SELECT phone FROM contacts WHERE id = $1", &[&contact])
                    .await?
                    .map(|r| r.get::<_, String>(0))
                    .ok_or_else(|| StoreError::NotFound(format!("contact {contact}")))?,
            };
            let row = tx
                .query_one(
                    "INSERT INTO operator_callbacks
                            (campaign_id, contact_id, operator, number, due_at, from_call)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    &[&campaign, &contact, &operator, &number, &due_at, &call],
                )
                .await?;
            id = Some(row.get(0));
        }
        tx.commit().await?;
        Ok(Some(Disposed {
            campaign,
            contact,
            callback: id,
            repeated: false,
        }))
    }

    /// Takes the callbacks due by `now` of running campaigns (marked `dialing`).
    ///
    /// `driven`: the running campaigns this instance drives (their callbacks are dialed by
    /// their driver, which counts their lines); a finished campaign has no driver and its
    /// callbacks go to whichever instance claims them first. `None`: no driver leases.
    pub async fn take_due_callbacks(
        &self,
        now: DateTime<Utc>,
        driven: Option<&[i64]>,
        by: &str,
    ) -> Result<Vec<OpCallback>, StoreError> {
        let db = self.pool.get().await?;
        let rows = db
            .query(
                "UPDATE operator_callbacks b
                 SET state = 'dialing', claimed_by = $3, claimed_at = $1
                 FROM (SELECT b2.id FROM operator_callbacks b2
                       JOIN campaigns c ON c.id = b2.campaign_id
                            AND (c.state = 'finished'
                                 OR (c.state = 'running'
                                     AND ($2::bigint[] IS NULL OR c.id = ANY($2))))
                       WHERE b2.state = 'pending' AND b2.due_at <= $1
                       ORDER BY b2.due_at LIMIT 20 FOR UPDATE OF b2 SKIP LOCKED) due
                 WHERE b.id = due.id
                 RETURNING b.id, b.campaign_id, b.contact_id, b.operator, b.number, b.due_at",
                &[&now, &driven, &by],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| OpCallback {
                id: r.get(0),
                campaign_id: r.get(1),
                contact_id: r.get(2),
                operator: r.get(3),
                number: r.get(4),
                due_at: r.get(5),
                to_operator: true,
            })
            .collect())
    }

    /// A taken callback: back to pending at `due_at` (not dialed yet), or done/failed.
    pub async fn callback_state(
        &self,
        id: i64,
        state: &str,
        due_at: Option<DateTime<Utc>>,
        call: Option<Uuid>,
    ) -> Result<(), StoreError> {
        self.write(
            format!("operator callback {id} {state}"),
            "UPDATE operator_callbacks SET state = $2, due_at = COALESCE($3, due_at),
                    call_uuid = COALESCE($4, call_uuid)
             WHERE id = $1",
            vec![id.into(), state.into(), due_at.into(), call.into()],
        )
        .await
    }

    /// Attempts made so far to the campaign's `contact`.
    pub async fn attempts_of(&self, campaign: i64, contact: i64) -> Result<i32, StoreError> {
        let db = self.pool.get().await?;
        let row = db
            .query_opt(
                "SELECT attempts FROM campaign_targets WHERE campaign_id = $1 AND contact_id = $2",
                &[&campaign, &contact],
            )
            .await?;
        Ok(row.map_or(0, |r| r.get(0)))
    }

    /// The campaign's answered calls since `since`: (answered at, abandoned), for the pacer.
    pub async fn history(
        &self,
        campaign: i64,
        since: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, bool)>, StoreError> {
        let db = self.pool.get().await?;
        let rows = db
            .query(
                "SELECT answered_at, abandoned_at IS NOT NULL FROM operator_calls
                 WHERE campaign_id = $1 AND answered_at >= $2 AND answered_by = 'person'
                 ORDER BY answered_at",
                &[&campaign, &since],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub async fn figures(&self, campaign: i64) -> Result<OpFigures, StoreError> {
        let db = self.pool.get().await?;
        let r = db
            .query_one(
                "SELECT count(*),
                        count(*) FILTER (WHERE answered_by = 'person'),
                        count(*) FILTER (WHERE connected_at IS NOT NULL),
                        count(*) FILTER (WHERE abandoned_at IS NOT NULL),
                        count(*) FILTER (WHERE answered_by IS NOT NULL AND answered_by <> 'person')
                 FROM operator_calls WHERE campaign_id = $1",
                &[&campaign],
            )
            .await?;
        Ok(OpFigures {
            calls: r.get(0),
            answered_people: r.get(1),
            connected: r.get(2),
            abandoned: r.get(3),
            machines: r.get(4),
        })
    }

    async fn write(&self, what: String, sql: &str, params: Vec<Param>) -> Result<(), StoreError> {
        self.writer.write(Write::new(what, sql, params)).await
    }
}

fn op_row(r: &tokio_postgres::Row) -> OpCampaign {
    OpCampaign {
        campaign_id: r.get(0),
        mode: r.get(1),
        queue: r.get(2),
        script_url: r.get(3),
    }
}
