//! Replays every real FreeSWITCH trace in `shared/esl-traces` (01-11) and
//! `shared/esl-traces/contactd` (25-30) against the simulator and compares what the
//! simulator sends with what FreeSWITCH sent.
//!
//! Replay is causal: a client message is sent once the simulator has produced as
//! many (non-noise) messages as preceded it in the trace, or after a timeout, and not
//! before its time in the trace (scaled by `SCALE`); a client's end of file is a
//! half-close. Outbound traces (09-11) are driven through `Simulator::inbound_call`
//! with the caller of extensions 541-544 as a script; the test plays the outbound
//! server. 08-* use the control API for the shutdown / kill / restart notes.
//!
//! The contactd captures (`replay_support/contactd.rs`) run against the switch they
//! were made on, given to the simulator as configuration: contactd's dialplans of the
//! captured commit, the test contexts and directory users, no sound packs, and the
//! files played, as virtual files of the lengths the captures show. A `-inbound` file
//! (contactd's control connection) is replayed together with its `-outbound` file (the
//! `socket` connection the switch opens to the test) and the untraced test caller of
//! the notes (its originate, keys, speech and hang-up on a third connection), all on
//! one clock: each step waits for what preceded it on both connections.
//!
//! Compared:
//! * command replies, api responses and disconnect notices, in order, after
//!   normalising UUIDs, numbers, dates and host values;
//! * events, per leg (legs keyed by Channel-Name and order of appearance, with
//!   the CHANNEL_UUID rename followed): the sequence of Event-Names, the values of
//!   the meaningful headers and the set of non-`variable_*` header names.
//!
//! Tolerances (where real FreeSWITCH varies, or a value is host/timing specific):
//! * CHANNEL_STATE / CHANNEL_CALLSTATE are compared as the set of states a leg
//!   went through, not by position (the README says they move around);
//! * CHANNEL_PARK of the outbound socket is optional (missing in some runs: 09-11,
//!   and 27 against 29);
//! * for an originated (outbound) leg, the call state of CS_INIT / CS_ROUTING /
//!   CS_CONSUME_MEDIA (answered before or after them: a FreeSWITCH thread race,
//!   both occur in the 03-* traces);
//! * PLAYBACK_STOP and CHANNEL_HANGUP may swap (both orders occur, trace 11);
//! * a loopback leg hung up by its partner may run on into its next application
//!   before its CHANNEL_HANGUP is fired (03-originate-answer-listened) or not
//!   (25, 26): two threads race, see `loopback_ran_on`;
//! * the interleaving of different legs and of API / BACKGROUND_JOB / CUSTOM events
//!   with channel events is not compared, only their own order;
//! * `variable_*` header names are not compared as a set (their presence depends
//!   on FreeSWITCH internals); the meaningful ones listed in `VALUE_HEADERS` are
//!   compared by value when the trace has them;
//! * `Channel-State-Number`, `Event-Calling-*`, sequence, dates, hosts are ignored.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use contactd::sim::{CallerStep, InboundCall, SimConfig, Simulator};

#[path = "replay_support/compare.rs"]
mod compare;
#[path = "replay_support/contactd.rs"]
mod contactd_replay;

use compare::{compare_events, compare_replies, leg_labels};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Known simulator gaps (NOT FreeSWITCH variance): differences the simulator
/// still has, reported on every run but not failing. Each is (file prefix, text
/// in the difference). Remove an entry once the simulator is fixed.
const KNOWN_GAPS: &[(&str, &str)] = &[];

#[derive(Debug, Clone)]
struct Msg {
    from: String,
    raw: String,
    conn: u32,
    note: Option<String>,
    t: f64,
}

fn traces_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/esl-traces")
}

fn load(path: &PathBuf) -> Vec<Msg> {
    let text = std::fs::read_to_string(path).expect("read trace");
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}:{}: bad json {e}", path.display(), i + 1));
        let from = v["from"].as_str().unwrap_or("").to_string();
        let conn = v["conn"].as_u64().unwrap_or(1) as u32;
        let raw = v["raw"].as_str().map(str::to_string);
        if let Some(r) = &raw {
            check_framing(r).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1));
        }
        out.push(Msg {
            from,
            raw: raw.unwrap_or_default(),
            conn,
            note: v["note"].as_str().map(str::to_string),
            t: v["t"].as_f64().unwrap_or(0.0),
        });
    }
    out
}

