//! The `calls` table: one row per call, written when it arrives or is dialed and closed
//! when it ends; durable through the journal while PostgreSQL is away.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use uuid::Uuid;

use super::journal::{Journal, Write, Writer};
use super::postgres::StoreError;

mod batch;

/// What contactd knows of one call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub uuid: Uuid,
    pub node: String,
    pub direction: String,
    pub purpose: String,
    pub trunk: Option<String>,
    pub number: Option<String>,
    pub entry: Option<String>,
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub hangup_cause: Option<String>,
    pub q850: Option<i32>,
    pub billsec: Option<i32>,
    pub app_response: Option<String>,
    pub flow_step: Option<String>,
    pub hungup_by: Option<String>,
}

/// A new call row, written before anything is asked of the switch.
pub struct NewCall<'a> {
    pub uuid: Uuid,
    pub node: &'a str,
    pub direction: &'a str,
    pub purpose: &'a str,
    pub trunk: Option<&'a str>,
    pub number: Option<&'a str>,
    pub entry: Option<&'a str>,
    pub state: &'a str,
}

/// How a call ended.
pub struct CallEnd<'a> {
    pub uuid: Uuid,
    pub cause: &'a str,
    pub q850: Option<i32>,
    pub billsec: Option<i32>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: DateTime<Utc>,
    pub hungup_by: &'a str,
    /// `failed` when never answered and the originate itself failed.
    pub state: &'a str,
}

#[derive(Clone)]
pub struct Calls {
    writer: Writer,
}

impl Calls {
    pub fn new(pool: Pool) -> Self {
        Self {
            writer: Writer::Direct(pool),
        }
    }

    /// Record writes still waiting in the journal's spool.
    pub fn backlog(&self) -> u64 {
        self.writer.backlog()
    }

    /// Record writes go through `journal` (kept while PostgreSQL is away).
    pub fn with_journal(journal: Journal) -> Self {
        Self {
            writer: Writer::Journal(journal),
        }
    }

    /// Record writes go into `journal`'s spool only, replayed once the journal runs (after
    /// the migrations): for calls recorded before contactd knows its schema is there.
    pub fn spooled(journal: Journal) -> Self {
        Self {
            writer: Writer::Spool(journal),
        }
    }

    /// Straight to PostgreSQL, so the caller knows the row is there: the dialer dials no
    /// one whose call it cannot record (no new subscriber is dialed while it is away).
    pub async fn insert(&self, c: &NewCall<'_>) -> Result<(), StoreError> {
        let db = self.writer.pool().get().await?;
        // prepared once per connection, so it is one round trip (a plain string is parsed
        // again each time, two)
        let insert = db.prepare_cached(INSERT_CALL).await?;
        db.execute(
            &insert,
            &[
                &c.uuid,
                &c.node,
                &c.direction,
                &c.purpose,
                &c.trunk,
                &c.number,
                &c.entry,
                &c.state,
            ],
        )
        .await?;
        Ok(())
    }

    /// A call that came to contactd (the IVR, the lobby): it exists whatever PostgreSQL
    /// does, so its row goes through the journal and is written once PostgreSQL is back,
    /// ahead of the call's later writes.
    pub async fn record_arrival(&self, c: &NewCall<'_>) -> Result<(), StoreError> {
        self.writer
            .write(Write::new(
                format!("call {} arrived", c.uuid),
                INSERT_ARRIVAL,
                vec![
                    c.uuid.into(),
                    c.node.into(),
                    c.direction.into(),
                    c.purpose.into(),
                    c.trunk.into(),
                    c.number.into(),
                    c.entry.into(),
                    c.state.into(),
                    // when it arrived, not when the journal replays it: the reconcile of a
                    // link's snapshot closes only rows made before the snapshot
                    Utc::now().into(),
                ],
            ))
            .await
    }

    pub async fn mark_answered(&self, uuid: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.writer
            .write(Write::new(
                format!("call {uuid} answered"),
                "UPDATE calls SET state = 'answered', answered_at = COALESCE(answered_at, $2)
                 WHERE uuid = $1 AND state IN ('dialing', 'ringing')",
                vec![uuid.into(), at.into()],
            ))
            .await
    }

