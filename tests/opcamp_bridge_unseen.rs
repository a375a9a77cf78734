//! The switch link drops just as the operator-campaign call is bridged to its operator: the
//! bridge is made, but its event and its reply are lost with the link. The talk goes on
//! on the switch, and contactd, once the link is back, must see it for what it is: a talk,
//! followed to its end, recorded connected with a disposition owed. It used to take it for
//! a call no operator took, wait for an abandon message that never came, then hang the
//! talking person up and record an abandon.
use crate::common;
use crate::opcamp_support;

use std::time::Duration;

use opcamp_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_whose_event_was_lost_with_the_link_is_a_talk_followed_to_its_end() {
    let env = common::TestEnv::new().await;
    // talks longer than contactd waits for an abandon message to end (1 s message + 5)
    let rules = vec![rule(0, person(300, 18_000))];
    let (sim, app) = start_edited(&env, &[("1001", auto_answer())], rules, "", |t| {
        t.replace(
            "[campaigns]\ntrunk = \"e1\"\n",
            "[campaigns]\ntrunk = \"e1\"\nmax_message_seconds = 1\n",
        )
    })
    .await;
    operators(&app, &["1001"]).await;
    sim.drop_esl_on_command("uuid_bridge", true);
    let id = campaign(&app, 5, 1, "progressive", 1).await;

    let ended = || async { subscriber(&sim, 0).is_some_and(|p| p.ended_at_ms.is_some()) };
    assert!(
        common::eventually(Duration::from_secs(40), ended).await,
        "the call never ended: {:?}",
        subscriber(&sim, 0)
    );
    let p = subscriber(&sim, 0).unwrap();
    assert_eq!(
        talked_with(&sim, &p, &["1001"]).as_deref(),
        Some("1001"),
        "never bridged: {p:?}"
    );
    assert_eq!(
        p.hangup_by.as_deref(),
        Some("party"),
        "the talk was cut off: {p:?}"
    );
    assert!(
        !p.played.iter().any(|f| f == ABANDON),
        "the person heard the abandon message: {p:?}"
    );

    let settled = || async { calls(&env, id).await.first().is_some_and(|c| c.3 || c.4) };
    assert!(common::eventually(WAIT, settled).await);
    let (_, _, operator, connected, _, _) = calls(&env, id).await.remove(0);
    assert!(connected, "not recorded connected");
    assert_eq!(operator.as_deref(), Some("op1001"));
    let outcome = || async {
        env.pg()
            .await
            .query_opt(
                "SELECT outcome FROM attempts WHERE uuid = $1::text::uuid",
                &[&p.uuid],
            )
            .await
            .unwrap()
            .and_then(|r| r.get::<_, Option<String>>(0))
    };
    assert!(
        common::eventually(WAIT, || async { outcome().await.is_some() }).await,
        "the attempt has no outcome"
    );
    assert_eq!(outcome().await.as_deref(), Some("connected"));
    let owed = app.shared.acd.disposition_due("op1001").await.unwrap();
    assert_eq!(
        owed.as_deref(),
        Some(p.uuid.as_str()),
        "no disposition owed"
    );
    app.shutdown(Duration::from_secs(2)).await;
}
