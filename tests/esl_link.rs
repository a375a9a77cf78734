//! Guards the inbound ESL control link against the two failures that corrupt a contact
//! center's picture of its lines: a wrong password (clear error, keeps retrying, recovers
//! once fixed) and the switch dropping the connection mid-call (reconnect, resync from
//! `show channels as json`, live-call count and line leases right again).
use crate::common;

use std::time::Duration;

use contactd::app::App;
use contactd::config::TrunkConfig;
use contactd::esl::commands::AfterAnswer;
use contactd::esl::control::LinkStatus;
use contactd::service::dialer::{place_call, CallRequest, DialResult};
use contactd::sim::{self, Simulator};
use contactd::store::redis::LiveState;
use std::sync::atomic::Ordering;

fn sim_config() -> sim::SimConfig {
    sim::SimConfig {
        time_scale: 0.05,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        default_behaviour: sim::Behaviour::Answer {
            ring_ms: 200,
            after: sim::AfterAnswer::Stay,
        },
        ..Default::default()
    }
}

/// contactd dialing on trunk `e1` (30 lines) through `sim`, ready; and that trunk.
async fn start_on_e1(env: &common::TestEnv, sim: &Simulator) -> (App, TrunkConfig) {
    let cfg = env.config(
        sim.esl_addr(),
        "ClueCon",
        &[("e1", 30, "freetdm/1/a/{number}")],
    );
    let trunk = cfg.trunk["e1"].clone();
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    (app, trunk)
}

