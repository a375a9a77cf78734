//! Dialplan applications run by a channel's session: answer, pre_answer,
//! ring_ready, sleep, playback, park, hangup, send_dtmf, play_and_get_digits,
//! record, record_session, say, set/export, bridge, transfer, respond, sched_broadcast,
//! sched_cancel. Each runs
//! between CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE and is interrupted by
//! hangup / break (uuid_break: CF_BREAK) / transfer / uuid_bridge.

use std::future::Future;
use std::pin::Pin;

use super::channel::{ChanMsg, ChanState};
use super::parsed::{fire_broadcast_command, fire_private_command};
use super::session::{Sess, Vars};

const EXEC: (&str, &str, u32) = ("switch_core_session.c", "switch_core_session_exec", 2944);
const EXEC_DONE: (&str, &str, u32) = ("switch_core_session.c", "switch_core_session_exec", 2967);

/// Does the running application have to stop (hangup, uuid_break, transfer, uuid_bridge)?
pub fn stop_cond(s: &ChanState) -> bool {
    s.is_hungup() || s.brk || s.transfer.is_some() || s.bridge_req.is_some()
}

/// Run one application with its EXECUTE / EXECUTE_COMPLETE events.
pub fn run_app<'a>(
    sess: &'a Sess,
    app: &'a str,
    arg: &'a str,
    app_uuid: &'a str,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        if !is_known(app) {
            sess.hangup("DESTINATION_OUT_OF_ORDER", "switch");
            return;
        }
        // switch_core_session_exec expands `${var}` from the channel's variables when the
        // application runs (not when it was queued); events show the expanded data
        let expanded = sess.with(|s| s.expand(arg));
        let arg = expanded.as_str();
        let uuid_name = sess.modify(|s| {
            let n = s.var("app_uuid_name").map(str::to_string);
            s.set_var("app_uuid_name", "");
            n
        });
        sess.modify(|s| {
            s.set_var("current_application", app);
            s.set_var("current_application_data", arg);
            // ...and clears the previous application's response (after expanding the data,
            // so `${current_application_response}` there is the previous app's)
            s.set_var("current_application_response", "");
            s.cur_app = Some(app.to_string());
            s.prompt_seq += 1;
            // switch_core_session_exec clears the response variable before an
            // application runs: park/socket report what the apps run *inside*
            // them set (e.g. FILE PLAYED), else _none_
            s.last_response = "_none_".to_string();
        });
        let mut post = vec![("Application", app.to_string())];
        if !arg.is_empty() {
            post.push(("Application-Data", arg.to_string()));
        }
        post.push(("Application-UUID", app_uuid.to_string()));
        if let Some(n) = &uuid_name {
            post.push(("Application-UUID-Name", n.clone()));
        }
        sess.fire("CHANNEL_EXECUTE", EXEC, Vars::Yes, &[], &post);
        let resp = body(sess, app, arg).await;
        let resp = match resp {
            Some(r) => {
                sess.modify(|s| {
                    s.last_response = r.clone();
                    s.set_var("current_application_response", &r);
                });
                r
            }
            None => "_none_".to_string(),
        };
        sess.modify(|s| s.cur_app = None);
        let mut post = vec![("Application", app.to_string())];
        if !arg.is_empty() {
            post.push(("Application-Data", arg.to_string()));
        }
        post.push(("Application-Response", resp));
        post.push(("Application-UUID", app_uuid.to_string()));
        if let Some(n) = uuid_name {
            post.push(("Application-UUID-Name", n));
        }
        sess.fire("CHANNEL_EXECUTE_COMPLETE", EXEC_DONE, Vars::Yes, &[], &post);
    })
}

fn is_known(app: &str) -> bool {
    matches!(
        app,
        "answer"
            | "pre_answer"
            | "ring_ready"
            | "sleep"
            | "playback"
            | "park"
            | "hangup"
            | "send_dtmf"
            | "play_and_get_digits"
            | "record"
            | "say"
            | "set"
            | "export"
            | "bridge"
            | "respond"
            | "record_session"
            | "stop_record_session"
            | "transfer"
            | "echo"
            | "log"
            | "hash"
            | "db"
            | "uuid_bridge"
            | "sched_broadcast"
            | "sched_cancel"
    ) || super::amd::APPS.contains(&app)
}

