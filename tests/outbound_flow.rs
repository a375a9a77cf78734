//! Guards the outbound socket server (`socket 127.0.0.1:8084 async full`): a caller on the
//! trunk's main number keys digits (menu, account, a meter reading) and hears the reading
//! read back before it is stored; a caller who hangs up at any step of the fallback
//! greeting flow ends it there, is recorded with the step reached, and leaves no session
//! open (the meter flow's own hang-up guarantee is `tests/meter_hangup.rs`).
use crate::common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use contactd::app::App;
use contactd::sim::{self, CallerStep, Simulator};

async fn start(env: &common::TestEnv) -> (Simulator, App) {
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 0.05,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut cfg = env.config(sim.esl_addr(), "ClueCon", &[]);
    // operators on duty around the clock: the prompts must not depend on the hour the test runs
    for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
        cfg.ivr.hours.insert(day.into(), "00:00-24:00".into());
    }
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    (sim, app)
}

async fn call_row(env: &common::TestEnv, uuid: &str) -> Option<(String, String, String)> {
    let pg = env.pg().await;
    pg.query_opt(
        "SELECT coalesce(flow_step, ''), coalesce(hungup_by, ''), coalesce(entry, '')
         FROM calls WHERE uuid = $1::text::uuid",
        &[&uuid],
    )
    .await
    .unwrap()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
}

/// An account with one 5-digit meter whose last accepted reading is 1000, ten days ago.
async fn seed_account(env: &common::TestEnv) {
    env.pg()
        .await
        .batch_execute(
            "INSERT INTO accounts (number, holder) VALUES ('100001', 'Ivanov');
             INSERT INTO meters (account, serial, zones, digits) VALUES ('100001', 'M-1', 1, 5);
             INSERT INTO meter_zones (meter, zone, last_value, last_date)
                 SELECT id, 1, 1000, current_date - 10 FROM meters WHERE serial = 'M-1';",
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_keys_digits_and_hears_them_read_back() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(&env).await;
    seed_account(&env).await;
    // The trunk's main number runs the meter-reading flow: menu 1, account, reading, confirm.
    let key = |d: &str| [CallerStep::WaitMs(300), CallerStep::Dtmf(d.into())];
    let hear = |prompt: &str| CallerStep::WaitForPlay(prompt.into());
    let mut script = vec![CallerStep::WaitForAnswer, hear("main_menu")]; // after the greeting
    script.extend(key("1"));
    script.push(hear("enter_account"));
    script.extend(key("100001#"));
    script.push(hear("enter_reading"));
    script.extend(key("12345#"));
    script.push(hear("enter_reading")); // after "above the daily maximum"
    script.extend(key("1200#"));
    script.push(hear("confirm_reading")); // after "you entered", "1200"
                                          // then silence at the menu: goodbye, and contactd hangs up
    script.extend(key("1"));
    let uuid = sim
        .inbound_call(sim::InboundCall {
            connect_to: app.outbound_addr.to_string(),
            destination: "250100".into(),
            vars: vec![
                ("contactd_entry".into(), "trunk".into()),
                ("contactd_code".into(), "main".into()),
            ],
            script,
            ..Default::default()
        })
        .unwrap();
    let done = common::eventually(Duration::from_secs(15), || async {
        matches!(call_row(&env, &uuid).await, Some((step, _, _)) if !step.is_empty())
    })
    .await;
    assert!(done, "no outcome recorded");
    let (step, by, entry) = call_row(&env, &uuid).await.unwrap();
    assert_eq!((step.as_str(), by.as_str()), ("goodbye", "contactd"));
    assert_eq!(entry, "trunk:main");
    // the switch really was asked to say the reading back, as a number
    assert!(
        common::said(&sim.api_log(), "n1 thousand n2 hundred"),
        "{:?}",
        sim.api_log()
    );
    let stored: i64 = env
        .pg()
        .await
        .query_one(
            "SELECT value FROM meter_readings WHERE status = 'pending'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 1200);
    assert!(
        common::eventually(Duration::from_secs(5), || async {
            app.shared.outbound_live.load(Ordering::SeqCst) == 0
        })
        .await
    );
    app.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_hanging_up_at_each_step_is_recorded_at_that_step() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(&env).await;
    // hang up after the n-th prompt starts: greeting, enter-number, say-back
    let cases: [(Vec<CallerStep>, &str); 3] = [
        (
            vec![CallerStep::WaitForAnswer, CallerStep::WaitForPrompt],
            "greeting",
        ),
        (
            vec![
                CallerStep::WaitForAnswer,
                CallerStep::WaitForPrompt,
                CallerStep::WaitForPrompt,
            ],
            "collect_number",
        ),
        (
            vec![
                CallerStep::WaitForAnswer,
                CallerStep::WaitForPrompt,
                CallerStep::WaitForPrompt,
                CallerStep::WaitMs(300),
                CallerStep::Dtmf("42#".into()),
                CallerStep::WaitForPrompt,
            ],
            "say_back",
        ),
    ];
    for (mut script, expected_step) in cases {
        script.push(CallerStep::Hangup);
        let uuid = sim
            .inbound_call(sim::InboundCall {
                connect_to: app.outbound_addr.to_string(),
                destination: "250200".into(),
                script,
                ..Default::default()
            })
            .unwrap();
        let done = common::eventually(Duration::from_secs(15), || async {
            matches!(call_row(&env, &uuid).await, Some((step, _, _)) if !step.is_empty())
        })
        .await;
        assert!(done, "{expected_step}: no outcome recorded");
        let (step, by, _) = call_row(&env, &uuid).await.unwrap();
        assert_eq!(
            (step.as_str(), by.as_str()),
            (expected_step, "party"),
            "hang-up during {expected_step}"
        );
    }
    assert!(
        common::eventually(Duration::from_secs(5), || async {
            app.shared.outbound_live.load(Ordering::SeqCst) == 0
        })
        .await,
        "a session stayed open after the caller hung up"
    );
    assert_eq!(sim.live_channels().len(), 0);
    app.shutdown(Duration::from_secs(1)).await;
}
