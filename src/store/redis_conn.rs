//! The Redis connection every live-state adapter uses: one fixed server (`[redis] url`), or
//! the primary that Redis Sentinel names (`[redis] sentinels` + `master_name`).
//!
//! redis-rs's `ConnectionManager` reconnects to one address only; after a Sentinel failover
//! the old primary is gone (or demoted to a read-only replica), so this handle keeps the
//! manager of the *current* primary and swaps it when the sentinels name another one. It
//! asks them when a command failed on the connection (refused, dropped, timed out, or
//! READONLY from a demoted primary) and once a second otherwise — a failover without any
//! command failing (a planned `SENTINEL FAILOVER` while contactd was idle) is still seen.
//!
//! Every swap bumps [`RedisConn::watch_failovers`]: a failover can lose the last writes
//! acknowledged by the old primary, so the line leases and the ACD's live state are rebuilt
//! from the switches (`service::failover`), never trusted.

use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{Cmd, IntoConnectionInfo, Pipeline, RedisError, RedisFuture, Value};
use tokio::sync::{watch, Notify};
use tracing::{debug, info, warn};

use super::postgres::StoreError;

/// Where Redis is.
#[derive(Debug, Clone, Copy)]
pub enum RedisTarget<'a> {
    /// One server, `redis://host:port/db`.
    Url(&'a str),
    /// The primary named `master_name` by these sentinels (`host:port` each); `url` gives
    /// the primary's database number and password (its host is not used).
    Sentinel {
        sentinels: &'a [String],
        master_name: &'a str,
        url: &'a str,
    },
}

impl<'a> RedisTarget<'a> {
    pub fn of(cfg: &'a crate::config::RedisConfig) -> Self {
        if cfg.sentinels.is_empty() {
            Self::Url(cfg.url.expose())
        } else {
            Self::Sentinel {
                sentinels: &cfg.sentinels,
                master_name: &cfg.master_name,
                url: cfg.url.expose(),
            }
        }
    }
}

/// How often the sentinels are asked when nothing failed.
const ASK_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct RedisConn {
    shared: Arc<Shared>,
}

struct Shared {
    current: RwLock<Current>,
    cfg: Option<ConnectionManagerConfig>,
    sentinel: Option<tokio::sync::Mutex<SentinelClient>>,
    failovers: watch::Sender<u64>,
    ask: Notify,
}

#[derive(Clone)]
struct Current {
    conn: ConnectionManager,
    client: redis::Client,
    addr: String,
}

async fn manager(
    client: &redis::Client,
    cfg: &Option<ConnectionManagerConfig>,
) -> Result<ConnectionManager, RedisError> {
    match cfg {
        Some(c) => ConnectionManager::new_with_config(client.clone(), c.clone()).await,
        None => ConnectionManager::new(client.clone()).await,
    }
}

impl RedisConn {
    /// Connects (through the sentinels if configured); `cfg` tunes the manager's retries.
    pub async fn open(
        target: RedisTarget<'_>,
        cfg: Option<ConnectionManagerConfig>,
    ) -> Result<Self, StoreError> {
        let (client, sentinel) = match target {
            RedisTarget::Url(url) => (redis::Client::open(url)?, None),
            RedisTarget::Sentinel {
                sentinels,
                master_name,
                url,
            } => {
                let settings = url.into_connection_info()?.redis_settings().clone();
                let nodes: Vec<String> = sentinels.iter().map(|s| format!("redis://{s}")).collect();
                let mut sc = SentinelClient::build(
                    nodes,
                    master_name.to_string(),
                    Some(SentinelNodeConnectionInfo::default().set_redis_connection_info(settings)),
                    SentinelServerType::Master,
                )?;
                let client = sc.async_get_client().await?;
                (client, Some(tokio::sync::Mutex::new(sc)))
            }
        };
        let conn = manager(&client, &cfg).await?;
        let addr = client.get_connection_info().addr().to_string();
        let following = sentinel.is_some();
        let shared = Arc::new(Shared {
            current: RwLock::new(Current { conn, client, addr }),
            cfg,
            sentinel,
            failovers: watch::Sender::new(0),
            ask: Notify::new(),
        });
        if following {
            tokio::spawn(follow(Arc::downgrade(&shared)));
        }
        Ok(Self { shared })
    }

    fn current(&self) -> Current {
        self.shared.current.read().expect("redis conn").clone()
    }

    /// A client for the current primary (pub/sub needs a connection of its own).
    pub fn client(&self) -> redis::Client {
        self.current().client
    }

    /// The current primary's address.
    pub fn primary(&self) -> String {
        self.current().addr
    }

    /// Bumped each time the sentinels named another primary.
    pub fn watch_failovers(&self) -> watch::Receiver<u64> {
        self.shared.failovers.subscribe()
    }
}

/// Whether an error may mean the primary moved.
fn may_have_moved(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.code() == Some("READONLY")
}

impl Shared {
    fn after(&self, e: &RedisError) {
        if self.sentinel.is_some() && may_have_moved(e) {
            self.ask.notify_one();
        }
    }

    /// Asks the sentinels for the primary; swaps to it if it is another one.
    async fn check(&self) -> Result<(), RedisError> {
        let Some(s) = &self.sentinel else {
            return Ok(());
        };
        let client = s.lock().await.async_get_client().await?;
        let addr = client.get_connection_info().addr().to_string();
        let old = self.current.read().expect("redis conn").addr.clone();
        if addr == old {
            return Ok(());
        }
        let conn = manager(&client, &self.cfg).await?;
        *self.current.write().expect("redis conn") = Current {
            conn,
            client,
            addr: addr.clone(),
        };
        warn!(from = %old, to = %addr, "Redis primary changed (Sentinel failover): following it");
        self.failovers.send_modify(|n| *n += 1);
        Ok(())
    }
}

/// Follows the primary while anyone holds the connection.
async fn follow(weak: Weak<Shared>) {
    loop {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        tokio::select! {
            _ = tokio::time::sleep(ASK_EVERY) => {}
            _ = shared.ask.notified() => {}
        }
        if let Err(e) = shared.check().await {
            debug!("asking the sentinels for the Redis primary: {e}");
        }
        drop(shared);
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let mut c = self.current().conn;
        Box::pin(async move {
            let r = c.req_packed_command(cmd).await;
            if let Err(e) = &r {
                self.shared.after(e);
            }
            r
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let mut c = self.current().conn;
        Box::pin(async move {
            let r = c.req_packed_commands(pipeline, offset, count).await;
            if let Err(e) = &r {
                self.shared.after(e);
            }
            r
        })
    }

    fn get_db(&self) -> i64 {
        self.current().conn.get_db()
    }
}

/// Logs once which Redis this process uses (never the password).
pub fn log_target(t: &RedisTarget<'_>, conn: &RedisConn) {
    match t {
        RedisTarget::Url(_) => info!(primary = %conn.primary(), "Redis"),
        RedisTarget::Sentinel {
            sentinels,
            master_name,
            ..
        } => info!(?sentinels, %master_name, primary = %conn.primary(), "Redis through Sentinel"),
    }
}
