//! Outbound socket mode: the `socket <addr> async full` application (connect to
//! the outbound server, park, run queued sendmsg apps, then the linger /
//! disconnect notices of traces 09 and 11), the `connect` reply (channel data as
//! headers), and inbound calls created by the test API with a scripted caller.

use std::sync::{Arc, Mutex};

use tokio::net::TcpStream;

use super::apps::park_loop;
use super::channel::{ChanState, Cs};
use super::config::{CallerStep, InboundCall};
use super::core::{lock, Core};
use super::esl::{raw_msg, Conn, ConnShared};
use super::runner::run_channel;
use super::session::{Sess, Vars};
use super::wire;

/// The reply to `connect`: CHANNEL_DATA headers then the command/reply headers.
pub fn connect_reply(core: &Arc<Core>, uuid: &str) -> String {
    let Some(ch) = core.chan(uuid) else {
        return String::from_utf8_lossy(&wire::command_reply("-ERR invalid session", &[]))
            .to_string();
    };
    let s = Sess::new(core.clone(), ch);
    let mut ev = s.event(
        "CHANNEL_DATA",
        ("mod_event_socket.c", "parse_command", 1),
        Vars::Yes,
        &[],
        &[],
    );
    ev.add("Content-Type", "command/reply");
    ev.add("Reply-Text", "+OK\n");
    ev.add("Socket-Mode", "async");
    ev.add("Control", "full");
    let seq = {
        let mut st = lock(&core.st);
        st.seq += 1;
        st.seq
    };
    if let Some(h) = ev.headers.iter_mut().find(|(k, _)| k == "Event-Sequence") {
        h.1 = seq.to_string();
    }
    format!("{}\n", ev.plain_headers())
}

fn send_raw(core: &Arc<Core>, lid: u64, bytes: Vec<u8>, close: bool) {
    let st = lock(&core.st);
    if let Some(l) = st.listeners.iter().find(|l| l.id == lid) {
        let _ = l.tx.try_send(Arc::new(raw_msg(bytes, close)));
    }
}

