//! Shared by the several-instances tests (`instances_*`, `sentinel_*`): who drives a
//! campaign (read from Redis and from each instance's `/healthz`), the switch's originates
//! after a moment (the simulator's own command log), and the report mails of a campaign.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use contactd::sim::Simulator;
use contactd::store::redis::LiveState;

/// The holder of campaign `id`'s lease in Redis (`instance@host:pid`), if any.
pub async fn driver_of(live: &LiveState, id: i64) -> Option<String> {
    contactd::store::drivers::driver(live, id)
        .await
        .ok()
        .flatten()
        .map(|(who, _)| who)
}

/// `/healthz` of the instance on `port`, as JSON (whatever its status code).
pub async fn health(port: u16) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return serde_json::Value::Null;
    };
    let _ = s
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out).await;
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

/// The campaigns the instance on `port` says it drives (its `/healthz`).
pub async fn drives(port: u16) -> Vec<i64> {
    health(port).await["campaigns"]["drives"]
        .as_array()
        .map(|a| a.iter().filter_map(|d| d["campaign"].as_i64()).collect())
        .unwrap_or_default()
}

/// `/metrics` of the instance on `port`.
pub async fn metrics(port: u16) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return String::new();
    };
    let _ = s
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out).await;
    out
}

/// How long after `since` the switch received its first originate (the simulator's own
/// command log), if it did.
pub fn first_originate_after(sim: &Simulator, since: Instant) -> Option<Duration> {
    sim.api_log_timed()
        .into_iter()
        .filter(|(at, cmd)| *at > since && cmd.contains("originate"))
        .map(|(at, _)| at - since)
        .min()
}

/// The uuids of the originates an instance's log says it sent.
pub fn originated_by(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("dialer: originate "))
        .filter_map(|l| l.split_once("uuid=")?.1.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// How long after `since` the switch received its first originate (its own command log)
/// of a uuid not in `not`.
pub fn first_originate_after_but(
    sim: &Simulator,
    since: Instant,
    not: &[String],
) -> Option<Duration> {
    sim.api_log_timed()
        .into_iter()
        .filter(|(at, cmd)| *at > since && cmd.contains("originate"))
        .filter(|(_, cmd)| {
            !not.iter()
                .any(|u| cmd.contains(&format!("origination_uuid={u}")))
        })
        .map(|(at, _)| at - since)
        .min()
}

/// Every party record of several simulators (each its own switch with its own clock since
/// it started), their times moved onto the clock of the first one so calls on different
/// switches can be compared (who was dialed again after hearing the message elsewhere, two
/// calls to one subscriber at once on two switches). Read the clocks back to back: the
/// offsets are right to well under a simulated millisecond per real microsecond.
pub fn records_on_one_clock(sims: &[&Simulator]) -> Vec<contactd::sim::PartyRecord> {
    let Some(first) = sims.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for sim in sims {
        let shift = first.sim_ms() as i64 - sim.sim_ms() as i64;
        let on = |ms: u64| (ms as i64 + shift).max(0) as u64;
        for mut r in sim.ground_truth() {
            r.dialed_at_ms = on(r.dialed_at_ms);
            r.answered_at_ms = r.answered_at_ms.map(on);
            r.ended_at_ms = r.ended_at_ms.map(on);
            out.push(r);
        }
    }
    out
}

/// Originates a switch received (its own command log) between `from` and `to` whose dial
/// string contains `dial` (e.g. `freetdm/1/`), each as how long after `from` it came and
/// the command.
pub fn originates_between(
    sim: &Simulator,
    dial: &str,
    from: Instant,
    to: Instant,
) -> Vec<(Duration, String)> {
    sim.api_log_timed()
        .into_iter()
        .filter(|(at, cmd)| *at >= from && *at < to && cmd.contains("originate"))
        .filter(|(_, cmd)| cmd.contains(dial))
        .map(|(at, cmd)| (at - from, cmd))
        .collect()
}

/// Report mails received for campaign `id` (the report's attachment names the campaign).
pub fn reports_for(messages: &[serde_json::Value], id: i64) -> usize {
    let tag = format!("campaign-{id}.");
    messages
        .iter()
        .filter(|m| {
            let subject = m["subject"].as_str().unwrap_or_default();
            let names = m["attachments"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x["filename"].as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            subject.starts_with(&format!("Campaign {id} ")) || names.contains(&tag)
        })
        .count()
}

/// A throwaway Redis primary + replica + 3 sentinels (`scripts/sentinel.sh`), stopped when
/// dropped.
pub struct Sentinels {
    dir: tempfile::TempDir,
    pub base: u16,
}

pub const MASTER_NAME: &str = "contactd";

impl Sentinels {
    pub fn start() -> Sentinels {
        let dir = tempfile::tempdir().unwrap();
        let base = free_block();
        let out = std::process::Command::new(script())
            .arg("start")
            .arg(dir.path())
            .arg(base.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/sentinel.sh start failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Sentinels { dir, base }
    }

    /// `[redis]` keys for contactd: the sentinels and the master name.
    pub fn toml_keys(&self) -> String {
        let list: Vec<String> = (10..13)
            .map(|i| format!("\"127.0.0.1:{}\"", self.base + i))
            .collect();
        format!(
            "sentinels = [{}]\nmaster_name = \"{MASTER_NAME}\"\n",
            list.join(", ")
        )
    }

    pub fn sentinel_port(&self) -> u16 {
        self.base + 10
    }

    /// `redis-cli -p port args...`, its stdout.
    pub fn cli(port: u16, args: &[&str]) -> String {
        let out = std::process::Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The primary's port as the sentinels name it.
    pub fn primary_port(&self) -> Option<u16> {
        let out = Self::cli(
            self.sentinel_port(),
            &["sentinel", "get-master-addr-by-name", MASTER_NAME],
        );
        out.lines().nth(1)?.trim().parse().ok()
    }
}

impl Drop for Sentinels {
    fn drop(&mut self) {
        let _ = std::process::Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/sentinel.sh")
}

/// A base port whose 13 ports from it are free now (primary, replica, three sentinels).
fn free_block() -> u16 {
    let start = 30_000 + (std::process::id() % 500) as u16 * 20;
    (0..200)
        .map(|k| start.wrapping_add(k * 20) % 20_000 + 30_000)
        .find(|b| (0..13).all(|i| std::net::TcpListener::bind(("127.0.0.1", b + i)).is_ok()))
        .expect("no free block of ports")
}
