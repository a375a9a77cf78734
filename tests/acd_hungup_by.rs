//! `calls.hungup_by` of callers handed to the operators' queue says who really ended the
//! call, judged by the simulator's own record of each channel (`truth_hungup_by`: which side
//! hung up, and whether the operator's phone did before the caller's channel went): the
//! caller abandoning or hanging up a talk is `party`, the operator hanging up is `operator`,
//! contactd's prompts then hang-up are `contactd`, and a transferred caller is whoever ends
//! the call at last.

use crate::acd_support;
use crate::common;

use acd_support::*;
use contactd::service::acd::TransferMode;
use contactd::sim::{Behaviour, CallerStep};

/// The simulator's verdict is the expected one, and contactd recorded the same.
async fn ended_by(env: &common::TestEnv, sim: &contactd::sim::Simulator, call: &str, want: &str) {
    let (truth, recorded) = hungup_by_both(env, sim, call).await;
    assert_eq!(truth, want, "the simulator says {truth} ended {call}");
    assert_eq!(recorded, truth, "calls.hungup_by of {call}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_caller_who_abandons_is_the_party() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start_one_operator(
        &env,
        &Setup {
            max_wait: 1,
            ..Setup::default()
        },
    )
    .await;
    // Nobody logged in: one caller gives up in its queue, another after its meter queue
    // overflowed to `general` (still the ACD's: no transfer out of sight).
    let waiting = caller(&sim, &app, "general", "5550101", Some(1500));
    let overflowed = caller(&sim, &app, "meter", "5550102", Some(3500));
    ended_by(&env, &sim, &waiting, "party").await;
    ended_by(&env, &sim, &overflowed, "party").await;
    let row = acd_row(&env, &overflowed).await.unwrap();
    assert_eq!(row.get::<_, Option<String>>(4).as_deref(), Some("general"));
    assert_eq!(
        row.get::<_, Option<String>>(3).as_deref(),
        Some("abandoned")
    );
    app.shutdown(std::time::Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridged_caller_who_hangs_up_is_the_party_and_an_operator_who_does_is_the_operator() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(
        &env,
        &[
            ("1001", answers(100, None)),
            ("1002", answers(100, Some(1500))),
        ],
        &Setup::default(),
        &[("1001", &[("general", 5)]), ("1002", &[("meter", 5)])],
    )
    .await;
    login(&app, "1001").await;
    login(&app, "1002").await;
    // The caller hangs up while talking to 1001, who stays on the line.
    let caller_ends = caller(&sim, &app, "general", "5550111", Some(4000));
    // 1002 hangs up 1.5 s into the talk; that caller would stay for ever.
    let operator_ends = caller(&sim, &app, "meter", "5550112", None);
    assert_eq!(wait_answered(&env, &caller_ends).await, "op1001");
    assert_eq!(wait_answered(&env, &operator_ends).await, "op1002");
    ended_by(&env, &sim, &caller_ends, "party").await;
    ended_by(&env, &sim, &operator_ends, "operator").await;
    // the ACD's row is the caller task's, written at the talk's end apart from the call's
    // row that `ended_by` read (`make test` once read it a moment before)
    for c in [&caller_ends, &operator_ends] {
        let outcome = || async {
            acd_row(&env, c)
                .await
                .and_then(|row| row.get::<_, Option<String>>(3))
        };
        common::eventually(WAIT, || async { outcome().await.is_some() }).await;
        assert_eq!(outcome().await.as_deref(), Some("answered"), "{c}");
    }
    app.shutdown(std::time::Duration::from_secs(2)).await;
}

/// The queue is full: the caller hears "all operators are busy", keys 1 for a callback, hears
/// it is stored, and contactd hangs up. Another hangs up in the middle of the offer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contactd_ends_the_full_queues_callback_offer_unless_the_caller_does_first() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start_one_operator(
        &env,
        &Setup {
            max_waiting: 1,
            ..Setup::default()
        },
    )
    .await;
    let first = caller(&sim, &app, "general", "5550121", None);
    assert!(common::eventually(WAIT, || async { waiting(&app, "general").await == 1 }).await);
    let offered = trunk_call(
        &sim,
        &app,
        "queue_general",
        "84952223301",
        vec![
            CallerStep::WaitForAnswer,
            // by the file, not by counting prompts: a caller task that lags behind the
            // switch would count from a later prompt and key into the wrong one
            CallerStep::WaitForPlay("acd_callback_offer".into()), // 1 = this number
            CallerStep::WaitMs(contactd::demo::KEY_PAUSE_MS),
            CallerStep::Dtmf("1".into()),
        ],
    );
    ended_by(&env, &sim, &offered, "contactd").await;
    assert!(callback_reaches(&env, "84952223301", "general", "pending").await);
    let gave_up = trunk_call(
        &sim,
        &app,
        "queue_general",
        "84952223302",
        vec![
            CallerStep::WaitForAnswer,
            CallerStep::WaitForPlay("acd_all_busy".into()),
            CallerStep::WaitMs(300),
            CallerStep::Hangup,
        ],
    );
    ended_by(&env, &sim, &gave_up, "party").await;
    assert_eq!(waiting_calls(&app, "general").await, vec![first]);
    app.shutdown(std::time::Duration::from_secs(2)).await;
}

