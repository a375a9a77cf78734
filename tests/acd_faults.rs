//! The ACD under faults, judged from the simulator's ground truth (1 real second is 5
//! simulated seconds, so contactd's pauses count five times over in the dead air):
//!
//! - contactd SIGKILLed while one caller talks and another's operator phone rings: the
//!   switch hangs the first caller up when the operator does (nobody waits in silence for a
//!   dead contactd), the second operator hears music once they answer, and the restarted
//!   instance takes over at once what its dead predecessor left: the ringing offer is
//!   bridged, the waiting caller driven again, the talk's record closed;
//! - Redis stopped, or frozen, for a while: a caller who arrives meanwhile is taken (with
//!   music) and queued once Redis is back; a talk that ends meanwhile frees its operator;
//! - Redis restarted empty: the operators' states (from PostgreSQL and the switch) and the
//!   waiting callers (in their old order) are rebuilt before anyone is routed;
//! - the control link dropped while an operator's phone rings: the offer is looked up and
//!   carried on (bridged when answered), never rung again; and looked up again when the
//!   link drops once more while the looked-up phone still rings;
//! - the control link dropped while a stored callback's customer is dialed, who answers
//!   while it is down: bridged to the waiting operator once it is back, never dialed again.
//!
//! Nobody, caller or operator, hears more than 5 simulated seconds of silence.
use crate::acd_support;
use crate::common;

use std::time::Duration;

use acd_support::process::{acd_section, add_operator, Proc};
use acd_support::*;
use common::faultproxy::FaultProxy;
use contactd::app::App;
use contactd::service::acd::{OperatorCommand, TransferMode};
use contactd::sim::{self, Behaviour, Simulator};

/// Simulated ms of silence nobody should hear (the fault matrix's rule).
const SILENT_MS: u64 = 5000;

fn sim_config(agents: &[(&str, Behaviour)]) -> sim::SimConfig {
    scaled_sim_config(agents, answers(1000, None))
}

/// contactd in this process, reaching Redis at `redis` (a fault proxy).
async fn app_via(env: &common::TestEnv, sim: &Simulator, redis: &str, instance: &str) -> App {
    app_edited(env, sim, redis, instance, |t| t).await
}

/// [`app_via`] with its config text changed by `edit` first.
async fn app_edited(
    env: &common::TestEnv,
    sim: &Simulator,
    redis: &str,
    instance: &str,
    edit: impl FnOnce(String) -> String,
) -> App {
    // RUST_LOG=contactd=debug shows what contactd did when a test fails.
    common::logs::init();
    let mut text = env
        .config_toml(sim.esl_addr(), "ClueCon", &[])
        .replace(&common::redis_url(), redis);
    text.push_str(&acd_section(instance));
    let text = edit(text);
    std::fs::create_dir_all("/tmp/contactd-test-recordings").unwrap();
    let cfg = contactd::config::Config::from_toml(&text).unwrap();
    cfg.validate().unwrap();
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    app
}

fn record<'a>(truth: &'a [sim::PartyRecord], uuid: &str) -> &'a sim::PartyRecord {
    truth
        .iter()
        .find(|r| r.uuid == uuid)
        .unwrap_or_else(|| panic!("no ground truth for {uuid}"))
}

/// Every caller and operator leg in `uuids` heard no more than [`SILENT_MS`] of silence.
fn assert_no_silence(sim: &Simulator, uuids: &[String]) {
    let truth = sim.ground_truth();
    let mut silent = Vec::new();
    for u in uuids {
        let r = record(&truth, u);
        if r.answered && r.dead_air_ms > SILENT_MS {
            silent.push(format!(
                "{u} ({}, {} ms, longest {} ms, hung up by {:?})",
                r.endpoint, r.dead_air_ms, r.max_dead_air_ms, r.hangup_by
            ));
        }
    }
    assert!(silent.is_empty(), "left in silence: {silent:?}");
}