/// Answer this channel; a loopback B-leg answers its A-leg first.
pub fn answer(sess: &Sess) {
    let partner = sess.with(|s| if s.far_end { s.partner.clone() } else { None });
    if let Some(p) = partner.and_then(|p| sess.core.chan(&p)) {
        let a = Sess::new(sess.core.clone(), p);
        if a.mark_answered() {
            a.modify(|s| s.set_var("endpoint_disposition", "ANSWER"));
        }
    }
    sess.mark_answered();
}

async fn body(sess: &Sess, app: &str, arg: &str) -> Option<String> {
    match app {
        "answer" => {
            answer(sess);
            sess.modify(|s| s.set_var("endpoint_disposition", "ANSWER"));
            None
        }
        "pre_answer" => {
            sess.mark_progress();
            None
        }
        app if super::amd::APPS.contains(&app) => {
            super::amd::app(sess, app, arg).await;
            None
        }
        "ring_ready" => {
            let partner = sess.with(|s| s.partner.clone());
            if let Some(p) = partner.and_then(|p| sess.core.chan(&p)) {
                let a = Sess::new(sess.core.clone(), p);
                a.mark_progress();
                a.set_callstate("RINGING");
            }
            sess.mark_progress();
            sess.set_callstate("RINGING");
            None
        }
        "sleep" => {
            sleep(sess, arg).await;
            None
        }
        "playback" => {
            // mod_dptools' on_dtmf: a `playback_terminators` digit ends it
            let terms = super::ivr::playback_terminators(sess);
            sess.modify(|s| s.set_var("playback_terminator_used", ""));
            let (resp, digits, _) = super::playback::playback(sess, arg, &terms).await;
            if let Some(t) = digits.iter().find(|c| terms.contains(**c)) {
                sess.modify(|s| s.set_var("playback_terminator_used", &t.to_string()));
            }
            Some(resp)
        }
        "park" => {
            park(sess).await;
            // park reports the stale response of the previous application
            Some(sess.with(|s| s.last_response.clone()))
        }
        "hangup" => {
            let cause = if arg.trim().is_empty() {
                "NORMAL_CLEARING"
            } else {
                arg.trim()
            };
            let by = if sess.with(|s| s.far_end) {
                "party"
            } else {
                "switch"
            };
            sess.hangup(cause, by);
            None
        }
        "send_dtmf" => {
            let target = sess.with(|s| s.bridged_to.clone().or(s.partner.clone()));
            if let Some(t) = target.and_then(|t| sess.core.chan(&t)) {
                let far = sess.with(|s| s.far_end);
                Sess::new(sess.core.clone(), t).deliver_dtmf(arg, 2000, far);
            }
            None
        }
        "play_and_get_digits" => {
            // the prompt and the wait for digits: the party is being asked, not left in silence
            media_begin(sess);
            super::ivr::play_and_get_digits(sess, arg).await;
            media_end(sess);
            None
        }
        "record" => {
            media_begin(sess);
            super::ivr::record(sess, arg).await;
            media_end(sess);
            None
        }
        "record_session" => {
            super::ivr::record_session(sess, arg);
            None
        }
        "stop_record_session" => {
            let a = arg.trim();
            if super::ivr::recording_path(sess).is_some_and(|p| a == "all" || a == p) {
                super::ivr::stop_record_session(sess, None);
            }
            None
        }
        "transfer" => {
            transfer_app(sess, arg);
            None
        }
        "say" => super::ivr::say(sess, arg).await,
        "sched_broadcast" => {
            let uuid = sess.uuid();
            if let Some(id) = super::scheduler::schedule_broadcast(&sess.core, &uuid, arg) {
                sess.modify(|s| s.set_var("last_sched_id", &id.to_string()));
            }
            None
        }
        "sched_cancel" => {
            // mod_dptools: the group given, or the channel's own (its sched_broadcasts)
            let group = if arg.trim().is_empty() {
                sess.uuid()
            } else {
                arg.trim().to_string()
            };
            super::scheduler::delete(&sess.core, &group);
            None
        }
        "set" | "export" => {
            if let Some((k, v)) = arg.split_once('=') {
                sess.modify(|s| s.set_var(k.trim(), v));
            }
            None
        }
        "bridge" => super::bridge::bridge_app(sess, arg).await,
        "hash" => {
            // mod_hash's app: insert|insert_ifempty|delete|delete_ifmatch/realm/key[/value]
            super::tables::hash_op(&sess.core, arg);
            None
        }
        "db" => {
            // mod_db's app: insert|delete/realm/key[/value]
            super::tables::db_op(&sess.core, arg);
            None
        }
        _ => None,
    }
}

