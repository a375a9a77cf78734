//! The write spool: record writes made while PostgreSQL is away are kept on disk, survive a
//! crash of contactd, and reach PostgreSQL in order when it is back; a write PostgreSQL
//! refuses becomes a dead letter instead of blocking the rest. Real PostgreSQL, cut off by a
//! TCP fault proxy.
use crate::common;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::faultproxy::FaultProxy;
use contactd::store::journal::{spool_path, Journal, Param, Write};
use contactd::store::migrate;
use contactd::store::operators::Operators;
use contactd::store::postgres::pool;

fn insert_link(n: i64) -> Write {
    Write::new(
        format!("test row {n}"),
        "INSERT INTO switch_links (node, state, detail, live_calls, at) VALUES ($1, $2, $3, $4, $5)",
        vec![
            "fs-test".into(),
            "down".into(),
            format!("row {n}").into(),
            Param::I32(n as i32),
            Utc.timestamp_opt(1_800_000_000 + n, 0).unwrap().into(),
        ],
    )
}

async fn rows(env: &common::TestEnv) -> Vec<i32> {
    env.pg()
        .await
        .query(
            "SELECT live_calls FROM switch_links WHERE node = 'fs-test' ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A journal writing to the test's database through a fault proxy, its spool in `dir`.
async fn through_proxy(env: &common::TestEnv, dir: &std::path::Path) -> (FaultProxy, Journal) {
    let (proxy, via) = FaultProxy::for_url(env.db_url()).await;
    let j = Journal::open(&spool_path(dir, "test", &via), pool(&via, 2).unwrap()).unwrap();
    (proxy, j)
}

/// `Journal::run` over a journal, until [`Replayer::stop`].
struct Replayer {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Replayer {
    /// Starts replaying `j`; true once its spool is empty (15 s at most).
    async fn start(j: &Journal) -> (Self, bool) {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(j.clone().run(stop_rx));
        let empty =
            common::eventually(Duration::from_secs(15), || async { j.backlog() == 0 }).await;
        (Self { stop, task }, empty)
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_wait_in_the_spool_survive_a_crash_and_arrive_in_order() {
    let env = common::TestEnv::new().await;
    migrate::run(&pool(env.db_url(), 2).unwrap()).await.unwrap();
    let (proxy, via) = FaultProxy::for_url(env.db_url()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = spool_path(dir.path(), "test", &via);

    let j = Journal::open(&path, pool(&via, 2).unwrap()).unwrap();
    j.write(insert_link(1)).await.unwrap();
    assert_eq!(j.backlog(), 0, "PostgreSQL up: written straight through");

    proxy.cut().await;
    for n in 2..=6 {
        j.write(insert_link(n))
            .await
            .expect("durable while PostgreSQL is away");
    }
    assert_eq!(j.backlog(), 5);
    // contactd dies with the writes spooled: nothing is lost on disk.
    drop(j);

    proxy.restore().await;
    let j = Journal::open(&path, pool(&via, 2).unwrap()).unwrap();
    assert_eq!(j.backlog(), 5, "the spool is read back at start");
    // A write made after the restart queues behind the spooled ones.
    j.write(insert_link(7)).await.unwrap();
    let (replayer, empty) = Replayer::start(&j).await;
    assert!(empty, "spool not replayed: {} left", j.backlog());
    assert_eq!(rows(&env).await, vec![1, 2, 3, 4, 5, 6, 7]);
    replayer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_postgres_refuses_is_kept_as_a_dead_letter_and_the_rest_go_on() {
    let env = common::TestEnv::new().await;
    migrate::run(&pool(env.db_url(), 2).unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (proxy, j) = through_proxy(&env, dir.path()).await;
    // Refused straight away while the server is up: the caller hears of it.
    let bad = Write::new(
        "bad row",
        "INSERT INTO switch_links (node, state) VALUES ($1, NULL)",
        vec!["fs-test".into()],
    );
    assert!(j.write(bad.clone()).await.is_err());

    proxy.cut().await;
    j.write(insert_link(1)).await.unwrap();
    j.write(bad).await.unwrap();
    j.write(insert_link(2)).await.unwrap();
    proxy.restore().await;
    let (replayer, empty) = Replayer::start(&j).await;
    assert!(empty, "spool not replayed");
    assert_eq!(rows(&env).await, vec![1, 2]);
    assert_eq!(j.dead_letters(), 1);
    replayer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_states_written_through_the_spool_land_in_their_place_in_the_timeline() {
    let env = common::TestEnv::new().await;
    let direct_pool = pool(env.db_url(), 2).unwrap();
    migrate::run(&direct_pool).await.unwrap();
    let direct = Operators::new(direct_pool.clone());
    let dir = tempfile::tempdir().unwrap();
    let (proxy, j) = through_proxy(&env, dir.path()).await;
    let spooled = Operators::with_journal(j.clone());

    let a = direct.create("anna", "Anna", "user/1001").await.unwrap();
    let b = direct.create("boris", "Boris", "user/1002").await.unwrap();
    let t = |s: i64| Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap();
    // The same changes, one operator logged directly, the other through the spool while
    // PostgreSQL is away; the 'talking' change arrives late (dated before 'wrap_up').
    let changes = [
        ("ready", 0),
        ("offered", 10),
        ("wrap_up", 40),
        ("talking", 15),
        ("ready", 50),
    ];
    for (state, at) in changes {
        direct.log_state(a, state, "", t(at)).await.unwrap();
    }
    proxy.cut().await;
    for (state, at) in changes {
        spooled.record_state(b, state, "", t(at)).await.unwrap();
    }
    assert_eq!(j.backlog(), changes.len() as u64);
    proxy.restore().await;
    let (replayer, empty) = Replayer::start(&j).await;
    assert!(empty, "spool not replayed");
    let periods = |op: i64| {
        let env = &env;
        async move {
            env.pg()
                .await
                .query(
                    "SELECT state, since, until FROM operator_states WHERE operator = $1
                     ORDER BY since",
                    &[&op],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r.get::<_, String>(0),
                        r.get::<_, chrono::DateTime<Utc>>(1),
                        r.get::<_, Option<chrono::DateTime<Utc>>>(2),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let pa = periods(a).await;
    assert_eq!(
        pa.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
        ["ready", "offered", "talking", "wrap_up", "ready"]
    );
    assert_eq!(
        periods(b).await,
        pa,
        "the spooled log differs from the direct one"
    );
    replayer.stop().await;
}

/// A call that arrives while PostgreSQL is away keeps, once its row is replayed, the time it
/// arrived: a link's reconcile closes the open rows made before its channel snapshot, so a
/// row stamped with the replay's time was left open for good when the snapshot came first
/// (`ivr_reconnect`'s held caller, in CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_row_replayed_from_the_spool_keeps_the_time_the_call_arrived() {
    use contactd::store::calls::{Calls, NewCall};
    let env = common::TestEnv::new().await;
    migrate::run(&pool(env.db_url(), 2).unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (proxy, j) = through_proxy(&env, dir.path()).await;
    let calls = Calls::with_journal(j.clone());

    proxy.cut().await;
    let uuid = uuid::Uuid::new_v4();
    calls
        .record_arrival(&NewCall {
            uuid,
            node: "fs-test",
            direction: "inbound",
            purpose: "ivr",
            trunk: None,
            number: Some("5551108"),
            entry: Some("trunk:main"),
            state: "answered",
        })
        .await
        .expect("durable while PostgreSQL is away");
    assert_eq!(j.backlog(), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // the link's snapshot, taken before the spool is replayed
    let snapshot = Utc::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.restore().await;
    let (replayer, empty) = Replayer::start(&j).await;
    assert!(empty, "spool not replayed");
    let open = calls.open_on("fs-test", snapshot).await.unwrap();
    assert_eq!(
        open,
        vec![uuid],
        "the replayed row is not one the reconcile closes"
    );
    replayer.stop().await;
}