/// Header block, blank line, exactly Content-Length bytes.
fn check_framing(raw: &str) -> Result<(), String> {
    let Some(i) = raw.find("\n\n") else {
        return Err(format!("no blank line in {raw:?}"));
    };
    let head = &raw[..i];
    let body = &raw[i + 2..];
    let clen = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map(|v| v.parse::<usize>().map_err(|e| e.to_string()))
        .transpose()?;
    match clen {
        Some(n) if n != body.len() => Err(format!("Content-Length {n} != body {}", body.len())),
        None if !body.is_empty() => Err("body without Content-Length".into()),
        _ => Ok(()),
    }
}

fn parse_headers(block: &str) -> Vec<(String, String)> {
    block
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| {
            let dv = percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .to_string();
            (k.to_string(), dv)
        })
        .collect()
}

/// A parsed fs message: (outer headers, event headers if an event, body)
#[derive(Debug, Clone)]
struct Parsed {
    outer: Vec<(String, String)>,
    event: Option<Vec<(String, String)>>,
    body: String,
}

fn parse(raw: &str) -> Parsed {
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw, ""));
    let outer = parse_headers(head);
    let ct = outer
        .iter()
        .find(|(k, _)| k == "Content-Type")
        .map(|(_, v)| v.as_str());
    match ct {
        Some("text/event-plain") => {
            let (eh, eb) = body.split_once("\n\n").unwrap_or((body, ""));
            let mut hs = parse_headers(eh);
            hs.retain(|(k, _)| k != "Content-Length" || eb.is_empty());
            Parsed {
                outer,
                event: Some(hs),
                body: eb.to_string(),
            }
        }
        Some("text/event-json") => {
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            let mut hs = Vec::new();
            let mut eb = String::new();
            if let Some(o) = v.as_object() {
                for (k, x) in o {
                    if k == "_body" {
                        eb = x.as_str().unwrap_or("").to_string();
                    } else if k != "Content-Length" {
                        hs.push((k.clone(), x.as_str().unwrap_or("").to_string()));
                    }
                }
            }
            Parsed {
                outer,
                event: Some(hs),
                body: eb,
            }
        }
        _ => {
            if raw.starts_with("Event-Name: CHANNEL_DATA") {
                return Parsed {
                    outer: vec![
                        ("Content-Type".into(), "command/reply".into()),
                        ("Reply-Text".into(), "+OK\n".into()),
                    ],
                    event: Some(outer),
                    body: String::new(),
                };
            }
            Parsed {
                outer,
                event: None,
                body: body.to_string(),
            }
        }
    }
}

fn get<'a>(h: &'a [(String, String)], k: &str) -> Option<&'a str> {
    h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn is_noise(p: &Parsed) -> bool {
    matches!(
        p.event.as_ref().and_then(|e| get(e, "Event-Name")),
        Some("HEARTBEAT" | "RE_SCHEDULE" | "MODULE_UNLOAD")
    )
}

/// A connection reading whole messages.
struct Wire {
    s: TcpStream,
    buf: Vec<u8>,
    got: Vec<String>,
    /// `got`, parsed once (the replay maps uuids against it before every client message)
    parsed: Vec<Parsed>,
    /// how many of `got` count for causal replay (kept up to date by take_msgs)
    counted: usize,
    eof: bool,
    /// outbound: CHANNEL_PARK is racy (README), do not count it
    skip_park: bool,
}

/// Does this fs message count for causal replay?
fn counts(p: &Parsed, skip_park: bool) -> bool {
    !(is_noise(p) || skip_park && is_park(p))
}

fn is_park(p: &Parsed) -> bool {
    p.event.as_ref().and_then(|e| get(e, "Event-Name")) == Some("CHANNEL_PARK")
}