    /// [`Calls::mark_ended`] through the journal: durable even while PostgreSQL is away.
    pub async fn record_end(&self, e: &CallEnd<'_>) -> Result<(), StoreError> {
        self.writer
            .write(Write::new(
                format!("call {} ended ({})", e.uuid, e.cause),
                MARK_ENDED,
                vec![
                    e.uuid.into(),
                    e.state.into(),
                    e.cause.into(),
                    e.q850.into(),
                    e.billsec.into(),
                    e.answered_at.into(),
                    e.ended_at.into(),
                    e.hungup_by.into(),
                ],
            ))
            .await
    }

    /// Idempotent: the first end recorded wins, later reports only fill in what is missing
    /// (a failed originate's BACKGROUND_JOB has no Q.850 code; its HANGUP_COMPLETE does).
    /// Returns true if this call closed the row.
    pub async fn mark_ended(&self, e: &CallEnd<'_>) -> Result<bool, StoreError> {
        let db = self.writer.pool().get().await?;
        let row = db
            .query_opt(
                MARK_ENDED,
                &[
                    &e.uuid,
                    &e.state,
                    &e.cause,
                    &e.q850,
                    &e.billsec,
                    &e.answered_at,
                    &e.ended_at,
                    &e.hungup_by,
                ],
            )
            .await?;
        Ok(row.is_some_and(|r| r.get::<_, bool>(0)))
    }

    /// What the played application reported; it also tells who ended an outbound call:
    /// `FILE PLAYED` means contactd's side finished, `PLAYBACK ERROR` that the party hung up.
    pub async fn set_app_response(&self, uuid: Uuid, response: &str) -> Result<(), StoreError> {
        let by = hungup_by_of(response);
        self.writer
            .write(Write::new(
                format!("call {uuid} application response"),
                "UPDATE calls SET app_response = $2,
                        hungup_by = CASE WHEN $3::text IS NOT NULL AND direction = 'outbound'
                                              AND (hungup_by IS NULL OR hungup_by = 'unknown')
                                         THEN $3::text ELSE hungup_by END
                 WHERE uuid = $1",
                vec![uuid.into(), response.into(), by.into()],
            ))
            .await
    }

    /// The inbound flow knows who ended the call better than the event stream does.
    pub async fn set_outcome(
        &self,
        uuid: Uuid,
        step: &str,
        hungup_by: &str,
    ) -> Result<(), StoreError> {
        self.writer
            .write(Write::new(
                format!("call {uuid} flow outcome"),
                "UPDATE calls SET flow_step = $2, hungup_by = $3 WHERE uuid = $1",
                vec![uuid.into(), step.into(), hungup_by.into()],
            ))
            .await
    }

    /// The step a flow reached, saying nothing yet of who will end the call: a caller handed
    /// to the operators' queue goes on there, and the ACD records who ended it
    /// ([`Calls::set_hungup_by`]).
    pub async fn set_flow_step(&self, uuid: Uuid, step: &str) -> Result<(), StoreError> {
        self.writer
            .write(Write::new(
                format!("call {uuid} flow step"),
                "UPDATE calls SET flow_step = $2 WHERE uuid = $1",
                vec![uuid.into(), step.into()],
            ))
            .await
    }

    /// Who ended a call, from whoever saw it end (the ACD for its callers). It replaces only
    /// nothing or the `unknown` the end of the channel records when it comes first (the
    /// event stream alone cannot tell who hung up), so the order of the two writes does not
    /// matter and a known answer is never overwritten.
    pub async fn set_hungup_by(&self, uuid: Uuid, hungup_by: &str) -> Result<(), StoreError> {
        self.writer
            .write(Write::new(
                format!("call {uuid} hung up by"),
                "UPDATE calls SET hungup_by = $2
                 WHERE uuid = $1 AND (hungup_by IS NULL OR hungup_by = 'unknown')",
                vec![uuid.into(), hungup_by.into()],
            ))
            .await
    }

