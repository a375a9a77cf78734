//! What the trunk tests share: two simulated switches (each its own ESL port, each with one
//! FreeTDM span `1`), contactd with a trunk on each (`e1a` on fs1, `e1b` on fs2) in the
//! group `all`, subscribers who answer and listen, and the simulators' own records.
#![allow(dead_code)]

use std::time::Duration;

use contactd::app::App;
use contactd::sim::{self, AfterAnswer, Behaviour, PartyRecord, Simulator};
use contactd::store::campaigns::NewCampaign;

use crate::common::TestEnv;

pub const MESSAGE: &str = "/var/lib/contactd/recordings/campaigns/m.wav";

/// One simulated switch with FreeTDM span `1` of `channels`; the message `message_ms` long.
pub async fn switch(channels: u32, message_ms: u64) -> Simulator {
    Simulator::start(sim::SimConfig {
        time_scale: 0.05,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels,
        }],
        default_behaviour: Behaviour::Answer {
            ring_ms: 500,
            after: AfterAnswer::Stay,
        },
        media_ms: [(MESSAGE.to_string(), message_ms)].into(),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// contactd over `a` (switch fs1, trunk e1a of `ca` channels) and `b` (fs2, e1b of `cb`),
/// group `all` in `order`; `extra` is more TOML.
pub async fn daemon(
    env: &TestEnv,
    a: &Simulator,
    ca: u32,
    b: &Simulator,
    cb: u32,
    order: &str,
    extra: &str,
) -> App {
    let mut text = env.config_toml(a.esl_addr(), "ClueCon", &[]);
    text.push_str(&format!(
        r#"
[switch.fs2]
host = "{}"
port = {}
password = "ClueCon"
reconnect_min_ms = 100
reconnect_max_ms = 500
[trunk.e1a]
switch = "fs1"
kind = "e1"
channels = {ca}
dial = "freetdm/1/a/{{number}}"
[trunk.e1b]
switch = "fs2"
kind = "e1"
channels = {cb}
dial = "freetdm/1/a/{{number}}"
[trunk_group.all]
trunks = ["e1a", "e1b"]
order = "{order}"
[campaigns]
trunk = "all"
"#,
        b.esl_addr().ip(),
        b.esl_addr().port(),
    ));
    text.push_str(extra);
    let text = crate::common::guard::for_sim(&text, a);
    let cfg = contactd::config::Config::from_toml(&text).unwrap();
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    app
}

/// A campaign over the group `all` on list `list`, `lines` lines, one attempt each.
pub fn campaign(list: i32, lines: i32) -> NewCampaign {
    NewCampaign {
        lines,
        trunk: "all".into(),
        window_days: "mon-sun".into(),
        window_start: "00:00".into(),
        window_end: "23:59".into(),
        max_attempts: 3,
        retry_busy_s: 1,
        retry_no_answer_s: 1,
        ring_s: 10,
        ..NewCampaign::with_defaults(&Default::default(), list, MESSAGE, "201")
    }
}

pub fn number(i: usize) -> String {
    format!("+7916300{i:04}")
}

/// The simulator's records of the calls it placed for the campaign (answered or not).
pub fn calls(sim: &Simulator) -> Vec<PartyRecord> {
    sim.ground_truth()
        .into_iter()
        .filter(|r| r.number.starts_with("8916300") || r.number.starts_with("7916300"))
        .collect()
}

/// Answered calls on `sim`.
pub fn answered(sim: &Simulator) -> usize {
    calls(sim).iter().filter(|r| r.answered).count()
}

/// Distinct subscribers answered on either switch.
pub fn reached(a: &Simulator, b: &Simulator) -> std::collections::BTreeSet<String> {
    calls(a)
        .into_iter()
        .chain(calls(b))
        .filter(|r| r.answered)
        .map(|r| r.number)
        .collect()
}

/// Waits until the campaign is finished or `limit` passes.
pub async fn finished(app: &App, id: i64, limit: Duration) -> bool {
    crate::common::eventually(limit, || async {
        app.shared.campaigns.get(id).await.unwrap().unwrap().state == "finished"
    })
    .await
}

pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// What `contactd trunks` prints now, the line of `trunk`.
pub async fn trunks_line(app: &App, trunk: &str) -> String {
    let out = contactd::cli::trunks::run(&app.shared.config, chrono::Utc::now())
        .await
        .unwrap();
    out.lines()
        .find(|l| l.starts_with(&format!("{trunk} ")))
        .unwrap_or_default()
        .to_string()
}

/// Imports subscribers `number(0..n)` as list 1.
pub async fn import(app: &contactd::app::App, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("l.csv");
    let mut t = String::from("phone\n");
    for i in 0..n {
        t.push_str(&number(i));
        t.push('\n');
    }
    std::fs::write(&csv, t).unwrap();
    contactd::store::lists::import_csv(
        &app.shared.pool,
        &csv,
        contactd::core::lists::ImportOptions {
            list_number: 1,
            name: "l1".into(),
            replace: false,
        },
        &app.shared.config.dialing,
    )
    .await
    .unwrap();
}

/// The answered records of numbers answered more than once (for failure messages).
pub fn twice(a: &Simulator, b: &Simulator) -> Vec<String> {
    let all: Vec<PartyRecord> = calls(a)
        .into_iter()
        .chain(calls(b))
        .filter(|r| r.answered)
        .collect();
    all.iter()
        .filter(|r| all.iter().filter(|o| o.number == r.number).count() > 1)
        .map(|r| {
            format!(
                "{} {} {:?} heard {} ms, dialed at {} ms, ended {:?} by {:?}",
                r.number,
                r.uuid,
                r.hangup_cause,
                r.heard_ms,
                r.dialed_at_ms,
                r.ended_at_ms,
                r.hangup_by
            )
        })
        .collect()
}

/// Subscribers dialed again after they heard the whole message (the simulator's records:
/// a completed playback), across both switches. Must be empty; a subscriber who heard only
/// part of it may be called again (the campaign's retry rule).
pub fn redialed_after_hearing(a: &Simulator, b: &Simulator) -> Vec<String> {
    let mut all: Vec<PartyRecord> = calls(a).into_iter().chain(calls(b)).collect();
    all.sort_by_key(|r| r.dialed_at_ms);
    let mut heard = std::collections::BTreeMap::<String, u64>::new();
    let mut out = Vec::new();
    for r in &all {
        if let Some(at) = heard.get(&r.number) {
            out.push(format!(
                "{} dialed at {} ms after hearing it by {} ms",
                r.number, r.dialed_at_ms, at
            ));
        }
        if r.playbacks_completed > 0 {
            heard
                .entry(r.number.clone())
                .or_insert(r.ended_at_ms.unwrap_or(r.dialed_at_ms));
        }
    }
    out
}
