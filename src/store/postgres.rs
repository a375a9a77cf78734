//! PostgreSQL: the pool and its errors. The call rows are `store::calls` (re-exported here,
//! where every caller has always found them). Thin repository functions, all
//! parameterised; no business decisions here.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

pub use super::calls::{from_micros, CallEnd, CallRecord, Calls, NewCall};

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
