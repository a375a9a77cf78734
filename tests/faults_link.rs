//! The control link to the switch drops five times, a couple of seconds apart, in the middle
//! of a campaign; the switch itself stays up and its calls go on. Some subscribers hang up by
//! themselves halfway through the message. Events sent while the link was down are gone, so
//! contactd must find out from the switch what became of each call it was placing or driving:
//!
//! - by the switch's own truth: nobody who answered is dialed again (an answered call lost
//!   track of is not a failed one), nobody is dialed twice at once, no answered subscriber is
//!   left in silence for more than 5 s, and no call is left up on the switch at the end;
//! - in PostgreSQL: the campaign finishes, every attempt has its outcome, everyone who heard
//!   the whole message is `listened_full` (and nobody else is).
//!
//! Single drops follow, each told to a call's watch once, at a moment where a step that
//! does not end the call reads it (the call-progress classifier of a notice, the wait for an
//! operator of an operator campaign, the callback offer to a caller of a full queue): the
//! call is looked up once the link is back, and its end recorded then.
use crate::acd_support;
use crate::common;
use crate::faults_support;
use crate::opcamp_support;

use std::collections::HashMap;
use std::time::Duration;

use contactd::sim::{self, AfterAnswer, Behaviour, Simulator};
use faults_support::{Daemon, DaemonOpts, Findings};

