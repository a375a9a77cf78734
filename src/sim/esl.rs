//! One ESL connection (inbound, or the outbound socket FreeSWITCH opened):
//! auth, command parsing like mod_event_socket, subscriptions, api/bgapi with
//! the API and BACKGROUND_JOB events, sendmsg, and the write loop that queues
//! events behind a running synchronous `api` (events wait in a bounded queue).

use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::api::{self, Effect};
use super::core::{lock, Core, Ctl, DropOn, Sub};
use super::event::{Event, KNOWN_EVENTS, MYEVENTS};
use super::wire::{self, ClientCmd, CmdReader};

mod sendmsg;

/// Per-connection settings shared with the outbound socket app.
#[derive(Debug, Default)]
pub struct ConnShared {
    /// json events
    pub json: bool,
    /// linger: None = no, Some(-1) = for ever, Some(n) = n seconds
    pub linger: Option<i64>,
}

/// Marker header of a raw write queued through the event queue.
pub const RAW: &str = "__raw__";
/// Marker header: close after writing.
pub const CLOSE: &str = "__close__";

/// A raw message to write in order with events.
pub fn raw_msg(bytes: Vec<u8>, close: bool) -> Event {
    let mut e = Event::default();
    e.add(RAW, String::from_utf8_lossy(&bytes).to_string());
    if close {
        e.add(CLOSE, "1");
    }
    e
}

/// Outbound connection parameters: channel uuid, shared flags, listener id, queue, subscription.
pub type Outbound = (
    String,
    Arc<Mutex<ConnShared>>,
    u64,
    mpsc::Receiver<Arc<Event>>,
    Arc<Mutex<Sub>>,
);

/// Connection state.
pub struct Conn {
    core: Arc<Core>,
    wr: tokio::net::tcp::OwnedWriteHalf,
    authed: bool,
    sub: Arc<Mutex<Sub>>,
    /// shared flags
    pub shared: Arc<Mutex<ConnShared>>,
    /// outbound: controlled channel uuid
    pub outbound: Option<String>,
    listener_id: u64,
    /// the network dropped: nothing written reaches the client
    cut: bool,
}

impl Conn {
    async fn send(&mut self, b: &[u8]) -> bool {
        self.cut || self.wr.write_all(b).await.is_ok()
    }

    async fn reply(&mut self, t: &str) -> bool {
        self.send(&wire::command_reply(t, &[])).await
    }

    /// Serve a connection until it closes. `outbound`: the controlled channel,
    /// its shared flags and its pre-registered listener.
    pub fn serve(
        core: Arc<Core>,
        stream: TcpStream,
        outbound: Option<Outbound>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(Self::serve_inner(core, stream, outbound))
    }

