//! The `api` / `bgapi` command table: status, originate, show, uuid_* (each with
//! its own error text; uuid_break, uuid_bridge, uuid_transfer, uuid_broadcast...),
//! hupall, fsctl, say_string, and the unknown-command text.

use std::sync::Arc;

use super::core::{lock, Core};
use super::headers::known_cause;
use super::originate::{originate, After};
use super::say;
use super::session::Sess;
use super::show;

const USAGE_TRANSFER: &str = "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n";

/// Side effect requested by an api command that the caller must perform.
pub enum Effect {
    /// none
    None,
    /// fsctl shutdown
    Shutdown,
}

/// Run an api command; returns (body, A-leg follow-up, effect).
pub async fn run(core: &Arc<Core>, cmd: &str, arg: &str) -> (String, After, Effect) {
    let sess = |u: &str| core.chan(u.trim()).map(|c| Sess::new(core.clone(), c));
    let a: Vec<&str> = arg.split_whitespace().collect();
    let body = match cmd {
        "originate" => {
            let (b, after) = originate(core, arg).await;
            return (b, after, Effect::None);
        }
        "status" => status(core),
        "ftdm" => super::ftdm::api(core, arg),
        "hash" => super::tables::hash_op(core, arg),
        "db" => super::tables::db_op(core, arg),
        "show" => show::show(core, arg),
        "uuid_dump" => show::uuid_dump(core, arg),
        "sched_del" => match arg.trim() {
            "" => "-ERR Invalid syntax\n".into(),
            what => format!("+OK Deleted: {}\n", super::scheduler::delete(core, what)),
        },
        "uuid_exists" => {
            if a.first().and_then(|u| sess(u)).is_some() { "true" } else { "false" }.into()
        }
        "uuid_getvar" => match (a.first().and_then(|u| sess(u)), a.get(1)) {
            (Some(s), Some(k)) => s.with(|st| st.var(k).unwrap_or("_undef_").to_string()),
            _ => "-ERR No such channel!\n".into(),
        },
        "uuid_setvar" => match (a.first().and_then(|u| sess(u)), a.get(1)) {
            (Some(s), Some(k)) => {
                let v = a.get(2..).map(|x| x.join(" ")).unwrap_or_default();
                s.modify(|st| st.set_var(k, &v));
                "+OK\n".into()
            }
            _ => "-ERR No such channel!\n".into(),
        },
        "uuid_kill" => match a.first().and_then(|u| sess(u)) {
            Some(s) => {
                let c = a.get(1).copied().unwrap_or("NORMAL_CLEARING");
                s.hangup(c, "switch");
                "+OK\n".into()
            }
            None => "-ERR No such channel!\n".into(),
        },
        "uuid_answer" => match a.first().and_then(|u| sess(u)) {
            Some(s) => {
                super::apps::answer(&s);
                "+OK\n".into()
            }
            None => "-ERR No such channel!\n".into(),
        },
        "avmd" => match (a.first(), a.get(1).copied()) {
            (Some(u), Some("start" | "stop")) => super::amd::avmd(core, u, a[1] == "start"),
            _ => "-ERR, usage: avmd <uuid> < start | stop | set [inbound|outbound|default] | load [inbound|outbound] | reload | show >\n".into(),
        },
        "spandsp_start_tone_detect" => match (a.first(), a.get(1)) {
            (Some(u), Some(d)) => super::amd::tone_detect(core, u, Some(d)),
            _ => "-USAGE: <uuid> <name>\n".into(),
        },
        "spandsp_stop_tone_detect" => match a.first() {
            Some(u) => super::amd::tone_detect(core, u, None),
            None => "-USAGE: <uuid>\n".into(),
        },
        "uuid_transfer" => match a.first().and_then(|u| sess(u)) {
            Some(s) if a.len() >= 2 => {
                // switch_separate_string: '…' groups an inline dialplan's words
                let q = super::origparse::split_quoted(arg);
                let a: Vec<&str> = q.iter().map(String::as_str).collect();
                // <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]
                let flag = a[1].to_ascii_lowercase();
                let (bleg, both) = (flag == "-bleg", flag == "-both");
                let rest = if bleg || both { &a[2..] } else { &a[1..] };
                match rest.first() {
                    Some(ext) => {
                        let (dp, ctx) = (rest.get(1).copied(), rest.get(2).copied());
                        if bleg || both {
                            let peer = s.with(|st| st.bridge_peer.clone());
                            if let Some(p) = peer.and_then(|p| sess(&p)) {
                                super::runner::transfer(&p, ext, dp, ctx);
                            }
                        }
                        if !bleg {
                            super::runner::transfer(&s, ext, dp, ctx);
                        }
                        "+OK\n".into()
                    }
                    None => USAGE_TRANSFER.into(),
                }
            }
            Some(_) => USAGE_TRANSFER.into(),
            None => "-ERR No such channel!\n".into(),
        },
        "uuid_break" => match a.first() {
            // mod_commands break_function: CF_BREAK stops the media application
            // running now (playback, sleep, record...); `all` also drops what is
            // queued (switch_core_session_flush_private_events)
            None => "-USAGE: <uuid> [all]\n".into(),
            Some(u) => match sess(u) {
                Some(s) => {
                    let all = a.get(1).is_some_and(|f| f.contains("all"));
                    s.modify(|st| {
                        if all {
                            st.queue.clear();
                        }
                        st.brk = true;
                    });
                    "+OK\n".into()
                }
                None => "-ERR No such channel!\n".into(),
            },
        },
        "uuid_broadcast" => match a.first() {
            Some(u) if a.len() >= 2 && super::scheduler::broadcast(core, u.trim(), a[1]) => {
                "+OK Message sent\n".into()
            }
            _ => "-ERR invalid uuid\n".into(),
        },
        "uuid_bridge" => match (a.first().and_then(|u| sess(u)), a.get(1).and_then(|u| sess(u))) {
            (Some(x), Some(y)) => {
                let (ux, uy) = (x.uuid(), y.uuid());
                let now = core.now_us();
                // switch_ivr_uuid_bridge: both legs leave what they are doing (park,
                // an application, an earlier bridge: CF_TRANSFER ends it, and the
                // leg left behind there sees its bridge end)
                super::bridge::leave_bridge(&x, Some(&uy));
                super::bridge::leave_bridge(&y, Some(&ux));
                // switch_ivr_uuid_bridge: the first leg takes the second's callee id, the
                // second the first's caller id; each keeps the other's profile as it was
                // before that for its Other-Leg block
                let profile = |l: &Sess| {
                    l.with(|s| {
                        let mut c = s.clone();
                        c.other_snap = None;
                        c.bridge_profile = None;
                        Box::new(c)
                    })
                };
                let (px, py) = (profile(&x), profile(&y));
                let x_cid = (px.caller.cid_name.clone(), px.caller.cid_num.clone());
                let y_callee = (py.caller.callee_name.clone(), py.caller.callee_num.clone());
                x.modify(|s| {
                    (s.caller.callee_name, s.caller.callee_num) = y_callee;
                    s.bridge_profile = Some(py);
                });
                y.modify(|s| {
                    (s.caller.cid_name, s.caller.cid_num) = x_cid;
                    s.bridge_profile = Some(px);
                });
                // both legs get a new caller profile (Caller-Transfer-Source
                // "...:uuid_br:<other>")
                for (leg, other, a_side) in [(&x, &uy, true), (&y, &ux, false)] {
                    leg.modify(|s| {
                        s.bridged_to = Some(other.clone());
                        s.bridge_peer = Some(other.clone());
                        s.bridge_req = Some(other.clone());
                        s.ubridge = true;
                        s.peer_gone = false;
                        s.other_type = if a_side { "originatee" } else { "originator" };
                        s.caller.transfer_source = format!(
                            "{}:{}:uuid_br:{other}",
                            now / 1_000_000,
                            uuid::Uuid::new_v4()
                        );
                        s.caller.profile_index = s.caller.profile_index.max(1) + 1;
                    });
                }
                format!("+OK {uy}\n")
            }
            _ => "-ERR Invalid uuid\n".into(),
        },
        // mod_commands' uuid_record: start is switch_ivr_record_session_event (as the
        // record_session app), stop is switch_ivr_stop_record_session ("all" or the path)
        "uuid_record" => {
            const USAGE: &str =
                "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n";
            match (a.len() >= 3, a.first().and_then(|u| sess(u))) {
                (false, _) => USAGE.into(),
                (true, None) => "-ERR Cannot locate session!\n".into(),
                (true, Some(s)) => match a[1].to_ascii_lowercase().as_str() {
                    "start" if super::ivr::record_session(&s, a[2]) => "+OK Success\n".into(),
                    "start" => "-ERR Cannot record session!\n".into(),
                    "stop"
                        if super::ivr::recording_path(&s)
                            .is_some_and(|p| a[2] == "all" || a[2] == p) =>
                    {
                        super::ivr::stop_record_session(&s, Some("success-maxtime"));
                        "+OK Success\n".into()
                    }
                    "stop" => "-ERR Cannot stop record session!\n".into(),
                    _ => USAGE.into(),
                },
            }
        }
        "uuid_send_dtmf" => match a.first().and_then(|u| sess(u)) {
            Some(s) if a.len() >= 2 => {
                let (digits, dur) = match a[1].split_once('@') {
                    Some((d, ms)) => (d, ms.parse::<u32>().unwrap_or(250) * 8),
                    None => (a[1], 2000),
                };
                let target = s.with(|st| st.partner.clone().or(st.bridged_to.clone()));
                let t = target.and_then(|t| sess(&t)).unwrap_or(s.clone());
                t.deliver_dtmf(digits, dur, false);
                format!("+OK {} sent DTMF {}.\n", s.uuid(), a[1])
            }
            _ => "-ERR Cannot locate session!\n".into(),
        },
        "hupall" => {
            let cause = a.first().copied().unwrap_or("MANAGER_REQUEST");
            let cause = if known_cause(cause) { cause } else { "MANAGER_REQUEST" };
            let filt = match (a.get(1), a.get(2)) {
                (Some(k), Some(v)) => Some((k.to_string(), v.to_string())),
                _ => None,
            };
            for c in core.chans() {
                let s = Sess::new(core.clone(), c);
                let hit = match &filt {
                    Some((k, v)) => s.with(|st| st.var(k) == Some(v.as_str())),
                    None => true,
                };
                if hit {
                    s.hangup(cause, "switch");
                }
            }
            match filt {
                Some((k, v)) => format!("+OK hangup all channels matching [{k}]=[{v}] with cause: {cause}\n"),
                None => format!("+OK hangup all channels with cause {cause}\n"),
            }
        }
        "fsctl" => {
            if a.first() == Some(&"shutdown") {
                return ("+OK\n".into(), After::Nothing, Effect::Shutdown);
            }
            "+OK\n".into()
        }
        "say_string" => {
            // say_string <module_name>[.<ext>] <lang>[.<ext>] <say_type> <say_method> [<say_gender>] <text>:
            // the language's say module composes the list (no channel, no files opened)
            if a.len() != 5 && a.len() != 6 {
                "-USAGE: <module_name>[.<ext>] <lang> <say_type> <say_method> [<say_gender>] <text>\n".into()
            } else {
                let mext = a[0].split_once('.').map(|x| x.1).unwrap_or("");
                let (lang, lext) = a[1].split_once('.').unwrap_or((a[1], ""));
                let ext = [mext, lext].into_iter().find(|e| !e.is_empty()).unwrap_or("wav");
                let text = a[a.len() - 1];
                let words = core
                    .cfg
                    .say_prefix(lang)
                    .and(super::ivr::say_module(lang))
                    .and_then(|module| say::words(module, a[2], a[3], text, None))
                    .filter(|w| !w.is_empty());
                match words {
                    Some(w) => say::file_string(&w, ext),
                    None => "-ERR no reply\n".into(),
                }
            }
        }
        "version" => "FreeSWITCH Version 1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit (git a88d069 2024-08-02 21:02:27Z 64bit)\n".into(),
        "hostname" => core.cfg.hostname.clone(),
        // mod_commands' global_getvar: the value, unterminated (empty when unset); switch_core
        // sets core_uuid at startup, a new one per process
        "global_getvar" => match arg.trim() {
            "core_uuid" => lock(&core.st).core_uuid.clone(),
            "hostname" => core.cfg.hostname.clone(),
            "" => format!(
                "core_uuid={}\nhostname={}\n",
                lock(&core.st).core_uuid,
                core.cfg.hostname
            ),
            _ => String::new(),
        },
        "echo" => arg.to_string(),
        _ => format!("-ERR {cmd} Command not found!\n"),
    };
    (body, After::Nothing, Effect::None)
}

fn status(core: &Arc<Core>) -> String {
    let up = lock(&core.started).elapsed();
    let up_ms = (up.as_millis() as f64 / core.scale()) as u64;
    let (secs, ms) = (up_ms / 1000, up_ms % 1000);
    let (n, since, peak) = {
        let st = lock(&core.st);
        (st.chans.len(), st.session_id - 1, st.peak_sessions)
    };
    format!(
        "UP 0 years, {} days, {} hours, {} minutes, {} seconds, {} milliseconds, 0 microseconds\n\
FreeSWITCH (Version 1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit) is ready\n\
{since} session(s) since startup\n\
{n} session(s) - peak {peak}, last 5min {peak} \n\
0 session(s) per Sec out of max 30, peak {peak}, last 5min {peak} \n\
{} session(s) max\n\
min idle cpu 0.00/99.00\n\
Current Stack Size/Max 240K/8192K\n",
        secs / 86400,
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60,
        ms,
        core.cfg.max_sessions
    )
}
