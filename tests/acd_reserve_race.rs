//! ACD reservation against a real Redis, with two independent connections standing for two
//! contactd instances routing the same queue at once. Guards: no operator is offered two calls
//! at once, no call rings two operators, every call is answered exactly once, operators below
//! the skill level are never offered, the queue cap holds under concurrent arrivals, and calls
//! are offered in priority-then-arrival order (checked against the shared event clock).
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use contactd::core::acd::agent::Command;
use contactd::core::acd::routing::Need;
use contactd::store::acd::{AcdStore, Enqueued, Reservation};

use contactd::store::redis::LiveState;
use contactd::store::scratch::run_id;

const QUEUE: &str = "billing";
const SKILL: &str = "billing";
const MIN_LEVEL: u8 = 2;
const OPERATORS: usize = 20;
/// Operators from this index on have the skill below `MIN_LEVEL`: never to be offered.
const UNDERSKILLED_FROM: usize = 16;
const CALLERS: usize = 200;
const ROUNDS: usize = 3;

fn need(min_level: u8) -> Need<'static> {
    Need {
        skill: SKILL,
        min_level,
    }
}

fn redis_url() -> String {
    std::env::var("CONTACTD_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

/// A Redis prefix of this test's own, deleted even if the test panics.
struct Prefix(String);

impl Prefix {
    fn new() -> Self {
        Self(format!("contactd_test:{}:", run_id()))
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        let prefix = self.0.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(live) = LiveState::connect(&redis_url(), &prefix).await {
                    let _ = live.purge_prefix().await;
                }
            });
        })
        .join();
    }
}

/// One store per simulated contactd instance, each with its own connection.
async fn instances(prefix: &str, n: usize) -> Vec<AcdStore> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            AcdStore::connect(&redis_url(), prefix)
                .await
                .expect("Redis on 127.0.0.1:6379"),
        );
    }
    out
}

fn agent(i: usize) -> String {
    format!("op{i:02}")
}

/// Serving order: higher priority first, then earlier arrival.
fn order_key(priority: u8, seq: u64) -> (std::cmp::Reverse<u8>, u64) {
    (std::cmp::Reverse(priority), seq)
}

#[derive(Default)]
struct Log {
    /// Operator → call while ringing or talking, as the routers saw it.
    agent_busy: HashMap<String, String>,
    /// Calls currently ringing or talking.
    call_busy: HashSet<String>,
    violations: Vec<String>,
    /// call → (priority, arrival seq).
    arrivals: HashMap<String, (u8, u64)>,
    /// (event clock, call) of each offer.
    offers: Vec<(u64, String, String)>,
    /// call → event clocks at which it went back to the queue.
    requeues: HashMap<String, Vec<u64>>,
    finished: HashMap<String, u32>,
}

async fn route_until_done(
    store: AcdStore,
    log: Arc<Mutex<Log>>,
    clock: Arc<AtomicI64>,
    done: Arc<AtomicUsize>,
) {
    while done.load(Ordering::SeqCst) < CALLERS {
        let now = clock.fetch_add(1, Ordering::SeqCst);
        let Some(r) = store.reserve(QUEUE, need(MIN_LEVEL), now).await.unwrap() else {
            tokio::task::yield_now().await;
            continue;
        };
        {
            let mut l = log.lock().unwrap();
            if let Some(other) = l.agent_busy.insert(r.agent.clone(), r.call.clone()) {
                let v = format!("{} offered {} while holding {other}", r.agent, r.call);
                l.violations.push(v);
            }
            if !l.call_busy.insert(r.call.clone()) {
                let v = format!("{} offered to {} while already offered", r.call, r.agent);
                l.violations.push(v);
            }
            l.offers.push((r.offer, r.call.clone(), r.agent.clone()));
        }
        tokio::task::yield_now().await;
        // Every 7th offer rings out: the call must come back at the head, the operator missed.
        if r.offer % 7 == 0 {
            release(&store, &log, &clock, &r).await;
        } else {
            assert!(store.answer(&r, now + 1).await.unwrap(), "answer {r:?}");
            {
                let mut l = log.lock().unwrap();
                l.agent_busy.remove(&r.agent);
                l.call_busy.remove(&r.call);
                *l.finished.entry(r.call.clone()).or_default() += 1;
            }
            assert!(store.finish(&r.call, &r.agent, now + 2).await.unwrap());
            done.fetch_add(1, Ordering::SeqCst);
        }
        let idle = clock.fetch_add(1, Ordering::SeqCst);
        assert!(store
            .agent_command(&r.agent, Command::GoReady, idle)
            .await
            .unwrap());
    }
}

