//! Guards the staffing forecast from history against a real database with hand-made
//! history: four Mondays of 20, 24, 16 and 20 calls at 09:00–09:30 (Moscow time) forecast
//! 20 for next Monday at 09:00 with the answered calls' handle time; another queue, another
//! half-hour and another weekday do not leak in; shrinkage comes from operator state
//! periods clipped to the window (a period across its start, an open one ending now, one
//! after now left out); and `contactd staffing --from-history` prints the same figures.
use crate::common;

use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use contactd::store::forecast::{forecast, ForecastQuery, Goal};
use contactd::store::{migrate, postgres};
use tokio_postgres::Client;
use uuid::Uuid;

const MOSCOW: chrono_tz::Tz = chrono_tz::Europe::Moscow;

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

/// `n` calls of `queue` entering from `at` on, 20 s apart, the first `answered` of them
/// answered with 150 s of talk and 30 s of after-call work.
async fn calls(db: &Client, queue: &str, at: DateTime<Utc>, n: i64, answered: i64) {
    for k in 0..n {
        let t = at + chrono::Duration::seconds(20 * k);
        let (talk, wrap): (Option<f64>, Option<f64>) = if k < answered {
            (Some(150.0), Some(30.0))
        } else {
            (None, None)
        };
        db.execute(
            "INSERT INTO acd_calls (call_uuid, node, queue, entered_at, talk_s, wrap_up_s, outcome)
             VALUES ($1, 'fs1', $2, $3, $4, $5, $6)",
            &[
                &Uuid::new_v4(),
                &queue,
                &t,
                &talk,
                &wrap,
                &if talk.is_some() {
                    "answered"
                } else {
                    "abandoned"
                },
            ],
        )
        .await
        .unwrap();
    }
}

async fn history(db: &Client) {
    // Mondays 2, 9, 16, 23 March 2026; 09:00 Moscow is 06:00 UTC
    for (day, n) in [(2, 20), (9, 24), (16, 16), (23, 20)] {
        calls(db, "general", utc(2026, 3, day, 6, 0), n, n).await;
    }
    // the first Monday: 4 more that nobody answered (AHT still 180 s, calls 21 on average)
    calls(db, "general", utc(2026, 3, 2, 6, 25), 4, 0).await;
    // 09:30 is the next interval, Tuesday another day, "meter" another queue
    calls(db, "general", utc(2026, 3, 23, 6, 30), 8, 8).await;
    calls(db, "general", utc(2026, 3, 24, 6, 0), 80, 80).await;
    calls(db, "meter", utc(2026, 3, 23, 6, 0), 100, 100).await;
}

/// State periods around the window [2026-03-02 00:00 MSK = 03-01 21:00 UTC, now].
async fn states(db: &Client) {
    db.batch_execute(
        "INSERT INTO operators (login, name, endpoint) VALUES
             ('alice', 'Alice', 'user/1001'), ('bob', 'Bob', 'user/1002')",
    )
    .await
    .unwrap();
    let add = |op: &'static str,
               state: &'static str,
               since: DateTime<Utc>,
               until: Option<DateTime<Utc>>| async move {
        db.execute(
            "INSERT INTO operator_states (operator, state, since, until)
             SELECT id, $2, $3, $4 FROM operators WHERE login = $1",
            &[&op, &state, &since, &until],
        )
        .await
        .unwrap();
    };
    // ready across the window's start: 2 h of its 3 inside
    add(
        "alice",
        "ready",
        utc(2026, 3, 1, 19, 0),
        Some(utc(2026, 3, 1, 23, 0)),
    )
    .await;
    // before the window: left out
    add(
        "alice",
        "break",
        utc(2026, 2, 20, 9, 0),
        Some(utc(2026, 2, 20, 12, 0)),
    )
    .await;
    // a 1 h break inside
    add(
        "alice",
        "break",
        utc(2026, 3, 1, 23, 0),
        Some(utc(2026, 3, 2, 0, 0)),
    )
    .await;
    // logged out for days: not staffed time
    add(
        "alice",
        "logged_out",
        utc(2026, 3, 2, 0, 0),
        Some(utc(2026, 3, 20, 0, 0)),
    )
    .await;
    // talking 1 h
    add(
        "bob",
        "talking",
        utc(2026, 3, 28, 9, 0),
        Some(utc(2026, 3, 28, 10, 0)),
    )
    .await;
    // absent since 11:00, still open: ends at now (12:00), 1 h
    add("bob", "absent", utc(2026, 3, 28, 11, 0), None).await;
}

fn query(now: DateTime<Utc>) -> ForecastQuery {
    ForecastQuery {
        queue: "general".into(),
        weeks: 4,
        first_day: NaiveDate::from_ymd_opt(2026, 3, 30).unwrap(),
        days: 7,
        goal: Goal {
            target: Duration::from_secs(20),
            service_level: 0.8,
            patience: None,
        },
        default_handle: Duration::from_secs(180),
        now,
    }
}