/// Every leg that rang the operators' phones.
fn operator_legs(sim: &Simulator, exts: &[&str]) -> Vec<String> {
    exts.iter()
        .flat_map(|e| sim.agent_offers(e))
        .map(|o| o.uuid)
        .collect()
}

async fn outcome(env: &common::TestEnv, call: &str) -> Option<String> {
    acd_row(env, call).await.and_then(|r| r.get(3))
}

async fn ended_with(env: &common::TestEnv, call: &str, want: &str) -> bool {
    common::eventually(WAIT, || async {
        outcome(env, call).await.as_deref() == Some(want)
    })
    .await
}

async fn state_of(app: &App, login: &str) -> String {
    app.shared
        .acd
        .operators()
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.login == login)
        .map(|o| o.state)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_leaves_nobody_in_silence_and_the_next_process_takes_over_at_once() {
    let env = common::TestEnv::new().await;
    // 2001 talks 8 simulated s (1.6 s real); 2002 rings 4 s before answering and stays.
    let sim = Simulator::start(sim_config(&[
        ("2001", answers(500, Some(8000))),
        ("2002", answers(4000, None)),
    ]))
    .await
    .unwrap();
    let mut d = Proc::start(&env, &sim).await;
    for ext in ["2001", "2002"] {
        add_operator(&env, ext).await;
    }
    d.login("op2001").await;
    let talking = d.caller(&sim, "5551001");
    assert!(
        common::eventually(WAIT, || async { sim.bridged_to(&talking).is_some() }).await,
        "first caller never bridged"
    );
    d.login("op2002").await;
    let ringing = d.caller(&sim, "5551002");
    assert!(
        common::eventually(WAIT, || async { !sim.agent_offers("2002").is_empty() }).await,
        "2002 never rang"
    );
    // and one more, waiting: nobody is free. Killed once it is on its way to the queue's
    // park (a fixed pause raced the socket connection on a loaded machine).
    let waiting = d.caller(&sim, "5551003");
    assert!(
        common::eventually(WAIT, || async {
            sim.api_log()
                .iter()
                .any(|l| l.starts_with(&format!("sendmsg {waiting}")) && l.contains("transfer"))
        })
        .await,
        "the third caller never reached the queue"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;

    d.sigkill().await;
    // Down for 2 s (10 simulated): 2001 hangs up, 2002 answers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !sim.live_channels().contains(&talking),
        "the switch hangs the caller up when the operator does"
    );
    let leg2 = sim.agent_offers("2002")[0].uuid.clone();
    assert!(sim.agent_offers("2002")[0].answered);
    d.spawn().await;
    // The offer its predecessor left ringing is carried on: bridged, never rung again.
    assert!(
        common::eventually(Duration::from_secs(8), || async {
            sim.bridged_to(&ringing) == Some(leg2.clone())
        })
        .await,
        "the answered operator was never bridged to the caller:\n{}",
        d.log_tail(40)
    );
    assert_eq!(sim.agent_offers("2002").len(), 1);
    // The talk that ended unseen is closed; its operator takes the waiting caller.
    assert!(ended_with(&env, &talking, "answered").await);
    assert!(
        common::eventually(WAIT, || async { sim.bridged_to(&waiting).is_some() }).await,
        "the waiting caller was never answered:\n{}",
        d.log_tail(40)
    );
    assert_eq!(
        offers_on(&sim, "2001"),
        vec![talking.clone(), waiting.clone()]
    );
    for c in [&ringing, &waiting] {
        sim.hangup(c, "NORMAL_CLEARING");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut all = vec![talking, ringing, waiting];
    all.extend(operator_legs(&sim, &["2001", "2002"]));
    assert_no_silence(&sim, &all);
    d.sigkill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_between_the_transfer_and_the_park_the_switch_plays_the_music_itself() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config(&[("2001", answers(500, None))]))
        .await
        .unwrap();
    let mut d = Proc::start(&env, &sim).await;
    add_operator(&env, "2001").await;
    // Nobody logged in: the caller waits. Killed the moment its transfer to the queue's
    // park is sent, before the park (300 simulated ms later) lets contactd take it.
    let waiting = d.caller(&sim, "5551004");
    let sent = |sim: &Simulator| {
        sim.api_log()
            .iter()
            .any(|l| l.starts_with(&format!("sendmsg {waiting}")) && l.contains("transfer"))
    };
    let until = std::time::Instant::now() + WAIT;
    while !sent(&sim) && std::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(sent(&sim), "the caller never reached the queue");
    d.sigkill().await;
    assert!(
        !sim.api_log()
            .iter()
            .any(|l| l == &format!("api sched_del {waiting}")),
        "killed after contactd took the caller: nothing shown"
    );
    // Down for 2 s (10 simulated): the switch's scheduled music, 1–2.5 s after it was set.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let truth = sim.ground_truth();
    let r = record(&truth, &waiting);
    assert!(
        r.played.iter().any(|p| p.contains("moh")),
        "nobody played music to the caller: {r:?}"
    );
    assert!(
        r.dead_air_ms <= 2600,
        "{} ms of silence: {r:?}",
        r.dead_air_ms
    );
    // The next process takes the caller with no park seen: an operator who logs in is
    // bridged at once (not after the bridge's 5 s wait for the park).
    d.spawn().await;
    d.login("op2001").await;
    let logged_in = std::time::Instant::now();
    assert!(
        common::eventually(WAIT, || async { sim.bridged_to(&waiting).is_some() }).await,
        "the waiting caller was never answered:\n{}",
        d.log_tail(40)
    );
    let took = logged_in.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "bridged {took:?} after the login:\n{}",
        d.log_tail(40)
    );
    sim.hangup(&waiting, "NORMAL_CLEARING");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut all = vec![waiting];
    all.extend(operator_legs(&sim, &["2001"]));
    assert_no_silence(&sim, &all);
    d.sigkill().await;
}

