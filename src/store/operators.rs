//! PostgreSQL repository of operators (ACD agents): who they are and which phone they answer
//! on, their skills per routing group, and the log of their states — one row per period a state
//! lasted, from which the KPIs and pay are computed. A change closes the open period and opens
//! the next in one transaction, under a lock on the operator, so the log has no gaps or overlaps.

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Pool;

use super::journal::{Journal, Write, Writer};
use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub endpoint: String,
    pub created_at: DateTime<Utc>,
}

/// One state period; `until` is `None` for the state the operator is in now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub state: String,
    pub reason: String,
    pub since: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, login, name, endpoint, created_at";

fn operator(r: &tokio_postgres::Row) -> Operator {
    Operator {
        id: r.get(0),
        login: r.get(1),
        name: r.get(2),
        endpoint: r.get(3),
        created_at: r.get(4),
    }
}

#[derive(Clone)]
pub struct Operators {
    writer: Writer,
}

/// A state change placed in the operator's timeline (the period `at` falls in ends at `at`;
/// the new one lasts until that period's old end, or until the first period if `at` is
/// before it), by sql/019's function: one statement, so it can wait in the write spool, and
/// the one rule for [`Operators::log_state`] and [`Operators::record_state`].
const RECORD_STATE: &str = "SELECT contactd_record_operator_state($1, $2, $3, $4)";

impl Operators {
    pub fn new(pool: Pool) -> Self {
        Self {
            writer: Writer::Direct(pool),
        }
    }

    /// State changes logged by the ACD go through `journal` (kept while PostgreSQL is away).
    pub fn with_journal(journal: Journal) -> Self {
        Self {
            writer: Writer::Journal(journal),
        }
    }

    /// Logs a state change like [`Operators::log_state`], durably: while PostgreSQL is away
    /// it waits in the write spool (in order with the call records) and is placed in the
    /// timeline when replayed.
    pub async fn record_state(
        &self,
        operator: i64,
        state: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.writer
            .write(Write::new(
                format!("operator {operator} state {state}"),
                RECORD_STATE,
                vec![operator.into(), state.into(), reason.into(), at.into()],
            ))
            .await
    }

    /// Inserts an operator (login and endpoint already validated); returns the id.
    pub async fn create(&self, login: &str, name: &str, endpoint: &str) -> Result<i64, StoreError> {
        let db = self.writer.pool().get().await?;
        let row = db
            .query_one(
                "INSERT INTO operators (login, name, endpoint) VALUES ($1, $2, $3) RETURNING id",
                &[&login, &name, &endpoint],
            )
            .await?;
        Ok(row.get(0))
    }

    pub async fn list(&self) -> Result<Vec<Operator>, StoreError> {
        let db = self.writer.pool().get().await?;
        let rows = db
            .query(
                &format!("SELECT {COLUMNS} FROM operators ORDER BY login"),
                &[],
            )
            .await?;
        Ok(rows.iter().map(operator).collect())
    }

    pub async fn get(&self, login: &str) -> Result<Option<Operator>, StoreError> {
        let db = self.writer.pool().get().await?;
        let row = db
            .query_opt(
                &format!("SELECT {COLUMNS} FROM operators WHERE login = $1"),
                &[&login],
            )
            .await?;
        Ok(row.as_ref().map(operator))
    }

    /// [`Operators::get`] with the operator's skills (as [`Operators::skills`]), in one
    /// round trip: an operator logging in waits for both before routing can use them.
    pub async fn get_with_skills(
        &self,
        login: &str,
    ) -> Result<Option<(Operator, Vec<(String, i16)>)>, StoreError> {
        let db = self.writer.pool().get().await?;
        // prepared once per connection: a login waits for this query before the operator
        // is ready, and an unprepared one costs a second round trip (parse, then execute)
        let query = db
            .prepare_cached(&format!(
                "SELECT {COLUMNS},
                    ARRAY(SELECT g.name FROM operator_skills s
                          JOIN operator_groups g ON g.id = s.\"group\"
                          WHERE s.operator = o.id ORDER BY g.name),
                    ARRAY(SELECT s.level FROM operator_skills s
                          JOIN operator_groups g ON g.id = s.\"group\"
                          WHERE s.operator = o.id ORDER BY g.name)
                 FROM operators o WHERE login = $1"
            ))
            .await?;
        let row = db.query_opt(&query, &[&login]).await?;
        Ok(row.map(|r| {
            let names: Vec<String> = r.get(5);
            let levels: Vec<i16> = r.get(6);
            (operator(&r), names.into_iter().zip(levels).collect())
        }))
    }

