//! What operator campaigns keep across a restart and a Redis that lost its data, end to end
//! on the simulator: a callback that finds the line busy is dialed again per
//! `callback_retries` / `callback_retry_seconds`, then listed failed; a preview contact on an
//! operator's screen is still theirs after contactd restarts (and dialed once); a callback a
//! stop left `dialing` before its call went out is dialed after the restart; a callback due
//! while its campaign's line is taken is dialed once the line is free; the
//! disposition of the last campaign call is still owed after the test's Redis keys are wiped.
use crate::common;
use crate::opcamp_support;

use std::time::Duration;

use contactd::app::App;
use contactd::core::acd::agent::StateName;
use contactd::service::acd::{AcdError, OperatorCommand};
use contactd::sim::Behaviour;
use opcamp_support::*;
use serde_json::json;

/// Calls the simulator saw to subscriber number `i`.
fn dialed(sim: &contactd::sim::Simulator, i: usize) -> Vec<contactd::sim::PartyRecord> {
    let suffix = format!("200{i:04}");
    sim.ground_truth()
        .into_iter()
        .filter(|r| r.number.ends_with(&suffix))
        .collect()
}

async fn get_as(app: &App, login: &str, path: &str) -> (u16, serde_json::Value) {
    let token = contactd::http::auth::operator_token(TOKEN, login);
    let resp = reqwest::Client::new()
        .get(format!("http://{}{path}", app.http_addr))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let code = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (code, serde_json::from_str(&text).unwrap_or_default())
}

/// The operator's first connected call, once the person hung up.
async fn connected_call(env: &common::TestEnv, id: i64, login: &str) -> String {
    let find = || async {
        calls(env, id)
            .await
            .into_iter()
            .find(|c| c.3 && c.2.as_deref() == Some(login))
            .map(|c| c.0)
    };
    assert!(
        eventually(|| async { find().await.is_some() }).await,
        "no call connected to {login}: {:?}",
        calls(env, id).await
    );
    find().await.unwrap()
}

