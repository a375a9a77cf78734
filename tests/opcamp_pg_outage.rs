//! PostgreSQL away (its connections cut by a [`FaultProxy`]) for the whole of an
//! operator-campaign call: the person answers, is connected to an operator, talks and hangs
//! up while no record can be written. Once PostgreSQL is back the call's record says all of
//! it — answered by a person, connected to that operator, talk ended — so the operator's
//! desk finds the call to dispose and the operator can go ready again. Those writes used to
//! be dropped with a warning: the call stayed without an operator in its record, and the
//! operator, owing a disposition for it, could never give it.
use crate::common;
use crate::opcamp_support;

use std::time::Duration;

use common::faultproxy::FaultProxy;
use contactd::core::acd::agent::StateName;
use opcamp_support::*;
use serde_json::json;

/// `(answered_by, operator, talk ended)` of the campaign's one call.
async fn record(env: &common::TestEnv, id: i64) -> Option<(Option<String>, Option<String>, bool)> {
    env.pg()
        .await
        .query_opt(
            "SELECT answered_by, operator, talk_ended_at IS NOT NULL FROM operator_calls
             WHERE campaign_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_lived_while_postgresql_was_away_is_recorded_once_it_is_back() {
    let env = common::TestEnv::new().await;
    let (pg, pg_url) = FaultProxy::for_url(env.db_url()).await;
    let db = env.db_url().to_string();
    let rules = vec![rule(0, person(1000, 3000))];
    let (sim, app) = start_edited(&env, &[("1001", auto_answer())], rules, "", |t| {
        t.replace(&db, &pg_url)
    })
    .await;
    operators(&app, &["1001"]).await;
    let id = campaign(&app, 6, 1, "progressive", 1).await;

    // cut as the phone rings: the answer, the connect and the talk's end all come meanwhile
    assert!(eventually(|| async { subscriber(&sim, 0).is_some() }).await);
    pg.cut().await;
    let ended = || async { subscriber(&sim, 0).is_some_and(|p| p.ended_at_ms.is_some()) };
    assert!(eventually(ended).await, "{:?}", subscriber(&sim, 0));
    let p = subscriber(&sim, 0).unwrap();
    assert_eq!(
        talked_with(&sim, &p, &["1001"]).as_deref(),
        Some("1001"),
        "{p:?}"
    );
    assert_eq!(p.hangup_by.as_deref(), Some("party"), "{p:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    pg.restore().await;

    let whole = || async {
        record(&env, id).await == Some((Some("person".into()), Some("op1001".into()), true))
    };
    assert!(
        eventually(whole).await,
        "the call's record after the outage: {:?}",
        record(&env, id).await
    );
    // the desk disposes of it, and the operator is free for the next call
    let path = "/api/v1/operators/op1001/disposition";
    let body = json!({"call": p.uuid, "code": "sale"});
    let (code, reply) = post_as(&app, "op1001", path, body).await;
    assert_eq!(code, 200, "{reply}");
    let ready = || async {
        app.shared.acd.operator_state("op1001").await.map(|s| s.0) == Some(StateName::Ready)
    };
    assert!(
        eventually(ready).await,
        "op1001 is {:?}",
        app.shared.acd.operator_state("op1001").await
    );
    app.shutdown(Duration::from_secs(2)).await;
}
