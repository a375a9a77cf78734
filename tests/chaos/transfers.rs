//! Attended transfers beside the rest (`transfers_*` scenarios): every talk of the
//! general operators is transferred to the specialists by its operator over the API, who
//! then hangs up when their talk is over — completing the transfer. Counted: a caller
//! whose transfer contactd accepted and who never reached a specialist (`lost_transfers`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use contactd::sim::{AgentOffer, Behaviour, PartyRecord, Simulator};

/// The specialists' phones (group and queue `specialists`).
pub const SPECIALISTS: [&str; 2] = ["2004", "2005"];

pub fn config_text() -> String {
    "\n[acd.queue.specialists]\ngroup = \"specialists\"\nmax_waiting = 50\nmax_wait_seconds = 0\n"
        .into()
}

/// The specialists' phones are the general operators' (a ring, then a talk).
pub fn agents() -> Vec<(String, Behaviour)> {
    SPECIALISTS
        .iter()
        .map(|e| (e.to_string(), crate::traffic::operator_phone()))
        .collect()
}

/// The callers whose transfer contactd accepted.
#[derive(Default, Clone)]
pub struct Transferred(pub Arc<Mutex<Vec<String>>>);

impl Transferred {
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The general operators' desk: once a caller is bridged to one of them, the talk is
/// transferred (attended) to the specialists, until `stop`.
pub fn spawn_desk(
    sim: Simulator,
    http: u16,
    transferred: Transferred,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen: HashSet<String> = HashSet::new();
        while !*stop.borrow() {
            for ext in crate::daemon::OPERATORS {
                for o in sim.agent_offers(ext) {
                    if seen.contains(&o.uuid) || !o.answered {
                        continue;
                    }
                    let Some(caller) = acd_call(&o) else {
                        seen.insert(o.uuid.clone());
                        continue;
                    };
                    if sim.bridged_to(&o.uuid).as_deref() != Some(caller.as_str()) {
                        continue; // not bridged yet (looked at again), or over
                    }
                    seen.insert(o.uuid.clone());
                    let path = format!("/api/v1/acd/calls/{caller}/transfer");
                    let body = r#"{"to": "specialists", "mode": "attended"}"#;
                    let r = crate::daemon::http_raw(http, "POST", &path, Some(body)).await;
                    if matches!(r, Some((200, _))) {
                        transferred
                            .0
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(caller);
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = stop.changed() => {}
            }
        }
    })
}

fn acd_call(o: &AgentOffer) -> Option<String> {
    o.vars
        .iter()
        .find(|(k, _)| k == "contactd_acd_call")
        .map(|(_, v)| v.clone())
}

/// Callers transferred who never reached a specialist (a switch crash, `system`, is not
/// contactd's doing).
pub fn lost(
    truth: &[PartyRecord],
    specialists: &[AgentOffer],
    transferred: &[String],
) -> Vec<String> {
    let legs: HashSet<&str> = specialists.iter().map(|o| o.uuid.as_str()).collect();
    transferred
        .iter()
        .filter_map(|c| {
            let r = truth.iter().find(|r| &r.uuid == c)?;
            let reached = r.bridged_to.iter().any(|u| legs.contains(u.as_str()));
            // a caller who gives up on hold is no excuse: they hold only while contactd
            // moves them, and would have reached the specialist well within their patience
            let crashed = r.hangup_by.as_deref() == Some("system");
            (!reached && !crashed).then(|| {
                format!(
                    "{} hung up by {} ({}), bridged to {} leg(s)",
                    c.get(..8).unwrap_or(c),
                    r.hangup_by.as_deref().unwrap_or("nobody yet"),
                    r.hangup_cause.as_deref().unwrap_or("-"),
                    r.bridged_to.len()
                )
            })
        })
        .collect()
}