/// Redis stopped (`cut`: connections closed, port refused) or frozen (`stall`) for 3 s
/// (15 simulated) while a caller talks; another arrives meanwhile.
async fn redis_away(frozen: bool) {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config(&[("1001", answers(500, Some(6000)))]))
        .await
        .unwrap();
    let (redis, url) = FaultProxy::for_url(&common::redis_url()).await;
    let app = app_via(&env, &sim, &url, "acd-redis").await;
    add_operators(&app, &[("1001", &[("general", 5)])]).await;
    login(&app, "1001").await;
    let first = caller(&sim, &app, "general", "5552001", None);
    assert!(common::eventually(WAIT, || async { sim.bridged_to(&first).is_some() }).await);

    if frozen {
        redis.stall();
    } else {
        redis.cut().await;
    }
    // arrives while Redis is away: taken, with music
    let second = caller(&sim, &app, "general", "5552002", None);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        sim.live_channels().contains(&second),
        "the caller who came meanwhile is still there"
    );
    // the operator hung up meanwhile (6 simulated s after answering): the caller with them
    assert!(!sim.live_channels().contains(&first));
    redis.restore().await;

    // The second caller is queued now and the operator, freed, takes them.
    assert!(
        common::eventually(WAIT, || async { sim.bridged_to(&second).is_some() }).await,
        "the caller who came while Redis was away was never answered"
    );
    assert_eq!(offers_on(&sim, "1001"), vec![first.clone(), second.clone()]);
    assert!(ended_with(&env, &first, "answered").await);
    sim.hangup(&second, "NORMAL_CLEARING");
    assert!(ended_with(&env, &second, "answered").await);
    let mut all = vec![first, second];
    all.extend(operator_legs(&sim, &["1001"]));
    assert_no_silence(&sim, &all);
    assert!(common::eventually(WAIT, || async { state_of(&app, "op1001").await == "ready" }).await);
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_callers_keep_their_music_and_routing_resumes() {
    redis_away(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_frozen_callers_keep_their_music_and_routing_resumes() {
    redis_away(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty_is_rebuilt_before_routing() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config(&[
        ("1001", answers(500, Some(3000))),
        ("1002", answers(500, None)),
        ("1003", answers(500, None)),
    ]))
    .await
    .unwrap();
    let (redis, url) = FaultProxy::for_url(&common::redis_url()).await;
    let app = app_via(&env, &sim, &url, "acd-empty").await;
    let ops: [(&str, &[(&str, i16)]); 3] = [
        ("1001", &[("general", 5)]),
        ("1002", &[("general", 5)]),
        ("1003", &[("general", 5)]),
    ];
    add_operators(&app, &ops).await;
    // 1003 talks (and stays), 1002 is on a break, 1001 too for now: two callers wait.
    login(&app, "1003").await;
    let talking = caller(&sim, &app, "general", "5553001", None);
    assert!(common::eventually(WAIT, || async { sim.bridged_to(&talking).is_some() }).await);
    for ext in ["1001", "1002"] {
        login(&app, ext).await;
        app.shared
            .acd
            .command(&format!("op{ext}"), OperatorCommand::Break("lunch".into()))
            .await
            .unwrap();
    }
    let w1 = caller(&sim, &app, "general", "5553002", None);
    assert!(common::eventually(WAIT, || async { waiting(&app, "general").await == 1 }).await);
    let w2 = caller(&sim, &app, "general", "5553003", None);
    assert!(common::eventually(WAIT, || async { waiting(&app, "general").await == 2 }).await);

    // Redis restarts without its data.
    redis.cut().await;
    env.live_state().await.purge_prefix().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restore().await;

    // Rebuilt: the callers in their old order, the talk, the breaks.
    assert!(
        common::eventually(WAIT, || async {
            waiting_calls(&app, "general").await == vec![w1.clone(), w2.clone()]
        })
        .await,
        "waiting callers not put back in order: {:?}",
        waiting_calls(&app, "general").await
    );
    assert!(
        common::eventually(WAIT, || async {
            state_of(&app, "op1003").await == "talking"
        })
        .await
    );
    assert_eq!(state_of(&app, "op1001").await, "break");
    assert_eq!(state_of(&app, "op1002").await, "break");
    // 1001 is back: the first caller first, then the second.
    app.shared
        .acd
        .command("op1001", OperatorCommand::Ready)
        .await
        .unwrap();
    assert!(common::eventually(WAIT, || async { sim.bridged_to(&w1).is_some() }).await);
    assert!(common::eventually(WAIT, || async { sim.bridged_to(&w2).is_some() }).await);
    assert_eq!(offers_on(&sim, "1001"), vec![w1.clone(), w2.clone()]);
    // The talk that went on through it all ends normally.
    let leg = sim.agent_offers("1003")[0].uuid.clone();
    sim.hangup(&leg, "NORMAL_CLEARING");
    assert!(ended_with(&env, &talking, "answered").await);
    assert!(common::eventually(WAIT, || async { state_of(&app, "op1003").await == "ready" }).await);
    sim.hangup(&w2, "NORMAL_CLEARING");
    let mut all = vec![talking, w1, w2];
    all.extend(operator_legs(&sim, &["1001", "1003"]));
    assert_no_silence(&sim, &all);
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_drop_while_the_phone_rings_carries_the_offer_on() {
    let env = common::TestEnv::new().await;
    // rings 3 simulated s (0.6 s real)
    let sim = Simulator::start(sim_config(&[("1001", answers(3000, None))]))
        .await
        .unwrap();
    let app = app_via(&env, &sim, &common::redis_url(), "acd-link").await;
    add_operators(&app, &[("1001", &[("general", 5)])]).await;
    login(&app, "1001").await;
    let c = caller(&sim, &app, "general", "5554001", None);
    assert!(common::eventually(WAIT, || async { !sim.agent_offers("1001").is_empty() }).await);
    sim.drop_esl_connections();
    assert!(
        common::eventually(WAIT, || async { sim.bridged_to(&c).is_some() }).await,
        "never bridged after the link came back"
    );
    assert_eq!(sim.agent_offers("1001").len(), 1, "rung once only");
    assert_eq!(wait_answered(&env, &c).await, "op1001");
    sim.hangup(&c, "NORMAL_CLEARING");
    let mut all = vec![c];
    all.extend(operator_legs(&sim, &["1001"]));
    assert_no_silence(&sim, &all);
    app.shutdown(Duration::from_secs(2)).await;
}

/// The link drops while an operator's phone rings, and once more after the offer was looked
/// up and found still ringing: the operator answers while the link is down the second time.
/// The offer is looked up again once the link is back and bridged then — the wait for the
/// ringing phone used to take the second loss for nothing, miss the answer lost with the
/// link, and hang the operator up at the ring timeout (65 s here) as a missed offer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_link_drop_while_the_resumed_offer_rings_is_looked_up_again() {
    let env = common::TestEnv::new().await;
    // rings 35 simulated s (7 s real): through both drops
    let sim = Simulator::start(sim_config(&[("1001", answers(35_000, None))]))
        .await
        .unwrap();
    // each drop keeps the link down 4 s; the phone may ring a minute
    let slow_link = |t: String| {
        t.replace(
            "reconnect_min_ms = 100\nreconnect_max_ms = 500",
            "reconnect_min_ms = 4000\nreconnect_max_ms = 4000",
        )
        .replace("ring_timeout_seconds = 10", "ring_timeout_seconds = 60")
    };
    let app = app_edited(&env, &sim, &common::redis_url(), "acd-link2", slow_link).await;
    add_operators(&app, &[("1001", &[("general", 5)])]).await;
    login(&app, "1001").await;
    let c = caller(&sim, &app, "general", "5554002", None);
    assert!(common::eventually(WAIT, || async { !sim.agent_offers("1001").is_empty() }).await);
    let rang = std::time::Instant::now();
    // the originate's reply is lost: the offer is looked up once the link is back (4 s)
    sim.drop_esl_connections();
    let n = sim.api_log_len();
    assert!(
        common::eventually(WAIT, || async { sim.api_log_len() > n }).await,
        "the link never came back"
    );
    // the look-up found the phone ringing and waits for its answer; the link drops again
    // and stays down over the answer (7 s after the ring began)
    tokio::time::sleep(Duration::from_secs(1)).await;
    sim.drop_esl_connections();
    let down_at = rang.elapsed();
    assert!(
        down_at < Duration::from_millis(6500),
        "the second drop came {down_at:?} into the ring, too late for this test's timing"
    );
    assert!(
        common::eventually(Duration::from_secs(20), || async {
            sim.bridged_to(&c).is_some()
        })
        .await,
        "never bridged after the second drop (the operator answered while the link was down)"
    );
    assert_eq!(sim.agent_offers("1001").len(), 1, "rung once only");
    assert_eq!(wait_answered(&env, &c).await, "op1001");
    sim.hangup(&c, "NORMAL_CLEARING");
    app.shutdown(Duration::from_secs(2)).await;
}

/// A stored callback's customer is dialed once the operator answered, and the control link
/// drops before the originate's reply: the customer answers while the link is down. The
/// call is looked up once the link is back and bridged to the waiting operator — it used to
/// count as not reached: the customer was left in the park's silence, the operator's leg
/// hung up, and the callback put back to be dialed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_customer_who_answers_while_the_link_is_down_is_bridged_once_back() {
    let env = common::TestEnv::new().await;
    let number = "84952223355";
    // the customer answers 1 s after the originate, while the link is down
    let sim = start_sim_with(&[("1001", answers(100, None))], answers(1000, None)).await;
    let setup = Setup {
        trunk: true,
        // the link back 2.5 s after the drop
        reconnect_ms: Some((2500, 2500)),
        ..Setup::default()
    };
    let app = start_app(&env, &sim, &setup).await;
    add_operators(&app, &[("1001", &[("general", 5)])]).await;
    env.pg()
        .await
        .execute(
            "INSERT INTO acd_callbacks (queue, number) VALUES ('general', $1)",
            &[&number],
        )
        .await
        .unwrap();
    let dialed = || {
        sim.api_log()
            .iter()
            .filter(|c| c.contains("originate") && c.contains(&format!("freetdm/1/a/{number}")))
            .count()
    };
    login(&app, "1001").await;
    assert!(
        common::eventually(WAIT, || async { dialed() == 1 }).await,
        "the customer was never dialed"
    );
    sim.drop_esl_connections();
    assert!(
        callback_reaches(&env, number, "general", "done").await,
        "callback not connected after the link came back: {:?}",
        callback_of(&env, number).await
    );
    let truth = sim.ground_truth();
    let customer = truth
        .iter()
        .find(|p| p.number.ends_with(number))
        .expect("the customer's call")
        .clone();
    assert!(
        customer.answered,
        "the customer never answered: {customer:?}"
    );
    assert!(
        sim.bridged_to(&customer.uuid).is_some(),
        "the customer was not bridged to the operator: {customer:?}"
    );
    assert_eq!(dialed(), 1, "the customer was dialed again");
    sim.hangup(&customer.uuid, "NORMAL_CLEARING");
    app.shutdown(Duration::from_secs(2)).await;
}

/// Redis stops just as the blind transfer's move reaches it (the operator has hung up; the
/// move into the target queue is lost on the way): the move is tried again until Redis is
/// back, and the caller reaches the specialist. A single try used to give up, and the
/// caller was hung up as if the operator had ended the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blind_transfer_whose_move_meets_a_stopped_redis_reaches_the_target() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config(&[
        ("1001", answers(500, None)),
        ("1009", answers(500, None)),
    ]))
    .await
    .unwrap();
    let (redis, url) = FaultProxy::for_url(&common::redis_url()).await;
    let app = app_via(&env, &sim, &url, "acd-blind-redis").await;
    add_operators(
        &app,
        &[("1001", &[("general", 5)]), ("1009", &[("specialists", 7)])],
    )
    .await;
    login(&app, "1001").await;
    login(&app, "1009").await;
    let c = caller(&sim, &app, "general", "5552101", None);
    assert!(common::eventually(WAIT, || async { sim.bridged_to(&c).is_some() }).await);
    let leg_a = sim.agent_offers("1001")[0].uuid.clone();
    app.shared
        .acd
        .transfer(&c, "specialists", TransferMode::Blind)
        .await
        .unwrap();
    // the move names the call and its target queue (the transfer's note, with the same
    // two, was written above)
    redis.cut_on(&[c.as_str(), "specialists"]);
    assert!(sim.hangup(&leg_a, "NORMAL_CLEARING"));
    assert!(
        common::eventually(WAIT, || async { redis.cut_on_fired() }).await,
        "the move never reached Redis"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        sim.live_channels().contains(&c),
        "the caller was hung up while Redis was away"
    );
    redis.restore().await;
    assert!(
        common::eventually(WAIT, || async {
            sim.agent_offers("1009")
                .first()
                .is_some_and(|o| sim.bridged_to(&c).as_deref() == Some(o.uuid.as_str()))
        })
        .await,
        "the caller never reached the specialist: bridged to {:?}",
        sim.bridged_to(&c)
    );
    sim.hangup(&c, "NORMAL_CLEARING");
    app.shutdown(Duration::from_secs(2)).await;
}
