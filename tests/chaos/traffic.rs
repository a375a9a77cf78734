//! The simulated world of one scenario: the switch with a trunk larger than contactd's cap,
//! 300 subscribers (most answer after a ring and stay until the switch hangs up, some hang up
//! mid-message, some are busy or never answer), operator phones that answer and talk, and a
//! stream of scripted inbound callers: meter readings through the IVR, and customers pressing
//! 0 for an operator. Every party gives up after [`SILENCE_PATIENCE_MS`] of dead air, as a
//! person would.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::daemon;
use contactd::sim::{
    AfterAnswer, Behaviour, CallerStep, InboundCall, SimConfig, Simulator, TrunkConfig, TrunkKind,
};

/// 1 real second = 5 simulated seconds: contactd's reaction times count five times over in
/// the dead air measured on the simulated clock.
pub const TIME_SCALE: f64 = 0.2;
/// Subscribers in the campaign list.
pub const SUBSCRIBERS: usize = 300;
/// The message, simulated ms (a real WAV of this length).
pub const MESSAGE_MS: u64 = 4000;
/// Every prompt (the generated ones, each played this long).
pub const PROMPT_MS: u64 = 1500;
/// Dead air a party bears before hanging up (simulated ms).
pub const SILENCE_PATIENCE_MS: u64 = 30_000;
/// How long an ACD caller waits for an operator after pressing 0 (simulated ms).
pub const QUEUE_PATIENCE_MS: u64 = 60_000;
/// Operators talk this long once they answer (simulated ms).
pub const TALK_MS: u64 = 15_000;
/// The sim's outbound span (contactd's `trunk.e1`) and the inbound one.
pub const OUT_SPAN: &str = "1";
pub const IN_SPAN: &str = "2";
pub const SIM_TRUNK_CHANNELS: u32 = 30;
/// Meter accounts imported for the IVR callers.
pub const ACCOUNTS: usize = 60;
pub const KEY_PAUSE_MS: u64 = contactd::demo::KEY_PAUSE_MS;

/// Subscriber `i` as listed and as dialed (national format).
pub fn listed(i: usize) -> String {
    format!("+7916300{i:04}")
}

pub fn dialed(i: usize) -> String {
    format!("8916300{i:04}")
}

/// A number the switch dials for the notice campaign ([`dialed`]).
pub fn is_subscriber_number(n: &str) -> bool {
    n.len() == 11 && n.starts_with("8916300")
}

/// What subscriber `i` does: 10% busy, 10% never answer, 10% hang up 2.5 s into the
/// message, the rest answer after a 1-2.2 s ring and stay until the switch hangs up.
pub fn subscriber(i: usize) -> Behaviour {
    let ring_ms = 1000 + (i as u64 * 7 % 5) * 300;
    match i % 10 {
        0 => Behaviour::Busy { after_ms: 800 },
        1 => Behaviour::NoAnswer,
        2 => Behaviour::Answer {
            ring_ms,
            after: AfterAnswer::HangupAfter { ms: 2500 },
        },
        _ => Behaviour::Answer {
            ring_ms,
            after: AfterAnswer::Stay,
        },
    }
}

/// An operator's phone: answers after a ring, hangs up when the talk is over.
pub fn operator_phone() -> Behaviour {
    Behaviour::Answer {
        ring_ms: 1000,
        after: AfterAnswer::HangupAfter { ms: TALK_MS },
    }
}

pub fn sim_config() -> SimConfig {
    let numbers: HashMap<String, Behaviour> = (0..SUBSCRIBERS)
        .map(|i| (dialed(i), subscriber(i)))
        .collect();
    let mut numbers = numbers;
    numbers.extend(crate::opcamp::numbers());
    let mut agents: HashMap<String, Behaviour> = crate::daemon::OPERATORS
        .iter()
        .map(|e| (e.to_string(), operator_phone()))
        .collect();
    agents.extend(crate::opcamp::agents());
    agents.extend(crate::transfers::agents());
    SimConfig {
        time_scale: TIME_SCALE,
        trunks: vec![
            TrunkConfig {
                name: OUT_SPAN.into(),
                kind: TrunkKind::Freetdm,
                channels: SIM_TRUNK_CHANNELS,
            },
            TrunkConfig {
                name: IN_SPAN.into(),
                kind: TrunkKind::Freetdm,
                channels: SIM_TRUNK_CHANNELS,
            },
            TrunkConfig {
                name: crate::opcamp::SPAN.into(),
                kind: TrunkKind::Freetdm,
                channels: SIM_TRUNK_CHANNELS,
            },
        ],
        numbers,
        default_behaviour: Behaviour::Answer {
            ring_ms: 1500,
            after: AfterAnswer::Stay,
        },
        agents,
        media_ms: crate::prompts::lengths(PROMPT_MS),
        // a dropped outbound socket ends its call as on a real switch
        socket_close_ends_park: true,
        ..Default::default()
    }
}

