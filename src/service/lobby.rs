//! Callers who reach contactd while it is still waiting for PostgreSQL and Redis at start
//! (a restart during a store outage or maintenance). The outbound socket is open from the
//! first moment: a caller it takes is answered and held with the same beep the switch
//! plays while contactd is away (`contactd_wait_tone` in `fs-conf/vars.xml`), and handed to
//! the IVR as soon as the stores answer. Without this, the socket stayed closed for the
//! whole wait: the switch's `contactd-reconnect` beeped for 15 tries (about 30 s) and then
//! hung the caller up, while contactd itself was up and about to serve them.
//!
//! A caller is not held for ever: once their call is `outbound.lobby_max_seconds` old (by
//! the switch's clock, from their first ring, across contactd restarts) they hear
//! `service_unavailable` and are hung up with NORMAL_CLEARING, as a person would be told.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::Config;
use crate::esl::outbound::{CallEnded, CallHandler, CallSession};

/// 200 ms of 440 Hz, then 1.8 s of quiet: a tone, so there is no file to go missing.
pub const WAIT_TONE: &str = "tone_stream://%(200,1800,440)";

/// Where the real handler arrives once the stores are up.
pub type Doors = watch::Sender<Option<Arc<dyn CallHandler>>>;

pub struct Lobby {
    open: watch::Receiver<Option<Arc<dyn CallHandler>>>,
    max_age: Duration,
    unavailable: String,
}

impl Lobby {
    /// The lobby, and where to send the handler that takes its callers over.
    pub fn new(config: &Config) -> (Lobby, Doors) {
        let (doors, open) = watch::channel(None);
        let lobby = Lobby {
            open,
            max_age: Duration::from_secs(config.outbound.lobby_max_seconds),
            unavailable: config.prompts.path("service_unavailable"),
        };
        (lobby, doors)
    }

    async fn hold(&self, mut session: CallSession) {
        let mut held = false;
        loop {
            let ready = self.open.borrow().clone();
            if let Some(handler) = ready {
                if held {
                    info!(uuid = %session.data.uuid, age = ?session.age(), "held caller handed to the IVR");
                }
                return handler.handle(session).await;
            }
            let uuid = session.data.uuid.clone();
            if self.open.has_changed().is_err() {
                // the start failed: the socket closes and the switch takes the caller back
                warn!(%uuid, "contactd could not start: held caller returned to the switch");
                return;
            }
            if !held {
                warn!(%uuid, caller = %session.data.caller, "call arrived while contactd waits for PostgreSQL and Redis: holding it");
                held = true;
                if let Err(e) = session.execute("answer", "").await {
                    return ended(&uuid, e);
                }
            }
            if session.age() >= self.max_age {
                warn!(%uuid, age = ?session.age(), "held caller let go: the stores did not answer in time");
                if let Err(e) = session.execute("playback", &self.unavailable).await {
                    return ended(&uuid, e);
                }
                session.finish("NORMAL_CLEARING").await;
                return;
            }
            if let Err(e) = session.execute("playback", WAIT_TONE).await {
                return ended(&uuid, e);
            }
        }
    }
}

/// A held call that ended before the IVR took it. Its socket closes with it: a caller still
/// on the line goes back to the switch's dialplan (`contactd-reconnect`).
fn ended(uuid: &str, e: CallEnded) {
    match e {
        CallEnded::CallerHungUp => info!(%uuid, "held caller hung up"),
        e => warn!(%uuid, "held call: {e}"),
    }
}

impl CallHandler for Lobby {
    fn handle(
        &self,
        session: CallSession,
    ) -> Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(self.hold(session))
    }
}
