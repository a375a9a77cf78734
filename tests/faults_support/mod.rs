//! Shared by the fault tests (`faults_pg`, `faults_link`, `faults_redis`): contactd as a
//! subprocess pointed at the simulator (and, where a test breaks a store, at a
//! [`FaultProxy`](crate::common::faultproxy::FaultProxy) instead of the real server), campaigns
//! created straight in PostgreSQL, and the checks every fault must pass — read from the
//! simulator's ground truth first, then from PostgreSQL (the real server, never the proxy).
//!
//! Every check adds to [`Findings`] rather than stopping at the first problem, so one failed
//! run names everything that went wrong, with the numbers and uuids involved.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use contactd::config::Config;
use contactd::sim::{PartyRecord, Simulator};
use contactd::store::campaigns::{Campaigns, NewCampaign};
use deadpool_postgres::Pool;

use crate::common::{self, TestEnv};

/// What contactd is started with.
pub struct DaemonOpts<'a> {
    pub env: &'a TestEnv,
    pub sim: &'a Simulator,
    /// `[postgres] url`: the scratch database, directly or through a proxy
    pub pg_url: String,
    /// `[redis] url`: the real server, directly or through a proxy
    pub redis_url: String,
    /// channels of trunk `e1` as contactd knows it (dials `freetdm/1/a/{number}`)
    pub trunk_channels: u32,
    /// `reconnect_min_ms`, `reconnect_max_ms` of the control link (real ms)
    pub reconnect_ms: (u64, u64),
}

impl<'a> DaemonOpts<'a> {
    /// Straight to the test's database and the real Redis, a 30-channel trunk, the link
    /// redialed after 100 ms to 1 s.
    pub fn new(env: &'a TestEnv, sim: &'a Simulator) -> Self {
        Self {
            env,
            sim,
            pg_url: env.db_url().to_string(),
            redis_url: common::redis_url(),
            trunk_channels: 30,
            reconnect_ms: (100, 1000),
        }
    }
}

/// contactd running as its own process (as in production), its log kept in a file and
/// printed when the test fails.
pub struct Daemon {
    child: Option<tokio::process::Child>,
    pub http: u16,
    pub config: Config,
    cfg_path: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    pub async fn start(o: DaemonOpts<'_>) -> Daemon {
        Self::start_with(o, "").await
    }

    /// [`Daemon::start`] with `extra` TOML (sections the base config has not) appended.
    pub async fn start_with(o: DaemonOpts<'_>, extra: &str) -> Daemon {
        Self::start_named(o, "contactd-1", extra).await
    }

    /// [`Daemon::start_with`] as `[daemon] instance = instance` (several instances sharing
    /// Redis and PostgreSQL, each with its own spool).
    pub async fn start_named(o: DaemonOpts<'_>, instance: &str, extra: &str) -> Daemon {
        Self::start_edited(o, instance, extra, |t| t).await
    }

