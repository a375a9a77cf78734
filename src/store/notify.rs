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
        let run = listen_once(&url, channel, &wake, &mut said_down);
        let e = tokio::select! {
            e = run => e,
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

/// One connection's life: connect, LISTEN, forward notifications until it closes (why is
/// returned).
async fn listen_once(url: &str, channel: &str, wake: &Notify, said_down: &mut bool) -> String {
    match listening(url, channel, wake, said_down).await {
        Ok(()) => "connection closed".into(),
        Err(e) => e,
    }
}

async fn listening(
    url: &str,
    channel: &str,
    wake: &Notify,
    said_down: &mut bool,
) -> Result<(), String> {
    let (client, mut conn) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The connection is driven here (its replies included) while the LISTEN is sent below.
    let driver = tokio::spawn(async move {
        while let Some(m) = messages.next().await {
            match m {
                Ok(AsyncMessage::Notification(_)) => {
                    if tx.send(()).is_err() {
                        return Ok(());
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    });
    // `channel` is one of this module's constants, never user input.
    let listening = client.batch_execute(&format!("LISTEN {channel}")).await;
    if let Err(e) = listening {
        driver.abort();
        return Err(e.to_string());
    }
    if std::mem::take(said_down) {
        info!(channel, "PostgreSQL notifications back");
    }
    // Anything committed while no connection listened: look once.
    wake.notify_one();
    while rx.recv().await.is_some() {
        wake.notify_one();
    }
    drop(client);
    match driver.await {
        Ok(r) => r,
        Err(e) => Err(e.to_string()),
    }
}
