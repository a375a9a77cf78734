//! The captures made with contactd as the client (`shared/esl-traces/contactd`, 25-30):
//! the switch they ran against (contactd's dialplans as of the captured commit, the test
//! contexts `test_subscribers` and `test_operators`, the directory users 201 and 203, no
//! sound packs), its media as virtual files of the lengths the captures show, and the joint
//! replay of contactd's control connection, its outbound socket and the untraced test
//! caller of 27-29. All of this is the captures' setup, given to the simulator as
//! configuration; nothing here is a behaviour of the simulator.

use std::collections::HashMap;
use std::time::Duration;

use contactd::sim::{Extension, SimConfig};
use tokio::net::{TcpListener, TcpStream};

use super::{counts, get, parse, uuid_map, Msg, Parsed, Wire, SCALE};

/// Where the capture's FreeSWITCH looked for sound packs (none installed).
const SOUNDS_DIR: &str = "/opt/fs-trace/run/sounds";
/// Length given to a file the captures only show cut short.
const CUT_SHORT_MS: u64 = 5000;

/// Where the captures' switch kept its sounds, prompts and recordings
/// (`../shared/esl-traces/README.md`): the replay's simulated disk has it, so what the traces
/// record there is neither refused nor written on this machine.
pub const CAPTURE_TREE: &str = "/opt/fs-trace";

