//! The meter-reading IVR end to end through contactd's outbound socket, with the simulator
//! playing a caller who keys DTMF and real PostgreSQL: a good single-zone reading, a
//! two-zone reading stored in one go, a value below the last reading and an absurd jump
//! refused and re-prompted, a rolled-over dial accepted, three wrong account numbers and
//! three refused readings handed to the operator (`bridge user/1000` with
//! `contactd_account` / `contactd_ivr_step` set first), the account offered by caller ID,
//! and the balance said as currency.
use crate::common;
use crate::meter_support;

use contactd::sim::CallerStep;
use meter_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_single_zone_reading_is_stored_with_its_call() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(&env).await;
    let mut script = to_account("100001");
    script.extend(zone("1200", "1"));
    let uuid = call(&sim, &app, "readings", "5552000", script);
    let got = outcome(&env, &uuid).await;
    assert_eq!(
        got,
        ("goodbye".into(), "contactd".into()),
        "{:#?}",
        executed(&sim, &uuid)
    );
    // read back as a number, not digit by digit
    assert!(
        common::said(&executed(&sim, &uuid), "n1 thousand n2 hundred"),
        "{:#?}",
        sim.api_log()
    );
    let r = readings(&env).await;
    assert_eq!(r.len(), 1, "{r:?}");
    let (acc, zone, value, status, source, call_uuid, caller, rolled) = &r[0];
    assert_eq!((acc.as_str(), *zone, *value), ("100001", 1, 1200));
    assert_eq!(
        (status.as_str(), source.as_str(), *rolled),
        ("pending", "ivr", false)
    );
    assert_eq!(call_uuid.as_deref(), Some(uuid.as_str()));
    assert_eq!(caller.as_deref(), Some("5552000"));
    app.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_zone_reading_is_stored_in_one_go_after_a_re_entry() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(&env).await;
    let mut script = to_account("200002");
    script.extend(zone("5100", "1")); // day
    script.extend(zone("3099", "2")); // night: caller heard a typo, re-enters
    script.extend(zone("3050", "1"));
    let uuid = call(&sim, &app, "readings", "5552000", script);
    let got = outcome(&env, &uuid).await.0;
    assert_eq!(got, "goodbye", "{:#?}", executed(&sim, &uuid));
    let got: Vec<(i16, i64)> = readings(&env).await.iter().map(|r| (r.1, r.2)).collect();
    assert_eq!(got, vec![(1, 5100), (2, 3050)]);
    assert!(common::said(&executed(&sim, &uuid), "n3 thousand n90 n9"));
    app.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_below_the_previous_is_refused_and_re_prompted() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(&env).await;
    let mut script = to_account("100001");
    script.extend([
        CallerStep::WaitForPlay("enter_reading".into()),
        CallerStep::WaitMs(KEY_PAUSE_MS),
        CallerStep::Dtmf("900#".into()),
    ]);
    // "below the previous reading" goes with the prompt to enter it again
    script.extend(zone("1100", "1"));
    let uuid = call(&sim, &app, "readings", "5552000", script);
    assert_eq!(outcome(&env, &uuid).await.0, "goodbye");
    assert!(executed_app(
        &sim,
        &uuid,
        "play_and_get_digits",
        "reading_below_previous.wav!"
    ));
    let got: Vec<i64> = readings(&env).await.iter().map(|r| r.2).collect();
    assert_eq!(got, vec![1100]);
    app.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_jumps_are_refused_then_the_operator_gets_the_account() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(&env).await;
    // last 1000 ten days ago, 50 kWh/day: at most 1500
    let mut script = to_account("100001");
    for _ in 0..3 {
        script.extend([
            CallerStep::WaitForPlay("enter_reading".into()),
            CallerStep::WaitMs(KEY_PAUSE_MS),
            CallerStep::Dtmf("9000#".into()),
        ]);
    }
    let uuid = call(&sim, &app, "readings", "5552000", script);
    assert_eq!(outcome(&env, &uuid).await.0, "operator");
    assert!(executed_app(
        &sim,
        &uuid,
        "play_and_get_digits",
        "reading_too_high.wav!"
    ));
    assert!(executed_app(&sim, &uuid, "set", "contactd_account=100001"));
    assert!(executed_app(
        &sim,
        &uuid,
        "set",
        "contactd_ivr_step=reading"
    ));
    assert!(executed_app(&sim, &uuid, "bridge", "user/1000"));
    assert!(readings(&env).await.is_empty());
    app.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolled_over_dial_is_accepted() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(&env).await;
    // 99950 -> 00100 is 150 kWh across the wrap of a 5-digit dial
    let mut script = to_account("300003");
    script.extend(zone("00100", "1"));
    let uuid = call(&sim, &app, "readings", "5552000", script);
    assert_eq!(outcome(&env, &uuid).await.0, "goodbye");
    let r = readings(&env).await;
    assert_eq!((r[0].2, r[0].7), (100, true), "{r:?}");
    app.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_wrong_account_numbers_go_to_the_operator() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(&env).await;
    // main menu: 1 readings; then too short, too long, not digits-only by timeout
    let script = vec![
        CallerStep::WaitForAnswer,
        CallerStep::WaitForPlay("main_menu".into()), // after the greeting
        CallerStep::WaitMs(KEY_PAUSE_MS),
        CallerStep::Dtmf("1".into()),
        CallerStep::WaitForPlay("enter_account".into()),
        CallerStep::WaitMs(KEY_PAUSE_MS),
        CallerStep::Dtmf("12#".into()),
        CallerStep::WaitForPlay("enter_account".into()), // after "account invalid"
        CallerStep::WaitMs(KEY_PAUSE_MS),
        CallerStep::Dtmf("1234567890123#".into()),
        CallerStep::WaitForPlay("enter_account".into()),
        CallerStep::WaitMs(KEY_PAUSE_MS),
        CallerStep::Dtmf("99#".into()),
    ];
    let uuid = call(&sim, &app, "main", "5552000", script);
    assert_eq!(outcome(&env, &uuid).await.0, "operator");
    assert!(executed_app(
        &sim,
        &uuid,
        "set",
        "contactd_ivr_step=account"
    ));
    assert!(!executed_app(&sim, &uuid, "set", "contactd_account="));
    let log = executed(&sim, &uuid);
    let set = log
        .iter()
        .position(|l| l.contains("contactd_ivr_step=account"));
    let bridge = log
        .iter()
        .position(|l| l.contains("Execute-App-Name: bridge"));
    assert!(set < bridge && bridge.is_some(), "{log:#?}");
    assert!(log[bridge.unwrap()].contains("Execute-App-Arg: user/1000"));
    assert!(readings(&env).await.is_empty());
    app.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_id_offers_the_account_and_the_balance_is_said() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(&env).await;
    let script = vec![
        CallerStep::WaitForAnswer,
        CallerStep::WaitForPlay("main_menu".into()),
        CallerStep::WaitMs(KEY_PAUSE_MS),
        CallerStep::Dtmf("2".into()),
        // "your account ends in", "0 3", then "press 1"
        CallerStep::WaitForPlay("account_offer".into()),
        CallerStep::WaitMs(KEY_PAUSE_MS),
        CallerStep::Dtmf("1".into()),
        CallerStep::WaitForPlay("balance_is".into()),
        CallerStep::WaitMs(8000), // the amount: number, rubles, number, kopecks
        CallerStep::Hangup,
    ];
    // the account's phone, as the trunk presents it nationally
    let uuid = call(&sim, &app, "main", "89161234534", script);
    outcome(&env, &uuid).await;
    assert!(
        common::said(&executed(&sim, &uuid), "n0 n3"),
        "{:#?}",
        executed(&sim, &uuid)
    );
    // English prompts, a zero balance in rubles: "zero rubles" (no kopecks to say)
    assert!(
        common::said(&executed(&sim, &uuid), "n0 rub_5"),
        "{:#?}",
        executed(&sim, &uuid)
    );
    app.shutdown(std::time::Duration::from_secs(1)).await;
}
