//! The seed scenario of capability 1, end to end: a manager dials 302 from a desk phone,
//! keys the PIN, records the message, picks a 300-subscriber list and confirms; contactd
//! dials over 5 lines (never a 6th, by the simulator's own count), plays the message,
//! measures what each subscriber heard, asks for the confirmation key, retries busy and
//! unanswered numbers, skips a number put on the do-not-call list after the import, and
//! e-mails the report to the auditors and the manager. The report must match the
//! simulator's ground truth exactly.
use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use common::smtp::{free_port, Sink};
use contactd::app::App;
use contactd::config::Config;
use contactd::sim::{self, AfterAnswer, Behaviour, Simulator, SubscriberRule};

const SUBSCRIBERS: usize = 300;

fn number(i: usize) -> String {
    format!("+7916100{i:04}")
}

/// Subscriber behaviour by the last digit of the number.
fn rules() -> Vec<SubscriberRule> {
    let r = |digits: &str, b: Behaviour| SubscriberRule {
        pattern: format!("^8916100\\d\\d\\d[{digits}]$"),
        behaviour: b,
    };
    vec![
        r(
            "0123",
            Behaviour::Answer {
                ring_ms: 1000,
                after: AfterAnswer::Stay,
            },
        ),
        r(
            "4",
            Behaviour::Answer {
                ring_ms: 500,
                after: AfterAnswer::HangupAfter { ms: 2500 },
            },
        ),
        r("5", Behaviour::Busy { after_ms: 400 }),
        r("6", Behaviour::NoAnswer),
        r(
            "7",
            Behaviour::Reject {
                cause: "UNALLOCATED_NUMBER".into(),
                after_ms: 200,
                ring: false,
            },
        ),
        r(
            "8",
            Behaviour::Answer {
                ring_ms: 700,
                after: AfterAnswer::PressDigits {
                    digits: "1".into(),
                    at_ms: 12_000,
                    hangup_ms: None,
                },
            },
        ),
        r(
            "9",
            Behaviour::Answer {
                ring_ms: 2000,
                after: AfterAnswer::Stay,
            },
        ),
    ]
}

/// The manager (extension 201, PIN 4321) dials 302, records a message and starts list 7.
fn manager_dials_302(sim: &Simulator, app: &App) -> String {
    sim.inbound_call(sim::InboundCall {
        connect_to: app.outbound_addr.to_string(),
        caller_number: "201".into(),
        destination: "302".into(),
        vars: vec![
            ("contactd_entry".into(), "service".into()),
            ("contactd_code".into(), "302".into()),
        ],
        script: contactd::demo::manager_records_notice("4321", "7", 2500),
        ..Default::default()
    })
    .unwrap()
}

