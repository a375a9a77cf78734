//! The line-lease audit (`service::leases`): a lease whose call never reached the switch —
//! its holder, another instance, SIGKILLed between taking the line and sending the
//! originate — is given back once it is a minute old, so the trunk has that line again;
//! the lease of a call the switch has, and this process's own originate still on its way,
//! stay. And a lease asked for while Redis was away is not kept by the rebuild that follows:
//! nobody placed that call, so nobody would give its line back. And a rebuild right after a
//! hang-up (Redis lost the leases and the guard with them) grants no line while the hung-up
//! channel is still clearing.
use crate::common;

use std::time::Duration;

use common::faultproxy::FaultProxy;
use contactd::config::Config;
use contactd::esl::control::SwitchLink;
use contactd::service::leases::{LeaseGuard, STALE};
use contactd::sim::{self, Simulator};
use contactd::store::redis::{LineRefused, LiveState};
use tokio::sync::{mpsc, watch};

const DEAD: &str = "0000aaaa-0000-4000-8000-000000000001";
const ON_SWITCH: &str = "0000aaaa-0000-4000-8000-000000000002";
const IN_FLIGHT: &str = "0000aaaa-0000-4000-8000-000000000003";
const NEXT: &str = "0000aaaa-0000-4000-8000-000000000004";
const BUDGET: &str = "campaign:1";

/// A simulated E1 of 3 channels and contactd's control link to it, connected: the switch,
/// its name in the config, the link, and the sender that stops the link.
async fn switch(env: &common::TestEnv) -> (Simulator, String, SwitchLink, watch::Sender<bool>) {
    switch_of(env, 3).await
}

async fn switch_of(
    env: &common::TestEnv,
    channels: u32,
) -> (Simulator, String, SwitchLink, watch::Sender<bool>) {
    let sim = Simulator::start(sim::SimConfig {
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels,
        }],
        ..Default::default()
    })
    .await
    .unwrap();
    let cfg = Config::from_toml(&env.config_toml(
        sim.esl_addr(),
        "ClueCon",
        &[("e1", 3, "freetdm/1/a/{number}")],
    ))
    .unwrap();
    let (name, sw) = cfg.switch.iter().next().unwrap();
    let (sink, mut events) = mpsc::channel(10_000);
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let (stop, stop_rx) = watch::channel(false);
    let (link, _task) = SwitchLink::spawn(name, sw.clone(), sink, stop_rx);
    assert!(link.wait_connected(Duration::from_secs(5)).await);
    (sim, name.clone(), link, stop)
}

/// A call on the span's channels, answered and parked, as `uuid`.
async fn park(link: &SwitchLink, uuid: &str, number: &str) {
    let placed = link
        .api(&format!(
            "originate {{origination_uuid={uuid}}}freetdm/1/a/{number} &park()"
        ))
        .await
        .unwrap();
    assert!(placed.starts_with("+OK"), "{placed}");
}

#[tokio::test]
async fn a_lease_whose_call_never_reached_the_switch_is_given_back_after_a_minute() {
    let env = common::TestEnv::new().await;
    let (_sim, name, link, _stop) = switch(&env).await;

    let live = env.live_state().await;
    live.rebuild_leases(&[]).await.unwrap(); // trusted, empty
    for uuid in [DEAD, ON_SWITCH, IN_FLIGHT] {
        live.acquire_line("e1", 3, BUDGET, 3, uuid)
            .await
            .unwrap()
            .unwrap();
    }
    // DEAD and ON_SWITCH are another instance's: this process knows nothing of them
    live.forget_held(DEAD);
    live.forget_held(ON_SWITCH);
    park(&link, ON_SWITCH, "89160000001").await;
    let full = live.acquire_line("e1", 3, BUDGET, 9, NEXT).await.unwrap();
    assert_eq!(
        full,
        Err(LineRefused::TrunkFull),
        "three leases fill the trunk"
    );

    let guard = LeaseGuard {
        live: live.clone(),
        links: vec![link.clone()],
        trunks: vec![("e1".into(), name.clone())],
        settle: Duration::ZERO,
    };
    let now = chrono::Utc::now();
    assert_eq!(
        guard.audit(now).await.unwrap(),
        0,
        "no lease is a minute old yet"
    );
    assert_eq!(live.budget_in_use(BUDGET).await.unwrap(), 3);

    let later = now + chrono::TimeDelta::from_std(STALE + Duration::from_secs(1)).unwrap();
    assert_eq!(guard.audit(later).await.unwrap(), 1);
    assert_eq!(live.budget_in_use(BUDGET).await.unwrap(), 2);
    // the line the dead holder took is free again; the other two are still held
    live.acquire_line("e1", 3, BUDGET, 9, NEXT)
        .await
        .unwrap()
        .expect("the dead holder's line is free again");
    for uuid in [ON_SWITCH, IN_FLIGHT] {
        assert!(
            live.release_line("e1", BUDGET, uuid, Duration::ZERO)
                .await
                .unwrap(),
            "{uuid} kept its lease"
        );
    }
    assert!(
        !live
            .release_line("e1", BUDGET, DEAD, Duration::ZERO)
            .await
            .unwrap(),
        "the dead lease is gone"
    );
}

