//! PostgreSQL's LISTEN/NOTIFY as a wake-up: a change another process committed (a campaign
//! created by the CLI, resumed by phone, started on another instance) reaches the service that
//! acts on it at once, instead of at its next routine look. Notifications carry no state the
//! listener relies on: it wakes and reads the tables, so one lost while the connection was
//! down costs only that wait (and every reconnection wakes it once anyway).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{watch, Notify};
use tokio_postgres::{AsyncMessage, NoTls};
use tracing::{debug, info, warn};

/// The channel `sql/008_campaign_notify.sql` notifies when a campaign is created or changes
/// state.
pub const CAMPAIGNS: &str = "contactd_campaigns";

/// How long to wait before connecting again after the listening connection failed.
const RECONNECT: Duration = Duration::from_secs(1);

/// LISTENs on `channel` and wakes `wake` for every notification, and once after each
/// (re)connection. Ends at `shutdown`. A server that is away is tried again every second,
/// said once per outage.
pub async fn listen(
    url: String,
    channel: &'static str,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut said_down = false;
    loop {
        let e = tokio::select! {
            e = listening(&url, channel, &wake, &mut said_down) => e,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        if said_down {
            debug!(channel, "PostgreSQL notifications: {e}");
        } else {
            warn!(channel, "PostgreSQL notifications lost ({e}); the routine look stands in until they are back");
            said_down = true;
        }
        tokio::select! {
            _ = tokio::time::sleep(RECONNECT) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// One connection's life: connect, LISTEN, wake `wake` for each notification until the
/// connection ends; returns why it ended.
async fn listening(url: &str, channel: &str, wake: &Arc<Notify>, said_down: &mut bool) -> String {
    let (client, mut conn) = match tokio_postgres::connect(url, NoTls).await {
        Ok(c) => c,
        Err(e) => return e.to_string(),
    };
    // The connection is driven here (the LISTEN's reply included) while it is sent below.
    let notified = wake.clone();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(AsyncMessage::Notification(_)) => notified.notify_one(),
                Ok(_) => {}
                Err(e) => return e.to_string(),
            }
        }
        "connection closed".to_string()
    });
    // `channel` is one of this module's constants, never user input.
    if let Err(e) = client.batch_execute(&format!("LISTEN {channel}")).await {
        driver.abort();
        return e.to_string();
    }
    if std::mem::take(said_down) {
        info!(channel, "PostgreSQL notifications back");
    }
    // Anything committed while no connection listened: look once.
    wake.notify_one();
    // The client stays alive (and so the connection) until the connection itself ends.
    let why = driver.await.unwrap_or_else(|e| e.to_string());
    drop(client);
    why
}
