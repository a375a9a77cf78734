//! `contactd demo`: the FreeSWITCH simulator and the daemon in one process, against the
//! local Redis and PostgreSQL (a scratch database and key prefix, removed at the end), with
//! a scripted scenario that prints what happened and what PostgreSQL recorded.

use std::time::Duration;

use crate::app::App;
use crate::config::Config;
use crate::core::values::MediaFile;
use crate::esl::commands::AfterAnswer;
use crate::service::dialer::{place_call, CallRequest, DialResult};
use crate::sim::{self, Simulator};
use crate::store::postgres::CallRecord;
use crate::store::redis::LiveState;
use crate::store::scratch::{run_id, ScratchDb};

mod acd;
pub mod mailbox;
mod meter;
mod notice;
pub mod predictive;
mod script;
mod supervision;

pub use notice::manager_records_notice;
use script::{err, say};
pub use script::{DemoError, KEY_PAUSE_MS};

fn sim_config() -> sim::SimConfig {
    let mut numbers = std::collections::HashMap::new();
    numbers.insert(
        "89161110001".to_string(),
        sim::Behaviour::Answer {
            ring_ms: 1500,
            after: sim::AfterAnswer::Stay,
        },
    );
    numbers.insert(
        "89161110002".to_string(),
        sim::Behaviour::Busy { after_ms: 800 },
    );
    numbers.insert(
        "89161110003".to_string(),
        sim::Behaviour::Reject {
            cause: "UNALLOCATED_NUMBER".into(),
            after_ms: 300,
            ring: false,
        },
    );
    // the campaign's subscribers: ...3 busy, ...7 hang up during the message
    let rules = vec![
        sim::SubscriberRule {
            pattern: "^8916300\\d\\d\\d3$".into(),
            behaviour: sim::Behaviour::Busy { after_ms: 800 },
        },
        sim::SubscriberRule {
            pattern: "^8916300\\d\\d\\d7$".into(),
            behaviour: sim::Behaviour::Answer {
                ring_ms: 1000,
                after: sim::AfterAnswer::HangupAfter { ms: 1500 },
            },
        },
    ];
    let rules = rules.into_iter().chain(predictive::rules()).collect();
    sim::SimConfig {
        rules,
        time_scale: 0.25,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        numbers,
        agents: acd::agents()
            .into_iter()
            .chain(predictive::agents())
            .collect(),
        media_ms: predictive::media(),
        default_playback_ms: 3000,
        ..Default::default()
    }
}

pub(super) fn show_record(r: &CallRecord) {
    let t = |d: Option<chrono::DateTime<chrono::Utc>>| {
        d.map_or("-".to_string(), |d| d.format("%H:%M:%S%.3f").to_string())
    };
    say(format!(
        "    postgres: calls[{}] number={} state={} answered={} ended={} cause={} q850={} billsec={} played={} step={} hung up by={}",
        r.uuid,
        r.number.as_deref().unwrap_or("-"),
        r.state,
        t(r.answered_at),
        t(r.ended_at),
        r.hangup_cause.as_deref().unwrap_or("-"),
        r.q850.map_or("-".into(), |q| q.to_string()),
        r.billsec.map_or("-".into(), |b| b.to_string()),
        r.app_response.as_deref().unwrap_or("-"),
        r.flow_step.as_deref().unwrap_or("-"),
        r.hungup_by.as_deref().unwrap_or("-"),
    ));
}

