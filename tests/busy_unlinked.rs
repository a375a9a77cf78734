//! A busy refusal nobody saw: the control link to the switch drops while the campaign's
//! calls ring, and the subscribers refuse busy before it is back. No contactd instance saw
//! those hang-ups, but the switch noted each call's end itself (`Originate::note_end`): a
//! busy subscriber is owed the campaign's retry, so each must be dialed again — not
//! settled `unknown` (never called again) because the refusal went unseen.
use crate::common;
use crate::faults_support;

use std::time::Duration;

use contactd::sim::{self, AfterAnswer, Behaviour, Simulator, SubscriberRule};
use faults_support::{Daemon, DaemonOpts};

const SUBSCRIBERS: usize = 6;
const SERIES: u32 = 18;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_busy_while_the_link_was_down_are_dialed_again() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim::SimConfig {
        // 1 real second is 2 simulated ones: the busy signal (8 s) comes 4 s after the
        // dial, well inside the campaign's 10 s of ringing and after the link is down
        time_scale: 0.5,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        rules: vec![SubscriberRule {
            pattern: format!("^8916{SERIES:03}\\d+$"),
            behaviour: Behaviour::Busy { after_ms: 8_000 },
        }],
        default_behaviour: Behaviour::Answer {
            ring_ms: 1000,
            after: AfterAnswer::Stay,
        },
        media_ms: faults_support::message(6000),
        ..Default::default()
    })
    .await
    .unwrap();
    let opts = DaemonOpts::new(&env, &sim);
    let mut d = Daemon::start(opts).await;
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    let phones: Vec<String> = (0..SUBSCRIBERS)
        .map(|i| faults_support::number(SERIES, i))
        .collect();
    let id = faults_support::start_campaign(
        &pool,
        &d.config,
        SERIES as u16,
        &phones,
        SUBSCRIBERS as i32,
    )
    .await;

    // every first call ringing, then the link goes for longer than they ring
    let ringing = common::eventually(Duration::from_secs(30), || async {
        sim.ground_truth().len() >= SUBSCRIBERS
    })
    .await;
    assert!(ringing, "calls placed: {}", sim.ground_truth().len());
    sim.refuse_connections(true).await;
    sim.drop_esl_connections();
    let refused = common::eventually(Duration::from_secs(20), || async {
        sim.ground_truth().iter().all(|r| r.ended_at_ms.is_some())
    })
    .await;
    assert!(
        refused,
        "the first calls did not end while the link was down"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    sim.refuse_connections(false).await;

    let finished = faults_support::wait_finished(&pool, &[id], Duration::from_secs(90)).await;
    let log = d.log_tail(40);
    d.stop().await;
    assert!(finished, "campaign not finished:\n{log}");

    // the switch's records: each subscriber refused busy at both attempts
    let calls = faults_support::by_number(&sim.ground_truth());
    for i in 0..SUBSCRIBERS {
        let n = faults_support::dialed(SERIES, i);
        let mine = calls.get(&n).cloned().unwrap_or_default();
        let causes: Vec<_> = mine.iter().map(|c| c.hangup_cause.clone()).collect();
        assert_eq!(
            causes,
            vec![Some("USER_BUSY".to_string()); 2],
            "subscriber {n} (2 attempts, busy each time):\n{log}"
        );
    }
}
