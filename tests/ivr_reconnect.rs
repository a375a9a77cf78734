//! A trunk caller whose contactd goes away is kept by the switch (`dialplans/from-trunk.xml`,
//! context `contactd-reconnect`): a beep every 2 s while contactd is down, connected again
//! once it is back, and the menu starts over. Judged from the simulator's ground truth (1
//! real second is 5 simulated seconds):
//!
//! - contactd SIGKILLed while a caller hears the main menu: the caller is not hung up, hears
//!   the wait tone, hears the greeting again from the restarted contactd, presses 0 and
//!   reaches the operator;
//! - a caller who arrives while contactd is down waits for it and is served;
//! - with nobody listening, the switch gives up after 15 tries (about 30 simulated s) with
//!   NORMAL_TEMPORARY_FAILURE;
//! - contactd started while PostgreSQL is away holds a caller itself (`service::lobby`): the
//!   wait tone, then the IVR once the database answers;
//! - one held past `outbound.lobby_max_seconds` (Redis away) is told the service is
//!   unavailable and hung up; calls that end in the lobby are recorded (into the journal's
//!   spool, replayed once contactd has started);
//! - a call that reaches the running IVR while PostgreSQL is away has its row once it is back;
//! - a held caller whose contactd dies, and who hangs up in the switch's reconnect loop, is on
//!   record once contactd is up again;
//! - a manager on an office phone's short code (`dialplans/internal.xml`) is held the same
//!   way, and the service starts over.
use crate::acd_support;
use crate::common;

use std::time::Duration;

use acd_support::process::{add_operator, Proc};
use acd_support::*;
use common::faultproxy::FaultProxy;
use contactd::sim::{self, dialplan, CallerStep, PartyRecord, Simulator};

/// Simulated ms of silence nobody should hear (the fault matrix's rule).
const SILENT_MS: u64 = 5000;

fn sim_config() -> sim::SimConfig {
    sim::SimConfig {
        time_scale: 0.2,
        agents: [("2001".to_string(), answers(500, None))].into(),
        default_behaviour: answers(1000, None),
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        // a dropped outbound socket ends the socket application's park, as on a real switch
        socket_close_ends_park: true,
        ..Default::default()
    }
}

/// A caller on the main number who waits for the menu, presses 0 and waits; who starts
/// over when they hear the greeting again.
fn main_number_caller(sim: &Simulator, outbound: u16, number: &str) -> String {
    sim.inbound_call(sim::InboundCall {
        connect_to: format!("127.0.0.1:{outbound}"),
        destination: "250100".into(),
        caller_number: number.into(),
        trunk: Some("1".into()),
        vars: vec![
            ("contactd_entry".into(), "trunk".into()),
            ("contactd_code".into(), "main".into()),
            ("contactd_did".into(), "250100".into()),
        ],
        script: vec![
            CallerStep::WaitForAnswer,
            CallerStep::WaitForPlay("main_menu".into()),
            CallerStep::WaitMs(1500),
            CallerStep::Dtmf("0".into()),
        ],
        reconnects: true,
        start_over_on: Some("ivr_greeting".into()),
        ..Default::default()
    })
    .unwrap()
}

/// The main menu's operator choice open all day, every day.
fn ivr_open() -> String {
    let days: String = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| format!("{d} = \"00:00-24:00\"\n"))
        .collect();
    format!("[ivr]\noperator = \"queue:general\"\n[ivr.hours]\n{days}")
}

fn record(sim: &Simulator, uuid: &str) -> PartyRecord {
    sim.ground_truth()
        .into_iter()
        .find(|r| r.uuid == uuid)
        .unwrap_or_else(|| panic!("no ground truth for {uuid}"))
}

