//! `make bench`: prints `BENCH <name> <value> <unit>` lines.
//!
//! esl_event_path_ratio: the real plain-text events of `../shared/esl-traces` are streamed
//! over loopback TCP into (a) freeswitch-esl-tokio's parser alone and (b) the same parser
//! followed by contactd's event path (conversion, channel table, hand-off to the records
//! queue). The ratio is (b)'s events per second over (a)'s: 1.0 means contactd adds nothing.

use std::time::{Duration, Instant};

mod acd;
mod campaign;
mod dialing;
mod failover;
mod ivr;
mod kpi;
mod opcamp;
mod predictive;
#[path = "../tests/common/prompts.rs"]
mod prompts;
mod wallboard;

use contactd::esl::events::{EventPath, Routed};

// The allocator the `contactd` binary runs with (src/main.rs): the event path measured in
// this process, and the simulator beside it, allocate as the daemon does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use freeswitch_esl_tokio::EslClient;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// The `Event-Name` of a plain event's body, if contactd subscribes to it (the switch
/// sends nothing else on the control link; the traces also hold `event plain all` runs).
fn subscribed(raw: &str) -> bool {
    let name = raw
        .lines()
        .find_map(|l| l.strip_prefix("Event-Name: "))
        .unwrap_or_default();
    let mut words = contactd::esl::events::SUBSCRIBED_EVENTS.split_whitespace();
    if name == "CUSTOM" {
        let sub = raw
            .lines()
            .find_map(|l| l.strip_prefix("Event-Subclass: "))
            .unwrap_or_default()
            .replace("%3A", ":");
        return words.skip_while(|w| *w != "CUSTOM").any(|w| w == sub);
    }
    words.any(|w| w == name)
}

/// The same event as `event json` sends it: the body's headers percent-decoded into one
/// JSON object, the inner body under `_body`.
fn as_json(raw: &str) -> Vec<u8> {
    let body = raw.split_once("\n\n").map_or("", |(_, b)| b);
    let (headers, inner) = match body.split_once("\n\n") {
        Some((h, b)) => (h, b),
        None => (body, ""),
    };
    let mut obj = serde_json::Map::new();
    for line in headers.lines() {
        if let Some((k, v)) = line.split_once(": ") {
            let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
            obj.insert(k.to_string(), serde_json::Value::String(v.into_owned()));
        }
    }
    if !inner.is_empty() {
        obj.insert("_body".into(), serde_json::Value::String(inner.to_string()));
    }
    let json = serde_json::Value::Object(obj).to_string();
    format!(
        "Content-Length: {}\nContent-Type: text/event-json\n\n{json}",
        json.len()
    )
    .into_bytes()
}

/// The traces' plain events that contactd subscribes to, repeated to 200,000 events, as
/// one byte stream: plain as recorded, or converted to `event json`.
fn trace_events(json: bool) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/esl-traces");
    let mut events = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    entries.sort();
    let mut all = 0;
    for path in entries {
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["from"] == "fs" {
                if let Some(raw) = v["raw"].as_str() {
                    if raw.contains("Content-Type: text/event-plain") {
                        all += 1;
                        if subscribed(raw) {
                            events.push(if json {
                                as_json(raw)
                            } else {
                                raw.as_bytes().to_vec()
                            });
                        }
                    }
                }
            }
        }
    }
    assert!(!events.is_empty(), "no plain events in {dir}");
    let per = events.len();
    let mut stream = Vec::new();
    let mut n = 0;
    // BENCH_ESL_EVENTS: fewer events, for a run under callgrind (instruction counts)
    let want: usize = std::env::var("BENCH_ESL_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    while n < want {
        for e in &events {
            stream.extend_from_slice(e);
        }
        n += per;
    }
    eprintln!(
        "esl_event_path ({}): {per} of the traces' {all} plain events are subscribed; {n} events, {} MB",
        if json { "json" } else { "plain" },
        stream.len() / 1_000_000
    );
    stream
}

