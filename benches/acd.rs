//! ACD figure for `make bench`: 1,000 callers wait in one queue, then 100 operators log in
//! over the HTTP API one at a time. For each, the time from just before the request that
//! makes the operator ready to the moment contactd's `bgapi originate … user/<ext>` for
//! that operator's phone was read off the simulator's socket. contactd runs as its own
//! process (the release binary) on loopback Redis and PostgreSQL.

use std::time::{Duration, Instant};

use contactd::sim::{self, AfterAnswer, Behaviour, CallerStep, Simulator};

use crate::campaign::{config_text, redis_url, spawn_contactd, Scratch};

const CALLERS: usize = 1000;
const OPERATORS: usize = 100;
const FIRST_EXT: usize = 2001;
/// The token `config_text` configures.
const TOKEN: &str = "bench-token-0123456789";
/// Between two callers' arrivals: 1,000 in about 5 s.
const ARRIVAL_GAP: Duration = Duration::from_millis(5);
const START_TIMEOUT: Duration = Duration::from_secs(30);
const QUEUE_TIMEOUT: Duration = Duration::from_secs(90);
const ORIGINATE_TIMEOUT: Duration = Duration::from_secs(20);

/// CPU time (user + system) of a process so far, ms.
pub fn proc_cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks * 10.0
}

/// Redis's own CPU time (ms) and commands processed so far, from `INFO`.
async fn redis_counters() -> Option<(f64, u64)> {
    let client = redis::Client::open(redis_url()).ok()?;
    let mut c = client.get_multiplexed_async_connection().await.ok()?;
    let info: String = redis::cmd("INFO")
        .arg("all")
        .query_async(&mut c)
        .await
        .ok()?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let cpu = (field("used_cpu_user")? + field("used_cpu_sys")?) * 1000.0;
    Some((cpu, field("total_commands_processed")? as u64))
}

/// What contactd and Redis spent over a stretch of the run.
struct Usage {
    at: Instant,
    contactd_ms: f64,
    redis: Option<(f64, u64)>,
}

impl Usage {
    async fn now(pid: u32) -> Self {
        Self {
            at: Instant::now(),
            contactd_ms: proc_cpu_ms(pid),
            redis: redis_counters().await,
        }
    }

    /// "contactd N% of a core, Redis M% at K commands/s" since `self`.
    async fn since(&self, pid: u32) -> String {
        let end = Self::now(pid).await;
        let secs = end.at.duration_since(self.at).as_secs_f64().max(1e-3);
        let mut s = format!(
            "{secs:.1} s: contactd {:.0}% of a core",
            (end.contactd_ms - self.contactd_ms) / secs / 10.0
        );
        if let (Some((c0, n0)), Some((c1, n1))) = (self.redis, end.redis) {
            s.push_str(&format!(
                ", Redis {:.0}% at {:.0} commands/s",
                (c1 - c0) / secs / 10.0,
                (n1.saturating_sub(n0)) as f64 / secs
            ));
        }
        s
    }
}

pub(crate) fn free_addr() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], contactd::store::scratch::free_port()))
}

/// Nearest-rank percentile of sorted values.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Operators `op<ext>` on `user/<ext>` with `skill` at level 5, in PostgreSQL before
/// contactd starts: it loads them into Redis (`sync_all`).
pub(crate) async fn operators_in_pg(
    s: &Scratch,
    exts: impl Iterator<Item = usize>,
    skill: &str,
) -> Result<(), String> {
    let pool = contactd::store::postgres::pool(&s.db.url, 4).map_err(|e| e.to_string())?;
    contactd::store::migrate::run(&pool)
        .await
        .map_err(|e| format!("migrate: {e}"))?;
    let ops = contactd::store::operators::Operators::new(pool.clone());
    for ext in exts {
        let login = format!("op{ext}");
        let id = ops
            .create(&login, &format!("Operator {ext}"), &format!("user/{ext}"))
            .await
            .map_err(|e| format!("operator {login}: {e}"))?;
        ops.set_skill(id, skill, 5)
            .await
            .map_err(|e| format!("operator {login} skill: {e}"))?;
    }
    Ok(())
}

/// contactd's config for `sim` with its outbound socket and HTTP API on fixed free ports
/// (the simulator's calls connect to the first) and `dir/recordings` made; then `[daemon]`.
pub(crate) fn daemon_config(
    s: &Scratch,
    sim: &Simulator,
    dir: &std::path::Path,
) -> Result<(String, std::net::SocketAddr, std::net::SocketAddr), String> {
    let (outbound, http) = (free_addr(), free_addr());
    let mut text = config_text(s, sim.esl_addr().port(), "", &http.to_string());
    text = text.replace(
        "listen = \"127.0.0.1:0\"\n[http]",
        &format!("listen = \"{outbound}\"\n[http]"),
    );
    let recordings = dir.join("recordings");
    std::fs::create_dir_all(&recordings).map_err(|e| e.to_string())?;
    text.push_str(&format!(
        "[daemon]\nrecordings_dir = \"{}\"\n",
        recordings.display()
    ));
    Ok((text, outbound, http))
}

