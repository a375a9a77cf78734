//! PostgreSQL: the durable records (calls, switch link history). Thin repository functions,
//! all parameterised; no business decisions here.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use uuid::Uuid;

use super::journal::{Journal, Param, Write, Writer};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("postgres: {}", pg_detail(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("postgres pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("postgres config: {0}")]
    Config(String),
    #[error("migration: {0}")]
    Migration(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A store did not answer in time, or is known to be away.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// Worth retrying later (the server is down or restarting), as opposed to a bug or bad data.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Pool(_) | StoreError::Unavailable(_) => true,
            StoreError::Postgres(_) => crate::store::journal::is_transient(self),
            StoreError::Redis(e) => e.is_io_error() || e.is_connection_dropped(),
            _ => false,
        }
    }
}

/// The server's message with its detail, not just "db error".
pub fn pg_detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

pub fn pool(url: &str, size: usize) -> Result<Pool, StoreError> {
    let cfg: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| StoreError::Config(e.to_string()))?;
    let mgr = Manager::from_config(
        cfg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    // Timeouts: a server that is down or stalled must fail a request, not hang a call flow.
    Pool::builder(mgr)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .create_timeout(Some(std::time::Duration::from_secs(3)))
        .recycle_timeout(Some(std::time::Duration::from_secs(3)))
        .build()
        .map_err(|e| StoreError::Config(e.to_string()))
}

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
                INSERT_CALL,
                vec![
                    c.uuid.into(),
                    c.node.into(),
                    c.direction.into(),
                    c.purpose.into(),
                    c.trunk.into(),
                    c.number.into(),
                    c.entry.into(),
                    c.state.into(),
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

    /// [`Calls::mark_answered`] for a batch of calls in one statement (the event stream's
    /// records fall behind the switch when written one round trip at a time). The first
    /// answer of a call wins, as one at a time.
    pub async fn mark_answered_all(
        &self,
        answers: &[(Uuid, DateTime<Utc>)],
    ) -> Result<(), StoreError> {
        let mut first: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
        for (u, at) in answers {
            first.entry(*u).or_insert(*at);
        }
        if first.is_empty() {
            return Ok(());
        }
        // rows locked in one order, whoever else updates several
        let mut rows: Vec<_> = first.into_iter().collect();
        rows.sort_unstable_by_key(|r| r.0);
        let (uuids, ats): (Vec<Uuid>, Vec<Option<DateTime<Utc>>>) =
            rows.into_iter().map(|(u, at)| (u, Some(at))).unzip();
        self.writer
            .write(Write::new(
                format!("{} calls answered", uuids.len()),
                "UPDATE calls c SET state = 'answered', answered_at = COALESCE(c.answered_at, x.at)
                 FROM unnest($1::uuid[], $2::timestamptz[]) AS x(uuid, at)
                 WHERE c.uuid = x.uuid AND c.state IN ('dialing', 'ringing')",
                vec![Param::Uuids(uuids), Param::Tss(ats)],
            ))
            .await
    }

    /// [`Calls::set_app_response`] for a batch, in one statement: per call, the last
    /// response and the first who-ended it says (as applied one after the other, where a
    /// known `hungup_by` is never replaced).
    pub async fn set_app_responses(&self, responses: &[(Uuid, &str)]) -> Result<(), StoreError> {
        let mut folded: HashMap<Uuid, (&str, Option<&str>)> = HashMap::new();
        for (u, r) in responses {
            let e = folded.entry(*u).or_insert((r, None));
            e.0 = r;
            e.1 = e.1.or(hungup_by_of(r));
        }
        if folded.is_empty() {
            return Ok(());
        }
        let mut rows: Vec<_> = folded.into_iter().collect();
        rows.sort_unstable_by_key(|r| r.0);
        let (mut uuids, mut resps, mut bys) = (Vec::new(), Vec::new(), Vec::new());
        for (u, (r, by)) in rows {
            uuids.push(u);
            resps.push(Some(r.to_string()));
            bys.push(by.map(str::to_string));
        }
        self.writer
            .write(Write::new(
                format!("{} calls' application responses", uuids.len()),
                "UPDATE calls c SET app_response = x.resp,
                        hungup_by = CASE WHEN x.by IS NOT NULL AND c.direction = 'outbound'
                                              AND (c.hungup_by IS NULL OR c.hungup_by = 'unknown')
                                         THEN x.by ELSE c.hungup_by END
                 FROM unnest($1::uuid[], $2::text[], $3::text[]) AS x(uuid, resp, by)
                 WHERE c.uuid = x.uuid",
                vec![Param::Uuids(uuids), Param::Texts(resps), Param::Texts(bys)],
            ))
            .await
    }

    /// [`Calls::record_end`] for a batch, in one statement, with the same rule: the first
    /// end recorded wins, later ones (in the batch too) only fill in what is missing.
    pub async fn record_ends(&self, ends: &[CallEnd<'_>]) -> Result<(), StoreError> {
        let mut folded: HashMap<Uuid, EndRow> = HashMap::new();
        for e in ends {
            folded
                .entry(e.uuid)
                .and_modify(|r| r.fill_from(e))
                .or_insert_with(|| EndRow::of(e));
        }
        if folded.is_empty() {
            return Ok(());
        }
        let mut rows: Vec<_> = folded.into_iter().collect();
        rows.sort_unstable_by_key(|r| r.0);
        let n = rows.len();
        let mut cols = EndColumns::default();
        for (u, r) in rows {
            cols.push(u, r);
        }
        self.writer
            .write(Write::new(
                format!("{n} calls ended"),
                "UPDATE calls c SET
                    state = CASE WHEN c.state IN ('ended', 'failed') THEN c.state ELSE x.state END,
                    hangup_cause = COALESCE(c.hangup_cause, x.cause),
                    q850 = COALESCE(c.q850, x.q850),
                    billsec = COALESCE(c.billsec, x.billsec),
                    answered_at = COALESCE(c.answered_at, x.answered_at),
                    ended_at = COALESCE(c.ended_at, x.ended_at),
                    hungup_by = COALESCE(c.hungup_by, x.by)
                 FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int4[], $5::int4[],
                             $6::timestamptz[], $7::timestamptz[], $8::text[])
                      AS x(uuid, state, cause, q850, billsec, answered_at, ended_at, by)
                 WHERE c.uuid = x.uuid",
                cols.params(),
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

/// Idempotent end of a call: the first end recorded wins, later reports only fill in what
/// is missing. Returns whether this closed the row.
const INSERT_CALL: &str =
    "INSERT INTO calls (uuid, node, direction, purpose, trunk, number, entry, state)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (uuid) DO NOTHING";

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

/// One call's end in a batch: the first report, with what later ones fill in.
struct EndRow {
    state: String,
    cause: String,
    q850: Option<i32>,
    billsec: Option<i32>,
    answered_at: Option<DateTime<Utc>>,
    ended_at: DateTime<Utc>,
    hungup_by: String,
}

impl EndRow {
    fn of(e: &CallEnd<'_>) -> Self {
        Self {
            state: e.state.to_string(),
            cause: e.cause.to_string(),
            q850: e.q850,
            billsec: e.billsec,
            answered_at: e.answered_at,
            ended_at: e.ended_at,
            hungup_by: e.hungup_by.to_string(),
        }
    }

    /// As MARK_ENDED applied again: only what is still missing.
    fn fill_from(&mut self, e: &CallEnd<'_>) {
        self.q850 = self.q850.or(e.q850);
        self.billsec = self.billsec.or(e.billsec);
        self.answered_at = self.answered_at.or(e.answered_at);
    }
}

/// A batch of ends as the statement's arrays.
#[derive(Default)]
struct EndColumns {
    uuids: Vec<Uuid>,
    states: Vec<Option<String>>,
    causes: Vec<Option<String>>,
    q850s: Vec<Option<i32>>,
    billsecs: Vec<Option<i32>>,
    answered: Vec<Option<DateTime<Utc>>>,
    ended: Vec<Option<DateTime<Utc>>>,
    bys: Vec<Option<String>>,
}

impl EndColumns {
    fn push(&mut self, uuid: Uuid, r: EndRow) {
        self.uuids.push(uuid);
        self.states.push(Some(r.state));
        self.causes.push(Some(r.cause));
        self.q850s.push(r.q850);
        self.billsecs.push(r.billsec);
        self.answered.push(r.answered_at);
        self.ended.push(Some(r.ended_at));
        self.bys.push(Some(r.hungup_by));
    }

    fn params(self) -> Vec<Param> {
        vec![
            Param::Uuids(self.uuids),
            Param::Texts(self.states),
            Param::Texts(self.causes),
            Param::I32s(self.q850s),
            Param::I32s(self.billsecs),
            Param::Tss(self.answered),
            Param::Tss(self.ended),
            Param::Texts(self.bys),
        ]
    }
}
