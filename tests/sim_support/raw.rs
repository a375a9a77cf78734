//! A raw ESL connection to the simulator, as a client that speaks the wire by hand: the
//! simulator tests check its replies and events byte for byte, without contactd's adapter.

use std::collections::VecDeque;
use std::time::Duration;

use contactd::sim::Simulator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A raw ESL connection that keeps the events it reads while waiting for replies.
pub struct Client {
    /// The socket itself, for a test that reads or writes around the helpers.
    pub s: TcpStream,
    buf: Vec<u8>,
    events: VecDeque<String>,
}

impl Client {
    pub fn raw(s: TcpStream) -> Client {
        Client {
            s,
            buf: Vec::new(),
            events: VecDeque::new(),
        }
    }

    /// Inbound connection, authenticated, no events asked for.
    pub async fn connect(sim: &Simulator) -> Client {
        let s = TcpStream::connect(sim.esl_addr()).await.unwrap();
        let mut c = Client::raw(s);
        assert!(c.next().await.starts_with("Content-Type: auth/request"));
        assert!(c.cmd("auth ClueCon").await.contains("+OK accepted"));
        c
    }

    /// Inbound (control) connection, authenticated, with `event plain ALL`.
    pub async fn control(sim: &Simulator) -> Client {
        let s = TcpStream::connect(sim.esl_addr()).await.unwrap();
        let mut c = Client::raw(s);
        assert!(c.next().await.starts_with("Content-Type: auth/request"));
        assert!(c.cmd("auth ClueCon").await.contains("+OK accepted"));
        assert!(c
            .cmd("event plain ALL")
            .await
            .contains("+OK event listener"));
        c
    }

    /// Next whole message.
    pub async fn next(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let head = String::from_utf8_lossy(&self.buf[..i]).to_string();
                let n = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if self.buf.len() >= i + 2 + n {
                    let m = String::from_utf8_lossy(&self.buf[..i + 2 + n]).to_string();
                    self.buf.drain(..i + 2 + n);
                    return m;
                }
            }
            let mut tmp = vec![0u8; 65536]; // on the heap: futures stay small
            let k = tokio::time::timeout(TIMEOUT, self.s.read(&mut tmp))
                .await
                .expect("timeout reading from the simulator")
                .unwrap();
            assert!(k > 0, "eof");
            self.buf.extend_from_slice(&tmp[..k]);
        }
    }

    pub async fn send(&mut self, c: &str) {
        self.s
            .write_all(format!("{c}\n\n").as_bytes())
            .await
            .unwrap();
    }

    /// Send a command; its reply (events read meanwhile are kept).
    pub async fn cmd(&mut self, c: &str) -> String {
        self.send(c).await;
        loop {
            let m = self.next().await;
            if m.contains("Content-Type: text/event-plain") {
                self.events.push_back(m);
            } else {
                return m;
            }
        }
    }

    /// `api` and its body.
    pub async fn api(&mut self, c: &str) -> String {
        body_of(&self.cmd(&format!("api {c}")).await)
    }

    /// `bgapi`; the BACKGROUND_JOB body.
    pub async fn bgapi(&mut self, c: &str) -> String {
        let r = self.cmd(&format!("bgapi {c}")).await;
        let job = r
            .lines()
            .find_map(|l| l.strip_prefix("Job-UUID: "))
            .unwrap()
            .to_string();
        let ev = self
            .wait(&["Event-Name: BACKGROUND_JOB", &format!("Job-UUID: {job}")])
            .await;
        ev.split_once("\n\n")
            .and_then(|(_, b)| b.split_once("\n\n"))
            .map(|x| x.1.to_string())
            .unwrap_or_default()
    }

    /// `sendmsg <uuid>` execute.
    pub async fn execute(&mut self, uuid: &str, app: &str, arg: &str) -> String {
        self.cmd(&format!(
            "sendmsg {uuid}\ncall-command: execute\nexecute-app-name: {app}\nexecute-app-arg: {arg}"
        ))
        .await
    }

    /// The first event (kept or still to come) having every line in `has`; only it
    /// is consumed (events of different legs may come in either order).
    pub async fn wait(&mut self, has: &[&str]) -> String {
        let ok = |m: &str| has.iter().all(|h| m.lines().any(|l| l == *h));
        if let Some(i) = self.events.iter().position(|m| ok(m)) {
            return self.events.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no event with {has:?}"
            );
            let m = self.next().await;
            if ok(&m) {
                return m;
            }
            self.events.push_back(m);
        }
    }

    /// Read for `real` and keep what came; true if an event that came meanwhile had
    /// every line in `has`.
    pub async fn saw_within(&mut self, real: Duration, has: &[&str]) -> bool {
        let end = tokio::time::Instant::now() + real;
        let mut seen = false;
        while let Ok(m) = tokio::time::timeout_at(end, self.next()).await {
            seen |= has.iter().all(|h| m.lines().any(|l| l == *h));
            self.events.push_back(m);
        }
        seen
    }

    /// The events read meanwhile and not consumed by [`wait`](Self::wait).
    pub fn kept(&self) -> impl Iterator<Item = &String> {
        self.events.iter()
    }

    /// `sendmsg <uuid>` execute, which the switch must accept.
    pub async fn execute_ok(&mut self, uuid: &str, app: &str, arg: &str) {
        let r = self.execute(uuid, app, arg).await;
        assert!(r.contains("+OK"), "{r}");
    }

    /// Polls a channel variable until it has a value other than `_undef_`.
    pub async fn wait_var(&mut self, uuid: &str, var: &str) -> String {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let v = self.api(&format!("uuid_getvar {uuid} {var}")).await;
            if v != "_undef_" {
                return v;
            }
            assert!(tokio::time::Instant::now() < deadline, "{var} never set");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// What follows a message's header block (an `api/response`'s body).
pub fn body_of(m: &str) -> String {
    m.split_once("\n\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default()
}