/// A caller who waited too long in `specialists` is offered a callback (the overflow is
/// `callback`); the offer times out and contactd says goodbye and hangs up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contactd_ends_a_caller_who_waited_too_long() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(
        &env,
        &[("1009", answers(100, None))],
        &Setup {
            max_wait: 1,
            ..Setup::default()
        },
        &[("1009", &[("specialists", 5)])],
    )
    .await;
    let c = trunk_call(
        &sim,
        &app,
        "queue_specialists",
        "84952223311",
        vec![
            CallerStep::WaitForAnswer,
            // by the file, not by counting prompts: a caller task that lags behind the
            // switch would count from a later prompt and key into the wrong one
            CallerStep::WaitForPlay("acd_callback_offer".into()), // 1 = this number
            CallerStep::WaitMs(contactd::demo::KEY_PAUSE_MS),
            CallerStep::Dtmf("1".into()),
        ],
    );
    ended_by(&env, &sim, &c, "contactd").await;
    assert!(callback_reaches(&env, "84952223311", "specialists", "pending").await);
    app.shutdown(std::time::Duration::from_secs(2)).await;
}

/// Blind transfers stay in contactd's sight (the caller holds in `acd-hold`, then the target
/// queue): whoever ends the call at last is recorded, not the first operator who let go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transferred_caller_is_ended_by_whoever_ends_it_last() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(
        &env,
        &[
            ("1001", answers(100, None)),
            ("1009", answers(100, Some(2000))),
        ],
        &Setup::default(),
        &[("1001", &[("general", 5)]), ("1009", &[("specialists", 7)])],
    )
    .await;
    login(&app, "1001").await;
    login(&app, "1009").await;
    // To the specialist, who ends the talk.
    let c = caller(&sim, &app, "general", "5550131", None);
    assert_eq!(wait_answered(&env, &c).await, "op1001");
    assert!(common::eventually(WAIT, || async { sim.bridged_to(&c).is_some() }).await);
    app.shared
        .acd
        .transfer(&c, "specialists", TransferMode::Blind)
        .await
        .unwrap();
    ended_by(&env, &sim, &c, "operator").await;
    let row = acd_row(&env, &c).await.unwrap();
    assert_eq!(row.get::<_, Option<String>>(2).as_deref(), Some("op1009"));
    assert_eq!(
        row.get::<_, Option<String>>(4).as_deref(),
        Some("specialists")
    );
    // The first operator's leg was ended by contactd for the transfer, not by their phone.
    let first_leg = sim.agent_offers("1001")[0].uuid.clone();
    let first = sim
        .ground_truth()
        .into_iter()
        .find(|r| r.uuid == first_leg)
        .unwrap();
    assert_eq!(first.hangup_by.as_deref(), Some("switch"));

    // To a specialist who never answers now: the caller waits there and gives up.
    sim.set_agent_behaviour("1009", Behaviour::NoAnswer);
    assert!(operator_in(&app, "op1001", "ready").await);
    let d = caller(&sim, &app, "general", "5550132", Some(6000));
    assert_eq!(wait_answered(&env, &d).await, "op1001");
    assert!(common::eventually(WAIT, || async { sim.bridged_to(&d).is_some() }).await);
    app.shared
        .acd
        .transfer(&d, "specialists", TransferMode::Blind)
        .await
        .unwrap();
    ended_by(&env, &sim, &d, "party").await;
    app.shutdown(std::time::Duration::from_secs(2)).await;
}
