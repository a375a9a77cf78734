//! Shared by the QA tests: hand-made `acd_calls` rows (the day of 23 March 2026 in Moscow
//! with a call for each sampling rule and calls that must not count), and the store's view.
#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use contactd::core::qa::Rules;
use contactd::store::qa::QaStore;
use contactd::store::{migrate, postgres};
use deadpool_postgres::Pool;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::common;

pub const MOSCOW: chrono_tz::Tz = chrono_tz::Europe::Moscow;

pub fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
}

/// `h:m` Moscow time on 2026-03-`d`.
pub fn msk(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    MOSCOW
        .with_ymd_and_hms(2026, 3, d, h, m, 0)
        .unwrap()
        .with_timezone(&Utc)
}

pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 + n)
}

/// One finished (or not) call row, as the ACD writes it.
#[derive(Clone)]
pub struct Row {
    pub n: u128,
    pub queue: &'static str,
    pub at: DateTime<Utc>,
    pub operator: Option<&'static str>,
    pub handle_s: Option<f64>,
    pub transferred_to: Option<&'static str>,
    pub abandoned_after_s: Option<f64>,
    pub ended: bool,
}

pub fn answered(
    n: u128,
    queue: &'static str,
    at: DateTime<Utc>,
    op: &'static str,
    handle_s: f64,
) -> Row {
    Row {
        n,
        queue,
        at,
        operator: Some(op),
        handle_s: Some(handle_s),
        transferred_to: None,
        abandoned_after_s: None,
        ended: true,
    }
}

pub async fn insert(db: &Client, r: &Row) {
    let outcome = match (r.handle_s, r.abandoned_after_s) {
        (Some(_), _) => "answered",
        (None, Some(_)) => "abandoned",
        _ => "lost",
    };
    db.execute(
        "INSERT INTO acd_calls (call_uuid, node, queue, entered_at, answered_at, operator,
                                talk_s, wrap_up_s, abandoned_after_s, transferred_to,
                                recording, ended_at, outcome)
         VALUES ($1, 'fs1', $2, $3, CASE WHEN $5::float8 IS NOT NULL THEN $3::timestamptz + interval '10 s' END,
                 (SELECT id FROM operators WHERE login = $4), $5 - 20, 20, $6, $7,
                 $10,
                 CASE WHEN $8 THEN $3::timestamptz + interval '15 min' END, $9)",
        &[
            &id(r.n),
            &r.queue,
            &r.at,
            &r.operator,
            &r.handle_s,
            &r.abandoned_after_s,
            &r.transferred_to,
            &r.ended,
            &outcome,
            &r.handle_s
                .map(|_| format!("/var/lib/contactd/recordings/{}.wav", id(r.n))),
        ],
    )
    .await
    .unwrap();
}

pub async fn setup(env: &common::TestEnv) -> (Pool, Client) {
    let pool = postgres::pool(env.db_url(), 4).unwrap();
    migrate::run(&pool).await.unwrap();
    let db = env.pg().await;
    db.batch_execute(
        "INSERT INTO operators (login, name, endpoint) VALUES
             ('alice', 'Alice', 'user/1001'), ('bob', 'Bob', 'user/1002')",
    )
    .await
    .unwrap();
    (pool, db)
}

/// The day of 23 March: six general calls by alice, meter calls by bob (one long, one
/// transferred), two abandons, and calls that must not count.
pub async fn monday(db: &Client) {
    let mut rows: Vec<Row> = (1..=6)
        .map(|n| answered(n, "general", msk(23, 9, n as u32), "alice", 100.0))
        .collect();
    rows.extend((11..=13).map(|n| answered(n, "meter", msk(23, 10, n as u32), "bob", 100.0)));
    // meter's average: (3 × 100 + 700 + 100) / 5 = 220; 700 > 2 × 220
    rows.push(answered(14, "meter", msk(23, 11, 0), "bob", 700.0));
    rows.push(Row {
        transferred_to: Some("specialists"),
        ..answered(15, "meter", msk(23, 11, 30), "bob", 100.0)
    });
    let abandoned = |n, w| Row {
        n,
        queue: "meter",
        at: msk(23, 12, 0),
        operator: None,
        handle_s: None,
        transferred_to: None,
        abandoned_after_s: Some(w),
        ended: true,
    };
    rows.push(abandoned(16, 61.0));
    rows.push(abandoned(17, 59.0));
    // 23:50 on the 22nd (Moscow) is another day; an overflow (moved, never answered) is
    // not a transfer; a call still going on is not sampled yet
    rows.push(Row {
        transferred_to: Some("general"),
        ..answered(18, "meter", msk(22, 23, 50), "bob", 5000.0)
    });
    rows.push(Row {
        handle_s: None,
        operator: None,
        transferred_to: Some("general"),
        ..answered(19, "meter", msk(23, 13, 0), "bob", 0.0)
    });
    rows.push(Row {
        ended: false,
        transferred_to: Some("specialists"),
        ..answered(20, "meter", msk(23, 14, 0), "bob", 100.0)
    });
    for r in &rows {
        insert(db, r).await;
    }
}

pub fn rules() -> Rules {
    Rules {
        percent: [("general".to_string(), 50.0)].into(),
        per_operator_per_day: 0,
        long_call_factor: 2.0,
        transferred: true,
        abandoned_after_seconds: 60,
        outbound: Default::default(),
    }
}

pub async fn sampled(qa: &QaStore, d: NaiveDate) -> Vec<(Uuid, Vec<String>)> {
    qa.list(d, None, None)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.call, s.reasons))
        .collect()
}