/// Callers waiting in queue `general`, from `GET /api/v1/acd/queues`.
async fn queue_waiting(client: &reqwest::Client, base: &str) -> Result<usize, String> {
    let r = client
        .get(format!("{base}/api/v1/acd/queues"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .map_err(|e| format!("GET queues: {e}"))?;
    let status = r.status();
    let body = r.text().await.map_err(|e| format!("GET queues: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET queues: {status} {body}"));
    }
    let v: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("GET queues: {e}"))?;
    let general = v
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["name"] == "general"))
        .ok_or_else(|| format!("GET queues: no queue general in {body}"))?;
    Ok(general["waiting"].as_array().map_or(0, Vec::len))
}

/// SIGTERM to contactd (SIGKILL after 10 s), once.
async fn stop(child: &mut Option<tokio::process::Child>) {
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
}

/// (p99 ms, samples): ready → originate on the switch with 1,000 callers waiting.
pub async fn routing_ready_to_command() -> (f64, usize) {
    let started = Instant::now();
    let s = Scratch::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child: Option<tokio::process::Child> = None;
    let result = run(&s, dir.path(), &mut child).await;
    stop(&mut child).await;
    s.drop_now().await;
    match result {
        Ok(lat) => {
            eprintln!("acd: group took {:.1} s", started.elapsed().as_secs_f64());
            (ms(percentile(&lat, 99.0)), lat.len())
        }
        Err(e) => panic!("acd bench: {e}"),
    }
}

