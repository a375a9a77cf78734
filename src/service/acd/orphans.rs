//! Operator legs nobody carries on: a phone answered for an offer that is over (missed,
//! withdrawn, taken over, its call gone) and was never hung up — a cancel that reached the
//! switch before the leg existed, an instance killed between the answer and the hang-up.
//! The operator would sit in its music for good while the ACD offers them the next call.
//! An offer in progress is known in Redis (the call offered to that operator, with that
//! leg), and `rebuild::heal` carries on one whose instance died; a leg that no offer names
//! and that is not bridged, seen so twice some seconds apart, is hung up.

use std::collections::HashMap;
use std::time::Duration;

use tracing::warn;

use super::channels::switch_channels;
use super::{Acd, AcdError};

/// How long a leg stays unclaimed and unbridged before it is hung up. An answered offer is
/// bridged within milliseconds; this covers an offer being handed over between instances.
const UNCLAIMED_FOR: Duration = Duration::from_secs(8);

/// The legs seen unclaimed at the last sweeps, with when each was first seen so.
#[derive(Default)]
pub(super) struct Orphans {
    seen: HashMap<String, tokio::time::Instant>,
}

impl Orphans {
    /// Looks at the switch's answered outbound legs once; hangs up those unclaimed for
    /// [`UNCLAIMED_FOR`]. Returns how many.
    pub(super) async fn sweep(&mut self, acd: &Acd) -> Result<usize, AcdError> {
        let link = &acd.inner.link;
        let now = acd.clock().instant();
        let mut still = HashMap::new();
        let mut hung_up = 0;
        let switch = |e: crate::esl::control::LinkError| AcdError::Switch(e.to_string());
        for ch in switch_channels(acd).await? {
            if ch.direction != "outbound" || !ch.answered {
                continue;
            }
            let Some(op) = link
                .getvar(&ch.uuid, "contactd_operator")
                .await
                .map_err(switch)?
            else {
                continue; // not an operator's leg
            };
            let call = link
                .getvar(&ch.uuid, "contactd_acd_call")
                .await
                .map_err(switch)?
                .unwrap_or_default();
            if link.bridged(&ch.uuid).await || claimed(acd, &call, &op, &ch.uuid).await? {
                continue;
            }
            let first = self.seen.get(&ch.uuid).copied().unwrap_or(now);
            if now.duration_since(first) < UNCLAIMED_FOR {
                still.insert(ch.uuid.clone(), first);
                continue;
            }
            warn!(leg = %ch.uuid, operator = %op, %call, "acd: operator leg no offer carries on, not bridged: hung up");
            let _ = link
                .hangup(&ch.uuid, freeswitch_types::HangupCause::NormalClearing)
                .await;
            hung_up += 1;
        }
        self.seen = still;
        Ok(hung_up)
    }
}

/// Whether an offer in progress names this leg: `call` offered to `op` with `leg` (an
/// offer's own reservation and leg, or a talk a rebuild put back from the switch).
async fn claimed(acd: &Acd, call: &str, op: &str, leg: &str) -> Result<bool, AcdError> {
    if call.is_empty() {
        return Ok(false);
    }
    let store = &acd.inner.store;
    Ok(store.offered_to(call).await?.as_deref() == Some(op)
        && store.leg(call).await?.as_deref() == Some(leg))
}
