//! contactd as a process of its own, to be SIGKILLed and started again: its config (the
//! ACD queues of [`super`], ringing 10 simulated s), an operator's phone and login.

use std::path::PathBuf;
use std::time::Duration;

use contactd::sim::{self, CallerStep, Simulator};

use super::acd_toml;
use crate::common;

pub const TOKEN: &str = "test-token-0123456789";

/// The ACD part of the config: the queues of `acd_support`, ringing 10 (simulated) s.
pub fn acd_section(instance: &str) -> String {
    acd_toml(50, 0)
        .replacen(
            "[daemon]\n",
            &format!("[daemon]\ninstance = \"{instance}\"\n"),
            1,
        )
        .replace("ring_timeout_seconds = 2", "ring_timeout_seconds = 10")
        .replace("announce_every_seconds = 2", "announce_every_seconds = 0")
}

pub struct Proc {
    cfg: PathBuf,
    log: PathBuf,
    child: Option<tokio::process::Child>,
    http: u16,
    pub outbound: u16,
    _dir: tempfile::TempDir,
}

impl Proc {
    pub async fn start(env: &common::TestEnv, sim: &Simulator) -> Proc {
        Proc::start_with(env, sim, "").await
    }

    /// [`Proc::start`] with `extra` appended to the config (sections of its own).
    pub async fn start_with(env: &common::TestEnv, sim: &Simulator, extra: &str) -> Proc {
        let mut p = Proc::configure(env, sim, extra, |t| t);
        p.spawn().await;
        p
    }

    /// The config of [`Proc::start_with`], its text passed through `edit` (another address
    /// for a store), written but not started.
    pub fn configure(
        env: &common::TestEnv,
        sim: &Simulator,
        extra: &str,
        edit: impl FnOnce(String) -> String,
    ) -> Proc {
        let dir = tempfile::tempdir().unwrap();
        let http = common::smtp::free_port();
        let outbound = common::smtp::free_port();
        let spool = dir.path().join("spool");
        std::fs::create_dir_all(&spool).unwrap();
        let text = env.config_toml(sim.esl_addr(), "ClueCon", &[]).replace(
            "listen = \"127.0.0.1:0\"\n[http]\nlisten = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{outbound}\"\n[http]\nlisten = \"127.0.0.1:{http}\""),
        ) + &acd_section("acd-kill").replacen(
            "[daemon]\n",
            &format!("[daemon]\nspool_dir = \"{}\"\n", spool.display()),
            1,
        ) + extra;
        let text = edit(text);
        std::fs::create_dir_all("/tmp/contactd-test-recordings").unwrap();
        contactd::config::Config::from_toml(&text)
            .unwrap()
            .validate()
            .unwrap();
        let cfg = dir.path().join("contactd.toml");
        std::fs::write(&cfg, text).unwrap();
        let log = dir.path().join("contactd.log");
        Proc {
            cfg,
            log,
            child: None,
            http,
            outbound,
            _dir: dir,
        }
    }

    pub async fn spawn(&mut self) {
        self.spawn_unready();
        self.wait_healthy().await;
    }

    /// Starts the process without waiting for it to be ready.
    pub fn spawn_unready(&mut self) {
        self.child = Some(common::daemon::spawn_logged(&self.cfg, &self.log));
    }

    pub async fn wait_healthy(&self) {
        let http = self.http;
        assert!(
            common::eventually(Duration::from_secs(30), || common::daemon::healthy(http)).await,
            "contactd did not become healthy:\n{}",
            self.log_tail(30)
        );
    }

    pub async fn sigkill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.start_kill().unwrap();
            let _ = c.wait().await;
        }
    }

    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    pub async fn login(&self, login: &str) {
        let resp = reqwest::Client::new()
            .post(format!(
                "http://127.0.0.1:{}/api/v1/operators/{login}/state",
                self.http
            ))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(r#"{"state": "login"}"#)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{:?}", resp.text().await);
    }

    /// An operator's transfer of `call` to queue `to` (`blind` or `attended`) over the API.
    pub async fn transfer(&self, call: &str, to: &str, mode: &str) {
        let resp = reqwest::Client::new()
            .post(format!(
                "http://127.0.0.1:{}/api/v1/acd/calls/{call}/transfer",
                self.http
            ))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(format!(r#"{{"to": "{to}", "mode": "{mode}"}}"#))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{:?}", resp.text().await);
    }

    /// `contactd --config <its config> <args>` (a CLI command): its standard output.
    pub async fn cli(&self, args: &[&str]) -> String {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
            .arg("--config")
            .arg(&self.cfg)
            .args(args)
            .env("RUST_LOG", "warn")
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "contactd {}: {}\n{text}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    /// A caller to the general queue's own number, waiting until hung up.
    pub fn caller(&self, sim: &Simulator, number: &str) -> String {
        sim.inbound_call(sim::InboundCall {
            connect_to: format!("127.0.0.1:{}", self.outbound),
            destination: "250300".into(),
            caller_number: number.into(),
            vars: vec![
                ("contactd_entry".into(), "trunk".into()),
                ("contactd_code".into(), "queue_general".into()),
            ],
            script: vec![CallerStep::WaitForAnswer],
            ..Default::default()
        })
        .unwrap()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- contactd's log ----\n{}", self.log_tail(60));
        }
    }
}

pub async fn add_operator(env: &common::TestEnv, ext: &str) {
    add_operator_in(env, ext, "general").await
}

/// Operator `op<ext>` on `user/<ext>`, skilled for `group`'s queue.
pub async fn add_operator_in(env: &common::TestEnv, ext: &str, group: &str) {
    let pool = contactd::store::postgres::pool(env.db_url(), 1).unwrap();
    let store = contactd::store::operators::Operators::new(pool);
    let login = format!("op{ext}");
    let id = store
        .create(&login, &login, &format!("user/{ext}"))
        .await
        .unwrap();
    store.set_skill(id, group, 5).await.unwrap();
}
