//! A notice campaign with call progress, end to end against the simulator: an answering
//! machine gets the message after its beep and is reported `machine` (the simulator's
//! tape: the message starts after the beep ended); a network announcement (SIT, after the
//! answer or as early media), a fax and a silent line are hung up by contactd and reported
//! not reached with what was detected;
//! people still hear the whole message (and the confirmation prompt a machine is spared),
//! the first words of a "hello" classified fast.
use crate::campaign_support;
use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use contactd::sim::{AfterAnswer, Behaviour, PartyRecord};
use contactd::store::campaigns::{Campaigns, NewCampaign};

const MESSAGE_MS: u64 = 4000;

fn answer(after: AfterAnswer) -> Behaviour {
    Behaviour::Answer {
        ring_ms: 500,
        after,
    }
}

/// Subscriber `i` of the list: +7916200000i, dialed 8916200000i.
fn phone(i: usize) -> String {
    format!("+791620000{i:02}")
}

fn dialed(i: usize) -> String {
    format!("891620000{i:02}")
}

fn machine(greeting_ms: u64, gap_ms: u64) -> Behaviour {
    answer(AfterAnswer::Machine {
        greeting_ms,
        gap_ms,
        beep_hz: 1000.0,
        beep_ms: 500,
        record_ms: 30_000,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_announcements_fax_and_silence_are_told_from_people() {
    let env = common::TestEnv::new().await;
    let subscribers: Vec<(&str, Behaviour)> = vec![
        // the beep comes while the greeting's quiet is still being listened to
        ("machine_beep", machine(3000, 300)),
        // the greeting ends well before the beep: a machine first, its beep after
        ("machine_late_beep", machine(2500, 1200)),
        (
            "announcement",
            answer(AfterAnswer::Announcement {
                tone: "SIT".into(),
                voice_ms: 3000,
            }),
        ),
        ("fax", answer(AfterAnswer::Fax { hangup_ms: 30_000 })),
        ("silence", answer(AfterAnswer::Silence { hangup_ms: None })),
        (
            "person",
            answer(AfterAnswer::Person {
                after_ms: 300,
                speak_ms: 500,
                hangup_ms: None,
            }),
        ),
        ("plain", answer(AfterAnswer::Stay)),
        // "subscriber unavailable" as early media, never answered
        (
            "early_announcement",
            Behaviour::EarlyAnnouncement {
                tone: "SIT".into(),
                voice_ms: 6000,
                cause: "SUBSCRIBER_ABSENT".into(),
                answer_ms: None,
            },
        ),
    ];
    let numbers: HashMap<String, Behaviour> = subscribers
        .iter()
        .enumerate()
        .map(|(i, (_, b))| (dialed(i), b.clone()))
        .collect();
    let (sim, app) = campaign_support::start_with(&env, 10, MESSAGE_MS, "", |c| {
        // 4x fast, not 10x: "message within 2 s of the beep" leaves contactd 450 ms of real
        // time to act on the beep, not 180 ms that a loaded 2-core machine can miss
        c.time_scale = 0.25;
        c.numbers = numbers;
    })
    .await;
    campaign_support::import(&app, 21, (0..subscribers.len()).map(phone)).await;
    let pool = app.shared.pool.clone();
    let campaigns = Campaigns::new(pool.clone());
    let (id, _) = campaigns
        .create(&NewCampaign {
            window_days: "mon-sun".into(),
            window_start: "00:00".into(),
            window_end: "23:59".into(),
            max_attempts: 1,
            lines: 10,
            // people are asked for the key after the message; machines are not
            confirm: true,
            ..NewCampaign::with_defaults(
                &app.shared.config.campaigns,
                21,
                campaign_support::MESSAGE,
                "cli",
            )
        })
        .await
        .unwrap();
    let finished = common::eventually(Duration::from_secs(60), || async {
        matches!(campaigns.get(id).await, Ok(Some(c)) if c.state == "finished")
    })
    .await;
    assert!(finished, "campaign {id} did not finish");
    let db = env.pg().await;
    let rows = db
        .query(
            "SELECT number_dialed, outcome, detected, detected_kind, listened_full
             FROM attempts WHERE campaign_id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let truth = sim.ground_truth();
    assert_eq!(rows.len(), subscribers.len(), "one attempt each");
    let mut by_name = HashMap::new();
    for r in &rows {
        let number: String = r.get(0);
        let i = (0..subscribers.len())
            .find(|i| dialed(*i) == number)
            .unwrap();
        let party: &PartyRecord = truth.iter().find(|p| p.number == number).unwrap();
        let row: (String, Option<String>, Option<String>, Option<bool>) =
            (r.get(1), r.get(2), r.get(3), r.get(4));
        by_name.insert(subscribers[i].0, (row, party.clone()));
    }
    let get = |name: &str| by_name.get(name).unwrap().clone();

    // machines: message after the beep, reported as `machine`, never as listened
    for name in ["machine_beep", "machine_late_beep"] {
        let ((outcome, detected, kind, _), p) = get(name);
        assert_eq!(outcome, "machine", "{name}: {p:?}");
        assert_eq!(detected.as_deref(), Some("machine"), "{name}");
        assert_eq!(kind.as_deref(), Some("beep"), "{name}");
        assert!(p.detectors.iter().any(|d| d == "avmd"), "{name}: {p:?}");
        let beep_end = p.beep_end_ms.expect("a machine beeps");
        let at = message_start(&p).unwrap_or_else(|| panic!("{name}: no message: {p:?}"));
        assert!(
            at >= beep_end,
            "{name}: message at {at} ms, before the beep ended at {beep_end} ms"
        );
        assert!(
            at <= beep_end + 2000,
            "{name}: message {} ms after the beep",
            at - beep_end
        );
        assert_eq!(
            p.played,
            [campaign_support::MESSAGE],
            "{name}: the message once, no confirmation prompt"
        );
    }

    // not reached: hung up by contactd, with what was detected
    for (name, outcome, kind) in [
        ("announcement", "announcement", "sit"),
        ("early_announcement", "announcement", "sit"),
        ("fax", "fax", "fax"),
        ("silence", "silence", "silence"),
    ] {
        let ((o, detected, k, _), p) = get(name);
        assert_eq!(o, outcome, "{name}: {p:?}");
        assert_eq!(detected.as_deref(), Some(outcome), "{name}");
        assert_eq!(k.as_deref(), Some(kind), "{name}");
        assert!(p.played.is_empty(), "{name} heard {:?}", p.played);
        assert_eq!(p.hangup_by.as_deref(), Some("switch"), "{name}: {p:?}");
    }
    // the announcements were cut short: their voice (from 1.2 s) never finished
    let (_, ann) = get("announcement");
    let answered = ann.answered_at_ms.unwrap();
    assert!(ann.ended_at_ms.unwrap() - answered < 3000, "{ann:?}");
    let (_, early) = get("early_announcement");
    assert!(!early.answered, "{early:?}");
    assert!(early.detectors.iter().any(|d| d == "spandsp:contactd"));
    assert!(
        early.ended_at_ms.unwrap() - early.dialed_at_ms < 4000,
        "{early:?}"
    );

    // people: the whole message, starting right after their "hello"
    for name in ["person", "plain"] {
        let ((o, detected, _, full), p) = get(name);
        assert_eq!(o, "listened_full", "{name}: {p:?}");
        assert_eq!(detected.as_deref(), Some("person"), "{name}");
        assert_eq!(full, Some(true));
        let after = message_start(&p).unwrap() - p.answered_at_ms.unwrap();
        // "hello" ends at 800 ms (600 ms plain): + 300 ms quiet + 500 ms, and the reaction
        assert!(after <= 2200, "{name}: message {after} ms after the answer");
    }

    // the report counts them apart: two reached of eight
    let report = contactd::store::report::campaign_report(&pool, id, "1")
        .await
        .unwrap();
    let n = report.counts;
    assert_eq!(
        (n.reached, n.machine, n.announcement, n.fax, n.silence),
        (2, 2, 2, 1, 1),
        "{n:?}"
    );
    app.shutdown(Duration::from_secs(1)).await;
}

/// When the campaign's message began playing to the party (simulated ms since start).
fn message_start(p: &PartyRecord) -> Option<u64> {
    p.played
        .iter()
        .position(|f| f == campaign_support::MESSAGE)
        .map(|i| p.played_at_ms[i])
}
