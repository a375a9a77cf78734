//! PostgreSQL stops for 10 s in the middle of a campaign (contactd reaches it through a
//! [`FaultProxy`] that is cut, then restored) while subscribers are being called: some are
//! mid-message, others answer during the outage. Nothing may be stranded by it:
//!
//! - by the switch's own truth: nobody who heard the message is dialed again, and no
//!   answered subscriber is left hearing nothing (parked in silence) for more than 5 s;
//! - in PostgreSQL once it is back: the campaign finishes within 30 s of the restore, no
//!   subscriber is left `dialing`, every attempt has its outcome, everyone who heard the
//!   whole message is `listened_full`, and every call that ended has its end recorded.
use crate::common;
use crate::faults_support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::faultproxy::FaultProxy;
use contactd::sim::{self, AfterAnswer, Behaviour, Simulator};
use faults_support::{Daemon, DaemonOpts, Findings};

const SUBSCRIBERS: usize = 40;
const LINES: i32 = 5;
/// 1 real second is 4 simulated seconds: a call (1 s ringing, 5 s message) takes 1.5 s, the
/// whole campaign about 15 s, and contactd's own reaction (answer → playback) is a few
/// hundred simulated ms even on a loaded machine, far below the dead-air limit.
const TIME_SCALE: f64 = 0.25;
const MESSAGE_MS: u64 = 5000;
/// Longest silence an answered subscriber may be left in (simulated ms).
const MAX_DEAD_AIR_MS: u64 = 5000;
const OUTAGE: Duration = Duration::from_secs(10);
const FINISH_AFTER_RESTORE: Duration = Duration::from_secs(30);

/// Every tenth subscriber is busy (tried again a second later, then given up as busy).
fn is_busy(dialed: &str) -> bool {
    dialed.ends_with('7')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_10s_mid_campaign_strands_no_call_and_no_subscriber() {
    let env = common::TestEnv::new().await;
    // most subscribers answer after 1-2.6 s of ringing (so the lines drift apart) and stay
    // until the switch hangs up; every tenth is busy, so retries also straddle the outage
    let numbers: HashMap<String, Behaviour> = (0..SUBSCRIBERS)
        .map(|i| {
            let n = faults_support::dialed(100, i);
            let b = if is_busy(&n) {
                Behaviour::Busy { after_ms: 500 }
            } else {
                Behaviour::Answer {
                    ring_ms: 1000 + (i as u64 % 3) * 800,
                    after: AfterAnswer::Stay,
                }
            };
            (n, b)
        })
        .collect();
    let sim = Simulator::start(sim::SimConfig {
        time_scale: TIME_SCALE,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        numbers,
        default_behaviour: Behaviour::Answer {
            ring_ms: 1000,
            after: AfterAnswer::Stay,
        },
        media_ms: faults_support::message(MESSAGE_MS),
        ..Default::default()
    })
    .await
    .unwrap();
    let (pg, pg_url) = FaultProxy::for_url(env.db_url()).await;
    let mut daemon = Daemon::start(DaemonOpts {
        env: &env,
        sim: &sim,
        pg_url,
        redis_url: common::redis_url(),
        trunk_channels: 30,
        reconnect_ms: (100, 500),
    })
    .await;
    // the test's own view: the real server, not the proxy
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    let phones: Vec<String> = (0..SUBSCRIBERS)
        .map(|i| faults_support::number(100, i))
        .collect();
    let id = faults_support::start_campaign(&pool, &daemon.config, 1, &phones, LINES).await;

    // cut while calls are up: at least one subscriber in the middle of the message and at
    // least one phone that has just started ringing (it answers during the outage)
    let mut first_seen: HashMap<String, (bool, Instant)> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let now = Instant::now();
        let t = sim.ground_truth();
        let mut mid_message = 0;
        let mut ringing = 0;
        for p in t.iter().filter(|p| p.ended_at_ms.is_none()) {
            let (answered, since) = *first_seen
                .entry(p.uuid.clone())
                .and_modify(|e| {
                    if p.answered && !e.0 {
                        *e = (true, now);
                    }
                })
                .or_insert((p.answered, now));
            let age = now - since;
            // ringing is at least 250 ms real; the message plays 1.25 s real from the answer
            if answered && age >= Duration::from_millis(300) && age <= Duration::from_millis(900) {
                mid_message += 1;
            }
            if !answered && !is_busy(&p.number) && age <= Duration::from_millis(100) {
                ringing += 1;
            }
        }
        let ended = t.iter().filter(|p| p.ended_at_ms.is_some()).count();
        if ended >= 5 && mid_message >= 1 && ringing >= 1 {
            break;
        }
        assert!(
            now < deadline,
            "no moment with a call mid-message and one ringing: {}",
            faults_support::campaign_summary(&pool, id).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let up_at_cut: Vec<String> = sim
        .ground_truth()
        .iter()
        .filter(|p| p.ended_at_ms.is_none())
        .map(|p| p.uuid.clone())
        .collect();
    pg.cut().await;
    tokio::time::sleep(OUTAGE).await;
    pg.restore().await;
    let finished = faults_support::wait_finished(&pool, &[id], FINISH_AFTER_RESTORE).await;

    // PostgreSQL as contactd left it, before the test touches anything
    let db = env.pg().await;
    let summary = faults_support::campaign_summary(&pool, id).await;
    let dialing = faults_support::targets_dialing(&db, id).await;
    let no_outcome = faults_support::attempts_without_outcome(&db, id).await;
    let recorded = faults_support::outcomes(&db, id).await;
    let live: HashSet<String> = sim.live_channels().into_iter().collect();
    let leftovers = faults_support::live_calls(&sim);
    let unended = faults_support::unended_call_rows(&db, &sim.ground_truth(), &live).await;
    daemon.stop().await;
    faults_support::hang_up_all(&sim).await;
    let truth = sim.ground_truth();

    let mut f = Findings::default();
    // the switch's truth
    f.list(
        "subscribers who heard the message were dialed again",
        faults_support::redialed_after_hearing(&truth),
    );
    f.list(
        &format!("answered calls left in silence for more than {MAX_DEAD_AIR_MS} ms"),
        faults_support::dead_air_over(&truth, MAX_DEAD_AIR_MS),
    );
    f.list(
        "calls still up on the switch at the end (hung up by the test once contactd stopped)",
        leftovers,
    );
    // PostgreSQL
    if !finished {
        f.add(format!(
            "campaign not finished {} s after PostgreSQL came back: {summary}",
            FINISH_AFTER_RESTORE.as_secs()
        ));
    }
    f.list("subscribers left dialing", dialing);
    f.list("attempts without an outcome", no_outcome);
    let (missed, lies) = faults_support::outcome_mismatches(&truth, &recorded);
    f.list("whole message heard but not recorded listened_full", missed);
    f.list("recorded listened_full without hearing it all", lies);
    f.list("calls that ended without their end recorded", unended);
    f.assert_none(&format!(
        "PostgreSQL cut for {} s with {} call(s) up ({})",
        OUTAGE.as_secs(),
        up_at_cut.len(),
        up_at_cut.join(", ")
    ));
}
