//! KPIs against a hand-computed day (Moscow time, UTC+3): service level with a caller who
//! abandoned within 5 s left out, a call that entered before midnight and was answered
//! after it, state periods that span intervals (and one that began the day before, and
//! one still open), per-queue targets; then the CLI's table, CSV and refusals, and the
//! HTTP API's answers and 400s against a running daemon.
use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use contactd::core::kpi::{KpiQuery, Span};
use contactd::store::kpi::KpiStore;
use contactd::store::migrate;

const ZONE: chrono_tz::Tz = chrono_tz::Europe::Moscow;

/// A Moscow wall-clock time on 2026-11-30 (or the next day with `d = 1`).
fn at(d: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    ZONE.with_ymd_and_hms(2026, 11, 30 + d, h, m, s)
        .unwrap()
        .with_timezone(&Utc)
}

fn moscow_day(day: u32) -> (DateTime<Utc>, DateTime<Utc>) {
    let from = ZONE
        .with_ymd_and_hms(2026, 11, day, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    (from, from + chrono::Duration::days(1))
}

struct Call {
    queue: &'static str,
    entered: DateTime<Utc>,
    waited: f64,
    answered_by: Option<i64>,
    talk: f64,
    wrap: f64,
    abandoned_after: Option<f64>,
}

async fn seed(pg: &tokio_postgres::Client) -> (i64, i64) {
    let mut ids = vec![];
    for (login, ext) in [("anna", "1001"), ("boris", "1002")] {
        let row = pg
            .query_one(
                "INSERT INTO operators (login, name, endpoint) VALUES ($1, $2, $3) RETURNING id",
                &[&login, &login.to_uppercase(), &format!("user/{ext}")],
            )
            .await
            .unwrap();
        ids.push(row.get::<_, i64>(0));
    }
    let (a, b) = (ids[0], ids[1]);
    let answered = |queue, entered, waited, by, talk, wrap| Call {
        queue,
        entered,
        waited,
        answered_by: Some(by),
        talk,
        wrap,
        abandoned_after: None,
    };
    let abandoned = |entered, after| Call {
        queue: "general",
        entered,
        waited: after,
        answered_by: None,
        talk: 0.0,
        wrap: 0.0,
        abandoned_after: Some(after),
    };
    let calls = [
        answered("general", at(0, 9, 1, 0), 10.0, a, 120.0, 30.0),
        answered("general", at(0, 9, 5, 0), 25.0, b, 200.0, 30.0),
        abandoned(at(0, 9, 10, 0), 3.0),
        abandoned(at(0, 9, 20, 0), 40.0),
        // Entered in the 09:00 interval, answered (by anna) in the 09:30 one.
        answered("general", at(0, 9, 29, 59), 15.0, a, 60.0, 30.0),
        // The meter queue's target is 30 s: 25 s is in time there.
        answered("meter", at(0, 9, 40, 0), 25.0, b, 100.0, 20.0),
        // Entered before midnight, answered after it.
        answered("general", at(0, 23, 59, 50), 15.0, a, 100.0, 0.0),
    ];
    for c in calls {
        let answered_at = c
            .answered_by
            .map(|_| c.entered + chrono::Duration::milliseconds((c.waited * 1000.0) as i64));
        let outcome = if c.answered_by.is_some() {
            "answered"
        } else {
            "abandoned"
        };
        let (talk, wrap) = if c.answered_by.is_some() {
            (Some(c.talk), Some(c.wrap))
        } else {
            (None, None)
        };
        pg.execute(
            "INSERT INTO acd_calls (call_uuid, node, queue, entered_at, answered_at, operator,
                 waited_s, talk_s, wrap_up_s, abandoned_after_s, outcome, offers)
             VALUES ($1, 'fs1', $2, $3, $4, $5, $6, $7, $8, $9, $10, 1)",
            &[
                &uuid::Uuid::new_v4(),
                &c.queue,
                &c.entered,
                &answered_at,
                &c.answered_by,
                &c.waited,
                &talk,
                &wrap,
                &c.abandoned_after,
                &outcome,
            ],
        )
        .await
        .unwrap();
    }
    // anna's day: logged out since the evening before, 09:00-10:00 at work with a break,
    // then logged out (still open).
    type Period = (&'static str, DateTime<Utc>, Option<DateTime<Utc>>);
    let periods: [Period; 10] = [
        (
            "logged_out",
            ZONE.with_ymd_and_hms(2026, 11, 29, 20, 0, 0)
                .unwrap()
                .with_timezone(&Utc),
            Some(at(0, 9, 0, 0)),
        ),
        ("ready", at(0, 9, 0, 0), Some(at(0, 9, 1, 10))),
        ("talking", at(0, 9, 1, 10), Some(at(0, 9, 3, 10))),
        ("wrap_up", at(0, 9, 3, 10), Some(at(0, 9, 3, 40))),
        ("ready", at(0, 9, 3, 40), Some(at(0, 9, 30, 14))),
        ("talking", at(0, 9, 30, 14), Some(at(0, 9, 31, 14))),
        ("wrap_up", at(0, 9, 31, 14), Some(at(0, 9, 31, 44))),
        ("break", at(0, 9, 31, 44), Some(at(0, 9, 45, 0))),
        ("ready", at(0, 9, 45, 0), Some(at(0, 10, 0, 0))),
        ("logged_out", at(0, 10, 0, 0), None),
    ];
    for (state, since, until) in periods {
        let reason = if state == "break" { "lunch" } else { "" };
        pg.execute(
            "INSERT INTO operator_states (operator, state, reason, since, until)
             VALUES ($1, $2, $3, $4, $5)",
            &[&a, &state, &reason, &since, &until],
        )
        .await
        .unwrap();
    }
    (a, b)
}

fn targets() -> BTreeMap<String, u32> {
    [("general".to_string(), 20), ("meter".to_string(), 30)].into()
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-6)
}

