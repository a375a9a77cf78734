//! Guards QA sampling against a real database with hand-made `acd_calls` rows: each rule
//! picks its calls (percentage by the uuid's stable hash, N per operator per day, long
//! calls against the queue's average of the day, transfers, long abandons) on the local day
//! only and among finished calls; selection run twice, or by two instances at once, picks
//! the same set, and a call once picked stays picked when the rules or the day's figures
//! change; reviews through `contactd qa` and through `POST /api/v1/qa/{call}` on a running
//! daemon (token, 404 for a call not sampled, 422 naming the field for a bad score, a wrong
//! type, an unknown field or control bytes); and coverage per operator.
use crate::common;
use crate::qa_support;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use contactd::core::qa::{in_percent, Rules};
use contactd::store::qa::QaStore;
use qa_support::*;
use serde_json::{json, Value};
use uuid::Uuid;

const TOKEN: &str = "test-token-0123456789";

#[tokio::test]
async fn each_rule_picks_its_calls_and_picks_stay() {
    let env = common::TestEnv::new().await;
    let (pool, db) = setup(&env).await;
    monday(&db).await;
    let qa = QaStore::new(pool.clone(), MOSCOW);
    let added = qa.select_day(&rules(), day(23)).await.unwrap();
    let got = sampled(&qa, day(23)).await;
    let general: BTreeSet<Uuid> = (1..=6).map(id).filter(|u| in_percent(*u, 50.0)).collect();
    assert!(
        !general.is_empty() && general.len() < 6,
        "a 50 % draw of 6: {general:?}"
    );
    let mut want: Vec<(Uuid, Vec<String>)> = general
        .iter()
        .map(|u| (*u, vec!["percent".to_string()]))
        .collect();
    want.push((id(14), vec!["long".into()]));
    want.push((id(15), vec!["transferred".into()]));
    want.push((id(16), vec!["abandoned_wait".into()]));
    assert_eq!(got, want);
    assert_eq!(added, want.len());
    // the list carries the recording (none for the abandon) and the operator
    let list = qa.list(day(23), Some("meter"), None).await.unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(
        list[0].recording.as_deref(),
        Some(format!("/var/lib/contactd/recordings/{}.wav", id(14)).as_str())
    );
    assert_eq!(list[0].operator.as_deref(), Some("bob"));
    assert_eq!(list[2].recording, None);
    assert_eq!(
        qa.list(day(23), None, Some("alice")).await.unwrap().len(),
        general.len()
    );
    // again: nothing added, the same set
    assert_eq!(qa.select_day(&rules(), day(23)).await.unwrap(), 0);
    assert_eq!(sampled(&qa, day(23)).await, got);
    // the rules switched off, and the day's average pushed up so 14 is no longer long:
    // picked calls stay picked
    insert(&db, &answered(21, "meter", msk(23, 15, 0), "bob", 5000.0)).await;
    assert_eq!(qa.select_day(&Rules::default(), day(23)).await.unwrap(), 0);
    assert_eq!(sampled(&qa, day(23)).await, got);
    // a call matching two rules at once carries both reasons
    insert(
        &db,
        &Row {
            transferred_to: Some("specialists"),
            ..answered(22, "meter", msk(23, 16, 0), "bob", 9000.0)
        },
    )
    .await;
    assert_eq!(qa.select_day(&rules(), day(23)).await.unwrap(), 2);
    let now = sampled(&qa, day(23)).await;
    assert!(
        now.contains(&(id(22), vec!["long".into(), "transferred".into()])),
        "{now:?}"
    );
    assert!(now.contains(&(id(21), vec!["long".into()])), "{now:?}");
    // the schema refuses a reason it does not know, and a second sample of a call
    let bad = db
        .execute(
            "INSERT INTO qa_samples (call_uuid, day, queue, reasons) VALUES ($1, $2, 'meter', '{random}')",
            &[&id(17), &day(23)],
        )
        .await;
    assert!(bad.is_err());
}