    pub async fn get(&self, uuid: Uuid) -> Result<Option<CallRecord>, StoreError> {
        let db = self.writer.pool().get().await?;
        let row = db
            .query_opt(
                "SELECT uuid, node, direction, purpose, trunk, number, entry, state, created_at,
                        answered_at, ended_at, hangup_cause, q850, billsec, app_response,
                        flow_step, hungup_by
                 FROM calls WHERE uuid = $1",
                &[&uuid],
            )
            .await?;
        Ok(row.map(|r| CallRecord {
            uuid: r.get(0),
            node: r.get(1),
            direction: r.get(2),
            purpose: r.get(3),
            trunk: r.get(4),
            number: r.get(5),
            entry: r.get(6),
            state: r.get(7),
            created_at: r.get(8),
            answered_at: r.get(9),
            ended_at: r.get(10),
            hangup_cause: r.get(11),
            q850: r.get(12),
            billsec: r.get(13),
            app_response: r.get(14),
            flow_step: r.get(15),
            hungup_by: r.get(16),
        }))
    }

    /// Calls of `node` that are not yet ended: after a reconnect, each is checked against
    /// the switch's channel list.
    pub async fn open_on(
        &self,
        node: &str,
        created_before: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, StoreError> {
        let db = self.writer.pool().get().await?;
        let rows = db
            .query(
                "SELECT uuid FROM calls WHERE node = $1 AND created_at < $2
                   AND state IN ('dialing', 'ringing', 'answered')",
                &[&node, &created_before],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub async fn log_link(
        &self,
        node: &str,
        state: &str,
        detail: &str,
        live_calls: Option<i32>,
    ) -> Result<(), StoreError> {
        self.writer
            .write(Write::new(
                format!("switch {node} link {state}"),
                "INSERT INTO switch_links (node, state, detail, live_calls, at)
                 VALUES ($1, $2, $3, $4, $5)",
                vec![
                    node.into(),
                    state.into(),
                    detail.into(),
                    live_calls.into(),
                    Utc::now().into(),
                ],
            ))
            .await
    }
}

/// A call's row, once: a call that comes again (a reconnect) keeps the first.
const INSERT_CALL: &str =
    "INSERT INTO calls (uuid, node, direction, purpose, trunk, number, entry, state)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (uuid) DO NOTHING";

/// [`INSERT_CALL`] with the time the call arrived (a journaled write may reach PostgreSQL
/// well after it).
const INSERT_ARRIVAL: &str =
    "INSERT INTO calls (uuid, node, direction, purpose, trunk, number, entry, state, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (uuid) DO NOTHING";

/// Idempotent end of a call: the first end recorded wins, later reports only fill in what
/// is missing. Returns whether this closed the row.
const MARK_ENDED: &str = "WITH prev AS (SELECT state FROM calls WHERE uuid = $1 FOR UPDATE)
     UPDATE calls SET
        state = CASE WHEN calls.state IN ('ended', 'failed') THEN calls.state ELSE $2 END,
        hangup_cause = COALESCE(hangup_cause, $3),
        q850 = COALESCE(q850, $4),
        billsec = COALESCE(billsec, $5),
        answered_at = COALESCE(answered_at, $6),
        ended_at = COALESCE(ended_at, $7),
        hungup_by = COALESCE(hungup_by, $8)
     FROM prev WHERE uuid = $1
     RETURNING prev.state NOT IN ('ended', 'failed')";

/// Microseconds since the epoch (FreeSWITCH's `*-Time` headers) as a timestamp.
pub fn from_micros(us: i64) -> Option<DateTime<Utc>> {
    (us > 0)
        .then(|| DateTime::<Utc>::from_timestamp_micros(us))
        .flatten()
}

/// Who ended an outbound call, by what its played application reported: `FILE PLAYED`
/// means contactd's side finished, `PLAYBACK ERROR` that the party hung up.
fn hungup_by_of(response: &str) -> Option<&'static str> {
    match response {
        "FILE PLAYED" => Some("contactd"),
        "PLAYBACK ERROR" => Some("party"),
        _ => None,
    }
}
