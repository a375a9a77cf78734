//! A raw ESL client for the simulator tests: every message kept in order, events parsed
//! (URL-decoded headers), helpers to wait for a reply or an event.
#![allow(dead_code)]

pub mod raw;

use std::time::Duration;

use contactd::sim::Simulator;

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
    raw: raw::Client,
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
        let mut c = Client {
            raw: raw::Client::connect(sim).await,
            events: Vec::new(),
        };
        if !events.is_empty() {
            c.cmd(&format!("event {events}")).await;
        }
        c
    }

    /// `m` kept in `events` if it is an event (None), else handed back.
    fn keep(&mut self, m: String) -> Option<String> {
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

    /// Next message; events are kept in `events` and returned as None.
    async fn next(&mut self) -> Option<String> {
        let m = self.raw.next().await;
        self.keep(m)
    }

    pub async fn send(&mut self, c: &str) {
        self.raw.send(c).await;
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
        raw::body_of(&self.cmd(&format!("api {c}")).await)
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
        while let Ok(m) = tokio::time::timeout_at(deadline, self.raw.next()).await {
            self.keep(m);
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

/// A WAV file of `ms` written under `dir` (its directories made): its path.
pub fn wav(dir: &std::path::Path, name: &str, ms: u64) -> String {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    assert!(contactd::sim::media::write_wav(p.to_str().unwrap(), ms));
    p.display().to_string()
}

/// A simulator at `time_scale` with no heartbeat, its sounds under `dir`.
pub async fn quiet_sim(dir: &std::path::Path, time_scale: f64) -> contactd::sim::Simulator {
    contactd::sim::Simulator::start(contactd::sim::SimConfig {
        time_scale,
        heartbeat_ms: 0,
        sounds_dir: dir.display().to_string(),
        ..Default::default()
    })
    .await
    .unwrap()
}
