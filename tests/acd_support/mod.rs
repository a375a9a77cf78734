//! Shared by the ACD tests: the simulator with operator phones and a trunk, contactd with
//! short ring timeout and no after-call work, operators with skills, scripted callers to a
//! queue's own number, and readers of the ACD's records.
#![allow(dead_code)]

pub mod process;

use std::time::Duration;

use contactd::app::App;
use contactd::service::acd::OperatorCommand;
use contactd::sim::{self, AfterAnswer, Behaviour, CallerStep, Simulator};

use crate::common;

pub const WAIT: Duration = Duration::from_secs(20);

pub fn answers(ring_ms: u64, talk_ms: Option<u64>) -> Behaviour {
    Behaviour::Answer {
        ring_ms,
        after: match talk_ms {
            Some(ms) => AfterAnswer::HangupAfter { ms },
            None => AfterAnswer::Stay,
        },
    }
}

#[derive(Clone)]
pub struct Setup {
    pub max_waiting: usize,
    pub trunk: bool,
    /// Meter-queue callers overflow to `general`, specialists' callers to a callback offer,
    /// after this long (0 = never).
    pub max_wait: u64,
    /// Where the switch records the calls (`daemon.recordings_dir`).
    pub recordings_dir: String,
    /// The control link's reconnect delays (real ms), if not the tests' usual 100-500.
    pub reconnect_ms: Option<(u64, u64)>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            max_waiting: 6,
            trunk: false,
            max_wait: 0,
            recordings_dir: RECORDINGS.into(),
            reconnect_ms: None,
        }
    }
}

pub const RECORDINGS: &str = "/tmp/contactd-test-recordings";

/// The simulator with these operator phones, contactd, and operators `op<ext>` with skills.
pub async fn start(
    env: &common::TestEnv,
    agents: &[(&str, Behaviour)],
    setup: &Setup,
    ops: &[(&str, &[(&str, i16)])],
) -> (Simulator, App) {
    let sim = start_sim(agents).await;
    let app = start_app(env, &sim, setup).await;
    add_operators(&app, ops).await;
    (sim, app)
}

/// One operator, `op1001` on `user/1001` (answers after 100 ms), in `general` at level 5.
pub async fn start_one_operator(env: &common::TestEnv, setup: &Setup) -> (Simulator, App) {
    start(
        env,
        &[("1001", answers(100, None))],
        setup,
        &[("1001", &[("general", 5)])],
    )
    .await
}

pub async fn start_sim(agents: &[(&str, Behaviour)]) -> Simulator {
    start_sim_with(agents, answers(300, None)).await
}

/// [`start_sim`] whose numbers dialed on the trunk (customers) do `customers`.
pub async fn start_sim_with(agents: &[(&str, Behaviour)], customers: Behaviour) -> Simulator {
    Simulator::start(sim::SimConfig {
        time_scale: 1.0,
        ..scaled_sim_config(agents, customers)
    })
    .await
    .unwrap()
}

/// The switch of the fault tests (1 real second is 5 simulated): operator phones `agents`,
/// numbers dialed on trunk span 1 (customers) do `customers`.
pub fn scaled_sim_config(agents: &[(&str, Behaviour)], customers: Behaviour) -> sim::SimConfig {
    sim::SimConfig {
        time_scale: 0.2,
        agents: agents
            .iter()
            .map(|(e, b)| (e.to_string(), b.clone()))
            .collect(),
        default_behaviour: customers,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        ..Default::default()
    }
}

pub fn acd_toml(max_waiting: usize, max_wait: u64) -> String {
    format!(
        r#"
[daemon]
recordings_dir = "{RECORDINGS}"
[acd]
# 2, not 1: originate_timeout counts whole seconds of the clock, so 1 may end a ring at once
ring_timeout_seconds = 2
wrap_up_seconds = 0
announce_every_seconds = 2
[acd.queue.general]
group = "general"
max_waiting = {max_waiting}
max_wait_seconds = 0
[acd.queue.meter]
group = "meter"
max_wait_seconds = {max_wait}
overflow = "queue:general"
[acd.queue.specialists]
group = "specialists"
max_wait_seconds = {max_wait}
overflow = "callback"
"#
    )
}

pub async fn start_app(env: &common::TestEnv, sim: &Simulator, s: &Setup) -> App {
    start_app_with_db(env, sim, s, env.db_url()).await
}

