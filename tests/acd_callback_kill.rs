//! contactd SIGKILLed while a stored callback is under way, judged from the simulator's
//! ground truth: the process started after it carries the callback on. It used to look the
//! callback's offer up as a caller's, whose call (the customer's, not dialed yet or not
//! bridged yet) it took for gone: the operator's phone was hung up, and a customer who
//! answered meanwhile sat in the park's silence, the callback never done.
use crate::acd_support;
use crate::common;

use std::time::Duration;

use acd_support::process::{add_operator, Proc};
use acd_support::*;
use contactd::sim::{self, Behaviour, Simulator};

const NUMBER: &str = "84952224466";

const TRUNK: &str = "
[trunk.e1]
switch = \"fs1\"
kind = \"e1\"
channels = 30
dial = \"freetdm/1/a/{number}\"
";

/// Operator 2001's phone and the customers' (1 real s is 5 simulated).
fn sim_config(operator: Behaviour, customer: Behaviour) -> sim::SimConfig {
    scaled_sim_config(&[("2001", operator)], customer)
}

fn dialed(sim: &Simulator) -> usize {
    sim.api_log()
        .iter()
        .filter(|c| c.contains("originate") && c.contains(&format!("freetdm/1/a/{NUMBER}")))
        .count()
}

/// A due callback in `general`, op2001 logged in: waits for `moment`, then SIGKILLs
/// contactd, leaves it down 3 s (15 simulated), starts it again. The callback must then
/// be done: the customer dialed once, answered, bridged to the operator, who rang once.
async fn killed_at(moment: fn(&Simulator) -> bool, operator: Behaviour, customer: Behaviour) {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config(operator, customer))
        .await
        .unwrap();
    let mut d = Proc::start_with(&env, &sim, TRUNK).await;
    add_operator(&env, "2001").await;
    env.pg()
        .await
        .execute(
            "INSERT INTO acd_callbacks (queue, number) VALUES ('general', $1)",
            &[&NUMBER],
        )
        .await
        .unwrap();
    d.login("op2001").await;
    assert!(
        common::eventually(WAIT, || async { moment(&sim) }).await,
        "the moment to kill never came\n{}",
        d.log_tail(30)
    );
    d.sigkill().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    d.spawn().await;
    assert!(
        callback_reaches(&env, NUMBER, "general", "done").await,
        "callback not done after the restart: {:?}\n{}",
        callback_of(&env, NUMBER).await,
        d.log_tail(40)
    );
    let truth = sim.ground_truth();
    let customer = truth
        .iter()
        .find(|p| p.number.ends_with(NUMBER))
        .expect("the customer's call")
        .clone();
    let leg = sim.agent_offers("2001")[0].uuid.clone();
    assert!(
        customer.answered,
        "the customer never answered: {customer:?}"
    );
    assert_eq!(
        sim.bridged_to(&customer.uuid),
        Some(leg),
        "the customer is not with the operator: {customer:?}"
    );
    assert_eq!(dialed(&sim), 1, "the customer was dialed again");
    assert_eq!(sim.agent_offers("2001").len(), 1, "the operator rung again");
    sim.hangup(&customer.uuid, "NORMAL_CLEARING");
    d.sigkill().await;
}

/// Killed while the customer's phone rings; they answer (into the park) while contactd is
/// down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_the_customer_rings_the_next_process_bridges_them() {
    killed_at(
        |sim| dialed(sim) == 1,
        answers(500, None),
        answers(8000, None),
    )
    .await;
}

/// Killed while the operator's phone rings for the callback; they answer while contactd is
/// down, and the customer is dialed by the next process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_the_operator_rings_the_next_process_dials_the_customer() {
    killed_at(
        |sim| !sim.agent_offers("2001").is_empty(),
        answers(8000, None),
        answers(2000, None),
    )
    .await;
}