const SUBSCRIBERS: usize = 48;
/// More lines than drops: calls orphaned by the drops cannot hold every line, so what
/// contactd does with the subscribers it lost track of shows.
const LINES: i32 = 8;
/// 1 real second is 4 simulated seconds: a call (2 s ringing, 6 s message) takes 2 s, so
/// each drop finds calls ringing, calls mid-message and messages about to end.
const TIME_SCALE: f64 = 0.25;
const RING_MS: u64 = 2000;
const MESSAGE_MS: u64 = 6000;
/// Every other subscriber hangs up this long after answering, halfway through the message.
const HANG_UP_AFTER_MS: u64 = 3000;
/// contactd's first reconnect delay and its cap (real ms): the link is down 1-2 s simulated
/// after each drop, long enough for events to be lost, short enough that a call answered
/// meanwhile can still get its message within the dead-air limit.
const RECONNECT_MS: (u64, u64) = (250, 500);
const MAX_DEAD_AIR_MS: u64 = 5000;
/// Real time between the drops (uneven, so they do not beat with the calls).
const DROP_GAPS_MS: [u64; 4] = [2000, 1700, 2300, 1900];
const FINISH_AFTER_DROPS: Duration = Duration::from_secs(40);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_link_dropped_5_times_strands_no_call_and_redials_nobody_who_answered() {
    let env = common::TestEnv::new().await;
    let numbers: HashMap<String, Behaviour> = (0..SUBSCRIBERS)
        .filter(|i| i % 2 == 1)
        .map(|i| {
            (
                faults_support::dialed(300, i),
                Behaviour::Answer {
                    ring_ms: RING_MS,
                    after: AfterAnswer::HangupAfter {
                        ms: HANG_UP_AFTER_MS,
                    },
                },
            )
        })
        .collect();
    let sim = Simulator::start(sim::SimConfig {
        time_scale: TIME_SCALE,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        numbers,
        default_behaviour: Behaviour::Answer {
            ring_ms: RING_MS,
            after: AfterAnswer::Stay,
        },
        media_ms: faults_support::message(MESSAGE_MS),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut daemon = Daemon::start(DaemonOpts {
        reconnect_ms: RECONNECT_MS,
        ..DaemonOpts::new(&env, &sim)
    })
    .await;
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    let phones: Vec<String> = (0..SUBSCRIBERS)
        .map(|i| faults_support::number(300, i))
        .collect();
    let id = faults_support::start_campaign(&pool, &daemon.config, 3, &phones, LINES).await;

    let going = common::eventually(Duration::from_secs(30), || async {
        sim.ground_truth()
            .iter()
            .filter(|p| p.answered && p.ended_at_ms.is_none())
            .count()
            >= 3
    })
    .await;
    assert!(
        going,
        "campaign did not get going: {}",
        faults_support::campaign_summary(&pool, id).await
    );
    let mut up_at_drops = Vec::new();
    for i in 0..=DROP_GAPS_MS.len() {
        up_at_drops.push(sim.live_channels().len());
        sim.drop_esl_connections();
        if let Some(gap) = DROP_GAPS_MS.get(i) {
            tokio::time::sleep(Duration::from_millis(*gap)).await;
        }
    }
    let finished = faults_support::wait_finished(&pool, &[id], FINISH_AFTER_DROPS).await;

    let db = env.pg().await;
    let summary = faults_support::campaign_summary(&pool, id).await;
    let dialing = faults_support::targets_dialing(&db, id).await;
    let no_outcome = faults_support::attempts_without_outcome(&db, id).await;
    let recorded = faults_support::outcomes(&db, id).await;
    let leftovers = faults_support::live_calls(&sim);
    daemon.stop().await;
    faults_support::hang_up_all(&sim).await;
    let truth = sim.ground_truth();

    let mut f = Findings::default();
    // the switch's truth
    f.list(
        "subscribers who answered were dialed again",
        faults_support::redialed_after_answer(&truth),
    );
    f.list(
        "subscribers dialed twice at once",
        faults_support::double_dials(&truth),
    );
    f.list(
        &format!("answered calls left in silence for more than {MAX_DEAD_AIR_MS} ms"),
        faults_support::dead_air_over(&truth, MAX_DEAD_AIR_MS),
    );
    f.list(
        "calls still up on the switch at the end (hung up by the test once contactd stopped)",
        leftovers,
    );
    // PostgreSQL
    if !finished {
        f.add(format!(
            "campaign not finished {} s after the last drop: {summary}",
            FINISH_AFTER_DROPS.as_secs()
        ));
    }
    f.list("subscribers left dialing", dialing);
    f.list("attempts without an outcome", no_outcome);
    let (missed, lies) = faults_support::outcome_mismatches(&truth, &recorded);
    f.list("whole message heard but not recorded listened_full", missed);
    f.list("recorded listened_full without hearing it all", lies);
    f.assert_none(&format!(
        "control link dropped {} times (channels up at each drop: {up_at_drops:?})",
        DROP_GAPS_MS.len() + 1
    ));
}

/// The link drops while contactd listens to what answered a notice call (call progress)
/// and is redialed only 8 s later, once: meanwhile the switch's own script plays the whole
/// message and hangs up. Once the link is back, the call's follower looks it up (the
/// switch noted the message's result) and records `listened_full` at once — not after its
/// flow's deadline, minutes away for a message of unknown length. The classifier used to
/// take the link's one loss for itself, and the follower then waited for events that were
/// lost with the link (`faults_link::control_link_dropped_5_times…` failed so, rarely).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_lost_while_a_notice_call_is_classified_is_looked_up_once_back() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim::SimConfig {
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        // "hello" 300 ms after the answer: a person, told about a second after it
        default_behaviour: Behaviour::Answer {
            ring_ms: 500,
            after: AfterAnswer::Person {
                after_ms: 300,
                speak_ms: 500,
                hangup_ms: None,
            },
        },
        media_ms: faults_support::message(2000),
        ..Default::default()
    })
    .await
    .unwrap();
    // one reconnect, 8 s after the drop: one loss told to the call's watch
    let mut daemon = Daemon::start(DaemonOpts {
        reconnect_ms: (8000, 8000),
        ..DaemonOpts::new(&env, &sim)
    })
    .await;
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    let phone = faults_support::number(300, 0);
    let id = faults_support::start_campaign(&pool, &daemon.config, 3, &[phone], 1).await;

    let answered = common::eventually(Duration::from_secs(30), || async {
        sim.ground_truth().iter().any(|p| p.answered)
    })
    .await;
    assert!(answered, "the subscriber was not answered");
    sim.drop_esl_connections();
    // the switch goes on alone: the listening, its 2.5 s wait, the message, the hang-up
    let ended = common::eventually(Duration::from_secs(8), || async {
        sim.ground_truth().iter().all(|p| p.ended_at_ms.is_some())
    })
    .await;
    let truth = sim.ground_truth();
    let finished = faults_support::wait_finished(&pool, &[id], Duration::from_secs(20)).await;

    let db = env.pg().await;
    let summary = faults_support::campaign_summary(&pool, id).await;
    let recorded = faults_support::outcomes(&db, id).await;
    daemon.stop().await;
    let shown: Vec<_> = truth.iter().map(faults_support::show).collect();
    assert!(
        ended,
        "the call did not end while the link was down: {shown:?}"
    );
    assert!(
        truth.len() == 1 && truth[0].playbacks_completed == 1,
        "the switch's script did not play the message to its end: {shown:?}"
    );
    assert!(
        finished,
        "campaign not finished within 20 s of the drop (the link back after 8 s): {summary}; \
         {recorded:?}"
    );
    let dialed = faults_support::dialed(300, 0);
    assert_eq!(
        recorded.get(&dialed).cloned().flatten().as_deref(),
        Some("listened_full"),
        "{recorded:?}"
    );
}