#[tokio::test]
async fn next_monday_from_four_past_mondays() {
    let env = common::TestEnv::new().await;
    let pool = postgres::pool(env.db_url(), 2).unwrap();
    migrate::run(&pool).await.unwrap();
    let db = env.pg().await;
    history(&db).await;
    states(&db).await;
    let now = utc(2026, 3, 28, 12, 0);
    let f = forecast(&pool, MOSCOW, &query(now)).await.unwrap();
    assert_eq!(f.queue, "general");
    // 7 days of 48 half-hours (Moscow keeps no daylight saving)
    assert_eq!(f.intervals.len(), 7 * 48);
    assert_eq!(f.intervals[0].start, utc(2026, 3, 29, 21, 0));
    let at = |day: u32, h: u32, m: u32| {
        f.intervals
            .iter()
            .find(|i| i.start == MOSCOW.with_ymd_and_hms(2026, 3, day, h, m, 0).unwrap())
            .unwrap()
            .clone()
    };
    let nine = at(30, 9, 0);
    assert_eq!(nine.calls, 21.0, "(24 + 24 + 16 + 20) / 4: {nine:?}");
    assert!((nine.aht_s - 180.0).abs() < 1e-9, "{nine:?}");
    // 42 calls/h × 180 s = 2.1 Erlangs: 4 operators answer 80 % within 20 s
    assert_eq!(nine.operators, 4);
    assert!(nine.service_level >= 0.8 && nine.service_level < 1.0);
    assert_eq!(at(30, 9, 30).calls, 2.0); // 8 on one Monday of four
    assert_eq!(at(31, 9, 0).calls, 20.0); // the Tuesday: 80 over 4 weeks
    assert_eq!(at(30, 10, 0).calls, 0.0);
    assert_eq!(at(30, 10, 0).operators, 0);
    // shrinkage: staffed 2 h ready + 1 h break + 1 h talking + 1 h absent, 2 h of it away
    assert!((f.shrinkage - 0.4).abs() < 1e-9, "{}", f.shrinkage);
    assert_eq!(nine.with_shrinkage, 7); // 4 / 0.6 = 6.67
                                        // a break after now is not history; and with now before the last Monday was over, it
                                        // drops out of the average instead of counting as zero
    let early = utc(2026, 3, 23, 7, 0);
    let f = forecast(&pool, MOSCOW, &query(early)).await.unwrap();
    let nine = f
        .intervals
        .iter()
        .find(|i| i.start == utc(2026, 3, 30, 6, 0))
        .unwrap();
    assert_eq!(nine.calls, (24.0 + 24.0 + 16.0) / 3.0);
    // only the ready and break periods before that now: 1 of 3 h away
    assert!((f.shrinkage - 1.0 / 3.0).abs() < 1e-9, "{}", f.shrinkage);
}

#[tokio::test]
async fn staffing_from_history_on_the_command_line() {
    let env = common::TestEnv::new().await;
    let pool = postgres::pool(env.db_url(), 2).unwrap();
    migrate::run(&pool).await.unwrap();
    let db = env.pg().await;
    history(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("contactd.toml");
    let mut toml = env.config_toml("127.0.0.1:8021".parse().unwrap(), "ClueCon", &[]);
    // the queue's own goal, 85 % within 20 s, is the default
    toml.push_str(
        "[mail]\nreport_time_zone = \"Europe/Moscow\"\n\
         [acd.queue.general]\nservice_level_goal = 85\n",
    );
    std::fs::write(&config, toml).unwrap();
    let out = common::contactd_ok(
        &[
            "staffing",
            "--from-history",
            "--queue",
            "general",
            "--weeks",
            "4",
            "--from",
            "2026-03-30",
            "--days",
            "1",
        ],
        &config,
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    let nine = text
        .lines()
        .find(|l| l.starts_with("Mon 2026-03-30 09:00"))
        .unwrap_or_else(|| panic!("{text}"));
    let cols: Vec<&str> = nine.split_whitespace().collect();
    // day date time calls AHT "s" operators with-shrinkage SL "%"
    // 2.1 Erlangs: 4 operators answer 83.9 % within 20 s, 5 answer 94.8 %
    assert_eq!(&cols[3..8], ["21.0", "180", "s", "5", "5"], "{nine}");
    assert!(
        text.contains("goal: 85 % answered within 20 s (Erlang C)"),
        "{text}"
    );
    assert!(text.contains("Europe/Moscow"), "{text}");
    assert!(text.contains("46 of 48 half-hours"), "{text}");
    // within 30 s, 4 answer 85.5 %
    let out = common::contactd_ok(
        &[
            "staffing",
            "--from-history",
            "--queue",
            "general",
            "--from",
            "2026-03-30",
            "--days",
            "1",
            "--target-seconds",
            "30",
        ],
        &config,
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    let nine = text
        .lines()
        .find(|l| l.starts_with("Mon 2026-03-30 09:00"))
        .unwrap();
    assert_eq!(nine.split_whitespace().nth(6), Some("4"), "{text}");
    // with a patience: Erlang A named
    let out = common::contactd_ok(
        &[
            "staffing",
            "--from-history",
            "--queue",
            "general",
            "--from",
            "2026-03-30",
        ]
        .iter()
        .chain(&[
            "--days",
            "1",
            "--patience-seconds",
            "30",
            "--service-level",
            "90",
        ])
        .copied()
        .collect::<Vec<_>>(),
        &config,
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Erlang A, patience 30 s") && text.contains("goal: 90 %"),
        "{text}"
    );
    // a queue that is not configured is refused (64)
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
        .args([
            "staffing",
            "--from-history",
            "--queue",
            "nowhere",
            "--config",
        ])
        .arg(&config)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--queue nowhere"));
}
