//! Redis behind Sentinel (`scripts/sentinel.sh`: a primary, a replica, three sentinels),
//! contactd configured with `[redis] sentinels` + `master_name`. Mid-campaign the primary
//! fails over (`SENTINEL FAILOVER`: the old primary becomes a read-only replica). contactd
//! follows the new primary, rebuilds the line leases from the switch (a failover may lose
//! the last writes) and the campaign finishes on the new primary. From the simulator's
//! ground truth: nobody dialed again after hearing the message, never two calls to one
//! subscriber at once, never more calls than the campaign's lines; every subscriber has an
//! outcome.
use crate::common;
use crate::faults_support;
use crate::instances_support;

use std::time::Duration;

use contactd::sim::{self, AfterAnswer, Behaviour, Simulator};
use faults_support::{Daemon, DaemonOpts, Findings};
use instances_support::{driver_of, Sentinels};

const SUBSCRIBERS: usize = 150;
const LINES: i32 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_failover_mid_campaign_is_followed_and_the_campaign_finishes_on_the_new_primary()
{
    let sentinels = Sentinels::start();
    let old = sentinels.primary_port().expect("a primary");
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 0.05,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        default_behaviour: Behaviour::Answer {
            ring_ms: 1000,
            after: AfterAnswer::Stay,
        },
        media_ms: faults_support::message(8000),
        ..Default::default()
    })
    .await
    .unwrap();
    // the url names no server that is used: with sentinels only its database counts
    let url = format!("redis://127.0.0.1:{old}/0");
    let keys = sentinels.toml_keys();
    let mut d = Daemon::start_edited(
        DaemonOpts {
            redis_url: url.clone(),
            ..DaemonOpts::new(&env, &sim)
        },
        "sentinel-1",
        "",
        |t| {
            t.replace(
                &format!("url = \"{url}\"\n"),
                &format!("url = \"{url}\"\n{keys}"),
            )
        },
    )
    .await;
    assert!(
        d.config.redis.sentinels.len() == 3,
        "the test config has no sentinels"
    );
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    let phones: Vec<String> = (0..SUBSCRIBERS)
        .map(|i| faults_support::number(16, i))
        .collect();
    let id = faults_support::start_campaign(&pool, &d.config, 16, &phones, LINES).await;
    let campaigns = contactd::store::campaigns::Campaigns::new(pool.clone());
    let busy = common::eventually(Duration::from_secs(60), || async {
        let p = campaigns.progress(id).await.unwrap();
        p.done >= 10 && p.dialing >= 3
    })
    .await;
    assert!(
        busy,
        "campaign did not get going: {:?}",
        campaigns.progress(id).await
    );

    let out = Sentinels::cli(
        sentinels.sentinel_port(),
        &["sentinel", "failover", instances_support::MASTER_NAME],
    );
    assert!(out.trim() == "OK", "SENTINEL FAILOVER: {out}");
    let moved = common::eventually(Duration::from_secs(20), || async {
        sentinels.primary_port().is_some_and(|p| p != old)
    })
    .await;
    assert!(moved, "the sentinels did not fail over");
    let new = sentinels.primary_port().unwrap();
    let new_live = contactd::store::redis::LiveState::connect(
        &format!("redis://127.0.0.1:{new}/0"),
        &env.prefix,
    )
    .await
    .unwrap();
    // still driven by this instance, its lease renewed on the new primary
    let mut f = Findings::default();
    let renewed = common::eventually(Duration::from_secs(10), || async {
        driver_of(&new_live, id)
            .await
            .is_some_and(|w| w.starts_with("sentinel-1@"))
    })
    .await;
    if !renewed {
        f.add("the campaign's driver lease is not on the new primary");
    }

    let finished = common::eventually(Duration::from_secs(120), || async {
        campaigns
            .get(id)
            .await
            .unwrap()
            .is_some_and(|c| c.state == "finished")
    })
    .await;
    assert!(
        finished,
        "campaign not finished after the failover: {:?}\n{}",
        campaigns.progress(id).await,
        d.log_tail(40)
    );
    let log = d.log_tail(2000);
    let followed = log
        .lines()
        .position(|l| l.contains("Redis primary changed") && l.contains(&new.to_string()));
    match followed {
        None => f.add(format!(
            "contactd never said it follows the new primary :{new}"
        )),
        Some(i) => {
            if !log
                .lines()
                .skip(i)
                .any(|l| l.contains("line leases rebuilt from the switches"))
            {
                f.add("the line leases were not rebuilt after the failover");
            }
        }
    }
    // contactd's live state is on the new primary (written there, not on the old one)
    if !new_live.leases_trusted().await.unwrap_or(false) {
        f.add("no trusted line leases on the new primary");
    }
    // the campaign is over: its lease given up. The driver marks it finished
    // before it lets go (the other way round another instance could take over a
    // campaign still running), so the release trails the state by a moment.
    let released = common::eventually(Duration::from_secs(5), || async {
        driver_of(&new_live, id).await.is_none()
    })
    .await;
    if !released {
        let w = driver_of(&new_live, id).await.unwrap_or_default();
        f.add(format!("the finished campaign is still held by {w}"));
    }
    if !common::daemon::healthy(d.http).await {
        f.add("/healthz not ok after the failover");
    }
    d.stop().await;

    let db = env.pg().await;
    faults_support::campaign_safety(&mut f, &sim, "1", LINES as u32, &db, id).await;
    f.assert_none("Sentinel failover mid-campaign");
}
