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

use super::channels::{operator_leg, switch_channels};
use super::{Acd, AcdError};

/// How long a leg stays unclaimed and unbridged before it is hung up. An answered offer is
/// bridged within milliseconds, and every offer names its leg in Redis before its
/// originate; this covers a hand-over (an attended transfer's last step) in between.
const UNCLAIMED_FOR: Duration = Duration::from_secs(3);

/// The switch's answered outbound legs as the last sweeps saw them.
#[derive(Default)]
pub(super) struct Orphans {
    /// Each leg's operator and the call it was rung for (None: not an operator's leg),
    /// read from the switch once per leg.
    known: HashMap<String, Option<(String, String)>>,
    /// The legs seen unclaimed, with when each was first seen so.
    seen: HashMap<String, tokio::time::Instant>,
}

impl Orphans {
    /// Looks at the switch's answered outbound legs once; hangs up the operator legs
    /// unclaimed for [`UNCLAIMED_FOR`]. Returns how many.
    pub(super) async fn sweep(&mut self, acd: &Acd) -> Result<usize, AcdError> {
        let link = &acd.inner.link;
        let now = acd.clock().instant();
        let mut known = HashMap::new();
        let mut seen = HashMap::new();
        let mut hung_up = 0;
        for ch in switch_channels(acd).await? {
            if ch.direction != "outbound" || !ch.answered {
                continue;
            }
            let whose = match self.known.remove(&ch.uuid) {
                Some(w) => w,
                None => operator_leg(acd, &ch.uuid)
                    .await?
                    .map(|(op, call)| (op, call.unwrap_or_default())),
            };
            known.insert(ch.uuid.clone(), whose.clone());
            let Some((op, call)) = whose else {
                continue; // not an operator's leg
            };
            if link.bridged(&ch.uuid).await || claimed(acd, &call, &op, &ch.uuid).await? {
                continue;
            }
            let first = self.seen.get(&ch.uuid).copied().unwrap_or(now);
            if now.duration_since(first) < UNCLAIMED_FOR {
                seen.insert(ch.uuid.clone(), first);
                continue;
            }
            warn!(leg = %ch.uuid, operator = %op, %call, "acd: operator leg no offer carries on, not bridged: hung up");
            let _ = link
                .hangup(&ch.uuid, freeswitch_types::HangupCause::NormalClearing)
                .await;
            hung_up += 1;
        }
        self.known = known;
        self.seen = seen;
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
