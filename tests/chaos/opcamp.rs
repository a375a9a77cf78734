//! The operator campaign of the `opcamp_*` scenarios: a progressive campaign over its own
//! trunk (`e2`, the simulator's span 3) worked by five operators of the `outbound` queue,
//! while the notice campaign, the IVR and the inbound ACD run as in every scenario. The
//! operators' desk software is played by [`spawn_desk`]: it sets the disposition of every
//! call that ended, as an operator does, through the API (retrying while contactd or
//! PostgreSQL is away). What the subscribers and the operators experienced is counted from
//! the simulator's ground truth ([`compute`]); the rules are in the README ("Fault matrix").

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use contactd::sim::{AfterAnswer, AgentOffer, Behaviour, PartyRecord};

use crate::daemon;

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
            if let Some(c) = crate::pg_client(&pg_url).await {
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
    let c = crate::pg_client(url)
        .await
        .ok_or("PostgreSQL unreachable")?;
    let e = |x: tokio_postgres::Error| crate::services::pg_error(&x);
    let mut r = OpRecords {
        finished: crate::campaign_state(url, id).await.as_deref() == Some("finished"),
        ..Default::default()
    };
    (r.attempts, r.stranded) = crate::campaign_rows(&c, id).await?;
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

/// The counts of the operator campaign (README, "Fault matrix").
#[derive(Default, Debug)]
pub struct OpMetrics {
    pub finished: bool,
    /// a subscriber dialed again after an operator talked with them or they heard the
    /// abandon message
    pub double_dials: usize,
    /// an answered subscriber who got neither an operator nor the abandon message
    pub unserved: usize,
    /// an answered subscriber left in silence longer than the law allows before an operator
    /// or the abandon message (2 s, `connect_within`), in all
    pub silent: usize,
    /// a subscriber talking with an operator hung up by the switch side (contactd), not by
    /// themselves
    pub cut_off: usize,
    /// calls without an outcome, and dispositions accepted (200) but not stored
    pub lost_outcomes: usize,
    /// channels at once above trunk `e2`'s channels or the campaign's lines
    pub over_cap: u32,
    /// an operator phone carrying two campaign calls at once
    pub double_booked: usize,
    pub stranded: usize,
    /// operators not ready at the end (the harness never takes them out of ready)
    pub not_ready: usize,
    pub why: Vec<String>,
    pub notes: Vec<String>,
}

impl OpMetrics {
    pub fn line_part(&self) -> String {
        format!(
            " op_finished={} op_double_dials={} op_unserved={} op_silent={} op_cut_off={} \
             op_lost_outcomes={} op_over_cap={} op_double_booked={} op_stranded={} \
             op_not_ready={}",
            if self.finished { "yes" } else { "no" },
            self.double_dials,
            self.unserved,
            self.silent,
            self.cut_off,
            self.lost_outcomes,
            self.over_cap,
            self.double_booked,
            self.stranded,
            self.not_ready
        )
    }

    pub fn passed(&self) -> bool {
        self.finished
            && self.double_dials == 0
            && self.unserved == 0
            && self.silent == 0
            && self.cut_off == 0
            && self.lost_outcomes == 0
            && self.over_cap == 0
            && self.double_booked == 0
            && self.stranded == 0
            && self.not_ready == 0
    }
}

fn short(u: &str) -> &str {
    u.get(..8).unwrap_or(u)
}

fn served(r: &PartyRecord, abandon: &str) -> bool {
    !r.bridged_to.is_empty() || r.played.iter().any(|p| p == abandon)
}

pub struct OpInput<'a> {
    pub truth: &'a [PartyRecord],
    pub budget: &'a str,
    pub dir: &'a Path,
    pub offers: &'a [AgentOffer],
    pub records: &'a OpRecords,
    pub disposed: &'a Disposed,
    /// the operators' states at the end
    pub states: &'a [(String, String)],
    /// simulated ms per real ms
    pub time_scale: f64,
}

