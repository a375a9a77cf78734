//! The operator campaign of the `opcamp_*` scenarios: a progressive campaign over its own
//! trunk (`e2`, the simulator's span 3) worked by five operators of the `outbound` queue,
//! while the notice campaign, the IVR and the inbound ACD run as in every scenario. The
//! operators' desk software is played by [`spawn_desk`]: it sets the disposition of every
//! call that ended, as an operator does, through the API (retrying while contactd or
//! PostgreSQL is away). What the subscribers and the operators experienced is counted from
//! the simulator's ground truth ([`compute`]); the rules are in the README ("Fault matrix").

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use contactd::sim::{AfterAnswer, Behaviour, PartyRecord};

use crate::daemon;

mod measure;
pub use measure::{compute, OpInput, OpMetrics};

/// The simulator's span the campaign's trunk dials on.
pub const SPAN: &str = "3";
/// Channels contactd is told trunk `e2` has, and the lines the campaign may hold.
pub const TRUNK_CAP: u32 = 6;
pub const LINES: u32 = 5;
/// The operators of the `outbound` queue, on phones `user/<ext>`.
pub const OPERATORS: [&str; 5] = ["2101", "2102", "2103", "2104", "2105"];
/// Subscribers in the campaign's list (list number 2).
pub const SUBSCRIBERS: usize = 30;
/// A person who answers talks this long (simulated ms: 5 s real), then hangs up.
const TALK_MS: u64 = 25_000;
/// The abandon message (simulated ms).
pub const ABANDON_MS: u64 = 3000;

pub fn listed(i: usize) -> String {
    format!("+7916400{i:04}")
}

fn dialed(i: usize) -> String {
    format!("8916400{i:04}")
}

/// A number the switch dials for this campaign ([`dialed`]).
pub fn is_campaign_number(n: &str) -> bool {
    n.len() == 11 && n.starts_with("8916400")
}

fn abandon_path(dir: &Path) -> String {
    dir.join("campaigns")
        .join("abandon.wav")
        .to_string_lossy()
        .to_string()
}

/// What subscriber `i` does: 10 % busy, 10 % never answer, the rest answer after a 1–2.2 s
/// ring (simulated) and talk.
pub fn numbers() -> HashMap<String, Behaviour> {
    (0..SUBSCRIBERS)
        .map(|i| {
            let b = match i % 10 {
                0 => Behaviour::Busy { after_ms: 800 },
                1 => Behaviour::NoAnswer,
                _ => Behaviour::Answer {
                    ring_ms: 1000 + (i as u64 * 7 % 5) * 300,
                    after: AfterAnswer::HangupAfter { ms: TALK_MS },
                },
            };
            (dialed(i), b)
        })
        .collect()
}

/// Operator phones that answer by themselves at once (`sip_auto_answer`) and stay until
/// the subscriber hangs up.
pub fn agents() -> HashMap<String, Behaviour> {
    OPERATORS
        .iter()
        .map(|e| {
            (
                e.to_string(),
                Behaviour::Answer {
                    ring_ms: 0,
                    after: AfterAnswer::Stay,
                },
            )
        })
        .collect()
}

/// The config of the trunk, the queue and `[campaigns.operator]` (in every scenario's
/// config; only the `opcamp_*` scenarios start a campaign on them).
pub fn config_text(dir: &Path) -> String {
    format!(
        r#"
[trunk.e2]
switch = "fs1"
kind = "e1"
channels = {TRUNK_CAP}
dial = "freetdm/{SPAN}/a/{{number}}"

[acd.queue.outbound]
group = "outbound"
max_waiting = 10
max_wait_seconds = 0

[campaigns.operator]
abandon_message = "{abandon}"
queue = "outbound"
ring_seconds = 8
# the switch's own abandon message, 1.8 s after the answer, on the simulator's clock
abandon_message_after_ms = {message_after}

# No answering-machine detection here: on the clock compressed 5 times, contactd's own
# quarter second between an answer and its listening is over a second of the callee's, so
# a person's "hello" (200-600 ms after the answer) passes unheard and they count as silence.
# The matrix is about faults; tests/amd_*.rs test the detection on a real-time clock.
[amd]
enabled = false
"#,
        abandon = abandon_path(dir),
        message_after = contactd::sim::switch_ms(1800, crate::traffic::TIME_SCALE),
    )
}

