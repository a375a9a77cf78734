use super::*;
use crate::store::acd::{AgentInfo, CallInfo};

fn agent(state: StateName, at: i64, call: Option<&str>) -> AgentInfo {
    AgentInfo {
        state,
        at_ms: at,
        idle_ms: None,
        offer: None,
        call: call.map(str::to_string),
    }
}

fn board() -> LiveBoard {
    let call = |q: &str, at: i64| CallInfo {
        priority: 100,
        seq: 1,
        arrived_ms: at,
        queue: q.into(),
    };
    LiveBoard {
        queues: vec![
            (
                "general".into(),
                vec!["aaaaaaaa-1111".into(), "bbbbbbbb-2222".into()],
            ),
            ("meter".into(), vec![]),
        ],
        calls: [
            ("aaaaaaaa-1111".to_string(), call("general", 1_000)),
            ("bbbbbbbb-2222".to_string(), call("general", 4_000)),
            ("cccccccc-3333".to_string(), call("meter", 500)),
        ]
        .into_iter()
        .collect(),
        agents: vec![
            ("op1".into(), agent(StateName::Ready, 100, None)),
            (
                "op2".into(),
                agent(StateName::Talking, 200, Some("cccccccc-3333")),
            ),
            ("op3".into(), agent(StateName::Break, 300, None)),
        ],
        skills: vec![
            ("op1".into(), "general".into(), 5),
            ("op2".into(), "meter".into(), 5),
            ("op2".into(), "general".into(), 5),
            ("op3".into(), "general".into(), 5),
        ],
    }
}

