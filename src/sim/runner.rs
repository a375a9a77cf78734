//! A channel's session task: runs its application list (dialplan or `&app`),
//! handles transfers (into the configured contexts, the built-in `trace` and
//! `contactd-acd`, or a subscriber's behaviour), uuid_bridge requests, CS_PARK after a
//! bridge, then hangs up and runs the reporting / destroy sequence. Also the phantom far
//! end of single-leg endpoints (FreeTDM, SIP gateway, user/): the behaviour's apps act
//! directly on the A-leg.

use super::apps::{park_state, run_app};
use super::channel::Cs;
use super::dialplan::{self, Apps};
use super::session::Sess;

fn new_app_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Resolve an extension in a context to apps (None: no route).
pub fn resolve(sess: &Sess, ext: &str, ctx: &str) -> Option<Apps> {
    // mod_dptools' inline dialplan: the "extension" is the applications themselves
    if sess.with(|s| s.caller.dialplan == "inline") {
        return Some(super::origparse::inline_apps(ext));
    }
    if ctx == dialplan::CONTACTD_RECONNECT {
        // `$${contactd_socket}` is a global of the switch's config; the simulator keeps the
        // one the call was started with
        if let Some(socket) = sess.with(|s| s.reconnect_socket.clone()) {
            return Some(dialplan::contactd_reconnect(ext, &socket));
        }
    }
    dialplan::route(&sess.core.cfg, ext, ctx)
}

/// switch_ivr_session_transfer: a new caller profile (destination, dialplan and
/// context; a missing dialplan / context keeps the current one), Caller-RDNIS,
/// `Caller-Transfer-Source: <epoch>:<uuid>:bl_xfer:<ext>/<context>/<dialplan>`; the
/// running application stops and the session task routes the new extension. A
/// bridge this leg is in ends (its other leg is left to itself).
pub fn transfer(sess: &Sess, ext: &str, dp: Option<&str>, ctx: Option<&str>) {
    super::bridge::leave_bridge(sess, None);
    let now = sess.core.now_us();
    sess.modify(|st| {
        let dp = dp
            .map(str::to_string)
            .unwrap_or_else(|| st.caller.dialplan.clone());
        let ctx = ctx
            .map(str::to_string)
            .unwrap_or_else(|| st.caller.context.clone());
        st.caller.transfer_source = format!(
            "{}:{}:bl_xfer:{ext}/{ctx}/{dp}",
            now / 1_000_000,
            uuid::Uuid::new_v4()
        );
        st.caller.rdnis = st.caller.dest.clone();
        st.caller.dest = ext.to_string();
        st.caller.context = ctx.clone();
        st.caller.dialplan = dp;
        st.caller.profile_index = st.caller.profile_index.max(1) + 1;
        st.transfer = Some((ext.to_string(), ctx));
    });
    let (uuid, to) = sess.with(|s| (s.uuid.clone(), format!("{ext}@{}", s.caller.context)));
    sess.core.truth_if(&uuid, |r| r.transfers.push(to));
}

/// Run apps then hang up (NORMAL_CLEARING if nothing else did) and report.
pub async fn run_channel(sess: Sess, apps: Apps) {
    if sess.with(|s| s.running != Cs::Execute) && !sess.hungup() {
        sess.set_running(Cs::Execute);
    }
    let mut apps: std::collections::VecDeque<(String, String)> = apps.into_iter().collect();
    'run: loop {
        // What the last application (or an api command) left to do.
        loop {
            if sess.hungup() {
                break 'run;
            }
            if let Some((ext, ctx)) = sess.modify(|s| s.transfer.take()) {
                sess.modify(|s| {
                    s.brk = false;
                    s.park_req = false;
                });
                // switch_ivr_session_transfer: back to CS_ROUTING, then CS_EXECUTE
                sess.set_running(Cs::Routing);
                sess.set_running(Cs::Execute);
                match resolve(&sess, &ext, &ctx) {
                    Some(n) => apps = n.into_iter().collect(),
                    None => {
                        sess.hangup("NO_ROUTE_DESTINATION", "switch");
                        break 'run;
                    }
                }
                continue;
            }
            if let Some(other) = sess.modify(|s| s.bridge_req.take()) {
                super::bridge::bridged_wait(&sess, &other).await;
                continue;
            }
            if sess.modify(|s| std::mem::take(&mut s.park_req)) {
                // CS_PARK replaces CS_EXECUTE: the rest of the extension is not run
                apps.clear();
                park_state(&sess).await;
                continue;
            }
            break;
        }
        let Some((app, arg)) = apps.pop_front() else {
            break;
        };
        if app == "socket" {
            super::outbound::socket_app(&sess, &arg).await;
            continue;
        }
        run_app(&sess, &app, &arg, &new_app_uuid()).await;
    }
    if !sess.hungup() {
        let by = if sess.with(|s| s.far_end) {
            "party"
        } else {
            "switch"
        };
        sess.hangup("NORMAL_CLEARING", by);
    }
    sess.report(true);
}

/// Phantom far end acting on the A-leg `a` (no channel of its own).
pub async fn run_phantom(a: Sess, apps: Apps) {
    for (app, arg) in apps {
        if a.hungup() {
            return;
        }
        match app.as_str() {
            "ring_ready" => {
                a.mark_progress();
                a.set_callstate("RINGING");
            }
            "sleep" => {
                let ms = arg.parse::<u64>().unwrap_or(0);
                a.wait_until(Some(ms), |s| s.is_hungup()).await;
            }
            "answer" if a.mark_answered() => {
                a.modify(|s| s.set_var("endpoint_disposition", "ANSWER"));
            }
            "answer" => {}
            "pre_answer" => super::amd::early_media(&a),
            "hangup" => {
                let c = if arg.is_empty() {
                    "NORMAL_CLEARING"
                } else {
                    &arg
                };
                a.hangup(c, "party");
                return;
            }
            "send_dtmf" => a.deliver_dtmf(&arg, 2000, true),
            "park" => {
                a.wait_until(None, |s| s.is_hungup()).await;
            }
            "playback" => {
                // the far end speaks (heard by a `record` on the A-leg)
                let len = super::media::open(&a.core.cfg, &a.core.cfg.sounds_dir, &arg);
                let ms = match len {
                    Some(super::media::Length::Ms(ms)) => Some(ms),
                    Some(super::media::Length::Endless) => None,
                    None => continue,
                };
                a.modify(|s| s.far_speaking = true);
                a.wait_until(ms, |s| s.is_hungup()).await;
                a.modify(|s| s.far_speaking = false);
            }
            _ => {}
        }
    }
}
