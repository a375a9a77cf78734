//! Bridging: the `bridge` application (originates a B-leg to user/, freetdm/,
//! sofia/ or loopback/ and bridges it; the caller continues its dialplan when
//! the B-leg hangs up, as with hangup_after_bridge=false) and `uuid_bridge`
//! (both parked legs leave park, CHANNEL_BRIDGE, and one hangup ends both).

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

/// The `uuid_bridge` pseudo application run by both legs after leaving park.
pub async fn bridged_wait(sess: &Sess, other: &str) {
    let id = uuid::Uuid::new_v4().to_string();
    sess.modify(|s| {
        s.set_var("current_application", "uuid_bridge");
    });
    sess.fire(
        "CHANNEL_EXECUTE",
        ("switch_core_session.c", "switch_core_session_exec", 2944),
        Vars::Yes,
        &[],
        &[
            ("Application", "uuid_bridge".to_string()),
            ("Application-UUID", id),
        ],
    );
    let me = sess.uuid();
    if me.as_str() < other {
        bridge_events(sess, other);
    }
    sess.wait_until(None, |s| s.is_hungup()).await;
    let a = if me.as_str() < other {
        me.clone()
    } else {
        other.to_string()
    };
    let b = if me.as_str() < other {
        other.to_string()
    } else {
        me.clone()
    };
    if me == a {
        sess.fire(
            "CHANNEL_UNBRIDGE",
            (
                "switch_ivr_bridge.c",
                "switch_ivr_multi_threaded_bridge",
                1813,
            ),
            Vars::Yes,
            &[("Bridge-A-Unique-ID", a), ("Bridge-B-Unique-ID", b)],
            &[],
        );
    }
}
