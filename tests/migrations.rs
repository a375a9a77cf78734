//! Guards the schema migrations: applied once, a second run is a no-op, and an applied file
//! whose text changed is refused rather than silently diverging.
use crate::common;

use contactd::store::{migrate, postgres};

#[tokio::test]
async fn migrations_apply_once_and_twice_is_a_no_op() {
    let env = common::TestEnv::new().await;
    let pool = postgres::pool(env.db_url(), 2).unwrap();
    let first = migrate::run(&pool).await.unwrap();
    assert_eq!(first.len(), migrate::MIGRATIONS.len());
    let second = migrate::run(&pool).await.unwrap();
    assert!(second.is_empty(), "second run applied {second:?}");
    let pg = env.pg().await;
    let n: i64 = pg
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n as usize, migrate::MIGRATIONS.len());
    // the tables are really there
    pg.execute("SELECT uuid, hangup_cause, q850 FROM calls LIMIT 1", &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn an_edited_applied_migration_is_refused() {
    let env = common::TestEnv::new().await;
    let pool = postgres::pool(env.db_url(), 2).unwrap();
    migrate::run(&pool).await.unwrap();
    let pg = env.pg().await;
    pg.execute(
        "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1",
        &[],
    )
    .await
    .unwrap();
    let err = migrate::run(&pool).await.unwrap_err().to_string();
    assert!(err.contains("001_calls.sql"), "{err}");
    assert!(err.contains("different text"), "{err}");
}

#[tokio::test]
async fn concurrent_migrations_do_not_race() {
    let env = common::TestEnv::new().await;
    let pool = postgres::pool(env.db_url(), 4).unwrap();
    let (a, b) = tokio::join!(migrate::run(&pool), migrate::run(&pool));
    let total = a.unwrap().len() + b.unwrap().len();
    assert_eq!(total, migrate::MIGRATIONS.len());
}

/// A campaign created or changed by any process (here: plain SQL on another connection) wakes
/// the campaign runners' listener; one whose connection was cut listens again and wakes them
/// once on its return (what was committed meanwhile is not replayed).
#[tokio::test]
async fn campaign_changes_wake_the_listener_also_after_its_connection_is_cut() {
    use contactd::store::notify;
    use std::sync::Arc;
    use std::time::Duration;
    let env = common::TestEnv::new().await;
    let pool = postgres::pool(env.db_url(), 2).unwrap();
    migrate::run(&pool).await.unwrap();
    let wake = Arc::new(tokio::sync::Notify::new());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let listener = tokio::spawn(notify::listen(
        env.db_url().to_string(),
        notify::CAMPAIGNS,
        wake.clone(),
        stop_rx,
    ));
    let woken = |what: &'static str| {
        let wake = wake.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(5), wake.notified())
                .await
                .unwrap_or_else(|_| panic!("not woken: {what}"))
        }
    };
    woken("on connecting").await;
    let pg = env.pg().await;
    pg.batch_execute(
        "INSERT INTO contact_lists (number, name, source_file) VALUES (7, 'seed', 'seed.csv');
         INSERT INTO campaigns (name, list_number, audio, trunk, lines, state, created_by)
         VALUES ('t', 7, 'msg.wav', 'e1', 2, 'running', 'test')",
    )
    .await
    .unwrap();
    woken("campaign created").await;
    // a change that is not the state wakes nobody
    pg.batch_execute("UPDATE campaigns SET name = 'renamed'")
        .await
        .unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(500), wake.notified()).await;
    assert!(quiet.is_err(), "woken by a rename");
    pg.batch_execute("UPDATE campaigns SET state = 'paused'")
        .await
        .unwrap();
    woken("campaign paused").await;
    // cut the listening connection: it comes back by itself and wakes once
    let cut: i64 = pg
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(cut, 1, "one listening connection");
    woken("listening again").await;
    pg.batch_execute("UPDATE campaigns SET state = 'running'")
        .await
        .unwrap();
    woken("campaign resumed").await;
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), listener)
        .await
        .expect("the listener ends at shutdown")
        .unwrap();
}

/// Contacts name an existing list (checked once per statement since 017, as the foreign
/// key did per row), go with their list, and keep its number; the phone check still holds.
#[tokio::test]
async fn contacts_keep_to_an_existing_list() {
    let env = common::TestEnv::new().await;
    let pool = postgres::pool(env.db_url(), 2).unwrap();
    migrate::run(&pool).await.unwrap();
    let pg = env.pg().await;
    let insert = "INSERT INTO contacts (list_number, line_no, phone_raw, phone, tz)
                  VALUES ($1, 2, 'x', $2, 'Europe/Moscow')";
    let err = pg
        .execute(insert, &[&7i32, &"+79161234567"])
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION),
        "{err}"
    );
    pg.execute(
        "INSERT INTO contact_lists (number, name, source_file) VALUES (7, 'l', 'f')",
        &[],
    )
    .await
    .unwrap();
    pg.execute(insert, &[&7i32, &"+79161234567"]).await.unwrap();
    // one statement naming a missing list among existing ones is refused whole
    let err = pg
        .execute(
            "INSERT INTO contacts (list_number, line_no, phone_raw, phone, tz)
             VALUES (7, 3, 'x', '+79161234568', 'UTC'), (8, 2, 'x', '+79161234569', 'UTC')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION),
        "{err}"
    );
    let err = pg
        .execute("UPDATE contacts SET list_number = 8", &[])
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION),
        "{err}"
    );
    let err = pg
        .execute("UPDATE contact_lists SET number = 8 WHERE number = 7", &[])
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION),
        "{err}"
    );
    // the same phone rule: '+', 1-9, then 7 to 14 digits
    for (phone, ok) in [
        ("+12345678", true),
        ("+123456789012345", true),
        ("+1234567", false),
        ("+1234567890123456", false),
        ("+02345678", false),
        ("79161234567", false),
        ("+7916123456a", false),
    ] {
        let r = pg.execute(insert, &[&7i32, &phone]).await;
        assert_eq!(r.is_ok(), ok, "{phone}: {r:?}");
    }
    pg.execute("DELETE FROM contact_lists WHERE number = 7", &[])
        .await
        .unwrap();
    let left: i64 = pg
        .query_one("SELECT count(*) FROM contacts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "a deleted list's contacts go with it");
}
