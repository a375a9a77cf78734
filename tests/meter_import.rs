//! Guards billing's round trip: `accounts import` keeps the good rows of a `;`-separated
//! export (decimal commas, national phone numbers, 1-3 zone meters) and reports each bad
//! row by its line; a re-import updates in place; `readings export --since` gives billing
//! the pending readings (not the replaced ones) with their source.
use crate::common;

use contactd::config::DialingConfig;
use contactd::core::meter::ReadingRules;
use contactd::store::accounts::{self as store, export_readings, import_accounts};
use contactd::store::pipelined_tx::PipelinedTx;
use contactd::store::{migrate, postgres};

#[tokio::test]
async fn import_reports_bad_rows_by_line_and_export_gives_pending_readings() {
    let env = common::TestEnv::new().await;
    let pool = postgres::pool(env.db_url(), 2).unwrap();
    migrate::run(&pool).await.unwrap();
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/accounts/billing.csv");
    let dialing = DialingConfig::default();
    let r = import_accounts(&pool, &file, &dialing).await.unwrap();
    assert_eq!((r.rows, r.accepted), (7, 3));
    let lines: Vec<u64> = r.problems.iter().map(|p| p.0).collect();
    assert_eq!(lines, vec![5, 6, 7, 8], "{:?}", r.problems);
    assert!(r.problems[0].1.starts_with("account"), "{:?}", r.problems);
    assert!(r.problems[1].1.starts_with("zones"));
    assert!(r.problems[2].1.starts_with("last_2"));
    assert!(r.problems[3].1.starts_with("last_date"));

    let a = store::account(&pool, "200002").await.unwrap().unwrap();
    assert_eq!(a.balance_minor, -1050);
    assert_eq!(a.meters.len(), 2);
    assert_eq!((a.meters[1].spec.zones, a.meters[1].last.len()), (3, 3));
    assert_eq!(
        store::account_of_caller(&pool, "+79161234567")
            .await
            .unwrap(),
        Some("100001".into())
    );
    // a second import updates, never duplicates
    import_accounts(&pool, &file, &dialing).await.unwrap();
    let again = store::account(&pool, "200002").await.unwrap().unwrap();
    assert_eq!(again.meters.len(), 2);

    // two submissions the same day: only the second is exported
    let m = first_meter(&pool, "100001").await;
    let today = chrono::NaiveDate::from_ymd_opt(2025, 3, 11).unwrap();
    let who = from_the_web(today);
    let rules = ReadingRules { max_daily_kwh: 50 };
    for v in ["1100", "1090"] {
        store::store_readings(&pool, "100001", m, &[(1, v.into())], rules, &who)
            .await
            .unwrap();
    }
    let mut out = Vec::new();
    let n = export_readings(&pool, today, &mut out).await.unwrap();
    assert_eq!(n, 1);
    let text = String::from_utf8(out).unwrap();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("account,meter,zone,value,consumption"));
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("100001,M-1,1,1090,90,false,2025-03-11,web,"),
        "{text}"
    );
    let later = today.succ_opt().unwrap();
    assert_eq!(export_readings(&pool, later, Vec::new()).await.unwrap(), 0);
}

/// `store_readings` sends `BEGIN` with its locking read and `COMMIT` with its writes. A
/// reading it refuses must leave its connection idle (not inside a transaction) for the
/// next caller of the pool, and a pipelined transaction dropped half way (a call whose
/// future is dropped) must not go back to the pool at all.
#[tokio::test]
async fn refused_or_dropped_reading_transactions_leave_the_pool_clean() {
    let env = common::TestEnv::new().await;
    let pool = postgres::pool(env.db_url(), 1).unwrap();
    let watcher = postgres::pool(env.db_url(), 1).unwrap();
    migrate::run(&pool).await.unwrap();
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/accounts/billing.csv");
    import_accounts(&pool, &file, &DialingConfig::default())
        .await
        .unwrap();
    let pid = || async {
        let db = pool.get().await.unwrap();
        db.query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get::<_, i32>(0)
    };
    let state = |pid: i32| {
        let watcher = watcher.clone();
        async move {
            let db = watcher.get().await.unwrap();
            db.query_opt("SELECT state FROM pg_stat_activity WHERE pid = $1", &[&pid])
                .await
                .unwrap()
                .map(|r| r.get::<_, Option<String>>(0).unwrap_or_default())
        }
    };
    let m = first_meter(&pool, "100001").await;
    let who = from_the_web(chrono::NaiveDate::from_ymd_opt(2025, 3, 11).unwrap());
    let rules = ReadingRules { max_daily_kwh: 50 };
    let first = pid().await;

    // refused by the check inside the transaction: rolled back, connection reused, idle
    let refused =
        store::store_readings(&pool, "100001", m, &[(1, "999999".into())], rules, &who).await;
    assert!(
        matches!(refused, Err(store::StoreReadingsError::Invalid(..))),
        "{refused:?}"
    );
    assert_eq!(
        pid().await,
        first,
        "a refused reading's connection is reused"
    );
    assert_eq!(state(first).await.as_deref(), Some("idle"));
    // an unknown meter: the same
    let unknown =
        store::store_readings(&pool, "100001", -1, &[(1, "1100".into())], rules, &who).await;
    assert!(
        matches!(unknown, Err(store::StoreReadingsError::UnknownMeter { .. })),
        "{unknown:?}"
    );
    assert_eq!(state(first).await.as_deref(), Some("idle"));

    // stored: committed, visible from another connection
    store::store_readings(&pool, "100001", m, &[(1, "1100".into())], rules, &who)
        .await
        .unwrap();
    assert_eq!(pid().await, first);
    assert_eq!(state(first).await.as_deref(), Some("idle"));
    let seen: i64 = watcher
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT count(*) FROM meter_readings WHERE meter = $1 AND value = 1100",
            &[&m],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(seen, 1);

    // begun and dropped before its end: the connection leaves the pool and is closed
    {
        let tx = PipelinedTx::new(pool.get().await.unwrap());
        tx.begin_with(tx.client().execute(
            "UPDATE meter_readings SET value = 7 WHERE meter = $1",
            &[&m],
        ))
        .await
        .unwrap();
        assert_eq!(state(first).await.as_deref(), Some("idle in transaction"));
    }
    let next = pid().await;
    assert_ne!(
        next, first,
        "the dropped transaction's connection came back to the pool"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while state(first).await.is_some() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(state(first).await, None, "its backend ended");
    let seen: i64 = watcher
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT count(*) FROM meter_readings WHERE meter = $1 AND value = 7",
            &[&m],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(seen, 0, "the dropped transaction's write was rolled back");
}

/// The id of `account`'s first meter.
async fn first_meter(pool: &deadpool_postgres::Pool, account: &str) -> i64 {
    store::account(pool, account).await.unwrap().unwrap().meters[0].id
}

/// A submission through the web form on `today`.
fn from_the_web(today: chrono::NaiveDate) -> store::Provenance {
    store::Provenance {
        source: "web",
        call_uuid: None,
        caller: None,
        at: chrono::Utc::now(),
        today,
    }
}
