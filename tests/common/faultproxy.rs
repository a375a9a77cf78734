//! A TCP forwarder between contactd and a real server (PostgreSQL, Redis) that a test can
//! break on purpose, the way the server itself breaks in production:
//!
//! - [`FaultProxy::cut`]: the server stopped. Every live connection is closed at once and
//!   the port is closed (new connections are refused) until [`FaultProxy::restore`].
//! - [`FaultProxy::stall`]: the server is frozen (SIGSTOP, a stuck disk). Connections stay
//!   open and new ones are accepted, but not a byte moves either way until `restore`; what
//!   was sent meanwhile is delivered then, as the kernel's buffers would.
//! - [`FaultProxy::cut_on`]: the server stops just as a given command reaches it: the
//!   command is lost, then as `cut`.
//!
//! contactd is given [`FaultProxy::addr`] instead of the server's address; the test's own
//! checks go to the real server directly.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with traffic right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward both ways.
    Pass,
    /// Closed: live connections dropped, the port refuses new ones.
    Cut,
    /// Frozen: connections open, nothing forwarded.
    Stall,
}

type Trap = Arc<Mutex<Option<Vec<Vec<u8>>>>>;

pub struct FaultProxy {
    addr: SocketAddr,
    target: SocketAddr,
    mode: Arc<watch::Sender<Mode>>,
    /// `cut_on`'s armed patterns: all in one chunk from the client
    trap: Trap,
    accept: Mutex<Option<JoinHandle<()>>>,
    live: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
}

impl FaultProxy {
    /// Listens on `127.0.0.1:0`, forwarding to `target` (`127.0.0.1:5432`).
    pub async fn start(target: &str) -> FaultProxy {
        let target: SocketAddr = target.parse().expect("proxy target host:port");
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind the fault proxy");
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(Mode::Pass);
        let proxy = FaultProxy {
            addr,
            target,
            mode: Arc::new(mode),
            trap: Arc::default(),
            accept: Mutex::new(None),
            live: Arc::default(),
            accepted: Arc::default(),
        };
        proxy.spawn_accept(listener);
        proxy
    }

    /// A proxy in front of the PostgreSQL server `url` points at, and `url` rewritten to
    /// go through it (same user, database and parameters).
    pub async fn for_url(url: &str) -> (FaultProxy, String) {
        let (target, rewrite) = host_port(url);
        let proxy = FaultProxy::start(&target).await;
        let via = rewrite(&proxy.addr.to_string());
        (proxy, via)
    }

