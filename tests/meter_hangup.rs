//! Guards "nothing half-stored": a caller of the meter-reading IVR who hangs up at any
//! step — greeting, account, a zone's value, its read-back, its confirmation, even after the
//! day zone of a two-zone meter was confirmed — ends the flow at that step (recorded with
//! the call, hung up by the party), leaves no reading in PostgreSQL and no session open.
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
    let enter_day = [
        CallerStep::WaitForPrompt,
        CallerStep::WaitMs(KEY_PAUSE_MS),
        CallerStep::Dtmf("5100#".into()),
    ];
    let day_confirmed: Vec<CallerStep> = base.iter().cloned().chain(zone("5100", "1")).collect();
    let cases: Vec<(Vec<CallerStep>, &str)> = vec![
        (
            vec![CallerStep::WaitForAnswer, CallerStep::WaitForPrompt],
            "greeting",
        ),
        (
            vec![
                CallerStep::WaitForAnswer,
                CallerStep::WaitForPrompt,
                CallerStep::WaitForPrompt,
            ],
            "account",
        ),
        (
            base.iter()
                .cloned()
                .chain([CallerStep::WaitForPrompt])
                .collect(),
            "reading",
        ),
        (
            base.iter()
                .cloned()
                .chain(enter_day.clone())
                .chain([CallerStep::WaitForPrompt, CallerStep::WaitForPrompt])
                .collect(),
            "say_back",
        ),
        (
            base.iter()
                .cloned()
                .chain(enter_day.clone())
                .chain([
                    CallerStep::WaitForPrompt,
                    CallerStep::WaitForPrompt,
                    CallerStep::WaitForPrompt,
                ])
                .collect(),
            "confirm",
        ),
        // the day zone is confirmed: still nothing may be stored
        (
            day_confirmed
                .iter()
                .cloned()
                .chain([CallerStep::WaitForPrompt])
                .collect(),
            "reading",
        ),
        (
            day_confirmed
                .iter()
                .cloned()
                .chain([
                    CallerStep::WaitForPrompt,
                    CallerStep::WaitMs(KEY_PAUSE_MS),
                    CallerStep::Dtmf("3050#".into()),
                    CallerStep::WaitForPrompt,
                    CallerStep::WaitForPrompt,
                    CallerStep::WaitForPrompt,
                ])
                .collect(),
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
