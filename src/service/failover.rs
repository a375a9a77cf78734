//! After a Redis Sentinel failover: the new primary may lack the last writes the old one
//! acknowledged (replication is asynchronous), so nothing in it about lines and queues is
//! trusted. The line leases are rebuilt from the switches' channel lists (the lease guard's
//! own path, `service::leases`), and the ACD's mark is removed so the ACD rebuilds its live
//! state (operators from PostgreSQL and the switch, callers from their tasks and the
//! switch: `service::acd::rebuild`). Dialing and routing wait until both are rebuilt.

use std::time::Duration;

use tokio::sync::watch;
use tracing::warn;

use crate::store::redis::LiveState;

pub async fn run(live: LiveState, mut shutdown: watch::Receiver<bool>) {
    let mut failovers = live.conn().watch_failovers();
    loop {
        tokio::select! {
            r = failovers.changed() => {
                if r.is_err() {
                    return;
                }
                resync(&live).await;
            }
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    return;
                }
            }
        }
    }
}

async fn resync(live: &LiveState) {
    warn!(
        primary = %live.conn().primary(),
        "Redis failed over: line leases and queues are rebuilt from the switches before use"
    );
    live.mark_dirty();
    for _ in 0..10 {
        let mut c = live.conn();
        match redis::cmd("DEL")
            .arg(live.key(&["acd", "trusted"]))
            .query_async::<i64>(&mut c)
            .await
        {
            Ok(_) => return,
            Err(e) => {
                warn!("Redis failover: the ACD's mark not removed yet: {e}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
}
