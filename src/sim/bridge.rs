//! Bridging: the `bridge` application (originates a B-leg to user/, freetdm/,
//! sofia/ or loopback/ and bridges it) and `uuid_bridge` (both legs leave what they
//! were doing, CHANNEL_BRIDGE on the A side). What a surviving leg does when its
//! bridge ends follows switch_ivr_bridge.c:
//!
//! * the originator (the caller of `bridge`, the first uuid of `uuid_bridge`), end
//!   of switch_ivr_multi_threaded_bridge: CHANNEL_UNBRIDGE; then, if the other leg
//!   had answered, `park_after_bridge=true` parks it (CS_PARK), else
//!   `transfer_after_bridge=<ext>[:<dialplan>[:<context>]]` transfers it, else
//!   `hangup_after_bridge=true` hangs it up with the other leg's cause; otherwise
//!   it goes on with its extension (uuid_bridge: back to CS_EXECUTE, and with
//!   nothing left to run its session hangs it up NORMAL_CLEARING);
//! * the originatee (second uuid of `uuid_bridge`), audio_bridge_on_exchange_media:
//!   `park_after_bridge=true` parks it, `transfer_after_bridge` transfers it, else
//!   it is hung up NORMAL_CLEARING (ORIGINATOR_CANCEL if it never answered).
//!
//! A bridge ends when the other leg hangs up, or when it is taken away: `uuid_bridge`
//! of one of its legs with a third channel, or a transfer (both set CF_TRANSFER on
//! the leg taken away, whose bridge ends cleanly; the leg left behind is handled as
//! above, e.g. an operator leg originated with `&park()` is hung up NORMAL_CLEARING).

use super::channel::{ChanState, Cs};
use super::core::lock;
use super::originate::{originate, After};
use super::session::{Sess, Vars};

const UNBRIDGE: (&str, &str, u32) = (
    "switch_ivr_bridge.c",
    "switch_ivr_multi_threaded_bridge",
    1879,
);

/// Ground truth: the party on `leg` is now bridged to `other`.
fn note_bridged(leg: &Sess, other: &str) {
    let uuid = leg.uuid();
    leg.core
        .truth_if(&uuid, |r| r.bridged_to.push(other.to_string()));
}

fn bridge_events(a: &Sess, b_uuid: &str) {
    let now = a.core.now_us();
    a.modify(|s| {
        s.caller.bridged_us = now;
        s.set_var("bridge_uuid", b_uuid);
    });
    let me = a.uuid();
    // switch_ivr_multi_threaded_bridge names each leg's peer on both channels
    if let Some(b) = a.core.chan(b_uuid) {
        lock(&b.st).set_var("bridge_uuid", &me);
    }
    a.fire(
        "CHANNEL_BRIDGE",
        (
            "switch_ivr_bridge.c",
            "switch_ivr_multi_threaded_bridge",
            1723,
        ),
        Vars::Yes,
        &[
            ("Bridge-A-Unique-ID", me),
            ("Bridge-B-Unique-ID", b_uuid.to_string()),
        ],
        &[],
    );
}

/// CHANNEL_UNBRIDGE on the originator, with the Other-Leg block of the leg it was
/// bridged to (even if a new `uuid_bridge` already named another one).
fn unbridge_event(a: &Sess, other: &str) {
    let st: ChanState = {
        let mut st = lock(&a.ch.st).clone();
        if st.bridged_to.as_deref() != Some(other) {
            st.bridged_to = Some(other.to_string());
            st.other_snap = None;
        }
        st
    };
    let ev = a.event_from(
        &st,
        "CHANNEL_UNBRIDGE",
        UNBRIDGE,
        Vars::Yes,
        &[
            ("Bridge-A-Unique-ID", st.uuid.clone()),
            ("Bridge-B-Unique-ID", other.to_string()),
        ],
        &[],
    );
    a.core.fire(ev);
}

/// Take `leg` out of the bridge it is in (uuid_bridge with a third channel,
/// transfer): the leg it was bridged to, unless it is `keep`, sees its bridge end.
pub fn leave_bridge(leg: &Sess, keep: Option<&str>) {
    let me = leg.uuid();
    let Some(peer) = leg.modify(|s| s.bridge_peer.take()) else {
        return;
    };
    if keep == Some(peer.as_str()) {
        return;
    }
    if let Some(ch) = leg.core.chan(&peer) {
        let snap = leg.with(|s| {
            let mut c = s.clone();
            c.other_snap = None;
            c.bridge_profile = None;
            Box::new(c)
        });
        Sess::new(leg.core.clone(), ch).modify(|s| {
            if s.bridge_peer.as_deref() == Some(me.as_str()) {
                s.peer_gone = true;
                s.other_snap = Some(snap);
            }
        });
    }
}