/// The `socket` application.
pub async fn socket_app(sess: &Sess, arg: &str) {
    let app_uuid = uuid::Uuid::new_v4().to_string();
    let addr = arg.split_whitespace().next().unwrap_or("").to_string();
    sess.modify(|s| {
        s.set_var("current_application_data", arg);
        s.set_var("current_application", "socket");
        s.set_var(
            "socket_host",
            addr.rsplit_once(':').map(|x| x.0).unwrap_or(""),
        );
        s.cur_app = Some("socket".into());
    });
    let exec = ("switch_core_session.c", "switch_core_session_exec", 2944);
    let post = [
        ("Application", "socket".to_string()),
        ("Application-Data", arg.to_string()),
        ("Application-UUID", app_uuid.clone()),
    ];
    sess.fire("CHANNEL_EXECUTE", exec, Vars::Yes, &[], &post);
    let core = sess.core.clone();
    let stream = match TcpStream::connect(&addr).await {
        Ok(s) => s,
        Err(_) => {
            // socket_function logs "Socket Error!" and returns: the dialplan goes on
            // (from-trunk.xml's reconnect; with nothing after it the extension ends)
            complete(sess, arg, &app_uuid);
            return;
        }
    };
    let uuid = sess.uuid();
    let (lid, rx, sub) = core.listen();
    let shared = Arc::new(Mutex::new(ConnShared::default()));
    let serve = Conn::serve(
        core.clone(),
        stream,
        Some((uuid.clone(), shared.clone(), lid, rx, sub)),
    );
    let ends_park = core.cfg.socket_close_ends_park;
    let watched = sess.clone();
    let conn = tokio::spawn(async move {
        serve.await;
        if ends_park {
            // listener_run clears CF_CONTROLLED when the connection goes: the park of
            // the socket application ends (what runs in it now finishes first)
            watched.modify(|s| s.socket_closed = s.in_socket);
        }
    });
    core.sleep(20).await;
    if !sess.hungup() {
        sess.fire(
            "CHANNEL_PARK",
            ("switch_ivr.c", "switch_ivr_park", 1010),
            Vars::Yes,
            &[],
            &[],
        );
        // a connection already gone cleared CF_CONTROLLED before the park began: the park
        // ends at once (switch_ivr_park loops only while the channel is controlled)
        let gone = ends_park && conn.is_finished();
        sess.modify(|s| {
            s.in_socket = true;
            s.socket_closed |= gone;
        });
        park_loop(sess).await;
        sess.modify(|s| {
            s.in_socket = false;
            s.socket_closed = false;
        });
    }
    if !sess.hungup() {
        // Transfer / bridge / CS_PARK (park_after_bridge) out of the socket app: the
        // socket app returns, the connection stays open and the session task goes
        // on. The server closing it later (or `exit`) does not touch the call.
        // Simplification: mod_event_socket clears CF_CONTROLLED on the channel when
        // an outbound socket closes, which ends whatever switch_ivr_park is running
        // then; the simulator applies that to no park (neither this one, whose
        // closing would let the dialplan go on, nor a later `park` application):
        // the outcome would depend on races its time_scale distorts. Only with
        // `SimConfig::socket_close_ends_park` does a close that comes while the
        // channel is still parked here end this park (and the call, with nothing
        // after `socket`).
        sess.fire(
            "CHANNEL_UNPARK",
            ("switch_ivr.c", "switch_ivr_park", 1234),
            Vars::Yes,
            &[],
            &[],
        );
        complete(sess, arg, &app_uuid);
        return;
    }
    sess.fire(
        "CHANNEL_UNPARK",
        ("switch_ivr.c", "switch_ivr_park", 1234),
        Vars::Yes,
        &[],
        &[],
    );
    complete(sess, arg, &app_uuid);
    sess.report(false);
    let name = sess.with(|s| s.name.clone());
    let linger = lock(&shared).linger;
    match linger {
        None => send_raw(&core, lid, wire::disconnect_outbound(&uuid), true),
        Some(n) => {
            send_raw(&core, lid, wire::linger_notice(&uuid, &name, n), false);
            if n < 0 {
                let _ = conn.await;
            } else {
                let t = core.dur(n as u64 * 1000 + 200);
                let mut conn = conn;
                if tokio::time::timeout(t, &mut conn).await.is_err() {
                    send_raw(&core, lid, wire::disconnect_outbound(&uuid), true);
                    let _ = conn.await;
                }
            }
        }
    }
    sess.modify(|s| s.running = Cs::Reporting);
    sess.destroy();
}

fn complete(sess: &Sess, arg: &str, app_uuid: &str) {
    let resp = sess.with(|s| s.last_response.clone());
    sess.modify(|s| s.cur_app = None);
    sess.fire(
        "CHANNEL_EXECUTE_COMPLETE",
        ("switch_core_session.c", "switch_core_session_exec", 2967),
        Vars::Yes,
        &[],
        &[
            ("Application", "socket".to_string()),
            ("Application-Data", arg.to_string()),
            ("Application-Response", resp),
            ("Application-UUID", app_uuid.to_string()),
        ],
    );
}

