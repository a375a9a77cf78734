//! contactd SIGKILLed while two operators consult during an attended transfer (the caller
//! holds with the switch's music): the process started after it carries the consult on,
//! judged from the simulator's ground truth. It used to take the consult item for a caller
//! gone and hang the target's phone up, leaving the caller on hold for good and the first
//! operator in silence.
use crate::acd_support;
use crate::common;

use std::time::Duration;

use acd_support::process::{add_operator_in, Proc};
use acd_support::*;
use contactd::sim::{self, Simulator};

fn sim_config() -> sim::SimConfig {
    sim::SimConfig {
        time_scale: 0.2,
        agents: [("2001", answers(500, None)), ("2009", answers(500, None))]
            .into_iter()
            .map(|(e, b)| (e.to_string(), b))
            .collect(),
        default_behaviour: answers(1000, None),
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        ..Default::default()
    }
}

/// A caller talking to op2001, who has started an attended transfer to the specialists:
/// op2009 answered and the two operators talk, the caller on hold. Then contactd is killed.
/// Returns (caller, first operator's leg, specialist's leg).
async fn consulting_then_killed(
    env: &common::TestEnv,
    sim: &Simulator,
    d: &mut Proc,
) -> (String, String, String) {
    add_operator_in(env, "2001", "general").await;
    add_operator_in(env, "2009", "specialists").await;
    d.login("op2001").await;
    d.login("op2009").await;
    let c = d.caller(sim, "5551201");
    assert!(
        common::eventually(WAIT, || async { sim.bridged_to(&c).is_some() }).await,
        "the caller never reached op2001"
    );
    let leg_a = sim.agent_offers("2001")[0].uuid.clone();
    d.transfer(&c, "specialists", "attended").await;
    assert!(
        common::eventually(WAIT, || async { !sim.agent_offers("2009").is_empty() }).await,
        "the specialist's phone never rang"
    );
    let leg_s = sim.agent_offers("2009")[0].uuid.clone();
    assert!(
        common::eventually(WAIT, || async {
            sim.bridged_to(&leg_a) == Some(leg_s.clone()) && sim.bridged_to(&c).is_none()
        })
        .await,
        "the operators never consulted"
    );
    // past the answer's own 3 s, after which another process may take the consult over
    tokio::time::sleep(Duration::from_millis(3200)).await;
    d.sigkill().await;
    (c, leg_a, leg_s)
}

/// `who` hears `c` a while later, both still on the line.
async fn talk_stays(sim: &Simulator, c: &str, who: &str, d: &Proc) {
    assert!(
        common::eventually(WAIT, || async { sim.bridged_to(c).as_deref() == Some(who) }).await,
        "the caller never reached {who}: bridged to {:?}\n{}",
        sim.bridged_to(c),
        d.log_tail(40)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let live = sim.live_channels();
    assert!(
        live.iter().any(|u| u == c) && live.iter().any(|u| u == who),
        "the talk did not last: live {live:?}\n{}",
        d.log_tail(40)
    );
    assert_eq!(sim.bridged_to(c).as_deref(), Some(who));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_process_follows_the_consult_and_completes_the_transfer() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config()).await.unwrap();
    let mut d = Proc::start(&env, &sim).await;
    let (c, leg_a, leg_s) = consulting_then_killed(&env, &sim, &mut d).await;
    d.spawn().await;
    // the new process's look at offers and talks finds the consult and follows it
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        sim.live_channels().contains(&leg_s),
        "the specialist was hung up\n{}",
        d.log_tail(40)
    );
    assert_eq!(sim.bridged_to(&leg_a), Some(leg_s.clone()));
    assert!(sim.hangup(&leg_a, "NORMAL_CLEARING"));
    talk_stays(&sim, &c, &leg_s, &d).await;
    assert!(
        common::eventually(WAIT, || async {
            answered_by(&env, &c).await.as_deref() == Some("op2009")
        })
        .await,
        "the call's record does not name the specialist"
    );
    assert_eq!(
        sim.agent_offers("2009").len(),
        1,
        "the specialist rung once only"
    );
    let truth = sim.ground_truth();
    let r = truth.iter().find(|r| r.uuid == c).unwrap();
    assert!(
        r.dead_air_ms <= 5000,
        "the caller heard {} ms of silence",
        r.dead_air_ms
    );
    sim.hangup(&c, "NORMAL_CLEARING");
    d.sigkill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_process_returns_the_caller_when_the_specialist_hangs_up() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config()).await.unwrap();
    let mut d = Proc::start(&env, &sim).await;
    let (c, leg_a, leg_s) = consulting_then_killed(&env, &sim, &mut d).await;
    d.spawn().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(sim.hangup(&leg_s, "NORMAL_CLEARING"));
    talk_stays(&sim, &c, &leg_a, &d).await;
    assert!(
        common::eventually(WAIT, || async {
            answered_by(&env, &c).await.as_deref() == Some("op2001")
        })
        .await
    );
    sim.hangup(&c, "NORMAL_CLEARING");
    d.sigkill().await;
}

