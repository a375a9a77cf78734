//! Operator routing end to end: real PostgreSQL, real Redis, contactd against the
//! FreeSWITCH simulator. The simulator's own record of every call that reached an operator's
//! phone (`agent_offers`, `agent_peak_concurrent`, `bridged_to`) is the witness: it shares no
//! code with contactd's routing.

use crate::acd_support;
use crate::common;

use std::time::Duration;

use acd_support::*;
use contactd::service::acd::{OperatorCommand, TransferMode};
use contactd::sim::{Behaviour, CallerStep};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skill_routing_and_longest_idle_order() {
    let env = common::TestEnv::new().await;
    let agents = [
        ("1001", answers(100, None)),
        ("1002", answers(100, None)),
        ("1003", answers(100, None)),
    ];
    let (sim, app) = start(
        &env,
        &agents,
        &Setup::default(),
        &[
            ("1001", &[("general", 5)]),
            ("1002", &[("general", 5), ("meter", 3)]),
            ("1003", &[("general", 5)]),
        ],
    )
    .await;
    // Ready in this order: 1001 has been idle longest, then 1003, then 1002.
    login(&app, "1001").await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    login(&app, "1003").await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    login(&app, "1002").await;

    // A meter question goes to the only operator with the skill, though idle the shortest.
    let m = caller(&sim, &app, "meter", "5550001", None);
    assert_eq!(wait_answered(&env, &m).await, "op1002");
    assert_eq!(offers_on(&sim, "1002"), vec![m.clone()]);
    assert_eq!(
        sim.bridged_to(&m).as_deref(),
        sim.agent_offers("1002").first().map(|o| o.uuid.as_str())
    );

    // General callers: longest idle first.
    let g1 = caller(&sim, &app, "general", "5550002", None);
    assert_eq!(wait_answered(&env, &g1).await, "op1001");
    let g2 = caller(&sim, &app, "general", "5550003", None);
    assert_eq!(wait_answered(&env, &g2).await, "op1003");
    for ext in ["1001", "1002", "1003"] {
        assert_eq!(sim.agent_offers(ext).len(), 1, "one offer each on {ext}");
    }
    // Screen recorded and call records complete.
    let row = acd_row(&env, &g1).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "general");
    let rec: Option<String> = row.get(5);
    assert!(rec.unwrap().ends_with(&format!("{g1}.wav")));
    assert!(
        sim.channel_var(&g1, "sim_record_session").is_some(),
        "the switch was asked to record the call"
    );
    app.shutdown(Duration::from_secs(2)).await;
}

