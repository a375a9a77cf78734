//! `originate`: the A-leg on the endpoint its URL names (`endpoint`; argument parsing
//! in `origparse`), loopback's B-leg, the originate wait (originate_timeout / leg_timeout
//! / leg_progress_timeout) and the hand-over to the A-leg's session once the
//! BACKGROUND_JOB / api reply has been sent.

use std::sync::Arc;

use super::channel::{ChanState, Cs};
use super::config::Behaviour;
use super::core::Core;
use super::dialplan::{self, Apps};
use super::endpoint::{resolve as resolve_endpoint, Elsewhere, Endpoint};
use super::origparse::{dest_apps, var};
pub use super::origparse::{inline_apps, parse, OrigReq, USAGE};
use super::runner::{resolve, run_channel, run_phantom};
use super::session::{Sess, Vars};

/// What to do with the A-leg once the result has been reported.
pub enum After {
    /// nothing (no channel)
    Nothing,
    /// run the A-leg's app / extension
    Run(Sess, Apps),
    /// finish the failed A-leg (reporting sequence)
    Report(Sess),
}

impl After {
    /// Start it (spawns the A-leg's session task).
    pub fn start(self) {
        match self {
            After::Nothing => {}
            After::Run(s, apps) => {
                tokio::spawn(run_channel(s, apps));
            }
            After::Report(s) => {
                tokio::spawn(async move {
                    if s.with(|st| st.running == Cs::Reporting) {
                        s.destroy();
                    } else {
                        s.report(true);
                    }
                });
            }
        }
    }
}