#[tokio::test]
async fn a_hand_computed_day() {
    let env = common::TestEnv::new().await;
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    migrate::run(&pool).await.unwrap();
    let pg = env.pg().await;
    seed(&pg).await;
    let store = KpiStore::new(pool, ZONE);
    let (from, to) = moscow_day(30);

    // By 30 minutes.
    let r = store
        .report(
            &KpiQuery {
                from,
                to,
                by: Span::Minutes(30),
                queue: None,
                operator: None,
            },
            &targets(),
        )
        .await
        .unwrap();
    let q = |queue: &str, h, m| {
        r.queues
            .iter()
            .find(|k| k.queue == queue && k.start == at(0, h, m, 0))
            .unwrap_or_else(|| panic!("{queue} {h}:{m} in {:#?}", r.queues))
    };
    let g9 = q("general", 9, 0);
    assert_eq!(
        (g9.offered, g9.answered, g9.answered_in_target),
        (5, 3, 2),
        "{g9:?}"
    );
    assert_eq!((g9.abandoned, g9.abandoned_short), (2, 1));
    // 2 in time of 5 offered, less the caller gone after 3 s.
    assert!(close(g9.service_level, 0.5), "{g9:?}");
    assert!(close(g9.abandon_rate, 0.25), "{g9:?}");
    assert!(close(g9.asa_s, 50.0 / 3.0), "{g9:?}");
    assert!(close(g9.aht_s, 470.0 / 3.0), "{g9:?}");
    let m9 = q("meter", 9, 30);
    assert_eq!((m9.offered, m9.answered_in_target, m9.target_s), (1, 1, 30));
    assert!(close(m9.service_level, 1.0));
    let late = q("general", 23, 30);
    assert_eq!((late.offered, late.answered), (1, 1));
    assert_eq!(r.queues.len(), 3, "{:#?}", r.queues);

    let op = |login: &str, h, m| {
        r.operators
            .iter()
            .find(|k| k.login == login && k.start == at(0, h, m, 0))
            .unwrap_or_else(|| panic!("{login} {h}:{m} in {:#?}", r.operators))
    };
    let a9 = op("anna", 9, 0);
    assert_eq!(a9.answered, 1, "c5 was answered at 09:30:14: {a9:?}");
    assert_eq!(a9.state_s["ready"], 1650.0);
    assert_eq!(a9.state_s["talking"], 120.0);
    assert_eq!(a9.state_s["wrap_up"], 30.0);
    assert_eq!(a9.staffed_s, 1800.0);
    assert!(close(a9.occupancy, 150.0 / 1800.0));
    let a930 = op("anna", 9, 30);
    assert_eq!(a930.answered, 1);
    assert_eq!(a930.state_s["ready"], 914.0);
    assert_eq!(a930.state_s["break"], 796.0);
    assert!(close(a930.occupancy, 90.0 / 1004.0), "{a930:?}");
    // Before 09:00 and after 10:00 anna is logged out: no figures.
    assert!(
        !r.operators.iter().any(
            |k| k.login == "anna" && (k.start == at(0, 8, 30, 0) || k.start == at(0, 10, 0, 0))
        ),
        "{:#?}",
        r.operators
    );
    // The call answered at 00:00:05 is the next day's: no 23:30 interval for anna's calls.
    assert!(!r
        .operators
        .iter()
        .any(|k| k.login == "anna" && k.start == at(0, 23, 30, 0)));

    // By day: the period from the evening before is cut at midnight, the open one at the
    // day's end.
    let r = store
        .report(
            &KpiQuery {
                from,
                to,
                by: Span::Day,
                queue: None,
                operator: Some("anna".into()),
            },
            &targets(),
        )
        .await
        .unwrap();
    assert!(r.queues.is_empty(), "one operator: no queue rows");
    assert_eq!(r.operators.len(), 1, "{:#?}", r.operators);
    let d = &r.operators[0];
    assert_eq!((d.start, d.answered, d.answered_in_target), (from, 2, 2));
    assert_eq!((d.talk_s, d.wrap_up_s), (180.0, 60.0));
    assert!(close(d.aht_s, 120.0));
    assert!(!d.state_s.contains_key("logged_out"), "{d:?}");
    assert_eq!(d.staffed_s, 3600.0);
    assert!(close(d.calls_per_hour, 2.0));
    assert!(close(d.occupancy, 240.0 / 2804.0), "{d:?}");

    // The next day holds the call answered after midnight, under the operator only.
    let dec1 = store
        .report(
            &KpiQuery {
                from: to,
                to: to + chrono::Duration::days(1),
                by: Span::Day,
                queue: None,
                operator: None,
            },
            &targets(),
        )
        .await
        .unwrap();
    assert!(dec1.queues.is_empty(), "{:#?}", dec1.queues);
    let anna1 = dec1.operators.iter().find(|o| o.login == "anna").unwrap();
    assert_eq!((anna1.answered, anna1.staffed_s), (1, 0.0));
}

