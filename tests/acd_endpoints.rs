//! Operators' phones are dial strings like a trunk's: a `loopback/EXT/CONTEXT` phone (how
//! the real-switch runs stand in for desk phones) is rung and bridged like `user/EXT`, and a
//! phone that is not a valid dial string never reaches `originate`, even when it is put into
//! Redis behind the CLI's and the API's back: the ACD checks it again before ringing.

use crate::acd_support;
use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use acd_support::*;
use contactd::sim::{self, Simulator};
use contactd::store::operators::Operators;

/// The simulator: `loopback/<ext>/<context>` runs the behaviour of `<ext>`.
async fn sim_with(numbers: &[(&str, contactd::sim::Behaviour)]) -> Simulator {
    Simulator::start(sim::SimConfig {
        time_scale: 1.0,
        numbers: numbers
            .iter()
            .map(|(n, b)| (n.to_string(), b.clone()))
            .collect::<HashMap<_, _>>(),
        default_behaviour: answers(300, None),
        agents: [("1001".to_string(), answers(100, None))].into(),
        ..Default::default()
    })
    .await
    .unwrap()
}

async fn operator(app: &contactd::app::App, login: &str, endpoint: &str) {
    let store = Operators::new(app.shared.pool.clone());
    let id = store.create(login, login, endpoint).await.unwrap();
    store.set_skill(id, "general", 5).await.unwrap();
    app.shared.acd.sync_operator(login).await.unwrap();
    app.shared
        .acd
        .command(login, contactd::service::acd::OperatorCommand::Login)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_phone_is_rung_bridged_and_its_hang_up_is_the_operators() {
    let env = common::TestEnv::new().await;
    let sim = sim_with(&[("op201", answers(100, Some(1500)))]).await;
    let app = start_app(&env, &sim, &Setup::default()).await;
    operator(&app, "op201", "loopback/op201/test_operators").await;
    let c = caller(&sim, &app, "general", "5550201", None);
    assert_eq!(wait_answered(&env, &c).await, "op201");
    let rung = sim
        .api_log()
        .into_iter()
        .find(|l| l.contains("originate") && l.contains(&format!("contactd_acd_call={c}")))
        .expect("the operator was rung");
    assert!(
        rung.contains("}loopback/op201/test_operators &"),
        "rung verbatim: {rung}"
    );
    assert!(common::eventually(WAIT, || async { sim.bridged_to(&c).is_some() }).await);
    // The operator's phone (the loopback's far end) hangs up: the operator ended it.
    assert!(
        common::eventually(WAIT, || async {
            hungup_by(&env, &c).await.as_deref() == Some("operator")
        })
        .await,
        "calls.hungup_by: {:?}",
        hungup_by(&env, &c).await
    );
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_phone_slipped_into_redis_is_never_dialed() {
    let env = common::TestEnv::new().await;
    let sim = sim_with(&[]).await;
    let app = start_app(&env, &sim, &Setup::default()).await;
    operator(&app, "op1001", "user/1001").await;
    // Behind the checks' back: the live state every instance routes from.
    let live = contactd::store::acd::AcdStore::connect(&common::redis_url(), &env.prefix)
        .await
        .unwrap();
    let hostile = "user/1001,loopback/evil/default &park()";
    live.set_endpoint("op1001", hostile).await.unwrap();
    let c = caller(&sim, &app, "general", "5550202", None);
    // The offer ends before any originate: the operator "missed", the caller still waiting.
    assert!(operator_in(&app, "op1001", "missed").await);
    assert!(
        sim.api_log().iter().all(|l| !l.contains("evil")),
        "{:#?}",
        sim.api_log()
    );
    assert!(sim.agent_offers("1001").is_empty());
    assert_eq!(waiting_calls(&app, "general").await, vec![c]);
    app.shutdown(Duration::from_secs(2)).await;
}
