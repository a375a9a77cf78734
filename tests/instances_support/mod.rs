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
