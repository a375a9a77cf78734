//! Where an inbound call leaves the IVR: handed to the ACD's queue, or an operator's
//! feature code (*21-*24) carried out.

use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::core::acd::agent::{StateName, DEFAULT_BREAK_REASON};
use crate::esl::outbound::CallSession;

use super::InboundCalls;

impl InboundCalls {
    /// Hands the caller to the ACD: queued in Redis (or offered a callback if the queue is
    /// full), transferred to the ACD's park so the call no longer depends on this socket,
    /// and driven over the control link from then on.
    pub(super) async fn hand_over(
        &self,
        session: CallSession,
        queue: &str,
        caller: Option<&str>,
        learned: std::collections::BTreeMap<String, String>,
    ) {
        let uuid = session.data.uuid.clone();
        match self.acd.admit(&uuid, queue, caller, learned).await {
            Ok(a) => info!(%uuid, ?queue, ?a, "to the operators' queue"),
            Err(e) => {
                warn!(%uuid, ?queue, error = ?e.to_string(), "cannot queue the caller");
                let mut session = session;
                let _ = session
                    .execute("playback", &self.prompt("operators_busy"))
                    .await;
                session.finish("NORMAL_CLEARING").await;
                return;
            }
        }
        let mut parked = self.acd.link().watch_call(&uuid);
        let mut session = session;
        // The park is silent until the ACD takes the caller; should this process die first,
        // the switch plays the music by itself (`acd::FALLBACK_MUSIC_AFTER_S`).
        if let Err(e) = session
            .execute("sched_broadcast", &self.acd.fallback_music())
            .await
        {
            debug!(%uuid, error = ?e.to_string(), "fallback music not scheduled");
        }
        // The queue name passed config validation: `[a-z0-9_]` only.
        let transferred = session
            .execute("transfer", &format!("acd_{queue} XML contactd-acd"))
            .await;
        if let Err(e) = transferred {
            warn!(%uuid, error = ?e.to_string(), "transfer to the ACD's park failed");
        }
        session.release().await;
        use crate::core::channels::SwitchEvent;
        use crate::esl::control::WatchEvent;
        let gone = tokio::time::timeout(std::time::Duration::from_secs(3), async {
            while let Some(ev) = parked.recv().await {
                match ev {
                    WatchEvent::Switch(SwitchEvent::Park { .. }) => return false,
                    WatchEvent::Switch(SwitchEvent::Hangup(_)) => return true,
                    _ => {}
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        drop(parked);
        if gone {
            // Hung up on the way into the queue: the ACD never sees this caller talk or wait.
            if let Ok(id) = Uuid::parse_str(&uuid) {
                if let Err(e) = self.calls.set_hungup_by(id, "party").await {
                    warn!(%uuid, error = ?e.to_string(), "cannot record who hung up");
                }
            }
        }
        if let Err(e) = self.acd.take_over(&uuid, queue).await {
            warn!(%uuid, error = ?e.to_string(), "the ACD cannot take the caller");
        }
    }

    /// `*21` log in, `*22` log out, `*23` break, `*24` ready, from the operator's own phone.
    pub(super) async fn operator_code(&self, session: &mut CallSession) -> &'static str {
        use crate::service::acd::OperatorCommand;
        let code = session
            .data
            .vars
            .get("contactd_code")
            .cloned()
            .unwrap_or_default();
        let cmd = match code.as_str() {
            "*21" => OperatorCommand::Login,
            "*22" => OperatorCommand::Logout,
            // a break keyed on the phone has no reason of its own: the default one
            "*23" => OperatorCommand::Break(DEFAULT_BREAK_REASON.into()),
            "*24" => OperatorCommand::Ready,
            _ => return "operator_code_unknown",
        };
        let _ = session.execute("answer", "").await;
        let login = self.acd.operator_by_phone(&session.data.caller).await;
        let (prompt, step) = match login {
            None => {
                warn!(phone = ?session.data.caller, ?code, "feature code from a phone of no operator");
                ("operator_unknown", "operator_unknown")
            }
            Some(login) => match self.acd.command(&login, cmd).await {
                Ok(state) => match state {
                    StateName::Ready => ("operator_ready", "operator_ready"),
                    StateName::Break => ("operator_break", "operator_break"),
                    StateName::Absent => ("operator_absent", "operator_absent"),
                    _ => ("operator_logged_out", "operator_logged_out"),
                },
                Err(e) => {
                    info!(operator = ?login, ?code, error = ?e.to_string(), "feature code refused");
                    ("operator_refused", "operator_refused")
                }
            },
        };
        let _ = session.execute("playback", &self.prompt(prompt)).await;
        step
    }
}
