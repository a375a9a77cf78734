//! `service::amd::classify` on a parked answered call (as an operator campaign uses it),
//! against the simulator: a person is told within the analysis, a machine by its beep, a
//! network announcement by its SIT tone, and a switch whose detectors were not started
//! reports nothing.
use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use contactd::clock::Clock;
use contactd::config::Config;
use contactd::core::amd::Detection;
use contactd::core::channels::SwitchEvent;
use contactd::esl::control::{NodeEvent, SwitchLink};
use contactd::service::amd;
use contactd::sim::{self, AfterAnswer, Behaviour, Simulator};
use tokio::sync::{mpsc, watch};

fn answer(after: AfterAnswer) -> Behaviour {
    Behaviour::Answer {
        ring_ms: 300,
        after,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classify_tells_who_answered_a_parked_call() {
    let env = common::TestEnv::new().await;
    let numbers: HashMap<String, Behaviour> = [
        (
            "89160000001",
            answer(AfterAnswer::Person {
                after_ms: 250,
                speak_ms: 450,
                hangup_ms: None,
            }),
        ),
        (
            "89160000002",
            answer(AfterAnswer::Machine {
                greeting_ms: 2500,
                gap_ms: 200,
                beep_hz: 950.0,
                beep_ms: 600,
                record_ms: 10_000,
            }),
        ),
        (
            "89160000003",
            answer(AfterAnswer::Announcement {
                tone: "SIT".into(),
                voice_ms: 4000,
            }),
        ),
    ]
    .into_iter()
    .map(|(n, b)| (n.to_string(), b))
    .collect();
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 0.1,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        numbers,
        ..Default::default()
    })
    .await
    .unwrap();
    let text = env.config_toml(
        sim.esl_addr(),
        "ClueCon",
        &[("e1", 30, "freetdm/1/a/{number}")],
    );
    let cfg = Config::from_toml(&text).unwrap();
    let (name, sw) = cfg.switch.iter().next().unwrap();
    let (sink, mut events) = mpsc::channel(10_000);
    let (_stop, stop_rx) = watch::channel(false);
    let (link, _task) = SwitchLink::spawn(name, sw.clone(), sink, stop_rx);
    assert!(link.wait_connected(Duration::from_secs(5)).await);
    let clock = Clock::system();

    let call = |number: &'static str| {
        let link = link.clone();
        async move {
            let uuid = uuid::Uuid::new_v4().to_string();
            let watch = link.watch_call(&uuid);
            let reply = link
                .bgapi(
                    &format!("originate {{origination_uuid={uuid}}}freetdm/1/a/{number} &park()"),
                    Duration::from_secs(10),
                )
                .await
                .unwrap();
            assert!(reply.starts_with("+OK"), "{number}: {reply}");
            (uuid, watch)
        }
    };

    // nothing started: a machine's beep goes unreported
    let (quiet, _w) = call("89160000002").await;
    tokio::time::sleep(Duration::from_millis(500)).await; // 5 s simulated: past the beep
    let mut seen = Vec::new();
    while let Ok(NodeEvent::Event { event, .. }) = events.try_recv() {
        seen.push(event);
    }
    assert!(
        !seen.iter().any(|e| matches!(e,
            SwitchEvent::Beep { uuid, .. } | SwitchEvent::Tone { uuid, .. } if *uuid == quiet)),
        "events without a detector: {seen:?}"
    );
    tokio::spawn(async move { while events.recv().await.is_some() {} });

    for (number, want) in [
        ("89160000001", Detection::Person),
        ("89160000002", Detection::Machine { beep: true }),
        (
            "89160000003",
            Detection::Announcement { kind: "sit".into() },
        ),
    ] {
        let (uuid, mut watch) = call(number).await;
        let answered = std::time::Instant::now();
        let got = amd::classify(&link, &mut watch, &uuid, &cfg.amd, &clock).await;
        assert_eq!(got, want, "{number}");
        if got == Detection::Person {
            // "hello" ends 700 ms after the answer; + 300 ms quiet + 500 ms: 1.5 s, and the
            // simulated clock runs 10 times faster than this one
            let simulated = answered.elapsed() * 10;
            assert!(
                simulated <= Duration::from_millis(1900),
                "a person classified {simulated:?} after the answer"
            );
        }
        link.kill(&uuid, freeswitch_types::HangupCause::NormalClearing)
            .await
            .ok();
    }
    let truth = sim.ground_truth();
    let person = truth.iter().find(|p| p.number == "89160000001").unwrap();
    assert_eq!(
        person.detectors,
        ["avmd", "spandsp:contactd", "wait_for_silence"],
        "{person:?}"
    );
}
