//! The switch's task scheduler (switch_scheduler.c) as far as the simulator needs it:
//! mod_dptools' `sched_broadcast` and `sched_cancel` apps and mod_commands' `sched_del` api.
//!
//! A task has a numeric id (one counter for the whole switch, from 1) and a group: a
//! `sched_broadcast` task's group is its channel's uuid, so `sched_del <uuid>` cancels every
//! broadcast scheduled on that channel. Its runtime is in whole epoch seconds (`+N` is the
//! current second plus N), so it fires between N−1 and N seconds after it was scheduled.

use std::sync::Arc;

use super::channel::ChanMsg;
use super::core::{lock, Core};
use super::session::Sess;

/// `sched_broadcast [+|@]<time> <path> [aleg|bleg|both]` run on channel `uuid`: the task's id,
/// or None for what FreeSWITCH logs as "Invalid Args" (fewer than two arguments).
pub fn schedule_broadcast(core: &Arc<Core>, uuid: &str, arg: &str) -> Option<u32> {
    let argv: Vec<&str> = arg.split(' ').filter(|a| !a.is_empty()).collect();
    if argv.len() < 2 {
        return None;
    }
    let now_s = core.now_us().div_euclid(1_000_000);
    let when_s = match argv[0].as_bytes()[0] {
        b'+' => now_s + argv[0][1..].parse::<i64>().unwrap_or(0),
        b'@' => argv[0][1..].parse::<i64>().unwrap_or(0),
        _ => argv[0].parse::<i64>().unwrap_or(0),
    };
    let path = argv[1].to_string();
    let id = {
        let mut st = lock(&core.st);
        st.sched_next += 1;
        let id = st.sched_next;
        st.sched.insert(id, uuid.to_string());
        id
    };
    let wait_sim_ms = (when_s * 1000 - core.now_us() / 1000).max(0) as u64;
    let core2 = core.clone();
    let uuid = uuid.to_string();
    tokio::spawn(async move {
        core2.sleep(wait_sim_ms).await;
        if lock(&core2.st).sched.remove(&id).is_none() {
            return; // deleted (sched_del) meanwhile
        }
        broadcast(&core2, &uuid, &path);
    });
    Some(id)
}

/// `sched_del <id>|<group>`: how many tasks it deleted.
pub fn delete(core: &Core, what: &str) -> usize {
    let mut st = lock(&core.st);
    let before = st.sched.len();
    if !what.is_empty() && what.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(id) = what.parse::<u32>() {
            st.sched.remove(&id);
        }
    } else {
        st.sched.retain(|_, group| group != what);
    }
    before - st.sched.len()
}

/// switch_ivr_broadcast on the A-leg: a `playback` of `path` (or `app::arg`) queued on the
/// channel, as `uuid_broadcast` queues it (false: no such channel).
pub fn broadcast(core: &Arc<Core>, uuid: &str, path: &str) -> bool {
    let Some(c) = core.chan(uuid) else {
        return false;
    };
    let (app, arg) = match path.split_once("::") {
        Some((x, y)) => (x.to_string(), y.to_string()),
        None => ("playback".to_string(), path.to_string()),
    };
    Sess::new(core.clone(), c).modify(|st| {
        st.queue.push_back(ChanMsg::Execute {
            app,
            arg,
            app_uuid: uuid::Uuid::new_v4().to_string(),
            app_uuid_name: None,
            broadcast: true,
            command: Vec::new(),
        })
    });
    true
}