/// Create an inbound call that runs `socket <connect_to> async full`, with a scripted caller.
pub fn inbound_call(core: &Arc<Core>, call: InboundCall) -> Result<String, String> {
    let uuid = uuid::Uuid::new_v4().to_string();
    let tchan = match &call.trunk {
        Some(t) => Some(core.seize(t, "a").map_err(|e| e.to_string())?),
        None => None,
    };
    let name = call.channel_name.clone().unwrap_or_else(|| {
        format!(
            "FreeTDM/{}:{}/{}",
            call.trunk.clone().unwrap_or_else(|| "1".into()),
            tchan.unwrap_or(1),
            call.destination
        )
    });
    let now = core.now_us();
    let mut cs = ChanState::new(&uuid, &name, "inbound", now);
    cs.trunk = call.trunk.clone();
    cs.reconnect_socket = call.reconnects.then(|| call.connect_to.clone());
    cs.codec = (true, true);
    cs.has_profile = true;
    cs.hit_dialplan = true;
    cs.caller.cid_name = call.caller_name.clone();
    cs.caller.cid_num = call.caller_number.clone();
    cs.caller.orig_cid_name = call.caller_name.clone();
    cs.caller.orig_cid_num = call.caller_number.clone();
    cs.caller.ani = call.caller_number.clone();
    cs.caller.dest = call.destination.clone();
    cs.caller.source = if name.starts_with("FreeTDM") {
        "mod_freetdm"
    } else {
        "mod_loopback"
    }
    .into();
    cs.caller.context = "default".into();
    let looped = name.starts_with("loopback/");
    if looped {
        // stands in for the B-leg of `loopback/<dest>/trace` (traces 09-11)
        cs.caller.callee_name = "Outbound Call".into();
        cs.caller.callee_num = "trace".into();
        cs.caller.context = "trace".into();
    }
    let ch = core.add_chan(cs);
    let sess = Sess::new(core.clone(), ch);
    sess.modify(|s| {
        s.set_var("direction", "inbound");
        s.set_var("uuid", &uuid);
        s.set_var("session_id", &s.session_id.to_string());
        s.set_var("channel_name", &name);
        s.set_var("read_codec", "L16");
        s.set_var("read_rate", "8000");
        s.set_var("write_codec", "L16");
        s.set_var("write_rate", "8000");
        for (k, v) in &call.vars {
            s.set_var(k, v);
        }
        if looped {
            s.set_var("other_loopback_leg_uuid", &uuid::Uuid::new_v4().to_string());
            s.set_var("loopback_leg", "B");
        }
        s.set_var("call_uuid", &uuid);
        if let Some(n) = tchan {
            s.set_var("sim_trunk_channel", &n.to_string());
        }
    });
    let dialed_at = core.sim_ms();
    core.truth(&uuid, |r| {
        r.number = call.caller_number.clone();
        r.trunk = call.trunk.clone();
        r.endpoint = "inbound".into();
        r.dialed_at_ms = dialed_at;
        r.vars = call
            .vars
            .iter()
            .filter(|(k, _)| k.starts_with("contactd_"))
            .cloned()
            .collect();
        r.behaviour = format!("{:?}", call.script);
    });
    sess.set_running(Cs::Init);
    sess.set_state(Cs::Routing);
    sess.fire(
        "CHANNEL_CREATE",
        (
            "switch_core_state_machine.c",
            "switch_core_session_run",
            626,
        ),
        Vars::Yes,
        &[],
        &[],
    );
    sess.modify(|s| s.running = Cs::Routing);
    sess.set_callstate("RINGING");
    sess.set_running(Cs::Routing);
    sess.set_running(Cs::Execute);
    // The dialplan sets the call's variables with `set` before the `socket` (as
    // dialplans/ and trace 27 do): each is an application with its EXECUTE and
    // EXECUTE_COMPLETE, which every listener subscribed to them receives.
    let mut apps: Vec<(String, String)> = call
        .vars
        .iter()
        .map(|(k, v)| ("set".to_string(), format!("{k}={v}")))
        .collect();
    apps.push((
        "socket".to_string(),
        format!("{} async full", call.connect_to),
    ));
    if call.reconnects {
        apps.push((
            "transfer".to_string(),
            format!(
                "{} XML {}",
                super::dialplan::RECONNECT_FIRST,
                super::dialplan::CONTACTD_RECONNECT
            ),
        ));
    }
    tokio::spawn(run_channel(sess.clone(), apps));
    tokio::spawn(run_caller(sess, call.script, call.start_over_on));
    Ok(uuid)
}

/// A file's name without its folder and extension: the prompt's name.
fn stem(file: &str) -> &str {
    let name = file.rsplit('/').next().unwrap_or(file);
    name.rsplit_once('.').map_or(name, |(s, _)| s)
}