/// The operators (logged in, ready), the list and the campaign; its id.
pub async fn start(cfg: &Path, dir: &Path, http: u16) -> Result<i64, String> {
    let abandon = abandon_path(dir);
    if !contactd::sim::media::write_wav(&abandon, ABANDON_MS) {
        return Err(format!("cannot write {abandon}"));
    }
    let exts: Vec<&str> = OPERATORS.to_vec();
    daemon::add_group_operators(http, "outbound", &exts).await?;
    let list = dir.join("oplist.csv");
    let mut csv = String::from("phone,name\n");
    for i in 0..SUBSCRIBERS {
        csv.push_str(&format!("{},Customer {i}\n", listed(i)));
    }
    std::fs::write(&list, csv).map_err(|e| e.to_string())?;
    let path = list.to_str().unwrap();
    daemon::cli(
        cfg,
        &[
            "lists", "import", path, "--number", "2", "--name", "opchaos",
        ],
    )
    .await?;
    let lines = LINES.to_string();
    let out = daemon::cli(
        cfg,
        &[
            "campaigns",
            "start",
            "--mode",
            "progressive",
            "--list",
            "2",
            "--queue",
            "outbound",
            "--trunk",
            "e2",
            "--lines",
            &lines,
            "--name",
            "opchaos",
            "--days",
            "mon-sun",
            "--from",
            "00:00",
            "--until",
            "23:59",
        ],
    )
    .await?;
    // "operator campaign 2 started (progressive, queue outbound): 30 subscribers"
    out.split_whitespace()
        .nth(2)
        .and_then(|x| x.parse::<i64>().ok())
        .ok_or_else(|| format!("campaigns start said: {out}"))
}

/// Dispositions the desk software set and contactd accepted (call uuids).
pub type Disposed = Arc<Mutex<HashSet<String>>>;

/// The operators' desk software: every call of the campaign whose talk ended gets its
/// disposition (`sale`), posted as the operator would, until `stop`. A call whose post
/// failed (contactd or PostgreSQL away) is posted again on the next round.
pub fn spawn_desk(
    pg_url: String,
    http: u16,
    id: i64,
    disposed: Disposed,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *stop.borrow() {
                return;
            }
            if let Some(c) = crate::records::pg_client(&pg_url).await {
                let rows = c
                    .query(
                        "SELECT uuid::text, operator FROM operator_calls
                         WHERE campaign_id = $1 AND connected_at IS NOT NULL
                           AND talk_ended_at IS NOT NULL AND disposition IS NULL",
                        &[&id],
                    )
                    .await
                    .unwrap_or_default();
                for r in rows {
                    let (call, login): (String, Option<String>) = (r.get(0), r.get(1));
                    let Some(login) = login else { continue };
                    let body = format!(r#"{{"call":"{call}","code":"sale"}}"#);
                    let path = format!("/api/v1/operators/{login}/disposition");
                    if let Some((200, _)) = daemon::http_raw(http, "POST", &path, Some(&body)).await
                    {
                        disposed
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(call);
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(300)) => {}
                _ = stop.changed() => {}
            }
        }
    })
}

/// Each operator's state as the API shows it, `(login, state)`: one left on a call, in
/// after-call work or "missed" stops working the campaign.
pub async fn operator_states(http: u16) -> Vec<(String, String)> {
    let Some((200, body)) = daemon::http_raw(http, "GET", "/api/v1/operators", None).await else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let list = v.get("operators").cloned().unwrap_or(v);
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| {
            Some((
                o["login"].as_str()?.to_string(),
                o["state"].as_str()?.to_string(),
            ))
        })
        .filter(|(l, _)| OPERATORS.iter().any(|e| *l == format!("op{e}")))
        .collect()
}

/// What contactd recorded of the campaign, read after the run.
#[derive(Default, Debug)]
pub struct OpRecords {
    pub finished: bool,
    /// attempts: uuid → outcome
    pub attempts: HashMap<String, Option<String>>,
    /// targets not done: (phone, status)
    pub stranded: Vec<(String, String)>,
    /// call uuids whose disposition is recorded
    pub disposed: HashSet<String>,
}

pub async fn read_records(url: &str, id: i64) -> Result<OpRecords, String> {
    let c = crate::records::pg_client(url)
        .await
        .ok_or("PostgreSQL unreachable")?;
    let e = |x: tokio_postgres::Error| crate::services::pg_error(&x);
    let mut r = OpRecords {
        finished: crate::records::campaign_state(url, id).await.as_deref() == Some("finished"),
        ..Default::default()
    };
    (r.attempts, r.stranded) = crate::records::campaign_rows(&c, id).await?;
    for row in c
        .query(
            "SELECT uuid::text FROM operator_calls
             WHERE campaign_id = $1 AND disposition IS NOT NULL",
            &[&id],
        )
        .await
        .map_err(e)?
    {
        r.disposed.insert(row.get(0));
    }
    Ok(r)
}

/// The records are complete: every call of the campaign has its outcome, no target is
/// left, every disposition the desk got accepted is stored.
pub fn settled(r: &OpRecords, truth: &[PartyRecord], budget: &str, disposed: &Disposed) -> bool {
    let acc = disposed.lock().unwrap_or_else(|e| e.into_inner());
    truth
        .iter()
        .filter(|p| p.var("contactd_budget") == Some(budget))
        .all(|p| matches!(r.attempts.get(&p.uuid), Some(Some(_))))
        && r.stranded.is_empty()
        && acc.iter().all(|c| r.disposed.contains(c))
}
