//! What the campaign tests share: the simulator and a daemon dialing on trunk `e1`, a list
//! imported from numbers, and the originates the switch received.
#![allow(dead_code)]

use std::time::Duration;

use contactd::app::App;
use contactd::sim::{self, AfterAnswer, Behaviour, Simulator};

use crate::common::TestEnv;

/// The campaigns' message: known to the simulator only (`media_ms`).
pub const MESSAGE: &str = "/var/lib/contactd/recordings/campaigns/m.wav";

/// A simulator whose subscribers answer after 0.5 s and stay, the message `message_ms`
/// long, and contactd dialing campaigns on `e1` (`channels` lines; `extra` is more TOML).
pub async fn start(env: &TestEnv, channels: u32, message_ms: u64, extra: &str) -> (Simulator, App) {
    start_with(env, channels, message_ms, extra, |_| {}).await
}

/// [`start`] with subscribers that behave otherwise (`rules`, by dialed number).
pub async fn start_with_rules(
    env: &TestEnv,
    channels: u32,
    message_ms: u64,
    extra: &str,
    rules: Vec<sim::SubscriberRule>,
) -> (Simulator, App) {
    start_with(env, channels, message_ms, extra, |c| c.rules = rules).await
}

/// The simulator [`start`] runs: a 30-channel E1 span (`freetdm/1`) at 1/20 of real time,
/// subscribers who answer after 0.5 s and stay, and the message `message_ms` long.
pub fn sim_config(message_ms: u64) -> sim::SimConfig {
    sim::SimConfig {
        time_scale: 0.05,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        default_behaviour: Behaviour::Answer {
            ring_ms: 500,
            after: AfterAnswer::Stay,
        },
        // the message, a virtual file (the prompts are the generated ones)
        media_ms: [(MESSAGE.to_string(), message_ms)].into(),
        ..Default::default()
    }
}

/// [`start`] with the simulator's configuration changed by `tune` first (subscribers by
/// number, time scale...).
pub async fn start_with(
    env: &TestEnv,
    channels: u32,
    message_ms: u64,
    extra: &str,
    tune: impl FnOnce(&mut sim::SimConfig),
) -> (Simulator, App) {
    let mut cfg = sim_config(message_ms);
    tune(&mut cfg);
    let sim = Simulator::start(cfg).await.unwrap();
    let mut text = env.config_toml(
        sim.esl_addr(),
        "ClueCon",
        &[("e1", channels, "freetdm/1/a/{number}")],
    );
    text.push_str("[campaigns]\ntrunk = \"e1\"\n");
    text.push_str(extra);
    let text = crate::common::guard::for_sim(&text, &sim);
    let cfg = contactd::config::Config::from_toml(&text).unwrap();
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    (sim, app)
}

/// Imports `numbers` as list `list` (named `l<list>`).
pub async fn import(app: &App, list: u16, numbers: impl IntoIterator<Item = String>) {
    import_into(&app.shared.pool, &app.shared.config.dialing, list, numbers).await
}

/// [`import`] through a pool of its own (for a daemon run as its own process).
pub async fn import_into(
    pool: &deadpool_postgres::Pool,
    dialing: &contactd::config::DialingConfig,
    list: u16,
    numbers: impl IntoIterator<Item = String>,
) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("l.csv");
    let mut t = String::from("phone\n");
    for n in numbers {
        t.push_str(&n);
        t.push('\n');
    }
    std::fs::write(&csv, t).unwrap();
    contactd::store::lists::import_csv(
        pool,
        &csv,
        contactd::core::lists::ImportOptions {
            list_number: list,
            name: format!("l{list}"),
            replace: false,
        },
        dialing,
    )
    .await
    .unwrap();
}

/// The `originate` commands the switch received.
pub fn originates(sim: &Simulator) -> Vec<String> {
    sim.api_log()
        .into_iter()
        .filter(|c| c.contains("originate"))
        .collect()
}

/// How many times the switch was sent an originate for `dialed` (the number as the trunk
/// sees it).
pub fn times_dialed(sim: &Simulator, dialed: &str) -> usize {
    originates(sim)
        .iter()
        .filter(|c| c.contains(dialed))
        .count()
}

/// Creates a 1-line campaign over list `list` that may call at any hour, each subscriber
/// once (ringing 10 s): its id.
pub async fn one_line_all_day(app: &App, list: i32) -> i64 {
    app.shared
        .campaigns
        .create(&contactd::store::campaigns::NewCampaign {
            lines: 1,
            window_days: "mon-sun".into(),
            window_start: "00:00".into(),
            window_end: "23:59".into(),
            max_attempts: 1,
            ring_s: 10,
            ..contactd::store::campaigns::NewCampaign::with_defaults(
                &Default::default(),
                list,
                MESSAGE,
                "cli",
            )
        })
        .await
        .unwrap()
        .0
}

/// Subscribers of campaign `id` without an outcome, in PostgreSQL.
pub async fn unsettled(pg: &tokio_postgres::Client, id: i64) -> i64 {
    pg.query_one(
        "SELECT count(*) FROM campaign_targets WHERE campaign_id = $1 AND outcome IS NULL",
        &[&id],
    )
    .await
    .unwrap()
    .get(0)
}
