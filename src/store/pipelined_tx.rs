//! A PostgreSQL transaction pipelined with its first and last statements, for the call
//! paths that read, check and write in one transaction (a meter reading).

use std::sync::atomic::{AtomicBool, Ordering};

/// A transaction whose `BEGIN` goes out in the same write as its first statement and whose
/// `COMMIT` goes out with its last ones: a read-check-write costs two round trips, not four
/// (tokio-postgres pipelines requests polled together, sent in the order first polled;
/// its own `Transaction` waits for `BEGIN`'s reply before anything else is sent).
///
/// Dropped before [`PipelinedTx::commit_with`] or [`PipelinedTx::rollback`] ended it (an
/// error, or the caller's future dropped), its connection is taken out of the pool and
/// closed: PostgreSQL rolls the transaction back, and no later user of the pool finds
/// itself inside it.
pub struct PipelinedTx {
    db: Option<deadpool_postgres::Object>,
    ended: AtomicBool,
}

impl PipelinedTx {
    /// Nothing is sent yet: [`PipelinedTx::begin_with`] opens it.
    pub fn new(db: deadpool_postgres::Object) -> Self {
        Self {
            db: Some(db),
            ended: AtomicBool::new(false),
        }
    }

    pub fn client(&self) -> &tokio_postgres::Client {
        self.db
            .as_ref()
            .expect("a PipelinedTx holds its connection until dropped")
    }

    /// Sends `BEGIN` and then `first`, a statement on [`PipelinedTx::client`] not yet
    /// polled (tokio-postgres's requests are lazy futures), and waits for both.
    pub async fn begin_with<T>(
        &self,
        first: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, tokio_postgres::Error> {
        let ((), t) =
            futures_util::future::try_join(self.client().batch_execute("BEGIN"), first).await?;
        Ok(t)
    }

    /// Sends `last` (not yet polled) and then `COMMIT`, and waits for both. If `last`
    /// fails, the `COMMIT` already sent ends the transaction as a rollback, and the
    /// connection is closed when this is dropped.
    pub async fn commit_with<T>(
        &self,
        last: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, tokio_postgres::Error> {
        let (t, ()) =
            futures_util::future::try_join(last, self.client().batch_execute("COMMIT")).await?;
        self.ended.store(true, Ordering::Relaxed);
        Ok(t)
    }

    /// Rolls back; a rollback that fails leaves the closing to the drop.
    pub async fn rollback(&self) {
        if self.client().batch_execute("ROLLBACK").await.is_ok() {
            self.ended.store(true, Ordering::Relaxed);
        }
    }
}

impl Drop for PipelinedTx {
    fn drop(&mut self) {
        if !self.ended.load(Ordering::Relaxed) {
            if let Some(db) = self.db.take() {
                // out of the pool; dropping the client closes its connection
                drop(deadpool_postgres::Object::take(db));
            }
        }
    }
}