#[tokio::test]
async fn the_cli_prints_csv_and_names_bad_options() {
    let env = common::TestEnv::new().await;
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    migrate::run(&pool).await.unwrap();
    seed(&env.pg().await).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("contactd.toml");
    let mut toml = env.config_toml("127.0.0.1:8021".parse().unwrap(), "ClueCon", &[]);
    toml.push_str("[mail]\nreport_time_zone = \"Europe/Moscow\"\n[acd.queue.general]\ngroup = \"general\"\n[acd.queue.meter]\ngroup = \"meter\"\nservice_level_seconds = 30\n");
    std::fs::write(&config, toml).unwrap();

    let out = common::contactd_ok(
        &["kpi", "--from", "2026-11-30", "--by", "30m", "--csv"],
        &config,
    )
    .await;
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("2026-11-30 09:00,general,5,3,2,20,50.0,2,1,25.0,0,16.7,156.7,30m"),
        "{text}"
    );
    assert!(
        text.contains("2026-11-30 09:30,meter,1,1,1,30,100.0,0,0,0.0,0,25.0,120.0,30m"),
        "{text}"
    );
    assert!(
        text.contains("2026-11-30 09:30,anna,ANNA,1,100.0,90.0,60.0,30.0,1800.0,9.0,2.00,914.0,0.0,60.0,30.0,796.0,"),
        "{text}"
    );

    let table = common::contactd_ok(&["kpi", "--from", "2026-11-30"], &config).await;
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("general") && table.contains("anna"),
        "{table}"
    );

    for (args, says) in [
        (vec!["kpi", "--from", "2026-11-30", "--by", "20m"], "--by"),
        (vec!["kpi", "--from", "30.11.2026"], "--from"),
        (
            vec!["kpi", "--from", "2026-11-30", "--to", "2026-11-01"],
            "after",
        ),
        (
            vec!["kpi", "--from", "2026-11-30", "--queue", "nosuch"],
            "--queue",
        ),
        (
            vec!["kpi", "--from", "2026-11-30", "--operator", "A B"],
            "operator",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
            .args(&args)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_json_and_names_bad_parameters() {
    let env = common::TestEnv::new().await;
    let sim = contactd::sim::Simulator::start(contactd::sim::SimConfig::default())
        .await
        .unwrap();
    let mut toml = env.config_toml(sim.esl_addr(), "ClueCon", &[]);
    toml.push_str("[mail]\nreport_time_zone = \"Europe/Moscow\"\n");
    let cfg = contactd::config::Config::from_toml(&toml).unwrap();
    let app = contactd::app::App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    let pg = env.pg().await;
    let (anna, boris) = seed(&pg).await;
    // QA: one of anna's calls picked and scored 80, one of boris's picked, not yet heard.
    for (op, score) in [(anna, Some(80i16)), (boris, None)] {
        let call: uuid::Uuid = pg
            .query_one(
                "SELECT call_uuid FROM acd_calls WHERE operator = $1 ORDER BY entered_at LIMIT 1",
                &[&op],
            )
            .await
            .unwrap()
            .get(0);
        pg.execute(
            "INSERT INTO qa_samples (call_uuid, day, queue, operator, reasons)
             VALUES ($1, '2026-11-30', 'general', $2, ARRAY['percent'])",
            &[&call, &op],
        )
        .await
        .unwrap();
        if let Some(score) = score {
            pg.execute(
                "INSERT INTO qa_reviews (call_uuid, reviewer, score, reviewed_at)
                 VALUES ($1, 'petrova', $2, now())",
                &[&call, &score],
            )
            .await
            .unwrap();
        }
    }
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = |path: &str, token: bool| {
        let mut req = client.get(format!("http://{}{path}", app.http_addr));
        if token {
            req = req.bearer_auth("test-token-0123456789");
        }
        async move {
            let resp = req.send().await.unwrap();
            let code = resp.status().as_u16();
            (
                code,
                serde_json::from_str::<serde_json::Value>(&resp.text().await.unwrap())
                    .unwrap_or_default(),
            )
        }
    };
    let (code, _) = get("/api/v1/kpi?from=2026-11-30", false).await;
    assert_eq!(code, 401);
    let (code, body) = get("/api/v1/kpi?from=2026-11-30&by=day&queue=general", true).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["time_zone"], "Europe/Moscow");
    let general = &body["queues"][0];
    assert_eq!(general["offered"], 6, "{body}");
    assert_eq!(general["abandoned_short"], 1);
    assert_eq!(general["answered_in_target"], 3);
    // QA coverage per operator over the period (not per queue: asked without one).
    let (code, body) = get("/api/v1/kpi?from=2026-11-30&by=day", true).await;
    assert_eq!(code, 200, "{body}");
    let qa = body["qa"].as_array().unwrap();
    let of = |login: &str| qa.iter().find(|q| q["login"] == login).unwrap().clone();
    assert_eq!(
        (
            of("anna")["sampled"].as_u64(),
            of("anna")["reviewed"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(of("anna")["mean_score"].as_f64(), Some(80.0));
    assert_eq!(of("boris")["coverage"].as_f64(), Some(0.0));
    for (query, field) in [
        ("from=yesterday", "from"),
        ("from=2026-11-30&by=5m", "by"),
        ("from=2026-11-30&queue=nosuch", "queue"),
        ("from=2026-11-30&limit=5", "limit"),
        ("from=2020-01-01&to=2026-11-30&by=15m", "by"),
    ] {
        let (code, body) = get(&format!("/api/v1/kpi?{query}"), true).await;
        assert_eq!(
            (code, body["field"].as_str()),
            (400, Some(field)),
            "{query}: {body}"
        );
    }
    app.shutdown(Duration::from_secs(2)).await;
}