/// With contactd gone, the switch sends `call` to `contactd-reconnect` and holds it there:
/// not hung up, hearing the wait tone.
async fn held_by_the_switch(sim: &Simulator, call: &str) {
    let first = format!("reconnect-x@{}", dialplan::CONTACTD_RECONNECT);
    assert!(
        common::eventually(WAIT, || async {
            record(sim, call).transfers.contains(&first)
        })
        .await,
        "never sent to contactd-reconnect: {:?}",
        record(sim, call)
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let r = record(sim, call);
    assert_eq!(r.hangup_cause, None, "the switch hung the caller up: {r:?}");
    assert!(
        r.played.iter().any(|p| p == dialplan::WAIT_TONE),
        "no wait tone while contactd was down: {r:?}"
    );
}

fn times_heard(r: &PartyRecord, prompt: &str) -> usize {
    r.played.iter().filter(|p| p.contains(prompt)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_the_menu_the_switch_holds_the_caller_and_connects_again() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config()).await.unwrap();
    let mut d = Proc::start_with(&env, &sim, &ivr_open()).await;
    add_operator(&env, "2001").await;
    d.login("op2001").await;
    let caller = main_number_caller(&sim, d.outbound, "5551101");
    assert!(
        common::eventually(WAIT, || async {
            times_heard(&record(&sim, &caller), "main_menu") > 0
        })
        .await,
        "the caller never heard the main menu:\n{}",
        d.log_tail(30)
    );
    d.sigkill().await;
    // The menu that was playing runs to its end (the socket's park ends after it), then
    // the switch holds the caller with the wait tone.
    held_by_the_switch(&sim, &caller).await;
    assert!(sim.bridged_to(&caller).is_none());

    d.spawn().await;
    assert!(
        common::eventually(WAIT, || async { sim.bridged_to(&caller).is_some() }).await,
        "the caller never reached the operator after the restart: {:?}\n{}",
        record(&sim, &caller),
        d.log_tail(40)
    );
    let r = record(&sim, &caller);
    assert_eq!(
        times_heard(&r, "ivr_greeting"),
        2,
        "the menu did not start over once: {r:?}"
    );
    assert!(
        r.max_dead_air_ms <= SILENT_MS,
        "{} ms of silence at once: {r:?}",
        r.max_dead_air_ms
    );
    sim.hangup(&caller, "NORMAL_CLEARING");
    d.sigkill().await;
}

/// A manager on an office phone (`dialplans/internal.xml`, short code 301) whose contactd
/// is SIGKILLed while they are asked for their PIN: held by the switch as a trunk caller is,
/// and the service starts over with the restarted contactd (PIN, then the recording's
/// instructions), instead of a cut-off in the middle of recording a notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_on_a_short_code_is_held_through_a_restart_and_starts_over() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config()).await.unwrap();
    let manager = "[managers.boss]\nphone = \"201\"\npin = \"4321\"\n";
    let mut d = Proc::start_with(&env, &sim, manager).await;
    let call = sim
        .inbound_call(sim::InboundCall {
            connect_to: format!("127.0.0.1:{}", d.outbound),
            caller_number: "201".into(),
            destination: "301".into(),
            channel_name: Some("sofia/internal/201@192.0.2.2".into()),
            vars: vec![
                ("contactd_entry".into(), "service".into()),
                ("contactd_code".into(), "301".into()),
            ],
            script: vec![
                CallerStep::WaitForAnswer,
                CallerStep::WaitForPlay("enter_pin".into()),
                CallerStep::WaitMs(1500),
                CallerStep::Dtmf("4321#".into()),
            ],
            reconnects: true,
            start_over_on: Some("enter_pin".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(
        common::eventually(WAIT, || async {
            times_heard(&record(&sim, &call), "enter_pin") > 0
        })
        .await,
        "the manager was never asked for their PIN:\n{}",
        d.log_tail(30)
    );
    d.sigkill().await;
    held_by_the_switch(&sim, &call).await;

    d.spawn().await;
    assert!(
        common::eventually(WAIT, || async {
            let r = record(&sim, &call);
            times_heard(&r, "enter_pin") >= 2 && times_heard(&r, "attention_recording") >= 1
        })
        .await,
        "the service did not start over: {:?}\n{}",
        record(&sim, &call),
        d.log_tail(40)
    );
    let r = record(&sim, &call);
    assert_eq!(r.hangup_cause, None, "{r:?}");
    assert!(
        r.max_dead_air_ms <= SILENT_MS,
        "{} ms of silence at once: {r:?}",
        r.max_dead_air_ms
    );
    sim.hangup(&call, "NORMAL_CLEARING");
    d.sigkill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_finds_contactd_down_waits_for_it() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config()).await.unwrap();
    let mut d = Proc::start_with(&env, &sim, &ivr_open()).await;
    add_operator(&env, "2001").await;
    d.login("op2001").await;
    d.sigkill().await;
    let caller = main_number_caller(&sim, d.outbound, "5551102");
    // 2 s (10 simulated: about 5 tries) before contactd is back
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = record(&sim, &caller);
    assert_eq!(r.hangup_cause, None, "the switch hung the caller up: {r:?}");
    assert!(
        r.transfers.len() >= 3,
        "fewer than 3 tries in 10 simulated s: {r:?}"
    );
    d.spawn().await;
    assert!(
        common::eventually(WAIT, || async { sim.bridged_to(&caller).is_some() }).await,
        "the caller was never served: {:?}\n{}",
        record(&sim, &caller),
        d.log_tail(40)
    );
    assert_eq!(times_heard(&record(&sim, &caller), "ivr_greeting"), 1);
    sim.hangup(&caller, "NORMAL_CLEARING");
    d.sigkill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nobody_listening_the_switch_gives_up_after_fifteen_tries() {
    let sim = Simulator::start(sim_config()).await.unwrap();
    // a port nobody listens on
    let port = common::smtp::free_port();
    let caller = main_number_caller(&sim, port, "5551103");
    assert!(
        common::eventually(Duration::from_secs(15), || async {
            record(&sim, &caller).hangup_cause.is_some()
        })
        .await,
        "still up after 75 simulated s: {:?}",
        record(&sim, &caller)
    );
    let r = record(&sim, &caller);
    assert_eq!(
        r.hangup_cause.as_deref(),
        Some("NORMAL_TEMPORARY_FAILURE"),
        "{r:?}"
    );
    let tries: Vec<String> = (1..=16)
        .map(|n| {
            format!(
                "reconnect-{}@{}",
                "x".repeat(n),
                dialplan::CONTACTD_RECONNECT
            )
        })
        .collect();
    assert_eq!(r.transfers, tries, "{r:?}");
    // 15 tones of 2 s: about 30 simulated s from the call's start to its end
    let lasted = r.ended_at_ms.unwrap() - r.dialed_at_ms;
    assert!(
        (29_000..40_000).contains(&lasted),
        "gave up after {lasted} simulated ms: {r:?}"
    );
}

/// contactd started with a store behind `proxy`, cut: its outbound socket listening, its
/// stores not reachable; `lobby_max_seconds` as given.
async fn start_without(
    env: &common::TestEnv,
    sim: &Simulator,
    url: &str,
    lobby_max_seconds: u64,
) -> (Proc, FaultProxy) {
    let (proxy, via) = FaultProxy::for_url(url).await;
    proxy.cut().await;
    let mut d = Proc::configure(env, sim, &ivr_open(), |t| {
        t.replace(url, &via).replacen(
            "\n[http]\n",
            &format!("\nlobby_max_seconds = {lobby_max_seconds}\n[http]\n"),
            1,
        )
    });
    d.spawn_unready();
    assert!(
        common::eventually(WAIT, || async {
            d.log_tail(40)
                .contains("outbound socket server accepting calls")
        })
        .await,
        "the outbound socket never opened:\n{}",
        d.log_tail(40)
    );
    (d, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_while_postgres_is_away_contactd_holds_the_caller_and_then_serves_them() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config()).await.unwrap();
    let (mut d, pg) = start_without(&env, &sim, env.db_url(), 120).await;
    let caller = main_number_caller(&sim, d.outbound, "5551104");
    // another one gives up while held: recorded once PostgreSQL is back
    let gave_up = main_number_caller(&sim, d.outbound, "5551106");
    // 3 s (15 simulated): contactd holds the caller, answered, with the wait tone
    assert!(
        common::eventually(WAIT, || async {
            times_heard(&record(&sim, &caller), dialplan::WAIT_TONE) >= 5
        })
        .await,
        "no wait tone from contactd: {:?}\n{}",
        record(&sim, &caller),
        d.log_tail(30)
    );
    let r = record(&sim, &caller);
    assert!(r.answered, "{r:?}");
    assert_eq!(r.hangup_cause, None, "{r:?}");
    assert!(
        r.transfers.is_empty(),
        "the switch's reconnect loop held the caller, not contactd: {r:?}"
    );
    assert_eq!(times_heard(&r, "ivr_greeting"), 0, "{r:?}");
    assert!(sim.hangup(&gave_up, "NORMAL_CLEARING"));

    pg.restore().await;
    d.wait_healthy().await;
    add_operator(&env, "2001").await;
    d.login("op2001").await;
    assert!(
        common::eventually(WAIT, || async { sim.bridged_to(&caller).is_some() }).await,
        "the held caller never reached the operator: {:?}\n{}",
        record(&sim, &caller),
        d.log_tail(40)
    );
    let r = record(&sim, &caller);
    assert_eq!(times_heard(&r, "ivr_greeting"), 1, "{r:?}");
    assert!(
        !r.transfers
            .iter()
            .any(|t| t.ends_with(dialplan::CONTACTD_RECONNECT)),
        "{r:?}"
    );
    assert!(
        r.max_dead_air_ms <= SILENT_MS,
        "{} ms of silence at once: {r:?}",
        r.max_dead_air_ms
    );
    // the journal wrote the held call that ended in the lobby
    row_comes(&env, &d, &gave_up, |r| *r == row("lobby", "party", true)).await;
    sim.hangup(&caller, "NORMAL_CLEARING");
    d.sigkill().await;
}

/// `(flow_step, hungup_by, entry, ended)` of a call's row.
type Row = (String, String, String, bool);

/// A main-number call's row with `step` and `by`.
fn row(step: &str, by: &str, ended: bool) -> Row {
    (step.into(), by.into(), "trunk:main".into(), ended)
}

/// Waits until the call's row is there and `ok` holds for it; fails with the row and
/// contactd's log.
async fn row_comes(env: &common::TestEnv, d: &Proc, uuid: &str, ok: impl Fn(&Row) -> bool) {
    assert!(
        common::eventually(WAIT, || async {
            call_row(env, uuid).await.is_some_and(|r| ok(&r))
        })
        .await,
        "{:?}\n{}",
        call_row(env, uuid).await,
        d.log_tail(30)
    );
}

async fn call_row(env: &common::TestEnv, uuid: &str) -> Option<Row> {
    let row = env
        .pg()
        .await
        .query_opt(
            "SELECT flow_step, hungup_by, entry, ended_at IS NOT NULL FROM calls
             WHERE uuid = $1::text::uuid",
            &[&uuid],
        )
        .await
        .unwrap()?;
    Some((
        row.get::<_, Option<String>>(0).unwrap_or_default(),
        row.get::<_, Option<String>>(1).unwrap_or_default(),
        row.get::<_, Option<String>>(2).unwrap_or_default(),
        row.get(3),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_held_past_the_lobby_limit_is_told_and_let_go() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config()).await.unwrap();
    // Redis away for good; a limit of 20 (simulated) s, 4 real
    let (mut d, redis) = start_without(&env, &sim, &common::redis_url(), 20).await;
    let caller = main_number_caller(&sim, d.outbound, "5551105");
    assert!(
        common::eventually(WAIT, || async {
            record(&sim, &caller).hangup_cause.is_some()
        })
        .await,
        "still held: {:?}\n{}",
        record(&sim, &caller),
        d.log_tail(30)
    );
    let r = record(&sim, &caller);
    assert_eq!(r.hangup_cause.as_deref(), Some("NORMAL_CLEARING"), "{r:?}");
    assert_ne!(r.hangup_by.as_deref(), Some("caller"), "{r:?}");
    assert_eq!(
        r.played.last().map(|p| p.contains("service_unavailable")),
        Some(true),
        "not told why: {r:?}"
    );
    assert!(times_heard(&r, dialplan::WAIT_TONE) >= 8, "{r:?}");
    let lasted = r.ended_at_ms.unwrap() - r.dialed_at_ms;
    assert!(
        (20_000..30_000).contains(&lasted),
        "let go after {lasted} simulated ms: {r:?}"
    );
    assert!(
        r.max_dead_air_ms <= SILENT_MS,
        "{} ms of silence at once: {r:?}",
        r.max_dead_air_ms
    );
    // written into the spool while contactd waited, replayed once it started
    assert_eq!(call_row(&env, &caller).await, None);
    redis.restore().await;
    d.wait_healthy().await;
    row_comes(&env, &d, &caller, |r| *r == row("lobby", "contactd", true)).await;
    d.sigkill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_the_ivr_while_postgres_is_away_is_recorded_once_it_is_back() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config()).await.unwrap();
    let (pg, via) = FaultProxy::for_url(env.db_url()).await;
    let mut d = Proc::configure(&env, &sim, &ivr_open(), |t| t.replace(env.db_url(), &via));
    d.spawn().await;
    pg.cut().await;
    let caller = sim
        .inbound_call(sim::InboundCall {
            connect_to: format!("127.0.0.1:{}", d.outbound),
            destination: "250100".into(),
            caller_number: "5551107".into(),
            trunk: Some("1".into()),
            vars: vec![
                ("contactd_entry".into(), "trunk".into()),
                ("contactd_code".into(), "main".into()),
            ],
            script: vec![
                CallerStep::WaitForAnswer,
                CallerStep::WaitForPlay("main_menu".into()),
                CallerStep::Hangup,
            ],
            reconnects: true,
            ..Default::default()
        })
        .unwrap();
    assert!(
        common::eventually(WAIT, || async {
            record(&sim, &caller).hangup_cause.is_some()
        })
        .await,
        "{:?}",
        record(&sim, &caller)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    pg.restore().await;
    row_comes(&env, &d, &caller, |(_, by, entry, ended)| {
        by == "party" && entry == "trunk:main" && *ended
    })
    .await;
    d.sigkill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_caller_who_hangs_up_after_contactd_died_is_on_record() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config()).await.unwrap();
    let (mut d, pg) = start_without(&env, &sim, env.db_url(), 120).await;
    let caller = main_number_caller(&sim, d.outbound, "5551108");
    assert!(
        common::eventually(WAIT, || async {
            times_heard(&record(&sim, &caller), dialplan::WAIT_TONE) >= 2
        })
        .await,
        "never held: {:?}",
        record(&sim, &caller)
    );
    d.sigkill().await;
    let first = format!("reconnect-x@{}", dialplan::CONTACTD_RECONNECT);
    assert!(
        common::eventually(WAIT, || async {
            record(&sim, &caller).transfers.contains(&first)
        })
        .await,
        "never back with the switch: {:?}",
        record(&sim, &caller)
    );
    assert!(sim.hangup(&caller, "NORMAL_CLEARING"));
    pg.restore().await;
    d.spawn().await;
    row_comes(&env, &d, &caller, |(step, _, entry, ended)| {
        step == "lobby" && entry == "trunk:main" && *ended
    })
    .await;
    d.sigkill().await;
}
