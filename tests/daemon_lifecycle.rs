//! Guards the daemon as systemd runs it: READY=1 only once stores and a switch are up,
//! WATCHDOG=1 pings, and on SIGTERM STOPPING=1, no new calls, the live call allowed to
//! finish, then a clean exit 0.
use crate::common;

use std::time::Duration;

use contactd::sim::{self, Simulator};
use tokio::net::UnixDatagram;

async fn recv_until(sock: &UnixDatagram, want: &str, timeout: Duration) -> Vec<String> {
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 4096];
    let _ = tokio::time::timeout(timeout, async {
        loop {
            let n = sock.recv(&mut buf).await.unwrap();
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            let done = msg.lines().any(|l| l == want);
            seen.push(msg);
            if done {
                return;
            }
        }
    })
    .await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_ready_watchdog_and_graceful_drain_on_sigterm() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 0.1,
        // prompts of 1 s: the drain stays short (this test reads no STATUS= while it waits,
        // and a datagram socket holds only a few unread ones)
        media_ms: common::prompts::lengths(1000),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();

    // fixed free ports for the child's listeners
    let outbound =
        std::net::SocketAddr::from(([127, 0, 0, 1], contactd::store::scratch::free_port()));
    let http = std::net::SocketAddr::from(([127, 0, 0, 1], contactd::store::scratch::free_port()));
    let cfg_path = dir.path().join("contactd.toml");
    std::fs::write(
        &cfg_path,
        format!(
            r#"
[switch.fs1]
host = "127.0.0.1"
port = {}
password = "ClueCon"
reconnect_min_ms = 100
[outbound]
listen = "{outbound}"
[http]
listen = "{http}"
token = "test-token-0123456789"
[redis]
url = "{}"
prefix = "{}"
[postgres]
url = "{}"
[shutdown]
grace_seconds = 20
[prompts]
dir = "{}"
language = "en"
"#,
            sim.esl_addr().port(),
            common::redis_url(),
            env.prefix,
            env.db_url(),
            common::prompts::dir().display()
        ),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
        .args(["run", "--config"])
        .arg(&cfg_path)
        .env("NOTIFY_SOCKET", &notify_path)
        .env("WATCHDOG_USEC", "400000")
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    let seen = recv_until(&notify, "READY=1", Duration::from_secs(20)).await;
    assert!(
        seen.iter().any(|m| m.contains("READY=1")),
        "no READY=1: {seen:?}"
    );
    let seen = recv_until(&notify, "WATCHDOG=1", Duration::from_secs(5)).await;
    assert!(
        seen.iter().any(|m| m.contains("WATCHDOG=1")),
        "no watchdog ping: {seen:?}"
    );

    // a caller is in the middle of the flow (keys nothing: 3 tries of 5 s, scaled)
    let call = sim
        .inbound_call(sim::InboundCall {
            connect_to: outbound.to_string(),
            destination: "250100".into(),
            script: vec![
                sim::CallerStep::WaitForAnswer,
                sim::CallerStep::WaitMs(60_000),
            ],
            ..Default::default()
        })
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let pid = child.id().unwrap().to_string();
    let st = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(st.success());
    let seen = recv_until(&notify, "STOPPING=1", Duration::from_secs(5)).await;
    assert!(
        seen.iter().any(|m| m.contains("STOPPING=1")),
        "no STOPPING=1: {seen:?}"
    );

    // draining: the live call goes on, new calls are not taken
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited before the live call ended"
    );
    assert!(
        tokio::net::TcpStream::connect(outbound).await.is_err(),
        "the outbound socket still accepts calls while draining"
    );

    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("contactd did not exit after the call ended")
        .unwrap();
    assert!(status.success(), "{status:?}");
    // the call finished normally: contactd hung up at the end of its flow
    let pg = env.pg().await;
    let row = pg
        .query_one(
            "SELECT hungup_by, flow_step FROM calls WHERE uuid = $1::text::uuid",
            &[&call],
        )
        .await
        .unwrap();
    let by: String = row.get(0);
    assert_eq!(by, "contactd");
}
