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
    scaled_sim_config(
        &[("2001", answers(500, None)), ("2009", answers(500, None))],
        answers(1000, None),
    )
}

/// A consult interrupted by a SIGKILL: a caller talking to op2001, who has started an
/// attended transfer to the specialists; op2009 answered and the two operators talk, the
/// caller on hold. Then contactd was killed.
struct Killed {
    env: common::TestEnv,
    sim: Simulator,
    d: Proc,
    /// the caller, the first operator's leg, the specialist's leg
    c: String,
    leg_a: String,
    leg_s: String,
}

impl Killed {
    async fn start() -> Killed {
        let env = common::TestEnv::new().await;
        let sim = Simulator::start(sim_config()).await.unwrap();
        let mut d = Proc::start(&env, &sim).await;
        add_operator_in(&env, "2001", "general").await;
        add_operator_in(&env, "2009", "specialists").await;
        d.login("op2001").await;
        d.login("op2009").await;
        let c = d.caller(&sim, "5551201");
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
        Killed {
            env,
            sim,
            d,
            c,
            leg_a,
            leg_s,
        }
    }

    /// The caller hears `who` a while later, both still on the line, and the call's record
    /// names `login`.
    async fn talk_stays(&self, who: &str, login: &str) {
        let (sim, c, d) = (&self.sim, self.c.as_str(), &self.d);
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
        assert!(
            common::eventually(WAIT, || async {
                answered_by(&self.env, c).await.as_deref() == Some(login)
            })
            .await,
            "the call's record does not name {login}"
        );
    }

    /// No more than 5 simulated s of silence on `uuid`.
    fn quiet_enough(&self, uuid: &str, who: &str) {
        let truth = self.sim.ground_truth();
        let r = truth.iter().find(|r| r.uuid == uuid).unwrap();
        assert!(
            r.dead_air_ms <= 5000,
            "{who} heard {} ms of silence: {:?}",
            r.dead_air_ms,
            r.played
        );
    }

    async fn end(mut self) {
        self.sim.hangup(&self.c, "NORMAL_CLEARING");
        self.d.sigkill().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_process_follows_the_consult_and_completes_the_transfer() {
    let mut k = Killed::start().await;
    k.d.spawn().await;
    // the new process's look at offers and talks finds the consult and follows it
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        k.sim.live_channels().contains(&k.leg_s),
        "the specialist was hung up\n{}",
        k.d.log_tail(40)
    );
    assert_eq!(k.sim.bridged_to(&k.leg_a), Some(k.leg_s.clone()));
    assert!(k.sim.hangup(&k.leg_a, "NORMAL_CLEARING"));
    k.talk_stays(&k.leg_s, "op2009").await;
    assert_eq!(
        k.sim.agent_offers("2009").len(),
        1,
        "the specialist rung once only"
    );
    k.quiet_enough(&k.c, "the caller");
    k.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_process_returns_the_caller_when_the_specialist_hangs_up() {
    let mut k = Killed::start().await;
    k.d.spawn().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(k.sim.hangup(&k.leg_s, "NORMAL_CLEARING"));
    k.talk_stays(&k.leg_a, "op2001").await;
    k.end().await;
}

/// The first operator hangs up while no contactd runs: the specialist's leg goes to the
/// hold music (it used to be parked, in silence) and the caller holds; the next process
/// completes the transfer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_operator_leaving_while_contactd_is_down_completes_the_transfer() {
    let mut k = Killed::start().await;
    assert!(k.sim.hangup(&k.leg_a, "NORMAL_CLEARING"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        k.sim.live_channels().contains(&k.leg_s),
        "the switch kept the specialist's leg"
    );
    k.d.spawn().await;
    k.talk_stays(&k.leg_s, "op2009").await;
    // the specialist waited with music, not in silence, until the caller came
    k.quiet_enough(&k.leg_s, "the specialist");
    k.end().await;
}

/// Both operators hang up while no contactd runs (the first one, then the specialist, left
/// alone with the hold music): the next process finds neither, and the transfer goes on as
/// a blind one — the caller, holding with the switch's music, is queued first for the
/// specialists and gets the next one free. It used to try to put the caller back with the
/// first operator, gone, and leave them on hold for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_operators_leaving_while_contactd_is_down_queue_the_caller_for_the_specialists() {
    let mut k = Killed::start().await;
    assert!(k.sim.hangup(&k.leg_a, "NORMAL_CLEARING"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(k.sim.hangup(&k.leg_s, "NORMAL_CLEARING"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    k.d.spawn().await;
    let sim = &k.sim;
    assert!(
        common::eventually(WAIT, || async { sim.agent_offers("2009").len() == 2 }).await,
        "the specialist was never offered the caller again\n{}",
        k.d.log_tail(40)
    );
    let again = sim.agent_offers("2009")[1].uuid.clone();
    k.talk_stays(&again, "op2009").await;
    k.quiet_enough(&k.c, "the caller");
    k.end().await;
}
