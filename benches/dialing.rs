//! `originates_per_s`: contactd's campaign dialer (its own process, the release binary)
//! sending originates into the simulator as fast as its pacer, PostgreSQL and the switch link
//! allow, every attempt durably written before its originate (`service::dial_batch`).
//!
//! The world lets 1,000/s happen: a SIP gateway of 1,500 channels, five campaigns of 240 lines
//! each (a campaign's most) on five lists of 4,000 subscribers, who answer after 100 ms and
//! hang up 400 ms later (the message is 300 ms long). Bounded in count and time: 20,000
//! subscribers, stopped at 60 s whatever happened. The
//! figure is the steady rate, between the 10th and the 90th percentile originate read off the
//! simulator's own command log (so the start-up and the tail do not count). Checked after:
//! every originated call has its attempt row in PostgreSQL.

use std::time::{Duration, Instant};

use contactd::sim::{self, AfterAnswer, Behaviour, Simulator};
use contactd::store::campaigns::Campaigns;

use crate::campaign::{config_text, spawn_contactd, Scratch, MESSAGE};

const LISTS: usize = 5;
const PER_LIST: usize = 4_000;
const LINES: u32 = 1_500;
const CAMPAIGN_LINES: i32 = 240;
const LIMIT: Duration = Duration::from_secs(60);