/// [`start_app`] reaching PostgreSQL at `db_url` (a fault proxy).
pub async fn start_app_with_db(
    env: &common::TestEnv,
    sim: &Simulator,
    s: &Setup,
    db_url: &str,
) -> App {
    // RUST_LOG=contactd=debug shows what contactd did when a test fails.
    common::logs::init();
    let trunks: &[(&str, u32, &str)] = if s.trunk {
        &[("e1", 30, "freetdm/1/a/{number}")]
    } else {
        &[]
    };
    let mut text = env
        .config_toml(sim.esl_addr(), "ClueCon", trunks)
        .replace(env.db_url(), db_url);
    if let Some((min, max)) = s.reconnect_ms {
        text = text.replace(
            "reconnect_min_ms = 100\nreconnect_max_ms = 500",
            &format!("reconnect_min_ms = {min}\nreconnect_max_ms = {max}"),
        );
    }
    // Each instance its own name (and so its own write spool), as on a real site.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    text.push_str(
        &acd_toml(s.max_waiting, s.max_wait)
            .replacen(
                "[daemon]\n",
                &format!("[daemon]\ninstance = \"acd-test-{n}\"\n"),
                1,
            )
            .replacen(RECORDINGS, &s.recordings_dir, 1),
    );
    let cfg = contactd::config::Config::from_toml(&text).unwrap();
    cfg.validate().unwrap();
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    app
}

/// Operators `op<ext>` on `user/<ext>` with their skills.
pub async fn add_operators(app: &App, ops: &[(&str, &[(&str, i16)])]) {
    let store = contactd::store::operators::Operators::new(app.shared.pool.clone());
    for (ext, skills) in ops {
        let login = format!("op{ext}");
        let id = store
            .create(&login, &login, &format!("user/{ext}"))
            .await
            .unwrap();
        for (g, l) in *skills {
            store.set_skill(id, g, *l).await.unwrap();
        }
        app.shared.acd.sync_operator(&login).await.unwrap();
    }
}

/// Waits (up to [`WAIT`]) for operator `login` to be in `state`; false if they never were.
pub async fn operator_in(app: &App, login: &str, state: &str) -> bool {
    common::eventually(WAIT, || async {
        app.shared
            .acd
            .operators()
            .await
            .unwrap()
            .iter()
            .any(|o| o.login == login && o.state == state)
    })
    .await
}

pub async fn login(app: &App, ext: &str) {
    app.shared
        .acd
        .command(&format!("op{ext}"), OperatorCommand::Login)
        .await
        .unwrap();
}

/// A caller to the queue's own number who waits (and hangs up after `hang_ms` if given).
pub fn caller(
    sim: &Simulator,
    app: &App,
    queue: &str,
    number: &str,
    hang_ms: Option<u64>,
) -> String {
    let mut script = vec![CallerStep::WaitForAnswer];
    if let Some(ms) = hang_ms {
        script.push(CallerStep::WaitMs(ms));
        script.push(CallerStep::Hangup);
    }
    trunk_call(sim, app, &format!("queue_{queue}"), number, script)
}

/// A scripted caller to the trunk number whose dialplan sets `contactd_code=code`.
pub fn trunk_call(
    sim: &Simulator,
    app: &App,
    code: &str,
    number: &str,
    script: Vec<CallerStep>,
) -> String {
    sim.inbound_call(sim::InboundCall {
        connect_to: app.outbound_addr.to_string(),
        destination: "250300".into(),
        caller_number: number.into(),
        vars: vec![
            ("contactd_entry".into(), "trunk".into()),
            ("contactd_code".into(), code.into()),
        ],
        script,
        ..Default::default()
    })
    .unwrap()
}

/// The caller channel each offer on `ext`'s phone was for, in order.
pub fn offers_on(sim: &Simulator, ext: &str) -> Vec<String> {
    sim.agent_offers(ext)
        .into_iter()
        .filter_map(|o| {
            o.vars
                .iter()
                .find(|(k, _)| k == "contactd_acd_call")
                .map(|(_, v)| v.clone())
        })
        .collect()
}

pub async fn acd_row(env: &common::TestEnv, call: &str) -> Option<tokio_postgres::Row> {
    env.pg()
        .await
        .query_opt(
            "SELECT a.queue, a.offers, o.login, a.outcome, a.transferred_to, a.recording,
                    a.waited_s, a.talk_s, a.abandoned_after_s,
                    a.wrap_up_s
             FROM acd_calls a LEFT JOIN operators o ON o.id = a.operator
             WHERE a.call_uuid = $1::text::uuid",
            &[&call],
        )
        .await
        .unwrap()
}