/// Runs the caller's script; with `start_over_on`, a person who hears that prompt again
/// (the menu started over after a reconnect) starts the script over from that point.
async fn run_caller(sess: Sess, script: Vec<CallerStep>, start_over_on: Option<String>) {
    // from which opened file on the script looks (files heard before do not count)
    let mut from = 0;
    loop {
        let run = CallerRun {
            sess: &sess,
            from,
            start_over_on: start_over_on.as_deref(),
        };
        match run.play(&script).await {
            Some(again) => from = again,
            None => return,
        }
    }
}

/// One pass of a caller's script over the files opened from `from` on.
struct CallerRun<'a> {
    sess: &'a Sess,
    from: usize,
    /// the prompt (a file whose name begins so) that makes the person start over; None:
    /// the script ends the caller's part
    start_over_on: Option<&'a str>,
}

impl CallerRun<'_> {
    /// Index of the start-over prompt heard a second time in this pass, if it has been: the
    /// pass begins with its first hearing (the menu's start), a second is the menu again.
    fn restarted(&self, s: &ChanState) -> Option<usize> {
        let p = self.start_over_on?;
        s.opened[self.from.min(s.opened.len())..]
            .iter()
            .enumerate()
            .filter(|(_, f)| stem(f).starts_with(p))
            .map(|(i, _)| self.from + i)
            .nth(1)
    }

    /// Runs the steps; Some(index of the prompt heard again) to start over from it, None
    /// when the script is done or the call is over.
    async fn play(&self, script: &[CallerStep]) -> Option<usize> {
        let sess = self.sess;
        // how many of the files heard WaitForPlay has been through
        let mut heard = self.from;
        let over = |s: &ChanState| s.is_hungup() || self.restarted(s).is_some();
        for step in script {
            if let Some(i) = sess.with(|s| self.restarted(s)) {
                return Some(i);
            }
            if sess.hungup() {
                return None;
            }
            match step {
                CallerStep::WaitMs(ms) => {
                    sess.wait_until(Some(*ms), over).await;
                }
                CallerStep::WaitForAnswer => {
                    sess.wait_until(None, |s| over(s) || s.caller.answered_us > 0)
                        .await;
                }
                CallerStep::WaitForPrompt => {
                    let seq0 = sess.with(|s| s.prompt_seq);
                    sess.wait_until(None, |s| {
                        over(s)
                            || (s.prompt_seq > seq0
                                && matches!(
                                    s.cur_app.as_deref(),
                                    Some(
                                        "playback"
                                            | "play_and_get_digits"
                                            | "record"
                                            | "park"
                                            | "say"
                                    )
                                ))
                    })
                    .await;
                }
                CallerStep::WaitForPlay(name) => {
                    let is = |f: &String| stem(f).starts_with(name.as_str());
                    sess.wait_until(None, |s| {
                        over(s) || s.opened[heard.min(s.opened.len())..].iter().any(is)
                    })
                    .await;
                    heard = sess.with(|s| {
                        let h = heard.min(s.opened.len());
                        s.opened[h..]
                            .iter()
                            .position(is)
                            .map_or(s.opened.len(), |i| h + i + 1)
                    });
                }
                CallerStep::Dtmf(d) => {
                    sess.deliver_dtmf(d, 2000, true);
                    sess.core.sleep(20 * d.len() as u64 + 5).await;
                }
                CallerStep::Speak(ms) => {
                    sess.modify(|s| s.far_speaking = true);
                    sess.wait_until(Some(*ms), over).await;
                    sess.modify(|s| s.far_speaking = false);
                }
                CallerStep::Hangup => {
                    sess.hangup("NORMAL_CLEARING", "party");
                    return None;
                }
            }
        }
        self.start_over_on?;
        // the script is done; a person who still hears the menu start again goes again
        sess.wait_until(None, over).await;
        sess.with(|s| self.restarted(s))
    }
}
