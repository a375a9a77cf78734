//! A login routes by routing's copy of the operator (phone, skills) in Redis and re-reads
//! the operator's row from PostgreSQL beside it: the row's changes still reach routing, a
//! login whose row is gone is refused and undone, and a login while PostgreSQL is away
//! still gets the waiting caller. Judged by the simulator's record of the calls.

use crate::acd_support;
use crate::common;

use std::time::Duration;

use acd_support::*;
use common::faultproxy::FaultProxy;
use contactd::app::App;
use contactd::service::acd::{AcdError, OperatorCommand};
use contactd::sim::Simulator;

async fn state_of(app: &App, login: &str) -> Option<String> {
    app.shared
        .acd
        .operators()
        .await
        .ok()?
        .into_iter()
        .find(|o| o.login == login)
        .map(|o| o.state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_changed_only_in_the_database_reaches_routing_at_login() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(
        &env,
        &[("1001", answers(100, None))],
        &Setup::default(),
        &[("1001", &[("general", 5)])],
    )
    .await;
    // The meter skill is written to the row only (as a direct database edit would):
    // routing's copy still says general only.
    let store = contactd::store::operators::Operators::new(app.shared.pool.clone());
    let id = store.get("op1001").await.unwrap().unwrap().id;
    store.set_skill(id, "meter", 5).await.unwrap();
    let m = caller(&sim, &app, "meter", "5557001", None);
    assert!(
        common::eventually(WAIT, || async {
            waiting_calls(&app, "meter").await == [m.clone()]
        })
        .await
    );
    login(&app, "1001").await;
    assert_eq!(wait_answered(&env, &m).await, "op1001");
    assert_eq!(offers_on(&sim, "1001"), vec![m.clone()]);
    assert!(
        sim.bridged_to(&m).is_some(),
        "the switch never bridged the meter caller"
    );
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_whose_row_is_gone_is_refused_and_undone() {
    let env = common::TestEnv::new().await;
    let (_sim, app) = start(
        &env,
        &[("1001", answers(100, None))],
        &Setup::default(),
        &[("1001", &[("general", 5)])],
    )
    .await;
    // Removed from the database behind contactd's back: routing still has its copy.
    let pg = env.pg().await;
    pg.execute(
        "DELETE FROM operator_skills WHERE operator = (SELECT id FROM operators WHERE login = 'op1001')",
        &[],
    )
    .await
    .unwrap();
    pg.execute("DELETE FROM operators WHERE login = 'op1001'", &[])
        .await
        .unwrap();
    let err = app
        .shared
        .acd
        .command("op1001", OperatorCommand::Login)
        .await
        .expect_err("a login of a removed operator must be refused");
    assert!(
        matches!(&err, AcdError::NotFound(what) if what.contains("op1001")),
        "{err:?}"
    );
    let live = app.shared.acd.store().agent_info("op1001").await.unwrap();
    assert!(
        live.as_ref()
            .is_none_or(|i| i.state == contactd::core::acd::agent::StateName::LoggedOut),
        "routing left the removed operator {live:?}"
    );
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_while_postgresql_is_away_gets_the_waiting_caller() {
    let env = common::TestEnv::new().await;
    let sim: Simulator = start_sim(&[("1001", answers(100, None))]).await;
    let (pg, pg_url) = FaultProxy::for_url(env.db_url()).await;
    let app = start_app_with_db(&env, &sim, &Setup::default(), &pg_url).await;
    add_operators(&app, &[("1001", &[("general", 5)])]).await;
    let c = caller(&sim, &app, "general", "5557002", None);
    assert!(
        common::eventually(WAIT, || async {
            waiting_calls(&app, "general").await == [c.clone()]
        })
        .await
    );
    pg.cut().await;
    let state = app
        .shared
        .acd
        .command("op1001", OperatorCommand::Login)
        .await
        .expect("a login with routing's copy must not wait for PostgreSQL");
    assert_eq!(state.key(), "ready");
    assert!(
        common::eventually(WAIT, || async { sim.bridged_to(&c).is_some() }).await,
        "the waiting caller never reached the operator while PostgreSQL was away"
    );
    assert_eq!(offers_on(&sim, "1001"), vec![c.clone()]);
    pg.restore().await;
    // The talk is recorded once PostgreSQL is back.
    assert_eq!(wait_answered(&env, &c).await, "op1001");
    assert_eq!(state_of(&app, "op1001").await.as_deref(), Some("talking"));
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_given_from_the_command_line_routes_a_ready_operator_at_once() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start_one_operator(&env, &Setup::default()).await;
    login(&app, "1001").await;
    let m = caller(&sim, &app, "meter", "5557003", None);
    assert!(
        common::eventually(WAIT, || async {
            waiting_calls(&app, "meter").await == [m.clone()]
        })
        .await
    );
    // Ready, but not for meter questions: nothing is offered.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sim.agent_offers("1001").is_empty());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("contactd.toml");
    std::fs::write(&config, env.config_toml(sim.esl_addr(), "ClueCon", &[])).unwrap();
    common::contactd_ok(&["operators", "skill", "op1001", "meter", "4"], &config).await;
    // No second login: the command line updated routing's copy and woke the daemon.
    assert_eq!(wait_answered(&env, &m).await, "op1001");
    assert_eq!(offers_on(&sim, "1001"), vec![m.clone()]);
    app.shutdown(Duration::from_secs(2)).await;
}

/// A login re-reads the row each time: writing back the skills routing already has must not
/// count as a change (no write, no wallboard refresh, no extra dispatch); any real change does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skills_written_back_unchanged_are_not_a_change() {
    let env = common::TestEnv::new().await;
    let (_sim, app) = start_one_operator(&env, &Setup::default()).await;
    let store = app.shared.acd.store();
    let set = |skills: &'static [(&'static str, u8)]| async move {
        store.set_skills("op1001", skills).await.unwrap()
    };
    assert!(!set(&[("general", 5)]).await, "the same skill again");
    assert!(set(&[("general", 6)]).await, "a new level");
    assert!(set(&[("general", 6), ("meter", 2)]).await, "a skill added");
    assert!(
        !set(&[("general", 6), ("meter", 2)]).await,
        "the same two again"
    );
    assert!(set(&[("meter", 2)]).await, "a skill removed");
    assert!(set(&[]).await, "every skill removed");
    assert!(!set(&[]).await, "none again");
    app.shutdown(Duration::from_secs(2)).await;
}
