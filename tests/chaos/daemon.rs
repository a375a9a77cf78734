//! contactd as the sysadmin runs it: the binary with a TOML config, supervised like systemd
//! does (`Restart=on-failure`, restarted 2 s after it dies), its stderr appended to the
//! scenario's log; the CLI (`lists import`, `accounts import`, `campaigns create`) for setup
//! and the HTTP API for operators.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::services::{forget_pid, register_pid, signal};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_contactd");
/// systemd's `RestartSec=2s` (systemd/contactd.service).
pub const RESTART_DELAY: Duration = Duration::from_secs(2);
pub const TOKEN: &str = "chaos-token-0123456789abcdef";

/// Where contactd listens and what it talks to, for one scenario.
pub struct Endpoints {
    pub esl_port: u16,
    pub http_port: u16,
    pub outbound_port: u16,
    pub redis_url: String,
    pub pg_url: String,
    pub smtp_port: u16,
    /// scenario scratch dir (recordings, spool, prompts, messages)
    pub dir: PathBuf,
}

/// Operators of the `general` queue, on phones `user/<ext>`.
pub const OPERATORS: [&str; 3] = ["2001", "2002", "2003"];
/// Lines the campaign may hold, and the channels contactd is told the trunk has.
pub const CAMPAIGN_LINES: u32 = 10;
pub const TRUNK_CAP: u32 = 12;

/// The config file text. `spool_dir` is written only if this contactd knows the key.
pub fn config_text(e: &Endpoints) -> String {
    let d = e.dir.display();
    let days: String = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|x| format!("{x} = \"00:00-24:00\"\n"))
        .collect();
    let body = format!(
        r#"
[switch.fs1]
host = "127.0.0.1"
port = {esl}
password = "ClueCon"
reconnect_min_ms = 100
reconnect_max_ms = 1000

[trunk.e1]
switch = "fs1"
kind = "e1"
channels = {cap}
dial = "freetdm/1/a/{{number}}"

[outbound]
listen = "127.0.0.1:{out}"

[http]
listen = "127.0.0.1:{http}"
token = "{TOKEN}"

[redis]
url = "{redis}"
prefix = "chaos:"

[postgres]
url = "{pg}"
pool_size = 6

[shutdown]
grace_seconds = 1

[prompts]
dir = "{prompts}"
language = "en"

[campaigns]
trunk = "e1"
lines = {lines}
max_attempts = 2
retry_busy_seconds = 2
retry_no_answer_seconds = 2
ring_seconds = 8
window_days = "mon-sun"
window_start = "00:00"
window_end = "23:59"
audio_dir = "{d}/campaigns"

[mail]
smtp_host = "127.0.0.1"
smtp_port = {smtp}
auditors = ["audit@example.org"]
retry_seconds = 60

[ivr]
operator = "queue:general"
max_daily_kwh = 100

[ivr.hours]
{days}
[acd]
ring_timeout_seconds = 5
wrap_up_seconds = 1
announce_every_seconds = 10
music_on_hold = "local_stream://moh"

[acd.queue.general]
group = "general"
max_waiting = 50
max_wait_seconds = 0
{opcamp}"#,
        esl = e.esl_port,
        cap = TRUNK_CAP,
        out = e.outbound_port,
        http = e.http_port,
        redis = e.redis_url,
        pg = e.pg_url,
        lines = CAMPAIGN_LINES,
        smtp = e.smtp_port,
        prompts = crate::prompts::dir().display(),
        opcamp = crate::opcamp::config_text(&e.dir) + &crate::transfers::config_text(),
    );
    // the trunks' release guard: the simulated channels' clearing, on the simulator's clock
    let guard_ms = contactd::sim::trunk_guard_ms(crate::traffic::TIME_SCALE);
    let body = crate::guard::with_guard(&body, guard_ms);
    let daemon = format!("[daemon]\ninstance = \"chaos-1\"\nrecordings_dir = \"{d}/recordings\"\n");
    let with_spool = format!("{daemon}spool_dir = \"{d}/spool\"\n{body}");
    if contactd::config::Config::from_toml(&with_spool).is_ok() {
        with_spool
    } else {
        format!("{daemon}{body}")
    }
}