/// Run an originate. Returns the api body (`+OK <uuid>\n` / `-ERR CAUSE\n`) and the follow-up.
pub async fn originate(core: &Arc<Core>, arg: &str) -> (String, After) {
    let req = match parse(arg) {
        Ok(r) => r,
        Err(u) => return (u, After::Nothing),
    };
    let now = core.now_us();
    let want_uuid = var(&req, "origination_uuid").map(str::to_string);
    let uuid = want_uuid
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let cid_num = var(&req, "origination_caller_id_number")
        .unwrap_or("0000000000")
        .to_string();
    let cid_name = var(&req, "origination_caller_id_name")
        .unwrap_or("")
        .to_string();
    let ep = match resolve_endpoint(core, &req) {
        Ok(ep) => ep,
        Err(Elsewhere::Refused(body)) => return (body, After::Nothing),
        Err(Elsewhere::Redial(arg)) => return Box::pin(originate(core, &arg)).await,
    };
    let Endpoint {
        kind,
        number,
        name,
        trunk,
        tchan,
        loop_ctx,
        refused,
    } = ep;
    let agent_beh = if kind == "user" {
        match core.agent_behaviour(&number) {
            Some(b) => Some(b),
            None => return ("-ERR USER_NOT_REGISTERED\n".into(), After::Nothing),
        }
    } else {
        None
    };
    // ---- A-leg
    let temp = if kind == "loopback" && want_uuid.is_some() {
        uuid::Uuid::new_v4().to_string()
    } else {
        uuid.clone()
    };
    let first_name = match &loop_ctx {
        Some(ctx) => format!("loopback/{number}/{ctx}-a"),
        None => name.clone(),
    };
    let mut cs = ChanState::new(&temp, &first_name, "outbound", now);
    cs.trunk = trunk.clone();
    if kind == "user" {
        cs.agent = Some(number.clone());
    }
    let a = Sess::new(core.clone(), core.add_chan(cs));
    if kind == "user" {
        // the phone rings from now on: an offer, counted until the leg hangs up
        let vars = req
            .vars
            .iter()
            .filter(|(k, _)| k.starts_with("contactd_"))
            .cloned()
            .collect();
        core.agent_offer_start(&number, &temp, vars);
    }
    let callee_num = loop_ctx.clone().unwrap_or_else(|| number.clone());
    let dialed_at = core.sim_ms();
    let cvars: Vec<(String, String)> = req
        .vars
        .iter()
        .filter(|(k, _)| k.starts_with("contactd_"))
        .cloned()
        .collect();
    core.truth(&temp, |r| {
        r.number = number.clone();
        r.trunk = trunk.clone();
        r.endpoint = kind.to_string();
        r.dialed_at_ms = dialed_at;
        r.vars = cvars;
    });
    if kind == "loopback" {
        codec_events(&a);
        if want_uuid.is_some() {
            a.modify(|s| {
                s.uuid = uuid.clone();
                s.name = name.clone();
                s.state = Cs::Init;
            });
            core.rename_chan(&temp, &uuid);
            core.truth_rename(&temp, &uuid);
        }
        a.modify(|s| s.name = name.clone());
    }
    a.modify(|s| {
        s.state = Cs::Init;
        s.codec = (true, true);
        s.has_profile = true;
        s.caller.cid_name = cid_name.clone();
        s.caller.cid_num = cid_num.clone();
        s.caller.orig_cid_name = cid_name.clone();
        s.caller.orig_cid_num = cid_num.clone();
        s.caller.callee_name = "Outbound Call".into();
        s.caller.callee_num = callee_num.clone();
        s.caller.ani = cid_num.clone();
        s.caller.dest = number.clone();
        s.caller.source = if kind == "loopback" {
            "mod_loopback"
        } else {
            "src/switch_ivr_originate.c"
        }
        .into();
        s.caller.context = loop_ctx.clone().unwrap_or_else(|| "default".into());
        s.set_var("direction", "outbound");
        s.set_var("is_outbound", "true");
        s.set_var("session_id", &s.session_id.to_string());
        s.set_var("read_codec", "L16");
        s.set_var("read_rate", "8000");
        s.set_var("write_codec", "L16");
        s.set_var("write_rate", "8000");
        s.set_var("channel_name", &name);
        s.set_var("uuid", &uuid);
        s.set_var("call_uuid", &uuid);
        if let Some(n) = tchan {
            s.set_var("sim_trunk_channel", &n.to_string());
        }
    });
    if want_uuid.is_some() && kind == "loopback" {
        a.fire(
            "CHANNEL_UUID",
            (
                "switch_core_session.c",
                "switch_core_session_set_uuid",
                2051,
            ),
            Vars::Yes,
            &[("Old-Unique-ID", temp.clone())],
            &[],
        );
    }
    a.fire(
        "CHANNEL_OUTGOING",
        (
            "switch_core_session.c",
            "switch_core_session_outgoing_channel",
            768,
        ),
        Vars::No,
        &[],
        &[],
    );
    a.set_running(Cs::Init);
    // ---- B-leg (loopback only)
    let (b_uuid, b) = match &loop_ctx {
        Some(ctx) => {
            let (u, b) = loopback_b_leg(core, &req, &number, ctx, &uuid, (&cid_name, &cid_num));
            (u, Some(b))
        }
        None => (String::new(), None),
    };
    a.modify(|s| {
        for (k, v) in req
            .vars
            .iter()
            .filter(|(_, v)| super::origparse::settable(&req, v))
        {
            s.set_var(k, v);
        }
        s.set_var("originate_early_media", "false");
        s.set_var("originate_endpoint", kind);
        if b.is_some() {
            s.partner = Some(b_uuid.clone());
            s.set_var("other_loopback_leg_uuid", &b_uuid);
            s.set_var("loopback_leg", "A");
        }
    });
    let cre = (
        "switch_core_state_machine.c",
        "switch_core_session_run",
        626,
    );
    a.set_state(Cs::Routing);
    a.fire("CHANNEL_CREATE", cre, Vars::Yes, &[], &[]);
    a.fire(
        "CHANNEL_ORIGINATE",
        (cre.0, cre.1, 632),
        Vars::Yes,
        &[],
        &[],
    );
    a.set_running(Cs::Routing);
    a.set_running(Cs::ConsumeMedia);
    let behaviour_desc;
    if let (Some(b), Some(ctx)) = (&b, &loop_ctx) {
        b.set_running(Cs::Init);
        b.set_state(Cs::Routing);
        b.fire("CHANNEL_CREATE", cre, Vars::Yes, &[], &[]);
        b.modify(|s| s.running = Cs::Routing);
        b.set_callstate("RINGING");
        b.set_running(Cs::Routing);
        let apps = resolve(b, &number, ctx);
        behaviour_desc = if ctx == "trace" {
            format!("trace/{number}")
        } else {
            format!("{:?}", core.cfg.behaviour_for(&number))
        };
        match apps {
            Some(apps) => {
                b.set_running(Cs::Execute);
                tokio::spawn(run_channel(b.clone(), apps));
            }
            None => {
                let b2 = b.clone();
                b2.hangup("NO_ROUTE_DESTINATION", "party");
                tokio::spawn(async move { b2.report(true) });
            }
        }
    } else {
        let beh = match (&agent_beh, refused) {
            (_, Some(cause)) => Behaviour::Reject {
                cause: cause.into(),
                after_ms: 0,
                ring: false,
            },
            (Some(b), None) => b.clone(),
            (None, None) => core.cfg.behaviour_for(&number),
        };
        behaviour_desc = format!("{beh:?}");
        tokio::spawn(run_phantom(a.clone(), dialplan::behaviour_apps(&beh)));
    }
    core.truth(&uuid, |r| r.behaviour = behaviour_desc);
    // ---- wait for the outcome
    if !ring(core, &a, &req).await {
        // the switch's own timeout: the job is answered at once, the A-leg's hangup
        // sequence (and its loopback partner's) follows
        let cause = a.with(|s| s.hangup_cause.clone().unwrap_or_default());
        return (format!("-ERR {cause}\n"), After::Report(a));
    }
    if let Some(b) = &b {
        // mod_loopback marks the A-leg answered from inside the B-leg's answer, whose own
        // CHANNEL_ANSWER follows before the originating thread runs on: do not act on A
        // (run its application, perhaps hang it up) before B's answer is marked
        // (its call state turns ACTIVE once that event is out)
        b.wait_until(Some(1000), |s| s.is_hungup() || s.callstate == "ACTIVE")
            .await;
    }
    if a.hungup() {
        // hung up by the far end (or anyone else) while ringing: the A-leg's own thread
        // has reached CHANNEL_HANGUP_COMPLETE by the time the originate notices; it is
        // destroyed only once the job has been answered
        a.report(false);
        let cause = a.with(|s| s.hangup_cause.clone().unwrap_or_default());
        return (format!("-ERR {cause}\n"), After::Report(a));
    }
    // success: flip caller id (CALL_UPDATE)
    a.modify(|s| {
        s.set_var("endpoint_disposition", "ANSWER");
        s.set_var("pre_transfer_caller_id_name", &cid_name);
        s.set_var("pre_transfer_caller_id_number", &cid_num);
        s.set_var("channel_cid_flipped", "yes");
        let c = &mut s.caller;
        std::mem::swap(&mut c.cid_name, &mut c.callee_name);
        std::mem::swap(&mut c.cid_num, &mut c.callee_num);
    });
    a.hit_dialplan_on();
    a.fire(
        "CALL_UPDATE",
        ("switch_channel.c", "switch_channel_flip_cid", 3277),
        Vars::Yes,
        &[("Direction", "RECV".to_string())],
        &[],
    );
    let apps = dest_apps(&core.cfg, &req);
    (format!("+OK {uuid}\n"), After::Run(a, apps))
}