#[tokio::test]
async fn per_operator_tops_up_the_same_calls_on_every_instance() {
    let env = common::TestEnv::new().await;
    let (pool, db) = setup(&env).await;
    for n in 1..=5 {
        insert(
            &db,
            &answered(n, "general", msk(24, 9, n as u32), "alice", 100.0),
        )
        .await;
    }
    insert(&db, &answered(6, "general", msk(24, 10, 0), "bob", 100.0)).await;
    let rules = Rules {
        per_operator_per_day: 2,
        ..Rules::default()
    };
    // two instances at once: the same picks, each call once
    let a = QaStore::new(pool.clone(), MOSCOW);
    let b = QaStore::new(pool.clone(), MOSCOW);
    let (x, y) = tokio::join!(a.select_day(&rules, day(24)), b.select_day(&rules, day(24)));
    assert_eq!(x.unwrap() + y.unwrap(), 3);
    let first = sampled(&a, day(24)).await;
    let of = |login: &str, s: &[contactd::store::qa::Sample]| {
        s.iter()
            .filter(|s| s.operator.as_deref() == Some(login))
            .count()
    };
    let list = a.list(day(24), None, None).await.unwrap();
    assert_eq!((of("alice", &list), of("bob", &list)), (2, 1));
    // alice's two are the two lowest hashes of her calls, whatever the order of the rows
    let mut ranks: Vec<(u64, Uuid)> = (1..=5)
        .map(|n| (contactd::core::qa::stable_rank(id(n)), id(n)))
        .collect();
    ranks.sort();
    let alice: BTreeSet<Uuid> = list
        .iter()
        .filter(|s| s.operator.as_deref() == Some("alice"))
        .map(|s| s.call)
        .collect();
    assert_eq!(alice, [ranks[0].1, ranks[1].1].into());
    // bob answers another call later: topped up to 2, the earlier picks unchanged
    insert(&db, &answered(7, "general", msk(24, 18, 0), "bob", 100.0)).await;
    assert_eq!(a.select_day(&rules, day(24)).await.unwrap(), 1);
    let second = sampled(&a, day(24)).await;
    assert!(first.iter().all(|s| second.contains(s)));
    assert!(second.contains(&(id(7), vec!["per_operator".into()])));
}

/// A config for the CLI and the daemon: Moscow days, the rules above.
fn config_toml(env: &common::TestEnv, esl: std::net::SocketAddr) -> String {
    let mut text = env.config_toml(esl, "ClueCon", &[]);
    text.push_str(
        "[mail]\nreport_time_zone = \"Europe/Moscow\"\n\
         [qa]\npercent = { general = 50 }\nlong_call_factor = 2\ntransferred = true\n\
         abandoned_after_seconds = 60\n",
    );
    text
}

