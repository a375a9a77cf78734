//! Preview dialing over the operator's API: the operator sees the next contact (with its
//! row), presses call, and the person is connected to that operator — while another
//! operator who has been ready longer is left alone. Nothing is dialed before the press.
use crate::common;
use crate::opcamp_support;

use std::time::Duration;

use opcamp_support::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_the_operator_sees_the_contact_then_calls_it() {
    let env = common::TestEnv::new().await;
    let agents = [("1001", auto_answer()), ("1002", auto_answer())];
    let rules = vec![rule(0, person(500, 2000)), rule(1, person(500, 2000))];
    let (sim, app) = start(&env, &agents, rules, "").await;
    // 1002 logs in first: the longest idle, the one a queue would pick
    operators(&app, &["1002"]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    operators(&app, &["1001"]).await;
    let id = campaign(&app, 5, 2, "preview", 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        subscriber(&sim, 0).is_none() && subscriber(&sim, 1).is_none(),
        "preview dialed by itself"
    );

    let token = contactd::http::auth::operator_token(TOKEN, "op1001");
    let resp = reqwest::Client::new()
        .get(format!(
            "http://{}/api/v1/operators/op1001/preview?campaign={id}",
            app.http_addr
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    let name = body["contact"]["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("Subscriber "), "{body}");
    assert_eq!(body["contact"]["extra"]["plan"], "gold", "{body}");
    let i: usize = name.trim_start_matches("Subscriber ").parse().unwrap();

    let (code, body) = post_as(
        &app,
        "op1001",
        "/api/v1/operators/op1001/preview/dial",
        json!({"campaign": id}),
    )
    .await;
    assert_eq!(code, 202, "{body}");
    assert!(
        eventually(|| async { subscriber(&sim, i).is_some_and(|p| p.ended_at_ms.is_some()) }).await
    );
    let p = subscriber(&sim, i).unwrap();
    assert_eq!(
        talked_with(&sim, &p, &["1001", "1002"]).as_deref(),
        Some("1001"),
        "{p:?}"
    );
    // pressing call again without a contact on screen is refused
    let (code, _) = post_as(
        &app,
        "op1001",
        "/api/v1/operators/op1001/preview/dial",
        json!({"campaign": id}),
    )
    .await;
    assert_eq!(code, 409);
    app.shutdown(Duration::from_secs(2)).await;
}