/// An operator-campaign call whose control link drops while it waits for an operator, and
/// whose subscriber hangs up before the link is back (once, 8 s later): the call is looked
/// up once the link is back and its attempt ends then — not about two minutes later, when
/// the wait for the abandon message would run out. The wait for an operator used to take
/// the link's loss for itself, and the abandon message's follower then waited for a
/// hang-up that was lost with the link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_lost_while_a_campaign_call_waits_for_an_operator_is_looked_up_once_back() {
    let env = common::TestEnv::new().await;
    // the operator's phone is not answered in time: nobody takes the call
    let slow = Behaviour::Answer {
        ring_ms: 4000,
        after: AfterAnswer::Stay,
    };
    // answers after 400 ms, hangs up 1.2 s later: while the link is down
    let rules = vec![opcamp_support::rule(0, opcamp_support::person(400, 1200))];
    let once_after_8_s = |t: String| {
        t.replace(
            "reconnect_min_ms = 100\nreconnect_max_ms = 500",
            "reconnect_min_ms = 8000\nreconnect_max_ms = 8000",
        )
    };
    let (sim, app) =
        opcamp_support::start_edited(&env, &[("1001", slow)], rules, "", once_after_8_s).await;
    opcamp_support::operators(&app, &["1001"]).await;
    let id = opcamp_support::campaign(&app, 2, 1, "progressive", 1).await;
    let answered = common::eventually(Duration::from_secs(30), || async {
        opcamp_support::subscriber(&sim, 0).is_some_and(|p| p.answered)
    })
    .await;
    assert!(answered, "the subscriber was not answered");
    sim.drop_esl_connections();
    let db = env.pg().await;
    let ended = common::eventually(Duration::from_secs(20), || async {
        faults_support::targets_dialing(&db, id).await.is_empty()
            && faults_support::attempts_without_outcome(&db, id)
                .await
                .is_empty()
    })
    .await;
    let left = (
        faults_support::targets_dialing(&db, id).await,
        faults_support::attempts_without_outcome(&db, id).await,
    );
    let truth = sim.ground_truth();
    app.shutdown(Duration::from_secs(2)).await;
    let party = opcamp_support::subscriber(&sim, 0).unwrap();
    assert_eq!(
        party.hangup_by.as_deref(),
        Some("party"),
        "the subscriber did not hang up: {party:?}"
    );
    assert!(
        ended,
        "attempt not ended within 20 s of the drop (the link back after 8 s): {left:?}"
    );
    let dialed = truth
        .iter()
        .filter(|p| p.number.ends_with(&party.number))
        .count();
    assert_eq!(dialed, 1, "the subscriber was dialed again");
}

/// A caller offered a callback (the queue is full) hangs up while the control link is down
/// (once, redialed 8 s later): the call's record is closed once the link is back — not
/// two minutes later, when the wait for the caller's key would have run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_gone_while_the_link_is_down_during_the_callback_offer_is_closed_once_back() {
    use acd_support::{acd_row, start_app, start_sim, trunk_call, waiting, Setup};
    use contactd::sim::CallerStep;
    let env = common::TestEnv::new().await;
    let sim = start_sim(&[]).await;
    let app = start_app(
        &env,
        &sim,
        &Setup {
            max_waiting: 1,
            reconnect_ms: Some((8000, 8000)),
            ..Setup::default()
        },
    )
    .await;
    // nobody logged in: one caller fills the queue
    trunk_call(&sim, &app, "queue_general", "5550111", vec![]);
    assert!(
        common::eventually(Duration::from_secs(30), || async {
            waiting(&app, "general").await == 1
        })
        .await
    );
    let full = trunk_call(
        &sim,
        &app,
        "queue_general",
        "5550112",
        vec![
            CallerStep::WaitForAnswer,
            CallerStep::WaitForPlay("acd_callback_offer".into()),
            CallerStep::WaitMs(1500),
            CallerStep::Hangup,
        ],
    );
    let asked = common::eventually(Duration::from_secs(30), || async {
        sim.ground_truth()
            .iter()
            .any(|p| p.uuid == full && p.played.iter().any(|f| f.contains("acd_callback_offer")))
    })
    .await;
    assert!(asked, "the callback offer was not played");
    sim.drop_esl_connections();
    let closed = common::eventually(Duration::from_secs(20), || async {
        acd_row(&env, &full)
            .await
            .and_then(|r| r.get::<_, Option<String>>(3))
            .is_some()
    })
    .await;
    let party = sim.ground_truth().into_iter().find(|p| p.uuid == full);
    app.shutdown(Duration::from_secs(2)).await;
    let party = party.expect("the caller's record");
    assert_eq!(
        party.hangup_by.as_deref(),
        Some("party"),
        "the caller did not hang up: {party:?}"
    );
    assert!(
        closed,
        "the caller's record not closed within 20 s of the drop (the link back after 8 s)"
    );
}
