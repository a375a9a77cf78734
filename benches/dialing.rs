//! `originates_per_s`: contactd's campaign dialer (its own process, the release binary)
//! sending originates into the simulator as fast as its pacer, PostgreSQL and the switch link
//! allow, every attempt durably written before its originate (`service::dial_batch`).
//!
//! The world lets 1,000/s happen: a SIP gateway of 1,500 channels, a campaign of 1,500 lines,
//! subscribers who answer after 100 ms and hang up 400 ms later (the message is 300 ms long).
//! Bounded in count and time: 20,000 subscribers, stopped at 60 s whatever happened. The
//! figure is the steady rate, between the 10th and the 90th percentile originate read off the
//! simulator's own command log (so the start-up and the tail do not count). Checked after:
//! every originated call has its attempt row in PostgreSQL.

use std::time::{Duration, Instant};

use contactd::sim::{self, AfterAnswer, Behaviour, Simulator};
use contactd::store::campaigns::{Campaigns, NewCampaign};

use crate::campaign::{config_text, spawn_contactd, write_list, Scratch, MESSAGE};

const SUBSCRIBERS: usize = 20_000;
const LINES: u32 = 1_500;
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
    let text = config_text(&s, sim.esl_addr().port(), &trunk, "127.0.0.1:0")
        .replace("pool_size = 16", "pool_size = 32");
    let cfg = contactd::config::Config::from_toml(&text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pool = contactd::store::postgres::pool(&s.db.url, 4).unwrap();
    contactd::store::migrate::run(&pool).await.unwrap();
    let csv = dir.path().join("list.csv");
    write_list(&csv, SUBSCRIBERS, "9167");
    contactd::store::lists::import_csv(
        &pool,
        &csv,
        contactd::core::lists::ImportOptions {
            list_number: 3,
            name: "rate".into(),
            replace: false,
        },
        &cfg.dialing,
    )
    .await
    .unwrap();
    let cfg_path = dir.path().join("contactd.toml");
    std::fs::write(&cfg_path, &text).unwrap();
    let mut child = spawn_contactd(&cfg_path);
    let pid = child.id().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let store = Campaigns::new(pool.clone());
    let c = NewCampaign {
        lines: LINES as i32,
        ..crate::campaign::campaign(3, "sip", LINES as i32)
    };
    let (id, _) = store.create(&c).await.unwrap();
    let t = Instant::now();
    while t.elapsed() < LIMIT {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let p = store.progress(id).await.unwrap();
        if p.done == p.total {
            break;
        }
    }
    let elapsed = t.elapsed();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;

    let originated: Vec<(Instant, String)> = sim
        .api_log_timed()
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
    let done = store.progress(id).await.unwrap().done;
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
