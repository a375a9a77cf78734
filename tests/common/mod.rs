//! Shared by the integration tests: a scratch PostgreSQL database and Redis prefix per test
//! (dropped even when the test panics), and a contactd config pointing at a simulator.
#![allow(dead_code)]

pub mod daemon;
pub mod faultproxy;
pub mod guard;
pub mod logs;
pub mod prompts;
pub mod smtp;

use std::net::SocketAddr;
use std::time::Duration;

use contactd::config::Config;
use contactd::store::redis::LiveState;
use contactd::store::scratch::{run_id, ScratchDb};

pub fn pg_server() -> String {
    std::env::var("CONTACTD_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("CONTACTD_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

pub struct TestEnv {
    pub db: Option<ScratchDb>,
    pub prefix: String,
}

impl TestEnv {
    pub async fn new() -> Self {
        let db = ScratchDb::create(&pg_server(), "contactd_test")
            .await
            .expect("PostgreSQL on 127.0.0.1:5432 (run `make test`, which starts it)");
        Self {
            db: Some(db),
            prefix: format!("contactd_test:{}:", run_id()),
        }
    }

    pub fn db_url(&self) -> &str {
        &self.db.as_ref().unwrap().url
    }

    /// A valid config: one switch `fs1` at `esl`, trunks `(name, channels, dial)`.
    pub fn config(&self, esl: SocketAddr, password: &str, trunks: &[(&str, u32, &str)]) -> Config {
        Config::from_toml(&self.config_toml(esl, password, trunks)).expect("test config")
    }

    /// [`TestEnv::config`] as TOML, for tests that append sections of their own.
    pub fn config_toml(
        &self,
        esl: SocketAddr,
        password: &str,
        trunks: &[(&str, u32, &str)],
    ) -> String {
        let mut text = format!(
            r#"
[switch.fs1]
host = "{}"
port = {}
password = "{password}"
reconnect_min_ms = 100
reconnect_max_ms = 500
[outbound]
listen = "127.0.0.1:0"
[http]
listen = "127.0.0.1:0"
token = "test-token-0123456789"
[redis]
url = "{}"
prefix = "{}"
[postgres]
url = "{}"
pool_size = 4
[shutdown]
grace_seconds = 5
[prompts]
dir = "{}"
language = "en"
"#,
            esl.ip(),
            esl.port(),
            redis_url(),
            self.prefix,
            self.db_url(),
            prompts::dir().display()
        );
        for (name, channels, dial) in trunks {
            text.push_str(&format!(
                "[trunk.{name}]\nswitch = \"fs1\"\nkind = \"e1\"\nchannels = {channels}\ndial = \"{dial}\"\n"
            ));
        }
        text
    }

    pub async fn live_state(&self) -> LiveState {
        LiveState::connect(&redis_url(), &self.prefix)
            .await
            .unwrap()
    }

    pub async fn pg(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(self.db_url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let db = self.db.take();
        let prefix = self.prefix.clone();
        // Async cleanup from Drop: its own thread and runtime, so it also runs on panic.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Some(db) = db {
                    let _ = db.drop_now().await;
                }
                if let Ok(live) = LiveState::connect(&redis_url(), &prefix).await {
                    let _ = live.purge_prefix().await;
                }
            });
        })
        .join();
    }
}

/// Polls `f` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Did one of `lines` play exactly these composed words (`core::speech::words_in`)?
pub fn said(lines: &[String], words: &str) -> bool {
    lines
        .iter()
        .any(|l| contactd::core::speech::words_in(l).as_deref() == Some(words))
}

/// Runs the `contactd` binary with `args` and `--config config`; its output, after checking
/// it succeeded (its stderr is the failure message).
pub async fn contactd_ok(args: &[&str], config: &std::path::Path) -> std::process::Output {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "contactd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// What an instance SIGKILLed between its batch's commit and its originate leaves behind,
/// written as it would: the next campaign's driver lease taken by a holder that never renews
/// it (`lease_ms`); returns that campaign's id (the next one created).
pub async fn dead_driver_of_next_campaign(env: &TestEnv, lease_ms: u64) -> i64 {
    let next: i64 = env
        .pg()
        .await
        .query_one(
            "SELECT last_value + CASE WHEN is_called THEN 1 ELSE 0 END FROM campaigns_id_seq",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let took = contactd::store::drivers::acquire(
        &env.live_state().await,
        next,
        "dead@nowhere:1",
        lease_ms,
        None,
    )
    .await
    .unwrap();
    assert!(took.is_some(), "the fake holder did not get the lease");
    next
}

/// ... and its attempt of `contact` (already `dialing`): attempt and call rows committed, a
/// uuid no switch ever had.
pub async fn unsent_attempt(
    db: &tokio_postgres::Client,
    campaign: i64,
    contact: i64,
    number: &str,
) -> uuid::Uuid {
    let uuid = uuid::Uuid::new_v4();
    db.execute(
        "INSERT INTO attempts (uuid, campaign_id, contact_id, attempt_no, number_dialed)
         VALUES ($1, $2, $3, 1, $4)",
        &[&uuid, &campaign, &contact, &number],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO calls (uuid, node, direction, purpose, trunk, number, state)
         VALUES ($1, 'fs1', 'outbound', 'campaign', 'e1', $2, 'dialing')",
        &[&uuid, &number],
    )
    .await
    .unwrap();
    uuid
}