/// The campaign list CSV.
pub fn list_csv() -> String {
    let mut s = String::from("phone,name\n");
    for i in 0..SUBSCRIBERS {
        s.push_str(&format!("{},Subscriber {i}\n", listed(i)));
    }
    s
}

pub fn account(k: usize) -> String {
    format!("{}", 400_001 + k)
}

/// Last accepted reading of every account: 1000, ten days ago (100 kWh/day allowed).
pub const LAST_READING: i64 = 1000;

/// Billing's export: one single-zone 5-digit meter per account.
pub fn accounts_csv() -> String {
    let d = chrono::Utc::now().date_naive() - chrono::Duration::days(10);
    let mut s = String::from("account,holder,phone,balance,meter,zones,digits,last_date,last_1\n");
    for k in 0..ACCOUNTS {
        s.push_str(&format!(
            "{},Holder {k},,100.00,M-{k},1,5,{d},{:05}\n",
            account(k),
            LAST_READING
        ));
    }
    s
}

/// What a scripted inbound caller came for.
#[derive(Debug, Clone)]
pub enum Kind {
    /// passes `value` for `account` through the IVR
    Meter { account: String, value: i64 },
    /// wants an operator (main menu, 0)
    Acd,
}

/// The inbound callers started so far, by channel uuid.
#[derive(Default, Clone)]
pub struct Callers(pub Arc<Mutex<Vec<(String, Kind)>>>);

impl Callers {
    pub fn all(&self) -> Vec<(String, Kind)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn push(&self, uuid: String, k: Kind) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((uuid, k));
    }
}

fn trunk_call(
    sim: &Simulator,
    outbound: &str,
    code: &str,
    caller: &str,
    script: Vec<CallerStep>,
) -> Option<String> {
    sim.inbound_call(InboundCall {
        connect_to: outbound.to_string(),
        destination: "2500".into(),
        caller_number: caller.into(),
        trunk: Some(IN_SPAN.into()),
        vars: vec![
            ("contactd_entry".into(), "trunk".into()),
            ("contactd_code".into(), code.into()),
            ("contactd_did".into(), "2500".into()),
        ],
        script,
        // dialplans/from-trunk.xml: held and connected again while contactd restarts; the
        // person starts over when the greeting comes again
        reconnects: true,
        start_over_on: Some("ivr_greeting".into()),
        ..Default::default()
    })
    .ok()
}

/// A caller on the readings line: account, one zone, confirm; then stays until hung up.
pub fn meter_call(sim: &Simulator, outbound: &str, n: usize, callers: &Callers) {
    let acc = account(n % ACCOUNTS);
    let value = LAST_READING + 20 + n as i64;
    let script = vec![
        CallerStep::WaitForAnswer,
        CallerStep::WaitForPlay("enter_account".into()), // after the greeting
        CallerStep::WaitMs(KEY_PAUSE_MS),
        CallerStep::Dtmf(format!("{acc}#")),
        CallerStep::WaitForPlay("enter_reading".into()),
        CallerStep::WaitMs(KEY_PAUSE_MS),
        CallerStep::Dtmf(format!("{value:05}#")),
        // "you entered", the number, "1 confirm, 2 re-enter"
        CallerStep::WaitForPlay("confirm_reading".into()),
        CallerStep::WaitMs(KEY_PAUSE_MS),
        CallerStep::Dtmf("1".into()),
        // done: hangs up once told the reading is accepted (a later menu is not for them)
        CallerStep::WaitForPlay(READING_ACCEPTED.into()),
        CallerStep::WaitForPlay("main_menu".into()),
        CallerStep::Hangup,
    ];
    let caller = format!("8495100{n:04}");
    if let Some(u) = trunk_call(sim, outbound, "readings", &caller, script) {
        callers.push(
            u,
            Kind::Meter {
                account: acc,
                value,
            },
        );
    }
}

