//! Redis misbehaves in the middle of campaigns (contactd reaches it through a [`FaultProxy`];
//! the test reads and wipes the real server directly):
//!
//! - restarted without its data: two 20-line campaigns share a trunk contactd knows as 30
//!   channels (the simulated span has 60, so going over is visible). The line leases are
//!   gone with the data, yet by the switch's own count the trunk never carries more than 30
//!   calls and no campaign more than its 20;
//! - frozen for 10 s (SIGSTOP: connections open, no answers), and
//! - stopped for 10 s (connections closed, port refused):
//!   every call that ended has its hangup cause and end time in PostgreSQL, no call is left
//!   up on the switch, and the campaign finishes.
use crate::common;
use crate::faults_support;

use std::collections::HashSet;
use std::time::Duration;

use common::faultproxy::FaultProxy;
use contactd::sim::{self, AfterAnswer, Behaviour, Simulator};
use faults_support::{Daemon, DaemonOpts, Findings};

/// Channels of the trunk as contactd is configured (an E1).
const TRUNK_CHANNELS: u32 = 30;
/// Channels the simulated span really has: room to go over the configured 30.
const SIM_CHANNELS: u32 = 60;
const MAX_DEAD_AIR_MS: u64 = 5000;

fn sim_config(time_scale: f64, message_ms: u64) -> sim::SimConfig {
    sim::SimConfig {
        time_scale,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: SIM_CHANNELS,
        }],
        default_behaviour: Behaviour::Answer {
            ring_ms: 1000,
            after: AfterAnswer::Stay,
        },
        media_ms: faults_support::message(message_ms),
        ..Default::default()
    }
}