/// A media application starts on the channel: the party hears something (ground truth of
/// dead air, see `ChanState::is_dead_air`).
pub fn media_begin(sess: &Sess) {
    sess.modify(|s| s.media += 1);
}

/// The media application started by [`media_begin`] ended.
pub fn media_end(sess: &Sess) {
    sess.modify(|s| s.media = s.media.saturating_sub(1));
}

/// Read queued DTMF, firing a DTMF event per digit; returns the digits.
pub fn read_dtmf(sess: &Sess) -> Vec<char> {
    let mut out = Vec::new();
    loop {
        let d = sess.modify(|s| s.dtmf.pop_front());
        match d {
            Some((c, dur)) => {
                sess.fire_dtmf(c, dur);
                out.push(c);
            }
            None => return out,
        }
    }
}

/// `transfer [-bleg|-both] <exten> [<dialplan>] [<context>]` (mod_dptools
/// transfer_function): switch_ivr_session_transfer on this leg, its bridge peer
/// (`-bleg`) or both; the session task then routes the new extension.
fn transfer_app(sess: &Sess, arg: &str) {
    let a: Vec<&str> = arg.split_whitespace().collect();
    let (bleg, both) = match a.first() {
        Some(f) => (
            f.eq_ignore_ascii_case("-bleg"),
            f.eq_ignore_ascii_case("-both"),
        ),
        None => return,
    };
    let rest = if bleg || both { &a[1..] } else { &a[..] };
    let Some(ext) = rest.first() else {
        return;
    };
    let (dp, ctx) = (rest.get(1).copied(), rest.get(2).copied());
    if bleg || both {
        let peer = sess.with(|s| s.bridge_peer.clone());
        if let Some(p) = peer.and_then(|p| sess.core.chan(&p)) {
            super::runner::transfer(&Sess::new(sess.core.clone(), p), ext, dp, ctx);
        }
    }
    if !bleg {
        super::runner::transfer(sess, ext, dp, ctx);
    }
}

/// Park: CHANNEL_PARK, then run queued messages and read DTMF until hangup,
/// transfer, bridge or a pending CS_PARK; CHANNEL_UNPARK at the end.
pub async fn park(sess: &Sess) {
    sess.fire(
        "CHANNEL_PARK",
        ("switch_ivr.c", "switch_ivr_park", 1010),
        Vars::Yes,
        &[],
        &[],
    );
    park_loop(sess).await;
    sess.fire(
        "CHANNEL_UNPARK",
        ("switch_ivr.c", "switch_ivr_park", 1234),
        Vars::Yes,
        &[],
        &[],
    );
}

/// CS_PARK (switch_ivr_park_session, e.g. park_after_bridge): CHANNEL_STATE
/// CS_PARK, then switch_ivr_park (CHANNEL_PARK .. CHANNEL_UNPARK) outside any
/// application, until hangup, transfer or uuid_bridge.
pub async fn park_state(sess: &Sess) {
    if sess.hungup() {
        return;
    }
    sess.modify(|s| s.state = super::channel::Cs::Park);
    sess.set_running(super::channel::Cs::Park);
    park(sess).await;
    sess.modify(|s| {
        if !s.is_hungup() {
            s.state = super::channel::Cs::Execute;
        }
    });
}

