//! Record writes that must never be lost, even while PostgreSQL is away.
//!
//! A write goes straight to PostgreSQL when it can. When the server cannot be reached (or
//! while earlier writes still wait), it is appended to a local spool — a redb file, each
//! append its own fsync'd transaction — and a replayer applies the spool in order once the
//! server answers again. A crash during the outage loses nothing: the spool is read back at
//! start. A write PostgreSQL itself refuses (bad data, a bug) is not retried forever: it is
//! moved to the spool's dead-letter table and logged with what it was.
//!
//! Writes carry their own timestamps (never `now()` in the SQL), so a replayed write
//! records when it happened, not when it was replayed, and they are written to be
//! idempotent (a write applied just before a timeout may be applied again on replay).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tracing::{error, info, warn};
use uuid::Uuid;

use super::StoreError;

const SPOOL: TableDefinition<u64, &[u8]> = TableDefinition::new("spool");
const DEAD: TableDefinition<u64, &[u8]> = TableDefinition::new("dead");

/// The longest a direct write may take before it is spooled instead (a server that
/// accepts connections but does not answer must not hold a call flow).
const DIRECT_TIMEOUT: Duration = Duration::from_secs(3);

/// One bound parameter, kept in a form that survives the spool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Param {
    Null,
    Bool(bool),
    I32(i32),
    I64(i64),
    F64(f64),
    Text(String),
    Uuid(Uuid),
    Ts(DateTime<Utc>),
    /// Arrays: one statement writes a batch of rows (`unnest`), spooled as one write.
    Uuids(Vec<Uuid>),
    Texts(Vec<Option<String>>),
    I32s(Vec<Option<i32>>),
    Tss(Vec<Option<DateTime<Utc>>>),
}

/// An array's `to_sql`, refused (not a panic) when the statement wants no array there.
fn array_to_sql<T: ToSql>(
    v: &T,
    ty: &Type,
    out: &mut BytesMut,
) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
    if !T::accepts(ty) {
        return Err(format!("an array where the statement wants {ty}").into());
    }
    v.to_sql(ty, out)
}

impl ToSql for Param {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Param::Null => Ok(IsNull::Yes),
            Param::Bool(v) => v.to_sql(ty, out),
            Param::I32(v) => v.to_sql(ty, out),
            Param::I64(v) => v.to_sql(ty, out),
            Param::F64(v) => v.to_sql(ty, out),
            Param::Text(v) => v.to_sql(ty, out),
            Param::Uuid(v) => v.to_sql(ty, out),
            Param::Ts(v) => v.to_sql(ty, out),
            Param::Uuids(v) => array_to_sql(v, ty, out),
            Param::Texts(v) => array_to_sql(v, ty, out),
            Param::I32s(v) => array_to_sql(v, ty, out),
            Param::Tss(v) => array_to_sql(v, ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in to_sql: each variant delegates to its own type's check.
        true
    }

    to_sql_checked!();
}

macro_rules! param_from {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for Param {
            fn from(x: $t) -> Self { Param::$v(x.into()) }
        }
        impl From<Option<$t>> for Param {
            fn from(x: Option<$t>) -> Self { x.map_or(Param::Null, |v| Param::$v(v.into())) }
        }
    )*};
}
param_from!(bool => Bool, i32 => I32, i64 => I64, f64 => F64, String => Text,
    &str => Text, Uuid => Uuid, DateTime<Utc> => Ts);

impl From<&String> for Param {
    fn from(x: &String) -> Self {
        Param::Text(x.clone())
    }
}

impl From<Option<&String>> for Param {
    fn from(x: Option<&String>) -> Self {
        x.map_or(Param::Null, |v| Param::Text(v.clone()))
    }
}

/// One durable write: what it is (for the log), the statement and its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Write {
    pub what: String,
    pub sql: String,
    pub params: Vec<Param>,
}

impl Write {
    pub fn new(what: impl Into<String>, sql: &str, params: Vec<Param>) -> Self {
        Self {
            what: what.into(),
            sql: sql.to_string(),
            params,
        }
    }
}

/// The server is away or restarting (worth waiting for), as opposed to a refused write.
pub fn is_transient(e: &StoreError) -> bool {
    match e {
        StoreError::Pool(_) | StoreError::Unavailable(_) => true,
        StoreError::Postgres(pg) => match pg.as_db_error() {
            None => true,
            // 08: connection exception; 57P01-03: admin shutdown, crash shutdown, cannot
            // connect now (the server is starting or stopping); 53300: too many connections.
            Some(db) => {
                let code = db.code().code();
                code.starts_with("08") || code.starts_with("57P") || code == "53300"
            }
        },
        _ => false,
    }
}

struct Inner {
    pool: Pool,
    db: Database,
    path: PathBuf,
    next_seq: AtomicU64,
    pending: watch::Sender<u64>,
    dead: AtomicU64,
    wake: Notify,
}

/// Cheap handle; clone freely.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

fn spool_err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Config(format!("write spool {what}: {e}"))
}