    /// [`Daemon::start_named`] with the config text passed through `edit` first (a test that
    /// needs keys in a section the base config already has, e.g. `[redis] sentinels`).
    pub async fn start_edited(
        o: DaemonOpts<'_>,
        instance: &str,
        extra: &str,
        edit: impl Fn(String) -> String,
    ) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let http = common::smtp::free_port();
        let text = format!(
            r#"
[switch.fs1]
host = "127.0.0.1"
port = {esl}
password = "ClueCon"
reconnect_min_ms = {reconnect_min}
reconnect_max_ms = {reconnect_max}
[trunk.e1]
switch = "fs1"
kind = "e1"
channels = {channels}
dial = "freetdm/1/a/{{number}}"
[outbound]
listen = "127.0.0.1:0"
[http]
listen = "127.0.0.1:{http}"
token = "test-token-0123456789"
[redis]
url = "{redis}"
prefix = "{prefix}"
[postgres]
url = "{pg}"
pool_size = 4
[shutdown]
grace_seconds = 1
[campaigns]
trunk = "e1"
[prompts]
dir = "{prompts}"
language = "en"
"#,
            prompts = common::prompts::dir().display(),
            esl = o.sim.esl_addr().port(),
            channels = o.trunk_channels,
            reconnect_min = o.reconnect_ms.0,
            reconnect_max = o.reconnect_ms.1,
            redis = o.redis_url,
            prefix = o.env.prefix,
            pg = o.pg_url,
        ) + extra;
        let text = crate::common::guard::for_sim(&edit(text), o.sim);
        // the write spool in the test's own directory, where this contactd has one
        let spool = dir.path().join("spool");
        std::fs::create_dir_all(&spool).unwrap();
        let with_spool = format!(
            "[daemon]\ninstance = \"{instance}\"\nspool_dir = \"{}\"\n{text}",
            spool.display()
        );
        let text = if Config::from_toml(&with_spool).is_ok() {
            with_spool
        } else {
            text
        };
        let cfg_path = dir.path().join("contactd.toml");
        std::fs::write(&cfg_path, &text).unwrap();
        let config = Config::from_toml(&text).expect("test config");
        let log = dir.path().join("contactd.log");
        let mut d = Daemon {
            child: None,
            http,
            config,
            cfg_path,
            log,
            _dir: dir,
        };
        d.restart().await;
        d
    }

    /// Starts the process (again, after [`Daemon::kill`] or [`Daemon::stop`]) with the same
    /// config and spool, its log appended to the same file; waits until it is healthy.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "contactd is still running");
        let child = common::daemon::spawn_logged(&self.cfg_path, &self.log);
        self.child = Some(child);
        assert!(
            common::eventually(Duration::from_secs(30), || healthy(self.http)).await,
            "contactd did not become healthy:\n{}",
            self.log_tail(30)
        );
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// SIGKILL: no shutdown of any kind, as a crash or the OOM killer.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            let _ = child.wait().await;
        }
    }

    /// The last `n` lines contactd logged.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// SIGTERM, then SIGKILL if it has not exited within 10 s.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- last lines of contactd's log ----\n{}",
                self.log_tail(40)
            );
        }
        // the whole log outlives the test's directory when asked (a failure's full story)
        if let Some(dir) = std::env::var_os("CONTACTD_KEEP_LOGS") {
            let dir = std::path::PathBuf::from(dir);
            let _ = std::fs::create_dir_all(&dir);
            let name = format!("{}-{}.log", self.config.daemon.instance, std::process::id());
            let _ = std::fs::copy(&self.log, dir.join(name));
        }
    }
}

/// `GET /healthz` on 127.0.0.1:`port` answers 200.
pub use crate::common::daemon::healthy;

/// `+7916<series><i>`: a Russian mobile number; the switch is dialed `8916<series><i>`.
pub fn number(series: u32, i: usize) -> String {
    format!("+7916{series:03}{i:04}")
}

/// The number as the switch sees it in the dial string (and the simulator's truth).
pub fn dialed(series: u32, i: usize) -> String {
    format!("8916{series:03}{i:04}")
}

/// The campaign message of these tests: a virtual file for the simulator (which refuses a file
/// that exists neither on disk nor in its `media_ms`), as long as [`message`] says.
pub const MESSAGE: &str = "/var/lib/contactd/recordings/campaigns/msg.wav";

/// `SimConfig::media_ms` with [`MESSAGE`] lasting `ms`.
pub fn message(ms: u64) -> std::collections::HashMap<String, u64> {
    std::collections::HashMap::from([(MESSAGE.to_string(), ms)])
}

/// Imports `phones` as list `list_number` and starts a campaign over `lines` lines that
/// dials at any hour, tries twice, retries after 1 s. Returns the campaign id.
pub async fn start_campaign(
    pool: &Pool,
    config: &Config,
    list_number: u16,
    phones: &[String],
    lines: i32,
) -> i64 {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("list.csv");
    let mut rows = String::from("phone,name\n");
    for (i, p) in phones.iter().enumerate() {
        rows.push_str(&format!("{p},S{i}\n"));
    }
    std::fs::write(&csv, rows).unwrap();
    contactd::store::lists::import_csv(
        pool,
        &csv,
        contactd::core::lists::ImportOptions {
            list_number,
            name: format!("faults {list_number}"),
            replace: false,
        },
        &config.dialing,
    )
    .await
    .unwrap();
    let (id, _) = Campaigns::new(pool.clone())
        .create(&NewCampaign {
            name: format!("faults {list_number}"),
            window_days: "mon-sun".into(),
            window_start: "00:00".into(),
            window_end: "23:59".into(),
            max_attempts: 2,
            retry_busy_s: 1,
            retry_no_answer_s: 1,
            ring_s: 10,
            lines,
            ..NewCampaign::with_defaults(&config.campaigns, i32::from(list_number), MESSAGE, "cli")
        })
        .await
        .unwrap();
    id
}

