//! The inbound control connection to one FreeSWITCH node: auth, event subscription,
//! `api`/`bgapi` with job tracking, reconnect with backoff, and resync after every connect.
//!
//! ESL has no replay: events sent while disconnected are lost. So after every connect the
//! link asks `show channels as json` and replaces its channel table with the answer before
//! it trusts anything else; the app then reconciles Redis and PostgreSQL against it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use freeswitch_esl_tokio::{BgJobTracker, EslClient, EslError};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::debug;

use crate::config::SwitchConfig;
use crate::core::channels::{SnapshotRow, SwitchEvent};
use crate::core::switch_witness::{NotedEnd, Verdict, Witness};
use crate::esl::events::parse_show_channels;

mod session;

/// What a link reports to the rest of contactd, in order.
#[derive(Debug, Clone)]
pub enum NodeEvent {
    /// (Re)connected and resynced: `rows` is the switch's own channel list.
    Resynced {
        node: String,
        rows: Vec<SnapshotRow>,
        /// Just before `show channels` was asked: calls placed earlier and absent from
        /// `rows` ended unseen.
        taken_at: chrono::DateTime<chrono::Utc>,
    },
    Event {
        node: String,
        event: SwitchEvent,
    },
    Disconnected {
        node: String,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkStatus {
    Connecting,
    Connected,
    /// The switch refused the password: a config error, retried in case it is fixed there.
    AuthFailed(String),
    Down(String),
    Stopped,
}

impl LinkStatus {
    pub fn label(&self) -> &'static str {
        match self {
            LinkStatus::Connecting => "connecting",
            LinkStatus::Connected => "connected",
            LinkStatus::AuthFailed(_) => "auth_failed",
            LinkStatus::Down(_) => "down",
            LinkStatus::Stopped => "stopped",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("switch {0} is not connected")]
    NotConnected(String),
    #[error("switch {node}: {source}")]
    Esl {
        node: String,
        #[source]
        source: EslError,
    },
    #[error("switch {node} refused: {reply}")]
    Refused { node: String, reply: String },
    /// contactd refused to send it (a bad uuid, variable name or value): never retried.
    #[error("not sent to switch {node}: {what}")]
    Invalid { node: String, what: String },
    #[error("switch {0}: connection lost before the background job finished")]
    JobLost(String),
    #[error("switch {0}: background job did not finish in time")]
    JobTimeout(String),
}

impl LinkError {
    /// Worth trying again once the link is back.
    pub fn is_retryable(&self) -> bool {
        match self {
            LinkError::Invalid { .. } => false,
            LinkError::Esl { source, .. } => source.is_connection_error(),
            _ => true,
        }
    }
}

#[derive(Default)]
struct JobTable {
    /// The crate's tracker matches BACKGROUND_JOB (a global event) to our own bgapi only.
    waiting: BgJobTracker<oneshot::Sender<String>>,
    /// BACKGROUND_JOB that arrived before `bgapi` returned its Job-UUID to us.
    early: HashMap<String, String>,
}

/// Counters exported on `/metrics`.
#[derive(Default)]
pub struct LinkCounters {
    pub events: AtomicU64,
    pub connects: AtomicU64,
    pub auth_failures: AtomicU64,
    pub live_calls: AtomicUsize,
}

/// What a call's watcher receives.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    Switch(SwitchEvent),
    /// The control connection dropped: events of this call may have been missed.
    LinkLost,
}

/// Events of one channel, from registration until dropped. Register before the originate
/// so no event can be missed.
pub struct CallWatch {
    pub uuid: String,
    id: u64,
    rx: mpsc::UnboundedReceiver<WatchEvent>,
    /// Events already taken from `rx` by a look ([`CallWatch::answered_at_us`]), not yet
    /// received.
    looked: std::collections::VecDeque<WatchEvent>,
    /// The first PLAYBACK_START received (the switch's clock, µs since the epoch).
    playback_started_us: Option<i64>,
    shared: Arc<Shared>,
}

impl CallWatch {
    pub async fn recv(&mut self) -> Option<WatchEvent> {
        let ev = match self.looked.pop_front() {
            Some(ev) => Some(ev),
            None => self.rx.recv().await,
        };
        if let Some(WatchEvent::Switch(SwitchEvent::PlaybackStart { at_us, .. })) = &ev {
            self.playback_started_us.get_or_insert(*at_us);
        }
        ev
    }

