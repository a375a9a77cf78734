//! A campaign offer the operator does not answer is a missed offer, as for inbound callers:
//! the operator becomes "not ready (missed)" (logged in `operator_states`) and gets no further
//! calls; the person goes on to another ready operator while `connect_within_ms` lasts, or
//! else hears the abandon message and is recorded abandoned. Judged by the simulator's
//! records of what the subscriber and the operators' phones went through.
use crate::common;
use crate::opcamp_support;

use std::time::Duration;

use contactd::core::acd::agent::StateName;
use contactd::sim::Behaviour;
use opcamp_support::*;
use serde_json::json;

/// The periods op<ext> was logged in, oldest first.
async fn states(env: &common::TestEnv, login: &str) -> Vec<String> {
    env.pg()
        .await
        .query(
            "SELECT s.state FROM operator_states s JOIN operators o ON o.id = s.operator
             WHERE o.login = $1 ORDER BY s.since, s.id",
            &[&login],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_offer_goes_to_the_next_operator_and_the_missing_one_gets_no_more() {
    let env = common::TestEnv::new().await;
    // 1001's phone never answers; 1002's answers by itself.
    let agents = [("1001", Behaviour::NoAnswer), ("1002", auto_answer())];
    let rules = vec![rule(0, person(400, 6000)), rule(1, person(400, 6000))];
    // Time enough after the detector (~1.4 s) for a miss (0.5 s) and a second offer.
    let extra = "connect_within_ms = 4000\noperator_answer_ms = 500\n";
    let (sim, app) = start(&env, &agents, rules, extra).await;
    // 1001 logs in first: the longest idle, offered first.
    operators(&app, &["1001"]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    operators(&app, &["1002"]).await;
    let id = campaign(&app, 6, 2, "progressive", 1).await;

    let first = |sim: &contactd::sim::Simulator| {
        (0..2)
            .filter_map(|i| subscriber(sim, i).map(|p| (i, p)))
            .min_by_key(|(_, p)| p.answered_at_ms)
    };
    assert!(
        eventually(|| async { first(&sim).is_some_and(|(_, p)| p.ended_at_ms.is_some()) }).await,
        "first call never ended: {:?}",
        calls(&env, id).await
    );
    let (i0, p0) = first(&sim).unwrap();
    // The person waited through 1001's unanswered ring, then talked with 1002.
    assert_eq!(
        talked_with(&sim, &p0, &["1001", "1002"]).as_deref(),
        Some("1002"),
        "{p0:?}"
    );
    assert!(
        message_after_answer(&p0).is_none(),
        "connected, yet heard the abandon message: {p0:?}"
    );
    let missed = sim.agent_offers("1001");
    assert_eq!(missed.len(), 1, "{missed:?}");
    assert!(!missed[0].answered, "{missed:?}");
    let rang_ms = (missed[0].ended_at_us.unwrap() - missed[0].rang_at_us) / 1000;
    assert!(
        (400..1500).contains(&rang_ms),
        "1001 rang {rang_ms} ms, not about operator_answer_ms"
    );
    let op1001 = app.shared.acd.operator_state("op1001").await;
    assert!(
        matches!(op1001, Some((StateName::Missed, _))),
        "op1001: {op1001:?}"
    );
    assert!(
        eventually(|| async { states(&env, "op1001").await.contains(&"missed".to_string()) }).await,
        "op1001's states: {:?}",
        states(&env, "op1001").await
    );

    // 1002 sets the disposition and is ready: the next call is theirs, not 1001's.
    let recorded = calls(&env, id).await;
    let call0 = recorded
        .iter()
        .find(|c| c.2.as_deref() == Some("op1002"))
        .unwrap_or_else(|| panic!("no call recorded with op1002: {recorded:?}"))
        .0
        .clone();
    let (code, body) = post_as(
        &app,
        "op1002",
        "/api/v1/operators/op1002/disposition",
        json!({"call": call0, "code": "sale"}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let i1 = 1 - i0;
    assert!(
        eventually(|| async { subscriber(&sim, i1).is_some_and(|p| p.ended_at_ms.is_some()) })
            .await,
        "second call never ended: {:?}",
        calls(&env, id).await
    );
    let p1 = subscriber(&sim, i1).unwrap();
    assert_eq!(
        talked_with(&sim, &p1, &["1001", "1002"]).as_deref(),
        Some("1002"),
        "{p1:?}"
    );
    assert_eq!(sim.agent_offers("1001").len(), 1, "1001 offered again");
    let recorded = calls(&env, id).await;
    assert!(recorded.iter().all(|c| c.3 && !c.4), "{recorded:?}");
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_offer_with_nobody_else_plays_the_abandon_message() {
    let env = common::TestEnv::new().await;
    let agents = [("1001", Behaviour::NoAnswer)];
    let rules = vec![rule(0, person(400, 10_000)), rule(1, person(400, 10_000))];
    let (sim, app) = start(&env, &agents, rules, "").await;
    operators(&app, &["1001"]).await;
    let id = campaign(&app, 7, 2, "progressive", 1).await;
    assert!(
        eventually(|| async { calls(&env, id).await.iter().any(|c| c.4) }).await,
        "nobody recorded abandoned: {:?}",
        calls(&env, id).await
    );
    let (i0, p0) = (0..2)
        .find_map(|i| subscriber(&sim, i).map(|p| (i, p)))
        .unwrap();
    let after = message_after_answer(&p0)
        .unwrap_or_else(|| panic!("subscriber {i0} never heard the abandon message: {p0:?}"));
    assert!(after <= 2000, "message {after} ms after the answer");
    assert!(p0.bridged_to.is_empty(), "{p0:?}");
    assert!(
        eventually(|| async {
            matches!(
                app.shared.acd.operator_state("op1001").await,
                Some((StateName::Missed, _))
            )
        })
        .await,
        "op1001 not missed: {:?}",
        app.shared.acd.operator_state("op1001").await
    );
    // No ready operator: the other subscriber is not dialed, the phone not rung again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        subscriber(&sim, 1 - i0).is_none(),
        "dialed with nobody ready"
    );
    assert_eq!(sim.agent_offers("1001").len(), 1);
    app.shutdown(Duration::from_secs(2)).await;
}