    /// Where contactd should connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn mode(&self) -> Mode {
        *self.mode.borrow()
    }

    /// Connections being forwarded (or held) right now.
    pub fn live_connections(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Connections accepted since start.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The server stops: every connection closed now, the port refused until `restore`.
    pub async fn cut(&self) {
        self.mode.send_replace(Mode::Cut);
        let h = self.accept.lock().unwrap().take();
        if let Some(h) = h {
            // the accept task drops the listener when it sees Cut: wait for the port to close
            let _ = h.await;
        }
        // every connection task closes its two sockets when it sees Cut
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while self.live_connections() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Arms a cut at the next chunk from a client that holds every one of `all_of`: that
    /// chunk is dropped (the command lost on the way), then everything goes as after `cut`.
    pub fn cut_on(&self, all_of: &[&str]) {
        *self.trap.lock().unwrap() = Some(all_of.iter().map(|p| p.as_bytes().to_vec()).collect());
    }

    /// Whether an armed `cut_on` has fired.
    pub fn cut_on_fired(&self) -> bool {
        self.trap.lock().unwrap().is_none() && self.mode() == Mode::Cut
    }

    /// The server freezes: nothing forwarded either way, connections (old and new) held open.
    pub fn stall(&self) {
        self.mode.send_replace(Mode::Stall);
    }

    /// Back to normal: after a stall, what was held is delivered; after a cut, the port
    /// accepts again (same address).
    pub async fn restore(&self) {
        let was = self.mode.send_replace(Mode::Pass);
        if was == Mode::Cut || self.accept.lock().unwrap().is_none() {
            let mut tries = 0;
            let listener = loop {
                match listen(self.addr).await {
                    Ok(l) => break l,
                    Err(e) if tries < 100 => {
                        tries += 1;
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(e) => panic!("fault proxy cannot listen on {} again: {e}", self.addr),
                }
            };
            self.spawn_accept(listener);
        }
    }

    fn spawn_accept(&self, listener: TcpListener) {
        let mut cut = self.mode.subscribe();
        let mode = self.mode.subscribe();
        let target = self.target;
        let live = self.live.clone();
        let accepted = self.accepted.clone();
        let trap = (self.trap.clone(), self.mode.clone());
        let h = tokio::spawn(async move {
            loop {
                tokio::select! {
                    r = listener.accept() => {
                        let Ok((client, _)) = r else { continue };
                        if *mode.borrow() == Mode::Cut {
                            break;
                        }
                        accepted.fetch_add(1, Ordering::SeqCst);
                        live.fetch_add(1, Ordering::SeqCst);
                        let rx = mode.clone();
                        let live = live.clone();
                        let trap = trap.clone();
                        tokio::spawn(async move {
                            forward(client, target, rx, trap).await;
                            live.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                    _ = cut.wait_for(|m| *m == Mode::Cut) => break,
                }
            }
            // listener dropped here: the port is closed
        });
        *self.accept.lock().unwrap() = Some(h);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.mode.send_replace(Mode::Cut);
        if let Some(h) = self.accept.lock().unwrap().take() {
            h.abort();
        }
    }
}

async fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let s = TcpSocket::new_v4()?;
    // the port is taken again right after a cut, while closed connections are in TIME_WAIT
    s.set_reuseaddr(true)?;
    s.bind(addr)?;
    s.listen(128)
}

/// One client connection: connects to the target (when not cut) and pumps both ways until
/// either side closes or the proxy is cut.
async fn forward(
    client: TcpStream,
    target: SocketAddr,
    mut mode: watch::Receiver<Mode>,
    trap: (Trap, Arc<watch::Sender<Mode>>),
) {
    let _ = client.set_nodelay(true);
    let server = tokio::select! {
        r = TcpStream::connect(target) => match r {
            Ok(s) => s,
            Err(_) => return,
        },
        _ = mode.wait_for(|m| *m == Mode::Cut) => return,
    };
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = pump(cr, sw, mode.clone(), Some(trap));
    let down = pump(sr, cw, mode.clone(), None);
    tokio::select! {
        _ = up => {}
        _ = down => {}
        _ = mode.wait_for(|m| *m == Mode::Cut) => {}
    }
    // both sockets dropped: the client sees the connection closed
}

/// Copies `from` to `to`, holding each chunk while the proxy is stalled; with `trap`, a
/// chunk that holds the armed patterns is dropped and the proxy cut.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
    trap: Option<(Trap, Arc<watch::Sender<Mode>>)>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // a frozen server reads nothing either: do not take more than one chunk
        if mode.wait_for(|m| *m == Mode::Pass).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if mode.wait_for(|m| *m == Mode::Pass).await.is_err() {
            return;
        }
        if let Some((armed, cut)) = &trap {
            let mut armed = armed.lock().unwrap();
            let chunk = &buf[..n];
            let hit = armed.as_ref().is_some_and(|ps| {
                ps.iter()
                    .all(|p| chunk.windows(p.len()).any(|w| w == p.as_slice()))
            });
            if hit {
                *armed = None;
                cut.send_replace(Mode::Cut);
                return;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// `host:port` of a `scheme://[user@]host:port/...` URL, and a function putting another
/// `host:port` in its place.
fn host_port(url: &str) -> (String, impl Fn(&str) -> String) {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[scheme_end..];
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host_start = rest[..auth_end].rfind('@').map_or(0, |i| i + 1);
    let target = rest[host_start..auth_end].to_string();
    let before = url[..scheme_end + host_start].to_string();
    let after = rest[auth_end..].to_string();
    (target, move |hp: &str| format!("{before}{hp}{after}"))
}
