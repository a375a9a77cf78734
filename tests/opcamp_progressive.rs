//! A progressive operator campaign end to end on the simulator: three operators (their
//! phones answer by themselves), three subscribers who answer; each answered subscriber is
//! bridged to a different operator and talks with them (the simulator's ground truth); an
//! operator cannot go ready before the call's disposition is set, and can after; a callback
//! an operator schedules with the disposition is dialed at its time and reaches that same
//! operator although others are ready longer.
use crate::common;
use crate::opcamp_support;

use std::collections::HashSet;
use std::time::Duration;

use contactd::service::acd::{AcdError, OperatorCommand};
use opcamp_support::*;
use serde_json::json;

const EXTS: [&str; 3] = ["1001", "1002", "1003"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progressive_campaign_three_operators_dispositions_and_a_callback() {
    let env = common::TestEnv::new().await;
    let agents: Vec<_> = EXTS.iter().map(|e| (*e, auto_answer())).collect();
    let rules = vec![
        rule(0, person(500, 3000)),
        rule(1, person(700, 3000)),
        rule(2, person(900, 3000)),
        rule(9, person(300, 2000)),
    ];
    let (sim, app) = start(&env, &agents, rules, "").await;
    operators(&app, &EXTS).await;
    let id = campaign(&app, 1, 3, "progressive", 3).await;

    // Every subscriber talked with an operator, each with a different one.
    assert!(
        eventually(|| async {
            calls(&env, id).await.iter().filter(|c| c.3).count() == 3
                && (0..3).all(|i| subscriber(&sim, i).is_some_and(|p| p.ended_at_ms.is_some()))
        })
        .await,
        "not all three connected and ended: {:?}",
        calls(&env, id).await
    );
    let mut with = HashSet::new();
    for i in 0..3 {
        let p = subscriber(&sim, i).unwrap();
        assert!(p.answered, "subscriber {i} answered");
        let ext = talked_with(&sim, &p, &EXTS)
            .unwrap_or_else(|| panic!("subscriber {i} was bridged to no operator: {p:?}"));
        with.insert(ext);
    }
    assert_eq!(with.len(), 3, "three subscribers, three distinct operators");
    let recorded = calls(&env, id).await;
    for (uuid, by, op, connected, abandoned, _) in &recorded {
        assert_eq!(by.as_deref(), Some("person"), "{uuid}");
        assert!(*connected && !*abandoned, "{uuid}");
        let op = op.as_deref().unwrap();
        // contactd's record names the operator the simulator saw it bridged to
        let p = sim
            .ground_truth()
            .into_iter()
            .find(|r| &r.uuid == uuid)
            .unwrap();
        assert_eq!(
            talked_with(&sim, &p, &EXTS)
                .map(|e| format!("op{e}"))
                .as_deref(),
            Some(op)
        );
    }
    assert!(eventually(|| async { done(&env, id).await == 3 }).await);

    // Ready is refused until the disposition is set.
    let call_of = |login: &str| {
        recorded
            .iter()
            .find(|c| c.2.as_deref() == Some(login))
            .map(|c| c.0.clone())
            .unwrap()
    };
    let acd = &app.shared.acd;
    for ext in EXTS {
        let login = format!("op{ext}");
        assert!(
            eventually(|| async {
                matches!(
                    acd.command(&login, OperatorCommand::Ready).await,
                    Err(AcdError::Conflict(m)) if m.contains("disposition")
                )
            })
            .await,
            "{login} went ready without a disposition"
        );
    }
    let (code, body) = post_as(
        &app,
        "op1002",
        "/api/v1/operators/op1002/disposition",
        json!({"call": call_of("op1002"), "code": "no_such_code"}),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    // another operator's call is not theirs to dispose of
    let (code, _) = post_as(
        &app,
        "op1002",
        "/api/v1/operators/op1002/disposition",
        json!({"call": call_of("op1003"), "code": "sale"}),
    )
    .await;
    assert_eq!(code, 404);
    for login in ["op1002", "op1003"] {
        let (code, body) = post_as(
            &app,
            login,
            &format!("/api/v1/operators/{login}/disposition"),
            json!({"call": call_of(login), "code": "sale"}),
        )
        .await;
        assert_eq!(code, 200, "{body}");
        assert!(
            ready(&app, login).await,
            "{login} not ready after the disposition"
        );
    }

    // op1001 schedules a callback in 4 s to another number, then goes ready last.
    let due = chrono::Utc::now() + chrono::TimeDelta::seconds(4);
    let asked = tokio::time::Instant::now();
    let (code, body) = post_as(
        &app,
        "op1001",
        "/api/v1/operators/op1001/disposition",
        json!({"call": call_of("op1001"), "code": "callback",
               "callback_at": due.to_rfc3339(), "callback_number": number(9)}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert!(body["callback"].as_i64().is_some(), "{body}");
    assert!(ready(&app, "op1001").await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        subscriber(&sim, 9).is_none(),
        "callback dialed before its time"
    );
    assert!(
        eventually(|| async { subscriber(&sim, 9).is_some_and(|p| p.ended_at_ms.is_some()) }).await,
        "callback never dialed"
    );
    assert!(asked.elapsed() >= Duration::from_secs(4));
    let p = subscriber(&sim, 9).unwrap();
    assert_eq!(
        talked_with(&sim, &p, &EXTS).as_deref(),
        Some("1001"),
        "the callback reached the operator who scheduled it: {p:?}"
    );
    app.shutdown(Duration::from_secs(2)).await;
}

/// The operator is ready: by their own command, or by the end of the after-call work (0 s
/// here) that the disposition released first.
async fn ready(app: &contactd::app::App, login: &str) -> bool {
    eventually(|| async {
        let _ = app.shared.acd.command(login, OperatorCommand::Ready).await;
        matches!(
            app.shared.acd.operator_state(login).await,
            Some((contactd::core::acd::agent::StateName::Ready, _))
        )
    })
    .await
}
