//! Campaign figures for `make bench`: line utilisation on the seed scenario, list import
//! time and contactd's peak memory while dialing a 200,000-subscriber list on 120 lines.

use std::time::{Duration, Instant};

use contactd::app::App;
use contactd::config::Config;
use contactd::sim::{self, AfterAnswer, Behaviour, Simulator};
use contactd::store::campaigns::{Campaigns, NewCampaign};
use contactd::store::redis::LiveState;
use contactd::store::scratch::{run_id, ScratchDb};

pub fn pg_server() -> String {
    std::env::var("CONTACTD_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("CONTACTD_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

pub struct Scratch {
    pub db: ScratchDb,
    pub prefix: String,
}

impl Scratch {
    pub async fn new() -> Self {
        Self {
            db: ScratchDb::create(&pg_server(), "contactd_bench")
                .await
                .unwrap(),
            prefix: format!("contactd_bench:{}:", run_id()),
        }
    }
    pub async fn drop_now(self) {
        let _ = self.db.drop_now().await;
        if let Ok(l) = LiveState::connect(&redis_url(), &self.prefix).await {
            let _ = l.purge_prefix().await;
        }
    }
}

/// contactd as its own process, so its CPU time and memory can be read from /proc.
pub fn spawn_contactd(config: &std::path::Path) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
        .args(["run", "--config"])
        .arg(config)
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Peak resident memory (VmHWM) of a process, in MB.
pub fn proc_hwm_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

pub fn config_text(s: &Scratch, esl_port: u16, trunk: &str, http: &str) -> String {
    format!(
        r#"
[switch.fs1]
host = "127.0.0.1"
port = {esl_port}
password = "ClueCon"
{trunk}
[outbound]
listen = "127.0.0.1:0"
[http]
listen = "{http}"
token = "bench-token-0123456789"
[redis]
url = "{}"
prefix = "{}"
[postgres]
url = "{}"
pool_size = 16
[log]
level = "warn"
[prompts]
dir = "{}"
language = "en"
"#,
        redis_url(),
        s.prefix,
        s.db.url,
        crate::prompts::dir().display()
    )
}

/// A list file of `n` subscribers written as it goes (a 2,000,000-row list is ~90 MB).
pub fn write_list(path: &std::path::Path, n: usize, prefix: &str) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(b"phone,name,account\n").unwrap();
    // ten digits after +7, whatever the prefix's length
    let width = 10 - prefix.len();
    for i in 0..n {
        writeln!(f, "+7{prefix}{i:0width$},Subscriber {i},ACC{i:07}").unwrap();
    }
    f.flush().unwrap();
}

pub fn campaign(list: i32, trunk: &str, lines: i32) -> NewCampaign {
    NewCampaign {
        name: "bench".into(),
        trunk: trunk.into(),
        lines,
        window_days: "mon-sun".into(),
        window_start: "00:00".into(),
        window_end: "23:59".into(),
        max_attempts: 1,
        retry_busy_s: 1,
        retry_no_answer_s: 1,
        ring_s: 10,
        ..NewCampaign::with_defaults(&Default::default(), list, MESSAGE, "bench")
    }
}

/// The campaigns' message: a virtual file the simulator plays as long as `media_ms` says.
pub const MESSAGE: &str = "/var/lib/contactd/recordings/campaigns/bench.wav";

/// The seed scenario with short calls: 300 subscribers, 5 lines on an E1 span.
pub async fn line_utilisation() -> f64 {
    let s = Scratch::new().await;
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 0.02,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        default_behaviour: Behaviour::Answer {
            ring_ms: 2000,
            after: AfterAnswer::Stay,
        },
        media_ms: [(MESSAGE.to_string(), 10_000)].into(),
        heartbeat_ms: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let trunk = format!(
        "[trunk.e1]\nswitch = \"fs1\"\nkind = \"e1\"\nchannels = 30\ndial = \"freetdm/1/a/{{number}}\"\nrelease_guard_ms = {}",
        sim.trunk_guard_ms()
    );
    let cfg = Config::from_toml(&config_text(
        &s,
        sim.esl_addr().port(),
        &trunk,
        "127.0.0.1:0",
    ))
    .unwrap();
    let dialing = cfg.dialing.clone();
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("list.csv");
    write_list(&csv, 300, "9161");
    contactd::store::lists::import_csv(
        &app.shared.pool,
        &csv,
        contactd::core::lists::ImportOptions {
            list_number: 1,
            name: "seed".into(),
            replace: false,
        },
        &dialing,
    )
    .await
    .unwrap();
    let store = Campaigns::new(app.shared.pool.clone());
    let (id, _) = store.create(&campaign(1, "e1", 5)).await.unwrap();
    let start = Instant::now();
    loop {
        let c = store.get(id).await.unwrap().unwrap();
        if c.state == "finished" || start.elapsed() > Duration::from_secs(300) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // busy line-seconds (each attempt from write to end) over lines × campaign time
    let db = app.shared.pool.get().await.unwrap();
    let r = db
        .query_one(
            "SELECT (SELECT sum(extract(epoch FROM ended_at - created_at)) FROM attempts WHERE campaign_id = $1)::float8,
                    (SELECT extract(epoch FROM finished_at - created_at) FROM campaigns WHERE id = $1)::float8",
            &[&id],
        )
        .await
        .unwrap();
    let (busy, span): (f64, f64) = (r.get(0), r.get(1));
    // where the idle time goes: before the first attempt, after the last, and between them
    let r = db
        .query_one(
            "SELECT extract(epoch FROM (SELECT min(created_at) FROM attempts WHERE campaign_id = $1) - c.created_at)::float8,
                    extract(epoch FROM c.finished_at - (SELECT max(ended_at) FROM attempts WHERE campaign_id = $1))::float8,
                    (SELECT avg(extract(epoch FROM ended_at - created_at)) FROM attempts WHERE campaign_id = $1)::float8
             FROM campaigns c WHERE c.id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let (first, last, avg): (f64, f64, f64) = (r.get(0), r.get(1), r.get(2));
    eprintln!(
        "line utilisation: first attempt {:.0} ms after the campaign, finished {:.0} ms after the last call; average attempt {:.0} ms",
        first * 1000.0,
        last * 1000.0,
        avg * 1000.0
    );
    // Each line's idle time between a call's end and the next attempt: with the lines busy
    // throughout, the i-th end (in time) frees the line the (i+5)-th attempt takes.
    let rows = db
        .query(
            "SELECT extract(epoch FROM created_at)::float8, extract(epoch FROM ended_at)::float8
             FROM attempts WHERE campaign_id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let mut starts: Vec<f64> = rows.iter().map(|r| r.get(0)).collect();
    let mut ends: Vec<f64> = rows.iter().map(|r| r.get(1)).collect();
    starts.sort_by(f64::total_cmp);
    ends.sort_by(f64::total_cmp);
    let mut gaps: Vec<f64> = ends
        .iter()
        .zip(starts.iter().skip(5))
        .map(|(e, s)| (s - e) * 1000.0)
        .collect();
    gaps.sort_by(f64::total_cmp);
    if !gaps.is_empty() {
        let q = |p: f64| gaps[((gaps.len() - 1) as f64 * p) as usize];
        eprintln!(
            "line utilisation: a line's idle gap between calls: median {:.1} ms, p90 {:.1} ms, max {:.1} ms, total {:.2} line-s",
            q(0.5),
            q(0.9),
            q(1.0),
            gaps.iter().sum::<f64>() / 1000.0
        );
    }
    drop(db);
    app.shutdown(Duration::from_secs(1)).await;
    s.drop_now().await;
    eprintln!("line utilisation: {busy:.1} busy line-s over 5 lines x {span:.1} s");
    100.0 * busy / (5.0 * span)
}

/// `n` subscribers: import time (library, as `contactd lists import`), then contactd as its
/// own process dialing them on `lines` lines for `dial_for` (bounded in time: the list is
/// not dialed to its end; the peak RSS is read once contactd has dialed at steady state for
/// that long, its dialer paging targets from PostgreSQL); its peak RSS from /proc.
pub async fn list_dial(n: usize, lines: u32, dial_for: Duration) -> (f64, f64, i64) {
    let s = Scratch::new().await;
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 0.02,
        trunks: vec![sim::TrunkConfig {
            name: "gw1".into(),
            kind: sim::TrunkKind::Gateway,
            channels: lines,
        }],
        default_behaviour: Behaviour::Answer {
            ring_ms: 500,
            after: AfterAnswer::Stay,
        },
        media_ms: [(MESSAGE.to_string(), 2000)].into(),
        heartbeat_ms: 0,
        event_queue: 200_000,
        ..Default::default()
    })
    .await
    .unwrap();
    let trunk = format!("[trunk.sip]\nswitch = \"fs1\"\nkind = \"sip\"\nchannels = {lines}\ndial = \"sofia/gateway/gw1/{{number}}\"\n[campaigns]\ntrunk = \"sip\"\n[dialing]\ndial_format = \"e164\"");
    let http = std::net::SocketAddr::from(([127, 0, 0, 1], contactd::store::scratch::free_port()));
    let text = config_text(&s, sim.esl_addr().port(), &trunk, &http.to_string());
    let cfg = Config::from_toml(&text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pool = contactd::store::postgres::pool(&s.db.url, 4).unwrap();
    contactd::store::migrate::run(&pool).await.unwrap();
    let csv = dir.path().join("list.csv");
    // ten digits after +7: a shorter prefix leaves room for 2,000,000 numbers
    write_list(&csv, n, if n > 1_000_000 { "916" } else { "9165" });
    let t = Instant::now();
    let rep = contactd::store::lists::import_csv(
        &pool,
        &csv,
        contactd::core::lists::ImportOptions {
            list_number: 2,
            name: "marketing".into(),
            replace: false,
        },
        &cfg.dialing,
    )
    .await
    .unwrap();
    let import_s = t.elapsed().as_secs_f64();
    assert_eq!(rep.accepted, n as u64);

    let cfg_path = dir.path().join("contactd.toml");
    std::fs::write(&cfg_path, &text).unwrap();
    let mut child = spawn_contactd(&cfg_path);
    let pid = child.id().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let store = Campaigns::new(pool.clone());
    let (id, _) = store
        .create(&campaign(2, "sip", lines as i32))
        .await
        .unwrap();
    let t = Instant::now();
    while t.elapsed() < dial_for {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let done = store.progress(id).await.unwrap().done;
    let rss_mb = proc_hwm_mb(pid);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    eprintln!(
        "{n} list: import {import_s:.2} s; dialed {done} subscribers in {:?} on {lines} lines (peak on the switch {}); contactd peak RSS {:.1} MB",
        dial_for,
        sim.peak_channels_on("gw1"),
        rss_mb
    );
    s.drop_now().await;
    (import_s, rss_mb, done)
}
