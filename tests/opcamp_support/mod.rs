//! Shared by the operator-campaign tests: the simulator with auto-answering operator phones
//! and a trunk, contactd with an ACD queue `general` and `[campaigns.operator]`, operators
//! `op<ext>` logged in, a list imported and an operator campaign started on it, and readers
//! of the records and of the simulator's ground truth (who talked with whom, when the
//! abandon message started).
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use contactd::app::App;
use contactd::service::acd::OperatorCommand;
use contactd::sim::{self, AfterAnswer, Behaviour, Simulator, SubscriberRule};
use contactd::store::campaigns::NewCampaign;
use contactd::store::op_campaigns::{OpCampaign, OpCampaigns};

use crate::common::{self, TestEnv};

pub const TOKEN: &str = "test-token-0123456789";
/// The abandon message: a virtual file of the simulator (`media_ms`), 1.5 s long.
pub const ABANDON: &str = "/var/lib/contactd/prompts/abandon_test.wav";
pub const WAIT: Duration = Duration::from_secs(30);

/// An operator phone that answers by itself at once (what `sip_auto_answer` does).
pub fn auto_answer() -> Behaviour {
    Behaviour::Answer {
        ring_ms: 0,
        after: AfterAnswer::Stay,
    }
}

/// A subscriber who answers after `ring_ms` and hangs up after talking `talk_ms`.
pub fn person(ring_ms: u64, talk_ms: u64) -> Behaviour {
    Behaviour::Answer {
        ring_ms,
        after: AfterAnswer::HangupAfter { ms: talk_ms },
    }
}

/// The number of subscriber `i` as imported, and the rule matching it as dialed.
pub fn number(i: usize) -> String {
    format!("+7916200{i:04}")
}

pub fn rule(i: usize, b: Behaviour) -> SubscriberRule {
    SubscriberRule {
        pattern: format!("200{i:04}$"),
        behaviour: b,
    }
}

pub async fn start(
    env: &TestEnv,
    agents: &[(&str, Behaviour)],
    rules: Vec<SubscriberRule>,
    extra: &str,
) -> (Simulator, App) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let agents: HashMap<String, Behaviour> = agents
        .iter()
        .map(|(e, b)| (e.to_string(), b.clone()))
        .collect();
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 1.0,
        agents,
        rules,
        default_behaviour: person(300, 2000),
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        media_ms: [(ABANDON.to_string(), 1500)].into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut text = env.config_toml(
        sim.esl_addr(),
        "ClueCon",
        &[("e1", 30, "freetdm/1/a/{number}")],
    );
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::fs::create_dir_all("/tmp/contactd-test-recordings").unwrap();
    text.push_str(&format!(
        r#"
[daemon]
instance = "opcamp-test-{n}"
recordings_dir = "/tmp/contactd-test-recordings"
[acd]
ring_timeout_seconds = 5
wrap_up_seconds = 0
[acd.queue.general]
group = "general"
max_waiting = 20
max_wait_seconds = 0
[campaigns]
trunk = "e1"
[campaigns.operator]
abandon_message = "{ABANDON}"
queue = "general"
{extra}
"#
    ));
    let cfg = contactd::config::Config::from_toml(&text).unwrap();
    cfg.validate().unwrap();
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    (sim, app)
}

/// Operators `op<ext>` on `user/<ext>` in `general`, logged in (ready).
pub async fn operators(app: &App, exts: &[&str]) {
    let store = contactd::store::operators::Operators::new(app.shared.pool.clone());
    for ext in exts {
        let login = format!("op{ext}");
        let id = store
            .create(&login, &login, &format!("user/{ext}"))
            .await
            .unwrap();
        store.set_skill(id, "general", 5).await.unwrap();
        app.shared.acd.sync_operator(&login).await.unwrap();
        app.shared
            .acd
            .command(&login, OperatorCommand::Login)
            .await
            .unwrap();
    }
}