fn config(env: &common::TestEnv, sim: &Simulator, smtp: u16, audio: &str) -> Config {
    let mut text = env.config_toml(
        sim.esl_addr(),
        "ClueCon",
        &[("e1", 30, "freetdm/1/a/{number}")],
    );
    text.push_str(&format!(
        r#"
[campaigns]
trunk = "e1"
lines = 5
max_attempts = 2
retry_busy_seconds = 1
retry_no_answer_seconds = 1
ring_seconds = 10
window_days = "mon-sun"
window_start = "00:00"
window_end = "23:59"
audio_dir = "{audio}"
max_message_seconds = 30
silence_seconds = 5
[managers.boss]
phone = "201"
pin = "4321"
email = "boss@example.org"
[mail]
smtp_host = "127.0.0.1"
smtp_port = {smtp}
auditors = ["audit@example.org"]
retry_seconds = 1
# Call progress has tests of its own (amd_notice). Here the switch runs 10 times faster
# than real time, so a subscriber's "hello" (200-600 ms after the answer) lasts 40 ms of
# real time: a loaded machine that starts the listening late hears silence, and a person
# is taken for nobody and dialed again.
[amd]
notices = false
"#
    ));
    Config::from_toml(&common::guard::for_sim(&text, sim)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_records_by_phone_and_auditors_get_a_report_matching_ground_truth() {
    let env = common::TestEnv::new().await;
    let smtp_port = free_port();
    let sink = Sink::start(smtp_port, None).await;
    let audio = tempfile::tempdir().unwrap();
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 0.1,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        rules: rules(),
        ..Default::default()
    })
    .await
    .unwrap();
    let cfg = config(&env, &sim, smtp_port, &audio.path().display().to_string());
    let dialing = cfg.dialing.clone();
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);

    // the list: 300 subscribers, plus a broken row and a duplicate spelling
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("list7.csv");
    let mut text = String::from("phone,name,account\n");
    for i in 0..SUBSCRIBERS {
        text.push_str(&format!("{},Subscriber {i},ACC{i:05}\n", number(i)));
    }
    text.push_str("not-a-number,Broken,ACC99999\n");
    text.push_str("8 (916) 100-00-01,Duplicate,ACC00001\n");
    std::fs::write(&csv, text).unwrap();
    let report = contactd::store::lists::import_csv(
        &app.shared.pool,
        &csv,
        contactd::core::lists::ImportOptions {
            list_number: 7,
            name: "Lenina st.".into(),
            replace: false,
        },
        &dialing,
    )
    .await
    .unwrap();
    assert_eq!(report.accepted as usize, SUBSCRIBERS);
    // a subscriber asks not to be called after the list was loaded: checked at dial time
    let db = app.shared.pool.get().await.unwrap();
    contactd::lists::dnc::add(&db, &number(10), "asked", "cli", &dialing)
        .await
        .unwrap();
    drop(db);

    // the manager dials 302 from extension 201
    let manager = manager_dials_302(&sim, &app);

    let pg = env.pg().await;
    let started = common::eventually(Duration::from_secs(20), || async {
        pg.query_opt("SELECT id FROM campaigns", &[])
            .await
            .unwrap()
            .is_some()
    })
    .await;
    let step: Option<String> = pg
        .query_opt(
            "SELECT flow_step FROM calls WHERE uuid = $1::text::uuid",
            &[&manager],
        )
        .await
        .unwrap()
        .and_then(|r| r.get(0));
    assert!(
        started,
        "no campaign was started by the manager's call (step {step:?})"
    );
    let (id, audio_path, confirm, created_by): (i64, String, bool, String) = {
        let r = pg
            .query_one("SELECT id, audio, confirm, created_by FROM campaigns", &[])
            .await
            .unwrap();
        (r.get(0), r.get(1), r.get(2), r.get(3))
    };
    assert!(confirm, "302 asks for confirmation");
    assert_eq!(created_by, "201");
    assert!(
        std::path::Path::new(&audio_path).exists(),
        "recorded message {audio_path} missing"
    );

    let finished = common::eventually(Duration::from_secs(240), || async {
        pg.query_one(
            "SELECT finished_at IS NOT NULL FROM campaigns WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get::<_, bool>(0)
    })
    .await;
    let progress = app.shared.campaigns.progress(id).await.unwrap();
    assert!(finished, "campaign did not finish: {progress:?}");
    assert!(
        sim.peak_channels_on("1") <= 5,
        "the switch saw {} channels at once on a 5-line campaign",
        sim.peak_channels_on("1")
    );
    assert!(
        sim.peak_channels_on("1") >= 4,
        "5 lines were not used: {}",
        sim.peak_channels_on("1")
    );

    // the e-mail
    let got_mail = common::eventually(Duration::from_secs(30), || async {
        !sink.messages().is_empty()
    })
    .await;
    assert!(got_mail, "no report e-mail arrived");
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1, "exactly one report");
    let m = &msgs[0];
    let rcpt: Vec<String> = serde_json::from_value(m["rcpt_tos"].clone()).unwrap();
    assert!(rcpt.contains(&"audit@example.org".to_string()), "{rcpt:?}");
    assert!(rcpt.contains(&"boss@example.org".to_string()), "{rcpt:?}");
    let csv_text = m["attachments"][0]["content"]
        .as_str()
        .expect("CSV attachment")
        .to_string();
    let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let rows: Vec<Vec<String>> = rdr
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), SUBSCRIBERS);

    // ground truth per dialed number (8916100NNNN), every attempt
    let mut truth: HashMap<String, Vec<sim::PartyRecord>> = HashMap::new();
    for p in sim.ground_truth() {
        if p.endpoint == "freetdm" {
            truth.entry(p.number.clone()).or_default().push(p);
        }
    }
    let mut expected: HashMap<&str, usize> = HashMap::new();
    for row in &rows {
        let phone = &row[col("phone")];
        let dialed = format!("8{}", &phone[2..]);
        let attempts = truth.get(&dialed).cloned().unwrap_or_default();
        let outcome = row[col("outcome")].as_str();
        let want = if phone == &number(10) {
            assert!(
                attempts.is_empty(),
                "{phone} is on the do-not-call list but was dialed"
            );
            "dnc"
        } else {
            let last = attempts
                .last()
                .unwrap_or_else(|| panic!("{phone} never dialed"));
            if last.answered {
                if last.playbacks_completed > 0 {
                    "listened_full"
                } else {
                    "listened_partial"
                }
            } else {
                match last.hangup_cause.as_deref() {
                    Some("USER_BUSY") => "busy",
                    Some("NO_ANSWER") => "no_answer",
                    Some("UNALLOCATED_NUMBER") => "invalid",
                    other => panic!("{phone}: unexpected cause {other:?}"),
                }
            }
        };
        assert_eq!(
            outcome, want,
            "{phone}: report says {outcome}, the subscriber experienced {want}"
        );
        // the raw Q.850 code comes with every unanswered attempt, as the switch gave it
        let want_q850 = match want {
            "busy" => Some("17"),
            "no_answer" => Some("19"),
            "invalid" => Some("1"),
            _ => None,
        };
        if let Some(q) = want_q850 {
            assert_eq!(
                row[col("last_q850")],
                q,
                "{phone}: {want} without its Q.850 code"
            );
        }
        if !attempts.is_empty() {
            assert_eq!(
                row[col("attempts")],
                attempts.len().to_string(),
                "{phone} attempts"
            );
        }
        if want == "listened_partial" {
            // the switch's own clock: what the subscriber heard, to a tenth of a second
            let heard = attempts.last().unwrap().heard_ms as f64 / 1000.0;
            let said: f64 = row[col("listened_seconds")].parse().unwrap();
            assert!(
                (said - heard).abs() <= 0.15,
                "{phone}: report {said}s, heard {heard}s"
            );
        }
        let pressed = attempts.last().is_some_and(|a| a.digits.contains('1'));
        let confirmed = row[col("confirm_key")] == "1";
        assert_eq!(confirmed, pressed, "{phone}: confirmation");
        *expected.entry(want).or_default() += 1;
    }
    // every unanswered call row has its Q.850 code too (from the channel, else the cause's)
    let calls_without: i64 = pg
        .query_one(
            "SELECT count(*) FILTER (WHERE q850 IS NULL) FROM calls WHERE state = 'failed'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(calls_without, 0, "failed calls without a Q.850 code");
    // nobody who heard the message was called again
    for (n, attempts) in &truth {
        let heard_at = attempts.iter().position(|a| a.answered);
        if let Some(i) = heard_at {
            assert_eq!(
                i,
                attempts.len() - 1,
                "{n} was called again after answering"
            );
        }
    }
    // the summary in the body agrees with the rows
    let body = m["text"].as_str().unwrap_or_default().to_string();
    let reached = expected.get("listened_full").unwrap_or(&0)
        + expected.get("listened_partial").unwrap_or(&0);
    assert!(
        body.contains(&reached.to_string()),
        "body lacks reached={reached}:\n{body}"
    );
    assert_eq!(expected["dnc"], 1);
    assert_eq!(expected["invalid"], 30);
    assert_eq!(expected["busy"], 30);
    assert_eq!(expected["no_answer"], 30);
    // `campaigns report ID` prints the same counts
    let printed = contactd::mail::report::print_report(&app.shared.pool, id, "1")
        .await
        .unwrap();
    assert!(
        printed.starts_with(body.trim_end()) || printed.contains(body.lines().nth(1).unwrap_or(""))
    );
    app.shutdown(Duration::from_secs(2)).await;
}