impl Wire {
    fn new(s: TcpStream) -> Self {
        Wire {
            s,
            buf: Vec::new(),
            got: Vec::new(),
            parsed: Vec::new(),
            counted: 0,
            eof: false,
            skip_park: false,
        }
    }

    fn take_msgs(&mut self) {
        loop {
            let Some(i) = self.buf.windows(2).position(|w| w == b"\n\n") else {
                return;
            };
            let head = String::from_utf8_lossy(&self.buf[..i]).to_string();
            let clen = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if self.buf.len() < i + 2 + clen {
                return;
            }
            let msg = String::from_utf8_lossy(&self.buf[..i + 2 + clen]).to_string();
            self.buf.drain(..i + 2 + clen);
            let p = parse(&msg);
            if counts(&p, self.skip_park) {
                self.counted += 1;
            }
            self.parsed.push(p);
            self.got.push(msg);
        }
    }

    /// Read until `n` non-noise messages have arrived or `t` passed.
    async fn until(&mut self, n: usize, t: Duration) {
        let deadline = tokio::time::Instant::now() + t;
        loop {
            self.take_msgs();
            // counted incrementally: re-parsing everything on every read made the
            // test hog the runtime's 2 worker threads the simulator runs on
            if self.counted >= n || self.eof {
                return;
            }
            let mut tmp = [0u8; 65536];
            match tokio::time::timeout_at(deadline, self.s.read(&mut tmp)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    self.eof = true;
                    return;
                }
                Ok(Ok(k)) => self.buf.extend_from_slice(&tmp[..k]),
                Err(_) => return,
            }
        }
    }

    async fn send(&mut self, raw: &str) {
        let _ = self.s.write_all(raw.as_bytes()).await;
    }

    /// Close the client's end (half-close: what the switch sends then is still read).
    async fn close(&mut self) {
        let _ = self.s.shutdown().await;
    }
}

/// Trace uuid -> simulator uuid, by leg (the last Unique-ID of each leg label).
fn uuid_map(want: &[Parsed], got: &[Parsed]) -> HashMap<String, String> {
    let last = |v: &[Parsed]| -> HashMap<String, String> {
        let evs: Vec<&[(String, String)]> = v.iter().filter_map(|p| p.event.as_deref()).collect();
        let mut m = HashMap::new();
        for (e, label) in evs.iter().zip(leg_labels(&evs)) {
            if let Some(u) = get(e, "Unique-ID") {
                m.insert(label, u.to_string());
            }
        }
        m
    };
    let (wl, gl) = (last(want), last(got));
    wl.iter()
        .filter_map(|(k, w)| gl.get(k).map(|g| (w.clone(), g.clone())))
        .collect()
}

/// Simulated time runs this much faster than the trace's real time.
const SCALE: f64 = 0.25;