fn phones(series: u32, n: usize) -> Vec<String> {
    (0..n).map(|i| faults_support::number(series, i)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty_never_puts_more_calls_on_the_trunk_or_a_campaign_than_it_has() {
    const LINES: i32 = 20;
    const PER_CAMPAIGN: usize = 60;
    let env = common::TestEnv::new().await;
    // 1 real second is 5 simulated seconds: a call (1 s ringing, 10 s message) takes 2.2 s,
    // the two campaigns together four rounds of 30 calls
    let sim = Simulator::start(sim_config(0.2, 10_000)).await.unwrap();
    let (redis, redis_url) = FaultProxy::for_url(&common::redis_url()).await;
    let mut daemon = Daemon::start(DaemonOpts {
        env: &env,
        sim: &sim,
        pg_url: env.db_url().to_string(),
        redis_url,
        trunk_channels: TRUNK_CHANNELS,
        reconnect_ms: (100, 500),
    })
    .await;
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    let a =
        faults_support::start_campaign(&pool, &daemon.config, 1, &phones(100, PER_CAMPAIGN), LINES)
            .await;
    let b =
        faults_support::start_campaign(&pool, &daemon.config, 2, &phones(200, PER_CAMPAIGN), LINES)
            .await;

    // restart Redis while the trunk is full
    let full = common::eventually(Duration::from_secs(30), || async {
        sim.live_channels_on("1") >= TRUNK_CHANNELS - 2
    })
    .await;
    assert!(
        full,
        "the campaigns did not fill the trunk: {} live; {}; {}",
        sim.live_channels_on("1"),
        faults_support::campaign_summary(&pool, a).await,
        faults_support::campaign_summary(&pool, b).await
    );
    let live_at_restart = sim.live_channels_on("1");
    redis.cut().await;
    let wiped = env.live_state().await.purge_prefix().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.restore().await;
    let finished = faults_support::wait_finished(&pool, &[a, b], Duration::from_secs(40)).await;

    let summary = format!(
        "{}; {}",
        faults_support::campaign_summary(&pool, a).await,
        faults_support::campaign_summary(&pool, b).await
    );
    let leftovers = faults_support::live_calls(&sim);
    daemon.stop().await;
    faults_support::hang_up_all(&sim).await;
    let truth = sim.ground_truth();

    let mut f = Findings::default();
    let peak = sim.peak_channels_on("1");
    if peak > TRUNK_CHANNELS {
        let (n, at) = faults_support::peak_concurrent(&truth);
        f.add(format!(
            "{peak} channels at once on the {TRUNK_CHANNELS}-channel trunk \
             (by the calls' own times: {n} at {at} ms)"
        ));
    }
    for id in [a, b] {
        let budget = format!("campaign-{id}");
        let calls: Vec<_> = truth
            .iter()
            .filter(|p| p.var("contactd_budget") == Some(budget.as_str()))
            .collect();
        let (n, at) = faults_support::peak_concurrent(calls.iter().copied());
        if n > LINES as usize {
            f.add(format!(
                "campaign {id} had {n} calls up at once at {at} ms, on {LINES} lines"
            ));
        }
        if calls.is_empty() {
            f.add(format!(
                "no call of campaign {id} carries contactd_budget={budget} on the switch"
            ));
        }
    }
    f.list(
        "calls still up on the switch at the end (hung up by the test once contactd stopped)",
        leftovers,
    );
    if !finished {
        f.add(format!(
            "campaigns not finished 40 s after Redis came back: {summary}"
        ));
    }
    f.assert_none(&format!(
        "Redis restarted empty ({wiped} keys wiped) with {live_at_restart} calls up"
    ));
}

#[derive(Clone, Copy, Debug)]
enum Outage {
    /// frozen: connections held, nothing answered
    Stall,
    /// stopped: connections closed, port refused
    Cut,
}

/// One campaign of 40 on 5 lines; Redis out for 10 s while calls are up; then every call
/// that ended must have its end in PostgreSQL, and the campaign must finish.
async fn redis_outage(outage: Outage) {
    const SUBSCRIBERS: usize = 40;
    const LINES: i32 = 5;
    const OUTAGE: Duration = Duration::from_secs(10);
    const FINISH_AFTER_RESTORE: Duration = Duration::from_secs(25);
    let env = common::TestEnv::new().await;
    // 1 real second is 4 simulated seconds: a call (1 s ringing, 4 s message) takes 1.25 s
    let sim = Simulator::start(sim_config(0.25, 4000)).await.unwrap();
    let (redis, redis_url) = FaultProxy::for_url(&common::redis_url()).await;
    let mut daemon = Daemon::start(DaemonOpts {
        env: &env,
        sim: &sim,
        pg_url: env.db_url().to_string(),
        redis_url,
        trunk_channels: TRUNK_CHANNELS,
        reconnect_ms: (100, 500),
    })
    .await;
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    let id =
        faults_support::start_campaign(&pool, &daemon.config, 5, &phones(500, SUBSCRIBERS), LINES)
            .await;
    let going = common::eventually(Duration::from_secs(30), || async {
        let t = sim.ground_truth();
        let ended = t.iter().filter(|p| p.ended_at_ms.is_some()).count();
        let up = t
            .iter()
            .filter(|p| p.answered && p.ended_at_ms.is_none())
            .count();
        ended >= 5 && up >= 3
    })
    .await;
    assert!(
        going,
        "campaign did not get going: {}",
        faults_support::campaign_summary(&pool, id).await
    );
    let up_at_outage = sim.live_channels().len();
    match outage {
        Outage::Stall => redis.stall(),
        Outage::Cut => redis.cut().await,
    }
    tokio::time::sleep(OUTAGE).await;
    redis.restore().await;
    let finished = faults_support::wait_finished(&pool, &[id], FINISH_AFTER_RESTORE).await;

    // a call's end may be written a moment after the campaign is done: give it 5 s
    let db = env.pg().await;
    let settle_until = tokio::time::Instant::now() + Duration::from_secs(5);
    let unended = loop {
        let live: HashSet<String> = sim.live_channels().into_iter().collect();
        let rows = faults_support::unended_call_rows(&db, &sim.ground_truth(), &live).await;
        if rows.is_empty() || tokio::time::Instant::now() >= settle_until {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let summary = faults_support::campaign_summary(&pool, id).await;
    let dialing = faults_support::targets_dialing(&db, id).await;
    let no_outcome = faults_support::attempts_without_outcome(&db, id).await;
    let leftovers = faults_support::live_calls(&sim);
    daemon.stop().await;
    faults_support::hang_up_all(&sim).await;
    let truth = sim.ground_truth();

    let mut f = Findings::default();
    f.list(
        &format!("answered calls left in silence for more than {MAX_DEAD_AIR_MS} ms"),
        faults_support::dead_air_over(&truth, MAX_DEAD_AIR_MS),
    );
    f.list(
        "calls still up on the switch at the end (hung up by the test once contactd stopped)",
        leftovers,
    );
    f.list("calls that ended without their end recorded", unended);
    if !finished {
        f.add(format!(
            "campaign not finished {} s after Redis came back: {summary}",
            FINISH_AFTER_RESTORE.as_secs()
        ));
    }
    f.list("subscribers left dialing", dialing);
    f.list("attempts without an outcome", no_outcome);
    f.assert_none(&format!(
        "Redis {outage:?} for {} s with {up_at_outage} call(s) up",
        OUTAGE.as_secs()
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stalled_10s_leaves_every_ended_call_recorded_and_the_campaign_finishes() {
    redis_outage(Outage::Stall).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_10s_leaves_every_ended_call_recorded_and_the_campaign_finishes() {
    redis_outage(Outage::Cut).await;
}

/// The fault proxy itself, against the real Redis: a stall holds a request and delivers it
/// on restore; a cut closes the live connection and refuses new ones until restore.
#[tokio::test]
async fn fault_proxy_stalls_cuts_and_restores_like_the_server_would() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    async fn ping(s: &mut tokio::net::TcpStream, wait: Duration) -> Option<String> {
        s.write_all(b"PING\r\n").await.ok()?;
        let mut buf = [0u8; 64];
        match tokio::time::timeout(wait, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            _ => None,
        }
    }
    let (proxy, _) = FaultProxy::for_url(&common::redis_url()).await;
    let mut s = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(
        ping(&mut s, Duration::from_secs(2)).await.as_deref(),
        Some("+PONG\r\n")
    );

    proxy.stall();
    assert_eq!(ping(&mut s, Duration::from_millis(300)).await, None);
    let mut fresh = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(ping(&mut fresh, Duration::from_millis(300)).await, None);
    proxy.restore().await;
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
        .await
        .expect("the held PING is answered on restore")
        .unwrap();
    assert_eq!(&buf[..n], b"+PONG\r\n");

    proxy.cut().await;
    assert_eq!(ping(&mut s, Duration::from_secs(1)).await, None);
    assert!(
        tokio::net::TcpStream::connect(proxy.addr()).await.is_err(),
        "a cut proxy refuses connections"
    );
    proxy.restore().await;
    let mut again = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(
        ping(&mut again, Duration::from_secs(2)).await.as_deref(),
        Some("+PONG\r\n")
    );
}