/// CI, fresh clone: Redis stopped for 10 s under a 5-line campaign; when it came back the
/// runner's first batch asked for its 5 leases, the asks failed, and the rebuild those
/// errors asked for ran before the batch gave the calls up. It kept the 5 as originates on
/// their way; nobody held them any more, so the campaign dialed nobody until the audit's
/// minute. A failed ask is not a held line: the rebuild after it leaves the line free.
#[tokio::test]
async fn a_lease_asked_for_while_redis_was_away_is_not_kept_by_the_rebuild() {
    let env = common::TestEnv::new().await;
    let (_sim, name, link, stop) = switch(&env).await;
    let stop_rx = stop.subscribe();

    let (redis, url) = FaultProxy::for_url(&common::redis_url()).await;
    let live = LiveState::connect(&url, &env.prefix).await.unwrap();
    live.rebuild_leases(&[]).await.unwrap(); // trusted, empty
    redis.cut().await;
    let asked = tokio::time::timeout(
        Duration::from_secs(10),
        live.acquire_line("e1", 3, BUDGET, 1, IN_FLIGHT),
    )
    .await
    .expect("an ask with Redis away fails, it does not hang");
    assert!(asked.is_err(), "Redis is away: {asked:?}");
    redis.restore().await;

    let guard = std::sync::Arc::new(LeaseGuard {
        live: live.clone(),
        links: vec![link.clone()],
        trunks: vec![("e1".into(), name.clone())],
        settle: Duration::from_millis(600),
    });
    tokio::spawn(guard.run(stop_rx));
    // the failed ask asked for a rebuild: the guard's first look runs it
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        live.leases_trusted().await.unwrap(),
        "the leases were not trusted again after Redis came back"
    );
    assert_eq!(
        live.budget_in_use(BUDGET).await.unwrap(),
        0,
        "the rebuild kept a line for a call that was never placed"
    );
    // the campaign's one line is free: the next call gets it
    live.acquire_line("e1", 3, BUDGET, 1, NEXT)
        .await
        .unwrap()
        .expect("the campaign's only line is free after Redis came back");
    let _ = stop.send(true);
}

/// One FreeTDM channel: a call on it hangs up, its line is given back with the trunk's guard
/// (600 ms; the simulator's card clears for 500), and at once Redis loses every lease, guard
/// and the mark (a restart empty; a failover drops the last writes). The lease guard
/// rebuilds with `settle`; the first line it grants goes straight into an originate.
/// Returns the switch's refusals for want of a channel.
async fn first_call_after_a_lost_guard(settle: Duration) -> u32 {
    let env = common::TestEnv::new().await;
    let (sim, name, link, stop) = switch_of(&env, 1).await;
    let live = env.live_state().await;
    live.rebuild_leases(&[]).await.unwrap(); // trusted, empty
    live.acquire_line("e1", 1, BUDGET, 1, ON_SWITCH)
        .await
        .unwrap()
        .unwrap();
    park(&link, ON_SWITCH, "89160000001").await;
    assert!(sim.hangup(ON_SWITCH, "NORMAL_CLEARING"));
    assert!(live
        .release_line("e1", BUDGET, ON_SWITCH, Duration::from_millis(600))
        .await
        .unwrap());
    let mut c = live.conn();
    let mut keys: Vec<String> = Vec::new();
    for pattern in ["trunk:*", "budget:*"] {
        let found: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}{pattern}", env.prefix))
            .query_async(&mut c)
            .await
            .unwrap();
        keys.extend(found);
    }
    keys.push(live.key(&["leases", "trusted"]));
    redis::cmd("DEL")
        .arg(&keys)
        .query_async::<()>(&mut c)
        .await
        .unwrap();

    let guard = std::sync::Arc::new(LeaseGuard {
        live: live.clone(),
        links: vec![link.clone()],
        trunks: vec![("e1".into(), name.clone())],
        settle,
    });
    tokio::spawn(guard.run(stop.subscribe()));
    live.mark_dirty();
    assert!(
        common::eventually(Duration::from_secs(5), || async {
            matches!(live.acquire_line("e1", 1, BUDGET, 1, NEXT).await, Ok(Ok(_)))
        })
        .await,
        "no line granted after the rebuild"
    );
    let _ = link
        .api(&format!(
            "originate {{origination_uuid={NEXT}}}freetdm/1/a/89160000002 &park()"
        ))
        .await; // refused (the assertion's point) or placed
    let refused = sim.refused_full_on("1");
    sim.hangup(NEXT, "NORMAL_CLEARING");
    let _ = stop.send(true);
    refused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_right_after_a_hang_up_grants_no_line_while_the_channel_clears() {
    assert_eq!(
        first_call_after_a_lost_guard(Duration::from_millis(600)).await,
        0,
        "the first line granted after the rebuild found the channel still clearing"
    );
}

