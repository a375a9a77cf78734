//! A disposition stored in PostgreSQL whose next step — telling routing the operator owes
//! nothing now, in Redis — fails (Redis away) is accepted (it is stored), and routing
//! finds it stored once Redis is back: the operator goes ready without the desk doing
//! anything more. A repeat of it is accepted too and changes nothing; a callback asked
//! for with it is scheduled once, in the same transaction as the disposition. The post
//! used to fail, and its retry be refused as "no campaign call without a disposition",
//! which left the operator owing a disposition they had given, in after-call work for good
//! (the fault matrix's `opcamp_redis_stop_10s`: op_not_ready=3).
use crate::common;
use crate::opcamp_support;

use std::time::Duration;

use common::faultproxy::FaultProxy;
use contactd::core::acd::agent::StateName;
use opcamp_support::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disposition_stored_while_redis_was_away_frees_the_operator_once_it_is_back() {
    let env = common::TestEnv::new().await;
    let (redis, redis_url) = FaultProxy::for_url(&common::redis_url()).await;
    let rules = vec![rule(0, person(300, 1500))];
    let (sim, app) = start_edited(&env, &[("1001", auto_answer())], rules, "", |t| {
        t.replace(&common::redis_url(), &redis_url)
    })
    .await;
    operators(&app, &["1001"]).await;
    let id = campaign(&app, 8, 1, "progressive", 1).await;

    let talked = || async {
        calls(&env, id)
            .await
            .first()
            .is_some_and(|c| c.3 && subscriber(&sim, 0).is_some_and(|p| p.ended_at_ms.is_some()))
    };
    assert!(eventually(talked).await, "{:?}", calls(&env, id).await);
    let call = calls(&env, id).await.remove(0).0;
    let owed = || async {
        app.shared
            .acd
            .disposition_due("op1001")
            .await
            .ok()
            .flatten()
    };
    assert!(
        eventually(|| async { owed().await.as_deref() == Some(call.as_str()) }).await,
        "no disposition owed for {call}"
    );

    let path = "/api/v1/operators/op1001/disposition";
    let due = chrono::Utc::now() + chrono::Duration::hours(3);
    let body = json!({"call": call, "code": "callback", "callback_at": due.to_rfc3339()});
    redis.cut().await;
    let (code, reply) = post_as(&app, "op1001", path, body.clone()).await;
    assert_eq!(code, 200, "stored, but refused: {reply}");
    let callback = reply["callback"].as_i64().expect("the callback's id");
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restore().await;

    // nothing more from the desk: routing reads the stored disposition
    let ready = || async {
        app.shared.acd.operator_state("op1001").await.map(|s| s.0) == Some(StateName::Ready)
    };
    assert!(
        eventually(ready).await,
        "op1001 is {:?}, owing {:?}",
        app.shared.acd.operator_state("op1001").await,
        owed().await
    );
    // a repeat is the same disposition, and the callback is not doubled
    let (code, reply) = post_as(&app, "op1001", path, body).await;
    assert_eq!(code, 200, "{reply}");
    assert_eq!(reply["callback"].as_i64(), Some(callback));
    let rows = env
        .pg()
        .await
        .query(
            "SELECT id FROM operator_callbacks WHERE from_call = $1::text::uuid",
            &[&call],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "callbacks scheduled from the call");
    // a different code for a disposed call is still refused
    let other = json!({"call": call, "code": "sale"});
    let (code, _) = post_as(&app, "op1001", path, other).await;
    assert_eq!(code, 404);
    app.shutdown(Duration::from_secs(2)).await;
}
