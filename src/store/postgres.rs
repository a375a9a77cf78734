//! PostgreSQL: the durable records (calls, switch link history). Thin repository functions,
//! all parameterised; no business decisions here.

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use uuid::Uuid;

use super::journal::{Journal, Write, Writer};

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

    pub async fn insert(&self, c: &NewCall<'_>) -> Result<(), StoreError> {
        let db = self.writer.pool().get().await?;
        db.execute(
            "INSERT INTO calls (uuid, node, direction, purpose, trunk, number, entry, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (uuid) DO NOTHING",
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
        let by = match response {
            "FILE PLAYED" => Some("contactd"),
            "PLAYBACK ERROR" => Some("party"),
            _ => None,
        };
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
