//! `failover_takeover_s`: two contactd processes share Redis, PostgreSQL and the switch;
//! the one driving a campaign is SIGKILLed mid-campaign and the time until the switch
//! receives the next originate (the simulator's own command log; only the other process
//! is alive to send it) is measured. Three kills in a row, alternating (the killed process
//! is started again as the standby); the worst of the three is the figure.

use std::time::{Duration, Instant};

use contactd::sim::{self, AfterAnswer, Behaviour, Simulator};
use contactd::store::campaigns::{Campaigns, NewCampaign};
use contactd::store::redis::LiveState;

use crate::campaign::{config_text, redis_url, Scratch};

const MESSAGE: &str = "/var/lib/contactd/recordings/campaigns/failover.wav";
const KILLS: usize = 3;

struct Instance {
    name: &'static str,
    cfg: std::path::PathBuf,
    http: u16,
    child: Option<tokio::process::Child>,
}

impl Instance {
    async fn start(&mut self) {
        self.child = Some(crate::campaign::spawn_contactd(&self.cfg));
        let t = Instant::now();
        while !healthy(self.http).await {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{} not healthy",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Some(pid) = c.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            let _ = c.wait().await;
        }
    }
}

async fn healthy(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let _ = s
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out).await;
    out.starts_with("HTTP/1.1 200")
}

use contactd::store::scratch::free_port;

/// Seconds from each SIGKILL of the driving instance to the next originate.
pub async fn takeover_s() -> Vec<f64> {
    let s = Scratch::new().await;
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 0.05,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        default_behaviour: Behaviour::Answer {
            ring_ms: 1000,
            after: AfterAnswer::Stay,
        },
        media_ms: [(MESSAGE.to_string(), 8000)].into(),
        heartbeat_ms: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trunk = format!(
        "[trunk.e1]\nswitch = \"fs1\"\nkind = \"e1\"\nchannels = 30\ndial = \"freetdm/1/a/{{number}}\"\nrelease_guard_ms = {}",
        sim.trunk_guard_ms()
    );
    let mut instances = Vec::new();
    let mut dialing = None;
    for name in ["bench-a", "bench-b"] {
        let http = free_port();
        let spool = dir.path().join(name);
        std::fs::create_dir_all(&spool).unwrap();
        let text = format!(
            "[daemon]\ninstance = \"{name}\"\nspool_dir = \"{}\"\n{}",
            spool.display(),
            config_text(
                &s,
                sim.esl_addr().port(),
                &trunk,
                &format!("127.0.0.1:{http}")
            )
        );
        dialing = Some(contactd::config::Config::from_toml(&text).unwrap().dialing);
        let cfg = dir.path().join(format!("{name}.toml"));
        std::fs::write(&cfg, text).unwrap();
        let mut i = Instance {
            name,
            cfg,
            http,
            child: None,
        };
        i.start().await;
        instances.push(i);
    }
    let pool = contactd::store::postgres::pool(&s.db.url, 2).unwrap();
    let csv = dir.path().join("list.csv");
    let mut rows = String::from("phone,name\n");
    for i in 0..2000 {
        rows.push_str(&format!("+7916300{i:04},S{i}\n"));
    }
    std::fs::write(&csv, rows).unwrap();
    let dialing = dialing.unwrap();
    contactd::store::lists::import_csv(
        &pool,
        &csv,
        contactd::core::lists::ImportOptions {
            list_number: 1,
            name: "failover".into(),
            replace: false,
        },
        &dialing,
    )
    .await
    .unwrap();
    let (id, _) = Campaigns::new(pool.clone())
        .create(&NewCampaign {
            name: "failover".into(),
            trunk: "e1".into(),
            lines: 5,
            window_days: "mon-sun".into(),
            window_start: "00:00".into(),
            window_end: "23:59".into(),
            max_attempts: 1,
            ring_s: 10,
            ..NewCampaign::with_defaults(&Default::default(), 1, MESSAGE, "bench")
        })
        .await
        .unwrap();
    let live = LiveState::connect(&redis_url(), &s.prefix).await.unwrap();
    let mut figures = Vec::new();
    for _ in 0..KILLS {
        // the driver, once it has calls up
        let t = Instant::now();
        let driver = loop {
            let who = contactd::store::drivers::driver(&live, id)
                .await
                .ok()
                .flatten();
            if let Some((w, _)) = who {
                if sim.live_channels_on("1") >= 3 {
                    break w;
                }
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "nobody drives the campaign"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let k = instances
            .iter()
            .position(|i| driver.starts_with(&format!("{}@", i.name)))
            .expect("the driver is one of ours");
        let killed = Instant::now();
        instances[k].kill().await;
        let took = loop {
            let first = sim
                .api_log_timed()
                .into_iter()
                .filter(|(at, c)| *at > killed && c.contains("originate"))
                .map(|(at, _)| at - killed)
                .min();
            if let Some(d) = first {
                break d;
            }
            assert!(
                killed.elapsed() < Duration::from_secs(60),
                "nobody took over"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        eprintln!(
            "failover: {} killed, next originate after {:.2} s",
            instances[k].name,
            took.as_secs_f64()
        );
        figures.push(took.as_secs_f64());
        // the killed one back as the standby
        instances[k].start().await;
    }
    for i in &mut instances {
        i.kill().await;
    }
    drop(live);
    s.drop_now().await;
    figures
}