/// The spool file for one instance and one database: a spool is only ever replayed into
/// the database it was written for.
pub fn spool_path(dir: &Path, instance: &str, database_url: &str) -> PathBuf {
    use std::hash::{Hash, Hasher};
    // The URL without its password: changing a password must not orphan the spool.
    let id = match database_url.parse::<tokio_postgres::Config>() {
        Ok(c) => format!(
            "{:?}|{:?}|{:?}|{:?}",
            c.get_hosts(),
            c.get_ports(),
            c.get_user(),
            c.get_dbname()
        ),
        Err(_) => database_url.to_string(),
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    let safe: String = instance
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}-{:016x}.redb", h.finish()))
}

impl Journal {
    /// Opens (or creates) the spool; writes left by a previous run are replayed by [`run`].
    ///
    /// [`run`]: Journal::run
    pub fn open(path: &Path, pool: Pool) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| spool_err(&format!("directory {}", dir.display()), e))?;
        }
        let db = Database::create(path).map_err(|e| {
            spool_err(
                &format!(
                    "{} (daemon.spool_dir; is another contactd using it?)",
                    path.display()
                ),
                e,
            )
        })?;
        let (pending, last) = {
            let tx = db.begin_write().map_err(|e| spool_err("open", e))?;
            {
                tx.open_table(SPOOL).map_err(|e| spool_err("open", e))?;
                tx.open_table(DEAD).map_err(|e| spool_err("open", e))?;
            }
            tx.commit().map_err(|e| spool_err("open", e))?;
            let rx = db.begin_read().map_err(|e| spool_err("read", e))?;
            let t = rx.open_table(SPOOL).map_err(|e| spool_err("read", e))?;
            let d = rx.open_table(DEAD).map_err(|e| spool_err("read", e))?;
            let n = t.len().map_err(|e| spool_err("read", e))?;
            let last_spool = t
                .last()
                .map_err(|e| spool_err("read", e))?
                .map_or(0, |(k, _)| k.value());
            let last_dead = d
                .last()
                .map_err(|e| spool_err("read", e))?
                .map_or(0, |(k, _)| k.value());
            (n, last_spool.max(last_dead))
        };
        if pending > 0 {
            warn!(
                pending,
                spool = %path.display(),
                "record writes of a previous run are waiting for PostgreSQL; replaying them first"
            );
        }
        let (tx, _) = watch::channel(pending);
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                db,
                path: path.to_path_buf(),
                next_seq: AtomicU64::new(last + 1),
                pending: tx,
                dead: AtomicU64::new(0),
                wake: Notify::new(),
            }),
        })
    }

    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Writes waiting in the spool.
    pub fn backlog(&self) -> u64 {
        *self.inner.pending.borrow()
    }

    /// Writes PostgreSQL refused on replay (kept in the spool's dead-letter table).
    pub fn dead_letters(&self) -> u64 {
        self.inner.dead.load(Ordering::Relaxed)
    }

    /// Follows the backlog (0 = everything is in PostgreSQL).
    pub fn watch_backlog(&self) -> watch::Receiver<u64> {
        self.inner.pending.subscribe()
    }

    /// Durable once this returns Ok: in PostgreSQL, or fsync'd in the spool for replay.
    /// Err only when PostgreSQL refused the write itself (the error says why) or the
    /// spool's disk failed.
    pub async fn write(&self, w: Write) -> Result<(), StoreError> {
        // While earlier writes wait, later ones queue behind them: order is kept.
        if self.backlog() == 0 {
            match tokio::time::timeout(DIRECT_TIMEOUT, apply(&self.inner.pool, &w)).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) if !is_transient(&e) => {
                    error!(what = %w.what, "PostgreSQL refused a record write: {e}");
                    return Err(e);
                }
                Ok(Err(e)) => {
                    warn!(what = %w.what, "PostgreSQL unavailable ({e}); spooling record writes")
                }
                Err(_) => {
                    warn!(what = %w.what, "PostgreSQL did not answer; spooling record writes")
                }
            }
        }
        self.append(w).await
    }

    /// Appends to the spool (fsync'd) without trying PostgreSQL first.
    pub async fn append(&self, w: Write) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(&w).map_err(|e| spool_err("encode", e))?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let seq = inner.next_seq.fetch_add(1, Ordering::SeqCst);
            let tx = inner.db.begin_write().map_err(|e| spool_err("append", e))?;
            {
                let mut t = tx.open_table(SPOOL).map_err(|e| spool_err("append", e))?;
                t.insert(seq, bytes.as_slice())
                    .map_err(|e| spool_err("append", e))?;
            }
            tx.commit().map_err(|e| spool_err("append", e))?;
            inner.pending.send_modify(|n| *n += 1);
            inner.wake.notify_one();
            Ok::<_, StoreError>(())
        })
        .await
        .map_err(|e| spool_err("append", e))?
    }

    fn first(&self) -> Result<Option<(u64, Write)>, StoreError> {
        let rx = self
            .inner
            .db
            .begin_read()
            .map_err(|e| spool_err("read", e))?;
        let t = rx.open_table(SPOOL).map_err(|e| spool_err("read", e))?;
        let Some((k, v)) = t.first().map_err(|e| spool_err("read", e))? else {
            return Ok(None);
        };
        let seq = k.value();
        match serde_json::from_slice::<Write>(v.value()) {
            Ok(w) => Ok(Some((seq, w))),
            Err(e) => Err(spool_err(&format!("entry {seq}"), e)),
        }
    }

    /// Removes `seq` from the spool, keeping it as a dead letter if `dead`.
    fn settle(&self, seq: u64, dead: Option<&[u8]>) -> Result<(), StoreError> {
        let tx = self
            .inner
            .db
            .begin_write()
            .map_err(|e| spool_err("remove", e))?;
        {
            let mut t = tx.open_table(SPOOL).map_err(|e| spool_err("remove", e))?;
            t.remove(seq).map_err(|e| spool_err("remove", e))?;
            if let Some(bytes) = dead {
                let mut d = tx.open_table(DEAD).map_err(|e| spool_err("remove", e))?;
                d.insert(seq, bytes).map_err(|e| spool_err("remove", e))?;
            }
        }
        tx.commit().map_err(|e| spool_err("remove", e))?;
        self.inner.pending.send_modify(|n| *n = n.saturating_sub(1));
        Ok(())
    }

    /// Replays the spool in order whenever it holds writes, until `shutdown`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(200);
        let mut replayed = 0u64;
        loop {
            if *shutdown.borrow() {
                return;
            }
            if self.backlog() == 0 {
                if replayed > 0 {
                    info!(replayed, "spooled record writes are all in PostgreSQL");
                    replayed = 0;
                }
                tokio::select! {
                    _ = self.inner.wake.notified() => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let next = {
                let me = self.clone();
                tokio::task::spawn_blocking(move || me.first()).await
            };
            let (seq, w) = match next {
                Ok(Ok(Some(x))) => x,
                Ok(Ok(None)) => {
                    self.inner.pending.send_replace(0);
                    continue;
                }
                Ok(Err(e)) => {
                    error!(spool = %self.inner.path.display(), "cannot read the write spool: {e}");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
                Err(e) => {
                    error!("write spool reader: {e}");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            let res = tokio::time::timeout(DIRECT_TIMEOUT, apply(&self.inner.pool, &w))
                .await
                .unwrap_or_else(|_| {
                    Err(StoreError::Unavailable("PostgreSQL did not answer".into()))
                });
            let settled = match res {
                Ok(()) => {
                    replayed += 1;
                    backoff = Duration::from_millis(200);
                    self.settle(seq, None)
                }
                Err(e) if is_transient(&e) => {
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
                Err(e) => {
                    self.inner.dead.fetch_add(1, Ordering::Relaxed);
                    error!(
                        what = %w.what,
                        params = ?w.params,
                        "PostgreSQL refused a spooled record write; kept as dead letter {seq} in {}: {e}",
                        self.inner.path.display()
                    );
                    let bytes = serde_json::to_vec(&w).unwrap_or_default();
                    self.settle(seq, Some(&bytes))
                }
            };
            if let Err(e) = settled {
                error!("write spool: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn apply(pool: &Pool, w: &Write) -> Result<(), StoreError> {
    let db = pool.get().await?;
    let params: Vec<&(dyn ToSql + Sync)> = w.params.iter().map(|p| p as _).collect();
    // prepared once per connection: a plain string is parsed again at every write, a
    // round trip more for each of a call's record writes
    let stmt = db.prepare_cached(w.sql.as_str()).await?;
    db.execute(&stmt, &params).await?;
    Ok(())
}

/// Where a store's record writes go: straight to PostgreSQL (CLI, tests of the stores), or
/// through the daemon's journal (never lost while PostgreSQL is away).
#[derive(Clone)]
pub enum Writer {
    Direct(Pool),
    Journal(Journal),
    /// Into the spool without trying PostgreSQL: for writes made before the schema is known
    /// to be migrated (contactd waiting for its stores at start), replayed after it is.
    Spool(Journal),
}

impl Writer {
    /// The pool reads (and writes that need an answer) go to.
    pub fn pool(&self) -> &Pool {
        match self {
            Writer::Direct(pool) => pool,
            Writer::Journal(j) | Writer::Spool(j) => j.pool(),
        }
    }

    /// Record writes still waiting in the spool (0 when writing directly).
    pub fn backlog(&self) -> u64 {
        match self {
            Writer::Direct(_) => 0,
            Writer::Journal(j) | Writer::Spool(j) => j.backlog(),
        }
    }

    pub async fn write(&self, w: Write) -> Result<(), StoreError> {
        match self {
            Writer::Direct(pool) => apply(pool, &w).await,
            Writer::Journal(j) => j.write(w).await,
            Writer::Spool(j) => j.append(w).await,
        }
    }
}