/// switch_true on a channel variable.
pub(super) fn true_var(s: &ChanState, k: &str) -> bool {
    s.var(k).is_some_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "yes" | "on" | "1" | "enabled" | "active" | "allow"
        )
    })
}

/// `transfer_after_bridge=<ext>[:<dialplan>[:<context>]]` (transfer_after_bridge()).
fn transfer_after(sess: &Sess) -> bool {
    let Some(v) = sess.modify(|s| {
        let v = s.var("transfer_after_bridge").map(str::to_string);
        s.set_var("transfer_after_bridge", "");
        v
    }) else {
        return false;
    };
    let p: Vec<&str> = v.split(':').collect();
    if p[0].is_empty() {
        return false;
    }
    super::runner::transfer(sess, p[0], p.get(1).copied(), p.get(2).copied());
    true
}

/// What the surviving leg does once its bridge with `other` is over (module doc).
/// `peer_answered` / `peer_cause`: the other leg's state when the bridge ended.
fn after_bridge(sess: &Sess, originator: bool, peer_answered: bool, peer_cause: Option<String>) {
    if sess.hungup() {
        return;
    }
    let park = sess.with(|s| true_var(s, "park_after_bridge"));
    if originator {
        if peer_answered {
            if park {
                sess.modify(|s| s.park_req = true);
                return;
            }
            if transfer_after(sess) {
                return;
            }
            if sess.with(|s| true_var(s, "hangup_after_bridge")) {
                let cause = peer_cause.unwrap_or_else(|| "NORMAL_CLEARING".into());
                sess.hangup(&cause, "switch");
            }
        }
        return;
    }
    if park {
        sess.modify(|s| s.park_req = true);
    } else if !transfer_after(sess) {
        let cause = if sess.answered() {
            "NORMAL_CLEARING"
        } else {
            "ORIGINATOR_CANCEL"
        };
        sess.hangup(cause, "switch");
    }
}

/// The other leg as the bridge left it: answered?, hangup cause.
fn peer_state(sess: &Sess, other: &str) -> (bool, Option<String>) {
    if let Some(ch) = sess.core.chan(other) {
        let s = lock(&ch.st);
        if s.uuid == other {
            return (s.caller.answered_us > 0, s.hangup_cause.clone());
        }
    }
    sess.with(|s| {
        s.other_snap
            .as_ref()
            .filter(|o| o.uuid == other)
            .map(|o| (o.caller.answered_us > 0, o.hangup_cause.clone()))
            .unwrap_or((true, None))
    })
}

/// `bridge <dialstring>`.
pub async fn bridge_app(sess: &Sess, arg: &str) -> Option<String> {
    // the caller hears ringback while the other leg rings only if `ringback` is set
    let ringback = sess.with(|s| s.var("ringback").is_some_and(|v| !v.is_empty()));
    if ringback {
        super::apps::media_begin(sess);
    }
    // boxed: originate is a large future, kept off the stack of the app chain
    let (res, after) = Box::pin(originate(&sess.core, &format!("{arg} &park()"))).await;
    if ringback {
        super::apps::media_end(sess);
    }
    let b = match (res.starts_with("+OK"), after) {
        (true, After::Run(b, _)) => b,
        (_, after) => {
            after.start();
            let cause = res.trim().trim_start_matches("-ERR ").to_string();
            sess.modify(|s| s.set_var("originate_disposition", &cause));
            return Some(cause);
        }
    };
    let b_uuid = b.uuid();
    let a_uuid = sess.uuid();
    b.modify(|s| {
        s.bridged_to = Some(a_uuid.clone());
        s.bridge_peer = Some(a_uuid.clone());
        s.other_type = "originator";
    });
    sess.modify(|s| {
        s.set_var("bridge_to", &b_uuid);
        s.bridged_to = Some(b_uuid.clone());
        s.bridge_peer = Some(b_uuid.clone());
        s.other_type = "originatee";
        s.peer_gone = false;
    });
    if !sess.answered() {
        super::apps::answer(sess);
    }
    note_bridged(sess, &b_uuid);
    note_bridged(&b, &a_uuid);
    bridge_events(sess, &b_uuid);
    // the B-leg sits in CS_EXCHANGE_MEDIA until it hangs up
    let b2 = b.clone();
    tokio::spawn(async move {
        b2.set_running(Cs::Execute);
        b2.wait_until(None, |s| s.is_hungup()).await;
        b2.report(true);
    });
    sess.wait_until(None, |s| {
        s.is_hungup() || s.peer_gone || s.transfer.is_some() || s.bridge_req.is_some()
    })
    .await;
    let a_gone = sess.with(|s| s.is_hungup() || s.transfer.is_some() || s.bridge_req.is_some());
    sess.modify(|s| {
        if s.bridge_peer.as_deref() == Some(b_uuid.as_str()) {
            s.bridge_peer = None;
        }
        s.peer_gone = false;
    });
    if a_gone && !b.hungup() {
        // the caller hung up or was taken away: the B-leg's bridge ends and
        // audio_bridge_on_exchange_media hangs it up (the simulator does not run
        // park_after_bridge on a `bridge` B-leg)
        b.modify(|s| s.bridge_peer = None);
        let cause = if b.answered() {
            "NORMAL_CLEARING"
        } else {
            "ORIGINATOR_CANCEL"
        };
        b.hangup(cause, "switch");
    }
    unbridge_event(sess, &b_uuid);
    if !a_gone {
        let (answered, cause) = peer_state(sess, &b_uuid);
        after_bridge(sess, true, answered, cause);
    }
    None
}