/// A customer on the main number who presses 0 and waits for an operator (gives up after
/// [`QUEUE_PATIENCE_MS`]).
pub fn acd_call(sim: &Simulator, outbound: &str, n: usize, callers: &Callers) {
    let script = vec![
        CallerStep::WaitForAnswer,
        CallerStep::WaitForPlay("main_menu".into()), // after the greeting
        CallerStep::WaitMs(KEY_PAUSE_MS),
        CallerStep::Dtmf("0".into()),
        CallerStep::WaitMs(QUEUE_PATIENCE_MS),
        CallerStep::Hangup,
    ];
    let caller = format!("8495200{n:04}");
    if let Some(u) = trunk_call(sim, outbound, "main", &caller, script) {
        callers.push(u, Kind::Acd);
    }
}

/// Starts a meter caller every `meter_every` and an ACD caller every `acd_every` (real time)
/// until `stop` turns true.
pub fn spawn_stream(
    sim: Simulator,
    outbound: String,
    callers: Callers,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let (meter_every, acd_every) = (Duration::from_millis(2500), Duration::from_millis(4000));
        let t0 = tokio::time::Instant::now();
        let (mut m, mut a) = (0usize, 0usize);
        loop {
            if *stop.borrow() {
                return;
            }
            let el = t0.elapsed();
            if el >= meter_every * m as u32 {
                meter_call(&sim, &outbound, m, &callers);
                m += 1;
            }
            if el >= acd_every * a as u32 + Duration::from_millis(1200) {
                acd_call(&sim, &outbound, a, &callers);
                a += 1;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// Parties left in silence hang up after [`SILENCE_PATIENCE_MS`]; returns their uuids.
pub fn spawn_patience(
    sim: Simulator,
    gave_up: Arc<Mutex<Vec<String>>>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *stop.borrow() {
                return;
            }
            for (uuid, ms) in sim.dead_air_now() {
                if ms > SILENCE_PATIENCE_MS && sim.hangup(&uuid, "NORMAL_CLEARING") {
                    gave_up.lock().unwrap_or_else(|e| e.into_inner()).push(uuid);
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

/// The prompt contactd plays once a reading is stored (`core::flows::meter`).
pub const READING_ACCEPTED: &str = "reading_accepted";

/// The list, the accounts, the operators (logged in) and the message file; its path.
pub async fn setup(cfg: &Path, dir: &Path, http: u16) -> Result<String, String> {
    let list = dir.join("list.csv");
    std::fs::write(&list, list_csv()).map_err(|e| e.to_string())?;
    daemon::cli(
        cfg,
        &[
            "lists",
            "import",
            list.to_str().unwrap(),
            "--number",
            "1",
            "--name",
            "chaos",
        ],
    )
    .await?;
    let accounts = dir.join("accounts.csv");
    std::fs::write(&accounts, accounts_csv()).map_err(|e| e.to_string())?;
    daemon::cli(cfg, &["accounts", "import", accounts.to_str().unwrap()]).await?;
    daemon::add_operators(http).await?;
    let msg = dir.join("campaigns").join("notice.wav");
    let msg = msg.to_str().unwrap().to_string();
    if !contactd::sim::media::write_wav(&msg, MESSAGE_MS) {
        return Err(format!("cannot write {msg}"));
    }
    Ok(msg)
}

pub async fn create_campaign(cfg: &Path, msg: &str) -> Result<i64, String> {
    let lines = daemon::CAMPAIGN_LINES.to_string();
    let tz = noon_zone();
    let out = daemon::cli(
        cfg,
        &[
            "campaigns",
            "create",
            "--list",
            "1",
            "--audio",
            msg,
            "--name",
            "chaos",
            "--lines",
            &lines,
            "--days",
            "mon-sun",
            "--from",
            "00:00",
            "--until",
            "23:59",
            "--time-zone",
            &tz,
            "--max-attempts",
            "2",
        ],
    )
    .await?;
    // "campaign 1 started: 300 subscribers, 10 lines"
    out.split_whitespace()
        .nth(1)
        .and_then(|x| x.parse::<i64>().ok())
        .ok_or_else(|| format!("campaigns create said: {out}"))
}

/// A time zone where it is about noon now, so the campaign's calling window is open whenever
/// the matrix runs.
fn noon_zone() -> String {
    use chrono::Timelike;
    let n = 12 - chrono::Utc::now().hour() as i32;
    match n {
        0 => "Etc/GMT".into(),
        n if n > 0 => format!("Etc/GMT-{n}"),
        n => format!("Etc/GMT+{}", -n),
    }
}