/// Imports subscribers `0..n` as list `list` and starts an operator campaign on it.
pub async fn campaign(app: &App, list: u16, n: usize, mode: &str, lines: i32) -> i64 {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("l.csv");
    let mut t = String::from("phone,name,account,plan\n");
    for i in 0..n {
        t.push_str(&format!(
            "{},Subscriber {i},{:07},gold\n",
            number(i),
            1_000_000 + i
        ));
    }
    std::fs::write(&csv, t).unwrap();
    contactd::store::lists::import_csv(
        &app.shared.pool,
        &csv,
        contactd::core::lists::ImportOptions {
            list_number: list,
            name: format!("l{list}"),
            replace: false,
        },
        &app.shared.config.dialing,
    )
    .await
    .unwrap();
    let cfg = &app.shared.config;
    let mut c = NewCampaign::with_defaults(&cfg.campaigns, i32::from(list), ABANDON, "test");
    c.lines = lines;
    c.window_days = "mon-sun".into();
    c.window_start = "00:00".into();
    c.window_end = "23:59".into();
    c.ring_s = 20;
    let (id, _) = OpCampaigns::new(app.shared.pool.clone())
        .create(
            &c,
            &OpCampaign {
                campaign_id: 0,
                mode: mode.into(),
                queue: "general".into(),
                script_url: Some("https://intranet.example/scripts/winter".into()),
            },
        )
        .await
        .unwrap();
    app.opcamp.wake.notify_one();
    id
}

/// `(uuid, answered_by, operator, connected, abandoned, disposition)` of the campaign's calls.
pub async fn calls(
    env: &TestEnv,
    campaign: i64,
) -> Vec<(
    String,
    Option<String>,
    Option<String>,
    bool,
    bool,
    Option<String>,
)> {
    env.pg()
        .await
        .query(
            "SELECT uuid::text, answered_by, operator, connected_at IS NOT NULL,
                    abandoned_at IS NOT NULL, disposition
             FROM operator_calls WHERE campaign_id = $1 ORDER BY answered_at",
            &[&campaign],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect()
}

/// Subscribers of the campaign done.
pub async fn done(env: &TestEnv, campaign: i64) -> i64 {
    env.pg()
        .await
        .query_one(
            "SELECT count(*) FROM campaign_targets WHERE campaign_id = $1 AND status = 'done'",
            &[&campaign],
        )
        .await
        .unwrap()
        .get(0)
}

/// The simulator's record of the subscriber dialed as number `i` (the last call to it).
pub fn subscriber(sim: &Simulator, i: usize) -> Option<sim::PartyRecord> {
    let suffix = format!("200{i:04}");
    sim.ground_truth()
        .into_iter()
        .rev()
        .find(|r| r.number.ends_with(&suffix))
}

/// The operator extension the party's channel was bridged to (by the operator leg's offer).
pub fn talked_with(sim: &Simulator, party: &sim::PartyRecord, exts: &[&str]) -> Option<String> {
    let leg = party.bridged_to.last()?;
    exts.iter()
        .find(|e| sim.agent_offers(e).iter().any(|o| &o.uuid == leg))
        .map(|e| e.to_string())
}

/// Time from the party's answer to the start of the abandon message (simulated ms).
pub fn message_after_answer(party: &sim::PartyRecord) -> Option<u64> {
    let i = party.played.iter().position(|p| p == ABANDON)?;
    Some(party.played_at_ms[i].saturating_sub(party.answered_at_ms?))
}

pub async fn eventually<F, Fut>(f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    common::eventually(WAIT, f).await
}

/// POSTs `body` to `path` with `login`'s own token: (status, JSON).
pub async fn post_as(
    app: &App,
    login: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let token = contactd::http::auth::operator_token(TOKEN, login);
    let resp = reqwest::Client::new()
        .post(format!("http://{}{path}", app.http_addr))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let code = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        code,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}