    /// Adds a routing group; `false` if it already existed.
    pub async fn add_group(&self, name: &str) -> Result<bool, StoreError> {
        let db = self.writer.pool().get().await?;
        let n = db
            .execute(
                "INSERT INTO operator_groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                &[&name],
            )
            .await?;
        Ok(n == 1)
    }

    /// Every group with the number of operators skilled in it.
    pub async fn groups(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let db = self.writer.pool().get().await?;
        let rows = db
            .query(
                "SELECT g.name, count(s.operator)
                 FROM operator_groups g LEFT JOIN operator_skills s ON s.\"group\" = g.id
                 GROUP BY g.name ORDER BY g.name",
                &[],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Sets (or changes) the operator's level in a group; `NotFound` names a missing group.
    pub async fn set_skill(
        &self,
        operator: i64,
        group: &str,
        level: i16,
    ) -> Result<(), StoreError> {
        let db = self.writer.pool().get().await?;
        let n = db
            .execute(
                "INSERT INTO operator_skills (operator, \"group\", level)
                 SELECT $1, id, $3 FROM operator_groups WHERE name = $2
                 ON CONFLICT (operator, \"group\") DO UPDATE SET level = EXCLUDED.level",
                &[&operator, &group, &level],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("group {group}")));
        }
        Ok(())
    }

    /// The operator's skills as (group, level), by group name.
    pub async fn skills(&self, operator: i64) -> Result<Vec<(String, i16)>, StoreError> {
        let db = self.writer.pool().get().await?;
        let rows = db
            .query(
                "SELECT g.name, s.level FROM operator_skills s
                 JOIN operator_groups g ON g.id = s.\"group\"
                 WHERE s.operator = $1 ORDER BY g.name",
                &[&operator],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The open period, if the operator has ever been logged.
    pub async fn current(&self, operator: i64) -> Result<Option<Period>, StoreError> {
        let db = self.writer.pool().get().await?;
        let row = db
            .query_opt(
                "SELECT state, reason, since, until FROM operator_states
                 WHERE operator = $1 AND until IS NULL",
                &[&operator],
            )
            .await?;
        Ok(row.map(|r| Period {
            state: r.get(0),
            reason: r.get(1),
            since: r.get(2),
            until: r.get(3),
        }))
    }

    /// Records that the operator went to `state` at `at`, under a lock on the operator
    /// (`contactd_record_operator_state`, sql/019). Normally `at` is after the open period
    /// began: that period closes at `at` and `state` opens. Changes reach the database out
    /// of order when several tasks (or instances) make them at once; one dated earlier is
    /// put in its place in the timeline — the period it falls in ends at `at`, and `state`
    /// lasts until that period's old end — so the periods never overlap and follow the
    /// order the changes happened in.
    pub async fn log_state(
        &self,
        operator: i64,
        state: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let db = self.writer.pool().get().await?;
        let row = db
            .query_one(RECORD_STATE, &[&operator, &state, &reason, &at])
            .await?;
        if row.get::<_, bool>(0) {
            Ok(())
        } else {
            Err(StoreError::NotFound(format!("operator {operator}")))
        }
    }

    /// Seconds spent per (state, reason) during the local `day` in zone `tz` (an IANA name),
    /// periods clipped to that day's midnights (DST-aware: a day may be 23 or 25 hours); the
    /// open period counts up to now. Logged-out time is not reported, as in the KPIs.
    pub async fn time_in_states(
        &self,
        operator: i64,
        day: NaiveDate,
        tz: &str,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        let db = self.writer.pool().get().await?;
        let rows = db
            .query(
                "WITH b AS (
                     SELECT ($2::date::timestamp AT TIME ZONE $3) AS lo,
                            (($2::date + 1)::timestamp AT TIME ZONE $3) AS hi),
                 p AS (
                     SELECT s.state, s.reason, s.since, s.until FROM operator_states s, b
                     WHERE s.operator = $1 AND s.since >= b.lo AND s.since < b.hi
                     UNION ALL
                     (SELECT s.state, s.reason, s.since, s.until FROM operator_states s, b
                      WHERE s.operator = $1 AND s.since < b.lo ORDER BY s.since DESC LIMIT 1)),
                 c AS (
                     SELECT p.state, p.reason, greatest(p.since, b.lo) AS f,
                            least(coalesce(p.until, now()), b.hi) AS t
                     FROM p, b)
                 SELECT state, reason, round(sum(extract(epoch FROM t - f)))::bigint
                 FROM c WHERE t > f AND state <> 'logged_out'
                 GROUP BY state, reason ORDER BY state, reason",
                &[&operator, &day, &tz],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }
}