/// The switch of the captures; `socket` is where its `socket` application connects
/// (contactd's `[outbound]` listener, played by the test).
pub fn sim_config(traces: &[&[Msg]], socket: &str) -> SimConfig {
    let ext = Extension::new;
    let entry = |code: &str| {
        vec![
            ("set", "contactd_entry=trunk".to_string()),
            ("set", format!("contactd_code={code}")),
            ("set", "contactd_did=${destination_number}".to_string()),
            ("set", "contactd_node=fs1".to_string()),
            ("socket", format!("{socket} async full")),
            ("hangup", "NORMAL_TEMPORARY_FAILURE".to_string()),
        ]
    };
    let owned = |expr: &str, v: Vec<(&str, String)>| Extension {
        expression: expr.to_string(),
        actions: v.into_iter().map(|(a, d)| (a.to_string(), d)).collect(),
    };
    let contexts: HashMap<String, Vec<Extension>> = [
        (
            // the campaign's subscribers, one behaviour per number (25, 26, 29)
            "test_subscribers",
            vec![
                ext(
                    r"^7000\d{3}$",
                    &[
                        ("sleep", "1000"),
                        ("answer", ""),
                        ("sleep", "60000"),
                        ("hangup", "NORMAL_CLEARING"),
                    ],
                ),
                ext(r"^7001\d{3}$", &[("hangup", "USER_BUSY")]),
                ext(
                    r"^7002\d{3}$",
                    &[
                        ("ring_ready", ""),
                        ("sleep", "120000"),
                        ("hangup", "NORMAL_CLEARING"),
                    ],
                ),
                ext(
                    r"^7003\d{3}$",
                    &[
                        ("answer", ""),
                        ("sleep", "2000"),
                        ("hangup", "NORMAL_CLEARING"),
                    ],
                ),
                ext(
                    r"^7004\d{3}$",
                    &[
                        ("answer", ""),
                        ("sleep", "9000"),
                        ("send_dtmf", "1"),
                        ("sleep", "30000"),
                        ("hangup", "NORMAL_CLEARING"),
                    ],
                ),
                ext(r"^7005\d{3}$", &[("hangup", "UNALLOCATED_NUMBER")]),
            ],
        ),
        (
            // the operators' phones (28)
            "test_operators",
            vec![
                ext(
                    r"^noans\d+$",
                    &[
                        ("ring_ready", ""),
                        ("sleep", "120000"),
                        ("hangup", "NORMAL_CLEARING"),
                    ],
                ),
                ext(
                    r"^op\d+$",
                    &[
                        ("sleep", "2000"),
                        ("answer", ""),
                        ("playback", "tone_stream://%(400,200,600);loops=-1"),
                        ("hangup", "NORMAL_CLEARING"),
                    ],
                ),
            ],
        ),
        (
            "from-trunk",
            vec![
                owned(r"^250100$", entry("main")),
                owned(r"^250200$", entry("readings")),
                ext(r"^.*$", &[("hangup", "UNALLOCATED_NUMBER")]),
            ],
        ),
        (
            "internal",
            vec![owned(
                r"^3\d\d$",
                vec![
                    ("set", "contactd_entry=service".to_string()),
                    ("set", "contactd_code=${destination_number}".to_string()),
                    ("set", "contactd_node=fs1".to_string()),
                    ("socket", format!("{socket} async full")),
                    ("hangup", "NORMAL_TEMPORARY_FAILURE".to_string()),
                ],
            )],
        ),
        (
            // dialplans/contactd-acd.xml as of the captured commit (3645868)
            "contactd-acd",
            vec![ext(
                r"^acd_([a-z0-9_]{1,32})$",
                &[
                    ("set", "contactd_entry=queue"),
                    ("set", "contactd_queue=$1"),
                    ("set", "park_after_bridge=true"),
                    ("set", "hangup_after_bridge=false"),
                    ("answer", ""),
                    ("sleep", "300"),
                    ("park", ""),
                    ("transfer", "${destination_number} XML contactd-acd"),
                ],
            )],
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    SimConfig {
        time_scale: SCALE,
        heartbeat_ms: 0,
        hostname: "vm".into(),
        sounds_dir: SOUNDS_DIR.into(),
        media_ms: media_lengths(traces),
        disk_dirs: vec![CAPTURE_TREE.into()],
        contexts,
        users: [
            ("203", "loopback/noans203/test_operators"),
            ("201", "loopback/op201/test_operators"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..Default::default()
    }
}

/// Every file the captures play, with the length it played to its end there
/// (PLAYBACK_START to PLAYBACK_STOP on a channel still up); [`CUT_SHORT_MS`] for one only
/// ever cut short. A file the switch refused never has a PLAYBACK_START, so stays missing.
fn media_lengths(traces: &[&[Msg]]) -> HashMap<String, u64> {
    let mut out: HashMap<String, u64> = HashMap::new();
    for msgs in traces {
        let mut started: HashMap<(String, String), f64> = HashMap::new();
        for m in msgs.iter().filter(|m| m.from == "fs" && !m.raw.is_empty()) {
            let Some(e) = parse(&m.raw).event else {
                continue;
            };
            let (Some(u), Some(p)) = (get(&e, "Unique-ID"), get(&e, "Playback-File-Path")) else {
                continue;
            };
            if !p.starts_with('/') {
                continue;
            }
            let key = (u.to_string(), p.to_string());
            match get(&e, "Event-Name") {
                Some("PLAYBACK_START") => {
                    started.insert(key, m.t);
                    out.entry(p.to_string()).or_insert(CUT_SHORT_MS);
                }
                Some("PLAYBACK_STOP") => {
                    let whole = get(&e, "Playback-Status") == Some("done")
                        && get(&e, "Answer-State") != Some("hangup");
                    if let (true, Some(t0)) = (whole, started.remove(&key)) {
                        let ms = ((m.t - t0) * 1000.0).round() as u64;
                        let slot = out.entry(p.to_string()).or_insert(ms);
                        if *slot == CUT_SHORT_MS || *slot < ms {
                            *slot = ms;
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// What the untraced test caller did, from a note: the ESL command it sent.
fn caller_command(note: &str) -> Option<String> {
    static RES: std::sync::OnceLock<[regex::Regex; 4]> = std::sync::OnceLock::new();
    let [orig, keys, speaks, kill] = RES.get_or_init(|| {
        [
            regex::Regex::new(
                r"^test caller \(separate, untraced ESL connection\): (bgapi originate .+)$",
            )
            .unwrap(),
            regex::Regex::new(r"^test caller keys (\S+) \(uuid_send_dtmf on its own a-leg (\S+),")
                .unwrap(),
            regex::Regex::new(r"^test caller speaks: (uuid_broadcast \S+ \S+ \S+)").unwrap(),
            regex::Regex::new(r"^test caller hangs up: (uuid_kill \S+)").unwrap(),
        ]
    });
    if let Some(c) = orig.captures(note) {
        return Some(c[1].to_string());
    }
    if let Some(c) = keys.captures(note) {
        return Some(format!("api uuid_send_dtmf {} {}", &c[2], &c[1]));
    }
    if let Some(c) = speaks.captures(note) {
        return Some(format!("api {}", &c[1]));
    }
    kill.captures(note).map(|c| format!("api {}", &c[1]))
}

/// What a step of the joint replay does.
enum Act {
    /// a client message on the control connection
    In(String),
    /// contactd closes the control connection
    InEof,
    /// a message of contactd's outbound server
    Out(String),
    /// the outbound server closes its end
    OutEof,
    /// the test caller's command on its own connection
    Caller(String),
}

struct Step {
    /// on the control connection's clock
    t: f64,
    act: Act,
    /// messages of the switch that came before, on each connection
    need_in: usize,
    need_out: usize,
}

/// The outbound file's t=0 on the control file's clock (its first note says).
fn outbound_offset(outb: &[Msg]) -> f64 {
    let re = regex::Regex::new(r"this is t=([0-9.]+) in").unwrap();
    outb.iter()
        .filter_map(|m| m.note.as_deref())
        .find_map(|n| re.captures(n).and_then(|c| c[1].parse::<f64>().ok()))
        .unwrap_or(0.0)
}

/// Every step of both files and the caller's notes, in time order, each with how many of the
/// switch's messages preceded it on either connection.
fn steps(inb: &[Msg], outb: &[Msg]) -> Vec<Step> {
    let off = outbound_offset(outb);
    let fs_times = |msgs: &[Msg], skip_park: bool, off: f64| -> Vec<f64> {
        msgs.iter()
            .filter(|m| m.from == "fs" && !m.raw.is_empty() && counts(&parse(&m.raw), skip_park))
            .map(|m| m.t + off)
            .collect()
    };
    let (in_t, out_t) = (fs_times(inb, false, 0.0), fs_times(outb, true, off));
    let before = |ts: &[f64], t: f64| ts.iter().filter(|x| **x < t).count();
    let mut out = Vec::new();
    for (file, msgs, skip_park, shift) in [(0, inb, false, 0.0), (1, outb, true, off)] {
        let mut own = 0usize;
        for m in msgs {
            let t = m.t + shift;
            if m.from == "fs" && !m.raw.is_empty() {
                if counts(&parse(&m.raw), skip_park) {
                    own += 1;
                }
                continue;
            }
            let act = match (file, m.from.as_str(), m.raw.is_empty(), &m.note) {
                (0, "client", false, _) => Act::In(m.raw.clone()),
                (0, "client", true, _) => Act::InEof,
                (1, "client", false, _) => Act::Out(m.raw.clone()),
                (1, "client", true, _) => Act::OutEof,
                (0, "note", _, Some(n)) => match caller_command(n) {
                    Some(c) => Act::Caller(c),
                    None => continue,
                },
                _ => continue,
            };
            let (need_in, need_out) = if file == 0 {
                (own, before(&out_t, t))
            } else {
                (before(&in_t, t), own)
            };
            out.push(Step {
                t,
                act,
                need_in,
                need_out,
            });
        }
    }
    out.sort_by(|a, b| a.t.total_cmp(&b.t));
    out
}

/// Send a client message with the trace's uuids replaced by the simulator's.
async fn send_mapped(w: &mut Wire, wanted: &[Parsed], raw: &str) {
    let mut raw = raw.to_string();
    for (a, b) in &uuid_map(wanted, &w.parsed) {
        raw = raw.replace(a, b);
    }
    w.send(&raw).await;
}

fn wanted(msgs: &[Msg]) -> Vec<Parsed> {
    msgs.iter()
        .filter(|m| m.from == "fs" && !m.raw.is_empty())
        .map(|m| parse(&m.raw))
        .collect()
}

/// Replay a control file and its outbound file together, with the test caller's actions;
/// returns what the switch sent on each.
pub async fn run_paired(inb: &[Msg], outb: &[Msg]) -> (Vec<String>, Vec<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let socket = listener.local_addr().unwrap().to_string();
    let sim = contactd::sim::Simulator::start(sim_config(&[inb, outb], &socket))
        .await
        .unwrap();
    let mut accept = Some(tokio::spawn(async move {
        listener.accept().await.map(|(s, _)| s).ok()
    }));
    let mut w_in = Wire::new(TcpStream::connect(sim.esl_addr()).await.unwrap());
    let mut w_out: Option<Wire> = None;
    let mut caller = TcpStream::connect(sim.esl_addr()).await.unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let _ = caller.write_all(b"auth ClueCon\n\n").await;
    }
    let (want_in, want_out) = (wanted(inb), wanted(outb));
    let t0 = tokio::time::Instant::now();
    let mut t_prev = 0.0f64;
    for st in steps(inb, outb) {
        let gap = ((st.t - t_prev).max(0.0) * SCALE * 1.5) + 0.3;
        t_prev = st.t;
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(gap);
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
        w_in.until(st.need_in, left()).await;
        let wants_out = st.need_out > 0 || matches!(st.act, Act::Out(_) | Act::OutEof);
        if wants_out && w_out.is_none() {
            if let Some(a) = accept.take() {
                let wait = left().max(Duration::from_secs(5));
                if let Ok(Ok(Some(s))) = tokio::time::timeout(wait, a).await {
                    let mut w = Wire::new(s);
                    w.skip_park = true;
                    w_out = Some(w);
                }
            }
        }
        if let Some(w) = w_out.as_mut() {
            w.until(st.need_out, left()).await;
        }
        // and not before its (scaled) time
        tokio::time::sleep_until(t0 + Duration::from_secs_f64(st.t * SCALE)).await;
        match st.act {
            Act::In(raw) => send_mapped(&mut w_in, &want_in, &raw).await,
            Act::InEof => w_in.close().await,
            Act::Out(raw) => {
                if let Some(w) = w_out.as_mut() {
                    send_mapped(w, &want_out, &raw).await;
                }
            }
            Act::OutEof => {
                if let Some(w) = w_out.as_mut() {
                    w.close().await;
                }
            }
            Act::Caller(cmd) => {
                use tokio::io::AsyncWriteExt;
                let _ = caller.write_all(format!("{cmd}\n\n").as_bytes()).await;
            }
        }
    }
    // the rest of both files, at the same scaled pace
    let t_end = inb.iter().map(|m| m.t).fold(0.0f64, f64::max);
    let tail = ((t_end - t_prev).max(0.0) * SCALE * 1.5 + 0.3).max(1.5);
    let tail = Duration::from_secs_f64(tail);
    w_in.until(usize::MAX, tail).await;
    if let Some(w) = w_out.as_mut() {
        w.until(usize::MAX, Duration::from_millis(300)).await;
    }
    drop(caller);
    (w_in.got, w_out.map(|w| w.got).unwrap_or_default())
}
