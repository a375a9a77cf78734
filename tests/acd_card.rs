//! Guards the screen-pop customer card against a real PostgreSQL: the account is the IVR's
//! when it exists, else the one account whose phone is calling (caller ID in any written
//! form, matched as the IVR matches it); the card has the newest reading per meter and zone
//! (at most 6, replaced ones superseded) and the last 5 finished operator calls of the
//! account or the caller's number, with the operator's login; and it needs only one pooled
//! connection at a time.
use crate::common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use contactd::config::DialingConfig;
use contactd::service::acd::card::customer_card;
use contactd::service::acd::types::{CustomerCard, ReadingView};
use contactd::store::{migrate, postgres};
use uuid::Uuid;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 10, 9, 0, 0).unwrap()
}

async fn seed(db: &tokio_postgres::Client) {
    db.batch_execute(
        "INSERT INTO accounts (number, holder, phone, balance_minor) VALUES
             ('1001', 'Ivanov I.I.', '+79161234567', -12345),
             ('1002', 'Petrova A.', '+79169999999', 500),
             ('1003', 'Shared flat 1', '+79160000000', 0),
             ('1004', 'Shared flat 2', '+79160000000', 0);
         INSERT INTO meters (account, serial, zones, digits) VALUES
             ('1001', 'A-1', 2, 6), ('1001', 'B-2', 1, 6),
             ('1002', 'C-1', 3, 6), ('1002', 'C-2', 3, 6), ('1002', 'C-3', 3, 6);
         INSERT INTO operators (login, name, endpoint) VALUES
             ('alice', 'Alice', 'user/1001'), ('bob', 'Bob', 'user/1002');",
    )
    .await
    .unwrap();
    let meter = |serial: &'static str| async move {
        db.query_one("SELECT id FROM meters WHERE serial = $1", &[&serial])
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let (a, b) = (meter("A-1").await, meter("B-2").await);
    // (meter, zone, value, date, status, submitted minutes after t0)
    let readings: Vec<(i64, i16, i64, &str, &str, i64)> = vec![
        (a, 1, 100, "2024-12-20", "pending", -30 * 24 * 60),
        (a, 1, 150, "2025-01-09", "replaced", -60),
        (a, 1, 151, "2025-01-09", "pending", -50),
        (a, 2, 70, "2025-01-09", "pending", -50),
        (b, 1, 900, "2024-11-20", "pending", -60 * 24 * 60),
        (b, 1, 990, "2024-12-20", "pending", -30 * 24 * 60),
    ];
    let mut all = readings;
    for (i, serial) in ["C-1", "C-2", "C-3"].into_iter().enumerate() {
        let m = meter(serial).await;
        for zone in 1..=3i16 {
            let n = i as i64 * 3 + i64::from(zone);
            all.push((m, zone, n * 10, "2025-01-08", "pending", -1000 + n));
        }
    }
    for (m, zone, value, date, status, minutes) in all {
        let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        let at = t0() + Duration::minutes(minutes);
        db.execute(
            "INSERT INTO meter_readings (meter, zone, value, consumption, reading_date, status,
                 source, submitted_at)
             VALUES ($1, $2, $3, 0, $4, $5, 'ivr', $6)",
            &[&m, &zone, &value, &date, &status, &at],
        )
        .await
        .unwrap();
    }
}

/// An `acd_calls` row entered `minutes` after t0.
async fn acd_call(
    db: &tokio_postgres::Client,
    minutes: i64,
    caller: Option<&str>,
    account: Option<&str>,
    operator: Option<&str>,
    outcome: Option<&str>,
) {
    let at = t0() + Duration::minutes(minutes);
    db.execute(
        "INSERT INTO acd_calls (call_uuid, node, queue, caller, account, entered_at, operator,
             outcome)
         VALUES ($1, 'fs1', 'meter', $2, $3, $4,
                 (SELECT id FROM operators WHERE login = $5), $6)",
        &[&Uuid::new_v4(), &caller, &account, &at, &operator, &outcome],
    )
    .await
    .unwrap();
}

fn values(card: &CustomerCard) -> Vec<(String, String, i64)> {
    card.last_readings
        .iter()
        .map(|r: &ReadingView| (r.meter.clone(), r.zone.clone(), r.value))
        .collect()
}

