//! The outbound socket server's call tasks: a handler that panics is logged and counted out
//! (the server keeps taking calls, a drain still ends), and calls beyond `max_calls` are
//! refused at once instead of piling up. The simulator places the calls, as the switch's
//! `socket` application would.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use contactd::esl::outbound::{self, CallHandler, CallSession, CallTasks};
use contactd::sim::{InboundCall, SimConfig, Simulator, TrunkConfig, TrunkKind};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio_util::task::TaskTracker;

/// Panics on destination 666, holds the call on 777 until released, plays a prompt and
/// hangs up otherwise.
struct Scripted {
    release: Arc<Notify>,
    answered: AtomicUsize,
    panics: AtomicUsize,
}

impl CallHandler for Scripted {
    fn handle(&self, mut session: CallSession) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            match session.data.destination.as_str() {
                "666" => {
                    self.panics.fetch_add(1, Ordering::SeqCst);
                    panic!("scripted failure in a call handler")
                }
                "777" => {
                    let _ = session.execute("answer", "").await;
                    self.answered.fetch_add(1, Ordering::SeqCst);
                    self.release.notified().await;
                    session.finish("NORMAL_CLEARING").await;
                }
                _ => {
                    let _ = session.execute("answer", "").await;
                    self.answered.fetch_add(1, Ordering::SeqCst);
                    session.finish("NORMAL_CLEARING").await;
                }
            }
        })
    }
}

fn sim_config() -> SimConfig {
    SimConfig {
        time_scale: 0.05,
        heartbeat_ms: 0,
        // as mod_event_socket: a socket that closes ends the socket application's park
        socket_close_ends_park: true,
        trunks: vec![TrunkConfig {
            name: "1".into(),
            kind: TrunkKind::Freetdm,
            channels: 8,
        }],
        ..SimConfig::default()
    }
}

fn call(sim: &Simulator, addr: &str, dest: &str) -> String {
    sim.inbound_call(InboundCall {
        connect_to: addr.to_string(),
        destination: dest.into(),
        trunk: Some("1".into()),
        ..Default::default()
    })
    .unwrap()
}

async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Server {
    addr: String,
    live: Arc<AtomicUsize>,
    tasks: TaskTracker,
    stop: watch::Sender<bool>,
    serve: tokio::task::JoinHandle<()>,
    handler: Arc<Scripted>,
}

async fn server(max_calls: usize) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let live = Arc::new(AtomicUsize::new(0));
    let tasks = TaskTracker::new();
    let (stop, stop_rx) = watch::channel(false);
    let handler = Arc::new(Scripted {
        release: Arc::new(Notify::new()),
        answered: AtomicUsize::new(0),
        panics: AtomicUsize::new(0),
    });
    let serve = tokio::spawn(outbound::serve(
        listener,
        handler.clone(),
        stop_rx,
        CallTasks {
            live: live.clone(),
            tasks: tasks.clone(),
            max_calls,
        },
    ));
    Server {
        addr,
        live,
        tasks,
        stop,
        serve,
        handler,
    }
}

#[tokio::test]
async fn a_panicking_handler_is_counted_out_and_the_drain_still_ends() {
    let sim = Simulator::start(sim_config()).await.unwrap();
    let s = server(10).await;

    call(&sim, &s.addr, "666");
    until("the handler ran and panicked", || {
        s.handler.panics.load(Ordering::SeqCst) == 1
    })
    .await;
    until("the panicking call is counted out", || {
        s.tasks.is_empty() && s.live.load(Ordering::SeqCst) == 0
    })
    .await;

    // the server still takes calls after the panic, and runs them
    let next = call(&sim, &s.addr, "100");
    until("the next call is answered and ends", || {
        s.handler.answered.load(Ordering::SeqCst) == 1 && !sim.live_channels().contains(&next)
    })
    .await;
    let truth = sim.ground_truth();
    let heard = truth.iter().find(|r| r.uuid == next);
    assert!(
        heard.is_some_and(|r| r.answered),
        "the call after the panic was answered: {truth:?}"
    );

    // drain: stop accepting, the tracker empties, serve returns
    s.stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), s.serve)
        .await
        .expect("serve returns on shutdown")
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), s.tasks.wait())
        .await
        .expect("every call task ended");
    assert_eq!(s.live.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn calls_beyond_the_limit_are_refused_at_once() {
    let sim = Simulator::start(sim_config()).await.unwrap();
    let s = server(1).await;

    let held = call(&sim, &s.addr, "777");
    until("the first call is answered and held", || {
        s.handler.answered.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(s.live.load(Ordering::SeqCst), 1);

    // a second call while one is up: refused (its socket closed), never handled
    let refused = call(&sim, &s.addr, "100");
    until("the refused call ends at the switch", || {
        !sim.live_channels().contains(&refused)
    })
    .await;
    assert_eq!(s.handler.answered.load(Ordering::SeqCst), 1);
    assert_eq!(s.live.load(Ordering::SeqCst), 1);
    assert!(
        sim.live_channels().contains(&held),
        "the held call is untouched"
    );

    // once the held call ends, a new call is taken again
    s.handler.release.notify_one();
    until("the held call ends", || s.live.load(Ordering::SeqCst) == 0).await;
    call(&sim, &s.addr, "100");
    until("a call is taken again", || {
        s.handler.answered.load(Ordering::SeqCst) == 2
    })
    .await;
    s.stop.send(true).unwrap();
    s.tasks.wait().await;
}
