//! contactd SIGKILLed between an operator's answer and the bridge (the bridge lost with the
//! link, which did not come back before the kill), and the caller leaving once the next
//! process has adopted them but before it carried the offer on: the operator's answered
//! leg is hung up with the caller. It used to stay up, in the operator's ear, until the
//! orphan sweep found it seconds later, while the operator, freed by the caller's end, was
//! rung for the next caller on top of it (the fault matrix's `op_double_booked`).
use crate::acd_support;
use crate::common;

use std::time::Duration;

use acd_support::process::{add_operator, Proc};
use acd_support::*;
use contactd::sim::Simulator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_leaving_before_the_bridge_a_dead_process_never_made_frees_the_operators_phone() {
    let env = common::TestEnv::new().await;
    // 1 real s is 5 simulated: the phone answers after 100 real ms
    let sim = Simulator::start(scaled_sim_config(
        &[("2001", answers(500, None))],
        answers(1000, None),
    ))
    .await
    .unwrap();
    let mut d = Proc::start(&env, &sim).await;
    add_operator(&env, "2001").await;
    d.login("op2001").await;

    // The bridge is lost on the way, and the link cannot come back before the kill.
    sim.refuse_connections(true).await;
    sim.drop_esl_on_command("uuid_bridge", false);
    let c = d.caller(&sim, "5551301");
    let answered = || {
        sim.agent_offers("2001")
            .first()
            .is_some_and(|o| o.answered && o.ended_at_us.is_none())
    };
    assert!(
        common::eventually(WAIT, || async { answered() }).await,
        "op2001 never answered\n{}",
        d.log_tail(30)
    );
    // (the next process must adopt the caller within 3 s of this answer)
    tokio::time::sleep(Duration::from_millis(100)).await;
    d.sigkill().await;
    let leg = sim.agent_offers("2001")[0].uuid.clone();
    assert_eq!(sim.bridged_to(&c), None, "the bridge was made after all");
    assert!(answered(), "the operator's leg did not stay up");

    sim.refuse_connections(false).await;
    d.spawn().await;
    assert!(
        common::eventually(WAIT, || async { adopted_in(&d, &c) }).await,
        "the next process never adopted the caller\n{}",
        d.log_tail(40)
    );
    // Within 3 s of the answer the next process leaves the offer to its own instance, so
    // the caller leaves while nobody carries it on.
    assert_eq!(sim.bridged_to(&c), None, "the next process bridged first");
    assert!(sim.hangup(&c, "NORMAL_CLEARING"));
    // The next caller, for the operator freed by that end.
    let next = d.caller(&sim, "5551302");
    // hung up with the caller (the orphan sweep would take 3 s or more)
    assert!(
        common::eventually(Duration::from_secs(1), || async {
            sim.agent_offers("2001")[0].ended_at_us.is_some()
        })
        .await,
        "the operator's leg {leg} outlived the caller by over a second\n{}",
        d.log_tail(40)
    );
    assert!(
        common::eventually(WAIT, || async { sim.bridged_to(&next).is_some() }).await,
        "the next caller never reached op2001\n{}",
        d.log_tail(40)
    );
    assert_eq!(
        sim.agent_peak_concurrent("2001"),
        1,
        "op2001's phone carried two calls at once"
    );
    sim.hangup(&next, "NORMAL_CLEARING");
    d.sigkill().await;
}

/// Whether contactd's log says it adopted `call`.
fn adopted_in(d: &Proc, call: &str) -> bool {
    d.log_tail(400)
        .lines()
        .any(|l| l.contains("acd: caller adopted") && l.contains(call))
}