/// (originates per second at steady state, originates seen, attempts rows of them missing).
pub async fn originates_per_s() -> (f64, usize, i64) {
    let s = Scratch::new().await;
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 1.0,
        trunks: vec![sim::TrunkConfig {
            name: "gw1".into(),
            kind: sim::TrunkKind::Gateway,
            channels: LINES,
        }],
        default_behaviour: Behaviour::Answer {
            ring_ms: 100,
            after: AfterAnswer::HangupAfter { ms: 400 },
        },
        media_ms: [(MESSAGE.to_string(), 300)].into(),
        heartbeat_ms: 0,
        max_sessions: 5000,
        event_queue: 500_000,
        ..Default::default()
    })
    .await
    .unwrap();
    let trunk = format!(
        "[trunk.sip]\nswitch = \"fs1\"\nkind = \"sip\"\nchannels = {LINES}\ndial = \"sofia/gateway/gw1/{{number}}\"\n[campaigns]\ntrunk = \"sip\"\n[dialing]\ndial_format = \"e164\""
    );
    // Call progress (AMD) off: its detectors' commands per answered call are not the
    // dialer's rate (README "Answering machines and call progress").
    let text = config_text(&s, sim.esl_addr().port(), &trunk, "127.0.0.1:0")
        .replace("pool_size = 16", "pool_size = 32")
        + "[amd]\nnotices = false\n";
    let cfg = contactd::config::Config::from_toml(&text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pool = contactd::store::postgres::pool(&s.db.url, 4).unwrap();
    contactd::store::migrate::run(&pool).await.unwrap();
    for l in 0..LISTS {
        let csv = dir.path().join(format!("list{l}.csv"));
        crate::campaign::write_list(&csv, PER_LIST, &format!("91{l}"));
        contactd::store::lists::import_csv(
            &pool,
            &csv,
            contactd::core::lists::ImportOptions {
                list_number: 10 + l as u16,
                name: format!("rate {l}"),
                replace: false,
            },
            &cfg.dialing,
        )
        .await
        .unwrap();
    }
    let cfg_path = dir.path().join("contactd.toml");
    std::fs::write(&cfg_path, &text).unwrap();
    let mut child = spawn_contactd(&cfg_path);
    let pid = child.id().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // BENCH_PERF=1: a CPU profile of contactd while it dials (perf.data in the cwd).
    let perf = std::env::var_os("BENCH_PERF").map(|_| {
        std::process::Command::new("perf")
            .args([
                "record",
                "-g",
                "-o",
                "/tmp/g4-dialing.perf",
                "-p",
                &pid.to_string(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    });
    let store = Campaigns::new(pool.clone());
    let mut ids = Vec::new();
    for l in 0..LISTS {
        let c = crate::campaign::campaign(10 + l as i32, "sip", CAMPAIGN_LINES);
        ids.push(store.create(&c).await.unwrap().0);
    }
    let bench_cpu_before = crate::acd::proc_cpu_ms(std::process::id()) / 1000.0;
    let t = Instant::now();
    let total = (LISTS * PER_LIST) as i64;
    while t.elapsed() < LIMIT {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut done = 0;
        for id in &ids {
            done += store.progress(*id).await.unwrap().done;
        }
        if done == total {
            break;
        }
    }
    let elapsed = t.elapsed();
    if let Some(p) = perf {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &p.id().to_string()])
            .status();
        let _ = p.wait_with_output();
    }
    eprintln!(
        "dialing: contactd used {:.1} s of CPU; the bench process (the simulator) {:.1} s, over {:.1} s",
        crate::acd::proc_cpu_ms(pid) / 1000.0,
        crate::acd::proc_cpu_ms(std::process::id()) / 1000.0 - bench_cpu_before,
        elapsed.as_secs_f64()
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;

    let log = sim.api_log_timed();
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for (_, l) in &log {
        let k: Vec<&str> = l.split_whitespace().take(2).collect();
        *kinds.entry(k.join(" ")).or_default() += 1;
    }
    eprintln!("dialing: commands the switch read: {kinds:?}");
    let originated: Vec<(Instant, String)> = log
        .into_iter()
        .filter(|(_, l)| l.starts_with("bgapi originate "))
        .collect();
    let uuids: Vec<uuid::Uuid> = originated
        .iter()
        .filter_map(|(_, l)| {
            let v = l.split("origination_uuid=").nth(1)?;
            uuid::Uuid::parse_str(v.get(..36)?).ok()
        })
        .collect();
    let db = pool.get().await.unwrap();
    let found: i64 = db
        .query_one(
            "SELECT count(*) FROM attempts WHERE uuid = ANY($1)",
            &[&uuids],
        )
        .await
        .unwrap()
        .get(0);
    let missing = uuids.len() as i64 - found;
    // written → read by the switch: the simulator's read instants on the wall clock
    let (wall, mono) = (chrono::Utc::now(), Instant::now());
    let read_at: Vec<chrono::DateTime<chrono::Utc>> = originated
        .iter()
        .map(|(at, _)| wall - chrono::Duration::from_std(mono.duration_since(*at)).unwrap())
        .collect();
    let rows = db
        .query(
            "SELECT a.created_at, x.read_at FROM unnest($1::uuid[], $2::timestamptz[]) AS x(u, read_at)
             JOIN attempts a ON a.uuid = x.u",
            &[&uuids, &read_at],
        )
        .await
        .unwrap();
    let lag: Vec<f64> = rows
        .iter()
        .map(|r| {
            let (w, s): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
                (r.get(0), r.get(1));
            (s - w).num_microseconds().unwrap_or(0) as f64 / 1e3
        })
        .collect();
    // the switch's own side: the originate read → its channel created → answered, in
    // simulated (here real) ms, put on the bench's clock
    let truth = sim.ground_truth();
    let ring: Vec<f64> = truth
        .iter()
        .filter_map(|p| Some((p.answered_at_ms? - p.dialed_at_ms) as f64))
        .collect();
    let (sim_now, now) = (sim.sim_ms(), Instant::now());
    let created: std::collections::HashMap<&str, Instant> = truth
        .iter()
        .map(|p| {
            let ago = Duration::from_millis(sim_now.saturating_sub(p.dialed_at_ms));
            (p.uuid.as_str(), now - ago)
        })
        .collect();
    let made: Vec<f64> = originated
        .iter()
        .zip(&uuids)
        .filter_map(|((read, _), u)| {
            let c = created.get(u.to_string().as_str())?;
            Some(c.saturating_duration_since(*read).as_secs_f64() * 1e3)
        })
        .collect();
    // how late contactd noted what the switch did: its answered_at / ended_at against the
    // simulator's own instants (the BACKGROUND_JOB of an answered originate, the hangup)
    let wall_of = |sim_ms: u64| {
        wall - chrono::Duration::from_std(
            mono.duration_since(now - Duration::from_millis(sim_now.saturating_sub(sim_ms))),
        )
        .unwrap()
    };
    let (mut seen, mut ans_at, mut end_at) = (Vec::new(), Vec::new(), Vec::new());
    for p in &truth {
        if let (Ok(u), Some(a), Some(e)) = (
            uuid::Uuid::parse_str(&p.uuid),
            p.answered_at_ms,
            p.ended_at_ms,
        ) {
            seen.push(u);
            ans_at.push(wall_of(a));
            end_at.push(wall_of(e));
        }
    }
    let rows = db
        .query(
            "SELECT extract(epoch FROM a.answered_at - x.ans)::float8 * 1e3,
                    extract(epoch FROM a.ended_at - x.ended)::float8 * 1e3
             FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS x(u, ans, ended)
             JOIN attempts a ON a.uuid = x.u
             WHERE a.answered_at IS NOT NULL AND a.ended_at IS NOT NULL",
            &[&seen, &ans_at, &end_at],
        )
        .await
        .unwrap();
    spread(
        "switch answered → contactd's answered_at",
        rows.iter().map(|r| r.get::<_, f64>(0)).collect(),
    );
    spread(
        "switch hung up → contactd's ended_at",
        rows.iter().map(|r| r.get::<_, f64>(1)).collect(),
    );
    spread("on the switch, originate read → channel created", made);
    spread("on the switch, channel created → answered", ring);
    spread("attempt written → originate read by the switch", lag);
    // where a line's time goes: written → answered → ended, and the calls' own records
    let r = db
        .query_one(
            "SELECT avg(extract(epoch FROM answered_at - created_at))::float8,
                    avg(extract(epoch FROM ended_at - answered_at))::float8,
                    avg(extract(epoch FROM ended_at - created_at))::float8,
                    count(*) FILTER (WHERE ended_at IS NULL)
             FROM attempts",
            &[],
        )
        .await
        .unwrap();
    let (ans, talk, all, open): (Option<f64>, Option<f64>, Option<f64>, i64) =
        (r.get(0), r.get(1), r.get(2), r.get(3));
    eprintln!(
        "dialing: attempt written → answered {:.0} ms, answered → ended {:.0} ms, written → ended {:.0} ms; {open} not ended",
        ans.unwrap_or(0.0) * 1e3,
        talk.unwrap_or(0.0) * 1e3,
        all.unwrap_or(0.0) * 1e3
    );
    let n = originated.len();
    let rate = if n >= 10 {
        let (a, b) = (n / 10, n * 9 / 10);
        let span = originated[b]
            .0
            .duration_since(originated[a].0)
            .as_secs_f64();
        (b - a) as f64 / span.max(1e-3)
    } else {
        0.0
    };
    let mut done = 0;
    for id in &ids {
        done += store.progress(*id).await.unwrap().done;
    }
    eprintln!(
        "dialing: {n} originates ({} uuids read) in {:.1} s, {done} subscribers done; peak {} channels on the gateway; {missing} without an attempt row",
        uuids.len(),
        elapsed.as_secs_f64(),
        sim.peak_channels_on("gw1"),
    );
    drop(db);
    s.drop_now().await;
    (rate, n, missing)
}

/// Prints `what`'s median, p90 and max in ms (nothing when there were no samples).
fn spread(what: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    if ms.is_empty() {
        return;
    }
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p) as usize];
    eprintln!(
        "dialing: {what}: median {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        q(0.5),
        q(0.9),
        q(1.0)
    );
}