#[tokio::test]
async fn the_card_of_a_caller() {
    let env = common::TestEnv::new().await;
    // One connection: a card that held one while asking for another would hang here.
    let pool = postgres::pool(env.db_url(), 1).unwrap();
    migrate::run(&pool).await.unwrap();
    let db = env.pg().await;
    seed(&db).await;
    // Ivanov's calls, the caller ID written two ways or absent, and calls that are not his.
    acd_call(
        &db,
        1,
        Some("89161234567"),
        None,
        Some("alice"),
        Some("answered"),
    )
    .await;
    acd_call(&db, 2, Some("+79161234567"), None, None, Some("abandoned")).await;
    acd_call(
        &db,
        3,
        Some("+79161234567"),
        None,
        Some("bob"),
        Some("answered"),
    )
    .await;
    acd_call(&db, 4, None, Some("1001"), Some("bob"), Some("transferred")).await;
    acd_call(
        &db,
        5,
        Some("89161234567"),
        Some("1001"),
        None,
        Some("callback"),
    )
    .await;
    acd_call(
        &db,
        6,
        Some("89161234567"),
        None,
        Some("alice"),
        Some("answered"),
    )
    .await;
    acd_call(
        &db,
        7,
        Some("89169999999"),
        Some("1002"),
        Some("alice"),
        Some("answered"),
    )
    .await;
    acd_call(
        &db,
        8,
        Some("84950000000"),
        None,
        Some("bob"),
        Some("answered"),
    )
    .await;
    // The call being offered now: not finished, not "recent".
    acd_call(&db, 9, Some("89161234567"), None, None, None).await;

    let dialing = DialingConfig::default();
    let card = |caller: Option<&'static str>, account: Option<&'static str>| {
        let (pool, dialing) = (pool.clone(), dialing.clone());
        async move {
            tokio::time::timeout(
                std::time::Duration::from_secs(10),
                customer_card(&pool, &dialing, caller, account, "RUB"),
            )
            .await
            .expect("the card is read with one pooled connection")
            .unwrap()
        }
    };

    // By the caller's number as the switch gives it (trunk prefix + national number).
    let c = card(Some("89161234567"), None)
        .await
        .expect("Ivanov's card");
    assert_eq!(c.account, "1001");
    assert_eq!(c.holder, "Ivanov I.I.");
    assert_eq!(c.balance_minor, -12345);
    assert_eq!(c.currency, "RUB");
    let s = |v: &str| v.to_string();
    assert_eq!(
        values(&c),
        vec![
            (s("A-1"), s("2"), 70),
            (s("A-1"), s("1"), 151),
            (s("B-2"), s("1"), 990),
        ],
        "the newest reading per meter and zone, newest first"
    );
    let a1 = &c.last_readings[1];
    assert_eq!(
        (a1.taken_on.as_str(), a1.source.as_str(), a1.status.as_str()),
        ("2025-01-09", "ivr", "pending")
    );
    let calls: Vec<(String, Option<String>, Option<String>)> = c
        .recent_calls
        .iter()
        .map(|r| (r.at.clone(), r.outcome.clone(), r.operator.clone()))
        .collect();
    let at = |m: i64| (t0() + Duration::minutes(m)).to_rfc3339();
    let some = |v: &str| Some(v.to_string());
    assert_eq!(
        calls,
        vec![
            (at(6), some("answered"), some("alice")),
            (at(5), some("callback"), None),
            (at(4), some("transferred"), some("bob")),
            (at(3), some("answered"), some("bob")),
            (at(2), some("abandoned"), None),
        ],
        "the 5 newest finished calls of the number (any form) or the account"
    );
    assert!(c.recent_calls.iter().all(|r| r.queue == "meter"));
    assert_eq!(card(Some("+7 916 123-45-67"), None).await, Some(c.clone()));

    // The IVR's account wins over the caller's phone; an unknown one falls back to it.
    let p = card(Some("89161234567"), Some("1002")).await.unwrap();
    assert_eq!(
        (p.account.as_str(), p.holder.as_str()),
        ("1002", "Petrova A.")
    );
    assert_eq!(p.last_readings.len(), 6, "at most 6 readings");
    assert_eq!(p.last_readings[0].value, 90, "newest first");
    let times: Vec<&str> = p.recent_calls.iter().map(|r| r.at.as_str()).collect();
    assert_eq!(
        times,
        [at(7), at(6), at(5), at(3), at(2)],
        "Petrova's call and those of the number calling now"
    );
    assert_eq!(card(Some("89161234567"), Some("9999")).await, Some(c));

    // An account alone: its calls by account and by the account's own phone.
    let p = card(None, Some("1002")).await.unwrap();
    assert_eq!(p.recent_calls.len(), 1);
    assert_eq!(p.recent_calls[0].operator.as_deref(), Some("alice"));

    // No account to show.
    assert_eq!(
        card(Some("89160000000"), None).await,
        None,
        "two accounts share it"
    );
    assert_eq!(
        card(Some("84951112233"), None).await,
        None,
        "nobody's phone"
    );
    assert_eq!(card(Some("anonymous"), None).await, None);
    assert_eq!(card(None, None).await, None);
    assert_eq!(card(Some(""), Some(" ")).await, None);
}

/// The estimated wait uses the queue's own average handle time: talk plus after-call work
/// of its last answered calls; none yet → no figure (the configured default applies).
#[tokio::test]
async fn average_handle_time_of_a_queue() {
    let env = common::TestEnv::new().await;
    let pool = postgres::pool(env.db_url(), 1).unwrap();
    migrate::run(&pool).await.unwrap();
    let db = env.pg().await;
    let records = contactd::store::acd_calls::AcdCalls::new(pool);
    assert_eq!(records.average_handle_s("general", 50).await.unwrap(), None);
    for (i, (queue, talk, wrap)) in [
        ("general", Some(100.0), Some(20.0)),
        ("general", Some(200.0), None),
        ("general", None, None), // abandoned: not handled
        ("meter", Some(900.0), Some(0.0)),
    ]
    .into_iter()
    .enumerate()
    {
        db.execute(
            "INSERT INTO acd_calls (call_uuid, node, queue, entered_at, talk_s, wrap_up_s)
             VALUES ($1, 'fs1', $2, $3, $4, $5)",
            &[
                &Uuid::new_v4(),
                &queue,
                &(t0() + Duration::minutes(i as i64)),
                &talk,
                &wrap,
            ],
        )
        .await
        .unwrap();
    }
    assert_eq!(
        records.average_handle_s("general", 50).await.unwrap(),
        Some(160.0)
    );
    // Only the last calls count.
    assert_eq!(
        records.average_handle_s("general", 1).await.unwrap(),
        Some(200.0)
    );
}
