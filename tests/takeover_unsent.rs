//! Issue 15: an instance SIGKILLed after its batch's attempt and call rows were committed
//! but before the originate reached the switch. The state it leaves is written here as it
//! would be (the lease of a holder that never renews, a subscriber `dialing` with an
//! attempt and a call row whose uuid no switch ever had), while a surviving instance is
//! connected to the switch. Once the lease lapses the survivor takes over and must call
//! that subscriber exactly once — not settle them `unknown` and never call them. Its proof
//! that the uuid never appeared on the switch is its own event record when its link was up
//! from before the attempt; when the link had just come back (a dropped link, the moment
//! in issue 15's scenario when the driver died), the switch's own notes: no channel now, no
//! end noted by the call's hang-up hook, and the same switch (Core-UUID) all along.
use crate::common;
use crate::faults_support;

use std::time::Duration;

use contactd::sim::{self, AfterAnswer, Behaviour, Simulator};
use faults_support::{Daemon, DaemonOpts};

const SUBSCRIBERS: usize = 6;
const STRANDED: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_whose_originate_never_left_the_dead_instance_is_called_once_by_the_survivor()
{
    stranded_by_a_dead_instance(false).await;
}

/// The survivor's link to the switch dropped and came back just before the dead instance
/// committed its batch: its event record cannot vouch for that moment, the switch can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_when_the_survivors_link_came_back_only_just_before_the_attempt() {
    stranded_by_a_dead_instance(true).await;
}

async fn stranded_by_a_dead_instance(relinked: bool) {
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
    let opts = DaemonOpts::new(&env, &sim);
    let mut b = Daemon::start_named(opts, "beta", "").await;
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    let db = env.pg().await;

    // the dead instance held the next campaign's lease (and never renews it)
    let next = common::dead_driver_of_next_campaign(&env, 8000).await;
    // the survivor's link has been up a while when the dead instance commits its batch
    tokio::time::sleep(Duration::from_secs(3)).await;
    let phones: Vec<String> = (0..SUBSCRIBERS)
        .map(|i| faults_support::number(16, i))
        .collect();
    let id = faults_support::start_campaign(&pool, &b.config, 16, &phones, 2).await;
    assert_eq!(
        id, next,
        "the campaign is not the one whose lease was taken"
    );
    let stranded = &phones[STRANDED];
    let contact: i64 = db
        .query_one(
            "UPDATE campaign_targets SET status = 'dialing'
             WHERE campaign_id = $1 AND phone = $2 RETURNING contact_id",
            &[&id, stranded],
        )
        .await
        .unwrap()
        .get(0);
    if relinked {
        let dropped = std::time::Instant::now();
        sim.drop_esl_connections();
        let back = common::eventually(Duration::from_secs(15), || async {
            sim.api_log_timed()
                .iter()
                .any(|(at, cmd)| *at > dropped && cmd.starts_with("api show channels"))
        })
        .await;
        assert!(back, "the survivor did not resync after the drop");
    }
    let uuid = common::unsent_attempt(&db, id, contact, stranded).await;

    // the lease lapses, the survivor takes over, recovers and finishes the campaign
    let finished = faults_support::wait_finished(&pool, &[id], Duration::from_secs(120)).await;
    let log = b.log_tail(40);
    b.stop().await;
    assert!(finished, "campaign not finished:\n{log}");

    let dialed = faults_support::dialed(16, STRANDED);
    let calls = sim
        .ground_truth()
        .iter()
        .filter(|r| r.number == dialed)
        .count();
    let outcome: Option<String> = db
        .query_one(
            "SELECT outcome FROM campaign_targets WHERE campaign_id = $1 AND contact_id = $2",
            &[&id, &contact],
        )
        .await
        .unwrap()
        .get(0);
    let ghost: i64 = db
        .query_one("SELECT count(*) FROM attempts WHERE uuid = $1", &[&uuid])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        calls, 1,
        "the subscriber whose originate never left was called {calls} times (outcome {outcome:?}):\n{log}"
    );
    assert_ne!(outcome.as_deref(), Some("unknown"), "{log}");
    assert_eq!(
        ghost, 0,
        "the attempt that never reached the switch still counts"
    );
    let phantom: i64 = db
        .query_one("SELECT count(*) FROM calls WHERE uuid = $1", &[&uuid])
        .await
        .unwrap()
        .get(0);
    assert_eq!(phantom, 0, "a call the switch never had is still on record");
    // everyone else: called once each
    for i in (0..SUBSCRIBERS).filter(|i| *i != STRANDED) {
        let n = faults_support::dialed(16, i);
        let c = sim.ground_truth().iter().filter(|r| r.number == n).count();
        assert_eq!(c, 1, "subscriber {i} called {c} times");
    }
}