/// mod_loopback's B-leg of `a_uuid`: an inbound channel that runs `number` in `ctx`.
fn loopback_b_leg(
    core: &Arc<Core>,
    req: &OrigReq,
    number: &str,
    ctx: &str,
    a_uuid: &str,
    (cid_name, cid_num): (&str, &str),
) -> (String, Sess) {
    let now = core.now_us();
    let b_uuid = uuid::Uuid::new_v4().to_string();
    let mut bs = ChanState::new(&b_uuid, &format!("loopback/{number}-b"), "inbound", now);
    bs.far_end = true;
    bs.partner = Some(a_uuid.to_string());
    let b = Sess::new(core.clone(), core.add_chan(bs));
    codec_events(&b);
    b.modify(|s| {
        s.codec = (true, true);
        s.has_profile = true;
        s.hit_dialplan = true;
        s.caller.cid_name = cid_name.into();
        s.caller.cid_num = cid_num.into();
        s.caller.orig_cid_name = cid_name.into();
        s.caller.orig_cid_num = cid_num.into();
        s.caller.callee_name = "Outbound Call".into();
        s.caller.callee_num = ctx.into();
        s.caller.ani = cid_num.into();
        s.caller.dest = number.into();
        s.caller.source = "mod_loopback".into();
        s.caller.context = ctx.into();
        s.set_var("direction", "inbound");
        s.set_var("uuid", &b_uuid);
        s.set_var("call_uuid", &b_uuid);
        s.set_var("session_id", &s.session_id.to_string());
        s.set_var("channel_name", &format!("loopback/{number}-b"));
        s.set_var("read_codec", "L16");
        s.set_var("read_rate", "8000");
        s.set_var("write_codec", "L16");
        s.set_var("write_rate", "8000");
        for (k, v) in &req.vars {
            let own = !k.starts_with("originate_") && !k.starts_with("leg_");
            if own && super::origparse::settable(req, v) {
                s.set_var(k, v);
            }
        }
        s.set_var("other_loopback_leg_uuid", a_uuid);
        s.set_var("loopback_leg", "B");
    });
    (b_uuid, b)
}