/// op1001 sets their last call's disposition to a callback of subscriber 9 at `due`: its id.
async fn ask_callback(app: &App, call: &str, due: chrono::DateTime<chrono::Utc>) -> i64 {
    let (code, body) = post_as(
        app,
        "op1001",
        "/api/v1/operators/op1001/disposition",
        json!({"call": call, "code": "callback", "callback_at": due.to_rfc3339(),
               "callback_number": number(9)}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    body["callback"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_callback_is_retried_then_listed_failed() {
    let env = common::TestEnv::new().await;
    let rules = vec![
        rule(0, person(300, 5000)),
        rule(9, Behaviour::Busy { after_ms: 200 }),
    ];
    let extra = "callback_retries = 2\ncallback_retry_seconds = 3\n";
    let (sim, app) = start(&env, &[("1001", auto_answer())], rules, extra).await;
    operators(&app, &["1001"]).await;
    let id = campaign(&app, 8, 1, "progressive", 1).await;
    let call = connected_call(&env, id, "op1001").await;
    let due = chrono::Utc::now() + chrono::TimeDelta::seconds(2);
    let cb = ask_callback(&app, &call, due).await;
    let _ = app
        .shared
        .acd
        .command("op1001", OperatorCommand::Ready)
        .await;

    // 1 call + 2 retries, 3 s apart, then failed.
    assert!(
        common::eventually(Duration::from_secs(40), || async {
            let (_, b) = get_as(&app, "op1001", "/api/v1/operators/op1001/callbacks").await;
            b["callbacks"][0]["state"] == "failed"
        })
        .await,
        "callback not failed: {:?}; dialed {}",
        get_as(&app, "op1001", "/api/v1/operators/op1001/callbacks").await,
        dialed(&sim, 9).len()
    );
    let calls9 = dialed(&sim, 9);
    assert_eq!(calls9.len(), 3, "{calls9:?}");
    for w in calls9.windows(2) {
        let gap = w[1].dialed_at_ms - w[0].dialed_at_ms;
        assert!(gap >= 3000, "retried {gap} ms after the last call");
    }
    let (code, b) = get_as(&app, "op1001", "/api/v1/operators/op1001/callbacks").await;
    assert_eq!(code, 200);
    let row = &b["callbacks"][0];
    assert_eq!(row["id"], cb, "{b}");
    assert_eq!(row["tries"], 3, "{b}");
    assert_eq!(row["last_outcome"], "busy", "{b}");
    // another operator's list is not theirs to read
    let (code, _) = get_as(&app, "op1001", "/api/v1/operators/op1002/callbacks").await;
    assert_eq!(code, 401);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(dialed(&sim, 9).len(), 3, "dialed after it failed");
    app.shutdown(Duration::from_secs(2)).await;
}

/// A callback that comes due while its campaign's line is taken is not dialed then, and not
/// left `dialing` either: it is dialed once the line is free (it used to wait for a restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_due_while_the_campaigns_line_is_taken_is_dialed_once_it_is_free() {
    let env = common::TestEnv::new().await;
    let rules = vec![rule(0, person(300, 3000)), rule(9, person(300, 3000))];
    let (sim, app) = start(&env, &[("1001", auto_answer())], rules, "").await;
    operators(&app, &["1001"]).await;
    let id = campaign(&app, 8, 1, "progressive", 1).await;
    let call = connected_call(&env, id, "op1001").await;

    // the campaign's one line held by someone else (its channel clears first: 600 ms)
    const HOLD: &str = "0000cccc-0000-4000-8000-000000000001";
    let budget = contactd::service::opcamp::budget_of(id);
    let live = &app.shared.live;
    assert!(
        common::eventually(Duration::from_secs(5), || async {
            live.acquire_line("e1", 30, &budget, 1, HOLD)
                .await
                .unwrap()
                .is_ok()
        })
        .await,
        "the campaign's line never came free"
    );
    let due = chrono::Utc::now() + chrono::TimeDelta::seconds(1);
    ask_callback(&app, &call, due).await;
    let _ = app
        .shared
        .acd
        .command("op1001", OperatorCommand::Ready)
        .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        dialed(&sim, 9).is_empty(),
        "dialed over the campaign's line"
    );

    live.release_line("e1", &budget, HOLD, Duration::ZERO)
        .await
        .unwrap();
    assert!(
        common::eventually(Duration::from_secs(20), || async {
            let (_, b) = get_as(&app, "op1001", "/api/v1/operators/op1001/callbacks").await;
            b["callbacks"][0]["state"] == "done"
        })
        .await,
        "callback not carried out once the line was free: {:?}; dialed {}",
        get_as(&app, "op1001", "/api/v1/operators/op1001/callbacks").await,
        dialed(&sim, 9).len()
    );
    assert_eq!(dialed(&sim, 9).len(), 1);
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_contact_stays_the_operators_across_a_restart_and_is_dialed_once() {
    let env = common::TestEnv::new().await;
    let agents = [("1001", auto_answer()), ("1002", auto_answer())];
    let rules = (0..3).map(|i| rule(i, person(300, 5000))).collect();
    let (sim, app) = start(&env, &agents, rules, "").await;
    operators(&app, &["1001", "1002"]).await;
    let id = campaign(&app, 9, 3, "preview", 2).await;
    let path = format!("/api/v1/operators/op1001/preview?campaign={id}");
    let (code, shown) = get_as(&app, "op1001", &path).await;
    assert_eq!(code, 200, "{shown}");
    let contact = shown["contact"]["id"].as_i64().unwrap();

    let mut cfg = (*app.shared.config).clone();
    app.shutdown(Duration::from_secs(2)).await;
    // The stopped instance's spool stays locked in this process: the restart comes up under
    // another instance name (the same database, Redis and switch).
    cfg.daemon.instance.push_str("-restarted");
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    tokio::time::sleep(Duration::from_secs(2)).await; // the runner's recovery has run

    let (code, again) = get_as(&app, "op1001", &path).await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["contact"]["id"], contact, "{again} vs {shown}");
    assert_eq!(again["contact"]["name"], shown["contact"]["name"]);
    // another operator is shown another contact
    let (code, other) = get_as(
        &app,
        "op1002",
        &format!("/api/v1/operators/op1002/preview?campaign={id}"),
    )
    .await;
    assert_eq!(code, 200, "{other}");
    assert_ne!(other["contact"]["id"], contact, "{other}");
    assert!(sim.ground_truth().is_empty(), "dialed before the press");

    let (code, body) = post_as(
        &app,
        "op1001",
        "/api/v1/operators/op1001/preview/dial",
        json!({"campaign": id}),
    )
    .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["contact"], contact);
    let name = shown["contact"]["name"].as_str().unwrap();
    let i: usize = name.trim_start_matches("Subscriber ").parse().unwrap();
    assert!(
        eventually(|| async { subscriber(&sim, i).is_some_and(|p| p.ended_at_ms.is_some()) }).await
    );
    let p = subscriber(&sim, i).unwrap();
    assert_eq!(
        talked_with(&sim, &p, &["1001", "1002"]).as_deref(),
        Some("1001")
    );
    let (code, _) = post_as(
        &app,
        "op1001",
        "/api/v1/operators/op1001/preview/dial",
        json!({"campaign": id}),
    )
    .await;
    assert_eq!(code, 409);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(dialed(&sim, i).len(), 1, "dialed twice");
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disposition_is_still_owed_after_redis_lost_its_data() {
    let env = common::TestEnv::new().await;
    let rules = vec![rule(0, person(300, 5000))];
    let (_sim, app) = start(&env, &[("1001", auto_answer())], rules, "").await;
    operators(&app, &["1001"]).await;
    let id = campaign(&app, 10, 1, "progressive", 1).await;
    let call = connected_call(&env, id, "op1001").await;
    let acd = &app.shared.acd;
    assert!(
        eventually(|| async {
            matches!(
                acd.operator_state("op1001").await,
                Some((StateName::WrapUp, _))
            )
        })
        .await
    );

    env.live_state().await.purge_prefix().await.unwrap();
    // Rebuilt from PostgreSQL: back in after-call work, ready still refused.
    assert!(
        eventually(|| async {
            matches!(
                acd.operator_state("op1001").await,
                Some((StateName::WrapUp, _))
            )
        })
        .await,
        "op1001 after the rebuild: {:?}",
        acd.operator_state("op1001").await
    );
    match acd.command("op1001", OperatorCommand::Ready).await {
        Err(AcdError::Conflict(m)) => assert!(m.contains(&call), "{m}"),
        other => panic!("ready without the disposition: {other:?}"),
    }
    let (code, body) = post_as(
        &app,
        "op1001",
        "/api/v1/operators/op1001/disposition",
        json!({"call": call, "code": "sale"}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert!(
        eventually(|| async {
            let _ = acd.command("op1001", OperatorCommand::Ready).await;
            matches!(
                acd.operator_state("op1001").await,
                Some((StateName::Ready, _))
            )
        })
        .await
    );
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_left_dialing_by_a_stop_is_dialed_after_the_restart() {
    let env = common::TestEnv::new().await;
    let rules = vec![rule(0, person(300, 3000)), rule(9, person(300, 3000))];
    let (sim, app) = start(&env, &[("1001", auto_answer())], rules, "").await;
    operators(&app, &["1001"]).await;
    let id = campaign(&app, 10, 1, "progressive", 1).await;
    let call = connected_call(&env, id, "op1001").await;
    // due in an hour: not dialed by this instance
    let due = chrono::Utc::now() + chrono::TimeDelta::hours(1);
    let cb = ask_callback(&app, &call, due).await;
    let mut cfg = (*app.shared.config).clone();
    app.shutdown(Duration::from_secs(2)).await;
    // As a stop right after the callback was taken to be dialed leaves it: `dialing`, due,
    // and no call placed for it.
    env.pg()
        .await
        .execute(
            "UPDATE operator_callbacks SET state = 'dialing', due_at = now() WHERE id = $1",
            &[&cb],
        )
        .await
        .unwrap();
    assert!(dialed(&sim, 9).is_empty());

    cfg.daemon.instance.push_str("-restarted");
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    let _ = app
        .shared
        .acd
        .command("op1001", OperatorCommand::Ready)
        .await;
    assert!(
        common::eventually(Duration::from_secs(30), || async {
            let (_, b) = get_as(&app, "op1001", "/api/v1/operators/op1001/callbacks").await;
            b["callbacks"][0]["state"] == "done"
        })
        .await,
        "callback not carried out after the restart: {:?}; dialed {}",
        get_as(&app, "op1001", "/api/v1/operators/op1001/callbacks").await,
        dialed(&sim, 9).len()
    );
    let calls9 = dialed(&sim, 9);
    assert_eq!(calls9.len(), 1, "{calls9:?}");
    assert_eq!(
        talked_with(&sim, &calls9[0], &["1001"]).as_deref(),
        Some("1001"),
        "the callback reached its operator"
    );
    app.shutdown(Duration::from_secs(2)).await;
}

/// Issue 15, operator side: an instance SIGKILLed after its batch's rows were committed but
/// before the originate reached the switch (written here as it leaves them: a lease that is
/// never renewed, the subscriber `dialing` with an attempt and a call row whose uuid no
/// switch ever had). Once the lease lapses, this instance takes over; its own record of the
/// switch's events proves the call was never placed, so the subscriber is called now and
/// that attempt does not count — not settled as a no-answer to be retried hours later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_never_left_a_dead_instance_is_placed_by_the_survivor_and_not_counted() {
    let env = common::TestEnv::new().await;
    let rules = vec![rule(0, person(300, 3000))];
    let (sim, app) = start(&env, &[("1001", auto_answer())], rules, "").await;
    operators(&app, &["1001"]).await;
    let db = env.pg().await;
    let next = common::dead_driver_of_next_campaign(&env, 6000).await;
    // this instance's link has been up a while when the dead one commits its batch
    tokio::time::sleep(Duration::from_secs(2)).await;
    let id = campaign(&app, 10, 1, "progressive", 1).await;
    assert_eq!(
        id, next,
        "the campaign is not the one whose lease was taken"
    );
    let contact: i64 = db
        .query_one(
            "UPDATE campaign_targets SET status = 'dialing' WHERE campaign_id = $1
             RETURNING contact_id",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    let ghost = common::unsent_attempt(&db, id, contact, "89162000000").await;

    // the lease lapses (6 s), the takeover's recovery waits 5 s for proof, then dials
    assert!(
        common::eventually(Duration::from_secs(40), || async {
            done(&env, id).await == 1
        })
        .await,
        "the subscriber was not called after the takeover: dialed {} time(s), calls {:?}",
        dialed(&sim, 0).len(),
        calls(&env, id).await
    );
    let placed = dialed(&sim, 0);
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(
        talked_with(&sim, &placed[0], &["1001"]).as_deref(),
        Some("1001"),
        "the call reached the operator: {placed:?} {:?}",
        calls(&env, id).await
    );
    let attempts: Vec<(uuid::Uuid, Option<String>)> = db
        .query(
            "SELECT uuid, outcome FROM attempts WHERE campaign_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        attempts.len(),
        1,
        "the call never placed still counts: {attempts:?}"
    );
    assert_ne!(attempts[0].0, ghost);
    let phantom: i64 = db
        .query_one("SELECT count(*) FROM calls WHERE uuid = $1", &[&ghost])
        .await
        .unwrap()
        .get(0);
    assert_eq!(phantom, 0, "a call the switch never had is still on record");
    app.shutdown(Duration::from_secs(2)).await;
}
