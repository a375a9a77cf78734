//! Two contactd instances share Redis, PostgreSQL and the switch; a campaign is driven by
//! exactly one of them. The driving instance is SIGKILLed mid-campaign (calls up): the other
//! takes the campaign over within 10 s (the switch's first originate after the kill, from
//! the simulator's command log), follows or settles the dead instance's calls from the
//! switch's channels, and finishes. From the simulator's ground truth: nobody dialed again
//! after hearing the message, never two calls to one subscriber at once, never more calls
//! than the campaign's lines; every subscriber has an outcome; the report is mailed once.
use crate::common;
use crate::faults_support;
use crate::instances_support;

use std::time::{Duration, Instant};

use common::smtp::{free_port, Sink};
use contactd::sim::{self, AfterAnswer, Behaviour, Simulator, SubscriberRule};
use faults_support::{Daemon, DaemonOpts, Findings};
use instances_support::{driver_of, drives, first_originate_after_but, originated_by, reports_for};

const SUBSCRIBERS: usize = 60;
const LINES: i32 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driving_instance_killed_the_other_takes_over_within_10_s_without_dialing_anyone_twice()
{
    let env = common::TestEnv::new().await;
    let smtp_port = free_port();
    let sink = Sink::start(smtp_port, None).await;
    // 1 real second is 20 simulated ones: a call (1 s ringing, 8 s message) takes ~0.5 s
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 0.05,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        rules: vec![SubscriberRule {
            pattern: "^8916015\\d\\d\\d[05]$".into(),
            behaviour: Behaviour::Busy { after_ms: 500 },
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
    let mail = format!(
        "[mail]\nsmtp_port = {smtp_port}\nauditors = [\"audit@example.org\"]\nretry_seconds = 1\n"
    );
    let opts = || DaemonOpts::new(&env, &sim);
    let mut a = Daemon::start_named(opts(), "alpha", &mail).await;
    let mut b = Daemon::start_named(opts(), "beta", &mail).await;
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    let phones: Vec<String> = (0..SUBSCRIBERS)
        .map(|i| faults_support::number(15, i))
        .collect();
    let id = faults_support::start_campaign(&pool, &a.config, 15, &phones, LINES).await;
    let live = env.live_state().await;

    // one driver, and both instances say which
    assert!(
        common::eventually(Duration::from_secs(10), || async {
            driver_of(&live, id).await.is_some()
        })
        .await,
        "nobody took the campaign"
    );
    let first = driver_of(&live, id).await.unwrap();
    let (driver, other) = if first.starts_with("alpha@") {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    assert!(drives(driver.http).await.contains(&id));
    assert!(!drives(other.http).await.contains(&id));
    let metric = format!("contactd_campaign_driver{{campaign=\"{id}\",instance=\"{first}\"}} 1");
    assert!(
        instances_support::metrics(driver.http)
            .await
            .contains(&metric),
        "/metrics of the driver lacks {metric}"
    );

    // let it get going, then kill the driver while calls are up
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
    let killed_at = Instant::now();
    driver.kill().await;
    // the dead driver's last originates may reach the switch after the kill (on the wire,
    // or read late by the simulator): they are not the takeover
    let dead = originated_by(&driver.log_tail(usize::MAX));

    // the other instance drives it within 10 s and dials
    let took = common::eventually(Duration::from_secs(10), || async {
        first_originate_after_but(&sim, killed_at, &dead).is_some()
    })
    .await;
    let takeover = first_originate_after_but(&sim, killed_at, &dead);
    eprintln!("takeover: first originate {takeover:?} after the kill");
    assert!(
        took,
        "no originate within 10 s of the kill:\n{}",
        other.log_tail(30)
    );
    let now = driver_of(&live, id).await.unwrap_or_default();
    assert!(
        !now.is_empty() && now != first,
        "the lease is still {first:?}, now {now:?}"
    );
    assert!(drives(other.http).await.contains(&id));

    let finished = common::eventually(Duration::from_secs(120), || async {
        campaigns
            .get(id)
            .await
            .unwrap()
            .is_some_and(|c| c.state == "finished")
            && reports_for(&sink.messages(), id) > 0
    })
    .await;
    assert!(
        finished,
        "campaign not finished after the takeover: {:?}\n{}",
        campaigns.progress(id).await,
        other.log_tail(30)
    );
    // room for a second report, if anything were to send one
    tokio::time::sleep(Duration::from_secs(3)).await;
    other.stop().await;

    let mut f = Findings::default();
    let db = env.pg().await;
    faults_support::campaign_safety(&mut f, &sim, "1", LINES as u32, &db, id).await;
    let no_outcome: Vec<String> = db
        .query(
            "SELECT phone FROM campaign_targets WHERE campaign_id = $1 AND outcome IS NULL",
            &[&id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    f.list("subscribers without an outcome", no_outcome);
    let reports = reports_for(&sink.messages(), id);
    if reports != 1 {
        f.add(format!("{reports} report mails for the campaign, not 1"));
    }
    if takeover.is_none_or(|t| t > Duration::from_secs(10)) {
        f.add(format!("takeover took {takeover:?}"));
    }
    f.assert_none("driving instance SIGKILLed");
}
