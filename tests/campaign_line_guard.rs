//! A FreeTDM channel is not dialed again while it is still clearing. mod_freetdm hangs its
//! channel up in the session's CS_HANGUP, and ftmod_analog keeps it in HANGUP for 500 ms
//! before it can be hunted again: CHANNEL_HANGUP_COMPLETE (and the originate's -ERR for a
//! busy number) reach contactd well before. The simulator holds its channels just as long
//! and refuses an originate that finds them all busy; its own count of those refusals is
//! the witness. With the trunk's release guard (600 ms on FreeTDM) a 1-channel trunk
//! dialing busy numbers back to back is never refused; with the guard set to 0 it is, and
//! no subscriber is lost to those refusals either.
use crate::campaign_support;
use crate::common;

use std::time::Duration;

use campaign_support::{import, times_dialed, MESSAGE};
use contactd::app::App;
use contactd::sim::{self, Behaviour, Simulator};

const SUBSCRIBERS: usize = 4;

fn number(i: usize) -> String {
    format!("+7916720{i:04}")
}

/// The same number as the trunk sees it (national format).
fn dialed(i: usize) -> String {
    format!("8916720{i:04}")
}

/// A 1-channel FreeTDM span in real time whose subscribers are all busy (after 300 ms of
/// ringing), a 1-line campaign over them, run to its end. `guard`: the trunk's
/// `release_guard_ms` (None: its default).
async fn run(env: &common::TestEnv, guard: Option<u64>) -> (Simulator, App, i64) {
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 1.0,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 1,
        }],
        default_behaviour: Behaviour::Reject {
            cause: "USER_BUSY".into(),
            after_ms: 300,
            ring: true,
        },
        media_ms: [(MESSAGE.to_string(), 1000)].into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut text = env.config_toml(
        sim.esl_addr(),
        "ClueCon",
        &[("e1", 1, "freetdm/1/a/{number}")],
    );
    if let Some(ms) = guard {
        let dial = "dial = \"freetdm/1/a/{number}\"\n";
        assert!(text.contains(dial));
        text = text.replace(dial, &format!("{dial}release_guard_ms = {ms}\n"));
    }
    text.push_str("[campaigns]\ntrunk = \"e1\"\n");
    let cfg = contactd::config::Config::from_toml(&text).unwrap();
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    import(&app, 3, (0..SUBSCRIBERS).map(number)).await;
    let id = campaign_support::one_line_all_day(&app, 3).await;
    let finished = common::eventually(Duration::from_secs(60), || async {
        app.shared.campaigns.get(id).await.unwrap().unwrap().state == "finished"
    })
    .await;
    assert!(finished, "the campaign did not finish");
    (sim, app, id)
}

/// Each subscriber's outcome, in list order.
async fn outcomes(env: &common::TestEnv, id: i64) -> Vec<Option<String>> {
    let pg = env.pg().await;
    let mut out = Vec::new();
    for i in 0..SUBSCRIBERS {
        let r = pg
            .query_one(
                "SELECT t.outcome FROM campaign_targets t JOIN contacts c ON c.id = t.contact_id
                 WHERE t.campaign_id = $1 AND c.phone = $2",
                &[&id, &number(i)],
            )
            .await
            .unwrap();
        out.push(r.get(0));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_up_freetdm_channel_is_not_dialed_again_while_it_clears() {
    let env = common::TestEnv::new().await;
    let (sim, app, id) = run(&env, None).await;
    assert_eq!(
        sim.refused_full_on("1"),
        0,
        "the switch refused an originate: every channel was busy (still clearing)"
    );
    for i in 0..SUBSCRIBERS {
        assert_eq!(
            times_dialed(&sim, &dialed(i)),
            1,
            "{} dialed again",
            number(i)
        );
    }
    assert_eq!(
        outcomes(&env, id).await,
        vec![Some("busy".to_string()); SUBSCRIBERS]
    );
    // the channel's 500 ms of clearing lie between one originate and the next
    let sent: Vec<_> = sim
        .api_log_timed()
        .into_iter()
        .filter(|(_, c)| c.contains("originate"))
        .map(|(at, _)| at)
        .collect();
    assert_eq!(sent.len(), SUBSCRIBERS);
    for w in sent.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= Duration::from_millis(800),
            "originates {gap:?} apart"
        );
    }
    app.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_guard_the_switch_refuses_the_clearing_channel_and_nobody_is_lost() {
    let env = common::TestEnv::new().await;
    let (sim, app, id) = run(&env, Some(0)).await;
    assert!(
        sim.refused_full_on("1") > 0,
        "a channel dialed again at once was never refused: the simulator frees it too early"
    );
    // a refusal for want of a channel is not an attempt: each subscriber still gets theirs
    assert_eq!(
        outcomes(&env, id).await,
        vec![Some("busy".to_string()); SUBSCRIBERS]
    );
    app.shutdown(Duration::from_secs(1)).await;
}
