//! Where call progress used to guess wrong, end to end against the simulator (whose far ends
//! send what the switch's modules send: `wait_for_silence`'s variables on its
//! CHANNEL_EXECUTE_COMPLETE, CHANNEL_PROGRESS_MEDIA for early media):
//! - a greeting that goes on past the analysis without a pause is a machine, not silence;
//! - a network's recorded voice without SIT tones is an announcement, not a beepless
//!   machine: released by the network during the beep wait, played as early media and
//!   released before any answer, or played as early media and answered — never given the
//!   message; a ring-back nobody answered stays `no_answer`;
//! - a call whose contactd was killed while it was being classified is classified again
//!   after the restart: a machine gets the message after its beep, not a person's message.
use crate::campaign_support;
use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use contactd::config::Config;
use contactd::sim::{AfterAnswer, Behaviour, PartyRecord};
use contactd::store::campaigns::{Campaigns, NewCampaign};

const MESSAGE_MS: u64 = 3000;

fn answer(after: AfterAnswer) -> Behaviour {
    Behaviour::Answer {
        ring_ms: 500,
        after,
    }
}

fn machine(greeting_ms: u64) -> Behaviour {
    answer(AfterAnswer::Machine {
        greeting_ms,
        gap_ms: 300,
        beep_hz: 1000.0,
        beep_ms: 500,
        record_ms: 30_000,
    })
}

fn early_voice(voice_ms: u64, cause: &str, answer_ms: Option<u64>) -> Behaviour {
    Behaviour::EarlyAnnouncement {
        tone: String::new(),
        voice_ms,
        cause: cause.into(),
        answer_ms,
    }
}

fn phone(i: usize) -> String {
    format!("+791630000{i:02}")
}

fn dialed(i: usize) -> String {
    format!("891630000{i:02}")
}

/// When the campaign's message began playing to the party (simulated ms since start).
fn message_start(p: &PartyRecord) -> Option<u64> {
    p.played
        .iter()
        .position(|f| f == campaign_support::MESSAGE)
        .map(|i| p.played_at_ms[i])
}

fn campaign(list: i32, cfg: &Config) -> NewCampaign {
    NewCampaign {
        window_days: "mon-sun".into(),
        window_start: "00:00".into(),
        window_end: "23:59".into(),
        max_attempts: 1,
        lines: 10,
        ..NewCampaign::with_defaults(&cfg.campaigns, list, campaign_support::MESSAGE, "cli")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_greetings_and_voice_announcements_are_told_apart() {
    let env = common::TestEnv::new().await;
    let subscribers: Vec<(&str, Behaviour)> = vec![
        // 6 s of greeting: wait_for_silence's 5 s run out while it still talks
        ("machine_no_pause", machine(6000)),
        // "the subscriber is unavailable" after the answer, no SIT, then released
        (
            "voice_answered",
            answer(AfterAnswer::Announcement {
                tone: String::new(),
                voice_ms: 5000,
            }),
        ),
        // the same as early media, released without an answer
        ("voice_early", early_voice(4000, "SUBSCRIBER_ABSENT", None)),
        // early media then an answer, the voice going on for long
        (
            "voice_early_answered",
            early_voice(40_000, "NORMAL_CLEARING", Some(2000)),
        ),
        // ring-back as early media, the network gives up: nobody answered
        ("ringback", early_voice(4000, "NO_ANSWER", None)),
        (
            "person",
            answer(AfterAnswer::Person {
                after_ms: 300,
                speak_ms: 500,
                hangup_ms: None,
            }),
        ),
    ];
    let numbers: HashMap<String, Behaviour> = subscribers
        .iter()
        .enumerate()
        .map(|(i, (_, b))| (dialed(i), b.clone()))
        .collect();
    let (sim, app) = campaign_support::start_with(&env, 10, MESSAGE_MS, "", |c| {
        c.time_scale = 0.1;
        c.numbers = numbers;
    })
    .await;
    campaign_support::import(&app, 22, (0..subscribers.len()).map(phone)).await;
    let campaigns = Campaigns::new(app.shared.pool.clone());
    let (id, _) = campaigns
        .create(&campaign(22, &app.shared.config))
        .await
        .unwrap();
    let finished = common::eventually(Duration::from_secs(60), || async {
        matches!(campaigns.get(id).await, Ok(Some(c)) if c.state == "finished")
    })
    .await;
    assert!(finished, "campaign {id} did not finish");
    let rows = env
        .pg()
        .await
        .query(
            "SELECT number_dialed, outcome, detected_kind FROM attempts WHERE campaign_id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), subscribers.len(), "one attempt each");
    let truth = sim.ground_truth();
    let get = |name: &str| {
        let i = subscribers.iter().position(|(n, _)| *n == name).unwrap();
        let r = rows
            .iter()
            .find(|r| r.get::<_, String>(0) == dialed(i))
            .unwrap();
        let p = truth.iter().find(|p| p.number == dialed(i)).unwrap();
        let row: (String, Option<String>) = (r.get(1), r.get(2));
        (row, p.clone())
    };

    // the long greeting: a machine, the message after its beep
    let ((outcome, kind), p) = get("machine_no_pause");
    assert_eq!(outcome, "machine", "{p:?}");
    assert_eq!(kind.as_deref(), Some("beep"));
    let at = message_start(&p).unwrap_or_else(|| panic!("no message: {p:?}"));
    assert!(
        at >= p.beep_end_ms.unwrap(),
        "message before the beep: {p:?}"
    );

    // the voices: announcements, nobody given the message
    for name in ["voice_answered", "voice_early", "voice_early_answered"] {
        let ((outcome, kind), p) = get(name);
        assert_eq!(outcome, "announcement", "{name}: {p:?}");
        assert_eq!(kind.as_deref(), Some("voice"), "{name}");
        assert!(p.played.is_empty(), "{name} heard {:?}", p.played);
    }
    let (_, p) = get("voice_early");
    assert!(!p.answered, "{p:?}");
    // answered after its early media, still talking: contactd hung it up
    let (_, p) = get("voice_early_answered");
    assert!(p.answered, "{p:?}");
    assert_eq!(p.hangup_by.as_deref(), Some("switch"), "{p:?}");

    // ring-back nobody answered is no answer, a person still hears the message
    assert_eq!(get("ringback").0 .0, "no_answer");
    let ((outcome, _), p) = get("person");
    assert_eq!(outcome, "listened_full", "{p:?}");
    app.shutdown(Duration::from_secs(1)).await;
}