async fn release(store: &AcdStore, log: &Mutex<Log>, clock: &AtomicI64, r: &Reservation) {
    {
        // Forgotten before Redis frees them: afterwards another router may take either.
        let mut l = log.lock().unwrap();
        l.agent_busy.remove(&r.agent);
        l.call_busy.remove(&r.call);
    }
    let now = clock.fetch_add(1, Ordering::SeqCst);
    let at = store
        .release_missed(QUEUE, r, now)
        .await
        .unwrap()
        .expect("offer still current");
    log.lock()
        .unwrap()
        .requeues
        .entry(r.call.clone())
        .or_default()
        .push(at);
    assert_eq!(
        store.agent_state(&r.agent).await.unwrap().as_deref(),
        Some("missed")
    );
}

/// At each offer's moment, no waiting call may have come before the offered one.
fn check_order(l: &Log) {
    let mut offers_of: HashMap<&str, Vec<u64>> = HashMap::new();
    for (at, call, _) in &l.offers {
        offers_of.entry(call).or_default().push(*at);
    }
    // Waiting intervals per call: (arrival or requeue, next offer).
    let mut intervals: Vec<(&str, u64, u64)> = Vec::new();
    for (call, (_, seq)) in &l.arrivals {
        let mut starts = vec![*seq];
        starts.extend(l.requeues.get(call).into_iter().flatten());
        starts.sort_unstable();
        let mut ends = offers_of.get(call.as_str()).cloned().unwrap_or_default();
        ends.sort_unstable();
        assert_eq!(
            starts.len(),
            ends.len(),
            "{call}: each wait ends in an offer"
        );
        for (s, e) in starts.into_iter().zip(ends) {
            intervals.push((call, s, e));
        }
    }
    for (at, call, _) in &l.offers {
        let (p, s) = l.arrivals[call];
        for (other, start, end) in &intervals {
            if start < at && at < end {
                let (op, os) = l.arrivals[*other];
                assert!(
                    order_key(p, s) < order_key(op, os),
                    "{call} (priority {p}, seq {s}) offered at {at} while {other} \
                     (priority {op}, seq {os}) waited"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_never_double_offer_and_keep_the_order() {
    let prefix = Prefix::new();
    let stores = instances(&prefix.0, 2).await;
    let clock = Arc::new(AtomicI64::new(1_000));
    for i in 0..OPERATORS {
        let level = if i >= UNDERSKILLED_FROM {
            1
        } else {
            2 + (i % 2) as u8
        };
        let s = &stores[i % 2];
        s.set_skills(&agent(i), &[(SKILL, level), ("outage", 3)])
            .await
            .unwrap();
        s.agent_command(
            &agent(i),
            Command::LogIn,
            clock.fetch_add(1, Ordering::SeqCst),
        )
        .await
        .unwrap();
    }
    for round in 0..ROUNDS {
        let log = Arc::new(Mutex::new(Log::default()));
        let done = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for (k, store) in stores.iter().enumerate() {
            // Arrivals on each instance, interleaved with routing on both.
            let (store2, log2, clock2) = (store.clone(), log.clone(), clock.clone());
            tasks.push(tokio::spawn(async move {
                for i in (k..CALLERS).step_by(2) {
                    let call = format!("r{round}-c{i:03}");
                    let priority = (i % 3) as u8;
                    let now = clock2.fetch_add(1, Ordering::SeqCst);
                    match store2
                        .enqueue(QUEUE, &call, priority, 1_000, now)
                        .await
                        .unwrap()
                    {
                        Enqueued::Waiting { seq, .. } => {
                            log2.lock().unwrap().arrivals.insert(call, (priority, seq));
                        }
                        other => panic!("{call}: {other:?}"),
                    }
                    if i % 5 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            }));
            for _ in 0..2 {
                let (s, l, c, d) = (store.clone(), log.clone(), clock.clone(), done.clone());
                tasks.push(tokio::spawn(route_until_done(s, l, c, d)));
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        // Every task has ended: the log is ours alone.
        let l = Arc::into_inner(log).unwrap().into_inner().unwrap();
        assert!(
            l.violations.is_empty(),
            "round {round}: {:#?}",
            l.violations
        );
        assert_eq!(l.arrivals.len(), CALLERS);
        assert_eq!(l.finished.len(), CALLERS, "every call answered");
        assert!(
            l.finished.values().all(|&n| n == 1),
            "answered exactly once"
        );
        let misses: usize = l.requeues.values().map(Vec::len).sum();
        assert_eq!(
            l.offers.len(),
            CALLERS + misses,
            "offered once, plus once per miss"
        );
        assert!(misses > 0, "round {round} exercised missed rings");
        for (_, call, op) in &l.offers {
            let i: usize = op[2..].parse().unwrap();
            assert!(i < UNDERSKILLED_FROM, "{call} offered to underskilled {op}");
        }
        check_order(&l);
        assert!(stores[0].waiting(QUEUE).await.unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_cap_holds_under_concurrent_arrivals() {
    let prefix = Prefix::new();
    let stores = instances(&prefix.0, 3).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let s = stores[i % 3].clone();
        tasks.push(tokio::spawn(async move {
            s.enqueue(QUEUE, &format!("c{i}"), 0, 6, i as i64)
                .await
                .unwrap()
        }));
    }
    let mut counts = BTreeMap::new();
    for t in tasks {
        let kind = match t.await.unwrap() {
            Enqueued::Waiting { .. } => "waiting",
            Enqueued::Refused => "refused",
            Enqueued::AlreadyOffered => "offered",
        };
        *counts.entry(kind).or_insert(0) += 1;
    }
    assert_eq!(counts.get("waiting"), Some(&6));
    assert_eq!(counts.get("refused"), Some(&54));
    assert_eq!(stores[0].waiting(QUEUE).await.unwrap().len(), 6);
}

#[tokio::test]
async fn missed_ring_requeues_at_the_head_and_stale_events_change_nothing() {
    let prefix = Prefix::new();
    let s = instances(&prefix.0, 1).await.remove(0);
    s.set_skills("ann", &[(SKILL, 2)]).await.unwrap();
    for (call, priority) in [("a", 0), ("b", 1), ("c", 0)] {
        s.enqueue(QUEUE, call, priority, 6, 1).await.unwrap();
    }
    assert_eq!(s.waiting(QUEUE).await.unwrap(), ["b", "a", "c"]);
    assert_eq!(
        s.reserve(QUEUE, need(2), 2).await.unwrap(),
        None,
        "nobody ready"
    );
    assert!(s.agent_command("ann", Command::LogIn, 2).await.unwrap());
    let r = s.reserve(QUEUE, need(2), 3).await.unwrap().unwrap();
    assert_eq!((r.call.as_str(), r.agent.as_str()), ("b", "ann"));
    assert!(
        !s.agent_command("ann", Command::GoReady, 4).await.unwrap(),
        "ringing: not ready again"
    );
    assert!(!s.agent_command("ann", Command::TakeBreak, 4).await.unwrap());
    assert_eq!(
        s.enqueue(QUEUE, "b", 1, 6, 4).await.unwrap(),
        Enqueued::AlreadyOffered
    );
    assert!(s.release_missed(QUEUE, &r, 5).await.unwrap().is_some());
    assert_eq!(s.waiting(QUEUE).await.unwrap(), ["b", "a", "c"]);
    assert_eq!(
        s.agent_state("ann").await.unwrap().as_deref(),
        Some("missed")
    );
    assert_eq!(s.release_missed(QUEUE, &r, 6).await.unwrap(), None, "stale");
    assert!(
        !s.answer(&r, 6).await.unwrap(),
        "stale offer cannot be answered"
    );
    assert_eq!(
        s.reserve(QUEUE, need(2), 6).await.unwrap(),
        None,
        "missed is not ready"
    );
}
