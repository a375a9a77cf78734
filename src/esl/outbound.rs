//! The outbound socket server: FreeSWITCH's `socket <addr> async full` connects here, one
//! TCP connection per call. Each call gets a [`CallSession`] that executes applications with
//! `sendmsg` and waits for their EXECUTE_COMPLETE, and reports the caller hanging up at any
//! point as [`CallEnded::CallerHungUp`] instead of hanging forever.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use freeswitch_esl_tokio::{
    EslCommand, EslEvent, EslEventType, EslResponse, EslSession, EventFormat,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use crate::core::flow::OUTCOME_VARIABLES;
use crate::core::values::check_app_arg;
use crate::esl::events::{SOCKET_APP_NAME, SOCKET_FILE_PARAM};

/// Why a call's flow stopped before it finished.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallEnded {
    #[error("caller hung up")]
    CallerHungUp,
    /// The switch itself ended the call while it ran `app` (DESTINATION_OUT_OF_ORDER: a file
    /// `record` could not open, an application it does not have).
    #[error("the switch hung up the call during {app} {arg} ({cause})")]
    SwitchHungUp {
        app: String,
        arg: String,
        cause: String,
    },
    #[error("switch closed the call's socket: {0}")]
    Disconnected(String),
    #[error("no answer from the switch within {0:?}")]
    Timeout(Duration),
    #[error("refused to send: {0}")]
    Refused(String),
}

/// What `connect` told us about the call.
#[derive(Debug, Clone, Default)]
pub struct ChannelData {
    pub uuid: String,
    pub caller: String,
    pub destination: String,
    /// The `variable_contactd_*` headers (what contactd's dialplans set), without the
    /// `variable_` prefix: all contactd reads of the channel's variables.
    pub vars: HashMap<String, String>,
    /// When the switch created the channel (`Caller-Channel-Created-Time`, µs since the
    /// epoch, the switch's clock): the same across a reconnect, unlike the caller profile's.
    pub created_us: Option<i64>,
}

/// One call on the outbound socket.
pub struct CallSession {
    session: EslSession,
    pub data: ChannelData,
    hung_up: bool,
    /// Longest any single application may run before contactd gives up on it.
    pub step_timeout: Duration,
    /// The switch's clock at the last message read (`Event-Date-Timestamp`, µs).
    switch_now_us: Option<i64>,
    established: std::time::Instant,
}

/// What `myevents` enables and a call's flow never reads: everything but
/// CHANNEL_EXECUTE_COMPLETE and CHANNEL_HANGUP. CHANNEL_HANGUP_COMPLETE (the largest event
/// of a call, its CDR variables) is the control link's, which records the call's end.
pub const UNUSED_CALL_EVENTS: &str =
    "CHANNEL_HANGUP_COMPLETE CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE \
CHANNEL_ANSWER CHANNEL_EXECUTE CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_PROGRESS \
CHANNEL_PROGRESS_MEDIA CHANNEL_OUTGOING CHANNEL_ORIGINATE CHANNEL_UUID CHANNEL_PARK \
CHANNEL_UNPARK CHANNEL_APPLICATION CHANNEL_DATA DETECTED_SPEECH DTMF TALK NOTALK";

/// `arg` with the sources `app` plays marked as this socket's ([`SOCKET_FILE_PARAM`]): a
/// `playback`'s file, a `play_and_get_digits`' prompt and invalid-input file.
fn mark_sources(app: &str, arg: &str) -> String {
    let (k, v) = SOCKET_FILE_PARAM;
    let mark = |f: &str| {
        if f.is_empty() {
            String::new()
        } else {
            format!("{{{k}={v}}}{f}")
        }
    };
    match app {
        "playback" => mark(arg),
        "play_and_get_digits" => arg
            .split(' ')
            .enumerate()
            .map(|(i, part)| match i {
                5 | 6 => mark(part),
                _ => part.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => arg.to_string(),
    }
}

/// The `variable_*` headers whose name (without the prefix) `keep` accepts, without the
/// prefix. The connect reply and every completion are full channel dumps (a hundred-odd
/// variables) of which contactd reads a handful: copying them all was a map of owned
/// strings per step. For an event, read from its parsed headers as they are
/// (`iter_headers`): its map view is never built.
fn variables_of<'a>(
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    keep: impl Fn(&str) -> bool,
) -> HashMap<String, String> {
    headers
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("variable_")?;
            keep(name).then(|| (name.to_string(), v.to_string()))
        })
        .collect()
}

