//! Redis loses its data (the test wipes its keys) while a person of an operator campaign
//! talks with their operator: the live state rebuilt from what this instance knows gets the
//! call back as that operator's talk. It used to come back as a caller waiting in the
//! queue — its task began after the bridge and never noted it — so the next ready operator
//! was rung for it and bridged in, and the person was cut off (the fault matrix's
//! `opcamp_redis_restart_empty`: op_cut_off=3).
use crate::common;
use crate::opcamp_support;

use std::time::Duration;

use contactd::core::acd::agent::StateName;
use opcamp_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_talk_under_way_when_redis_lost_its_data_stays_with_its_operator() {
    let env = common::TestEnv::new().await;
    let rules = vec![rule(0, person(300, 8000))];
    let agents = [("1001", auto_answer()), ("1002", auto_answer())];
    let (sim, app) = start(&env, &agents, rules, "").await;
    operators(&app, &["1001", "1002"]).await;
    let id = campaign(&app, 11, 1, "progressive", 1).await;

    let talking = || async {
        subscriber(&sim, 0).is_some_and(|p| !p.bridged_to.is_empty() && p.ended_at_ms.is_none())
    };
    assert!(eventually(talking).await, "{:?}", subscriber(&sim, 0));
    let p = subscriber(&sim, 0).unwrap();
    let with = talked_with(&sim, &p, &["1001", "1002"]).expect("an operator's leg");
    let other = if with == "1001" { "1002" } else { "1001" };
    tokio::time::sleep(Duration::from_millis(500)).await;

    env.live_state().await.purge_prefix().await.unwrap();
    let acd = &app.shared.acd;
    // rebuilt: the operator on the call is talking, the other one ready
    let rebuilt = || async {
        acd.operator_state(&format!("op{with}")).await.map(|s| s.0) == Some(StateName::Talking)
            && acd.operator_state(&format!("op{other}")).await.map(|s| s.0)
                == Some(StateName::Ready)
    };
    assert!(
        eventually(rebuilt).await,
        "op{with} {:?}, op{other} {:?}",
        acd.operator_state(&format!("op{with}")).await,
        acd.operator_state(&format!("op{other}")).await
    );

    let ended = || async { subscriber(&sim, 0).is_some_and(|p| p.ended_at_ms.is_some()) };
    assert!(eventually(ended).await);
    let p = subscriber(&sim, 0).unwrap();
    assert_eq!(p.bridged_to.len(), 1, "bridged again: {p:?}");
    assert_eq!(p.hangup_by.as_deref(), Some("party"), "cut off: {p:?}");
    assert!(
        sim.agent_offers(other).is_empty(),
        "op{other} was rung for the call: {:?}",
        sim.agent_offers(other)
    );
    let recorded = calls(&env, id).await;
    assert!(recorded[0].3, "not recorded connected: {recorded:?}");
    assert_eq!(recorded[0].2.as_deref(), Some(format!("op{with}").as_str()));
    app.shutdown(Duration::from_secs(2)).await;
}