/// The first operator hangs up while no contactd runs: the specialist's leg goes to the
/// hold music (it used to be parked, in silence) and the caller holds; the next process
/// completes the transfer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_operator_leaving_while_contactd_is_down_completes_the_transfer() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config()).await.unwrap();
    let mut d = Proc::start(&env, &sim).await;
    let (c, leg_a, leg_s) = consulting_then_killed(&env, &sim, &mut d).await;
    assert!(sim.hangup(&leg_a, "NORMAL_CLEARING"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        sim.live_channels().contains(&leg_s),
        "the switch kept the specialist's leg"
    );
    d.spawn().await;
    talk_stays(&sim, &c, &leg_s, &d).await;
    assert!(
        common::eventually(WAIT, || async {
            answered_by(&env, &c).await.as_deref() == Some("op2009")
        })
        .await,
        "the call's record does not name the specialist"
    );
    // the specialist waited with music, not in silence, until the caller came
    let truth = sim.ground_truth();
    let r = truth.iter().find(|r| r.uuid == leg_s).unwrap();
    assert!(
        r.dead_air_ms <= 5000,
        "the specialist heard {} ms of silence: {:?}",
        r.dead_air_ms,
        r.played
    );
    sim.hangup(&c, "NORMAL_CLEARING");
    d.sigkill().await;
}

/// Both operators hang up while no contactd runs (the first one, then the specialist, left
/// alone with the hold music): the next process finds neither, and the transfer goes on as a blind
/// one — the caller, holding with the switch's music, is queued first for the specialists
/// and gets the next one free. It used to try to put the caller back with the first
/// operator, gone, and leave them on hold for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_operators_leaving_while_contactd_is_down_queue_the_caller_for_the_specialists() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config()).await.unwrap();
    let mut d = Proc::start(&env, &sim).await;
    let (c, leg_a, leg_s) = consulting_then_killed(&env, &sim, &mut d).await;
    assert!(sim.hangup(&leg_a, "NORMAL_CLEARING"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sim.hangup(&leg_s, "NORMAL_CLEARING"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    d.spawn().await;
    assert!(
        common::eventually(WAIT, || async { sim.agent_offers("2009").len() == 2 }).await,
        "the specialist was never offered the caller again\n{}",
        d.log_tail(40)
    );
    let again = sim.agent_offers("2009")[1].uuid.clone();
    talk_stays(&sim, &c, &again, &d).await;
    let truth = sim.ground_truth();
    let r = truth.iter().find(|r| r.uuid == c).unwrap();
    assert!(
        r.dead_air_ms <= 5000,
        "the caller heard {} ms of silence",
        r.dead_air_ms
    );
    sim.hangup(&c, "NORMAL_CLEARING");
    d.sigkill().await;
}
