//! A raw ESL client for the simulator tests: every message kept in order, events parsed
//! (URL-decoded headers), helpers to wait for a reply or an event.
#![allow(dead_code)]

pub mod raw;

use std::time::Duration;

use contactd::sim::Simulator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An event: its headers in order (values decoded) and its body.
#[derive(Debug, Clone)]
pub struct Ev {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Ev {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    pub fn name(&self) -> &str {
        self.get("Event-Name").unwrap_or("")
    }

    /// `Event-Name`, and for CHANNEL_EXECUTE(_COMPLETE) the application.
    pub fn key(&self) -> String {
        match (self.name(), self.get("Application")) {
            (n @ ("CHANNEL_EXECUTE" | "CHANNEL_EXECUTE_COMPLETE"), Some(a)) => format!("{n}({a})"),
            (n, _) => n.to_string(),
        }
    }

    pub fn uuid(&self) -> Option<&str> {
        self.get("Unique-ID")
    }
}

pub struct Client {
    s: TcpStream,
    buf: Vec<u8>,
    /// every event received, in order
    pub events: Vec<Ev>,
}

fn decode(v: &str) -> String {
    percent_encoding::percent_decode_str(v)
        .decode_utf8_lossy()
        .to_string()
}

fn headers(block: &str) -> Vec<(String, String)> {
    block
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), decode(v)))
        .collect()
}

impl Client {
    /// Connected and authenticated, subscribed to `events` (`plain ...`) if not empty.
    pub async fn connect(sim: &Simulator, events: &str) -> Client {
        let s = TcpStream::connect(sim.esl_addr()).await.unwrap();
        let mut c = Client {
            s,
            buf: Vec::new(),
            events: Vec::new(),
        };
        assert!(c.next_raw().await.starts_with("Content-Type: auth/request"));
        c.cmd("auth ClueCon").await;
        if !events.is_empty() {
            c.cmd(&format!("event {events}")).await;
        }
        c
    }

    async fn next_raw(&mut self) -> String {
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
            // on the heap: a 64 KiB array would sit in every future awaiting this one
            let mut tmp = vec![0u8; 65536];
            let k = tokio::time::timeout(Duration::from_secs(10), self.s.read(&mut tmp))
                .await
                .expect("nothing from the switch for 10 s")
                .unwrap();
            assert!(k > 0, "the switch closed the connection");
            self.buf.extend_from_slice(&tmp[..k]);
        }
    }

    /// Next message; events are kept in `events` and returned as None.
    async fn next(&mut self) -> Option<String> {
        let m = self.next_raw().await;
        let (head, body) = m.split_once("\n\n").unwrap_or((&m, ""));
        if head.contains("Content-Type: text/event-plain") {
            let (eh, eb) = body.split_once("\n\n").unwrap_or((body, ""));
            self.events.push(Ev {
                headers: headers(eh),
                body: eb.to_string(),
            });
            return None;
        }
        Some(m)
    }

    pub async fn send(&mut self, c: &str) {
        self.s
            .write_all(format!("{c}\n\n").as_bytes())
            .await
            .unwrap();
    }

    /// Send a command and return its reply (events meanwhile are kept).
    pub async fn cmd(&mut self, c: &str) -> String {
        self.send(c).await;
        loop {
            if let Some(m) = self.next().await {
                return m;
            }
        }
    }

    /// `api` and its body.
    pub async fn api(&mut self, c: &str) -> String {
        let m = self.cmd(&format!("api {c}")).await;
        m.split_once("\n\n")
            .map(|x| x.1.to_string())
            .unwrap_or_default()
    }

    /// `sendmsg <uuid>` execute `app arg` (event-lock, Event-UUID).
    pub async fn execute(&mut self, uuid: &str, app: &str, arg: &str) -> String {
        self.cmd(&format!(
            "sendmsg {uuid}\ncall-command: execute\nexecute-app-name: {app}\nexecute-app-arg: {arg}\nevent-lock: true\nEvent-UUID: {}",
            uuid::Uuid::new_v4()
        ))
        .await
    }

    /// Wait for an event (already received or coming) matching `f`; its index in `events`.
    pub async fn wait(&mut self, f: impl Fn(&Ev) -> bool) -> usize {
        let mut from = 0;
        loop {
            if let Some(i) = self.events[from..].iter().position(&f) {
                return from + i;
            }
            from = self.events.len();
            while self.next().await.is_some() {}
        }
    }

    /// Read whatever comes within `t`.
    pub async fn drain(&mut self, t: Duration) {
        let deadline = tokio::time::Instant::now() + t;
        while let Ok(m) = tokio::time::timeout_at(deadline, self.next_raw()).await {
            let (head, body) = m.split_once("\n\n").unwrap_or((&m, ""));
            if head.contains("Content-Type: text/event-plain") {
                let (eh, eb) = body.split_once("\n\n").unwrap_or((body, ""));
                self.events.push(Ev {
                    headers: headers(eh),
                    body: eb.to_string(),
                });
            }
        }
    }

    /// The events of one channel, as keys.
    pub fn keys_of(&self, uuid: &str) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e.uuid() == Some(uuid))
            .map(|e| e.key())
            .collect()
    }
}

/// Is it this event of this channel?
pub fn is(e: &Ev, key: &str, uuid: &str) -> bool {
    e.key() == key && e.uuid() == Some(uuid)
}
