//! A consult nobody follows any more — its process died, or the reply to its target's
//! originate was lost with the link — carried on from what the switch shows.

use std::time::Duration;

use tracing::{info, warn};

use super::{answered, Consult, Watches};
use crate::service::acd::channels::switch_channels;
use crate::service::acd::offer::{missed, wait_ringing, Ringing};
use crate::service::acd::{Acd, Meta};
use crate::store::acd::Reservation;

/// Carries on a consult item's offer (its reservation `r`, the target's leg b), looked up
/// with the first operator's leg a:
/// - b gone: a phone that never answered is a missed offer; an answered one means the
///   target left: the caller back to the first operator;
/// - b ringing: its answer waited for, then [`answered`];
/// - b answered but not yet talking per Redis: [`answered`] (the answer noted, the bridge);
/// - talking, a gone: the first operator left unseen, the transfer is completed; a and b
///   bridged: the consult followed; else the consult bridge, never made, is sent.
pub(in crate::service::acd) async fn take_over(
    acd: &Acd,
    queue: &str,
    r: &Reservation,
    leg_b: &str,
    talking: bool,
    meta: &Meta,
) {
    let Some(c) = Consult::of(acd, r, leg_b, meta, queue) else {
        return;
    };
    let link = &acd.inner.link;
    let mut w = c.watches();
    let chans = match switch_channels(acd).await {
        Ok(x) => x,
        Err(e) => {
            warn!(call = %c.call, item = %r.call, "acd: consult not looked up: {e}");
            return;
        }
    };
    let a_there = chans.iter().any(|x| x.uuid == c.leg_a);
    let b = chans.iter().find(|x| x.uuid == leg_b);
    info!(call = %c.call, item = %r.call, operator = %r.agent, talking, a_there, b_there = b.is_some(), "acd: consult taken over");
    match b {
        None if talking => c.finish(false).await,
        None => missed(acd, queue, r, "ENDED_UNSEEN").await,
        Some(b) if !b.answered && !talking => {
            let Watches { b: watch_b, .. } = w;
            match wait_ringing(acd, watch_b, leg_b).await {
                Ringing::Answered => answered(acd, r, leg_b, meta, queue).await,
                Ringing::Ended => missed(acd, queue, r, "NO_ANSWER").await,
                Ringing::LinkLost => {
                    if link.wait_connected(Duration::from_secs(30)).await {
                        Box::pin(take_over(acd, queue, r, leg_b, talking, meta)).await;
                    }
                    // else: the switch is away; `rebuild::heal` takes the offer over later
                }
            }
        }
        Some(_) if !talking => {
            drop(w);
            answered(acd, r, leg_b, meta, queue).await
        }
        Some(_) if !a_there => c.finish(true).await,
        Some(_) => {
            let with = link.getvar(leg_b, "bridge_uuid").await;
            if matches!(&with, Ok(Some(u)) if *u == c.leg_a) {
                let first_left = c.follow(&mut w).await;
                c.finish(first_left).await;
            } else {
                c.bridge_and_follow(w).await;
            }
        }
    }
}
