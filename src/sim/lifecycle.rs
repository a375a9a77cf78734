//! Life cycle of the simulated switch: the accepting listener (refuse/accept),
//! HEARTBEAT / RE_SCHEDULE, graceful shutdown (SHUTDOWN event, SYSTEM_SHUTDOWN
//! hangups, "The system is being shut down." notice, then refused connections),
//! and crash (everything closes at once, no events).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::core::{lock, Core, Ctl};
use super::esl::Conn;
use super::session::Sess;

/// Accept loop on an already bound listener.
pub fn spawn_accept(core: Arc<Core>, l: TcpListener) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let acc = tokio::select! {
                a = l.accept() => a,
                _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {
                    if core.down.load(Ordering::SeqCst) {
                        return; // the port closes: connections are refused
                    }
                    continue;
                }
            };
            let Ok((s, _)) = acc else {
                continue;
            };
            if core.down.load(Ordering::SeqCst) || core.refusing.load(Ordering::SeqCst) {
                drop(s);
                continue;
            }
            tokio::spawn(Conn::serve(core.clone(), s, None));
        }
    })
}

/// Bind (retrying briefly while the old socket is released).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let mut last = None;
    for _ in 0..50 {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("bind failed")))
}

/// HEARTBEAT + RE_SCHEDULE every `heartbeat_ms` simulated ms.
pub fn spawn_heartbeat(core: Arc<Core>) -> Option<JoinHandle<()>> {
    let every = core.cfg.heartbeat_ms;
    if every == 0 {
        return None;
    }
    Some(tokio::spawn(async move {
        loop {
            core.sleep(every).await;
            if core.down.load(Ordering::SeqCst) {
                return;
            }
            let up_ms = (lock(&core.started).elapsed().as_millis() as f64 / core.scale()) as u64;
            let (n, since, peak) = {
                let st = lock(&core.st);
                (st.chans.len(), st.session_id - 1, st.peak_sessions)
            };
            let mut e = core.new_event("HEARTBEAT", "switch_core.c", "send_heartbeat", 95);
            e.add("Event-Info", "System Ready");
            e.add(
                "Up-Time",
                format!(
                    "0 years, {} days, {} hours, {} minutes, {} seconds, {} milliseconds, 0 microseconds",
                    up_ms / 86_400_000,
                    up_ms / 3_600_000 % 24,
                    up_ms / 60_000 % 60,
                    up_ms / 1000 % 60,
                    up_ms % 1000
                ),
            );
            e.add(
                "FreeSWITCH-Version",
                "1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit",
            );
            e.add("Uptime-msec", up_ms.to_string());
            e.add("Session-Count", n.to_string());
            e.add("Max-Sessions", core.cfg.max_sessions.to_string());
            e.add("Session-Per-Sec", "30");
            e.add("Session-Per-Sec-Last", "0");
            e.add("Session-Per-Sec-Max", peak.to_string());
            e.add("Session-Per-Sec-FiveMin", peak.to_string());
            e.add("Session-Since-Startup", since.to_string());
            e.add("Session-Peak-Max", peak.to_string());
            e.add("Session-Peak-FiveMin", peak.to_string());
            e.add("Idle-CPU", "99.000000");
            core.fire(e);
            let mut r = core.new_event(
                "RE_SCHEDULE",
                "switch_scheduler.c",
                "switch_scheduler_execute",
                73,
            );
            r.add("Task-ID", "1");
            r.add("Task-Desc", "heartbeat");
            r.add("Task-Group", "core");
            r.add(
                "Task-Runtime",
                (core.now_us() / 1_000_000 + every as i64 / 1000).to_string(),
            );
            core.fire(r);
        }
    }))
}

/// Graceful shutdown as after `fsctl shutdown`.
pub async fn shutdown(core: &Arc<Core>) {
    if core.down.swap(true, Ordering::SeqCst) {
        return;
    }
    core.sleep(20).await;
    let mut e = core.new_event("SHUTDOWN", "switch_core.c", "switch_core_destroy", 3083);
    e.add("Event-Info", "System Shutting Down");
    core.fire(e);
    for c in core.chans() {
        Sess::new(core.clone(), c).hangup("SYSTEM_SHUTDOWN", "system");
    }
    // let every hangup sequence finish (bounded in real time), then the notices
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    while !core.chans().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    core.sleep(700).await;
    let _ = core.ctl.send(Ctl::Shutdown);
}

/// Spawn a shutdown (from `fsctl shutdown`).
pub fn spawn_shutdown(core: Arc<Core>) {
    tokio::spawn(async move { shutdown(&core).await });
}

/// Crash: close every connection at once, calls vanish without events.
pub fn crash(core: &Arc<Core>) {
    core.down.store(true, Ordering::SeqCst);
    let _ = core.ctl.send(Ctl::Crash);
    lock(&core.st).listeners.clear();
    let now = core.sim_ms();
    for c in core.chans() {
        let mut s = lock(&c.st);
        let mut ended = false;
        if s.hangup_cause.is_none() {
            s.hangup_cause = Some("CRASH".into());
            s.hangup_by = Some("system".into());
            ended = true;
        }
        let air = s.air_update(|| now);
        let uuid = s.uuid.clone();
        drop(s);
        // ground truth: the line dropped with the switch, and the party's dead air ends here
        core.truth_if(&uuid, |r| {
            if let Some(ms) = air {
                r.add_dead_air(ms);
            }
            if ended && r.ended_at_ms.is_none() {
                r.hangup_cause = Some("CRASH".into());
                r.hangup_by = Some("system".into());
                r.ended_at_ms = Some(now);
            }
        });
        c.bump();
    }
    // the operators' phones lose their legs with the switch as well
    let now_us = core.now_us();
    let mut st = lock(&core.st);
    for o in st.offers.values_mut().flatten() {
        if o.ended_at_us.is_none() {
            o.ended_at_us = Some(now_us);
            o.hangup_cause = Some("CRASH".into());
        }
    }
    st.agent_live.values_mut().for_each(|n| *n = 0);
}
