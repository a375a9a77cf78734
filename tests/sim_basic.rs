//! Simulator behaviour tests: trunk capacity and peak, subscriber behaviours and
//! ground truth, an inbound call handed to a raw-socket outbound server (sendmsg,
//! linger, disconnect notice), the control link's filters against a call on contactd's
//! own outbound socket, and time_scale.

use std::time::{Duration, Instant};

use contactd::sim::{
    AfterAnswer, Behaviour, CallerStep, InboundCall, SimConfig, Simulator, SubscriberRule,
    TrunkConfig, TrunkKind,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::sim_support::raw::Client;
use contactd::esl::events::{control_filters, SUBSCRIBED_EVENTS};
use contactd::esl::outbound::CallSession;

fn cfg() -> SimConfig {
    SimConfig {
        time_scale: 0.01,
        heartbeat_ms: 0,
        trunks: vec![
            TrunkConfig {
                name: "1".into(),
                kind: TrunkKind::Freetdm,
                channels: 2,
            },
            TrunkConfig {
                name: "gw1".into(),
                kind: TrunkKind::Gateway,
                channels: 1,
            },
        ],
        rules: vec![
            SubscriberRule {
                pattern: "^555100".into(),
                behaviour: Behaviour::Answer {
                    ring_ms: 500,
                    after: AfterAnswer::Stay,
                },
            },
            SubscriberRule {
                pattern: "^555200".into(),
                behaviour: Behaviour::Busy { after_ms: 300 },
            },
            SubscriberRule {
                pattern: "^555300".into(),
                behaviour: Behaviour::NoAnswer,
            },
            SubscriberRule {
                pattern: "^555400".into(),
                behaviour: Behaviour::Reject {
                    cause: "NO_ROUTE_DESTINATION".into(),
                    after_ms: 100,
                    ring: false,
                },
            },
            SubscriberRule {
                pattern: "^555500".into(),
                behaviour: Behaviour::Answer {
                    ring_ms: 200,
                    after: AfterAnswer::PressDigits {
                        digits: "1".into(),
                        at_ms: 1500,
                        hangup_ms: Some(2500),
                    },
                },
            },
        ],
        ..Default::default()
    }
}

#[tokio::test]
async fn freetdm_span_capacity_and_peak() {
    let sim = Simulator::start(cfg()).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let a = c.api("originate freetdm/1/a/5551001 &park()").await;
    let b = c.api("originate freetdm/1/a/5551002 &park()").await;
    assert!(a.starts_with("+OK "), "{a}");
    assert!(b.starts_with("+OK "), "{b}");
    let x = c.api("originate freetdm/1/a/5551003 &park()").await;
    assert_eq!(x, "-ERR NORMAL_CIRCUIT_CONGESTION\n");
    assert_eq!(sim.live_channels_on("1"), 2);
    assert_eq!(sim.peak_channels_on("1"), 2);
    let dump = c.api(&format!("uuid_dump {}", a[4..].trim())).await;
    assert!(
        dump.contains("Channel-Name: FreeTDM/1%3A1/5551001"),
        "{dump}"
    );
    assert_eq!(
        c.api("hupall").await,
        "+OK hangup all channels with cause MANAGER_REQUEST\n"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sim.live_channels_on("1"), 0);
    assert_eq!(sim.peak_channels_on("1"), 2);
    // gateway limit
    let g = c.api("originate sofia/gateway/gw1/5551004 &park()").await;
    assert!(g.starts_with("+OK"), "{g}");
    let g2 = c.api("originate sofia/gateway/gw1/5551005 &park()").await;
    assert_eq!(g2, "-ERR NORMAL_TEMPORARY_FAILURE\n");
    assert_eq!(
        c.api("originate nosuch/x &park()").await,
        "-ERR CHAN_NOT_IMPLEMENTED\n"
    );
}

/// mod_freetdm hangs its channel up in CS_HANGUP and ftmod_analog holds it 500 ms in HANGUP
/// before it can be hunted again: an originate right after a busy one finds the span full.
/// A SIP gateway's call is over with its BYE.
#[tokio::test]
async fn a_hung_up_freetdm_channel_clears_for_500_ms_a_gateway_call_at_once() {
    let sim = Simulator::start(SimConfig {
        time_scale: 1.0,
        trunks: vec![
            TrunkConfig {
                name: "1".into(),
                kind: TrunkKind::Freetdm,
                channels: 1,
            },
            TrunkConfig {
                name: "gw1".into(),
                kind: TrunkKind::Gateway,
                channels: 1,
            },
        ],
        ..cfg()
    })
    .await
    .unwrap();
    let mut c = Client::connect(&sim).await;
    assert_eq!(
        c.api("originate freetdm/1/a/5552001 &park()").await,
        "-ERR USER_BUSY\n"
    );
    let ended = Instant::now();
    assert_eq!(
        c.api("originate freetdm/1/a/5552002 &park()").await,
        "-ERR NORMAL_CIRCUIT_CONGESTION\n"
    );
    assert_eq!(sim.refused_full_on("1"), 1);
    tokio::time::sleep(Duration::from_millis(600).saturating_sub(ended.elapsed())).await;
    assert_eq!(
        c.api("originate freetdm/1/a/5552003 &park()").await,
        "-ERR USER_BUSY\n"
    );
    assert_eq!(
        sim.refused_full_on("1"),
        1,
        "the cleared channel was refused"
    );

    assert_eq!(
        c.api("originate sofia/gateway/gw1/5552004 &park()").await,
        "-ERR USER_BUSY\n"
    );
    assert_eq!(
        c.api("originate sofia/gateway/gw1/5552005 &park()").await,
        "-ERR USER_BUSY\n",
        "the gateway's call was still counted after its hang-up"
    );
}

#[tokio::test]
async fn subscriber_behaviours_and_ground_truth() {
    let sim = Simulator::start(cfg()).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let busy = c.api("originate freetdm/1/a/5552001 &park()").await;
    assert_eq!(busy, "-ERR USER_BUSY\n");
    let na = c
        .api("originate {originate_timeout=5}freetdm/1/a/5553001 &park()")
        .await;
    assert_eq!(na, "-ERR NO_ANSWER\n");
    let nr = c.api("originate freetdm/1/a/5554001 &park()").await;
    assert_eq!(nr, "-ERR NO_ROUTE_DESTINATION\n");
    // both channels clear for 500 simulated ms (5 ms here) before they can be hunted again
    tokio::time::sleep(Duration::from_millis(20)).await;
    // A 6 s message: the party's hang-up 2.5 s after the answer comes first even on a loaded
    // machine, where a 10 ms stall is a simulated second here.
    let ok = c
        .api("originate {origination_uuid=11111111-0000-4000-8000-000000000001,my_var=x}freetdm/1/a/5555001 &playback(silence_stream://6000)")
        .await;
    assert_eq!(ok, "+OK 11111111-0000-4000-8000-000000000001\n");
    assert_eq!(
        c.api("uuid_getvar 11111111-0000-4000-8000-000000000001 my_var")
            .await,
        "x"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    let gt = sim.ground_truth();
    let rec = |n: &str| gt.iter().find(|r| r.number == n).cloned().unwrap();
    assert_eq!(rec("5552001").q850, Some(17));
    assert!(!rec("5552001").answered);
    assert_eq!(rec("5553001").hangup_cause.as_deref(), Some("NO_ANSWER"));
    assert_eq!(rec("5554001").q850, Some(3));
    let p = rec("5555001");
    assert!(p.answered);
    assert_eq!(p.digits, "1");
    assert_eq!(p.hangup_by.as_deref(), Some("party"));
    assert!(p.heard_ms >= 2000 && p.heard_ms < 4000, "{p:?}");
    assert_eq!(p.playbacks_interrupted, 1);
    assert!(sim.api_log().iter().any(|l| l.contains("5555001")));
}

/// An inbound call on trunk 1 handed to a socket of the test's, whose caller keys `42#`
/// `after_ms` (simulated) after the first prompt began: its uuid and the accepted socket.
async fn caller_keying_42(sim: &Simulator, after_ms: u64) -> (String, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uuid = sim
        .inbound_call(InboundCall {
            connect_to: l.local_addr().unwrap().to_string(),
            caller_number: "5559000".into(),
            destination: "100".into(),
            trunk: Some("1".into()),
            // set by the dialplan's `set` before its `socket`
            vars: vec![("contactd_entry".into(), "trunk".into())],
            script: vec![
                CallerStep::WaitForPrompt,
                CallerStep::WaitMs(after_ms),
                CallerStep::Dtmf("42#".into()),
            ],
            ..Default::default()
        })
        .unwrap();
    let (s, _) = l.accept().await.unwrap();
    (uuid, s)
}

#[tokio::test]
async fn inbound_call_to_raw_outbound_server() {
    let sim = Simulator::start(cfg()).await.unwrap();
    let (uuid, s) = caller_keying_42(&sim, 300).await;
    let mut c = Client::raw(s);
    c.send("connect").await;
    let data = c.next().await;
    assert!(data.starts_with("Event-Name: CHANNEL_DATA"));
    assert!(data.contains(&format!("Unique-ID: {uuid}")));
    assert!(data.ends_with("Reply-Text: %2BOK%0A\nSocket-Mode: async\nControl: full\n\n"));
    assert!(data.contains("Channel-Name: FreeTDM/1%3A1/100"));
    assert!(c.cmd("myevents").await.contains("+OK Events Enabled"));
    assert!(c
        .cmd("linger 1")
        .await
        .contains("+OK will linger 1 seconds"));
    c.cmd("sendmsg\ncall-command: execute\nexecute-app-name: answer")
        .await;
    c.cmd("sendmsg\ncall-command: execute\nexecute-app-name: play_and_get_digits\nexecute-app-arg: 1 4 1 3000 # silence_stream://1000 silence_stream://200 acct \\d+").await;
    // wait for the IVR to finish
    loop {
        let m = c.next().await;
        if m.contains("CHANNEL_EXECUTE_COMPLETE") && m.contains("play_and_get_digits") {
            assert!(m.contains("variable_acct: 42"), "{m}");
            assert!(m.contains("variable_read_result: success"));
            assert!(m.contains("variable_read_terminator_used: %23"));
            break;
        }
    }
    assert_eq!(sim.live_channels_on("1"), 1);
    c.cmd("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING")
        .await;
    let mut saw_linger = false;
    loop {
        let m = c.next().await;
        if m.contains("Content-Disposition: linger") {
            assert!(m.contains("Linger-Time: 1"));
            saw_linger = true;
        }
        if m.contains("Content-Disposition: disconnect") {
            break;
        }
    }
    assert!(saw_linger);
    let gt = sim.ground_truth();
    let r = gt.iter().find(|r| r.uuid == uuid).unwrap();
    assert_eq!(r.digits, "42#");
    assert_eq!(r.hangup_by.as_deref(), Some("switch"));
}

/// contactd's control link filters (`control_filters`) as the simulator applies them: a
/// call on contactd's outbound socket has its applications' completions and its prompts on
/// that socket only, while the control link still hears the call answered and hung up.
/// A second connection without filters shows the switch did send those events, marked.
#[tokio::test]
async fn control_filters_leave_a_socket_calls_prompts_to_its_socket() {
    // slow enough that the digits fall inside the second prompt, whatever the machine
    let sim = Simulator::start(SimConfig {
        time_scale: 0.1,
        ..cfg()
    })
    .await
    .unwrap();
    let mut filtered = Client::connect(&sim).await;
    for (header, value) in control_filters() {
        let r = filtered.cmd(&format!("filter {header} {value}")).await;
        assert!(
            r.contains(&format!("+OK filter added. [{header}]=[{value}]")),
            "{r}"
        );
    }
    let r = filtered
        .cmd(&format!("event plain {SUBSCRIBED_EVENTS}"))
        .await;
    assert!(r.contains("+OK event listener"), "{r}");
    let mut unfiltered = Client::control(&sim).await;

    let (uuid, s) = caller_keying_42(&sim, 600).await;
    let mut call = CallSession::establish(s).await.unwrap();
    call.execute("answer", "").await.unwrap();
    let (played, _) = call
        .execute("playback", "silence_stream://300")
        .await
        .unwrap();
    assert_eq!(played, "FILE PLAYED");
    let (_, vars) = call
        .execute(
            "play_and_get_digits",
            "1 4 1 3000 # silence_stream://1000 silence_stream://200 contactd_digits \\d+",
        )
        .await
        .unwrap();
    assert_eq!(vars.get("contactd_digits").map(String::as_str), Some("42"));
    call.finish("NORMAL_CLEARING").await;

    let of_call = format!("Unique-ID: {uuid}");
    let done = ["Event-Name: CHANNEL_HANGUP_COMPLETE", of_call.as_str()];
    filtered.wait(&done).await;
    unfiltered.wait(&done).await;
    // whatever else is on its way
    filtered.saw_within(Duration::from_millis(300), &[]).await;
    unfiltered.saw_within(Duration::from_millis(300), &[]).await;
    let on = |c: &Client, lines: &[&str]| {
        c.kept()
            .filter(|m| m.lines().any(|l| l == of_call))
            .filter(|m| lines.iter().all(|w| m.lines().any(|l| l == *w)))
            .count()
    };
    let prompts = ["Event-Name: PLAYBACK_START", "contactd_link: socket"];
    let completions = ["Application-UUID-Name: contactd-socket"];
    // the switch sent them, marked: the prompt and the digits' prompt, three applications
    assert_eq!(on(&unfiltered, &prompts), 2);
    assert_eq!(
        on(&unfiltered, &completions),
        6,
        "EXECUTE and EXECUTE_COMPLETE"
    );
    // ...and the control link got none of them, but the call's answer
    assert_eq!(on(&filtered, &["Event-Name: PLAYBACK_START"]), 0);
    assert_eq!(on(&filtered, &["Event-Name: PLAYBACK_STOP"]), 0);
    assert_eq!(on(&filtered, &completions), 0);
    assert_eq!(on(&filtered, &["Event-Name: CHANNEL_ANSWER"]), 1);
    // nor the dialplan's own applications: its `set` and the `socket` itself
    for app in ["Application: set", "Application: socket"] {
        let done = ["Event-Name: CHANNEL_EXECUTE_COMPLETE", app];
        assert_eq!(on(&unfiltered, &done), 1, "{app}");
        assert_eq!(on(&filtered, &done), 0, "{app}");
    }
    // an application of the control link's own on another call is still heard there
    let other = filtered
        .api("originate {origination_uuid=0c1d2e3f-0000-4000-8000-000000000001}freetdm/1/a/5551001 &park()")
        .await;
    assert!(other.starts_with("+OK"), "{other}");
    filtered
        .execute_ok(
            "0c1d2e3f-0000-4000-8000-000000000001",
            "playback",
            "silence_stream://200",
        )
        .await;
    filtered
        .wait(&[
            "Event-Name: CHANNEL_EXECUTE_COMPLETE",
            "Unique-ID: 0c1d2e3f-0000-4000-8000-000000000001",
            "Application: playback",
        ])
        .await;
}

#[tokio::test]
async fn auth_events_and_time_scale() {
    let sim = Simulator::start(SimConfig {
        time_scale: 0.01,
        heartbeat_ms: 1000,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut bad = TcpStream::connect(sim.esl_addr()).await.unwrap();
    bad.write_all(b"auth nope\n\n").await.unwrap();
    let mut all = Vec::new();
    bad.read_to_end(&mut all).await.unwrap();
    let all = String::from_utf8_lossy(&all);
    assert!(all.contains("Reply-Text: -ERR invalid"));
    assert!(all.contains("Disconnected, goodbye."));
    let mut c = Client::connect(&sim).await;
    assert!(c
        .cmd("event plain HEARTBEAT")
        .await
        .contains("+OK event listener enabled plain"));
    // 1 s heartbeat at time_scale 0.01 -> about 10 ms
    let t = Instant::now();
    let hb = c.next().await;
    assert!(hb.contains("Event-Name: HEARTBEAT"));
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(c.cmd("foo bar").await.contains("-ERR command not found"));
    assert_eq!(
        c.api("nosuchcmd").await,
        "-ERR nosuchcmd Command not found!\n"
    );
    assert_eq!(c.api("uuid_kill 1-2-3").await, "-ERR No such channel!\n");
    sim.drop_esl_connections();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match c.s.read(&mut buf).await {
                Ok(0) | Err(_) => return 0,
                Ok(_) => continue,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(n, 0);
}