#[test]
fn live_snapshot_counts_callers_waits_and_operators_per_queue() {
    let need = |s| Need {
        skill: s,
        min_level: 1,
    };
    let queues = vec![
        ("general".to_string(), need("general")),
        ("meter".to_string(), need("meter")),
        ("contracts".to_string(), need("contracts")),
    ];
    let names = [("op1".to_string(), "Anna".to_string())].into();
    let s = live_snapshot(&board(), &queues, &names, 10_000);
    assert_eq!(s.queues.len(), 3);
    let g = &s.queues[0];
    assert_eq!(
        g.waiting,
        vec![
            WaitingCaller {
                id: "aaaaaaaa".into(),
                since_ms: 1_000
            },
            WaitingCaller {
                id: "bbbbbbbb".into(),
                since_ms: 4_000
            }
        ]
    );
    assert_eq!(g.longest_since_ms, Some(1_000));
    // op1 ready; op2 talking (staffed); op3 on a break (neither).
    assert_eq!((g.ready, g.staffed), (1, 2));
    let m = &s.queues[1];
    assert_eq!((m.waiting.len(), m.longest_since_ms), (0, None));
    assert_eq!((m.ready, m.staffed), (0, 1));
    assert_eq!(s.queues[2].staffed, 0, "nobody has the skill");
    let ops: Vec<_> = s
        .operators
        .iter()
        .map(|o| {
            (
                o.name.as_str(),
                o.state.as_str(),
                o.since_ms,
                o.queue.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        vec![
            ("Anna", "ready", 100, None),
            ("op2", "talking", 200, Some("meter")),
            ("op3", "break", 300, None)
        ]
    );
}

#[test]
fn stats_apply_the_plan_and_order_operators_by_calls() {
    let op = |login: &str, answered| OperatorStats {
        login: login.into(),
        name: login.into(),
        answered,
        aht_s: None,
        service_level: None,
        qa_score: None,
        plan: None,
    };
    let q = QueueStats {
        name: "general".into(),
        today: Figures {
            answered: 30,
            ..Figures::default()
        },
        interval: Figures::default(),
        plan: None,
    };
    let plan = [("general".to_string(), 120)].into();
    let s = stats_snapshot(
        Some((vec![q], vec![op("a", 3), op("b", 9)])),
        &plan,
        12,
        vec![],
        5,
    );
    assert!(s.kpi);
    assert_eq!(s.queues[0].plan.unwrap().ratio, 0.25);
    assert_eq!(s.operators[0].login, "b");
    assert_eq!(s.operators[0].plan.unwrap().ratio, 0.75);
    let none = stats_snapshot(None, &plan, 0, vec![], 5);
    assert!(!none.kpi && none.queues.is_empty());
    assert_eq!(progress(5, 0), None);
}

#[test]
fn today_and_this_interval_in_the_local_zone() {
    let zone: chrono_tz::Tz = "Europe/Moscow".parse().unwrap();
    // 21:47 UTC is 00:47 the next day in Moscow (UTC+3).
    let now = "2026-12-01T21:47:10Z".parse::<DateTime<Utc>>().unwrap();
    let (day, interval) = day_and_interval(now, zone, 30);
    assert_eq!(day.to_rfc3339(), "2026-12-01T21:00:00+00:00");
    assert_eq!(interval.to_rfc3339(), "2026-12-01T21:30:00+00:00");
    let (_, i15) = day_and_interval(now, zone, 15);
    assert_eq!(i15.to_rfc3339(), "2026-12-01T21:45:00+00:00");
    // Nepal is UTC+5:45: the local boundaries, not UTC's.
    let nepal: chrono_tz::Tz = "Asia/Kathmandu".parse().unwrap();
    let (day, interval) = day_and_interval(now, nepal, 30);
    assert_eq!(day.to_rfc3339(), "2026-12-01T18:15:00+00:00");
    assert_eq!(interval.to_rfc3339(), "2026-12-01T21:45:00+00:00");
}

#[test]
fn figures_cover_every_queue_and_todays_operators() {
    use crate::core::kpi::{OperatorCounts, OperatorKpi, QueueCounts};
    let t = DateTime::<Utc>::default();
    let counts = QueueCounts {
        offered: 10,
        answered: 8,
        answered_in_target: 6,
        abandoned: 2,
        abandoned_short: 0,
        transferred: 0,
        wait_sum_s: 80.0,
        handle_sum_s: 1600.0,
        handled: 8,
        waiting_in_target: 0,
    };
    let today = KpiReport {
        queues: vec![QueueKpi::new(t, "general".into(), 20, &counts)],
        operators: vec![OperatorKpi::new(
            t,
            "op1".into(),
            "Anna".into(),
            &OperatorCounts {
                answered: 8,
                answered_in_target: 6,
                talk_s: 1200.0,
                wrap_up_s: 400.0,
                handled: 8,
                ..OperatorCounts::default()
            },
        )],
        qa: vec![crate::core::kpi::QaCoverage::new(
            "op1".into(),
            2,
            1,
            Some(4.5),
        )],
        campaigns: Vec::new(),
    };
    let interval = KpiReport::default();
    let (q, o) = figures_from(&today, &interval, &["general".into(), "meter".into()]);
    assert_eq!(q.len(), 2);
    assert_eq!(q[0].today.service_level, Some(0.6));
    assert_eq!(q[0].today.abandon_rate, Some(0.2));
    assert_eq!(q[0].today.asa_s, Some(10.0));
    assert_eq!(q[0].interval, Figures::default());
    assert_eq!(q[1].today.offered, 0);
    assert_eq!((o[0].name.as_str(), o[0].answered), ("Anna", 8));
    assert_eq!(o[0].aht_s, Some(200.0));
    assert_eq!(o[0].service_level, Some(0.75));
    assert_eq!(o[0].qa_score, Some(4.5));
}

#[test]
fn formatting() {
    assert_eq!(clock_text(0), "0:00");
    assert_eq!(clock_text(42), "0:42");
    assert_eq!(clock_text(725), "12:05");
    assert_eq!(clock_text(3723), "1:02:03");
    assert_eq!(reached_share(3, 4), Some(0.75));
    assert_eq!(reached_share(0, 0), None);
}
