//! Wallboard figure for `make bench`: `wallboard_event_to_screen_p99_ms`. contactd runs as
//! its own process (the release binary) against the simulator, on loopback Redis and
//! PostgreSQL, with 100 operators logged in (ready, on another queue's skill, so nobody
//! answers) and a wallboard client connected to `/wallboard/events`. 500 callers then
//! arrive in `general` one after another; for each, the time from the switch handing the
//! call to contactd (the simulator's inbound call, which connects to the outbound socket)
//! to the SSE `live` message that lists that caller, as read by the client. The board grows
//! to 500 callers and 100 operators, so the later messages are the largest.

use std::time::{Duration, Instant};

use contactd::sim::{self, CallerStep, Simulator};

use crate::acd::{daemon_config, ms, operators_in_pg, percentile};
use crate::campaign::{spawn_contactd, Scratch};

const CALLERS: usize = 500;
const OPERATORS: usize = 100;
const FIRST_EXT: usize = 3001;
const TOKEN: &str = "bench-token-0123456789";
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// (p99 ms, samples).
pub async fn event_to_screen() -> (f64, usize) {
    let s = Scratch::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = None;
    let result = run(&s, dir.path(), &mut child).await;
    if let Some(mut c) = child.take() {
        if let Some(pid) = c.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(10), c.wait())
            .await
            .is_err()
        {
            let _ = c.kill().await;
        }
    }
    s.drop_now().await;
    match result {
        Ok(mut lat) => {
            let last: Vec<Duration> = lat[lat.len().saturating_sub(100)..].to_vec();
            lat.sort();
            let mut last = last;
            last.sort();
            eprintln!(
                "wallboard: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; the last 100 (450-500 waiting): p99 {:.2} ms",
                ms(percentile(&lat, 50.0)),
                ms(percentile(&lat, 99.0)),
                ms(*lat.last().unwrap_or(&Duration::ZERO)),
                ms(percentile(&last, 99.0)),
            );
            (ms(percentile(&lat, 99.0)), lat.len())
        }
        Err(e) => panic!("wallboard bench: {e}"),
    }
}

/// Reads the event stream until a `live` message whose data contains `needle`.
async fn until_live_with(
    resp: &mut reqwest::Response,
    buf: &mut Vec<u8>,
    needle: &str,
) -> Result<(), String> {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    loop {
        while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = buf.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&block);
            if text.starts_with("event: live") && text.contains(needle) {
                return Ok(());
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, resp.chunk())
            .await
            .map_err(|_| format!("no live message with {needle} in {EVENT_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?
            .ok_or("event stream ended")?;
        buf.extend_from_slice(&chunk);
    }
}

async fn run(
    s: &Scratch,
    dir: &std::path::Path,
    child: &mut Option<tokio::process::Child>,
) -> Result<Vec<Duration>, String> {
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 1.0,
        heartbeat_ms: 0,
        max_sessions: 5000,
        event_queue: 100_000,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("simulator: {e}"))?;
    operators_in_pg(s, FIRST_EXT..FIRST_EXT + OPERATORS, "meter").await?;
    let (mut text, outbound, http) = daemon_config(s, &sim, dir)?;
    text.push_str(
        r#"[acd]
announce_every_seconds = 0
[acd.queue.general]
group = "general"
max_waiting = 5000
max_wait_seconds = 0
[acd.queue.meter]
group = "meter"
max_wait_seconds = 0
"#,
    );
    contactd::config::Config::from_toml(&text).map_err(|e| format!("config: {e}"))?;
    let cfg_path = dir.join("contactd.toml");
    std::fs::write(&cfg_path, &text).map_err(|e| e.to_string())?;
    let c = child.insert(spawn_contactd(&cfg_path));

    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let base = format!("http://{http}");
    let t = Instant::now();
    loop {
        if let Ok(Some(st)) = c.try_wait() {
            return Err(format!("contactd exited during start-up: {st}"));
        }
        let ok = client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            break;
        }
        if t.elapsed() > Duration::from_secs(30) {
            return Err("contactd not healthy within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for ext in FIRST_EXT..FIRST_EXT + OPERATORS {
        let r = client
            .post(format!("{base}/api/v1/operators/op{ext}/state"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(r#"{"state":"login"}"#)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("login op{ext}: {}", r.status()));
        }
    }

    let login = client
        .post(format!("{base}/wallboard/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={TOKEN}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or("no session cookie")?
        .to_string();
    let mut events = client
        .get(format!("{base}/wallboard/events"))
        .header("cookie", cookie)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !events.status().is_success() {
        return Err(format!("events: {}", events.status()));
    }
    let mut buf = Vec::new();
    // The first snapshot lists the operators.
    until_live_with(
        &mut events,
        &mut buf,
        &format!("op{}", FIRST_EXT + OPERATORS - 1),
    )
    .await?;

    let mut lat = Vec::with_capacity(CALLERS);
    for i in 0..CALLERS {
        let t = Instant::now();
        let call = sim
            .inbound_call(sim::InboundCall {
                connect_to: outbound.to_string(),
                destination: "250300".into(),
                caller_number: format!("555{i:07}"),
                vars: vec![
                    ("contactd_entry".into(), "trunk".into()),
                    ("contactd_code".into(), "queue_general".into()),
                ],
                script: vec![CallerStep::WaitForAnswer],
                ..Default::default()
            })
            .map_err(|e| format!("caller {i}: {e}"))?;
        until_live_with(&mut events, &mut buf, &format!("\"id\":\"{}\"", &call[..8])).await?;
        lat.push(t.elapsed());
    }
    Ok(lat)
}
