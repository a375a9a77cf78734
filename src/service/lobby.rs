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
//! Every held call has its row (`flow_step = lobby`) in the journal's spool from the moment
//! it is held, written once contactd has started; one that ends here (let go, or the caller
//! hung up) has its end there too.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tracing::{info, warn};
use uuid::Uuid;

use crate::config::Config;
use crate::core::call::CallState;
use crate::esl::outbound::{CallEnded, CallHandler, CallSession, ChannelData};
use crate::service::inbound::Arrival;
use crate::store::postgres::{CallEnd, Calls};

/// 200 ms of 440 Hz, then 1.8 s of quiet: a tone, so there is no file to go missing.
pub const WAIT_TONE: &str = "tone_stream://%(200,1800,440)";

/// Where the real handler arrives once the stores are up.
pub type Doors = watch::Sender<Option<Arc<dyn CallHandler>>>;

pub struct Lobby {
    open: watch::Receiver<Option<Arc<dyn CallHandler>>>,
    max_age: Duration,
    unavailable: String,
    config: Arc<Config>,
    calls: Calls,
    node: String,
}

impl Lobby {
    /// The lobby, and where to send the handler that takes its callers over. `calls`
    /// writes into the journal's spool: PostgreSQL may be away, or not migrated yet.
    pub fn new(config: Arc<Config>, calls: Calls, node: String) -> (Lobby, Doors) {
        let (doors, open) = watch::channel(None);
        let lobby = Lobby {
            open,
            max_age: Duration::from_secs(config.outbound.lobby_max_seconds),
            unavailable: config.prompts.path("service_unavailable"),
            config,
            calls,
            node,
        };
        (lobby, doors)
    }

    async fn hold(&self, session: CallSession) {
        let mut answered_at = None;
        let uuid = session.data.uuid.clone();
        let hung_up_by = match self.held(session, &mut answered_at).await {
            Ok(()) | Err(None) => return, // handed over, or back to the switch
            Err(Some(by)) => by,
        };
        self.ended_here(&uuid, answered_at, hung_up_by).await;
        info!(%uuid, hung_up_by, "held call ended in the lobby");
    }

    /// Holds the call until the IVR takes it (`Ok`), until it ends here (`Err` with who
    /// ended it: `party`, `contactd`), or until its socket is gone with the call still up
    /// (`Err(None)`: back to the switch, which connects it again).
    async fn held(
        &self,
        mut session: CallSession,
        answered_at: &mut Option<DateTime<Utc>>,
    ) -> Result<(), Option<&'static str>> {
        let mut held = false;
        loop {
            let ready = self.open.borrow().clone();
            if let Some(handler) = ready {
                if held {
                    info!(uuid = %session.data.uuid, age = ?session.age(), "held caller handed to the IVR");
                }
                handler.handle(session).await;
                return Ok(());
            }
            let uuid = session.data.uuid.clone();
            if self.open.has_changed().is_err() {
                // the start failed: the socket closes and the switch takes the caller back
                warn!(%uuid, "contactd could not start: held caller returned to the switch");
                return Ok(());
            }
            if !held {
                warn!(%uuid, caller = %session.data.caller, "call arrived while contactd waits for PostgreSQL and Redis: holding it");
                held = true;
                self.arrived(&session.data).await;
                session.execute("answer", "").await.map_err(ended)?;
                *answered_at = Some(Utc::now());
            }
            if session.age() >= self.max_age {
                warn!(%uuid, age = ?session.age(), "held caller let go: the stores did not answer in time");
                session
                    .execute("playback", &self.unavailable)
                    .await
                    .map_err(ended)?;
                session.finish("NORMAL_CLEARING").await;
                return Err(Some("contactd"));
            }
            session
                .execute("playback", WAIT_TONE)
                .await
                .map_err(ended)?;
        }
    }

    /// The call's row, in the spool as soon as it is held: a call whose socket goes with the
    /// caller still on the line (contactd stopping, the store wait given up) and who hangs
    /// up in the switch's reconnect loop is on record too, closed by the records task's
    /// reconciliation once contactd is up; one handed over keeps this row (the IVR's
    /// insert does nothing on a conflict) and the IVR's writes queue behind it.
    async fn arrived(&self, data: &ChannelData) {
        let Ok(uuid) = Uuid::parse_str(&data.uuid) else {
            return;
        };
        let arrival = Arrival::of(data, &self.config, &self.node);
        let written = async {
            self.calls.record_arrival(&arrival.row(uuid)).await?;
            self.calls.set_flow_step(uuid, "lobby").await
        };
        if let Err(e) = written.await {
            warn!(%uuid, "held call's arrival not recorded: {e}");
        }
    }

    /// The end of a call held here (its row is [`Lobby::arrived`]'s): who hung up, when.
    async fn ended_here(&self, uuid: &str, answered_at: Option<DateTime<Utc>>, by: &str) {
        let Ok(uuid) = Uuid::parse_str(uuid) else {
            return;
        };
        let ended_at = Utc::now();
        let written = self
            .calls
            .record_end(&CallEnd {
                uuid,
                cause: "NORMAL_CLEARING",
                q850: Some(16),
                billsec: answered_at.map(|a| (ended_at - a).num_seconds() as i32),
                answered_at,
                ended_at,
                hungup_by: by,
                state: CallState::Ended.as_str(),
            })
            .await;
        if let Err(e) = written {
            warn!(%uuid, "held call's end not recorded: {e}");
        }
    }
}

/// Who ended a held call whose step ended with `e`: the caller, when they hung up; none
/// when its socket went (contactd stopping, the link to the switch gone) and the call is
/// the switch's again.
fn ended(e: CallEnded) -> Option<&'static str> {
    match e {
        CallEnded::CallerHungUp => Some("party"),
        CallEnded::SwitchHungUp { .. } => Some("switch"),
        e => {
            warn!("held call: {e}");
            None
        }
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
