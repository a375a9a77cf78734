//! The operator campaign's two ways of not connecting, end to end on the simulator: a person
//! whom no operator reached in time hears the campaign's abandon message within 2 s of
//! their answer (the simulator's ground truth) and is recorded `abandoned`; an answering
//! machine is recognised by the detector and never reaches an operator.
use crate::common;
use crate::opcamp_support;

use std::time::Duration;

use contactd::sim::{AfterAnswer, Behaviour};
use opcamp_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_no_operator_reached_hears_the_abandon_message_within_2_s() {
    let env = common::TestEnv::new().await;
    // The operator's phone is not answered in time (no auto-answer on it).
    let slow = Behaviour::Answer {
        ring_ms: 4000,
        after: AfterAnswer::Stay,
    };
    let rules = (0..3).map(|i| rule(i, person(400, 10_000))).collect();
    let (sim, app) = start(&env, &[("1001", slow)], rules, "").await;
    operators(&app, &["1001"]).await;
    let id = campaign(&app, 2, 3, "progressive", 1).await;
    // Each unanswered offer makes the operator "missed"; they press ready again each time
    // (else the campaign has nobody to dial for).
    let acd = app.shared.acd.clone();
    let again = tokio::spawn(async move {
        loop {
            let _ = acd
                .command("op1001", contactd::service::acd::OperatorCommand::Ready)
                .await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    assert!(
        eventually(|| async { done(&env, id).await == 3 }).await,
        "calls: {:?}",
        calls(&env, id).await
    );
    let recorded = calls(&env, id).await;
    assert_eq!(recorded.len(), 3);
    for (uuid, by, _, connected, abandoned, _) in &recorded {
        assert_eq!(by.as_deref(), Some("person"), "{uuid}");
        assert!(*abandoned && !*connected, "{uuid} not recorded abandoned");
    }
    for i in 0..3 {
        let p = subscriber(&sim, i).unwrap();
        let after = message_after_answer(&p)
            .unwrap_or_else(|| panic!("subscriber {i} never heard the message: {p:?}"));
        assert!(
            after <= 2000,
            "subscriber {i}: message {after} ms after the answer"
        );
        assert!(p.bridged_to.is_empty(), "subscriber {i} was bridged");
    }
    // every abandon is in the pacer's figures
    let f = app.opcamp.abandon_figures(id).unwrap();
    assert_eq!((f.answered_24h, f.abandoned_24h), (3, 3), "{f:?}");
    again.abort();
    // ... and in the supervisors' KPIs: the campaign's outbound abandons (not the queue's)
    let now = chrono::Utc::now();
    let q = contactd::core::kpi::KpiQuery {
        from: now - chrono::Duration::hours(1),
        to: now + chrono::Duration::minutes(1),
        by: contactd::core::kpi::Span::Day,
        queue: None,
        operator: None,
    };
    let report = contactd::store::kpi::KpiStore::new(app.shared.pool.clone(), chrono_tz::UTC)
        .report(&q, &app.shared.config.acd.service_level_targets())
        .await
        .unwrap();
    let c = &report.campaigns[0];
    assert_eq!((c.answered, c.connected, c.abandoned), (3, 0, 3), "{c:?}");
    assert_eq!(c.abandon_rate, Some(1.0));
    assert!(
        report.queues.iter().all(|k| k.abandoned == 0),
        "{:?}",
        report.queues
    );
    let rows: Vec<(Option<String>, Option<i64>)> = env
        .pg()
        .await
        .query(
            "SELECT outcome, operator FROM acd_calls WHERE campaign_id = $1 AND direction = 'outbound'",
            &[&id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rows, vec![(Some("abandoned".to_string()), None); 3]);
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answering_machine_never_reaches_an_operator() {
    let env = common::TestEnv::new().await;
    let machine = Behaviour::Answer {
        ring_ms: 400,
        after: AfterAnswer::Machine {
            greeting_ms: 4000,
            gap_ms: 300,
            beep_hz: 1000.0,
            beep_ms: 500,
            record_ms: 5000,
        },
    };
    let rules = vec![rule(0, machine), rule(1, person(1500, 2000))];
    let (sim, app) = start(&env, &[("1001", auto_answer())], rules, "").await;
    operators(&app, &["1001"]).await;
    let id = campaign(&app, 3, 2, "progressive", 1).await;
    // The machine is tried again later (as a no-answer); its first attempt is what counts.
    assert!(
        eventually(|| async {
            let c = calls(&env, id).await;
            c.iter().any(|c| c.1.as_deref() == Some("machine"))
                && c.iter().any(|c| c.3)
                && subscriber(&sim, 1).is_some_and(|p| p.ended_at_ms.is_some())
        })
        .await,
        "calls: {:?}",
        calls(&env, id).await
    );
    let recorded = calls(&env, id).await;
    let machine_call = recorded
        .iter()
        .find(|c| c.1.as_deref() == Some("machine"))
        .unwrap_or_else(|| panic!("no call recorded as a machine: {recorded:?}"));
    assert!(!machine_call.3 && !machine_call.4, "{machine_call:?}");
    let offers = contactd::sim::Simulator::agent_offers(&sim, "1001");
    assert!(
        offers
            .iter()
            .all(|o| !o.vars.iter().any(|(_, v)| v == &machine_call.0)),
        "the machine's call was offered to the operator: {offers:?}"
    );
    let m = subscriber(&sim, 0).unwrap();
    assert!(m.bridged_to.is_empty(), "the machine was bridged: {m:?}");
    // the person after it did reach the operator
    let p = subscriber(&sim, 1).unwrap();
    assert_eq!(talked_with(&sim, &p, &["1001"]).as_deref(), Some("1001"));
    app.shutdown(Duration::from_secs(2)).await;
}

/// contactd gone the moment a person answers (as when it is killed): nobody on the switch's
/// side of the link waits for it — the call's own script plays the abandon message within
/// 2 s of the answer and hangs up, where a parked call would have left them in silence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_contactd_gone_at_the_answer_the_switch_still_plays_the_abandon_message() {
    let env = common::TestEnv::new().await;
    // the operator's phone rings on: nobody takes the person before contactd is gone
    let slow = Behaviour::Answer {
        ring_ms: 10_000,
        after: AfterAnswer::Stay,
    };
    let rules = vec![rule(0, person(1500, 20_000))];
    let (sim, app) = start(&env, &[("1001", slow)], rules, "").await;
    operators(&app, &["1001"]).await;
    let _id = campaign(&app, 4, 1, "progressive", 1).await;
    assert!(
        eventually(|| async { subscriber(&sim, 0).is_some_and(|p| p.answered_at_ms.is_some()) })
            .await,
        "the subscriber never answered: {:?}",
        subscriber(&sim, 0)
    );
    app.shutdown(Duration::ZERO).await;
    let ended = common::eventually(Duration::from_secs(10), || async {
        subscriber(&sim, 0).is_some_and(|p| p.ended_at_ms.is_some())
    })
    .await;
    let p = subscriber(&sim, 0).unwrap();
    assert!(ended, "the person is still on the line: {p:?}");
    let after = message_after_answer(&p)
        .unwrap_or_else(|| panic!("the person never heard the message: {p:?}"));
    assert!(after <= 2000, "message {after} ms after the answer: {p:?}");
    assert!(p.bridged_to.is_empty(), "bridged: {p:?}");
    // the switch ended the call after the message, long before the person would have
    assert_eq!(p.hangup_by.as_deref(), Some("switch"), "{p:?}");
    assert_eq!(p.playbacks_completed, 1, "the message was cut: {p:?}");
    assert!(
        p.max_dead_air_ms <= 2000,
        "{} ms of silence: {p:?}",
        p.max_dead_air_ms
    );
}
