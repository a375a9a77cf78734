//! The wallboard's and the public counter's HTTP contract against a running contactd (real
//! Redis and PostgreSQL, the simulator): the login takes only the API or supervisor token
//! and answers with an HttpOnly SameSite=Strict session cookie (the token never in a URL);
//! the event stream refuses a request without it and pushes a caller's arrival; the public
//! counter needs no token, names an unknown queue, is cacheable (ETag, 304) and limits each
//! client (429 with Retry-After); `/metrics` carries the board's families, and the Grafana
//! dashboard queries only metrics that are exported.

use crate::acd_support;
use crate::common;
use crate::wallboard_support;

use std::time::{Duration, Instant};

use acd_support::{add_operators, caller, start_sim};
use serde_json::Value;
use wallboard_support::*;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn sign_in(base: &str, token: &str) -> reqwest::Response {
    client()
        .post(format!("{base}/wallboard/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}&lang=ru&wall=1"))
        .send()
        .await
        .unwrap()
}

/// Reads SSE events from `resp` until one named `name` whose data satisfies `ok`.
async fn next_event(
    resp: &mut reqwest::Response,
    buf: &mut String,
    name: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no {name} event in 10 s: {buf}"
        );
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut ev = "";
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    ev = e;
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            eprintln!("event {ev}: {}", data.chars().take(300).collect::<String>());
            if ev == name {
                let v: Value = serde_json::from_str(&data).unwrap();
                if ok(&v) {
                    return v;
                }
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("stream open");
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_session_and_event_stream() {
    let env = common::TestEnv::new().await;
    let sim = start_sim(&[]).await;
    let app = start_app(&env, &sim, WALLBOARD_TOML).await;
    add_operators(&app, &[("1001", &[("general", 5)])]).await;
    let base = format!("http://{}", app.http_addr);

    // No session: the login form, and no stream.
    let r = client()
        .get(format!("{base}/wallboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("id=\"login\""));
    let r = client()
        .get(format!("{base}/wallboard/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The bearer token of the API does not open the stream either: only the session does.
    let r = client()
        .get(format!("{base}/wallboard/events"))
        .bearer_auth(api_token(&app))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // An operator's token and a wrong one are refused; no cookie is set.
    let operator = contactd::http::auth::operator_token(&api_token(&app), "op1001");
    for bad in [operator.as_str(), "nonsense", ""] {
        let r = sign_in(&base, bad).await;
        assert_eq!(r.status(), 401, "{bad:?}");
        assert!(r.headers().get("set-cookie").is_none());
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("Этот токен не открывает табло"));
    }
    // A forged cookie is refused.
    let r = client()
        .get(format!("{base}/wallboard/events"))
        .header("cookie", "contactd_wallboard=99999999999.abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // The API token and the supervisor token both sign in.
    for token in [api_token(&app), SUPERVISOR.to_string()] {
        let r = sign_in(&base, &token).await;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/wallboard?lang=ru&wall=1");
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/wallboard"] {
            assert!(cookie.contains(attr), "{cookie}");
        }
        assert!(!cookie.contains(&token), "the cookie is not the token");
        let session = cookie.split(';').next().unwrap().to_string();
        let page = client()
            .get(format!("{base}/wallboard?lang=ru&wall=1"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'"));
        let html = page.text().await.unwrap();
        assert!(
            html.contains("lang=\"ru\"") && html.contains("class=\"wall\""),
            "{html}"
        );
    }

    // The stream pushes the current board, then a caller's arrival.
    let session = sign_in(&base, SUPERVISOR).await.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let mut events = client()
        .get(format!("{base}/wallboard/events"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let mut buf = String::new();
    let first = next_event(&mut events, &mut buf, "live", |_| true).await;
    let general = |v: &Value| {
        v["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == "general")
            .unwrap()["waiting"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(general(&first), 0);
    let stats = next_event(&mut events, &mut buf, "stats", |_| true).await;
    assert_eq!(stats["campaigns"], serde_json::json!([]));
    // The day's figures come from the KPI store: every queue, with its plan.
    assert_eq!(stats["kpi"], true, "{stats}");
    let g = &stats["queues"][0];
    assert_eq!(g["name"], "general");
    assert_eq!(g["today"]["offered"], 0);
    assert_eq!(g["plan"]["goal"], 300);
    let t = Instant::now();
    let call = caller(&sim, &app, "general", "5550201", None);
    let v = next_event(&mut events, &mut buf, "live", |v| general(v) == 1).await;
    eprintln!(
        "caller pushed {} ms after the call was placed",
        t.elapsed().as_millis()
    );
    let waiting = &v["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "general")
        .unwrap()["waiting"][0];
    assert_eq!(waiting["id"], call[..8]);
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_wait_counter() {
    let env = common::TestEnv::new().await;
    let sim = start_sim(&[]).await;
    let app = start_app(&env, &sim, WALLBOARD_TOML).await;
    add_operators(&app, &[("1001", &[("general", 5)])]).await;
    acd_support::login(&app, "1001").await;
    let base = format!("http://{}", app.http_addr);
    let c = client();

    // No token needed; the wait is the one the next caller would hear (one operator at
    // work, the default handle time of 180 s).
    let r = c
        .get(format!("{base}/api/v1/public/wait?queue=general"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cache = r.headers()["cache-control"].to_str().unwrap().to_string();
    assert!(cache.contains("max-age="), "{cache}");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["queue"], "general");
    assert_eq!(v["callers_waiting"], 0);
    assert_eq!(v["estimated_wait_seconds"], 180);

    // Unchanged: 304.
    let r = c
        .get(format!("{base}/api/v1/public/wait?queue=general"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    // The third request of the burst (3) is the last; the fourth is refused until a token
    // comes back (one a second).
    let r = c
        .get(format!("{base}/api/v1/public/wait?queue=nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert!(v["error"].as_str().unwrap().contains("\"nowhere\""), "{v}");
    let r = c
        .get(format!("{base}/api/v1/public/wait?queue=general"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let r = c
        .get(format!("{base}/api/v1/public/wait"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "the queue is required");
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_the_grafana_dashboard() {
    let env = common::TestEnv::new().await;
    let sim = start_sim(&[]).await;
    let app = start_app(&env, &sim, WALLBOARD_TOML).await;
    add_operators(&app, &[("1001", &[("general", 5)])]).await;
    acd_support::login(&app, "1001").await;
    let base = format!("http://{}", app.http_addr);
    let text = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (name, kind, _) in contactd::http::wallboard::metrics::FAMILIES {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} in:\n{text}"
        );
        assert!(text.contains(&format!("# HELP {name} ")), "{name}");
    }
    assert!(
        text.contains("contactd_operators{state=\"ready\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("contactd_queue_callers_waiting{queue=\"general\"} 0\n"));
    assert!(text.contains("contactd_queue_operators_ready{queue=\"general\"} 1\n"));

    // Every metric the dashboard queries is exported (its name's family is in /metrics).
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/grafana/contactd-dashboard.json"
    );
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let exported: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    let names = regex::Regex::new(r"contactd_[a-z_]+").unwrap();
    let mut queried = 0;
    for panel in dash["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            for m in names.find_iter(expr) {
                assert!(
                    exported.iter().any(|e| e == m.as_str()),
                    "{} not exported",
                    m.as_str()
                );
                queried += 1;
            }
        }
    }
    assert!(queried >= 8, "the dashboard charts the board's families");
    app.shutdown(Duration::from_secs(2)).await;
}