pub async fn answered_by(env: &common::TestEnv, call: &str) -> Option<String> {
    acd_row(env, call).await.and_then(|r| r.get(2))
}

pub async fn wait_answered(env: &common::TestEnv, call: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(who) = answered_by(env, call).await {
            return who;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "call {call} was never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The callers waiting in `queue`, oldest first; none while Redis cannot be read (polled by
/// `eventually` through a Redis outage and its rebuild, so an error is "not yet", not a panic).
pub async fn waiting_calls(app: &App, queue: &str) -> Vec<String> {
    app.shared
        .acd
        .queues()
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|q| q.name == queue)
        .map(|q| q.waiting)
        .unwrap_or_default()
}

/// How many wait in `queue` (0 while Redis cannot be read, as [`waiting_calls`]).
pub async fn waiting(app: &App, queue: &str) -> usize {
    app.shared
        .acd
        .queues()
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|q| q.name == queue)
        .map_or(0, |q| q.waiting.len())
}

/// `(queue, state, call)` of the callback promised to `number`, once there is one.
pub async fn callback_of(
    env: &common::TestEnv,
    number: &str,
) -> Option<(String, String, Option<String>)> {
    env.pg()
        .await
        .query_opt(
            "SELECT queue, state, call_uuid::text FROM acd_callbacks WHERE number = $1",
            &[&number],
        )
        .await
        .unwrap()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
}

/// Waits until the callback to `number` is in `state` (in `queue`); false if it never is.
pub async fn callback_reaches(
    env: &common::TestEnv,
    number: &str,
    queue: &str,
    state: &str,
) -> bool {
    common::eventually(WAIT, || async {
        callback_of(env, number)
            .await
            .is_some_and(|(q, s, _)| q == queue && s == state)
    })
    .await
}

/// `calls.hungup_by` of a caller's row once the call has ended (None while it is open).
pub async fn hungup_by(env: &common::TestEnv, call: &str) -> Option<String> {
    env.pg()
        .await
        .query_opt(
            "SELECT hungup_by FROM calls
             WHERE uuid = $1::text::uuid AND state IN ('ended', 'failed')",
            &[&call],
        )
        .await
        .unwrap()
        .and_then(|r| r.get(0))
}

/// Who ended `call` according to the simulator, in `calls.hungup_by`'s words: its own record
/// of the caller's channel (`party`: the caller hung up; `system`: a shutdown; `switch`: the
/// switch's side), and, when the switch's side did, the record of the operator leg the caller
/// was last bridged to: that phone hung up first (`operator`), else contactd told the switch
/// to end it (`contactd`). None while the caller is still on the line.
pub fn truth_hungup_by(sim: &Simulator, call: &str) -> Option<&'static str> {
    let truth = sim.ground_truth();
    let c = truth.iter().find(|r| r.uuid == call)?;
    match c.hangup_by.as_deref()? {
        "party" => Some("party"),
        "system" => Some("switch"),
        _ => {
            let operator_first = c
                .bridged_to
                .last()
                .and_then(|leg| truth.iter().find(|r| &r.uuid == leg))
                .is_some_and(|o| {
                    o.hangup_by.as_deref() == Some("party") && o.ended_at_ms <= c.ended_at_ms
                });
            Some(if operator_first {
                "operator"
            } else {
                "contactd"
            })
        }
    }
}

/// Waits until the caller's call has ended on the switch and in `calls`, and returns
/// (what the simulator says, what contactd recorded). The record is read until it agrees or
/// `WAIT` is over, since the ACD's answer and the channel's end are written independently.
pub async fn hungup_by_both(
    env: &common::TestEnv,
    sim: &Simulator,
    call: &str,
) -> (String, String) {
    assert!(
        common::eventually(WAIT, || async { truth_hungup_by(sim, call).is_some() }).await,
        "caller {call} never hung up on the switch"
    );
    let truth = truth_hungup_by(sim, call).unwrap().to_string();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let recorded = hungup_by(env, call).await.unwrap_or_default();
        if recorded == truth || tokio::time::Instant::now() >= deadline {
            return (truth, recorded);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A call on the trunk answered and parked, as a dead instance leaves its callers: its uuid.
pub async fn parked_on_trunk(link: &contactd::esl::control::SwitchLink, number: &str) -> String {
    let uuid = uuid::Uuid::new_v4().to_string();
    let reply = link
        .bgapi(
            &format!("originate {{origination_uuid={uuid}}}freetdm/1/a/{number} &park()"),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert!(reply.starts_with("+OK"), "{number}: {reply}");
    uuid
}