/// Dials `number` on `e1`; once answered the call is parked. Its uuid.
async fn parked_call(app: &App, live: &LiveState, trunk: &TrunkConfig, number: &str) -> String {
    let r = place_call(
        app.link("fs1").unwrap(),
        &contactd::clock::Clock::system(),
        &app.shared.calls,
        live,
        CallRequest {
            uuid: contactd::core::values::ChannelUuid::new_random(),
            caller_id: None,
            trunk_name: "e1",
            trunk,
            number,
            then: AfterAnswer::Park,
            purpose: "test",
            budget: "t1",
            budget_lines: 10,
            ring_secs: 30,
        },
    )
    .await
    .unwrap();
    match r {
        DialResult::Answered(u) => u.to_string(),
        other => panic!("{number}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_a_clear_error_and_retried_until_fixed() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config()).await.unwrap();
    let cfg = env.config(sim.esl_addr(), "NotTheRightOne", &[]);
    let app = App::start(cfg).await.unwrap();
    let link = app.link("fs1").unwrap().clone();

    let failed = common::eventually(Duration::from_secs(10), || async {
        link.counters().auth_failures.load(Ordering::Relaxed) >= 3
    })
    .await;
    assert!(
        failed,
        "contactd did not keep retrying after the password was refused"
    );
    match link.status() {
        LinkStatus::AuthFailed(msg) => {
            assert!(msg.contains("switch.fs1.password"), "{msg}");
            assert!(msg.contains(&sim.esl_addr().port().to_string()), "{msg}");
            assert!(
                !msg.contains("NotTheRightOne"),
                "the password leaked: {msg}"
            );
        }
        other => panic!("expected AuthFailed, got {other:?}"),
    }
    // /healthz says so, without the secret
    let body = http_get(app.http_addr, "/healthz").await;
    assert!(body.starts_with("HTTP/1.1 503"), "{body}");
    assert!(body.contains("auth_failed"), "{body}");
    assert!(!body.contains("NotTheRightOne"));

    // the sysadmin fixes the switch side: contactd gets in on its own
    sim.set_password("NotTheRightOne");
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    let body = http_get(app.http_addr, "/healthz").await;
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    // Prometheus text with the link state and the failures counted
    let metrics = http_get(app.http_addr, "/metrics").await;
    assert!(
        metrics.contains("contactd_esl_connected{switch=\"fs1\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("contactd_calls_live{switch=\"fs1\"} 0"),
        "{metrics}"
    );
    let failures: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("contactd_esl_auth_failures_total{switch=\"fs1\"} "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(failures >= 3, "{metrics}");
    // the API needs the token
    let denied = http_get(app.http_addr, "/api/v1/switches").await;
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
    let allowed = http_get_auth(app.http_addr, "/api/v1/switches", "test-token-0123456789").await;
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    assert!(allowed.contains("\"state\":\"connected\""), "{allowed}");
    let wrong = http_get_auth(app.http_addr, "/api/v1/switches", "test-token-0123456788").await;
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    app.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_mid_call_reconnects_and_resyncs_the_live_count() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config()).await.unwrap();
    let (app, trunk) = start_on_e1(&env, &sim).await;
    let link = app.link("fs1").unwrap().clone();
    let live = env.live_state().await;

    // three answered calls, parked
    let mut uuids = Vec::new();
    for n in ["5551001", "5551002", "5551003"] {
        uuids.push(parked_call(&app, &live, &trunk, n).await);
    }
    assert!(
        common::eventually(Duration::from_secs(5), || async {
            link.counters().live_calls.load(Ordering::Relaxed) == 3
        })
        .await
    );
    assert_eq!(live.lines_in_use("e1").await.unwrap(), 3);

    // the network drops; while contactd is blind two calls end and a caller rings in
    sim.refuse_connections(true).await;
    sim.drop_esl_connections();
    assert!(
        common::eventually(Duration::from_secs(5), || async {
            link.status() != LinkStatus::Connected
        })
        .await
    );
    assert!(
        sim.hangup(&uuids[0], "NORMAL_CLEARING"),
        "sim does not know {}",
        uuids[0]
    );
    assert!(sim.hangup(&uuids[1], "NORMAL_CLEARING"));
    let _inbound = sim
        .inbound_call(sim::InboundCall {
            connect_to: "127.0.0.1:9".into(), // nobody listens: the channel just exists
            destination: "5550000".into(),
            script: vec![sim::CallerStep::WaitMs(60_000)],
            ..Default::default()
        })
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let truth = sim.live_channels().len();
    // contactd still believes the old picture
    assert_eq!(link.counters().live_calls.load(Ordering::Relaxed), 3);

    sim.refuse_connections(false).await;
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    let synced = common::eventually(Duration::from_secs(5), || async {
        link.counters().live_calls.load(Ordering::Relaxed) == sim.live_channels().len()
            && live.live_channels("fs1").await.unwrap() == sim.live_channels().len()
    })
    .await;
    assert!(
        synced,
        "after resync contactd has {} live (redis {}), the switch {} (was {truth})",
        link.counters().live_calls.load(Ordering::Relaxed),
        live.live_channels("fs1").await.unwrap(),
        sim.live_channels().len()
    );
    // the two calls that ended unseen released their lines and are closed in PostgreSQL
    let released = common::eventually(Duration::from_secs(5), || async {
        live.lines_in_use("e1").await.unwrap() == 1
    })
    .await;
    assert!(
        released,
        "leases still held: {}",
        live.lines_in_use("e1").await.unwrap()
    );
    let pg = env.pg().await;
    let closed = common::eventually(Duration::from_secs(5), || async {
        let n: i64 = pg
            .query_one(
                "SELECT count(*) FROM calls WHERE uuid::text = ANY($1) AND state = 'ended'",
                &[&uuids[..2].to_vec()],
            )
            .await
            .unwrap()
            .get(0);
        n == 2
    })
    .await;
    assert!(
        closed,
        "the two calls that ended unseen are still open in PostgreSQL"
    );
    let open: String = pg
        .query_one(
            "SELECT state FROM calls WHERE uuid = $1::text::uuid",
            &[&uuids[2]],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(open, "answered");
    app.shutdown(Duration::from_secs(1)).await;
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    http_request(addr, path, "").await
}

async fn http_get_auth(addr: std::net::SocketAddr, path: &str, token: &str) -> String {
    http_request(addr, path, &format!("Authorization: Bearer {token}\r\n")).await
}

async fn http_request(addr: std::net::SocketAddr, path: &str, headers: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// The typed channel commands: a cause is a `HangupCause`, a uuid is checked, and a value
/// that would append a second command never reaches the switch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_channel_commands_reach_the_switch_and_injections_do_not() {
    use contactd::esl::control::LinkError;
    use freeswitch_esl_tokio::HangupCause;

    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim_config()).await.unwrap();
    let (app, trunk) = start_on_e1(&env, &sim).await;
    let link = app.link("fs1").unwrap().clone();
    let live = env.live_state().await;
    let uuid = parked_call(&app, &live, &trunk, "5551009").await;
    assert!(link.exists(&uuid).await.unwrap());
    assert!(!link
        .exists("0b8b6a4e-5f7e-4bd9-9d5e-6b9d3c0e2a11")
        .await
        .unwrap());

    // injections are refused before anything is sent
    let sent_before = sim.api_log().len();
    for (name, value) in [
        ("contactd_x", "1\nuuid_kill"),
        ("contactd_x", "a\r\nb"),
        ("contactd_x", " "),
        ("x y", "1"),
        ("", "1"),
    ] {
        let e = link.setvar(&uuid, name, value).await.unwrap_err();
        assert!(matches!(e, LinkError::Invalid { .. }), "{e}");
        assert!(!e.is_retryable(), "a bad value is not worth retrying: {e}");
    }
    assert!(link
        .kill(
            &format!("{uuid}\nfsctl shutdown"),
            HangupCause::NormalClearing
        )
        .await
        .is_err());
    assert_eq!(sim.api_log().len(), sent_before, "{:?}", sim.api_log());

    // the real thing reaches the switch
    assert!(link
        .setvar(&uuid, "contactd_x", "42")
        .await
        .unwrap()
        .starts_with("+OK"));
    assert_eq!(sim.channel_var(&uuid, "contactd_x").as_deref(), Some("42"));
    assert!(link
        .kill(&uuid, HangupCause::UserBusy)
        .await
        .unwrap()
        .starts_with("+OK"));
    assert!(
        common::eventually(Duration::from_secs(5), || async {
            sim.ground_truth()
                .iter()
                .any(|r| r.uuid == uuid && r.hangup_cause.as_deref() == Some("USER_BUSY"))
        })
        .await,
        "{:?}",
        sim.ground_truth()
    );
    // gone once the switch has destroyed it (the cause is known at CHANNEL_HANGUP, before)
    assert!(
        common::eventually(Duration::from_secs(5), || async {
            !link.exists(&uuid).await.unwrap()
        })
        .await
    );
    app.shutdown(Duration::from_secs(2)).await;
}
