//! The bridge of a caller to the operator who answered an offer (recorded with
//! `uuid_record`, then `uuid_bridge`), and the music a caller put back in the queue hears —
//! none on a call of an operator campaign, which runs its own script on the switch.

use std::time::Duration;

use tracing::warn;

use super::{Acd, Meta};
use crate::core::acd::agent::StateName;
use crate::store::acd::Reservation;

/// Whether the call is a person answered by an operator campaign, whose call runs its own
/// script on the switch (a `sleep` that the bridge ends, then the abandon message:
/// `service::opcamp::message`), so nothing is broken or played on it here. A `uuid_break`
/// would end the `sleep` and start the message; music run inside the `sleep` would hold
/// the message back past the 2 s the person may wait, and with it a person nobody takes
/// would hear nothing at all. An offer started from the call's meta knows; one carried on
/// after a lost link or a dead instance looks it up in Redis.
#[derive(Debug, Clone, Copy)]
pub(super) struct OwnScript(Option<bool>);

impl OwnScript {
    pub(super) const UNKNOWN: Self = Self(None);

    pub(super) fn of(meta: &Meta) -> Self {
        Self(Some(meta.campaign.is_some()))
    }

    async fn runs(self, acd: &Acd, call: &str) -> bool {
        if let Some(known) = self.0 {
            return known;
        }
        match acd.inner.store.meta(call).await {
            Ok(Some(m)) => serde_json::from_str::<Meta>(&m).is_ok_and(|m| m.campaign.is_some()),
            _ => false,
        }
    }
}

/// A caller put back in the queue after an offer that came to nothing hears its music
/// again (the `uuid_bridge` that came to nothing may have stopped it).
pub(super) async fn requeued_music(acd: &Acd, call: &str, script: OwnScript) {
    if script.runs(acd, call).await {
        return;
    }
    let link = &acd.inner.link;
    let _ = link.break_all(call).await;
    let _ = link
        .execute(call, "playback", &acd.cfg().music_on_hold)
        .await;
}

pub(super) enum Bridge {
    /// Bridged, recording to this file (None: the switch could not record).
    Done(Option<String>),
    /// Not bridged; the caller requeued or the talk ended.
    Failed,
    /// The link dropped before the switch said.
    LinkLost,
}

/// Records and bridges the caller to the operator who answered.
pub(super) async fn bridge(acd: &Acd, r: &Reservation, leg: &str, script: OwnScript) -> Bridge {
    let store = &acd.inner.store;
    let link = &acd.inner.link;
    // An operator can answer before the caller has reached the ACD's park (it is queued the
    // moment the IVR hands it over): commands sent before then would be lost.
    let parked_by = acd.clock().instant() + Duration::from_secs(5);
    while !store.is_parked(&r.call).await.unwrap_or(true) && acd.clock().instant() < parked_by {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let day = acd.clock().now().format("%Y-%m-%d");
    let recording = format!(
        "{}/{day}-{}.wav",
        acd.inner.config.daemon.recordings_dir.display(),
        r.call
    );
    // `uuid_record start` is an api: the recording runs (or the reply says why not) before
    // the bridge, with no wait on the caller's channel thread. No `uuid_break` before the
    // bridge: `uuid_bridge` itself interrupts what the caller runs (switch_ivr_uuid_bridge:
    // switch_channel_stop_broadcast, then CF_TRANSFER), and a break first would leave the
    // caller in silence should this process die between the two (`make chaos` killed it
    // there once: 3 s of silence until the next instance healed the offer).
    let recording = match link.record_start(&r.call, &recording).await {
        Ok(reply) if reply.starts_with("+OK") => Some(recording),
        Ok(reply) => {
            warn!(call = %r.call, "acd: not recorded to {recording}: {}", reply.trim_end());
            None
        }
        Err(e) => {
            warn!(call = %r.call, "acd: uuid_record {recording}: {e}");
            None
        }
    };
    let bridged = link
        .bridge(&r.call, leg)
        .await
        .map(|b| b.starts_with("+OK"));
    match bridged {
        Ok(true) => return Bridge::Done(recording),
        Err(e) => {
            warn!(call = %r.call, "acd: uuid_bridge not confirmed: {e}");
            return Bridge::LinkLost;
        }
        Ok(false) => {}
    }
    let _ = link
        .hangup(leg, freeswitch_types::HangupCause::NormalClearing)
        .await;
    if matches!(link.exists(&r.call).await, Ok(true)) {
        // The operator hung up as they answered: the caller goes back to the head.
        warn!(call = %r.call, operator = %r.agent, "acd: operator gone before the bridge, caller requeued");
        let queue = store
            .call_info(&r.call)
            .await
            .ok()
            .flatten()
            .map(|i| i.queue);
        if let Some(q) = queue {
            if store
                .bridge_failed(&q, &r.call, &r.agent, acd.now_ms())
                .await
                .unwrap_or(false)
            {
                acd.log_state(&r.agent, StateName::Missed, "", acd.clock().now())
                    .await;
                requeued_music(acd, &r.call, script).await;
                acd.kick();
                return Bridge::Failed;
            }
        }
    }
    warn!(call = %r.call, operator = %r.agent, "acd: bridge failed: {bridged:?}");
    acd.end_talk(&r.call, &r.agent, acd.now_ms()).await;
    Bridge::Failed
}