    async fn serve_inner(core: Arc<Core>, stream: TcpStream, outbound: Option<Outbound>) {
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let mut reader = CmdReader::new(rd);
        let mut ctl = core.ctl.subscribe();
        let (lid, mut rx, sub, shared, ob_uuid) = match outbound {
            Some((u, sh, id, rx, sub)) => (id, rx, sub, sh, Some(u)),
            None => {
                let (id, rx, sub) = core.listen();
                (
                    id,
                    rx,
                    sub,
                    Arc::new(Mutex::new(ConnShared::default())),
                    None,
                )
            }
        };
        let mut c = Conn {
            core: core.clone(),
            wr,
            authed: ob_uuid.is_some(),
            sub,
            shared,
            outbound: ob_uuid,
            listener_id: lid,
            cut: false,
        };
        if c.outbound.is_none() && !c.send(b"Content-Type: auth/request\n\n").await {
            core.unlisten(lid);
            return;
        }
        loop {
            tokio::select! {
                cmd = reader.next() => {
                    let Some(cmd) = cmd else {
                        // the client closed its end: FreeSWITCH still says goodbye, then closes
                        let notice = match &c.outbound {
                            Some(u) => wire::disconnect_outbound(u),
                            None => wire::disconnect_goodbye(),
                        };
                        let _ = c.send(&notice).await;
                        break;
                    };
                    let read_at = std::time::Instant::now();
                    if let Some(d) = c.drop_armed(&cmd.line) {
                        if d.executed {
                            c.cut = true;
                            c.handle(cmd, read_at).await;
                        }
                        // the network is gone for every connection of the control link
                        let _ = core.ctl.send(Ctl::Drop);
                        break;
                    }
                    if !c.handle(cmd, read_at).await { break; }
                }
                ev = rx.recv() => {
                    let Some(ev) = ev else { break };
                    if let Some(raw) = ev.get(RAW) {
                        let close = ev.get(CLOSE).is_some();
                        if !c.send(raw.as_bytes()).await || close { break; }
                        continue;
                    }
                    let json = { lock(&c.shared).json };
                    let bytes = if json { ev.to_json() } else { ev.to_plain() };
                    if !c.send(&bytes).await { break; }
                }
                m = ctl.recv() => {
                    match m {
                        Ok(Ctl::Drop) | Ok(Ctl::Crash) => break,
                        Ok(Ctl::Shutdown) => {
                            // deliver what is queued first, then the notice
                            while let Ok(ev) = rx.try_recv() {
                                if ev.get(RAW).is_some() {
                                    continue;
                                }
                                let json = { lock(&c.shared).json };
                                let bytes = if json { ev.to_json() } else { ev.to_plain() };
                                if !c.send(&bytes).await { break; }
                            }
                            let _ = c.send(&wire::shutdown_notice()).await;
                            break;
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => break,
                    }
                }
            }
        }
        core.unlisten(lid);
        let _ = c.wr.shutdown().await;
    }

    /// The drop armed for this command of the control link, taken (it fires once).
    fn drop_armed(&self, line: &str) -> Option<DropOn> {
        if self.outbound.is_some() {
            return None;
        }
        let mut st = lock(&self.core.st);
        let hit = st
            .drop_on
            .as_ref()
            .is_some_and(|d| line.contains(&d.pattern));
        hit.then(|| st.drop_on.take()).flatten()
    }

    /// Handle one command (read off the socket at `read_at`); false = close the connection.
    async fn handle(&mut self, cmd: ClientCmd, read_at: std::time::Instant) -> bool {
        let line = cmd.line.clone();
        let (verb, rest) = match line.split_once(' ') {
            Some((v, r)) => (v.to_string(), r.trim().to_string()),
            None => (line.clone(), String::new()),
        };
        if verb == "exit" {
            if !self.reply("+OK bye").await {
                return false;
            }
            let notice = match &self.outbound {
                Some(u) => wire::disconnect_outbound(u),
                None => wire::disconnect_goodbye(),
            };
            let _ = self.send(&notice).await;
            return false;
        }
        if !self.authed {
            if verb == "auth" {
                if rest == *lock(&self.core.password) {
                    self.authed = true;
                    return self.reply("+OK accepted").await;
                }
                let _ = self.reply("-ERR invalid").await;
                let _ = self.send(&wire::disconnect_goodbye()).await;
                return false;
            }
            return self.reply("-ERR command not found").await;
        }
        match verb.as_str() {
            "auth" => self.reply("+OK accepted").await,
            "connect" if self.outbound.is_some() => {
                let u = self.outbound.clone().unwrap_or_default();
                let data = super::outbound::connect_reply(&self.core, &u);
                self.send(data.as_bytes()).await
            }
            "event" => {
                let mut it = rest.split_whitespace();
                let fmt = it.next().unwrap_or("plain");
                let json = fmt == "json";
                lock(&self.shared).json = json;
                {
                    // mod_event_socket: every word after CUSTOM names a subclass
                    let mut s = lock(&self.sub);
                    let mut custom = false;
                    for n in it {
                        if custom {
                            s.custom.insert(n.to_string());
                        } else if n == "ALL" {
                            s.all = true;
                        } else if KNOWN_EVENTS.contains(&n) {
                            s.names.insert(n.to_string());
                            custom = n == "CUSTOM";
                        }
                    }
                }
                let f = if json {
                    "json"
                } else if fmt == "xml" {
                    "xml"
                } else {
                    "plain"
                };
                self.reply(&format!("+OK event listener enabled {f}")).await
            }
            "noevents" => {
                {
                    let mut s = lock(&self.sub);
                    s.all = false;
                    s.names.clear();
                    s.custom.clear();
                }
                self.reply("+OK no longer listening for events").await
            }
            "nixevent" => {
                {
                    let mut s = lock(&self.sub);
                    for n in rest.split_whitespace() {
                        if n == "ALL" {
                            s.all = false;
                            s.names.clear();
                        } else {
                            s.names.remove(n);
                        }
                    }
                }
                self.reply("+OK events nixed").await
            }
            "filter" => {
                // mod_event_socket: `filter [add] <header> <value>`, `filter delete all`,
                // `filter delete <header> [<value>]` (without a value: every filter on it)
                let (k, v) = match rest.split_once(' ') {
                    Some((k, v)) => (k, Some(v)),
                    None => (rest.as_str(), None),
                };
                if k.eq_ignore_ascii_case("delete") {
                    if let Some(v) = v {
                        let (h, val) = match v.split_once(' ') {
                            Some((h, val)) => (h, Some(val)),
                            None => (v, None),
                        };
                        {
                            let filters = &mut lock(&self.sub).filters;
                            if h.eq_ignore_ascii_case("all") {
                                filters.clear();
                            } else {
                                filters.retain(|(n, x)| {
                                    !(n.eq_ignore_ascii_case(h) && val.is_none_or(|val| x == val))
                                });
                            }
                        }
                        let shown = val.unwrap_or("");
                        return self
                            .reply(&format!("+OK filter deleted. [{h}][{shown}]"))
                            .await;
                    }
                }
                let (k, v) = match (k, v) {
                    (k, Some(v)) if k.eq_ignore_ascii_case("add") => match v.split_once(' ') {
                        Some((k, v)) => (k, Some(v)),
                        None => (v, None),
                    },
                    kv => kv,
                };
                let Some(v) = v else {
                    return self.reply("-ERR invalid syntax").await;
                };
                lock(&self.sub).filters.push((k.to_string(), v.to_string()));
                self.reply(&format!("+OK filter added. [{k}]=[{v}]")).await
            }
            "myevents" => {
                let u = match &self.outbound {
                    Some(u) => u.clone(),
                    None => rest.split_whitespace().last().unwrap_or("").to_string(),
                };
                if u.is_empty() || self.core.chan(&u).is_none() {
                    return self.reply("-ERR invalid uuid").await;
                }
                {
                    let mut s = lock(&self.sub);
                    s.uuid = Some(u);
                    for n in MYEVENTS {
                        s.names.insert(n.to_string());
                    }
                }
                self.reply("+OK Events Enabled").await
            }
            "linger" => {
                let n = rest.parse::<i64>().ok().filter(|n| *n > 0);
                lock(&self.shared).linger = Some(n.unwrap_or(-1));
                match n {
                    Some(n) => self.reply(&format!("+OK will linger {n} seconds")).await,
                    None => self.reply("+OK will linger").await,
                }
            }
            "nolinger" => {
                lock(&self.shared).linger = None;
                self.reply("+OK will not linger").await
            }
            "log" => {
                self.reply(&format!(
                    "+OK log level {} [7]",
                    if rest.is_empty() { "debug" } else { &rest }
                ))
                .await
            }
            "nolog" => self.reply("+OK no longer logging").await,
            "divert_events" => self.reply("+OK events diverted").await,
            "api" => {
                self.core.log_api(read_at, format!("api {rest}"));
                let (c, a) = split_cmd(&rest);
                let (body, after, eff) = api::run(&self.core, &c, &a).await;
                let ok = self.send(&wire::api_response(&body)).await;
                fire_api_event(&self.core, &c, &a);
                after.start();
                if let Effect::Shutdown = eff {
                    super::lifecycle::spawn_shutdown(self.core.clone());
                }
                ok
            }
            "bgapi" => {
                self.core.log_api(read_at, format!("bgapi {rest}"));
                let job = cmd
                    .header("Job-UUID")
                    .map(str::to_string)
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                let ok = self
                    .send(&wire::command_reply(
                        &format!("+OK Job-UUID: {job}"),
                        &[("Job-UUID", &job)],
                    ))
                    .await;
                let core = self.core.clone();
                tokio::spawn(async move {
                    let (c, a) = split_cmd(&rest);
                    let (body, after, eff) = api::run(&core, &c, &a).await;
                    fire_api_event(&core, &c, &a);
                    let mut ev =
                        core.new_event("BACKGROUND_JOB", "mod_event_socket.c", "api_exec", 1572);
                    ev.add("Job-UUID", job);
                    ev.add("Job-Command", c);
                    if !a.is_empty() {
                        ev.add("Job-Command-Arg", a);
                    }
                    ev.body = Some(body);
                    core.fire(ev);
                    after.start();
                    if let Effect::Shutdown = eff {
                        super::lifecycle::spawn_shutdown(core.clone());
                    }
                });
                ok
            }
            "sendmsg" => self.sendmsg(&rest, &cmd, read_at).await,
            _ => self.reply("-ERR command not found").await,
        }
    }

    /// Listener id of this connection.
    pub fn listener(&self) -> u64 {
        self.listener_id
    }
}

/// The event a sendmsg becomes: `Command: <the command line>`, then its headers as sent.
fn command_headers(cmd: &ClientCmd) -> Vec<(String, String)> {
    let mut h = vec![("Command".to_string(), cmd.line.clone())];
    h.extend(cmd.headers.iter().cloned());
    h
}

fn split_cmd(s: &str) -> (String, String) {
    match s.split_once(' ') {
        Some((c, a)) => (c.to_string(), a.trim().to_string()),
        None => (s.trim().to_string(), String::new()),
    }
}

/// Fire the API event FreeSWITCH emits for every executed api command.
pub fn fire_api_event(core: &Arc<Core>, cmd: &str, arg: &str) {
    let mut ev = core.new_event(
        "API",
        "switch_loadable_module.c",
        "switch_api_execute",
        2954,
    );
    ev.add("API-Command", cmd);
    if !arg.is_empty() {
        ev.add("API-Command-Argument", arg);
    }
    core.fire(ev);
}
