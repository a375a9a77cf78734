//! Shared by the meter-reading tests: the simulator with an operator phone `user/1000`,
//! contactd with operators on duty around the clock (tests must not depend on the hour),
//! accounts imported through `accounts import` with dates relative to today, and helpers
//! to wait for a call's outcome and read what was stored.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use chrono::{Duration as Days, NaiveDate};
use contactd::app::App;
use contactd::sim::{self, AfterAnswer, Behaviour, CallerStep, Simulator};

use crate::common;

/// Account 100001: one 5-digit single-zone meter, last 1000 ten days ago.
/// Account 200002: one 6-digit day/night meter, last 5000/3000 ten days ago.
/// Account 300003: one 5-digit meter at 99950 (about to roll over), phone +79161234534.
pub const MAX_DAILY: i64 = 50;

pub use contactd::demo::KEY_PAUSE_MS;

pub async fn start(env: &common::TestEnv) -> (Simulator, App) {
    let mut agents = HashMap::new();
    agents.insert(
        "1000".to_string(),
        Behaviour::Answer {
            ring_ms: 200,
            after: AfterAnswer::HangupAfter { ms: 1000 },
        },
    );
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 0.05,
        agents,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut cfg = env.config(sim.esl_addr(), "ClueCon", &[]);
    cfg.ivr.max_daily_kwh = MAX_DAILY;
    cfg.ivr.operator = "user/1000".into();
    cfg.ivr.hours = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| (d.to_string(), "00:00-24:00".to_string()))
        .collect();
    cfg.validate().unwrap();
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    seed(&app).await;
    (sim, app)
}

pub fn today(app: &App) -> NaiveDate {
    contactd::store::accounts::local_time(&app.shared.config, chrono::Utc::now()).date()
}

async fn seed(app: &App) {
    let ten_days_ago = today(app) - Days::days(10);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("billing.csv");
    std::fs::write(
        &path,
        format!(
            "account,holder,phone,balance,meter,zones,digits,last_date,last_1,last_2\n\
             100001,Ivanov,,123.45,M-1,1,5,{d},01000,\n\
             200002,Petrova,,-10.50,M-2,2,6,{d},5000,3000\n\
             300003,Sidorov,+79161234534,0,M-3,1,5,{d},99950,\n",
            d = ten_days_ago
        ),
    )
    .unwrap();
    let r = contactd::store::accounts::import_accounts(
        &app.shared.pool,
        &path,
        &app.shared.config.dialing,
    )
    .await
    .unwrap();
    assert_eq!((r.accepted, r.problems.len()), (3, 0), "{:?}", r.problems);
}

/// A call to the trunk with `contactd_code` and a scripted caller.
pub fn call(
    sim: &Simulator,
    app: &App,
    code: &str,
    caller: &str,
    script: Vec<CallerStep>,
) -> String {
    sim.inbound_call(sim::InboundCall {
        connect_to: app.outbound_addr.to_string(),
        destination: "2500".into(),
        caller_number: caller.into(),
        vars: vec![
            ("contactd_entry".into(), "trunk".into()),
            ("contactd_code".into(), code.into()),
            ("contactd_did".into(), "2500".into()),
        ],
        script,
        ..Default::default()
    })
    .unwrap()
}

/// The recorded (flow step, hung up by) once the call has ended.
pub async fn outcome(env: &common::TestEnv, uuid: &str) -> (String, String) {
    let pg = env.pg().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let row = pg
            .query_opt(
                "SELECT flow_step, coalesce(hungup_by, '') FROM calls
                 WHERE uuid = $1::text::uuid AND flow_step IS NOT NULL",
                &[&uuid],
            )
            .await
            .unwrap();
        if let Some(r) = row {
            return (r.get(0), r.get(1));
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "call {uuid}: no outcome recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `(account, zone, value, status, source, call_uuid, caller, rolled_over)` of every reading.
pub async fn readings(
    env: &common::TestEnv,
) -> Vec<(
    String,
    i16,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    bool,
)> {
    env.pg()
        .await
        .query(
            "SELECT m.account, r.zone, r.value, r.status, r.source, r.call_uuid::text, r.caller,
                    r.rolled_over
             FROM meter_readings r JOIN meters m ON m.id = r.meter ORDER BY r.id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
                r.get(7),
            )
        })
        .collect()
}

/// Greeting, then the account keyed at its prompt (caller not on an account).
pub fn to_account(account: &str) -> Vec<CallerStep> {
    vec![
        CallerStep::WaitForAnswer,
        CallerStep::WaitForPlay("enter_account".into()), // after the greeting
        CallerStep::WaitMs(KEY_PAUSE_MS),
        CallerStep::Dtmf(format!("{account}#")),
    ]
}

/// One zone: wait for its prompt, key the value, hear it read back, press `confirm`.
pub fn zone(value: &str, confirm: &str) -> Vec<CallerStep> {
    vec![
        CallerStep::WaitForPlay("enter_reading".into()), // _day, _night...
        CallerStep::WaitMs(KEY_PAUSE_MS),
        CallerStep::Dtmf(format!("{value}#")),
        // "you entered", the number, then "1 confirm, 2 re-enter"
        CallerStep::WaitForPlay("confirm_reading".into()),
        CallerStep::WaitMs(KEY_PAUSE_MS),
        CallerStep::Dtmf(confirm.into()),
    ]
}

/// The `sendmsg … execute` lines the switch received for `uuid`.
pub fn executed(sim: &Simulator, uuid: &str) -> Vec<String> {
    sim.api_log()
        .into_iter()
        .filter(|l| l.starts_with(&format!("sendmsg {uuid}")))
        .collect()
}

pub fn executed_app(sim: &Simulator, uuid: &str, app: &str, arg_has: &str) -> bool {
    executed(sim, uuid).iter().any(|l| {
        let lower = l.to_ascii_lowercase();
        lower.contains(&format!("execute-app-name: {app};")) && l.contains(arg_has)
    })
}
