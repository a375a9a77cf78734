//! contactd killed with SIGKILL in the middle of a campaign and started again: it finishes
//! the campaign, calls nobody again who may already have heard the message, never holds more
//! lines than the campaign has (by the simulator's own count), and the report is right —
//! with `unknown` for the calls whose end it could not see.
use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use common::smtp::{free_port, Sink};
use contactd::config::Config;
use contactd::sim::{self, AfterAnswer, Behaviour, Simulator, SubscriberRule};
use contactd::store::campaigns::{Campaigns, NewCampaign};

const SUBSCRIBERS: usize = 40;

fn number(i: usize) -> String {
    format!("+7916200{i:04}")
}

/// The campaign's message: known to the simulator only (`media_ms`).
const MESSAGE: &str = "/var/lib/contactd/recordings/campaigns/msg.wav";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_campaign_then_restart_finishes_without_calling_anyone_twice() {
    let env = common::TestEnv::new().await;
    let smtp_port = free_port();
    let sink = Sink::start(smtp_port, None).await;
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 0.05,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        rules: vec![SubscriberRule {
            pattern: "^8916200\\d\\d\\d[05]$".into(),
            behaviour: Behaviour::Busy { after_ms: 500 },
        }],
        default_behaviour: Behaviour::Answer {
            ring_ms: 1000,
            after: AfterAnswer::Stay,
        },
        // the message, a virtual file (the prompts are the generated ones)
        media_ms: [(MESSAGE.to_string(), 8000)].into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let http = free_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("contactd.toml");
    let text = format!(
        r#"
[switch.fs1]
host = "127.0.0.1"
port = {esl}
password = "ClueCon"
reconnect_min_ms = 100
[trunk.e1]
switch = "fs1"
kind = "e1"
channels = 30
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
url = "{db}"
[shutdown]
grace_seconds = 1
[campaigns]
trunk = "e1"
[mail]
smtp_port = {smtp_port}
auditors = ["audit@example.org"]
retry_seconds = 1
[prompts]
dir = "{prompts}"
language = "en"
"#,
        prompts = common::prompts::dir().display(),
        esl = sim.esl_addr().port(),
        redis = common::redis_url(),
        prefix = env.prefix,
        db = env.db_url(),
    );
    let text = common::guard::for_sim(&text, &sim);
    std::fs::write(&cfg_path, &text).unwrap();
    let cfg = Config::from_toml(&text).unwrap();

    let mut child = common::daemon::spawn(&cfg_path);
    assert!(
        common::eventually(Duration::from_secs(20), || common::daemon::healthy(http)).await,
        "contactd did not become healthy"
    );
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    let csv = dir.path().join("list.csv");
    let mut rows = String::from("phone,name\n");
    for i in 0..SUBSCRIBERS {
        rows.push_str(&format!("{},S{i}\n", number(i)));
    }
    std::fs::write(&csv, rows).unwrap();
    contactd::store::lists::import_csv(
        &pool,
        &csv,
        contactd::core::lists::ImportOptions {
            list_number: 3,
            name: "crash".into(),
            replace: false,
        },
        &cfg.dialing,
    )
    .await
    .unwrap();
    let campaigns = Campaigns::new(pool.clone());
    let (id, _) = campaigns
        .create(&NewCampaign {
            name: "crash test".into(),
            window_days: "mon-sun".into(),
            window_start: "00:00".into(),
            window_end: "23:59".into(),
            max_attempts: 2,
            retry_busy_s: 1,
            retry_no_answer_s: 1,
            ring_s: 10,
            ..NewCampaign::with_defaults(&cfg.campaigns, 3, MESSAGE, "cli")
        })
        .await
        .unwrap();

    // let it get going, then kill it while calls are up
    let busy = common::eventually(Duration::from_secs(60), || async {
        let p = campaigns.progress(id).await.unwrap();
        p.done >= 8 && p.dialing >= 3
    })
    .await;
    assert!(
        busy,
        "campaign did not get going: {:?}",
        campaigns.progress(id).await
    );
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap();
    let _ = child.wait().await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut child = common::daemon::spawn(&cfg_path);
    let finished = common::eventually(Duration::from_secs(120), || async {
        campaigns
            .get(id)
            .await
            .unwrap()
            .is_some_and(|c| c.state == "finished")
            && !sink.messages().is_empty()
    })
    .await;
    assert!(
        finished,
        "campaign not finished after restart: {:?}",
        campaigns.progress(id).await
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;

    assert!(
        sim.peak_channels_on("1") <= 5,
        "{} channels at once on a 5-line campaign",
        sim.peak_channels_on("1")
    );
    // ground truth: nobody who heard any of the message was dialed again (an answered call
    // that heard nothing — contactd died before the message started — may be retried)
    let mut truth: HashMap<String, Vec<sim::PartyRecord>> = HashMap::new();
    for p in sim.ground_truth() {
        truth.entry(p.number.clone()).or_default().push(p);
    }
    for (n, calls) in &truth {
        if let Some(i) = calls.iter().position(|c| c.heard_ms > 0) {
            assert_eq!(
                i,
                calls.len() - 1,
                "{n} heard the message and was called again: {calls:?}"
            );
        }
    }
    // the report: every subscriber once, outcomes agree with what they experienced
    let m = &sink.messages()[0];
    let csv_text = m["attachments"][0]["content"].as_str().unwrap().to_string();
    let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let mut unknown = 0;
    let mut n_rows = 0;
    for r in rdr.records() {
        let r = r.unwrap();
        n_rows += 1;
        let phone = &r[col("phone")];
        let dialed = format!("8{}", &phone[2..]);
        let Some(calls) = truth.get(&dialed) else {
            // contactd died between writing the attempt and its originate reaching the
            // switch: nobody was called, but contactd cannot tell that from a call that
            // ended unseen, so it is "unknown" and never dialed again
            assert_eq!(
                &r[col("outcome")],
                "unknown",
                "{phone} is in the report but the switch never saw a call to them"
            );
            unknown += 1;
            continue;
        };
        let last = calls.last().unwrap();
        match &r[col("outcome")] {
            "listened_full" => assert!(last.playbacks_completed > 0, "{phone}: {last:?}"),
            "busy" => assert_eq!(last.hangup_cause.as_deref(), Some("USER_BUSY"), "{phone}"),
            // the call was in progress when contactd died and ended unseen: it may have
            // been answered (and heard any part of it), so it is never dialed again
            "unknown" => {
                assert!(
                    calls.len() == 1 || !calls[..calls.len() - 1].iter().any(|c| c.answered),
                    "{phone}: unknown after an answered call: {calls:?}"
                );
                unknown += 1;
            }
            other => panic!("{phone}: unexpected outcome {other} ({last:?})"),
        }
    }
    assert_eq!(n_rows, SUBSCRIBERS);
    assert!(
        unknown <= 5,
        "{unknown} unknown: more than the lines in use at the kill"
    );
}
