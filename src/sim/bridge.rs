//! Bridging: the `bridge` application (originates a B-leg to user/, freetdm/,
//! sofia/ or loopback/ and bridges it; the caller continues its dialplan when
//! the B-leg hangs up, as with hangup_after_bridge=false) and `uuid_bridge`
//! (both parked legs leave park, CHANNEL_BRIDGE, and one hangup ends both).

use super::channel::Cs;
use super::core::lock;
use super::originate::{originate, After};
use super::session::{Sess, Vars};

fn bridge_events(a: &Sess, b_uuid: &str) {
    let now = a.core.now_us();
    a.modify(|s| {
        s.caller.bridged_us = now;
        s.set_var("bridge_uuid", b_uuid);
    });
    let me = a.uuid();
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

/// `bridge <dialstring>`.
pub async fn bridge_app(sess: &Sess, arg: &str) -> Option<String> {
    let (res, after) = originate(&sess.core, &format!("{arg} &park()")).await;
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
    b.modify(|s| s.bridged_to = Some(a_uuid.clone()));
    sess.modify(|s| s.set_var("bridge_to", &b_uuid));
    if !sess.answered() {
        super::apps::answer(sess);
    }
    bridge_events(sess, &b_uuid);
    let b2 = b.clone();
    tokio::spawn(async move {
        b2.set_running(super::channel::Cs::Execute);
        b2.wait_until(None, |s| s.is_hungup()).await;
        b2.report(true);
    });
    let bw = b.clone();
    let a_hung = sess.clone();
    let watcher = tokio::spawn(async move {
        a_hung.wait_until(None, |s| s.is_hungup()).await;
        bw.hangup(
            &a_hung.with(|s| s.hangup_cause.clone().unwrap_or_default()),
            "switch",
        );
    });
    b.wait_until(None, |s| s.is_hungup()).await;
    watcher.abort();
    sess.modify(|s| s.bridged_to = None);
    sess.fire(
        "CHANNEL_UNBRIDGE",
        (
            "switch_ivr_bridge.c",
            "switch_ivr_multi_threaded_bridge",
            1813,
        ),
        Vars::Yes,
        &[
            ("Bridge-A-Unique-ID", a_uuid),
            ("Bridge-B-Unique-ID", b_uuid),
        ],
        &[],
    );
    None
}

/// What `uuid_bridge` does to each leg once it has left park (switch_ivr_bridge.c,
/// uuid_bridge_on_soft_execute): CS_HIBERNATE, CS_RESET, CS_SOFT_EXECUTE, then
/// CHANNEL_EXECUTE `uuid_bridge <other>`; the A side (first uuid) fires
/// CHANNEL_BRIDGE and runs the bridge in CS_SOFT_EXECUTE, the B side waits in
/// CS_EXCHANGE_MEDIA. When one leg hangs up, the A side fires CHANNEL_UNBRIDGE
/// (before its own hangup if it survives); the survivor returns to CS_EXECUTE and,
/// with nothing left to run, is hung up by its session.
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
    let me = sess.uuid();
    if a_side {
        bridge_events(sess, other);
    } else {
        sess.set_running(Cs::ExchangeMedia);
    }
    sess.wait_until(None, |s| s.is_hungup() || s.peer_gone)
        .await;
    if a_side {
        sess.fire(
            "CHANNEL_UNBRIDGE",
            (
                "switch_ivr_bridge.c",
                "switch_ivr_multi_threaded_bridge",
                1879,
            ),
            Vars::Yes,
            &[
                ("Bridge-A-Unique-ID", me),
                ("Bridge-B-Unique-ID", other.to_string()),
            ],
            &[],
        );
    }
    if !sess.hungup() {
        sess.set_running(Cs::Execute);
    }
}
