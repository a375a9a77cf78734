//! Guards "nothing half-stored": a caller of the meter-reading IVR who hangs up at any
//! step — greeting, account, a zone's value, its read-back, its confirmation, even after the
//! day zone of a two-zone meter was confirmed — ends the flow at that step (recorded with
//! the call, hung up by the party; the greeting and the read-back are said with the question
//! that follows them and recorded as it), leaves no reading in PostgreSQL and no session
//! open.
use crate::common;
use crate::meter_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use contactd::sim::CallerStep;
use meter_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_hanging_up_at_each_step_leaves_nothing_stored() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(&env).await;
    let base = to_account("200002");
    let hear = |prompt: &str| CallerStep::WaitForPlay(prompt.into());
    let enter_day = [
        hear("enter_reading"),
        CallerStep::WaitMs(KEY_PAUSE_MS),
        CallerStep::Dtmf("5100#".into()),
    ];
    let day_confirmed: Vec<CallerStep> = base.iter().cloned().chain(zone("5100", "1")).collect();
    let then = |before: &[CallerStep], more: &[CallerStep]| -> Vec<CallerStep> {
        before.iter().chain(more).cloned().collect()
    };
    let answered = [CallerStep::WaitForAnswer];
    // Sounds said on the way to a question go out with it as one command: a hang-up while
    // they play is recorded at that question (the greeting at the account's).
    let cases: Vec<(Vec<CallerStep>, &str)> = vec![
        (then(&answered, &[hear("ivr_greeting")]), "account"),
        (then(&answered, &[hear("enter_account")]), "account"),
        (then(&base, &[hear("enter_reading")]), "reading"),
        (
            then(&then(&base, &enter_day), &[hear("you_entered")]),
            "confirm",
        ),
        (
            then(&then(&base, &enter_day), &[hear("confirm_reading")]),
            "confirm",
        ),
        // the day zone is confirmed: still nothing may be stored
        (then(&day_confirmed, &[hear("enter_reading")]), "reading"),
        (
            then(
                &day_confirmed,
                &[
                    hear("enter_reading"),
                    CallerStep::WaitMs(KEY_PAUSE_MS),
                    CallerStep::Dtmf("3050#".into()),
                    hear("confirm_reading"),
                ],
            ),
            "confirm",
        ),
    ];
    for (mut script, expected) in cases {
        script.push(CallerStep::Hangup);
        let uuid = call(&sim, &app, "readings", "5552000", script);
        let got = outcome(&env, &uuid).await;
        assert_eq!(
            (got.0.as_str(), got.1.as_str()),
            (expected, "party"),
            "hang-up during {expected}: {:#?}",
            executed(&sim, &uuid)
        );
        assert!(
            readings(&env).await.is_empty(),
            "stored after a hang-up at {expected}"
        );
    }
    assert!(
        common::eventually(Duration::from_secs(5), || async {
            app.shared.outbound_live.load(Ordering::SeqCst) == 0
        })
        .await,
        "a session stayed open after the caller hung up"
    );
    assert_eq!(sim.live_channels().len(), 0);
    app.shutdown(Duration::from_secs(1)).await;
}
