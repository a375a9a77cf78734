//! contactd SIGKILLed between an operator's answer and the bridge of an operator-campaign
//! call (the bridge lost with the link, which did not come back before the kill). The
//! person's call goes on in its own script on the switch — the wait, then the abandon
//! message — so by the time the next process looks, the person is hearing the message.
//! What they lived is what is recorded: an abandon, not a talk. The operator's answered
//! leg is hung up and they are ready again, with no disposition owed for a call they
//! never heard, and the subscriber is not dialed again. It used to be recorded
//! `connected`, with a disposition owed, and the operator bridged into the message.
use crate::acd_support;
use crate::common;
use crate::opcamp_support;

use std::time::Duration;

use acd_support::process::{add_operator, Proc};
use acd_support::WAIT;
use contactd::sim::{self, Simulator, SubscriberRule};
use opcamp_support::ABANDON;

const PHONE: &str = "+79162990001";
/// The same number as the switch dials it.
const DIALED: &str = "89162990001";

/// The subscriber's call as the simulator saw it (they are dialed once).
fn subscriber(sim: &Simulator) -> Option<sim::PartyRecord> {
    sim.ground_truth().into_iter().find(|p| p.number == DIALED)
}

fn extra() -> String {
    format!(
        r#"
[trunk.e1]
switch = "fs1"
kind = "e1"
channels = 30
dial = "freetdm/1/a/{{number}}"
[campaigns]
trunk = "e1"
[campaigns.operator]
abandon_message = "{ABANDON}"
queue = "general"
[amd]
enabled = false
"#
    )
}

/// `(outcome, connected, abandoned, operator)` of the campaign's one attempt.
async fn attempt(env: &common::TestEnv) -> Option<(Option<String>, bool, bool, Option<String>)> {
    let rows = env
        .pg()
        .await
        .query(
            "SELECT a.outcome, o.connected_at IS NOT NULL, o.abandoned_at IS NOT NULL, o.operator
             FROM attempts a JOIN operator_calls o ON o.uuid = a.uuid",
            &[],
        )
        .await
        .unwrap();
    rows.first()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_whose_operator_was_never_bridged_before_a_kill_is_an_abandon_not_a_talk() {
    let env = common::TestEnv::new().await;
    // stays on the line well past the message: the switch's script hangs up
    let person = opcamp_support::person(300, 20_000);
    let rules = vec![SubscriberRule {
        pattern: "2990001$".into(),
        behaviour: person,
    }];
    let agents = [("2001", opcamp_support::auto_answer())];
    let sim = Simulator::start(opcamp_support::sim_config(&agents, rules))
        .await
        .unwrap();
    let mut d = Proc::start_with(&env, &sim, &extra()).await;
    add_operator(&env, "2001").await;
    d.login("op2001").await;

    // The bridge is lost on the way, and the link cannot come back before the kill.
    sim.refuse_connections(true).await;
    sim.drop_esl_on_command("uuid_bridge", false);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("list.csv");
    std::fs::write(&csv, format!("phone,name\n{PHONE},Customer\n")).unwrap();
    d.cli(&[
        "lists",
        "import",
        csv.to_str().unwrap(),
        "--number",
        "7",
        "--name",
        "killed",
    ])
    .await;
    d.cli(&[
        "campaigns",
        "start",
        "--mode",
        "progressive",
        "--list",
        "7",
        "--queue",
        "general",
        "--trunk",
        "e1",
        "--lines",
        "1",
        "--name",
        "killed",
        "--days",
        "mon-sun",
        "--from",
        "00:00",
        "--until",
        "23:59",
    ])
    .await;
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
    tokio::time::sleep(Duration::from_millis(100)).await;
    d.sigkill().await;
    let person = subscriber(&sim).expect("the subscriber was dialed");
    assert!(person.answered);
    assert_eq!(
        sim.bridged_to(&person.uuid),
        None,
        "the bridge was made after all"
    );

    sim.refuse_connections(false).await;
    d.spawn().await;
    // The operator is let go as the message begins (or at once, if it began while no
    // contactd ran), not seconds later when the ACD's sweep finds the offer nobody carries.
    let began =
        || async { subscriber(&sim).is_some_and(|p| p.played.iter().any(|f| f == ABANDON)) };
    assert!(
        common::eventually(WAIT, began).await,
        "the message never began\n{}",
        d.log_tail(40)
    );
    let leg_ended = || async {
        sim.agent_offers("2001")
            .first()
            .is_some_and(|o| o.ended_at_us.is_some())
    };
    assert!(
        common::eventually(Duration::from_millis(700), leg_ended).await,
        "the operator's answered leg outlived the message's start by 0.7 s\n{}",
        d.log_tail(40)
    );
    let ended = || async { subscriber(&sim).is_some_and(|p| p.ended_at_ms.is_some()) };
    assert!(
        common::eventually(WAIT, ended).await,
        "the subscriber's call never ended\n{}",
        d.log_tail(40)
    );
    let person = subscriber(&sim).unwrap();
    assert!(
        person.played.iter().any(|p| p == ABANDON),
        "the person never heard the abandon message: {person:?}"
    );
    assert_eq!(
        person.playbacks_interrupted, 0,
        "the message was cut off: {person:?}"
    );
    assert!(
        person.bridged_to.is_empty(),
        "an operator was bridged into the abandon message: {person:?}"
    );
    assert_eq!(person.hangup_by.as_deref(), Some("switch"), "{person:?}");

    // What is recorded is what the person lived.
    let abandoned =
        || async { matches!(attempt(&env).await, Some((Some(o), ..)) if o == "abandoned") };
    assert!(
        common::eventually(WAIT, abandoned).await,
        "the attempt is {:?}\n{}",
        attempt(&env).await,
        d.log_tail(40)
    );
    let (_, connected, was_abandoned, _) = attempt(&env).await.unwrap();
    assert!(!connected, "recorded as connected to an operator");
    assert!(was_abandoned);

    // The operator is ready with nothing to dispose.
    let live = contactd::store::acd::AcdStore::connect(&common::redis_url(), &env.prefix)
        .await
        .unwrap();
    let ready = || async { live.agent_state("op2001").await.unwrap().as_deref() == Some("ready") };
    assert!(
        common::eventually(Duration::from_secs(5), ready).await,
        "op2001 is {:?}\n{}",
        live.agent_state("op2001").await,
        d.log_tail(40)
    );
    assert_eq!(live.disposition_due("op2001").await.unwrap(), None);
    assert_eq!(sim.agent_peak_concurrent("2001"), 1);

    // Heard the message: never dialed again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let dialed = sim
        .ground_truth()
        .iter()
        .filter(|p| p.number == DIALED)
        .count();
    assert_eq!(dialed, 1, "the subscriber was dialed again");
    d.sigkill().await;
}