/// Wait for the A-leg to be answered or hung up. false: the originate's own timeout hung it
/// up. As switch_ivr_originate, timeouts count whole seconds of the wall clock
/// (`switch_epoch_time_now`): `originate_timeout` T ends the call T-1 to T seconds after
/// the start (`elapsed >= T`), `leg_timeout` and `leg_progress_timeout` T to T+1 seconds
/// after (`elapsed > T`).
async fn ring(core: &Arc<Core>, a: &Sess, req: &OrigReq) -> bool {
    let num = |k: &str| var(req, k).and_then(|v| v.trim().parse::<i64>().ok());
    let start_s = core.now_us().div_euclid(1_000_000);
    let at = |secs: i64| (start_s + secs) * 1_000_000;
    let ot = at(num("originate_timeout").filter(|v| *v > 0).unwrap_or(60));
    let lt = num("leg_timeout").filter(|v| *v > 0).map(|v| at(v + 1));
    let lpt = num("leg_progress_timeout")
        .filter(|v| *v > 0)
        .map(|v| at(v + 1));
    loop {
        let mut limits = vec![(ot, "NO_ANSWER")];
        if let Some(l) = lt {
            limits.push((l, "ALLOTTED_TIMEOUT"));
        }
        if let Some(p) = lpt {
            if !a.with(|s| s.caller.progress_us > 0) {
                limits.push((p, "PROGRESS_TIMEOUT"));
            }
        }
        limits.sort();
        let (deadline, cause) = limits[0];
        let now = core.now_us();
        if now >= deadline {
            a.hangup(cause, "switch");
            return false;
        }
        let left_ms = ((deadline - now) as u64).div_ceil(1000);
        let done = a
            .wait_until(Some(left_ms), |s| s.is_hungup() || s.caller.answered_us > 0)
            .await;
        if done {
            return true;
        }
    }
}

impl Sess {
    /// Mark Channel-HIT-Dialplan true.
    pub fn hit_dialplan_on(&self) {
        self.modify(|s| s.hit_dialplan = true);
    }
}

fn codec_events(s: &Sess) {
    let f = (
        "switch_core_codec.c",
        "switch_core_session_set_read_codec",
        279,
    );
    s.modify(|st| st.codec = (true, false));
    let ev = {
        let mut e = s.event("CODEC", f, Vars::No, &[], &[]);
        e.add("channel-read-codec-name", "L16");
        e.add("channel-read-codec-rate", "8000");
        e.add("channel-read-codec-bit-rate", "128000");
        e
    };
    s.core.fire(ev);
    s.modify(|st| st.codec = (true, true));
    let mut e = s.event(
        "CODEC",
        (
            "switch_core_codec.c",
            "switch_core_session_set_write_codec",
            450,
        ),
        Vars::No,
        &[],
        &[],
    );
    e.add("Channel-Write-codec-bit-rate", "128000");
    s.core.fire(e);
}
