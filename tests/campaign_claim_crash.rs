//! contactd killed (SIGKILL) after it claimed subscribers for dialing and before their
//! attempts were written: nobody was dialed then, and the restarted daemon dials each of
//! them exactly once (by the simulator's own log) and finishes the campaign with an outcome
//! for everyone. The attempt write is held back by a table lock the test takes, so the kill
//! lands in exactly that window.
use crate::campaign_support;
use crate::common;

use std::time::Duration;

use campaign_support::{originates, MESSAGE};
use contactd::config::Config;
use contactd::sim::Simulator;
use contactd::store::campaigns::{Campaigns, NewCampaign};

const SUBSCRIBERS: usize = 4;

fn number(i: usize) -> String {
    format!("+7916720{i:04}")
}

/// The same number as the trunk sees it (national format).
fn dialed(i: usize) -> String {
    format!("8916720{i:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_claim_and_attempt_write_dials_each_once_after_restart() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(campaign_support::sim_config(2000))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("contactd.toml");
    let mut text = env.config_toml(
        sim.esl_addr(),
        "ClueCon",
        &[("e1", 30, "freetdm/1/a/{number}")],
    );
    text.push_str("[campaigns]\ntrunk = \"e1\"\n");
    let text = common::guard::for_sim(&text, &sim);
    std::fs::write(&cfg_path, &text).unwrap();
    let cfg = Config::from_toml(&text).unwrap();

    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    contactd::store::migrate::run(&pool).await.unwrap();
    campaign_support::import_into(&pool, &cfg.dialing, 4, (0..SUBSCRIBERS).map(number)).await;

    // No attempt row can be written while the test holds this lock.
    let lock = env.pg().await;
    lock.batch_execute("BEGIN; LOCK TABLE attempts IN SHARE MODE")
        .await
        .unwrap();
    let mut child = common::daemon::spawn(&cfg_path);
    let campaigns = Campaigns::new(pool.clone());
    let (id, _) = campaigns
        .create(&NewCampaign {
            lines: 2,
            window_days: "mon-sun".into(),
            window_start: "00:00".into(),
            window_end: "23:59".into(),
            max_attempts: 1,
            ring_s: 10,
            ..NewCampaign::with_defaults(&cfg.campaigns, 4, MESSAGE, "cli")
        })
        .await
        .unwrap();

    // Claimed (in PostgreSQL) and the attempt write waiting on the lock: kill it there.
    let pg = env.pg().await;
    let waiting = common::eventually(Duration::from_secs(30), || async {
        let claimed: i64 = pg
            .query_one(
                "SELECT count(*) FROM campaign_targets WHERE campaign_id = $1 AND status = 'dialing'",
                &[&id],
            )
            .await
            .unwrap()
            .get(0);
        let blocked: i64 = pg
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'
                   AND query LIKE '%INSERT INTO attempts%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        claimed > 0 && blocked > 0
    })
    .await;
    assert!(waiting, "no claim with its attempt write waiting");
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap();
    let _ = child.wait().await;
    // Its blocked statement goes with it (a server notices the dead client only when the
    // lock is granted, and would then commit the lone INSERT).
    pg.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'
           AND query LIKE '%INSERT INTO attempts%'",
        &[],
    )
    .await
    .unwrap();
    lock.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(
        originates(&sim),
        Vec::<String>::new(),
        "dialed before its attempt was written"
    );
    let written: i64 = pg
        .query_one(
            "SELECT count(*) FROM attempts WHERE campaign_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(written, 0, "an attempt written by the killed daemon");

    let mut child = common::daemon::spawn(&cfg_path);
    let finished = common::eventually(Duration::from_secs(60), || async {
        campaigns
            .get(id)
            .await
            .unwrap()
            .is_some_and(|c| c.state == "finished")
    })
    .await;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    assert!(
        finished,
        "campaign not finished after restart: {:?}",
        campaigns.progress(id).await
    );
    for i in 0..SUBSCRIBERS {
        let times = campaign_support::times_dialed(&sim, &dialed(i));
        assert_eq!(times, 1, "{} dialed {times} times", number(i));
    }
    let heard = sim.ground_truth().iter().filter(|r| r.heard_ms > 0).count();
    assert_eq!(heard, SUBSCRIBERS, "not everyone heard the message");
    let unsettled = campaign_support::unsettled(&pg, id).await;
    assert_eq!(unsettled, 0, "subscribers without an outcome");
}
