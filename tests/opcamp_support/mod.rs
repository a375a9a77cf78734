//! Shared by the operator-campaign tests: the simulator with auto-answering operator phones
//! and a trunk, contactd with an ACD queue `general` and `[campaigns.operator]`, operators
//! `op<ext>` logged in, a list imported and an operator campaign started on it, and readers
//! of the records and of the simulator's ground truth (who talked with whom, when the
//! abandon message started).
#![allow(dead_code)]

use std::time::Duration;

use contactd::app::App;
use contactd::sim::{self, AfterAnswer, Behaviour, Simulator, SubscriberRule};

use crate::common::{self, TestEnv};

mod setup;
pub use setup::operators;

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

/// The switch of these tests, on the real-time clock: operator phones `agents`,
/// subscribers by `rules` (others answer after 0.3 s and talk 2 s), a 30-channel E1 span
/// `1`, and the abandon message [`ABANDON`].
pub fn sim_config(agents: &[(&str, Behaviour)], rules: Vec<SubscriberRule>) -> sim::SimConfig {
    sim::SimConfig {
        time_scale: 1.0,
        agents: agents
            .iter()
            .map(|(e, b)| (e.to_string(), b.clone()))
            .collect(),
        rules,
        default_behaviour: person(300, 2000),
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        media_ms: [(ABANDON.to_string(), 1500)].into(),
        ..Default::default()
    }
}

pub async fn start(
    env: &TestEnv,
    agents: &[(&str, Behaviour)],
    rules: Vec<SubscriberRule>,
    extra: &str,
) -> (Simulator, App) {
    start_edited(env, agents, rules, extra, |t| t).await
}

/// [`start`] with the config text passed through `edit` first (keys of a section the base
/// config has already, e.g. the switch's reconnect delays).
pub async fn start_edited(
    env: &TestEnv,
    agents: &[(&str, Behaviour)],
    rules: Vec<SubscriberRule>,
    extra: &str,
    edit: impl FnOnce(String) -> String,
) -> (Simulator, App) {
    // RUST_LOG=contactd=debug shows what contactd did when a test fails.
    common::logs::init();
    let sim = Simulator::start(sim_config(agents, rules)).await.unwrap();
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
    let cfg = contactd::config::Config::from_toml(&edit(text)).unwrap();
    cfg.validate().unwrap();
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    (sim, app)
}

/// Imports subscribers `0..n` as list `list` and starts an operator campaign on it.
pub async fn campaign(app: &App, list: u16, n: usize, mode: &str, lines: i32) -> i64 {
    let phones: Vec<String> = (0..n).map(number).collect();
    setup::campaign(app, list, &phones, ABANDON, mode, lines, |c, op| {
        c.ring_s = 20;
        op.script_url = Some("https://intranet.example/scripts/winter".into());
    })
    .await
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
