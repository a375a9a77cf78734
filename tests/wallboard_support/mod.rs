//! Shared by the wallboard tests: contactd with a supervisor token and a day's plan (on the
//! ACD tests' simulator setup), headless Chromium driven over the DevTools protocol, and a
//! PNG reader for the screenshots.
#![allow(dead_code)]

pub mod cdp;
pub mod png;

use std::time::Duration;

use contactd::app::App;
use contactd::sim::Simulator;

use crate::common;

pub const SUPERVISOR: &str = "supervisor-token-0123456789";

/// The API token `TestEnv::config_toml` sets.
pub fn api_token(app: &App) -> String {
    app.shared.config.http.token.expose().to_string()
}

/// contactd as `acd_support::start_app` starts it, plus the wallboard's keys.
pub async fn start_app(env: &common::TestEnv, sim: &Simulator, extra: &str) -> App {
    // RUST_LOG=contactd=debug shows what contactd did when a test fails.
    common::logs::init();
    let mut text = env.config_toml(sim.esl_addr(), "ClueCon", &[]);
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    text.push_str(&crate::acd_support::acd_toml(6, 0).replacen(
        "[daemon]\n",
        &format!("[daemon]\ninstance = \"wallboard-test-{n}\"\n"),
        1,
    ));
    text = text.replacen(
        "[http]\n",
        &format!("[http]\nsupervisor_token = \"{SUPERVISOR}\"\n"),
        1,
    );
    text.push_str(extra);
    std::fs::create_dir_all("/tmp/contactd-test-recordings").unwrap();
    let cfg = contactd::config::Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    app
}

/// `[wallboard]` with a plan, English by default.
pub const WALLBOARD_TOML: &str = "
[wallboard]
language = \"en\"
plan_calls_per_operator = 40
stats_refresh_seconds = 2
public_burst = 3
public_per_minute = 60
[wallboard.plan_calls_per_queue]
general = 300
";
