//! Guards the operators/ACD HTTP API as a client sees it, against a running contactd (the
//! simulator, real Redis and PostgreSQL): the bearer token is required; operators are
//! created with the CLI's own checks (400 naming the field, 409 for a duplicate), skills
//! are set only in existing groups at levels 1-10, states go through the ACD, the day report
//! and the record lookups answer 400/404 as documented, and every error is `{"error"}` JSON.
//! Screen pops over SSE with a call routed to the operator are the ACD's own tests.
use crate::common;

use std::time::Duration;

use contactd::app::App;
use contactd::sim::{self, Simulator};
use serde_json::{json, Value};
use uuid::Uuid;

const TOKEN: &str = "test-token-0123456789";

struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        token: bool,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if token {
            req = req.bearer_auth(TOKEN);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let code = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (code, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None, true).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body), true)
            .await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(body), true)
            .await
    }
}

/// An error answer: its status and that its JSON `error` mentions `says`.
fn refused((code, body): (u16, Value), want: u16, says: &str) {
    assert_eq!(code, want, "{body}");
    let msg = body["error"].as_str().unwrap_or_else(|| panic!("{body}"));
    assert!(msg.contains(says), "{msg:?} should mention {says:?}");
}

async fn start(env: &common::TestEnv) -> (Simulator, App) {
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 0.05,
        ..Default::default()
    })
    .await
    .unwrap();
    let cfg = env.config(sim.esl_addr(), "ClueCon", &[]);
    cfg.validate().unwrap();
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    (sim, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_and_acd_over_http() {
    let env = common::TestEnv::new().await;
    let (_sim, app) = start(&env).await;
    let api = Api {
        base: format!("http://{}", app.http_addr),
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
    };

    // The token guards every route.
    let (code, _) = api
        .call(reqwest::Method::GET, "/api/v1/operators", None, false)
        .await;
    assert_eq!(code, 401);

    // Operators: the CLI's checks, a duplicate is a conflict.
    let alice = json!({"login": "alice", "name": " Alice Smith ", "endpoint": "user/1001"});
    let (code, body) = api.post("/api/v1/operators", alice.clone()).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["name"], "Alice Smith");
    refused(
        api.post("/api/v1/operators", alice).await,
        409,
        "already exists",
    );
    for (body, says) in [
        (
            json!({"login": "bob", "name": "Bob", "endpoint": "user/1001,user/1002"}),
            "endpoint",
        ),
        (
            json!({"login": "bob", "name": "Bob", "endpoint": "{x=1}user/1002"}),
            "endpoint",
        ),
        (
            json!({"login": "Bob", "name": "Bob", "endpoint": "user/1002"}),
            "login",
        ),
        (
            json!({"login": "bob", "name": "", "endpoint": "user/1002"}),
            "name",
        ),
        (
            json!({"login": "bob", "name": "Bob", "endpoint": "user/1002", "admin": true}),
            "body",
        ),
        (json!({"login": "bob"}), "body"),
    ] {
        refused(api.post("/api/v1/operators", body).await, 400, says);
    }
    // Endpoints: the trunks' dial-string grammar, with what is wrong named; nothing that
    // could add a leg, a variable or an argument to `originate`.
    let overlong = format!("user/{}", "1".repeat(200));
    for (endpoint, says) in [
        ("user/1001\napi hupall", "control character"),
        ("user/10 01", "whitespace"),
        (
            "{origination_caller_id_number=1}user/1002",
            "variable block",
        ),
        ("user/1001,user/1002", "another leg"),
        ("user/1002'", "quote"),
        ("user/1002&park()", "application"),
        ("user/^1002", "'^' is not allowed"),
        ("loopback/op201/test_operators/inline", "only be XML"),
        (overlong.as_str(), "at most 200"),
    ] {
        let body = json!({"login": "bob", "name": "Bob", "endpoint": endpoint});
        let (code, answer) = api.post("/api/v1/operators", body).await;
        refused((code, answer.clone()), 400, "endpoint");
        refused((code, answer), 400, says);
    }
    for (login, endpoint) in [
        ("dave", "loopback/op201/test_operators"),
        ("erin", "sofia/internal/1005@pbx.local"),
    ] {
        let body = json!({"login": login, "name": login, "endpoint": endpoint});
        let (code, answer) = api.post("/api/v1/operators", body).await;
        assert_eq!(code, 201, "{endpoint}: {answer}");
        assert_eq!(answer["endpoint"], endpoint);
    }
    // The ACD takes the loopback phone into routing (it checks it again there).
    let (code, body) = api
        .post("/api/v1/operators/dave/state", json!({"state": "login"}))
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body, json!({"login": "dave", "state": "ready"}));

    // Groups: the six defaults, new ones with queue-safe names, no duplicates.
    let (code, body) = api
        .post("/api/v1/operator-groups", json!({"name": "billing"}))
        .await;
    assert_eq!(code, 201, "{body}");
    refused(
        api.post("/api/v1/operator-groups", json!({"name": "billing"}))
            .await,
        409,
        "already exists",
    );
    refused(
        api.post("/api/v1/operator-groups", json!({"name": "Bill ing"}))
            .await,
        400,
        "group",
    );
    let (code, body) = api.get("/api/v1/operator-groups").await;
    assert_eq!(code, 200, "{body}");
    let names: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    for g in ["general", "meter", "supervisors", "billing"] {
        assert!(names.contains(&g), "{names:?}");
    }

    // Skills: existing groups, levels 1-10; nothing changes when one is wrong.
    let (code, body) = api
        .put(
            "/api/v1/operators/alice/skills",
            json!({"meter": 7, "general": 3}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["skills"], json!({"general": 3, "meter": 7}));
    refused(
        api.put(
            "/api/v1/operators/alice/skills",
            json!({"general": 9, "metre": 5}),
        )
        .await,
        404,
        "group metre",
    );
    refused(
        api.put("/api/v1/operators/alice/skills", json!({"meter": 11}))
            .await,
        400,
        "level 11",
    );
    refused(
        api.put("/api/v1/operators/alice/skills", json!({"meter": 2.5}))
            .await,
        400,
        "body",
    );
    refused(
        api.put("/api/v1/operators/bob/skills", json!({"meter": 5}))
            .await,
        404,
        "operator bob",
    );
    let (code, ops) = api.get("/api/v1/operators").await;
    assert_eq!(code, 200, "{ops}");
    assert_eq!(ops[0]["login"], "alice", "{ops}");
    assert_eq!(ops[0]["skills"], json!([["general", 3], ["meter", 7]]));

    // States go through the ACD.
    let (code, body) = api
        .post("/api/v1/operators/alice/state", json!({"state": "login"}))
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body, json!({"login": "alice", "state": "ready"}));
    refused(
        api.post("/api/v1/operators/alice/state", json!({"state": "dance"}))
            .await,
        400,
        "state",
    );
    refused(
        api.post(
            "/api/v1/operators/alice/state",
            json!({"state": "break", "reason": "a b"}),
        )
        .await,
        400,
        "reason",
    );
    refused(
        api.post("/api/v1/operators/bob/state", json!({"state": "ready"}))
            .await,
        404,
        "operator bob",
    );

    // The day report.
    let (code, day) = api.get("/api/v1/operators/alice/day").await;
    assert_eq!(code, 200, "{day}");
    assert!(day["logged_in_s"].is_i64(), "{day}");
    assert_eq!(day["time_zone"], "Europe/Moscow");
    let (code, day) = api.get("/api/v1/operators/alice/day?date=2020-02-29").await;
    assert_eq!((code, &day["states"]), (200, &json!([])));
    refused(
        api.get("/api/v1/operators/alice/day?date=29.02.2020").await,
        400,
        "YYYY-MM-DD",
    );
    refused(
        api.get("/api/v1/operators/bob/day").await,
        404,
        "operator bob",
    );

    // Screen pops: an event stream for a known operator only.
    refused(
        api.get("/api/v1/operators/bob/events").await,
        404,
        "operator bob",
    );
    let stream = api
        .client
        .get(format!("{}/api/v1/operators/alice/events", api.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    assert_eq!(
        stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    drop(stream);

    // Queues, as configured.
    let (code, queues) = api.get("/api/v1/acd/queues").await;
    assert_eq!(code, 200, "{queues}");
    let names: Vec<&str> = queues
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"general") && names.contains(&"meter"),
        "{names:?}"
    );

    // Call records.
    refused(api.get("/api/v1/acd/calls/42").await, 400, "not a UUID");
    let call = Uuid::new_v4();
    refused(
        api.get(&format!("/api/v1/acd/calls/{call}")).await,
        404,
        "call",
    );
    let db = env.pg().await;
    db.execute(
        "INSERT INTO acd_calls (call_uuid, node, queue, caller, entered_at, answered_at,
             operator, waited_s, outcome, ended_at)
         VALUES ($1, 'fs1', 'meter', '89161234567', now() - interval '2 minutes',
                 now() - interval '1 minute', (SELECT id FROM operators WHERE login = 'alice'),
                 60, 'answered', now())",
        &[&call],
    )
    .await
    .unwrap();
    let upper = call.to_string().to_uppercase();
    let (code, rec) = api.get(&format!("/api/v1/acd/calls/{upper}")).await;
    assert_eq!(code, 200, "{rec}");
    assert_eq!(rec["call"], call.to_string());
    assert_eq!(rec["operator"], "alice");
    assert_eq!(rec["outcome"], "answered");
    assert_eq!(rec["waited_s"], 60.0);

    // Transfers: checked here before the ACD sees them.
    let transfer_path = format!("/api/v1/acd/calls/{call}/transfer");
    let to = |body: Value| api.post(&transfer_path, body);
    refused(
        to(json!({"to": "specialists", "mode": "sideways"})).await,
        400,
        "mode",
    );
    refused(
        to(json!({"to": "Special ists", "mode": "blind"})).await,
        400,
        "to",
    );
    refused(to(json!({"to": "specialists"})).await, 400, "body");
    refused(
        api.post(
            "/api/v1/acd/calls/x/transfer",
            json!({"to": "general", "mode": "blind"}),
        )
        .await,
        400,
        "not a UUID",
    );

    // Callbacks, optionally by state.
    db.batch_execute(
        "INSERT INTO acd_callbacks (queue, number, state) VALUES
             ('general', '+79161234567', 'pending'), ('general', '89160000000', 'done')",
    )
    .await
    .unwrap();
    let (code, all) = api.get("/api/v1/acd/callbacks").await;
    assert_eq!(code, 200, "{all}");
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (code, pending) = api.get("/api/v1/acd/callbacks?state=pending").await;
    assert_eq!(code, 200, "{pending}");
    assert_eq!(pending.as_array().unwrap().len(), 1);
    assert_eq!(pending[0]["number"], "+79161234567");
    assert_eq!(pending[0]["attempts"], 0);
    refused(
        api.get("/api/v1/acd/callbacks?state=later").await,
        400,
        "state",
    );
    refused(
        api.get("/api/v1/acd/callbacks?status=pending").await,
        400,
        "query",
    );

    app.shutdown(Duration::from_secs(2)).await;
}
