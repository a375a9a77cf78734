//! The ACD's other paths end to end: attended transfer (completed and cancelled), the
//! operators' feature codes from their phones, position announcements, overflow after the
//! maximum wait, the IVR's hand-over with the screen pop over SSE, and a restart while an
//! operator talks.

use crate::acd_support;
use crate::common;

use std::time::Duration;

use acd_support::*;
use contactd::service::acd::TransferMode;
use contactd::sim::{self, CallerStep};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The `sendmsg … execute` lines the switch received for `uuid`.
fn executed(sim: &sim::Simulator, uuid: &str) -> Vec<String> {
    sim.api_log()
        .into_iter()
        .filter(|l| l.starts_with(&format!("sendmsg {uuid}")))
        .collect()
}

async fn state_of(app: &contactd::app::App, login: &str) -> String {
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

async fn attended_setup() -> (
    common::TestEnv,
    sim::Simulator,
    contactd::app::App,
    String,
    String,
) {
    attended_setup_with(Setup::default()).await
}

/// Operators 1001 (`general`) and 1009 (`specialists`) logged in; a caller talks with 1001:
/// the environment, the switch, contactd, the caller's uuid and 1001's leg.
async fn talking_setup(
    setup: Setup,
) -> (
    common::TestEnv,
    sim::Simulator,
    contactd::app::App,
    String,
    String,
) {
    let env = common::TestEnv::new().await;
    let agents = [("1001", answers(100, None)), ("1009", answers(100, None))];
    let (sim, app) = start(
        &env,
        &agents,
        &setup,
        &[("1001", &[("general", 5)]), ("1009", &[("specialists", 7)])],
    )
    .await;
    login(&app, "1001").await;
    login(&app, "1009").await;
    let c = caller(&sim, &app, "general", "5550061", None);
    assert_eq!(wait_answered(&env, &c).await, "op1001");
    let leg_a = sim.agent_offers("1001")[0].uuid.clone();
    assert!(common::eventually(WAIT, || async { sim.bridged_to(&c) == Some(leg_a.clone()) }).await);
    (env, sim, app, c, leg_a)
}

/// op1001 (`leg_a`) starts an attended transfer of `c` to the specialists; returns the
/// specialist's leg once the two operators are bridged.
async fn start_consult(
    sim: &sim::Simulator,
    app: &contactd::app::App,
    c: &str,
    leg_a: &str,
) -> String {
    app.shared
        .acd
        .transfer(c, "specialists", TransferMode::Attended)
        .await
        .unwrap();
    assert!(common::eventually(WAIT, || async { !sim.agent_offers("1009").is_empty() }).await);
    let leg_s = sim.agent_offers("1009")[0].uuid.clone();
    assert!(
        common::eventually(WAIT, || async {
            sim.bridged_to(leg_a).as_deref() == Some(leg_s.as_str())
        })
        .await,
        "the operators never consulted"
    );
    leg_s
}

async fn attended_setup_with(
    setup: Setup,
) -> (
    common::TestEnv,
    sim::Simulator,
    contactd::app::App,
    String,
    String,
) {
    let (env, sim, app, c, leg_a) = talking_setup(setup).await;
    // The specialist answers and talks with the first operator; the caller is on hold.
    start_consult(&sim, &app, &c, &leg_a).await;
    assert!(
        common::eventually(WAIT, || async { sim.bridged_to(&c).is_none() }).await,
        "operator consulting the specialist, caller on hold"
    );
    assert!(
        common::eventually(WAIT, || async {
            executed(&sim, &c)
                .iter()
                .filter(|l| l.contains("local_stream://moh"))
                .count()
                >= 2
        })
        .await
    );
    (env, sim, app, c, leg_a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attended_transfer_completes_when_the_first_operator_hangs_up() {
    let (env, sim, app, c, leg_a) = attended_setup().await;
    let leg_s = sim.agent_offers("1009")[0].uuid.clone();
    assert!(sim.hangup(&leg_a, "NORMAL_CLEARING"));
    assert!(
        common::eventually(WAIT, || async { sim.bridged_to(&c) == Some(leg_s.clone()) }).await,
        "caller bridged to the specialist"
    );
    assert!(
        common::eventually(WAIT, || async {
            answered_by(&env, &c).await.as_deref() == Some("op1009")
        })
        .await
    );
    let row = acd_row(&env, &c).await.unwrap();
    assert_eq!(
        row.get::<_, Option<String>>(4).as_deref(),
        Some("specialists")
    );
    assert!(common::eventually(WAIT, || async { state_of(&app, "op1001").await == "ready" }).await);
    assert_eq!(state_of(&app, "op1009").await, "talking");
    // The call ends when the specialist hangs up: the caller is released, the record closed.
    assert!(sim.hangup(&leg_s, "NORMAL_CLEARING"));
    assert!(
        common::eventually(WAIT, || async {
            acd_row(&env, &c)
                .await
                .unwrap()
                .get::<_, Option<String>>(3)
                .as_deref()
                == Some("answered")
        })
        .await
    );
    assert!(common::eventually(WAIT, || async { sim.channel_var(&c, "uuid").is_none() }).await);
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attended_transfer_cancelled_when_the_target_hangs_up() {
    let (env, sim, app, c, leg_a) = attended_setup().await;
    let leg_s = sim.agent_offers("1009")[0].uuid.clone();
    assert!(sim.hangup(&leg_s, "NORMAL_CLEARING"));
    assert!(
        common::eventually(WAIT, || async { sim.bridged_to(&c) == Some(leg_a.clone()) }).await,
        "caller back with the first operator"
    );
    assert_eq!(answered_by(&env, &c).await.as_deref(), Some("op1001"));
    assert_eq!(state_of(&app, "op1001").await, "talking");
    assert!(common::eventually(WAIT, || async { state_of(&app, "op1009").await == "ready" }).await);
    app.shutdown(Duration::from_secs(2)).await;
}

/// The specialist hangs up while the control link is down (once, redialed 8 s later): the
/// consult's end is found once the link is back, and the caller returns to the first
/// operator then. The consult used to wait for a hang-up event lost with the link, for
/// ever, with the caller on hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attended_transfer_cancelled_while_the_link_is_down_is_seen_once_it_is_back() {
    let (env, sim, app, c, leg_a) = attended_setup_with(Setup {
        reconnect_ms: Some((8000, 8000)),
        ..Setup::default()
    })
    .await;
    let leg_s = sim.agent_offers("1009")[0].uuid.clone();
    sim.drop_esl_connections();
    let link = app.shared.acd.link().clone();
    assert!(
        common::eventually(WAIT, || async {
            link.status() != contactd::esl::control::LinkStatus::Connected
        })
        .await
    );
    assert!(sim.hangup(&leg_s, "NORMAL_CLEARING"));
    assert!(
        common::eventually(Duration::from_secs(20), || async {
            sim.bridged_to(&c) == Some(leg_a.clone())
        })
        .await,
        "caller not back with the first operator within 20 s of the drop"
    );
    assert_eq!(answered_by(&env, &c).await.as_deref(), Some("op1001"));
    assert!(
        common::eventually(WAIT, || async {
            state_of(&app, "op1001").await == "talking"
        })
        .await
    );
    app.shutdown(Duration::from_secs(2)).await;
}

/// The first operator hangs up (`leg_a`): the caller must end with the specialist
/// (`leg_s`, op1009), rung once only.
async fn first_leaves_caller_to_specialist(
    env: &common::TestEnv,
    sim: &sim::Simulator,
    c: &str,
    leg_a: &str,
    leg_s: &str,
) {
    assert!(sim.hangup(leg_a, "NORMAL_CLEARING"));
    assert!(
        common::eventually(WAIT, || async {
            sim.bridged_to(c).as_deref() == Some(leg_s)
        })
        .await,
        "caller not handed over to the specialist"
    );
    assert!(
        common::eventually(WAIT, || async {
            answered_by(env, c).await.as_deref() == Some("op1009")
        })
        .await,
        "the call's record does not name the specialist"
    );
    assert_eq!(
        sim.agent_offers("1009").len(),
        1,
        "the specialist rung once only"
    );
}

/// The control link drops at the consult's bridge (the first operator to the specialist who
/// answered): the bridge lost on the way (`executed` false), or made with its reply lost.
/// Once the link is back the consult goes on: the operator talks with the specialist, the
/// caller holds, and the first operator's hang-up hands the caller over. The consult used to
/// count either as a failed bridge: the transfer was dropped, and with a bridge made the
/// caller stayed on hold with nobody following the consult.
async fn consult_bridge_dropped(executed: bool) {
    let (env, sim, app, c, leg_a) = talking_setup(Setup::default()).await;
    sim.drop_esl_on_command("uuid_bridge", executed);
    let leg_s = start_consult(&sim, &app, &c, &leg_a).await;
    assert!(
        common::eventually(WAIT, || async { sim.bridged_to(&c).is_none() }).await,
        "the caller not on hold after the drop (executed: {executed})"
    );
    // The first operator hangs up once contactd has sent the bridge again (during the outage
    // itself: `attended_transfer_whose_first_operator_hangs_up_during_the_outage_goes_to_the_target`).
    let consult = format!("uuid_bridge {leg_a} {leg_s}");
    assert!(
        common::eventually(WAIT, || async {
            sim.api_log()
                .iter()
                .filter(|l| l.contains(&consult))
                .count()
                == 1 + usize::from(executed)
        })
        .await,
        "the consult bridge was not sent once the link was back"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    first_leaves_caller_to_specialist(&env, &sim, &c, &leg_a, &leg_s).await;
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attended_transfer_whose_consult_bridge_is_lost_on_a_dropping_link_goes_on() {
    consult_bridge_dropped(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attended_transfer_whose_consult_bridge_reply_is_lost_goes_on() {
    consult_bridge_dropped(true).await;
}

/// The link drops while the specialist's phone rings for a consult (the originate's reply
/// lost with it): the consult's offer is looked up once the link is back and carried on. It
/// used to be looked up as a caller's offer, its consult item taken for a caller gone: the
/// specialist's phone was hung up and the consult lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attended_transfer_whose_consult_rings_through_a_link_drop_goes_on() {
    let env = common::TestEnv::new().await;
    // the specialist's phone rings 0.7 s (the ring timeout, 2 whole seconds of the
    // switch's clock, may end a ring after 1 s)
    let agents = [("1001", answers(100, None)), ("1009", answers(700, None))];
    let (sim, app) = start(
        &env,
        &agents,
        &Setup::default(),
        &[("1001", &[("general", 5)]), ("1009", &[("specialists", 7)])],
    )
    .await;
    login(&app, "1001").await;
    login(&app, "1009").await;
    let c = caller(&sim, &app, "general", "5550062", None);
    assert_eq!(wait_answered(&env, &c).await, "op1001");
    let leg_a = sim.agent_offers("1001")[0].uuid.clone();
    app.shared
        .acd
        .transfer(&c, "specialists", TransferMode::Attended)
        .await
        .unwrap();
    assert!(common::eventually(WAIT, || async { !sim.agent_offers("1009").is_empty() }).await);
    sim.drop_esl_connections();
    let leg_s = sim.agent_offers("1009")[0].uuid.clone();
    assert!(
        common::eventually(WAIT, || async {
            sim.bridged_to(&leg_a) == Some(leg_s.clone())
        })
        .await,
        "the operators never consulted after the drop"
    );
    first_leaves_caller_to_specialist(&env, &sim, &c, &leg_a, &leg_s).await;
    app.shutdown(Duration::from_secs(2)).await;
}

/// The first operator hangs up while the link is down, after the switch made the consult
/// bridge whose reply was lost: once the link is back the caller goes to the target (the
/// caller's own task, looking at its talk after the drop, must not end the call meanwhile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attended_transfer_whose_first_operator_hangs_up_during_the_outage_goes_to_the_target() {
    let (env, sim, app, c, leg_a) = talking_setup(Setup {
        reconnect_ms: Some((1500, 1500)),
        ..Setup::default()
    })
    .await;
    sim.drop_esl_on_command("uuid_bridge", true);
    let leg_s = start_consult(&sim, &app, &c, &leg_a).await;
    // the link is down for 1.5 s from the bridge on
    first_leaves_caller_to_specialist(&env, &sim, &c, &leg_a, &leg_s).await;
    // a while later the caller and the specialist still talk
    tokio::time::sleep(Duration::from_secs(2)).await;
    let live = sim.live_channels();
    assert!(
        live.contains(&c),
        "the caller was hung up after the transfer"
    );
    assert!(live.contains(&leg_s), "the specialist was hung up");
    assert_eq!(sim.bridged_to(&c), Some(leg_s.clone()));
    app.shutdown(Duration::from_secs(2)).await;
}

/// An operator dials a feature code from their own phone.
fn feature_code(sim: &sim::Simulator, app: &contactd::app::App, phone: &str, code: &str) -> String {
    sim.inbound_call(sim::InboundCall {
        connect_to: app.outbound_addr.to_string(),
        destination: code.into(),
        caller_number: phone.into(),
        channel_name: Some(format!("sofia/internal/{phone}@10.0.0.1")),
        vars: vec![
            ("contactd_entry".into(), "operator".into()),
            ("contactd_code".into(), code.into()),
        ],
        script: vec![CallerStep::WaitForAnswer],
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feature_codes_change_the_state_and_it_is_logged() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start_one_operator(&env, &Setup::default()).await;
    for (code, want, prompt) in [
        ("*21", "ready", "operator_ready"),
        ("*23", "break", "operator_break"),
        ("*24", "ready", "operator_ready"),
        ("*22", "logged_out", "operator_logged_out"),
    ] {
        let call = feature_code(&sim, &app, "1001", code);
        assert!(
            common::eventually(WAIT, || async { state_of(&app, "op1001").await == want }).await,
            "{code} → {want}"
        );
        assert!(
            common::eventually(WAIT, || async {
                executed(&sim, &call)
                    .iter()
                    .any(|l| l.contains(&format!("{prompt}.wav")))
            })
            .await
        );
    }
    // A phone that belongs to nobody is told so and changes nothing.
    let stranger = feature_code(&sim, &app, "1777", "*21");
    assert!(
        common::eventually(WAIT, || async {
            executed(&sim, &stranger)
                .iter()
                .any(|l| l.contains("operator_unknown.wav"))
        })
        .await
    );
    let states: Vec<(String, String)> = env
        .pg()
        .await
        .query(
            "SELECT s.state, s.reason FROM operator_states s JOIN operators o ON o.id = s.operator
             WHERE o.login = 'op1001' ORDER BY s.since, s.id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let names: Vec<&str> = states.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(names, ["ready", "break", "ready", "logged_out"]);
    assert_eq!(states[1].1, "break");
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_callers_hear_position_and_overflow_after_the_maximum_wait() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(
        &env,
        &[("1001", answers(100, None)), ("1002", answers(100, None))],
        &Setup {
            max_wait: 3,
            ..Setup::default()
        },
        &[("1001", &[("meter", 5)]), ("1002", &[("general", 5)])],
    )
    .await;
    // Nobody for meter questions: the caller hears their place, then overflows to general.
    let c = caller(&sim, &app, "meter", "5550071", None);
    assert!(
        common::eventually(WAIT, || async {
            let lines = executed(&sim, &c);
            lines.iter().any(|l| l.contains("acd_position.wav"))
                && common::said(&lines, "n1")
                && lines.iter().any(|l| l.contains("acd_wait_minutes.wav"))
                // "the expected wait is N minute(s)", agreeing with N
                && lines
                    .iter()
                    .filter_map(|l| contactd::core::speech::words_in(l))
                    .any(|w| w.ends_with(" minute_1") || w.ends_with(" minute_5"))
        })
        .await,
        "position announced"
    );
    assert!(common::eventually(WAIT, || async { waiting(&app, "general").await == 1 }).await);
    assert_eq!(waiting(&app, "meter").await, 0);
    login(&app, "1002").await;
    assert_eq!(wait_answered(&env, &c).await, "op1002");
    let row = acd_row(&env, &c).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "meter");
    assert_eq!(row.get::<_, Option<String>>(4).as_deref(), Some("general"));
    assert!(
        row.get::<_, Option<f64>>(6).unwrap() >= 3.0,
        "waited at least the maximum"
    );
    app.shutdown(Duration::from_secs(2)).await;
}

/// Reads one Server-Sent Event named `offer` from the operator's stream.
async fn read_offer(
    addr: std::net::SocketAddr,
    login: &str,
    token: &str,
) -> tokio::task::JoinHandle<String> {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /api/v1/operators/{login}/events HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    tokio::spawn(async move {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).await.unwrap();
            assert!(n > 0, "stream closed: {}", String::from_utf8_lossy(&buf));
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(i) = text.find("event: offer") {
                if let Some(j) = text[i..].find("\n\n") {
                    return text[i..i + j].to_string();
                }
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ivr_hand_over_pops_the_customer_card_on_the_operators_screen() {
    let env = common::TestEnv::new().await;
    let sim = start_sim(&[("1001", answers(300, None))]).await;
    let mut text = env.config_toml(sim.esl_addr(), "ClueCon", &[]);
    text.push_str(&acd_toml(6, 0));
    text.push_str(
        "[ivr]\noperator = \"queue:general\"\n[ivr.hours]\nmon = \"00:00-24:00\"\ntue = \"00:00-24:00\"\n\
         wed = \"00:00-24:00\"\nthu = \"00:00-24:00\"\nfri = \"00:00-24:00\"\nsat = \"00:00-24:00\"\nsun = \"00:00-24:00\"\n",
    );
    std::fs::create_dir_all("/tmp/contactd-test-recordings").unwrap();
    let cfg = contactd::config::Config::from_toml(&text).unwrap();
    cfg.validate().unwrap();
    let app = contactd::app::App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    add_operators(&app, &[("1001", &[("general", 5)])]).await;
    env.pg()
        .await
        .batch_execute(
            "INSERT INTO accounts (number, holder, phone, balance_minor)
             VALUES ('100001', 'Ivanova A.P.', '+74951112233', -12345)",
        )
        .await
        .unwrap();
    // The operator's desktop holds their own token: it opens their stream, not another's.
    let own = contactd::http::auth::operator_token("test-token-0123456789", "op1001");
    let other = contactd::http::auth::operator_token("test-token-0123456789", "op1002");
    let refused = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!(
            "http://{}/api/v1/operators/op1001/events",
            app.http_addr
        ))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let sse = read_offer(app.http_addr, "op1001", &own).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    login(&app, "1001").await;
    // Main number, menu: 0 for an operator.
    let c = trunk_call(
        &sim,
        &app,
        "main",
        "+74951112233",
        vec![
            CallerStep::WaitForAnswer,
            CallerStep::WaitForPlay("main_menu".into()), // after the greeting
            CallerStep::WaitMs(contactd::demo::KEY_PAUSE_MS),
            CallerStep::Dtmf("0".into()),
        ],
    );
    let event = tokio::time::timeout(WAIT, sse).await.unwrap().unwrap();
    let data = event
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .unwrap()
        .trim();
    let pop: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(pop["call"], c.as_str());
    assert_eq!(pop["queue"], "general");
    assert_eq!(pop["caller"], "+74951112233");
    assert_eq!(pop["customer"]["account"], "100001");
    assert_eq!(pop["customer"]["holder"], "Ivanova A.P.");
    assert_eq!(pop["customer"]["balance_minor"], -12345);
    assert!(pop["ivr"]["contactd_ivr_step"].is_string(), "{pop}");
    assert_eq!(wait_answered(&env, &c).await, "op1001");
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_while_talking_reattaches_the_call() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start_one_operator(&env, &Setup::default()).await;
    login(&app, "1001").await;
    let c = caller(&sim, &app, "general", "5550081", None);
    assert_eq!(wait_answered(&env, &c).await, "op1001");
    let leg = sim.agent_offers("1001")[0].uuid.clone();
    assert!(common::eventually(WAIT, || async { sim.bridged_to(&c) == Some(leg.clone()) }).await);
    app.shutdown(Duration::from_secs(2)).await;
    // Still talking while contactd is down.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sim.bridged_to(&c), Some(leg.clone()));
    let app = start_app(&env, &sim, &Setup::default()).await;
    assert_eq!(state_of(&app, "op1001").await, "talking");
    // The operator finishes the call after the restart: contactd sees it and closes it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(sim.hangup(&leg, "NORMAL_CLEARING"));
    assert!(
        common::eventually(WAIT, || async {
            acd_row(&env, &c)
                .await
                .unwrap()
                .get::<_, Option<String>>(3)
                .as_deref()
                == Some("answered")
        })
        .await
    );
    assert!(
        acd_row(&env, &c)
            .await
            .unwrap()
            .get::<_, Option<f64>>(7)
            .unwrap()
            > 0.0
    );
    assert!(common::eventually(WAIT, || async { sim.channel_var(&c, "uuid").is_none() }).await);
    assert!(common::eventually(WAIT, || async { state_of(&app, "op1001").await == "ready" }).await);
    // After-call work (0 s configured: until the scanner's next pass) is on the record.
    assert!(
        common::eventually(WAIT, || async {
            acd_row(&env, &c)
                .await
                .unwrap()
                .get::<_, Option<f64>>(9)
                .is_some()
        })
        .await,
        "after-call work recorded"
    );
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_control_link_loses_no_waiting_caller() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(
        &env,
        &[("1001", answers(100, Some(1500)))],
        &Setup::default(),
        &[("1001", &[("general", 5)])],
    )
    .await;
    let a = caller(&sim, &app, "general", "5550091", None);
    assert!(common::eventually(WAIT, || async { waiting(&app, "general").await == 1 }).await);
    let b = caller(&sim, &app, "general", "5550092", None);
    assert!(common::eventually(WAIT, || async { waiting(&app, "general").await == 2 }).await);
    // The switch drops contactd's connections; contactd reconnects and resyncs.
    sim.drop_esl_connections();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        waiting_calls(&app, "general").await,
        vec![a.clone(), b.clone()]
    );
    login(&app, "1001").await;
    assert_eq!(wait_answered(&env, &a).await, "op1001");
    assert_eq!(wait_answered(&env, &b).await, "op1001");
    assert_eq!(offers_on(&sim, "1001"), vec![a, b]);
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_who_drops_the_call_on_answer_is_missed_and_the_caller_requeued() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(
        &env,
        &[("1001", answers(50, Some(0))), ("1002", answers(50, None))],
        &Setup::default(),
        &[("1001", &[("general", 5)]), ("1002", &[("general", 5)])],
    )
    .await;
    login(&app, "1001").await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    login(&app, "1002").await;
    let c = caller(&sim, &app, "general", "5550101", None);
    assert_eq!(wait_answered(&env, &c).await, "op1002");
    assert_eq!(offers_on(&sim, "1001"), vec![c.clone()]);
    assert_eq!(state_of(&app, "op1001").await, "missed");
    let leg = sim.agent_offers("1002")[0].uuid.clone();
    assert!(common::eventually(WAIT, || async { sim.bridged_to(&c) == Some(leg.clone()) }).await);
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_takes_a_callback_number_keyed_by_the_caller() {
    let env = common::TestEnv::new().await;
    let sim = start_sim(&[("1001", answers(100, None))]).await;
    let app = start_app(
        &env,
        &sim,
        &Setup {
            max_waiting: 1,
            ..Setup::default()
        },
    )
    .await;
    caller(&sim, &app, "general", "5550111", None);
    assert!(common::eventually(WAIT, || async { waiting(&app, "general").await == 1 }).await);
    // Withheld caller ID: 2, then the number to call back, then #.
    let full = trunk_call(
        &sim,
        &app,
        "queue_general",
        "",
        vec![
            CallerStep::WaitForAnswer,
            // by the file, not by counting prompts: a caller task that lags behind the
            // switch would count from a later prompt and key into the wrong one
            CallerStep::WaitForPlay("acd_callback_offer".into()), // 1 = this number, 2 = another
            CallerStep::WaitMs(contactd::demo::KEY_PAUSE_MS),
            CallerStep::Dtmf("2".into()),
            CallerStep::WaitForPlay("acd_callback_number".into()), // enter the number
            CallerStep::WaitMs(contactd::demo::KEY_PAUSE_MS),
            CallerStep::Dtmf("84957770000#".into()),
        ],
    );
    assert!(
        callback_reaches(&env, "84957770000", "general", "pending").await,
        "callback stored with the keyed number"
    );
    let (_, _, asked_by) = callback_of(&env, "84957770000").await.unwrap();
    assert_eq!(asked_by.as_deref(), Some(full.as_str()));
    assert!(
        common::eventually(WAIT, || async {
            executed(&sim, &full)
                .iter()
                .any(|l| l.contains("acd_callback_stored.wav"))
        })
        .await
    );
    assert_eq!(waiting(&app, "general").await, 1);
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attended_transfer_nobody_takes_becomes_blind_when_the_operator_hangs_up() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(
        &env,
        &[("1001", answers(100, None)), ("1009", answers(100, None))],
        &Setup::default(),
        &[("1001", &[("general", 5)]), ("1009", &[("specialists", 7)])],
    )
    .await;
    login(&app, "1001").await;
    let c = caller(&sim, &app, "general", "5550121", None);
    assert_eq!(wait_answered(&env, &c).await, "op1001");
    let leg_a = sim.agent_offers("1001")[0].uuid.clone();
    assert!(common::eventually(WAIT, || async { sim.bridged_to(&c) == Some(leg_a.clone()) }).await);
    // No specialist is logged in: the consult waits; the operator gives up and hangs up.
    app.shared
        .acd
        .transfer(&c, "specialists", TransferMode::Attended)
        .await
        .unwrap();
    assert!(common::eventually(WAIT, || async { waiting(&app, "specialists").await == 1 }).await);
    assert!(sim.hangup(&leg_a, "NORMAL_CLEARING"));
    // The caller now waits in specialists itself (the consult item is gone), with music.
    assert!(
        common::eventually(WAIT, || async {
            waiting_calls(&app, "specialists").await == vec![c.clone()]
        })
        .await
    );
    assert!(
        sim.channel_var(&c, "uuid").is_some(),
        "caller still on the line"
    );
    login(&app, "1009").await;
    assert!(
        common::eventually(WAIT, || async {
            answered_by(&env, &c).await.as_deref() == Some("op1009")
        })
        .await
    );
    assert_eq!(sim.agent_offers("1009").len(), 1);
    app.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_long_a_wait_overflows_to_a_callback_offer() {
    let env = common::TestEnv::new().await;
    let sim = start_sim(&[("1009", answers(100, None))]).await;
    let app = start_app(
        &env,
        &sim,
        &Setup {
            max_wait: 2,
            ..Setup::default()
        },
    )
    .await;
    // Nobody for specialists: after 2 s the caller is sorry-ed and keys 1 for a callback.
    let c = trunk_call(
        &sim,
        &app,
        "queue_specialists",
        "84956660011",
        vec![
            CallerStep::WaitForAnswer,
            // by the file, not by counting prompts: a caller task that lags behind the
            // switch would count from a later prompt and key into the wrong one
            CallerStep::WaitForPlay("acd_callback_offer".into()), // 1 = this number
            CallerStep::WaitMs(contactd::demo::KEY_PAUSE_MS),
            CallerStep::Dtmf("1".into()),
        ],
    );
    assert!(
        callback_reaches(&env, "84956660011", "specialists", "pending").await,
        "callback stored"
    );
    assert!(executed(&sim, &c)
        .iter()
        .any(|l| l.contains("acd_wait_too_long.wav")));
    assert!(
        common::eventually(WAIT, || async {
            let r = acd_row(&env, &c).await.unwrap();
            r.get::<_, Option<String>>(3).as_deref() == Some("callback")
                && r.get::<_, Option<String>>(4).as_deref() == Some("callback")
        })
        .await
    );
    assert_eq!(waiting(&app, "specialists").await, 0);
    app.shutdown(Duration::from_secs(2)).await;
}