async fn contactd(args: &[&str], config: &std::path::Path) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn review_from_the_command_line_and_coverage() {
    let env = common::TestEnv::new().await;
    let (pool, db) = setup(&env).await;
    monday(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("contactd.toml");
    std::fs::write(
        &config,
        config_toml(&env, "127.0.0.1:8021".parse().unwrap()),
    )
    .unwrap();
    let out = common::contactd_ok(
        &["qa", "list", "--date", "2026-03-23", "--queue", "meter"],
        &config,
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&id(14).to_string()) && text.contains("long"),
        "{text}"
    );
    assert!(text.contains("3 call(s) to review, 0 reviewed"), "{text}");
    let call = id(14).to_string();
    common::contactd_ok(
        &[
            "qa",
            "review",
            &call,
            "--score",
            "90",
            "--comment",
            "long but right",
            "--reviewer",
            "anna",
        ],
        &config,
    )
    .await;
    let out = common::contactd_ok(&["qa", "list", "--date", "2026-03-23", "--csv"], &config).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("call,day,queue,operator,reasons,recording"),
        "{text}"
    );
    let row = text.lines().find(|l| l.starts_with(&call)).unwrap();
    assert!(
        row.contains(",bob,long,") && row.contains(",90,anna,") && row.ends_with(",long but right"),
        "{row}"
    );
    // refused: a score out of range (65, naming the option), a call not sampled (66), a
    // comment with an escape sequence
    let out = contactd(&["qa", "review", &call, "--score", "101"], &config).await;
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--score"));
    let other = id(17).to_string();
    let out = contactd(
        &[
            "qa",
            "review",
            &other,
            "--score",
            "50",
            "--reviewer",
            "anna",
        ],
        &config,
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(66),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = contactd(
        &[
            "qa",
            "review",
            &call,
            "--score",
            "5",
            "--comment",
            "x\u{1b}[2J",
            "--reviewer",
            "anna",
        ],
        &config,
    )
    .await;
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--comment"));
    // coverage of the day per operator: bob 3 sampled (long, transferred; the abandon has
    // no operator), 1 reviewed at 90; a later review replaces the score
    let qa = QaStore::new(pool.clone(), MOSCOW);
    let cov = qa.coverage(msk(23, 0, 0), msk(24, 0, 0)).await.unwrap();
    assert_eq!(cov["bob"], (2, 1, Some(90.0)));
    let n_alice = (1..=6).map(id).filter(|u| in_percent(*u, 50.0)).count() as u64;
    assert_eq!(cov["alice"], (n_alice, 0, None));
    common::contactd_ok(
        &[
            "qa",
            "review",
            &call,
            "--score",
            "70",
            "--reviewer",
            "boris",
            "--comment",
            "=HYPERLINK(\"http://x\")",
        ],
        &config,
    )
    .await;
    // the newest review is listed; a comment a spreadsheet would run stays text
    let out = common::contactd_ok(&["qa", "list", "--date", "2026-03-23", "--csv"], &config).await;
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text.lines().find(|l| l.starts_with(&call)).unwrap();
    assert!(
        row.contains(",70,boris,") && row.ends_with(",\"'=HYPERLINK(\"\"http://x\"\")\""),
        "{row}"
    );
    let cov = qa.coverage(msk(23, 0, 0), msk(24, 0, 0)).await.unwrap();
    assert_eq!(cov["bob"], (2, 1, Some(70.0)));
    assert!(qa
        .coverage(msk(24, 0, 0), msk(25, 0, 0))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_over_http() {
    let env = common::TestEnv::new().await;
    let sim = contactd::sim::Simulator::start(contactd::sim::SimConfig {
        time_scale: 0.05,
        ..Default::default()
    })
    .await
    .unwrap();
    let cfg = contactd::config::Config::from_toml(&config_toml(&env, sim.esl_addr())).unwrap();
    let app = contactd::app::App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    let db = env.pg().await;
    db.batch_execute(
        "INSERT INTO operators (login, name, endpoint) VALUES
             ('alice', 'Alice', 'user/1001'), ('bob', 'Bob', 'user/1002')",
    )
    .await
    .unwrap();
    monday(&db).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!("http://{}", app.http_addr);
    let send = |method: reqwest::Method, path: &str, body: Option<String>, token: bool| {
        let mut req = client.request(method, format!("{base}{path}"));
        if token {
            req = req.bearer_auth(TOKEN);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        async move {
            let resp = req.send().await.unwrap();
            let code = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            (
                code,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
            )
        }
    };
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    // the API token guards both routes
    assert_eq!(
        send(get.clone(), "/api/v1/qa?date=2026-03-23", None, false)
            .await
            .0,
        401
    );
    let call = id(15);
    let path = format!("/api/v1/qa/{call}");
    let good = json!({"score": 85, "comment": "transfer explained", "reviewer": "anna"});
    assert_eq!(
        send(post.clone(), &path, Some(good.to_string()), false)
            .await
            .0,
        401
    );
    // before the list the call is not sampled yet: 404
    let (code, body) = send(post.clone(), &path, Some(good.to_string()), true).await;
    assert_eq!(code, 404, "{body}");
    let (code, body) = send(
        get.clone(),
        "/api/v1/qa?date=2026-03-23&queue=meter",
        None,
        true,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let samples = body["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 3, "{body}");
    assert_eq!(body["time_zone"], "Europe/Moscow");
    let s15 = samples
        .iter()
        .find(|s| s["call"] == call.to_string())
        .unwrap();
    assert_eq!(s15["reasons"], json!(["transferred"]));
    assert_eq!(s15["operator"], "bob");
    assert!(s15["recording"].as_str().unwrap().ends_with(".wav"));
    assert!(s15["review"].is_null());
    let (code, body) = send(post.clone(), &path, Some(good.to_string()), true).await;
    assert_eq!((code, body["score"].clone()), (201, json!(85)), "{body}");
    let (_, body) = send(
        get.clone(),
        "/api/v1/qa?date=2026-03-23&operator=bob",
        None,
        true,
    )
    .await;
    let s15 = body["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["call"] == call.to_string())
        .unwrap()
        .clone();
    assert_eq!(s15["review"]["score"], 85);
    assert_eq!(s15["review"]["reviewer"], "anna");
    // bad input, each naming its field
    for (body, field) in [
        (json!({"score": 101, "reviewer": "anna"}), "score"),
        (json!({"score": -1, "reviewer": "anna"}), "score"),
        (json!({"score": 85.5, "reviewer": "anna"}), "score"),
        (json!({"score": "85", "reviewer": "anna"}), "score"),
        (json!({"reviewer": "anna"}), "score"),
        (json!({"score": 85}), "reviewer"),
        (
            json!({"score": 85, "reviewer": "anna", "rating": 5}),
            "rating",
        ),
        (
            json!({"score": 85, "reviewer": "anna", "comment": "ok\u{7}"}),
            "comment",
        ),
        (json!({"score": 85, "reviewer": "an\nna"}), "reviewer"),
        (
            json!({"score": 85, "reviewer": "anna", "comment": 5}),
            "comment",
        ),
    ] {
        let (code, answer) = send(post.clone(), &path, Some(body.to_string()), true).await;
        assert_eq!(
            (code, answer["field"].as_str()),
            (422, Some(field)),
            "{body} → {answer}"
        );
    }
    let (code, answer) = send(post.clone(), &path, Some("not json".into()), true).await;
    assert_eq!((code, answer["field"].as_str()), (422, Some("body")));
    // a call never sampled, a path that is no uuid, a bad date or queue
    let (code, _) = send(
        post.clone(),
        &format!("/api/v1/qa/{}", Uuid::new_v4()),
        Some(good.to_string()),
        true,
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(
        send(
            post.clone(),
            "/api/v1/qa/not-a-uuid",
            Some(good.to_string()),
            true
        )
        .await
        .0,
        400
    );
    for q in [
        "date=2026-13-01",
        "date=2026-03-23&queue=nowhere",
        "",
        "date=2026-03-23&x=1",
        "date=2026-03-23&operator=B%20ob",
    ] {
        let (code, body) = send(get.clone(), &format!("/api/v1/qa?{q}"), None, true).await;
        assert_eq!(code, 400, "{q}: {body}");
        assert!(body["error"].is_string(), "{q}: {body}");
    }
    // only the one good review was stored
    let n: i64 = db
        .query_one("SELECT count(*) FROM qa_reviews", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    app.shutdown(Duration::from_secs(2)).await;
}

/// The daily sweep samples yesterday at start (no one listed it) and stops on shutdown.
#[tokio::test]
async fn the_sweep_samples_yesterday() {
    let env = common::TestEnv::new().await;
    let (pool, db) = setup(&env).await;
    let noon_yesterday = (Utc::now().with_timezone(&MOSCOW) - chrono::Duration::days(1))
        .date_naive()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_local_timezone(MOSCOW)
        .unwrap()
        .with_timezone(&Utc);
    insert(
        &db,
        &Row {
            transferred_to: Some("specialists"),
            ..answered(1, "general", noon_yesterday, "alice", 100.0)
        },
    )
    .await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let qa = QaStore::new(pool.clone(), MOSCOW);
    let task = tokio::spawn(
        qa.clone()
            .sweep(rules(), contactd::clock::Clock::system(), stopped),
    );
    let yesterday = noon_yesterday.with_timezone(&MOSCOW).date_naive();
    assert!(
        common::eventually(Duration::from_secs(10), || async {
            !qa.list(yesterday, None, None).await.unwrap().is_empty()
        })
        .await
    );
    assert_eq!(
        sampled(&qa, yesterday).await,
        vec![(id(1), vec!["transferred".to_string()])]
    );
    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the sweep stops on shutdown")
        .unwrap();
}