/// The same without the wait: the rebuild counts the clearing channel free, and the switch
/// refuses the originate (what `scale_e2e` saw right after its Redis failover).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_that_does_not_wait_lets_the_clearing_channel_be_dialed() {
    assert_eq!(first_call_after_a_lost_guard(Duration::ZERO).await, 1);
}

/// CI, fresh clone (`scale_e2e`): fs2's link came back to both instances a moment apart.
/// The one driving the campaign read fs2's channel list, took its 4 FXO lines and sent its
/// originates; the other read the list a few ms later, before the switch had those
/// channels, took the leases for calls that ended while it was away and released them; the
/// driver took 4 more lines, and the switch refused 8 calls with all 4 channels busy.
/// Another instance's young lease is its holder's to give back; this process's own, a dead
/// earlier process's, and another's older than an originate can be on its way, are not.
#[tokio::test]
async fn a_resync_leaves_another_instances_line_whose_originate_is_on_its_way() {
    use contactd::service::campaign_lease::holder_id;
    use contactd::service::leases::drop_ended_while_away;
    let env = common::TestEnv::new().await;
    let (sim, _name, link, _stop) = switch_of(&env, 1).await;
    let alpha = env.live_state().await.held_by(&holder_id("alpha"));
    let beta = env.live_state().await.held_by(&holder_id("beta"));
    alpha.rebuild_leases(&[]).await.unwrap(); // trusted, empty

    // alpha takes the span's one line; its originate is not on the switch yet
    alpha
        .acquire_line("e1", 1, BUDGET, 1, IN_FLIGHT)
        .await
        .unwrap()
        .unwrap();
    // beta reads the list a moment later (its PostgreSQL commit holds alpha's originate)
    tokio::time::sleep(Duration::from_millis(20)).await;
    let listed: Vec<String> = link
        .channels()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.uuid)
        .collect();
    assert!(listed.is_empty());
    let taken_at = chrono::Utc::now();
    let dropped = drop_ended_while_away(&beta, "e1", taken_at, &listed)
        .await
        .unwrap();
    assert_eq!(dropped, 0, "beta's resync released alpha's line");
    assert_eq!(
        beta.acquire_line("e1", 1, BUDGET, 1, NEXT).await.unwrap(),
        Err(LineRefused::TrunkFull),
        "the line is alpha's"
    );
    park(&link, IN_FLIGHT, "89160000001").await;
    assert_eq!(sim.refused_full_on("1"), 0);

    // alpha's call ends unseen: alpha's own resync knows its lease exactly
    assert!(sim.hangup(IN_FLIGHT, "NORMAL_CLEARING"));
    let later = chrono::Utc::now() + chrono::TimeDelta::milliseconds(1);
    assert_eq!(
        drop_ended_while_away(&alpha, "e1", later, &[])
            .await
            .unwrap(),
        1,
        "alpha's own ended call kept its line"
    );

    // another's lease older than an originate on its way is ended, whoever resyncs
    alpha
        .acquire_line("e1", 1, BUDGET, 1, DEAD)
        .await
        .unwrap()
        .unwrap();
    let much_later = chrono::Utc::now() + chrono::TimeDelta::seconds(21);
    assert_eq!(
        drop_ended_while_away(&beta, "e1", much_later, &[])
            .await
            .unwrap(),
        1
    );

    // a dead earlier process of beta (same host, its pid gone) is beta's to settle at once
    let me = holder_id("beta");
    let (who, _) = me.rsplit_once(':').unwrap();
    let gone = (3_000_000..4_000_000u32)
        .rev()
        .find(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
        .unwrap();
    let predecessor = env.live_state().await.held_by(&format!("{who}:{gone}"));
    predecessor
        .acquire_line("e1", 1, BUDGET, 1, ON_SWITCH)
        .await
        .unwrap()
        .unwrap();
    let now = chrono::Utc::now() + chrono::TimeDelta::milliseconds(1);
    assert_eq!(
        drop_ended_while_away(&alpha, "e1", now, &[]).await.unwrap(),
        0,
        "beta's predecessor is not alpha's to settle"
    );
    assert_eq!(
        drop_ended_while_away(&beta, "e1", now, &[]).await.unwrap(),
        1,
        "beta's dead predecessor's line"
    );
}