impl CallSession {
    /// `connect`, `myevents`, `nixevent`, `linger`: after this the session sees every event
    /// of its call it reads. The socket is read by the call's own task ([`EslSession`]): a
    /// call is one conversation of command, reply, completion, so a reader task handing
    /// each message over was a second wake-up per message for nothing.
    pub async fn establish(stream: TcpStream) -> Result<Self, CallEnded> {
        let mut session = EslSession::accept_outbound(stream);
        // `myevents` enables a fixed list of the call's events (mod_event_socket); a flow
        // reads only its applications' completions and the hang-up. Every other event
        // would be a full channel dump (hundreds of headers) parsed for nothing. Linger so
        // the hang-up's final events reach us before the socket closes. The switch reads a
        // connection's commands one at a time and answers each in turn, so the four go in
        // one write (`connect` first, as it must be): one round trip per call, not four.
        let replies = session
            .pipeline(&[
                EslCommand::Connect,
                EslCommand::MyEvents {
                    format: EventFormat::Plain.to_string(),
                    uuid: None,
                },
                EslCommand::NixEvent {
                    events: UNUSED_CALL_EVENTS.to_string(),
                },
                EslCommand::Linger {
                    timeout: Some(Duration::from_secs(10)),
                },
            ])
            .await
            .map_err(|e| CallEnded::Disconnected(e.to_string()))?;
        for r in &replies[1..] {
            if !r.is_success() {
                let text = r.reply_text().unwrap_or_default();
                return Err(CallEnded::Disconnected(format!("setup refused: {text}")));
            }
        }
        let resp = &replies[0];
        let get = |k: &str| resp.header(k).unwrap_or_default().to_string();
        let micros = |k: &str| resp.header(k).and_then(|v| v.parse::<i64>().ok());
        let data = ChannelData {
            uuid: get("Unique-ID"),
            caller: get("Caller-Caller-ID-Number"),
            destination: get("Caller-Destination-Number"),
            vars: variables_of(
                resp.headers().iter().map(|(k, v)| (k.as_str(), v.as_str())),
                |name| name.starts_with("contactd_"),
            ),
            created_us: micros("Caller-Channel-Created-Time").filter(|&t| t > 0),
        };
        Ok(Self {
            session,
            data,
            hung_up: false,
            step_timeout: Duration::from_secs(600),
            switch_now_us: micros("Event-Date-Timestamp"),
            established: std::time::Instant::now(),
        })
    }

    /// How long the call has existed: by the switch's own clock (the channel's creation
    /// and the last message read) where it sent both, so a caller who reconnected after
    /// contactd restarted counts from their first ring and no skew between the hosts'
    /// clocks enters; else since contactd took the call.
    pub fn age(&self) -> Duration {
        match (self.data.created_us, self.switch_now_us) {
            (Some(created), Some(now)) => {
                Duration::from_micros(u64::try_from(now - created).unwrap_or(0))
            }
            _ => self.established.elapsed(),
        }
    }

    pub fn hung_up(&self) -> bool {
        self.hung_up
    }

    async fn sendmsg(&mut self, msg: EslEvent) -> Result<EslResponse, CallEnded> {
        self.session
            .command(EslCommand::SendMsg {
                uuid: Some(self.data.uuid.clone()),
                event: msg,
            })
            .await
            .map_err(|e| CallEnded::Disconnected(e.to_string()))
    }

    /// Runs one dialplan application and waits until it completes: its
    /// `Application-Response` and those of its channel variables a flow reads
    /// ([`OUTCOME_VARIABLES`]).
    pub async fn execute(
        &mut self,
        app: &str,
        arg: &str,
    ) -> Result<(String, HashMap<String, String>), CallEnded> {
        if self.hung_up {
            return Err(CallEnded::CallerHungUp);
        }
        check_app_arg(arg).map_err(|e| CallEnded::Refused(e.to_string()))?;
        let app_uuid = uuid::Uuid::new_v4().to_string();
        let mut msg = EslEvent::new();
        msg.set_header("call-command", "execute");
        msg.set_header("execute-app-name", app);
        let arg = mark_sources(app, arg);
        if !arg.is_empty() {
            msg.set_header("execute-app-arg", arg.as_str());
        }
        msg.set_header("event-lock", "true");
        // Echoed back as Application-UUID, so we match our own completion only.
        msg.set_header("Event-UUID", app_uuid.as_str());
        msg.set_header("Event-UUID-Name", SOCKET_APP_NAME);
        let reply = self.sendmsg(msg).await?;
        if !reply.is_success() {
            let text = reply.reply_text().unwrap_or_default().to_string();
            if text.contains("invalid session") {
                self.hung_up = true;
                return Err(CallEnded::CallerHungUp);
            }
            return Err(CallEnded::Refused(text));
        }
        let deadline = self.step_timeout;
        let wait = async {
            loop {
                let ev = match self.session.recv().await {
                    Some(Ok(ev)) => ev,
                    Some(Err(e)) if e.is_recoverable() => continue,
                    Some(Err(e)) => return Err(CallEnded::Disconnected(e.to_string())),
                    None => return Err(CallEnded::Disconnected("socket closed".into())),
                };
                match ev.event_type() {
                    Some(EslEventType::ChannelExecuteComplete)
                        if ev.header_str("Application-UUID") == Some(app_uuid.as_str()) =>
                    {
                        if let Some(now) = ev
                            .header_str("Event-Date-Timestamp")
                            .and_then(|v| v.parse().ok())
                        {
                            self.switch_now_us = Some(now);
                        }
                        let response = ev
                            .header_str("Application-Response")
                            .unwrap_or_default()
                            .to_string();
                        let vars = variables_of(ev.iter_headers(), |name| {
                            OUTCOME_VARIABLES.contains(&name)
                        });
                        return Ok((response, vars));
                    }
                    Some(EslEventType::ChannelHangup) => {
                        self.hung_up = true;
                        let cause = ev.header_str("Hangup-Cause").unwrap_or_default();
                        if cause == "DESTINATION_OUT_OF_ORDER" {
                            return Err(CallEnded::SwitchHungUp {
                                app: app.to_string(),
                                arg: arg.clone(),
                                cause: cause.to_string(),
                            });
                        }
                        return Err(CallEnded::CallerHungUp);
                    }
                    _ => {}
                }
            }
        };
        match tokio::time::timeout(deadline, wait).await {
            Ok(r) => r,
            Err(_) => Err(CallEnded::Timeout(deadline)),
        }
    }