    /// Leaves `ev` to be received first again: a reader that stops at a `LinkLost` it does
    /// not handle (a classifier) hands it to the follower that goes on with the call, which
    /// must look the call up, since events were lost while the link was down.
    pub fn put_back(&mut self, ev: WatchEvent) {
        self.looked.push_front(ev);
    }

    /// When the first playback on the channel started, among the events received so far
    /// (whoever received them): a wait that began late still knows it.
    pub fn playback_started_us(&self) -> Option<i64> {
        self.playback_started_us
    }

    /// When the switch answered the call (its clock, µs since the epoch), if that answer
    /// has arrived. Takes nothing away: every event looked at is still received.
    pub fn answered_at_us(&mut self) -> Option<i64> {
        while let Ok(ev) = self.rx.try_recv() {
            self.looked.push_back(ev);
        }
        self.looked.iter().find_map(|ev| match ev {
            WatchEvent::Switch(SwitchEvent::Answer { at_us, .. }) => Some(*at_us),
            _ => None,
        })
    }
}

impl Drop for CallWatch {
    fn drop(&mut self) {
        let mut w = self.shared.watchers.lock().expect("watchers lock");
        if let Some(list) = w.get_mut(&self.uuid) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                w.remove(&self.uuid);
            }
        }
    }
}

/// One registered watch: its id (to remove it on drop) and where its events go.
type Watcher = (u64, mpsc::UnboundedSender<WatchEvent>);

struct Shared {
    /// Several tasks may watch one channel (the ACD's caller task and an offer).
    watchers: Mutex<HashMap<String, Vec<Watcher>>>,
    next_watch: AtomicU64,
    name: String,
    cfg: SwitchConfig,
    client: Mutex<Option<EslClient>>,
    jobs: Mutex<JobTable>,
    status: watch::Sender<LinkStatus>,
    counters: LinkCounters,
    /// mod_freetdm's span alarms, to the trunk-health service.
    alarms: tokio::sync::broadcast::Sender<crate::core::trunks::AlarmEvent>,
    /// The channel uuids this link saw lately and since when it has been up without a
    /// break (`core::switch_witness`): proof that an attempt never reached the switch.
    witness: Mutex<Witness>,
}

/// How far back the witness keeps the uuids it saw, and at most how many.
const WITNESS_WINDOW_MIN: i64 = 15;
const WITNESS_CAP: usize = 200_000;
/// Clock slack between contactd instances and PostgreSQL (the attempt's `created_at`).
const WITNESS_SLACK_S: i64 = 2;

/// A cheap handle to one node's link.
#[derive(Clone)]
pub struct SwitchLink {
    shared: Arc<Shared>,
}