/// The switch cannot open the manager's recording (campaigns.audio_dir missing on its disk,
/// here a plain file in the way): as switch_ivr_record_file, it hangs the manager up. The
/// call's record says the switch ended it, at the recording, and no campaign starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_the_switch_cannot_write_ends_the_call_as_the_switchs() {
    let env = common::TestEnv::new().await;
    let scratch = tempfile::tempdir().unwrap();
    let blocked = scratch.path().join("campaigns");
    std::fs::write(&blocked, b"not a directory").unwrap();
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 0.1,
        ..Default::default()
    })
    .await
    .unwrap();
    let cfg = config(
        &env,
        &sim,
        free_port(),
        &blocked.join("messages").display().to_string(),
    );
    let app = App::start(cfg).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    let manager = manager_dials_302(&sim, &app);
    let pg = env.pg().await;
    let ended = common::eventually(Duration::from_secs(20), || async {
        pg.query_opt(
            "SELECT 1 FROM calls WHERE uuid = $1::text::uuid AND hungup_by IS NOT NULL",
            &[&manager],
        )
        .await
        .unwrap()
        .is_some()
    })
    .await;
    assert!(ended, "the manager's call has no end recorded");
    let r = pg
        .query_one(
            "SELECT flow_step, hungup_by FROM calls WHERE uuid = $1::text::uuid",
            &[&manager],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, String>(1), "switch");
    assert_eq!(r.get::<_, String>(0), "recording");
    let truth = sim.ground_truth();
    let t = truth.iter().find(|p| p.uuid == manager).unwrap();
    assert_eq!(t.hangup_by.as_deref(), Some("switch"));
    assert_eq!(t.hangup_cause.as_deref(), Some("DESTINATION_OUT_OF_ORDER"));
    assert!(pg
        .query_opt("SELECT id FROM campaigns", &[])
        .await
        .unwrap()
        .is_none());
    app.shutdown(Duration::from_secs(1)).await;
}