async fn run(
    s: &Scratch,
    dir: &std::path::Path,
    child: &mut Option<tokio::process::Child>,
) -> Result<Vec<Duration>, String> {
    let exts: Vec<String> = (FIRST_EXT..FIRST_EXT + OPERATORS)
        .map(|e| e.to_string())
        .collect();
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 1.0,
        heartbeat_ms: 0,
        max_sessions: 5000,
        // every caller's events go to contactd's control link: room for the arrivals
        event_queue: 100_000,
        agents: exts
            .iter()
            .map(|e| {
                (
                    e.clone(),
                    Behaviour::Answer {
                        ring_ms: 200,
                        after: AfterAnswer::Stay,
                    },
                )
            })
            .collect(),
        ..Default::default()
    })
    .await
    .map_err(|e| format!("simulator: {e}"))?;

    operators_in_pg(s, FIRST_EXT..FIRST_EXT + OPERATORS, "general").await?;
    let (mut text, outbound, http) = daemon_config(s, &sim, dir)?;
    text.push_str(
        r#"[acd]
ring_timeout_seconds = 30
wrap_up_seconds = 3600
announce_every_seconds = 0
[acd.queue.general]
group = "general"
max_waiting = 5000
max_wait_seconds = 0
"#,
    );
    contactd::config::Config::from_toml(&text)
        .and_then(|c| c.validate().map(|_| c))
        .map_err(|e| format!("config: {e}"))?;
    let cfg_path = dir.join("contactd.toml");
    std::fs::write(&cfg_path, &text).map_err(|e| e.to_string())?;
    let c = child.insert(spawn_contactd(&cfg_path));
    let pid = c.id().ok_or("contactd exited at once")?;

    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let base = format!("http://{http}");

    // Up when /healthz says PostgreSQL, Redis and the switch are reachable.
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
        if t.elapsed() > START_TIMEOUT {
            return Err(format!("contactd not healthy after {START_TIMEOUT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 1,000 callers dial the queue's own number, a little apart.
    let usage = Usage::now(pid).await;
    let t = Instant::now();
    for i in 0..CALLERS {
        sim.inbound_call(sim::InboundCall {
            connect_to: outbound.to_string(),
            destination: "250300".into(),
            caller_number: format!("8916555{i:04}"),
            vars: vec![
                ("contactd_entry".into(), "trunk".into()),
                ("contactd_code".into(), "queue_general".into()),
            ],
            script: vec![CallerStep::WaitForAnswer],
            ..Default::default()
        })
        .map_err(|e| format!("caller {i}: {e}"))?;
        tokio::time::sleep(ARRIVAL_GAP).await;
    }
    let placed = t.elapsed();
    let (mut seen, mut last_error) = (0, String::new());
    loop {
        match queue_waiting(&client, &base).await {
            Ok(n) => seen = n,
            Err(e) => last_error = format!("; last error: {e}"),
        }
        if seen >= CALLERS {
            break;
        }
        if t.elapsed() > QUEUE_TIMEOUT {
            return Err(format!(
                "after {QUEUE_TIMEOUT:?} only {seen} of {CALLERS} callers wait in queue general \
                 ({} channels live on the switch){last_error}",
                sim.live_channels().len()
            ));
        }
        if let Ok(Some(st)) = c.try_wait() {
            return Err(format!("contactd exited while callers arrived: {st}"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "acd: {CALLERS} callers placed in {:.1} s, all waiting after {:.1} s; arrivals {}",
        placed.as_secs_f64(),
        t.elapsed().as_secs_f64(),
        usage.since(pid).await
    );
    // What 1,000 callers waiting with nothing to do cost.
    let usage = Usage::now(pid).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    eprintln!(
        "acd: {CALLERS} waiting, no operator, {}",
        usage.since(pid).await
    );

    let usage = Usage::now(pid).await;
    let mut lat = Vec::with_capacity(OPERATORS);
    let mut http_rtt = Vec::with_capacity(OPERATORS);
    for ext in &exts {
        let needle = format!("}}user/{ext} ");
        let from = sim.api_log_len();
        let t0 = Instant::now();
        let r = client
            .post(format!("{base}/api/v1/operators/op{ext}/state"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(r#"{"state":"login"}"#)
            .send()
            .await
            .map_err(|e| format!("login op{ext}: {e}"))?;
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        http_rtt.push(t0.elapsed());
        if !status.is_success() || !body.contains("\"ready\"") {
            return Err(format!("login op{ext}: {status} {body}"));
        }
        // The simulator's record of the ringing phone says when to look in its command log.
        let mut looked = Instant::now();
        let t1 = loop {
            if !sim.agent_offers(ext).is_empty() || looked.elapsed() > Duration::from_millis(250) {
                looked = Instant::now();
                let log = sim.api_log_timed_since(from);
                let hit = log.iter().find(|(_, l)| {
                    l.strip_prefix("bgapi originate ")
                        .is_some_and(|r| r.contains(&needle))
                });
                if let Some((at, _)) = hit {
                    break *at;
                }
            }
            if t0.elapsed() > ORIGINATE_TIMEOUT {
                return Err(format!(
                    "no originate for user/{ext} within {ORIGINATE_TIMEOUT:?} of op{ext} logging in \
                     ({} originates so far, {} callers waiting)",
                    lat.len(),
                    queue_waiting(&client, &base).await.unwrap_or(0)
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        lat.push(t1.saturating_duration_since(t0));
        // BENCH_ACD_DIAG: for each login slower than 3 ms, the commands the switch read
        // between the login and its originate (what the originate queued behind)
        if std::env::var_os("BENCH_ACD_DIAG").is_some()
            && t1.saturating_duration_since(t0) > Duration::from_millis(3)
        {
            let log = sim.api_log_timed_since(from);
            let lines: Vec<String> = log
                .iter()
                .filter(|(at, _)| *at <= t1)
                .map(|(at, l)| {
                    format!(
                        "  +{:.2} {}",
                        at.saturating_duration_since(t0).as_secs_f64() * 1000.0,
                        l.chars().take(60).collect::<String>()
                    )
                })
                .collect();
            eprintln!(
                "DIAG op{ext} log {from} {:.2} ms http {:.2} ms\n{}",
                ms(t1.saturating_duration_since(t0)),
                ms(*http_rtt.last().unwrap()),
                lines.join("\n")
            );
        }
    }
    let phase = usage.since(pid).await;
    let left = queue_waiting(&client, &base).await?;
    if left != CALLERS - OPERATORS {
        return Err(format!(
            "{left} callers still wait after {OPERATORS} offers; expected {}",
            CALLERS - OPERATORS
        ));
    }
    let mut sorted = lat.clone();
    sorted.sort();
    http_rtt.sort();
    eprintln!(
        "acd: ready → originate over {} operators: median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms \
         (HTTP response median {:.2} ms, max {:.2} ms); logins {phase}",
        sorted.len(),
        ms(percentile(&sorted, 50.0)),
        ms(percentile(&sorted, 90.0)),
        ms(percentile(&sorted, 99.0)),
        ms(percentile(&sorted, 100.0)),
        ms(percentile(&http_rtt, 50.0)),
        ms(percentile(&http_rtt, 100.0)),
    );
    if std::env::var_os("BENCH_ACD_SAMPLES").is_some() {
        let all: Vec<String> = lat.iter().map(|d| format!("{:.1}", ms(*d))).collect();
        eprintln!("acd: samples in login order (ms): {}", all.join(" "));
    }
    // contactd stops before the simulator goes, so it does not log the switch vanishing
    // under the offers still ringing.
    stop(child).await;
    Ok(sorted)
}
