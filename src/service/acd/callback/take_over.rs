//! A callback nobody follows any more — its process died, or the reply to its operator's
//! originate was lost with the link — carried on from what the switch shows.

use std::time::Duration;

use freeswitch_types::HangupCause;
use tracing::{info, warn};

use super::{connect, customer_looked_up};
use crate::service::acd::bridging::OwnScript;
use crate::service::acd::channels::switch_channels;
use crate::service::acd::offer::{answered, missed, wait_ringing, Ringing};
use crate::service::acd::{Acd, Meta};
use crate::store::acd::Reservation;

/// Carries on a callback's offer (its call is the customer's, dialed only once the operator
/// answers), looked up on the switch:
/// - the operator's phone not answered yet: gone, a missed offer; ringing, its answer waited
///   for; answered, the customer dialed as on an answer seen;
/// - the operator answered: the customer's call followed (answered, or still ringing) and
///   bridged to them; a customer never reached, or an operator gone, puts the callback back.
pub(in crate::service::acd) async fn take_over(
    acd: &Acd,
    queue: &str,
    r: &Reservation,
    leg: &str,
    talking: bool,
    meta: Meta,
) {
    let Some(id) = meta.callback else {
        return;
    };
    let link = &acd.inner.link;
    let watch = link.watch_call(leg);
    let op = match switch_channels(acd).await {
        Ok(chans) => chans.into_iter().find(|c| c.uuid == leg),
        Err(e) => {
            warn!(callback = id, "acd: callback not looked up: {e}");
            return;
        }
    };
    info!(callback = id, operator = %r.agent, talking, operator_leg = op.is_some(), "acd: callback taken over");
    if !talking {
        match op {
            None => missed(acd, queue, r, "ENDED_UNSEEN").await,
            Some(o) if o.answered => {
                answered(acd, r, leg, true, None, false, OwnScript::UNKNOWN).await
            }
            Some(_) => match wait_ringing(acd, watch, leg).await {
                Ringing::Answered => {
                    answered(acd, r, leg, true, None, false, OwnScript::UNKNOWN).await
                }
                Ringing::Ended => missed(acd, queue, r, "NO_ANSWER").await,
                Ringing::LinkLost => {
                    if link.wait_connected(Duration::from_secs(30)).await {
                        Box::pin(take_over(acd, queue, r, leg, talking, meta)).await;
                    }
                    // else: the switch is away; `rebuild::heal` takes the offer over later
                }
            },
        }
        return;
    }
    drop(watch);
    let result = if op.is_some() {
        // dialed (ringing, answered into the park, or already bridged) or never: looked up
        customer_looked_up(acd, &r.call).await
    } else {
        // the operator left while nobody watched: a customer reached meanwhile is of no use
        let _ = link.kill(&r.call, HangupCause::NormalClearing).await;
        Err("the operator's leg ended unseen".to_string())
    };
    connect(acd, r, leg, meta, id, result).await;
}