/// The `sleep` application (mod_dptools sleep_function, switch_ivr_sleep): until its ms
/// are up, a hangup, a transfer or uuid_bridge, or CF_BREAK (cleared). A DTMF ends it,
/// unless `sleep_eat_digits` is true: then mod_dptools' on_dtmf takes the digit, and only
/// a `playback_terminators` digit (default `*`, `none`: none) ends it. Each turn it parses
/// the channel's queued messages (switch_ivr_parse_all_events): a `sendmsg execute` runs
/// inside it, and the sleep goes on after it until its time is up.
async fn sleep(sess: &Sess, arg: &str) {
    let ms = arg.trim().parse::<u64>().unwrap_or(0);
    let until = sess.core.sim_ms() + ms;
    let eat = sess.with(|s| super::bridge::true_var(s, "sleep_eat_digits"));
    let terms = if eat {
        sess.modify(|s| s.set_var("playback_terminator_used", ""));
        super::ivr::playback_terminators(sess)
    } else {
        String::new()
    };
    loop {
        let left = until.saturating_sub(sess.core.sim_ms());
        if left == 0 {
            return;
        }
        sess.wait_until(Some(left), |s| {
            stop_cond(s) || !s.dtmf.is_empty() || !s.queue.is_empty()
        })
        .await;
        if sess.with(|s| s.is_hungup() || s.transfer.is_some() || s.bridge_req.is_some()) {
            return;
        }
        if sess.modify(|s| std::mem::replace(&mut s.brk, false)) {
            return;
        }
        if sess.with(|s| !s.dtmf.is_empty()) {
            if !eat {
                sess.modify(|s| s.dtmf.clear());
                return;
            }
            if let Some(t) = read_dtmf(sess).into_iter().find(|c| terms.contains(*c)) {
                sess.modify(|s| s.set_var("playback_terminator_used", &t.to_string()));
                return;
            }
        }
        if sess.with(|s| !s.queue.is_empty()) && run_queued(sess).await {
            return;
        }
    }
}

/// The body of park without the PARK/UNPARK events.
pub async fn park_loop(sess: &Sess) {
    loop {
        sess.wait_until(None, |s| {
            stop_cond(s) || !s.dtmf.is_empty() || !s.queue.is_empty() || s.socket_closed
        })
        .await;
        if sess.with(|s| {
            s.is_hungup() || s.transfer.is_some() || s.bridge_req.is_some() || s.socket_closed
        }) {
            return;
        }
        if sess.modify(|s| std::mem::replace(&mut s.brk, false)) {
            continue;
        }
        read_dtmf(sess);
        if run_queued(sess).await {
            return;
        }
    }
}

/// Runs the next message queued on the channel (a `sendmsg execute`, a broadcast) as
/// switch_ivr_parse_event does, inside the application that parsed it. True when it left
/// the channel to be parked: park_after_bridge of a `bridge` run from here
/// (switch_ivr_park_session sets CS_PARK and CF_TRANSFER, the channel is no longer
/// "ready" and the application around it — park, socket, sleep — ends; the session task
/// then takes the channel to CS_PARK).
async fn run_queued(sess: &Sess) -> bool {
    let msg = sess.modify(|s| s.queue.pop_front());
    let Some(ChanMsg::Execute {
        app,
        arg,
        app_uuid,
        app_uuid_name,
        broadcast,
        command,
    }) = msg
    else {
        return false;
    };
    sess.core.sleep(20).await;
    // switch_ivr_parse_event keeps it as a channel variable that the application's start
    // takes (and clears)
    if let Some(n) = app_uuid_name {
        sess.modify(|s| s.set_var("app_uuid_name", &n));
    }
    run_app(sess, &app, &arg, &app_uuid).await;
    if broadcast {
        fire_broadcast_command(sess, &app, &arg);
    } else if !command.is_empty() {
        fire_private_command(sess, &command);
    }
    sess.with(|s| s.park_req)
}
