//! Operator-campaign calls are visible to supervision, end to end on the simulator with
//! real Redis and PostgreSQL: two operators work a progressive campaign; each answered
//! subscriber talks with an operator (the simulator's ground truth), then the operator sets
//! the disposition. The calls are in `acd_calls` as `outbound` with their recording; the
//! operators' KPIs count them (talk, AHT) while the queue's KPIs (inbound) do not; the
//! campaign's outbound figures are in the KPI report and `GET /api/v1/kpi`; the wallboard
//! lists the running campaign with its figures; `[qa] outbound` samples one operator's outbound calls only.
use crate::common;
use crate::opcamp_support;

use std::time::Duration;

use chrono::Utc;
use contactd::core::kpi::{KpiQuery, Span};
use contactd::store::kpi::KpiStore;
use contactd::store::qa::QaStore;
use opcamp_support::*;
use serde_json::json;

const EXTS: [&str; 2] = ["1001", "1002"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_campaign_calls_reach_kpis_the_wallboard_and_qa() {
    let env = common::TestEnv::new().await;
    let agents: Vec<_> = EXTS.iter().map(|e| (*e, auto_answer())).collect();
    // Subscriber 4 never answers: retried later, it keeps the campaign running (on the board).
    let mut rules: Vec<_> = (0..4)
        .map(|i| rule(i, person(400 + 200 * i as u64, 4000)))
        .collect();
    rules.push(rule(4, contactd::sim::Behaviour::NoAnswer));
    let (sim, app) = start(&env, &agents, rules, "[qa]\noutbound = { op1001 = 100 }\n").await;
    operators(&app, &EXTS).await;
    let id = campaign(&app, 4, 5, "progressive", 2).await;

    // Each subscriber talks with an operator, who then sets the disposition (the operator
    // goes ready again only then: the after-call work ends with it).
    let mut disposed = std::collections::HashSet::new();
    let until = tokio::time::Instant::now() + WAIT;
    while disposed.len() < 4 {
        assert!(
            tokio::time::Instant::now() < until,
            "not all four connected and disposed: {:?}",
            calls(&env, id).await
        );
        for (uuid, _, op, connected, _, disp) in calls(&env, id).await {
            let Some(op) = op.filter(|_| connected && disp.is_none()) else {
                continue;
            };
            if disposed.contains(&uuid) || !talk_over(&env, &uuid).await {
                continue;
            }
            let (code, _) = post_as(
                &app,
                &op,
                &format!("/api/v1/operators/{op}/disposition"),
                json!({"call": uuid, "code": "sale"}),
            )
            .await;
            if code == 200 {
                disposed.insert(uuid);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recorded = calls(&env, id).await;
    let by_sim: usize = (0..4)
        .filter(|i| subscriber(&sim, *i).is_some_and(|p| talked_with(&sim, &p, &EXTS).is_some()))
        .count();
    assert_eq!(
        by_sim, 4,
        "the simulator saw four subscribers bridged to operators"
    );

    // The ACD's records: outbound, the campaign, the operator, a recording, the talk and
    // the after-call work (until the disposition).
    assert!(
        eventually(|| async { acd_rows(&env, id).await.iter().all(|r| r.4.is_some()) }).await,
        "wrap-up never recorded: {:?}",
        acd_rows(&env, id).await
    );
    let rows = acd_rows(&env, id).await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    for (uuid, login, recording, talk, wrap, outcome) in &rows {
        let call = recorded
            .iter()
            .find(|c| &c.0 == uuid)
            .expect("a campaign call");
        assert_eq!(login.as_deref(), call.2.as_deref(), "{uuid}: operator");
        assert!(
            recording.as_deref().is_some_and(|r| r.ends_with(".wav")),
            "{uuid}"
        );
        // 4 s after the answer, less the detector's ~1.4 s before an operator
        assert!(talk.is_some_and(|t| t > 1.5), "{uuid}: talk {talk:?}");
        assert!(wrap.is_some_and(|w| w >= 0.0), "{uuid}: wrap-up {wrap:?}");
        assert_eq!(outcome.as_deref(), Some("answered"), "{uuid}");
    }
    let talk_of = |login: &str| -> f64 {
        rows.iter()
            .filter(|r| r.1.as_deref() == Some(login))
            .map(|r| r.3.unwrap_or(0.0))
            .sum()
    };

    // KPIs: the operators' calls and talk include them; the queue (inbound) has none.
    let now = Utc::now();
    let q = KpiQuery {
        from: now - chrono::Duration::hours(1),
        to: now + chrono::Duration::minutes(1),
        by: Span::Day,
        queue: None,
        operator: None,
    };
    let report = KpiStore::new(app.shared.pool.clone(), chrono_tz::UTC)
        .report(&q, &app.shared.config.acd.service_level_targets())
        .await
        .unwrap();
    assert!(
        report.queues.iter().all(|k| k.offered == 0),
        "outbound calls counted as the queue's offered calls: {:?}",
        report.queues
    );
    let mut handled = 0;
    for ext in EXTS {
        let login = format!("op{ext}");
        let k: Vec<_> = report
            .operators
            .iter()
            .filter(|o| o.login == login)
            .collect();
        let answered: u64 = k.iter().map(|o| o.answered).sum();
        let outbound: u64 = k.iter().map(|o| o.outbound).sum();
        let talk: f64 = k.iter().map(|o| o.talk_s).sum();
        assert_eq!(answered, outbound, "{login}: all their calls were outbound");
        assert!(
            (talk - talk_of(&login)).abs() < 0.01,
            "{login}: talk {talk}"
        );
        assert!(
            k.iter().all(|o| o.service_level.is_none()),
            "{login}: no inbound SL"
        );
        handled += answered;
    }
    assert_eq!(handled, 4);
    assert_eq!(report.campaigns.len(), 1, "{:?}", report.campaigns);
    let c = &report.campaigns[0];
    assert_eq!(
        (c.campaign_id, c.answered, c.connected, c.abandoned),
        (id, 4, 4, 0)
    );
    assert_eq!(c.abandon_rate, Some(0.0));
    assert!(c.aht_s.is_some_and(|a| a > 1.5), "{c:?}");

    // The same through the API (today, in the reports' time zone).
    let zone: chrono_tz::Tz = app.shared.config.mail.report_time_zone.parse().unwrap();
    let resp = reqwest::Client::new()
        .get(format!(
            "http://{}/api/v1/kpi?from={}&by=day",
            app.http_addr,
            now.with_timezone(&zone).format("%Y-%m-%d")
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(body["campaigns"][0]["campaign_id"], id, "{body}");
    assert_eq!(body["campaigns"][0]["connected"], 4, "{body}");

    // The wallboard's operator campaigns: the campaign runs (subscriber 4 is still to be
    // called again), all five were dialed.
    assert!(eventually(|| async { calls(&env, id).await.len() == 5 }).await);
    let (day, _) =
        contactd::http::wallboard::board::day_and_interval(Utc::now(), chrono_tz::UTC, 30);
    let board = contactd::http::wallboard::opcamps::op_campaigns(
        &app.shared.pool,
        &app.shared.acd,
        Some(&app.opcamp),
        &app.shared.live,
        app.shared.config.campaigns.operator.abandon_cap_pct,
        day,
        Utc::now(),
    )
    .await;
    let b = board
        .iter()
        .find(|b| b.id == id)
        .unwrap_or_else(|| panic!("the running campaign is not on the board: {board:?}"));
    assert_eq!(
        (b.dialed, b.answered, b.connected, b.abandoned),
        (5, 4, 4, 0),
        "{b:?}"
    );
    assert_eq!(b.abandon_pct_24h, Some(0.0));
    assert_eq!(b.abandon_pct_today, Some(0.0));
    assert_eq!(b.mode, "progressive");
    assert_eq!(b.operators, 2, "two operators of its queue at work");
    assert!(b.dial_level.is_some(), "this instance paces it: {b:?}");

    // QA: op1001's outbound calls, all of them, and nothing of op1002.
    let qa = QaStore::new(app.shared.pool.clone(), chrono_tz::UTC);
    qa.select_day(&app.shared.config.qa.rules(), Utc::now().date_naive())
        .await
        .unwrap();
    let samples = qa.list(Utc::now().date_naive(), None, None).await.unwrap();
    let of_1001 = rows
        .iter()
        .filter(|r| r.1.as_deref() == Some("op1001"))
        .count();
    assert!(of_1001 > 0, "op1001 took no call: {rows:?}");
    assert_eq!(samples.len(), of_1001, "{samples:?}");
    for s in &samples {
        assert_eq!(s.operator.as_deref(), Some("op1001"));
        assert_eq!(s.reasons, vec!["outbound".to_string()]);
        assert!(s.recording.is_some());
    }
    app.shutdown(Duration::from_secs(2)).await;
}

/// The operator's talk on `call` is over (the subscriber hung up).
async fn talk_over(env: &common::TestEnv, call: &str) -> bool {
    env.pg()
        .await
        .query_one(
            "SELECT talk_ended_at IS NOT NULL FROM operator_calls WHERE uuid = $1::text::uuid",
            &[&call],
        )
        .await
        .is_ok_and(|r| r.get(0))
}

type AcdRow = (
    String,
    Option<String>,
    Option<String>,
    Option<f64>,
    Option<f64>,
    Option<String>,
);

/// The campaign's `acd_calls` rows: (uuid, operator login, recording, talk, wrap-up, outcome).
async fn acd_rows(env: &common::TestEnv, campaign: i64) -> Vec<AcdRow> {
    env.pg()
        .await
        .query(
            "SELECT c.call_uuid::text, o.login, c.recording, c.talk_s, c.wrap_up_s, c.outcome
             FROM acd_calls c LEFT JOIN operators o ON o.id = c.operator
             WHERE c.campaign_id = $1 AND c.direction = 'outbound'",
            &[&campaign],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect()
}