/// The switch records into a directory it makes itself; where it cannot (a file in the
/// way), the caller is still put through and the call's record says there is no recording
/// rather than naming a file that was never written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_the_switch_refuses_does_not_keep_the_caller_from_the_operator() {
    let env = common::TestEnv::new().await;
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("new/recordings");
    let (sim, app) = start(
        &env,
        &[("1001", answers(50, None))],
        &Setup {
            recordings_dir: dir.to_str().unwrap().into(),
            ..Setup::default()
        },
        &[("1001", &[("general", 5)])],
    )
    .await;
    login(&app, "1001").await;
    let first = caller(&sim, &app, "general", "5550061", Some(1500));
    assert_eq!(wait_answered(&env, &first).await, "op1001");
    let rec: Option<String> = acd_row(&env, &first).await.unwrap().get(5);
    let rec = rec.expect("recording named");
    assert!(rec.starts_with(dir.to_str().unwrap()), "{rec}");
    // written by the switch when the caller hangs up, as long as the talk
    assert!(
        common::eventually(WAIT, || async {
            contactd::sim::media::wav_ms(&rec).is_some_and(|ms| ms >= 1000)
        })
        .await,
        "{rec} written"
    );

    // A plain file where the directory should be: the switch answers -ERR.
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();
    assert!(operator_in(&app, "op1001", "ready").await);
    let second = caller(&sim, &app, "general", "5550062", None);
    assert_eq!(wait_answered(&env, &second).await, "op1001");
    let leg = sim.agent_offers("1001").last().map(|o| o.uuid.clone());
    assert_eq!(
        sim.bridged_to(&second),
        leg,
        "the caller talks to the operator"
    );
    let rec: Option<String> = acd_row(&env, &second).await.unwrap().get(5);
    assert_eq!(rec, None);
    assert_eq!(sim.channel_var(&second, "sim_record_session"), None);
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_timeout_makes_the_operator_missed_and_requeues_at_the_head() {
    let env = common::TestEnv::new().await;
    let agents = [("1001", Behaviour::NoAnswer), ("1002", answers(100, None))];
    let (sim, app) = start(
        &env,
        &agents,
        &Setup::default(),
        &[("1001", &[("general", 5)]), ("1002", &[("general", 5)])],
    )
    .await;
    login(&app, "1001").await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    // Two callers before the second operator is there: the first goes to 1001, who does
    // not answer; it must come back ahead of the second caller.
    let first = caller(&sim, &app, "general", "5550011", None);
    assert!(common::eventually(WAIT, || async { !sim.agent_offers("1001").is_empty() }).await);
    let second = caller(&sim, &app, "general", "5550012", None);
    // Let the ring time out: 1001 is "missed" and the first caller is back at the head.
    assert!(operator_in(&app, "op1001", "missed").await);
    assert_eq!(
        waiting_calls(&app, "general").await,
        vec![first.clone(), second.clone()]
    );
    login(&app, "1002").await;
    assert_eq!(wait_answered(&env, &first).await, "op1002");
    let row = acd_row(&env, &first).await.unwrap();
    assert_eq!(row.get::<_, i32>(1), 2, "rang twice");
    // 1001 is out of routing until they say they are back.
    let ops = app.shared.acd.operators().await.unwrap();
    let s1001 = ops.iter().find(|o| o.login == "op1001").unwrap();
    assert_eq!(s1001.state, "missed");
    let missed: i64 = env
        .pg()
        .await
        .query_one(
            "SELECT count(*) FROM operator_states s JOIN operators o ON o.id = s.operator
             WHERE o.login = 'op1001' AND s.state = 'missed'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(missed, 1);
    assert_eq!(sim.agent_offers("1001").len(), 1);
    // The second caller waits for a free operator; 1001 comes back and takes it.
    sim.set_agent_behaviour("1001", answers(100, None));
    app.shared
        .acd
        .command("op1001", OperatorCommand::Ready)
        .await
        .unwrap();
    assert_eq!(wait_answered(&env, &second).await, "op1001");
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seventh_caller_gets_a_callback_that_is_dialed_to_a_free_operator() {
    let env = common::TestEnv::new().await;
    let agents = [("1001", answers(100, None))];
    let (sim, app) = start(
        &env,
        &agents,
        &Setup {
            max_waiting: 6,
            trunk: true,
            ..Setup::default()
        },
        &[("1001", &[("general", 5)])],
    )
    .await;
    // Nobody logged in: six callers fill the queue. They stay until the seventh has been
    // offered the callback (leaving on a timer of their own, they could leave first on a
    // loaded machine and make room for the seventh), then hang up.
    let mut six = Vec::new();
    let mut first_queued = None;
    for i in 0..6 {
        six.push(caller(&sim, &app, "general", &format!("555002{i}"), None));
        assert!(
            common::eventually(WAIT, || async { waiting(&app, "general").await == i + 1 }).await
        );
        first_queued.get_or_insert_with(std::time::Instant::now);
    }
    // The seventh hears "all busy" and keys 1: call me back on this number.
    let seventh = trunk_call(
        &sim,
        &app,
        "queue_general",
        "84952223344",
        vec![
            CallerStep::WaitForAnswer,
            // by the file, not by counting prompts: a caller task that lags behind the
            // switch would count from a later prompt and key into the wrong one
            CallerStep::WaitForPlay("acd_callback_offer".into()), // 1 = this number
            CallerStep::WaitMs(contactd::demo::KEY_PAUSE_MS),
            CallerStep::Dtmf("1".into()),
        ],
    );
    assert!(
        callback_reaches(&env, "84952223344", "general", "pending").await,
        "callback stored"
    );
    assert_eq!(
        waiting(&app, "general").await,
        6,
        "the seventh never queued"
    );
    assert!(
        common::eventually(WAIT, || async {
            let row = acd_row(&env, &seventh).await;
            row.and_then(|r| r.get::<_, Option<String>>(3)).as_deref() == Some("callback")
        })
        .await,
        "the seventh caller's record says callback"
    );
    // The waiting callers give up after 6 s or more; an operator logs in: the callback is
    // dialed to them.
    let since = first_queued.expect("six queued").elapsed();
    tokio::time::sleep(Duration::from_secs(6).saturating_sub(since)).await;
    for call in &six {
        assert!(
            sim.hangup(call, "NORMAL_CLEARING"),
            "{call} gone before it gave up"
        );
    }
    assert!(common::eventually(WAIT, || async { waiting(&app, "general").await == 0 }).await);
    login(&app, "1001").await;
    assert!(
        callback_reaches(&env, "84952223344", "general", "done").await,
        "callback connected"
    );
    assert_eq!(sim.agent_offers("1001").len(), 1);
    let dialed = sim
        .api_log()
        .iter()
        .any(|c| c.contains("originate") && c.contains("freetdm/1/a/84952223344"));
    assert!(dialed, "the customer was dialed on the trunk");
    let leg = sim.agent_offers("1001")[0].uuid.clone();
    assert!(
        sim.api_log()
            .iter()
            .any(|l| l.starts_with(&format!("sendmsg {leg}")) && l.contains("tone_stream://")),
        "the operator heard ringback while the customer was dialed"
    );
    // Abandoned callers are recorded with how long they waited.
    let row = acd_row(&env, &six[0]).await.unwrap();
    assert_eq!(
        row.get::<_, Option<String>>(3).as_deref(),
        Some("abandoned")
    );
    assert!(row.get::<_, Option<f64>>(8).unwrap() >= 5.0);
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blind_transfer_to_specialists() {
    let env = common::TestEnv::new().await;
    let agents = [("1001", answers(100, None)), ("1009", answers(100, None))];
    let (sim, app) = start(
        &env,
        &agents,
        &Setup::default(),
        &[("1001", &[("general", 5)]), ("1009", &[("specialists", 7)])],
    )
    .await;
    login(&app, "1001").await;
    login(&app, "1009").await;
    let c = caller(&sim, &app, "general", "5550031", None);
    assert_eq!(wait_answered(&env, &c).await, "op1001");
    assert!(common::eventually(WAIT, || async { sim.bridged_to(&c).is_some() }).await);
    // Not yet possible for a call that is not talking.
    let bogus = uuid::Uuid::new_v4().to_string();
    assert!(app
        .shared
        .acd
        .transfer(&bogus, "specialists", TransferMode::Blind)
        .await
        .is_err());
    app.shared
        .acd
        .transfer(&c, "specialists", TransferMode::Blind)
        .await
        .unwrap();
    assert!(
        common::eventually(WAIT, || async {
            answered_by(&env, &c).await.as_deref() == Some("op1009")
        })
        .await
    );
    let spec_leg = sim.agent_offers("1009")[0].uuid.clone();
    assert!(
        common::eventually(WAIT, || async {
            sim.bridged_to(&c) == Some(spec_leg.clone())
        })
        .await
    );
    let row = acd_row(&env, &c).await.unwrap();
    assert_eq!(
        row.get::<_, Option<String>>(4).as_deref(),
        Some("specialists")
    );
    // The first operator is released into after-call work (0 s here), then ready again.
    assert!(operator_in(&app, "op1001", "ready").await);
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_waiting_callers_in_order() {
    let env = common::TestEnv::new().await;
    let agents = [("1001", answers(50, Some(1500)))];
    let sim = start_sim(&agents).await;
    let setup = Setup::default();
    let app = start_app(&env, &sim, &setup).await;
    add_operators(&app, &[("1001", &[("general", 5)])]).await;
    let mut callers = Vec::new();
    for i in 0..3 {
        callers.push(caller(&sim, &app, "general", &format!("555004{i}"), None));
        assert!(
            common::eventually(WAIT, || async { waiting(&app, "general").await == i + 1 }).await
        );
    }
    app.shutdown(Duration::from_secs(2)).await;
    // contactd is down: the callers stay parked on the switch.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for c in &callers {
        assert!(
            sim.channel_var(c, "contactd_queue").is_some(),
            "{c} still on the switch"
        );
    }
    let app = start_app(&env, &sim, &setup).await;
    login(&app, "1001").await;
    for c in &callers {
        assert_eq!(wait_answered(&env, c).await, "op1001");
    }
    assert_eq!(
        offers_on(&sim, "1001"),
        callers,
        "answered in arrival order"
    );
    assert!(sim.agent_peak_concurrent("1001") <= 1);
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_never_offer_one_operator_two_calls() {
    let env = common::TestEnv::new().await;
    let agents = [
        ("1001", answers(30, Some(800))),
        ("1002", answers(30, Some(800))),
        ("1003", answers(30, Some(800))),
    ];
    let sim = start_sim(&agents).await;
    let setup = Setup {
        max_waiting: 50,
        ..Setup::default()
    };
    let a = start_app(&env, &sim, &setup).await;
    let b = start_app(&env, &sim, &setup).await;
    add_operators(
        &a,
        &[
            ("1001", &[("general", 5)]),
            ("1002", &[("general", 5)]),
            ("1003", &[("general", 5)]),
        ],
    )
    .await;
    b.shared.acd.sync_all().await.unwrap();
    for ext in ["1001", "1002", "1003"] {
        login(&a, ext).await;
    }
    // Arrivals at once on both instances, more than the queue limit would allow at a time
    // only if routing keeps up: 6 + 6 callers, 3 operators.
    let mut calls = Vec::new();
    for i in 0..12 {
        let app = if i % 2 == 0 { &a } else { &b };
        calls.push(caller(&sim, app, "general", &format!("55505{i:02}"), None));
    }
    for c in &calls {
        wait_answered(&env, c).await;
    }
    // No operator rang for two calls at once, and no call rang two operators at once (a
    // call may be offered again after an operator dropped it, never in parallel).
    let mut per_call: std::collections::HashMap<String, Vec<(i64, i64)>> = Default::default();
    for ext in ["1001", "1002", "1003"] {
        assert!(
            sim.agent_peak_concurrent(ext) <= 1,
            "{ext} rang for two calls at once"
        );
        for o in sim.agent_offers(ext) {
            let call = o
                .vars
                .iter()
                .find(|(k, _)| k == "contactd_acd_call")
                .map(|(_, v)| v.clone())
                .unwrap();
            per_call
                .entry(call)
                .or_default()
                .push((o.rang_at_us, o.ended_at_us.unwrap_or(i64::MAX)));
        }
    }
    for c in &calls {
        let mut offers = per_call.remove(c).unwrap_or_default();
        assert!(!offers.is_empty(), "{c} never offered");
        offers.sort();
        for w in offers.windows(2) {
            assert!(
                w[1].0 >= w[0].1,
                "{c} rang two operators at once: {offers:?}"
            );
        }
    }
    assert!(per_call.is_empty(), "offers of unknown calls: {per_call:?}");
    a.shutdown(Duration::from_secs(2)).await;
    b.shutdown(Duration::from_secs(2)).await;
}

/// The command line changes an operator's state in Redis from its own process: the running
/// daemon hears of it (Redis pub/sub) and offers the caller who waits, without polling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_made_ready_from_the_command_line_gets_the_waiting_caller() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start_one_operator(&env, &Setup::default()).await;
    let c = caller(&sim, &app, "general", "5550101", None);
    assert!(
        common::eventually(Duration::from_secs(10), || async {
            waiting(&app, "general").await == 1
        })
        .await,
        "the caller waits"
    );
    // Quiet for a while: nothing else would wake routing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sim.agent_offers("1001").is_empty());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("contactd.toml");
    std::fs::write(&config, env.config_toml(sim.esl_addr(), "ClueCon", &[])).unwrap();
    common::contactd_ok(&["operators", "state", "op1001", "login"], &config).await;
    assert_eq!(wait_answered(&env, &c).await, "op1001");
    assert_eq!(offers_on(&sim, "1001"), vec![c.clone()]);
    app.shutdown(Duration::from_secs(2)).await;
}