    /// Closes the socket and leaves the call up: it has been transferred out of the socket
    /// application (to the ACD's park) and is driven over the control link from now on.
    pub async fn release(mut self) {
        let _ = self.session.command(EslCommand::Exit).await;
        self.session.close().await;
    }

    /// Hangs up (if the caller has not) and closes the socket.
    pub async fn finish(mut self, cause: &str) {
        if !self.hung_up {
            let mut msg = EslEvent::new();
            msg.set_header("call-command", "hangup");
            msg.set_header("hangup-cause", cause);
            if let Err(e) = self.sendmsg(msg).await {
                debug!(uuid = %self.data.uuid, "hangup: {e}");
            }
            // Wait briefly for the hangup to be confirmed: a socket closed before it would
            // let the dialplan go on after `socket` (async full).
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while let Some(Ok(ev)) = self.session.recv().await {
                    if ev.event_type() == Some(EslEventType::ChannelHangup) {
                        break;
                    }
                }
            })
            .await;
        }
        // The channel is gone: nothing more is needed from the socket, so it is closed
        // rather than asked to `exit` (a command and its reply for nothing).
        self.session.close().await;
    }
}

/// What runs one call. Implemented by the app; tests may give their own.
pub trait CallHandler: Send + Sync + 'static {
    fn handle(
        &self,
        session: CallSession,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>;
}

/// Counts a call in progress for as long as its task lives, also when the handler panics.
struct LiveCall(Arc<AtomicUsize>);

impl LiveCall {
    fn new(live: &Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        LiveCall(live.clone())
    }
}

impl Drop for LiveCall {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Where the accepted calls go: `live` counts calls in progress (for drain and metrics),
/// `tasks` tracks their tasks (a drain waits on it), at most `max_calls` at once.
pub struct CallTasks {
    pub live: Arc<AtomicUsize>,
    pub tasks: TaskTracker,
    pub max_calls: usize,
}

/// Accepts calls until `shutdown`. A call beyond `max_calls` is refused by closing its socket
/// at once: the switch's `socket` application then returns and its dialplan goes on (for a
/// trunk call, `contactd-reconnect`: a beep and another try 2 s later, 15 times), instead of
/// the caller waiting on a daemon that is overloaded.
/// A panicking handler is logged with its call and never stops the server or a drain.
pub async fn serve(
    listener: TcpListener,
    handler: Arc<dyn CallHandler>,
    mut shutdown: watch::Receiver<bool>,
    calls: CallTasks,
) {
    let addr = listener.local_addr().ok();
    info!(
        ?addr,
        max_calls = calls.max_calls,
        "outbound socket server accepting calls"
    );
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        warn!("outbound accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if calls.live.load(Ordering::SeqCst) >= calls.max_calls {
                    warn!(%peer, max_calls = calls.max_calls, "outbound call refused: too many calls in progress");
                    drop(stream);
                    continue;
                }
                let handler = handler.clone();
                let live = LiveCall::new(&calls.live);
                calls.tasks.spawn(async move {
                    let _live = live;
                    let session = match CallSession::establish(stream).await {
                        Ok(session) => session,
                        Err(e) => {
                            warn!(%peer, "outbound call could not be established: {e}");
                            return;
                        }
                    };
                    let uuid = session.data.uuid.clone();
                    let run = std::panic::AssertUnwindSafe(handler.handle(session));
                    if let Err(panic) = futures_util::FutureExt::catch_unwind(run).await {
                        let what = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        error!(%peer, %uuid, "call handler panicked: {what}");
                    }
                });
            }
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    info!("outbound socket server: no new calls (draining)");
                    calls.tasks.close();
                    return;
                }
            }
        }
    }
}
