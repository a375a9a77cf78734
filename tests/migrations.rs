//! Guards the schema migrations: applied once, a second run is a no-op, and an applied file
//! whose text changed is refused rather than silently diverging.
mod common;

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