/// The sound files of the README's `trace` setup, as virtual files of their real lengths:
/// the simulator refuses files that exist neither on disk nor in `media_ms`.
fn cfg() -> SimConfig {
    let mut media: HashMap<String, u64> = [
        ("/opt/fs-trace/sounds/hello.wav", 3000),
        ("/opt/fs-trace/sounds/short.wav", 1000),
        ("/opt/fs-trace/sounds/bad.wav", 1000),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // the words `say` uses (0.56-0.94 s each), under each language's sound prefix
    for (lang, ms) in [("en", 650), ("ru", 800)] {
        for w in ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
            .into_iter()
            .chain(["1f", "30", "200", "hundred", "thousand"])
        {
            media.insert(format!("/opt/fs-trace/sounds/{lang}/digits/{w}.wav"), ms);
        }
    }
    SimConfig {
        time_scale: SCALE,
        media_ms: media,
        // the capture machine's tree, where the traces record (nothing written here)
        disk_dirs: vec![contactd_replay::CAPTURE_TREE.into()],
        say_languages: [
            ("en", "/opt/fs-trace/sounds/en"),
            ("ru", "/opt/fs-trace/sounds/ru"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        heartbeat_ms: 0,
        hostname: "vm".into(),
        ..Default::default()
    }
}

/// Replay one connection's client messages; returns the sim's messages.
async fn replay_conn(msgs: &[Msg], mut w: Wire) -> Vec<String> {
    let mut fs_seen = 0usize;
    let mut t_prev = 0.0f64;
    let t0 = tokio::time::Instant::now();
    w.skip_park = msgs.iter().any(|m| m.raw.starts_with("connect"));
    let wanted: Vec<Parsed> = msgs
        .iter()
        .filter(|m| m.from == "fs" && !m.raw.is_empty())
        .map(|m| parse(&m.raw))
        .collect();
    for m in msgs {
        if m.from == "fs" && !m.raw.is_empty() && counts(&parse(&m.raw), w.skip_park) {
            fs_seen += 1;
        }
        if m.from == "client" {
            // wait for the causal count, at most the (scaled) time the trace took
            let gap = ((m.t - t_prev).max(0.0) * SCALE * 1.5) + 0.3;
            t_prev = m.t;
            w.until(fs_seen, Duration::from_secs_f64(gap)).await;
            // and not before its (scaled) time: the client may have paused with nothing
            // to wait for (a harness sleep before `show channels` after `hupall`)
            tokio::time::sleep_until(t0 + Duration::from_secs_f64(m.t * SCALE)).await;
            if std::env::var("TRACE_DEBUG").is_ok() {
                eprintln!(
                    "t={} real={:.3} scaled={:.3}: {} message {fs_seen} (have {}) before {:?}",
                    m.t,
                    t0.elapsed().as_secs_f64(),
                    m.t * SCALE,
                    if w.counted < fs_seen {
                        "waited in vain for"
                    } else {
                        "got"
                    },
                    w.counted,
                    m.raw.lines().next()
                );
            }
            if m.raw.is_empty() {
                // the client closed its end (contactd stopped without `exit`)
                w.close().await;
                continue;
            }
            let map = uuid_map(&wanted, &w.parsed);
            let mut raw = m.raw.clone();
            for (a, b) in &map {
                raw = raw.replace(a, b);
            }
            w.send(&raw).await;
        }
    }
    // the rest of the trace, at the same scaled pace (e.g. the notice 5.2 s after
    // `linger 5`), but at least 1.5 s
    let t_end = msgs.iter().map(|m| m.t).fold(0.0f64, f64::max);
    let tail = ((t_end - t_prev).max(0.0) * SCALE * 1.5 + 0.3).max(1.5);
    w.until(fs_seen, Duration::from_secs_f64(tail)).await;
    w.got
}

async fn run_inbound(msgs: &[Msg], cfg: SimConfig) -> Vec<String> {
    let sim = Simulator::start(cfg).await.unwrap();
    let s = TcpStream::connect(sim.esl_addr()).await.unwrap();
    replay_conn(msgs, Wire::new(s)).await
}

fn caller_for(file: &str) -> Vec<CallerStep> {
    use CallerStep::*;
    if file.contains("ivr-digits") {
        // the keys come 2 s into the prompt, whenever the prompt starts
        vec![
            WaitForAnswer,
            WaitForPrompt,
            WaitMs(1950),
            Dtmf("12345#".into()),
            WaitMs(30000),
            Hangup,
        ]
    } else if file.contains("ivr-timeout") {
        // silent; the server hangs up first (after 21 s)
        vec![WaitForAnswer, WaitMs(600_000), Hangup]
    } else if file.contains("record-say") {
        vec![
            WaitForAnswer,
            WaitMs(500),
            Speak(3000),
            WaitMs(60000),
            Hangup,
        ]
    } else if file.contains("caller-hangup") {
        vec![WaitForAnswer, WaitMs(1500), Hangup]
    } else {
        vec![WaitForAnswer, WaitMs(60000), Hangup]
    }
}

async fn run_outbound(file: &str, msgs: &[Msg]) -> Vec<String> {
    let sim = Simulator::start(cfg()).await.unwrap();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    sim.inbound_call(InboundCall {
        connect_to: addr,
        channel_name: Some("loopback/540-b".into()),
        caller_number: "5552000".into(),
        caller_name: "caller".into(),
        destination: "540".into(),
        script: caller_for(file),
        ..Default::default()
    })
    .unwrap();
    let (s, _) = tokio::time::timeout(Duration::from_secs(5), l.accept())
        .await
        .unwrap()
        .unwrap();
    replay_conn(msgs, Wire::new(s)).await
}

async fn run_08(file: &str, msgs: &[Msg]) -> Vec<String> {
    // conn 1 (events) + conn 2 (fsctl) + note actions + conn 3 after restart.
    let sim = Simulator::start(cfg()).await.unwrap();
    // the parked call that is up before the trace starts
    let ctl = TcpStream::connect(sim.esl_addr()).await.unwrap();
    let mut cw = Wire::new(ctl);
    cw.send("auth ClueCon\n\napi originate {origination_uuid=00000008-0000-4000-8000-000000000001}loopback/530/trace &park()\n\n").await;
    cw.until(3, Duration::from_secs(3)).await;
    let mut out = Vec::new();
    let mut conns: HashMap<u32, Wire> = HashMap::new();
    let mut per: HashMap<u32, Vec<Msg>> = HashMap::new();
    for m in msgs {
        per.entry(m.conn).or_default().push(m.clone());
    }
    for m in msgs {
        if let Some(n) = &m.note {
            if n.contains("kill -KILL") {
                sim.crash();
            } else if n.contains("kill -TERM") {
                sim.shutdown_graceful().await;
            } else if n.starts_with("FreeSWITCH restarted") {
                let _ = sim.restart().await;
            } else if n.contains("ConnectionRefusedError") {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if TcpStream::connect(sim.esl_addr()).await.is_ok() {
                    out.push(format!(
                        "ERR: connection accepted where FreeSWITCH refused ({n})"
                    ));
                }
            }
            continue;
        }
        if m.raw.is_empty() {
            continue;
        }
        if let std::collections::hash_map::Entry::Vacant(e) = conns.entry(m.conn) {
            match TcpStream::connect(sim.esl_addr()).await {
                Ok(s) => {
                    e.insert(Wire::new(s));
                }
                Err(_) => continue,
            }
        }
        if m.from == "client" {
            let w = conns.get_mut(&m.conn).unwrap();
            w.until(usize::MAX, Duration::from_millis(150)).await;
            let before = w.got.len();
            w.send(&m.raw).await;
            // let the reply (and the subscription it confirms) land before the next note
            let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
            while w.got.len() == before && !w.eof && tokio::time::Instant::now() < deadline {
                w.until(usize::MAX, Duration::from_millis(20)).await;
            }
            if m.raw.contains("fsctl shutdown") {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
    let mut keys: Vec<u32> = conns.keys().copied().collect();
    keys.sort();
    for k in keys {
        let w = conns.get_mut(&k).unwrap();
        w.until(usize::MAX, Duration::from_millis(300)).await;
        out.extend(w.got.clone());
    }
    let _ = file;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_all_traces() {
    let dir = traces_dir();
    assert!(dir.is_dir(), "trace directory {} is missing", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().map(|x| x == "jsonl").unwrap_or(false))
        // TRACE_ONLY=<substring>: replay only the matching traces (debugging)
        .filter(|p| match std::env::var("TRACE_ONLY") {
            Ok(f) => p.to_string_lossy().contains(&f),
            Err(_) => true,
        })
        .collect();
    // the captures made with contactd as the client
    let cdir = dir.join("contactd");
    assert!(
        cdir.is_dir(),
        "trace directory {} is missing",
        cdir.display()
    );
    files.extend(
        std::fs::read_dir(&cdir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().map(|x| x == "jsonl").unwrap_or(false))
            // an outbound capture is replayed with its control connection's
            .filter(|p| !p.to_string_lossy().ends_with("-outbound.jsonl"))
            .filter(|p| match std::env::var("TRACE_ONLY") {
                Ok(f) => p.to_string_lossy().contains(&f),
                Err(_) => true,
            }),
    );
    files.sort_by_key(|p| p.file_name().map(|n| n.to_os_string()));
    assert!(!files.is_empty(), "no traces in {}", dir.display());
    // a few traces at a time: the replay is timing-sensitive on 2 cores
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(6));
    let mut handles = Vec::new();
    for f in files {
        let slots = slots.clone();
        let from_contactd = f.parent() == Some(cdir.as_path());
        handles.push(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await.unwrap();
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            let msgs = load(&f);
            let paired = f.with_file_name(name.replace("-inbound.jsonl", "-outbound.jsonl"));
            let runs: Vec<(String, Vec<Msg>, Vec<String>)> = if name.starts_with("08") {
                let got = run_08(&name, &msgs).await;
                vec![(name, msgs, got)]
            } else if name.starts_with("09") || name.starts_with("10") || name.starts_with("11") {
                let got = run_outbound(&name, &msgs).await;
                vec![(name, msgs, got)]
            } else if name.ends_with("-inbound.jsonl") && paired.is_file() {
                let out_name = paired.file_name().unwrap().to_string_lossy().to_string();
                let out_msgs = load(&paired);
                let (got_in, got_out) = contactd_replay::run_paired(&msgs, &out_msgs).await;
                vec![(name, msgs, got_in), (out_name, out_msgs, got_out)]
            } else if from_contactd {
                let cfg = contactd_replay::sim_config(&[&msgs], "127.0.0.1:9");
                let got = run_inbound(&msgs, cfg).await;
                vec![(name, msgs, got)]
            } else {
                let got = run_inbound(&msgs, cfg()).await;
                vec![(name, msgs, got)]
            };
            runs.into_iter()
                .map(|(name, msgs, got)| compare(&name, &msgs, got))
                .collect::<Vec<_>>()
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        for (name, errs) in h.await.unwrap() {
            println!("{name}: {} difference(s)", errs.len());
            all.extend(errs);
        }
    }
    for e in &all {
        println!("{e}");
    }
    assert!(
        all.is_empty(),
        "{} differences between the simulator and the traces (see above)",
        all.len()
    );
}

/// What the simulator sent on one connection against what FreeSWITCH sent in `msgs`.
fn compare(name: &str, msgs: &[Msg], got: Vec<String>) -> (String, Vec<String>) {
    let name = name.to_string();
    if let Ok(dir) = std::env::var("TRACE_DUMP") {
        // TRACE_DUMP=<dir>: what the simulator sent, one message a line (debugging)
        let lines: Vec<String> = got
            .iter()
            .map(|r| serde_json::json!({"t": 0.0, "from": "fs", "raw": r}).to_string())
            .collect();
        let _ = std::fs::write(format!("{dir}/{name}.sim"), lines.join("\n"));
    }
    let want: Vec<Parsed> = msgs
        .iter()
        .filter(|m| m.from == "fs" && !m.raw.is_empty())
        .map(|m| parse(&m.raw))
        .filter(|p| !is_noise(p))
        .collect();
    let got_raw = got;
    let got: Vec<Parsed> = got_raw
        .iter()
        .filter(|r| !r.starts_with("ERR: "))
        .map(|r| parse(r))
        .filter(|p| !is_noise(p))
        .collect();
    let mut errs: Vec<String> = got_raw
        .iter()
        .filter(|r| r.starts_with("ERR: "))
        .map(|r| format!("{name}: {r}"))
        .collect();
    if !name.starts_with("08") {
        compare_replies(&name, &want, &got, &mut errs);
    }
    let client_api: Vec<String> = msgs
        .iter()
        .filter(|m| m.from == "client")
        .filter_map(|m| {
            let l = m.raw.lines().next().unwrap_or("");
            l.strip_prefix("api ")
                .or(l.strip_prefix("bgapi "))
                .map(str::to_string)
        })
        .collect();
    compare_events(&name, &want, &got, &client_api, &mut errs);
    let known: Vec<String> = errs
        .iter()
        .filter(|e| {
            KNOWN_GAPS
                .iter()
                .any(|(f, k)| e.starts_with(f) && e.contains(k))
        })
        .cloned()
        .collect();
    errs.retain(|e| !known.contains(e));
    for k in known {
        println!("KNOWN SIMULATOR GAP (not failing): {k}");
    }
    (name, errs)
}