async fn feed(bytes: &'static [u8], with_contactd: bool) -> (usize, Duration) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let writer = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(bytes).await.unwrap();
        s.shutdown().await.unwrap();
    });
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let opts = freeswitch_esl_tokio::EslConnectOptions::new()
        .with_event_queue_size(50_000)
        .with_event_overflow(freeswitch_esl_tokio::EventOverflow::BlockFor(
            Duration::from_secs(5),
        ));
    let (_client, mut events) = EslClient::adopt_stream_with_options(stream, &[], opts).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(10_000);
    let consumer = tokio::spawn(async move {
        let mut n = 0usize;
        while rx.recv().await.is_some() {
            n += 1;
        }
        n
    });
    let start = Instant::now();
    let mut path = EventPath::default();
    let mut count = 0usize;
    while let Some(ev) = events.recv().await {
        let Ok(ev) = ev else { continue };
        count += 1;
        if with_contactd {
            if let Routed::Channel { event, .. } = path.handle(&ev) {
                let _ = tx.send(event).await;
            }
        } else {
            std::hint::black_box(&ev);
        }
    }
    let elapsed = start.elapsed();
    drop(tx);
    let _ = consumer.await;
    writer.await.unwrap();
    (count, elapsed)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // BENCH_ONLY=esl|ivr|campaign|utilisation|dialing|list2m|acd|kpi|wallboard|predictive|opcamp|failover runs one group (for working on it); default: all.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let run = |g: &str| only.is_empty() || only == g || (g == "ivr" && only == "ivr500");
    if run("esl") {
        esl_ratio(&rt);
    }
    if run("ivr") {
        let r = rt.block_on(ivr::ivr_500());
        println!("BENCH ivr_hash_to_command_p99_ms {:.2} ms", r.p99_ms);
        println!("BENCH ivr_cpu_per_call_ms {:.2} ms", r.cpu_per_call_ms);
        println!("BENCH ivr_peak_rss_mb {:.1} MB", r.peak_rss_mb);
        // BENCH_ONLY=ivr500 skips the minute-long 3,000-caller run
        if only != "ivr500" {
            let r = rt.block_on(ivr::ivr_3000());
            eprintln!("ivr_3000: {} of 3000 readings stored", r.completed);
            println!("BENCH ivr_3000_p99_ms {:.2} ms", r.p99_ms);
            println!("BENCH ivr_3000_cut_short {} flows", r.cut_short);
        }
    }
    // BENCH_ONLY=utilisation: the seed campaign's line utilisation alone (about 30 s).
    if run("campaign") || only == "utilisation" {
        let util = rt.block_on(campaign::line_utilisation());
        println!("BENCH line_utilisation_pct {util:.1} %");
    }
    if run("campaign") {
        let (import_s, rss_mb, _) =
            rt.block_on(campaign::list_dial(200_000, 120, Duration::from_secs(60)));
        println!("BENCH list_import_200k_s {import_s:.2} s");
        println!("BENCH list_dial_200k_peak_rss_mb {rss_mb:.1} MB");
    }
    // BENCH_ONLY=dialing: the dialer's rate; BENCH_ONLY=list2m: the 2,000,000-subscriber list.
    if run("campaign") || only == "dialing" {
        let (rate, n, missing) = rt.block_on(dialing::originates_per_s());
        assert_eq!(missing, 0, "originates without an attempt row");
        eprintln!("dialing: {n} originates");
        println!("BENCH originates_per_s {rate:.0} originates/s");
    }
    if run("campaign") || only == "list2m" {
        let (import_s, rss_mb, _) =
            rt.block_on(campaign::list_dial(2_000_000, 240, Duration::from_secs(60)));
        println!("BENCH list_import_2m_s {import_s:.2} s");
        println!("BENCH list_dial_2m_peak_rss_mb {rss_mb:.1} MB");
    }
    if run("acd") {
        let (p99, samples) = rt.block_on(acd::routing_ready_to_command());
        eprintln!("routing: {samples} operators made ready");
        println!("BENCH routing_ready_to_command_p99_ms {p99:.2} ms");
    }
    if run("kpi") {
        let (ms, queues, operators) = rt.block_on(kpi::month_query());
        eprintln!("kpi: {queues} queue rows, {operators} operator rows");
        println!("BENCH kpi_month_query_ms {ms:.0} ms");
    }
    if run("wallboard") {
        let (p99, samples) = rt.block_on(wallboard::event_to_screen());
        eprintln!("wallboard: {samples} callers arrived");
        println!("BENCH wallboard_event_to_screen_p99_ms {p99:.2} ms");
    }
    if run("predictive") {
        predictive::run();
    }
    if run("opcamp") {
        let (within, abandoned, connected) = rt.block_on(opcamp::abandon_message_within_2s());
        eprintln!("opcamp: {connected} connected, {abandoned} abandoned, {within} heard the message within 2 s");
        let pct = if abandoned == 0 {
            0.0
        } else {
            100.0 * within as f64 / abandoned as f64
        };
        println!("BENCH abandon_message_within_2s_pct {pct:.1} %");
    }
    if run("failover") {
        let worst = rt
            .block_on(failover::takeover_s())
            .into_iter()
            .fold(0.0, f64::max);
        println!("BENCH failover_takeover_s {worst:.2} s");
    }
}

fn esl_ratio(rt: &tokio::runtime::Runtime) {
    let rate = |runs: &[(usize, Duration)]| {
        runs.iter()
            .map(|(n, d)| *n as f64 / d.as_secs_f64())
            .fold(0.0f64, f64::max)
    };
    // `event json` instead of plain, measured the same way (contactd subscribes plain)
    let json: &'static [u8] = Box::leak(trace_events(true).into_boxed_slice());
    let json_runs: Vec<_> = (0..2).map(|_| rt.block_on(feed(json, true))).collect();
    let bytes: &'static [u8] = Box::leak(trace_events(false).into_boxed_slice());
    let mut parser = Vec::new();
    let mut full = Vec::new();
    // alternate runs so drift in machine load hits both sides alike; best of 3
    for _ in 0..3 {
        parser.push(rt.block_on(feed(bytes, false)));
        full.push(rt.block_on(feed(bytes, true)));
    }
    let (p, f) = (rate(&parser), rate(&full));
    eprintln!(
        "parser alone {p:.0} events/s, contactd event path {f:.0} events/s (plain); with event json {:.0} events/s",
        rate(&json_runs)
    );
    println!("BENCH esl_event_path_ratio {:.3} ratio", f / p);
    println!("BENCH esl_events_per_s {f:.0} events/s");
}