/// What `uuid_bridge` does to each leg once it has left park (switch_ivr_bridge.c,
/// uuid_bridge_on_soft_execute): CS_HIBERNATE, CS_RESET, CS_SOFT_EXECUTE, then
/// CHANNEL_EXECUTE `uuid_bridge <other>`; the A side (first uuid) fires
/// CHANNEL_BRIDGE and runs the bridge in CS_SOFT_EXECUTE, the B side waits in
/// CS_EXCHANGE_MEDIA. When the bridge ends the A side fires CHANNEL_UNBRIDGE (before
/// its own hangup if it goes down too); a surviving leg then does what the module
/// doc says (park_after_bridge, back to CS_EXECUTE, hangup...). A leg taken into a
/// new bridge or transferred just leaves (its session task goes on from there).
pub async fn bridged_wait(sess: &Sess, other: &str) {
    let a_side = sess.with(|s| s.other_type == "originatee");
    if sess.hungup() {
        return;
    }
    for cs in [Cs::Hibernate, Cs::Reset, Cs::SoftExecute] {
        sess.set_running(cs);
    }
    if sess.wait_until(Some(20), |s| s.is_hungup()).await {
        return; // hung up before the bridge started
    }
    if let Some(ch) = sess.core.chan(other) {
        let snap = {
            let mut c = lock(&ch.st).clone();
            c.other_snap = None;
            c.bridge_profile = None;
            Box::new(c)
        };
        sess.modify(|s| {
            if s.other_snap.is_none() {
                s.other_snap = Some(snap);
            }
        });
    }
    sess.modify(|s| {
        s.set_var("current_application", "uuid_bridge");
        s.set_var("current_application_data", other);
    });
    note_bridged(sess, other);
    let line = if a_side { 1236 } else { 1243 };
    sess.fire(
        "CHANNEL_EXECUTE",
        ("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", line),
        Vars::Yes,
        &[],
        &[
            ("Application", "uuid_bridge".to_string()),
            ("Application-Data", other.to_string()),
        ],
    );
    if a_side {
        bridge_events(sess, other);
    } else {
        sess.set_running(Cs::ExchangeMedia);
    }
    sess.wait_until(None, |s| {
        s.is_hungup() || s.peer_gone || s.bridge_req.is_some() || s.transfer.is_some()
    })
    .await;
    let moved = sess.with(|s| s.bridge_req.is_some() || s.transfer.is_some());
    sess.modify(|s| {
        // uuid_bridge of the same two legs again: they leave this bridge for a new one
        // between them (switch_ivr_uuid_bridge), so the peer it named stays
        let again = s.bridge_req.as_deref() == Some(other);
        if s.bridge_peer.as_deref() == Some(other) && !again {
            s.bridge_peer = None;
        }
        s.peer_gone = false;
    });
    if a_side {
        unbridge_event(sess, other);
    }
    if sess.hungup() || moved {
        return;
    }
    let (answered, cause) = peer_state(sess, other);
    after_bridge(sess, a_side, answered, cause);
    if a_side && !sess.hungup() && !sess.with(|s| s.park_req || s.transfer.is_some()) {
        sess.set_running(Cs::Execute);
    }
}