impl SwitchLink {
    /// Starts the link task; it runs until `shutdown` turns true.
    pub fn spawn(
        name: &str,
        cfg: SwitchConfig,
        sink: mpsc::Sender<NodeEvent>,
        shutdown: watch::Receiver<bool>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (status, _) = watch::channel(LinkStatus::Connecting);
        let shared = Arc::new(Shared {
            watchers: Mutex::new(HashMap::new()),
            next_watch: AtomicU64::new(1),
            name: name.to_string(),
            cfg,
            client: Mutex::new(None),
            jobs: Mutex::new(JobTable::default()),
            status,
            counters: LinkCounters::default(),
            alarms: tokio::sync::broadcast::channel(1024).0,
            witness: Mutex::new(Witness::new(
                chrono::Duration::minutes(WITNESS_WINDOW_MIN),
                WITNESS_CAP,
                chrono::Duration::seconds(WITNESS_SLACK_S),
            )),
        });
        let link = Self {
            shared: shared.clone(),
        };
        let task = tokio::spawn(session::run(shared, sink, shutdown));
        (link, task)
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    pub fn status(&self) -> LinkStatus {
        self.shared.status.borrow().clone()
    }

    pub fn watch_status(&self) -> watch::Receiver<LinkStatus> {
        self.shared.status.subscribe()
    }

    /// The span alarms this switch reports from now on (see `esl::span_alarm`).
    pub fn span_alarms(&self) -> tokio::sync::broadcast::Receiver<crate::core::trunks::AlarmEvent> {
        self.shared.alarms.subscribe()
    }

    pub fn counters(&self) -> &LinkCounters {
        &self.shared.counters
    }

    fn client(&self) -> Result<EslClient, LinkError> {
        self.shared
            .client
            .lock()
            .expect("client lock")
            .clone()
            .ok_or_else(|| LinkError::NotConnected(self.shared.name.clone()))
    }

    fn esl_err(&self, source: EslError) -> LinkError {
        LinkError::Esl {
            node: self.shared.name.clone(),
            source,
        }
    }

    /// What this link's record of the switch's channels says of `uuid` (not listed by the
    /// switch now), whose attempt row was committed at `attempt_at`; with `noted`, what the
    /// switch noted of its end (its originate carried the end-note hook), asked after the
    /// switch stopped listing it.
    pub fn witness(
        &self,
        uuid: &str,
        attempt_at: chrono::DateTime<chrono::Utc>,
        noted: Option<Option<NotedEnd>>,
    ) -> Verdict {
        let mut w = self.shared.witness.lock().expect("witness lock");
        w.evict(chrono::Utc::now());
        match noted {
            None => w.verdict(uuid, attempt_at),
            Some(end) => w.verdict_noted(uuid, attempt_at, end),
        }
    }

    /// Starts delivering the events of channel `uuid` to the returned watch.
    pub fn watch_call(&self, uuid: &str) -> CallWatch {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.shared.next_watch.fetch_add(1, Ordering::Relaxed);
        self.shared
            .watchers
            .lock()
            .expect("watchers lock")
            .entry(uuid.to_string())
            .or_default()
            .push((id, tx));
        CallWatch {
            uuid: uuid.to_string(),
            id,
            rx,
            looked: Default::default(),
            playback_started_us: None,
            shared: self.shared.clone(),
        }
    }

    /// After the link dropped: waits up to `limit` for it to be back, then asks whether the
    /// channel still exists. None: the link did not come back (or the question failed).
    pub async fn back_and_exists(&self, uuid: &str, limit: Duration) -> Option<bool> {
        let mut status = self.watch_status();
        let back = tokio::time::timeout(limit, async {
            status
                .wait_for(|s| *s == LinkStatus::Connected)
                .await
                .is_ok()
        })
        .await;
        if back != Ok(true) {
            return None;
        }
        self.exists(uuid).await.ok()
    }

    /// The switch's live channels now (`show channels as json`).
    pub async fn channels(&self) -> Result<Vec<SnapshotRow>, LinkError> {
        let body = self.api("show channels as json").await?;
        parse_show_channels(&body).map_err(|e| LinkError::Refused {
            node: self.shared.name.clone(),
            reply: e,
        })
    }

    /// Channel `uuid` as the switch lists it once the link is back (waited for up to
    /// `link_back`), or None when the switch has no such channel. A listing cut by another
    /// drop is asked again (5 times, 200 ms apart). Err says why the switch could not be
    /// asked: then nothing is known of the call. For a caller that lost sight of a call
    /// (a dropped link, a restart) and must not guess its fate.
    pub async fn find_channel(
        &self,
        uuid: &str,
        link_back: Duration,
    ) -> Result<Option<SnapshotRow>, String> {
        let mut tries = 0;
        loop {
            if !self.wait_connected(link_back).await {
                return Err(format!("switch still unreachable after {link_back:?}"));
            }
            match self.channels().await {
                Ok(rows) => return Ok(rows.into_iter().find(|r| r.uuid == uuid)),
                Err(e) if tries < 5 => {
                    debug!(uuid, "listing the switch's channels: {e}");
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(format!("cannot list the switch's channels: {e}")),
            }
        }
    }

    /// A channel variable; None when the channel or the variable does not exist.
    pub async fn getvar(&self, uuid: &str, var: &str) -> Result<Option<String>, LinkError> {
        let uuid = self.checked(uuid)?;
        if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(self.refused(format!("bad variable name {var:?}")));
        }
        let body = self
            .api(&freeswitch_esl_tokio::UuidGetVar::new(uuid.as_str(), var).to_string())
            .await?;
        let v = body.trim();
        Ok((!v.is_empty() && v != "_undef_" && !v.starts_with("-ERR")).then(|| v.to_string()))
    }

    /// Waits up to `limit` for the link to be connected (and resynced).
    pub async fn wait_connected(&self, limit: Duration) -> bool {
        let mut status = self.watch_status();
        tokio::time::timeout(limit, async {
            status
                .wait_for(|s| *s == LinkStatus::Connected)
                .await
                .is_ok()
        })
        .await
            == Ok(true)
    }

    /// `sendmsg <uuid>` execute with event-lock; returns the `Event-UUID` that comes back
    /// as `Application-UUID` in the application's EXECUTE_COMPLETE.
    pub async fn execute(&self, uuid: &str, app: &str, arg: &str) -> Result<String, LinkError> {
        crate::core::values::check_app_arg(arg)
            .map_err(|e| self.esl_err(EslError::protocol_error(e.to_string())))?;
        let app_uuid = uuid::Uuid::new_v4().to_string();
        let mut msg = freeswitch_esl_tokio::EslEvent::new();
        msg.set_header("call-command", "execute");
        msg.set_header("execute-app-name", app);
        if !arg.is_empty() {
            msg.set_header("execute-app-arg", arg);
        }
        msg.set_header("event-lock", "true");
        msg.set_header("Event-UUID", app_uuid.as_str());
        self.sendmsg(uuid, msg).await?;
        Ok(app_uuid)
    }

    /// `sendmsg <uuid>` hangup with `cause`.
    pub async fn hangup(
        &self,
        uuid: &str,
        cause: freeswitch_esl_tokio::HangupCause,
    ) -> Result<(), LinkError> {
        let mut msg = freeswitch_esl_tokio::EslEvent::new();
        msg.set_header("call-command", "hangup");
        msg.set_header("hangup-cause", cause.as_str());
        self.sendmsg(uuid, msg).await
    }

    async fn sendmsg(
        &self,
        uuid: &str,
        msg: freeswitch_esl_tokio::EslEvent,
    ) -> Result<(), LinkError> {
        let client = self.client()?;
        let reply = client
            .sendmsg(Some(uuid), msg)
            .await
            .map_err(|e| self.esl_err(e))?;
        if reply.is_success() {
            Ok(())
        } else {
            Err(LinkError::Refused {
                node: self.shared.name.clone(),
                reply: reply.reply_text().unwrap_or_default().to_string(),
            })
        }
    }

    /// `api <cmd>`: the body as FreeSWITCH sent it (`-ERR ...` bodies included).
    pub async fn api(&self, cmd: &str) -> Result<String, LinkError> {
        let client = self.client()?;
        let resp = client.api(cmd).await.map_err(|e| self.esl_err(e))?;
        Ok(resp.body().unwrap_or_default().to_string())
    }

    /// `bgapi <cmd>` and wait for its BACKGROUND_JOB body (`+OK <uuid>` / `-ERR CAUSE`).
    pub async fn bgapi(&self, cmd: &str, deadline: Duration) -> Result<String, LinkError> {
        let client = self.client()?;
        let resp = client.bgapi(cmd).await.map_err(|e| self.esl_err(e))?;
        let job = resp
            .job_uuid()
            .ok_or_else(|| {
                self.esl_err(EslError::protocol_error(format!(
                    "bgapi reply without Job-UUID: {:?}",
                    resp.reply_text()
                )))
            })?
            .to_string();
        let rx = {
            let mut jobs = self.shared.jobs.lock().expect("jobs lock");
            if let Some(body) = jobs.early.remove(&job) {
                return Ok(body);
            }
            let (tx, rx) = oneshot::channel();
            jobs.waiting.track(job.clone(), tx);
            rx
        };
        match tokio::time::timeout(deadline, rx).await {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(_)) => Err(LinkError::JobLost(self.shared.name.clone())),
            Err(_) => {
                self.shared
                    .jobs
                    .lock()
                    .expect("jobs lock")
                    .waiting
                    .cancel(&job);
                Err(LinkError::JobTimeout(self.shared.name.clone()))
            }
        }
    }
}