/// Write the config (and the directories it names); checks it as `check-config` would.
pub fn write_config(e: &Endpoints) -> Result<PathBuf, String> {
    for sub in ["recordings", "spool", "campaigns"] {
        std::fs::create_dir_all(e.dir.join(sub)).map_err(|x| x.to_string())?;
    }
    let text = config_text(e);
    let cfg = contactd::config::Config::from_toml(&text).map_err(|x| x.to_string())?;
    cfg.validate().map_err(|x| x.to_string())?;
    let path = e.dir.join("contactd.toml");
    std::fs::write(&path, text).map_err(|x| x.to_string())?;
    Ok(path)
}

#[derive(Default)]
struct SupState {
    pid: Option<u32>,
    stopping: bool,
    /// real times the daemon was (re)started
    spawns: Vec<Instant>,
    /// exits we did not ask for with SIGKILL/SIGTERM: (time, status)
    unexpected: Vec<(Instant, String)>,
    /// pids we killed on purpose
    killed: Vec<u32>,
}

/// A supervised contactd: restarted [`RESTART_DELAY`] after any exit until [`Daemon::stop`].
pub struct Daemon {
    st: Arc<Mutex<SupState>>,
    task: tokio::task::JoinHandle<()>,
    pub http_port: u16,
}

fn lock(m: &Mutex<SupState>) -> std::sync::MutexGuard<'_, SupState> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Daemon {
    pub fn start(cfg: &Path, log: &Path, http_port: u16) -> Daemon {
        let st = Arc::new(Mutex::new(SupState::default()));
        let (cfg, log, st2) = (cfg.to_path_buf(), log.to_path_buf(), st.clone());
        let task = tokio::spawn(async move {
            loop {
                if lock(&st2).stopping {
                    return;
                }
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .expect("contactd log file");
                let child = tokio::process::Command::new(BIN)
                    .arg("run")
                    .arg("--config")
                    .arg(&cfg)
                    .env("RUST_LOG", "warn")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::from(file))
                    .kill_on_drop(true)
                    .spawn();
                let mut child = match child {
                    Ok(c) => c,
                    Err(e) => panic!("cannot start {BIN}: {e}"),
                };
                let pid = child.id().unwrap_or(0);
                register_pid(pid);
                {
                    let mut s = lock(&st2);
                    s.pid = Some(pid);
                    s.spawns.push(Instant::now());
                }
                let status = child.wait().await;
                forget_pid(pid);
                {
                    let mut s = lock(&st2);
                    s.pid = None;
                    let ours = s.killed.contains(&pid) || s.stopping;
                    if !ours {
                        let what = match status {
                            Ok(x) => x.to_string(),
                            Err(e) => e.to_string(),
                        };
                        s.unexpected.push((Instant::now(), what));
                    }
                    if s.stopping {
                        return;
                    }
                }
                tokio::time::sleep(RESTART_DELAY).await;
            }
        });
        Daemon {
            st,
            task,
            http_port,
        }
    }

    /// SIGKILL the running daemon (the supervisor starts it again after RESTART_DELAY).
    pub fn sigkill(&self) -> bool {
        let pid = {
            let mut s = lock(&self.st);
            let pid = s.pid;
            if let Some(p) = pid {
                s.killed.push(p);
            }
            pid
        };
        pid.is_some_and(|p| signal(p, "KILL"))
    }

    /// Wait until the supervisor has started it again after `since`; the start time.
    pub async fn restarted_after(&self, since: Instant, limit: Duration) -> Option<Instant> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(t) = lock(&self.st).spawns.iter().copied().find(|t| *t > since) {
                return Some(t);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Exits nobody asked for, as text.
    pub fn unexpected_exits(&self) -> Vec<String> {
        let s = lock(&self.st);
        let t0 = s.spawns.first().copied().unwrap_or_else(Instant::now);
        s.unexpected
            .iter()
            .map(|(t, w)| format!("{:.1}s {w}", t.duration_since(t0).as_secs_f64()))
            .collect()
    }

    /// SIGTERM, then SIGKILL after `grace`; no more restarts.
    pub async fn stop(self, grace: Duration) {
        let pid = {
            let mut s = lock(&self.st);
            s.stopping = true;
            s.pid
        };
        if let Some(p) = pid {
            signal(p, "TERM");
            let deadline = Instant::now() + grace;
            while lock(&self.st).pid.is_some() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if let Some(p) = lock(&self.st).pid {
                signal(p, "KILL");
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }

    /// `/healthz` answers 200 (PostgreSQL, Redis and the switch up).
    pub async fn healthy(&self) -> bool {
        http_raw(self.http_port, "GET", "/healthz", None)
            .await
            .is_some_and(|(code, _)| code == 200)
    }

    pub async fn wait_healthy(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.healthy().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}

/// A bare HTTP/1.1 request to 127.0.0.1 (no proxies, no client state): (status, body).
pub async fn http_raw(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Option<(u16, String)> {
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        let body = body.unwrap_or("");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        let text = String::from_utf8_lossy(&out).to_string();
        let code = text.split_whitespace().nth(1)?.parse::<u16>().ok()?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|x| x.1.to_string())
            .unwrap_or_default();
        Some((code, body))
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .ok()
        .flatten()
}

/// `contactd --config CFG ARGS...`: stdout, or the error with its output.
pub async fn cli(cfg: &Path, args: &[&str]) -> Result<String, String> {
    let out = tokio::process::Command::new(BIN)
        .arg("--config")
        .arg(cfg)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "contactd {}: {}\n{text}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The `general` group and the operators on their phones, logged in (ready) over the API.
pub async fn add_operators(http: u16) -> Result<(), String> {
    add_group_operators(http, "general", &OPERATORS).await
}

/// Group `group` (also the name of its queue) and operators `op<ext>` on `user/<ext>` in it,
/// logged in (ready) over the API.
pub async fn add_group_operators(http: u16, group: &str, exts: &[&str]) -> Result<(), String> {
    let call = |m: &'static str, p: String, b: String| async move {
        http_raw(http, m, &p, Some(&b))
            .await
            .ok_or_else(|| format!("{m} {p}: no answer"))
    };
    let (c, b) = call(
        "POST",
        "/api/v1/operator-groups".into(),
        format!(r#"{{"name":"{group}"}}"#),
    )
    .await?;
    if c != 201 && c != 409 {
        return Err(format!("operator group: {c} {b}"));
    }
    for ext in exts {
        let login = format!("op{ext}");
        let (c, b) = call(
            "POST",
            "/api/v1/operators".into(),
            format!(r#"{{"login":"{login}","name":"Operator {ext}","endpoint":"user/{ext}"}}"#),
        )
        .await?;
        if c != 201 && c != 409 {
            return Err(format!("operator {login}: {c} {b}"));
        }
        let (c, b) = call(
            "PUT",
            format!("/api/v1/operators/{login}/skills"),
            format!(r#"{{"{group}":5}}"#),
        )
        .await?;
        if c != 200 {
            return Err(format!("skills of {login}: {c} {b}"));
        }
        let (c, b) = call(
            "POST",
            format!("/api/v1/operators/{login}/state"),
            r#"{"state":"login"}"#.into(),
        )
        .await?;
        if c != 200 {
            return Err(format!("login of {login}: {c} {b}"));
        }
        if !b.contains("ready") {
            let (c, b) = call(
                "POST",
                format!("/api/v1/operators/{login}/state"),
                r#"{"state":"ready"}"#.into(),
            )
            .await?;
            if c != 200 {
                return Err(format!("ready of {login}: {c} {b}"));
            }
        }
    }
    Ok(())
}