/// Waits until every campaign in `ids` is `finished`; false on timeout.
pub async fn wait_finished(pool: &Pool, ids: &[i64], timeout: Duration) -> bool {
    let campaigns = Campaigns::new(pool.clone());
    common::eventually(timeout, || async {
        for id in ids {
            match campaigns.get(*id).await {
                Ok(Some(c)) if c.state == "finished" => {}
                _ => return false,
            }
        }
        true
    })
    .await
}

/// Problems found, each a sentence naming what went wrong.
#[derive(Default)]
pub struct Findings(Vec<String>);

impl Findings {
    pub fn add(&mut self, what: impl Into<String>) {
        self.0.push(what.into());
    }

    /// One problem per item, under a common heading, when there are any.
    pub fn list(&mut self, heading: &str, items: Vec<String>) {
        if !items.is_empty() {
            self.0.push(format!(
                "{heading} ({}):\n      {}",
                items.len(),
                items.join("\n      ")
            ));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Fails the test with every problem found.
    pub fn assert_none(self, scenario: &str) {
        assert!(
            self.0.is_empty(),
            "{scenario}: {} problem(s):\n  - {}",
            self.0.len(),
            self.0.join("\n  - ")
        );
    }
}

// ---------------------------------------------------------------- the simulator's truth

/// One party as a line of a failure message.
pub fn show(p: &PartyRecord) -> String {
    format!(
        "{} to {}: dialed at {} ms, answered at {:?}, ended at {:?} ({:?} by {:?}), heard {} ms, \
         playbacks {} full / {} cut ({:?}), longest dead air {} ms",
        p.uuid,
        p.number,
        p.dialed_at_ms,
        p.answered_at_ms,
        p.ended_at_ms,
        p.hangup_cause,
        p.hangup_by,
        p.heard_ms,
        p.playbacks_completed,
        p.playbacks_interrupted,
        p.played,
        p.max_dead_air_ms
    )
}

/// Every call the switch placed, by dialed number, in dialing order.
pub fn by_number(truth: &[PartyRecord]) -> BTreeMap<String, Vec<PartyRecord>> {
    let mut m: BTreeMap<String, Vec<PartyRecord>> = BTreeMap::new();
    for p in truth {
        m.entry(p.number.clone()).or_default().push(p.clone());
    }
    for calls in m.values_mut() {
        calls.sort_by_key(|c| c.dialed_at_ms);
    }
    m
}

/// Subscribers dialed again after a call in which they heard (part of) the message.
pub fn redialed_after_hearing(truth: &[PartyRecord]) -> Vec<String> {
    let mut out = Vec::new();
    for (n, calls) in by_number(truth) {
        if let Some(i) = calls.iter().position(|c| c.heard_ms > 0) {
            for again in &calls[i + 1..] {
                // both calls in full: who ended the first, and when, says which side erred
                out.push(format!(
                    "{n} heard {} ms in {} and was dialed again: {}\n        first: {}",
                    calls[i].heard_ms,
                    calls[i].uuid,
                    show(again),
                    show(&calls[i])
                ));
            }
        }
    }
    out
}

/// Subscribers dialed again after a call they answered (whatever they heard in it).
pub fn redialed_after_answer(truth: &[PartyRecord]) -> Vec<String> {
    let mut out = Vec::new();
    for (n, calls) in by_number(truth) {
        if let Some(i) = calls.iter().position(|c| c.answered) {
            for again in &calls[i + 1..] {
                out.push(format!(
                    "{n} answered {} (heard {} ms, longest dead air {} ms) and was dialed again: {}",
                    calls[i].uuid,
                    calls[i].heard_ms,
                    calls[i].max_dead_air_ms,
                    show(again)
                ));
            }
        }
    }
    out
}

/// Two calls to one subscriber at the same time.
pub fn double_dials(truth: &[PartyRecord]) -> Vec<String> {
    let mut out = Vec::new();
    for (n, calls) in by_number(truth) {
        for (i, a) in calls.iter().enumerate() {
            for b in &calls[i + 1..] {
                if a.ended_at_ms.is_none_or(|end| b.dialed_at_ms < end) {
                    out.push(format!(
                        "{n} dialed at {} ms while {} (dialed at {} ms, ended at {:?}) was still up",
                        b.dialed_at_ms, a.uuid, a.dialed_at_ms, a.ended_at_ms
                    ));
                }
            }
        }
    }
    out
}

/// Answered calls in which the subscriber heard nothing for longer than `limit_ms` at once.
pub fn dead_air_over(truth: &[PartyRecord], limit_ms: u64) -> Vec<String> {
    truth
        .iter()
        .filter(|p| p.answered && p.max_dead_air_ms > limit_ms)
        .map(show)
        .collect()
}

/// Most calls up at once among `calls` (dialed → ended, still live = up to now), and when.
pub fn peak_concurrent<'a>(calls: impl IntoIterator<Item = &'a PartyRecord>) -> (usize, u64) {
    let mut edges: Vec<(u64, i32)> = Vec::new();
    for c in calls {
        edges.push((c.dialed_at_ms, 1));
        edges.push((c.ended_at_ms.unwrap_or(u64::MAX), -1));
    }
    // at equal times an end frees the channel before the next seizes it
    edges.sort();
    let (mut now, mut peak, mut at) = (0i32, 0usize, 0u64);
    for (t, d) in edges {
        now += d;
        if now as usize > peak {
            peak = now as usize;
            at = t;
        }
    }
    (peak, at)
}

/// Live channels on the simulator now, each described from the truth.
pub fn live_calls(sim: &Simulator) -> Vec<String> {
    let live = sim.live_channels();
    if live.is_empty() {
        return Vec::new();
    }
    let truth: HashMap<String, PartyRecord> = sim
        .ground_truth()
        .into_iter()
        .map(|p| (p.uuid.clone(), p))
        .collect();
    live.iter()
        .map(|u| match truth.get(u) {
            Some(p) => show(p),
            None => format!("{u} (no party record)"),
        })
        .collect()
}

/// Hangs up every call still up, as their subscribers eventually would, so that the dead air
/// of calls nobody drives any more is measured up to now. Call it once contactd is stopped:
/// a line freed here is not a line for contactd to dial on.
pub async fn hang_up_all(sim: &Simulator) {
    let live = sim.live_channels();
    for u in &live {
        sim.hangup(u, "NORMAL_CLEARING");
    }
    if !live.is_empty() {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

// ---------------------------------------------------------------- PostgreSQL (real server)

/// Subscribers of campaign `id` left `dialing`.
pub async fn targets_dialing(db: &tokio_postgres::Client, id: i64) -> Vec<String> {
    db.query(
        "SELECT t.contact_id, t.phone, t.attempts,
                (SELECT string_agg(a.uuid::text || ' ' || coalesce(a.outcome, 'no outcome'), ', '
                                   ORDER BY a.attempt_no)
                 FROM attempts a WHERE a.campaign_id = t.campaign_id AND a.contact_id = t.contact_id)
         FROM campaign_targets t WHERE t.campaign_id = $1 AND t.status = 'dialing'
         ORDER BY t.contact_id",
        &[&id],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| {
        format!(
            "contact {} {} after {} attempt(s): {}",
            r.get::<_, i64>(0),
            r.get::<_, String>(1),
            r.get::<_, i32>(2),
            r.get::<_, Option<String>>(3).unwrap_or_else(|| "no attempt row".into())
        )
    })
    .collect()
}

/// Attempts of campaign `id` without an outcome.
pub async fn attempts_without_outcome(db: &tokio_postgres::Client, id: i64) -> Vec<String> {
    db.query(
        "SELECT uuid::text, number_dialed, attempt_no, answered_at IS NOT NULL,
                playback_started_at IS NOT NULL
         FROM attempts WHERE campaign_id = $1 AND outcome IS NULL ORDER BY created_at",
        &[&id],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| {
        format!(
            "{} to {} (attempt {}, answered: {}, playback started: {})",
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, i32>(2),
            r.get::<_, bool>(3),
            r.get::<_, bool>(4)
        )
    })
    .collect()
}

/// The final outcome recorded for each subscriber of campaign `id`, by dialed number.
pub async fn outcomes(db: &tokio_postgres::Client, id: i64) -> HashMap<String, Option<String>> {
    db.query(
        "SELECT DISTINCT a.number_dialed, t.outcome
         FROM attempts a JOIN campaign_targets t USING (campaign_id, contact_id)
         WHERE a.campaign_id = $1",
        &[&id],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// Subscribers whose last call, by the switch's truth, played the message to its end but
/// whose recorded outcome is not `listened_full`; and the converse lie (recorded
/// `listened_full` though the message was cut short and never completed).
pub fn outcome_mismatches(
    truth: &[PartyRecord],
    recorded: &HashMap<String, Option<String>>,
) -> (Vec<String>, Vec<String>) {
    let (mut missed, mut lies) = (Vec::new(), Vec::new());
    for (n, calls) in by_number(truth) {
        let full = calls.iter().any(|c| c.playbacks_completed > 0);
        let outcome = recorded.get(&n);
        let shown = outcome
            .map(|o| o.clone().unwrap_or_else(|| "no outcome".into()))
            .unwrap_or_else(|| "no attempt recorded".into());
        let last = calls.last().expect("one call at least");
        if let (Some(heard), true) = (
            calls.iter().find(|c| c.playbacks_completed > 0),
            shown != "listened_full",
        ) {
            missed.push(format!(
                "{n} heard the whole message but is recorded {shown}: {}",
                show(heard)
            ));
        }
        if !full && shown == "listened_full" {
            lies.push(format!(
                "{n} never heard the message to its end but is recorded listened_full: {}",
                show(last)
            ));
        }
    }
    (missed, lies)
}

/// Call rows of calls that are over (not live on the switch) that lack their end: a
/// hangup cause or `ended_at`, or are still in an open state.
pub async fn unended_call_rows(
    db: &tokio_postgres::Client,
    truth: &[PartyRecord],
    live: &HashSet<String>,
) -> Vec<String> {
    let truth: HashMap<&str, &PartyRecord> = truth.iter().map(|p| (p.uuid.as_str(), p)).collect();
    db.query(
        "SELECT uuid::text, number, state, hangup_cause, ended_at IS NOT NULL FROM calls
         ORDER BY created_at",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .filter_map(|r| {
        let uuid: String = r.get(0);
        if live.contains(&uuid) {
            return None;
        }
        let state: String = r.get(2);
        let cause: Option<String> = r.get(3);
        let ended: bool = r.get(4);
        if cause.is_some() && ended && (state == "ended" || state == "failed") {
            return None;
        }
        let on_switch = match truth.get(uuid.as_str()) {
            Some(p) => format!(
                "the switch ended it at {:?} ms with {:?}",
                p.ended_at_ms, p.hangup_cause
            ),
            None => "the switch never had it".into(),
        };
        Some(format!(
            "{uuid} to {}: row is {state}, hangup_cause {cause:?}, ended_at {}; {on_switch}",
            r.get::<_, Option<String>>(1).unwrap_or_default(),
            if ended { "set" } else { "missing" }
        ))
    })
    .collect()
}

/// State and progress of a campaign, for messages.
pub async fn campaign_summary(pool: &Pool, id: i64) -> String {
    let c = Campaigns::new(pool.clone());
    let state = c
        .get(id)
        .await
        .ok()
        .flatten()
        .map(|c| c.state)
        .unwrap_or_default();
    match c.progress(id).await {
        Ok(p) => format!(
            "campaign {id} is {state}: {} of {} subscribers done, {} reached, {} dialing",
            p.done, p.total, p.reached, p.dialing
        ),
        Err(e) => format!("campaign {id} is {state} (progress: {e})"),
    }
}

/// A campaign's safety, from the switch's own records and the store: nobody dialed again
/// after hearing the message, never two calls to one subscriber at once, trunk `trunk`
/// never above the campaign's `lines`, nobody left `dialing`, every attempt with an outcome.
pub async fn campaign_safety(
    f: &mut Findings,
    sim: &Simulator,
    trunk: &str,
    lines: u32,
    db: &tokio_postgres::Client,
    id: i64,
) {
    let truth = sim.ground_truth();
    f.list(
        "dialed again after hearing the message",
        redialed_after_hearing(&truth),
    );
    f.list("two calls to one subscriber at once", double_dials(&truth));
    let peak = sim.peak_channels_on(trunk);
    if peak > lines {
        f.add(format!(
            "{peak} channels at once on a {lines}-line campaign"
        ));
    }
    f.list("subscribers left dialing", targets_dialing(db, id).await);
    f.list(
        "attempts without an outcome",
        attempts_without_outcome(db, id).await,
    );
}