pub fn compute(i: &OpInput) -> OpMetrics {
    let abandon = abandon_path(i.dir);
    let mut m = OpMetrics {
        finished: i.records.finished,
        ..Default::default()
    };
    let now_ms = i
        .truth
        .iter()
        .filter_map(|r| r.ended_at_ms)
        .max()
        .unwrap_or(0);
    let calls: Vec<&PartyRecord> = i
        .truth
        .iter()
        .filter(|r| r.var("contactd_budget") == Some(i.budget))
        .collect();

    let mut by_number: BTreeMap<&str, Vec<&PartyRecord>> = BTreeMap::new();
    for r in &calls {
        by_number.entry(r.number.as_str()).or_default().push(r);
    }
    let mut dd = Vec::new();
    for (n, cs) in by_number.iter_mut() {
        cs.sort_by_key(|r| r.dialed_at_ms);
        let last = cs.len().saturating_sub(1);
        if let Some(c) = cs[..last].iter().find(|c| served(c, &abandon)) {
            dd.push(format!(
                "{n} ({} calls; served on {})",
                cs.len(),
                short(&c.uuid)
            ));
        }
    }
    m.double_dials = dd.len();
    if !dd.is_empty() {
        m.why.push(format!("op_double_dials: {}", dd.join(", ")));
    }

    let unserved: Vec<String> = calls
        .iter()
        .filter(|r| r.answered && !served(r, &abandon))
        .map(|r| {
            format!(
                "{} {} (hung up by {}, {} ms dead air)",
                short(&r.uuid),
                r.number,
                r.hangup_by.as_deref().unwrap_or("nobody"),
                r.dead_air_ms
            )
        })
        .collect();
    m.unserved = unserved.len();
    if !unserved.is_empty() {
        m.why.push(format!("op_unserved: {}", unserved.join(", ")));
    }

    // the 2 s a person may wait for an operator, on the simulated clock
    let limit_ms = (2000.0 / i.time_scale) as u64;
    let silent: Vec<String> = calls
        .iter()
        .filter(|r| r.answered && r.dead_air_ms > limit_ms)
        .map(|r| {
            format!(
                "{} {} {} ms (real {:.1} s)",
                short(&r.uuid),
                r.number,
                r.dead_air_ms,
                r.dead_air_ms as f64 * i.time_scale / 1000.0
            )
        })
        .collect();
    m.silent = silent.len();
    if !silent.is_empty() {
        m.why.push(format!("op_silent: {}", silent.join(", ")));
    }

    let cut: Vec<String> = calls
        .iter()
        .filter(|r| !r.bridged_to.is_empty())
        .filter(|r| matches!(r.hangup_by.as_deref(), Some("switch" | "system")))
        .map(|r| {
            format!(
                "{} {} ({})",
                short(&r.uuid),
                r.number,
                r.hangup_cause.as_deref().unwrap_or("-")
            )
        })
        .collect();
    m.cut_off = cut.len();
    if !cut.is_empty() {
        m.why.push(format!("op_cut_off: {}", cut.join(", ")));
    }

    // not a count: the abandon message later than 2 s (real) after the answer; a SIGKILL
    // while a person is connecting makes that unavoidable (contactd is away ≥ 2 s)
    let late: Vec<String> = calls
        .iter()
        .filter_map(|r| {
            let k = r.played.iter().position(|p| *p == abandon)?;
            let sim_ms = r.played_at_ms[k].saturating_sub(r.answered_at_ms?);
            let real_ms = sim_ms as f64 * i.time_scale;
            (real_ms > 2000.0).then(|| format!("{} after {real_ms:.0} ms", short(&r.uuid)))
        })
        .collect();
    let abandoned = calls.iter().filter(|r| r.played.contains(&abandon)).count();
    let talked = calls.iter().filter(|r| !r.bridged_to.is_empty()).count();
    let not_ready: Vec<String> = OPERATORS
        .iter()
        .map(|e| format!("op{e}"))
        .filter_map(|l| match i.states.iter().find(|(x, _)| *x == l) {
            Some((_, s)) if s == "ready" => None,
            Some((_, s)) => Some(format!("{l} {s}")),
            None => Some(format!("{l} not listed")),
        })
        .collect();
    m.not_ready = not_ready.len();
    if !not_ready.is_empty() {
        m.why
            .push(format!("op_not_ready: {}", not_ready.join(", ")));
    }
    m.notes.push(format!(
        "note: operator campaign: {} calls, {talked} talked with an operator, {abandoned} heard \
         the abandon message ({} of them later than 2 s{}{})",
        calls.len(),
        late.len(),
        if late.is_empty() { "" } else { ": " },
        late.join(", ")
    ));

    let mut lost: Vec<String> = calls
        .iter()
        .filter(|r| !matches!(i.records.attempts.get(&r.uuid), Some(Some(_))))
        .map(|r| format!("{} without an outcome", short(&r.uuid)))
        .collect();
    let acc = i.disposed.lock().unwrap_or_else(|e| e.into_inner()).clone();
    lost.extend(
        acc.iter()
            .filter(|c| !i.records.disposed.contains(*c))
            .map(|c| format!("{} disposition accepted, not stored", short(c))),
    );
    m.lost_outcomes = lost.len();
    if !lost.is_empty() {
        m.why.push(format!("op_lost_outcomes: {}", lost.join(", ")));
    }

    let iv = |rs: &mut dyn Iterator<Item = &PartyRecord>| -> Vec<(u64, u64)> {
        rs.map(|r| (r.dialed_at_ms, r.ended_at_ms.unwrap_or(now_ms)))
            .collect()
    };
    let span = iv(&mut i.truth.iter().filter(|r| r.trunk.as_deref() == Some(SPAN)));
    let own = iv(&mut calls.iter().copied());
    let (pt, pb) = (crate::metrics::peak(span), crate::metrics::peak(own));
    m.over_cap = pt.saturating_sub(TRUNK_CAP).max(pb.saturating_sub(LINES));
    if m.over_cap > 0 {
        m.why.push(format!(
            "op_over_cap: {pt} channels at once on span {SPAN} (cap {TRUNK_CAP}), {pb} of the \
             campaign (lines {LINES})"
        ));
    }

    // an operator's phone carrying two answered campaign legs at once
    let mut booked = Vec::new();
    for ext in OPERATORS {
        let legs: Vec<(u64, u64)> = i
            .offers
            .iter()
            .filter(|o| o.ext == ext && o.answered)
            .filter_map(|o| {
                let a = o.answered_at_us?.max(0) as u64;
                Some((a, o.ended_at_us.map_or(u64::MAX, |e| e.max(0) as u64)))
            })
            .collect();
        if crate::metrics::peak(legs) > 1 {
            booked.push(ext.to_string());
        }
    }
    m.double_booked = booked.len();
    if !booked.is_empty() {
        m.why.push(format!(
            "op_double_booked: operators on two calls at once: {}",
            booked.join(", ")
        ));
    }

    m.stranded = i.records.stranded.len();
    if m.stranded > 0 {
        let s: Vec<String> = i
            .records
            .stranded
            .iter()
            .map(|(p, s)| format!("{p} {s}"))
            .collect();
        m.why.push(format!("op_stranded: {}", s.join(", ")));
    }
    m
}