pub(super) async fn wait_ended(
    app: &App,
    uuid: uuid::Uuid,
    timeout: Duration,
) -> Option<CallRecord> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Ok(Some(r)) = app.shared.calls.get(uuid).await {
            if matches!(r.state.as_str(), "ended" | "failed") && r.hungup_by.is_some() {
                return Some(r);
            }
        }
        if tokio::time::Instant::now() > deadline {
            return app.shared.calls.get(uuid).await.ok().flatten();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How the demo's contactd is configured.
#[derive(Debug, Clone)]
pub struct Options {
    /// `ru` or `en`: the prompts callers hear and the language of the mailed report.
    pub language: String,
    /// The report's time zone (IANA name).
    pub time_zone: String,
    /// Generated prompts (`make prompts`): the simulator, like the switch, refuses missing files.
    pub prompts: std::path::PathBuf,
    /// Mail the report to this SMTP port on 127.0.0.1 instead of the demo's own mailbox.
    pub smtp_port: Option<u16>,
}

impl Options {
    fn check(&self) -> Result<std::path::PathBuf, DemoError> {
        if !matches!(self.language.as_str(), "ru" | "en") {
            return Err(DemoError(format!(
                "--language {:?}: must be ru or en",
                self.language
            )));
        }
        let dir = self.prompts.canonicalize().unwrap_or(self.prompts.clone());
        if !dir.join(&self.language).join("greeting.wav").is_file() {
            return Err(DemoError(format!(
                "no prompts in {}: run `make prompts` (scripts/prompts.sh {})",
                dir.display(),
                self.prompts.display()
            )));
        }
        Ok(dir)
    }
}

pub async fn run(
    pg_server: &str,
    redis_url: &str,
    timeout: Duration,
    opts: &Options,
) -> Result<(), DemoError> {
    let prompts = opts.check()?;
    let opts = Options {
        prompts,
        ..opts.clone()
    };
    let db = ScratchDb::create(pg_server, "contactd_demo")
        .await
        .map_err(|e| err("creating the demo database")(&e))?;
    let prefix = format!("contactd_demo:{}:", run_id());
    let outcome = tokio::time::timeout(timeout, scenario(&db.url, redis_url, &prefix, &opts)).await;
    // Clean up whatever happened.
    if let Ok(live) = LiveState::connect(redis_url, &prefix).await {
        let _ = live.purge_prefix().await;
    }
    let _ = db.drop_now().await;
    say(format!(
        "demo: removed scratch database {} and Redis prefix {prefix}",
        db.name
    ));
    match outcome {
        Ok(r) => r,
        Err(_) => Err(DemoError(format!(
            "scenario did not finish within {timeout:?}"
        ))),
    }
}

async fn scenario(
    db_url: &str,
    redis_url: &str,
    prefix: &str,
    opts: &Options,
) -> Result<(), DemoError> {
    let mailbox = mailbox::Mailbox::default();
    let smtp_port = match opts.smtp_port {
        Some(p) => p,
        None => mailbox.start().await.map_err(|e| err("demo mailbox")(&e))?,
    };
    let work = std::env::temp_dir().join(format!("contactd-demo-{}", run_id()));
    let audio_dir = work.join("messages");
    std::fs::create_dir_all(&audio_dir).map_err(|e| err("demo directory")(&e))?;
    let result = scenario_in(db_url, redis_url, prefix, &work, smtp_port, &mailbox, opts).await;
    let _ = std::fs::remove_dir_all(&work);
    result
}

async fn scenario_in(
    db_url: &str,
    redis_url: &str,
    prefix: &str,
    work: &std::path::Path,
    smtp_port: u16,
    mailbox: &mailbox::Mailbox,
    opts: &Options,
) -> Result<(), DemoError> {
    let audio_dir = &work.join("messages");
    let sim = Simulator::start(sim_config())
        .await
        .map_err(|e| err("starting the simulator")(&e))?;
    say(format!(
        "demo: FreeSWITCH simulator listening on {} (E1 span 1: 30 channels)",
        sim.esl_addr()
    ));
    let cfg = Config::from_toml(&format!(
        r#"
[switch.fs1]
host = "127.0.0.1"
port = {port}
password = "ClueCon"
[trunk.e1]
switch = "fs1"
kind = "e1"
channels = 30
dial = "freetdm/1/a/{{number}}"
# the simulated span clears a channel on its own clock (real E1s: the 600 ms default)
release_guard_ms = {guard}
[outbound]
listen = "127.0.0.1:0"
[http]
listen = "127.0.0.1:0"
token = "demo-token-0123456789"
[redis]
url = "{redis_url}"
prefix = "{prefix}"
[postgres]
url = "{db_url}"
[prompts]
dir = "{prompts}"
language = "{lang}"
[campaigns]
trunk = "e1"
lines = 5
max_attempts = 2
retry_busy_seconds = 2
retry_no_answer_seconds = 2
ring_seconds = 10
window_days = "mon-sun"
window_start = "00:00"
window_end = "23:59"
audio_dir = "{audio_dir}"
[campaigns.operator]
abandon_message = "{abandon}"
# the switch's own abandon message, 1.8 s after the answer, on the simulator's clock
abandon_message_after_ms = {message_after}
reestimate_seconds = 5
[managers.ivanova]
phone = "201"
pin = "4321"
email = "ivanova@example.org"
[daemon]
recordings_dir = "{recordings}"
[acd]
ring_timeout_seconds = 8
wrap_up_seconds = 5
[ivr.hours]
mon = "00:00-24:00"
tue = "00:00-24:00"
wed = "00:00-24:00"
thu = "00:00-24:00"
fri = "00:00-24:00"
sat = "00:00-24:00"
sun = "00:00-24:00"
[mail]
smtp_port = {smtp_port}
auditors = ["audit@example.org"]
retry_seconds = 1
report_language = "{lang}"
report_time_zone = "{tz}"
{separator}
"#,
        port = sim.esl_addr().port(),
        guard = sim.trunk_guard_ms(),
        message_after = sim.switch_ms(1800),
        abandon = predictive::ABANDON,
        audio_dir = audio_dir.display(),
        recordings = work.join("recordings").display(),
        prompts = opts.prompts.display(),
        lang = opts.language,
        tz = opts.time_zone,
        // what Excel in a Russian locale expects of a CSV
        separator = if opts.language == "ru" {
            "csv_separator = \";\""
        } else {
            ""
        },
    ))
    .map_err(|e| err("demo config")(&e))?;
    let trunk = cfg.trunk["e1"].clone();
    // The switch records operator calls there; FreeSWITCH does not create directories.
    std::fs::create_dir_all(work.join("recordings")).map_err(|e| err("recordings")(&e))?;
    let app = App::start(cfg)
        .await
        .map_err(|e| err("starting contactd")(&e))?;
    if !app.wait_ready(Duration::from_secs(10)).await {
        return Err(DemoError(
            "contactd did not connect to the simulator".into(),
        ));
    }
    say(format!(
        "demo: contactd connected to switch fs1 and resynced; health on http://{}/healthz",
        app.http_addr
    ));
    let link = app.link("fs1").expect("fs1").clone();
    let notice = opts.prompts.join(&opts.language).join("notice.wav");
    let message =
        MediaFile::parse(&notice.to_string_lossy()).map_err(|e| err("message file")(&e))?;

    say("\n1) A notice call: placed, answered, played to the end, hung up");
    for (number, what) in [
        ("89161110001", "answers after 1.5 s and listens"),
        ("89161110002", "is busy"),
        ("89161110003", "does not exist"),
    ] {
        say(format!("  dialing {number} (the subscriber {what})"));
        let result = place_call(
            &link,
            &crate::clock::Clock::system(),
            &app.shared.calls,
            &app.shared.live,
            CallRequest {
                uuid: crate::core::values::ChannelUuid::new_random(),
                caller_id: None,
                trunk_name: "e1",
                trunk: &trunk,
                number,
                then: AfterAnswer::Playback(message.clone()),
                purpose: "demo",
                budget: "demo",
                budget_lines: 5,
                ring_secs: 30,
            },
        )
        .await
        .map_err(|e| err("placing a call")(&e))?;
        let uuid = match &result {
            DialResult::Answered(u) => {
                say(format!("    answered: playing {}", message.as_str()));
                *u
            }
            DialResult::Failed { uuid, cause } => {
                say(format!("    not answered: {cause}"));
                *uuid
            }
        };
        match wait_ended(&app, uuid, Duration::from_secs(20)).await {
            Some(r) => show_record(&r),
            None => say("    postgres: no record (unexpected)"),
        }
    }

    meter::meter_reading(&app, &sim, work).await?;
    acd::operator_call(&app, &sim).await?;

    say("\n4) What the simulated parties experienced (the simulator's ground truth)");
    for p in sim.ground_truth() {
        say(format!(
            "    {} {:<12} answered={} heard={}ms digits={:?} hung up by={} cause={}",
            p.endpoint,
            p.number,
            p.answered,
            p.heard_ms,
            p.digits,
            p.hangup_by.as_deref().unwrap_or("-"),
            p.hangup_cause.as_deref().unwrap_or("-")
        ));
    }
    notice::campaign(
        &app,
        &sim,
        work,
        mailbox,
        smtp_port,
        opts.smtp_port.is_some(),
    )
    .await?;

    say("\n6) Supervision: the day's figures");
    supervision::wallboard(&app);
    supervision::kpis_today(&app).await?;
    supervision::staffing_tomorrow(&app).await?;
    supervision::digest_mailed(&app, mailbox, opts.smtp_port.is_some()).await?;
    predictive::campaign(&app).await?;

    let metrics = link.counters();
    say(format!(
        "\ndemo: {} ESL events processed, {} live calls now",
        metrics.events.load(std::sync::atomic::Ordering::Relaxed),
        metrics
            .live_calls
            .load(std::sync::atomic::Ordering::Relaxed)
    ));
    app.shutdown(Duration::from_secs(5)).await;
    Ok(())
}
