//! Simulator behaviour the ACD relies on: the `contactd-acd` context (checked
//! against dialplans/contactd-acd.xml), a caller transferred there from the
//! outbound socket staying parked after the socket closes, music on hold
//! (`local_stream://`) until `uuid_break`, what a caller does when its bridge ends
//! (`transfer_after_bridge` to acd-hold, `hangup_after_bridge`), `park_after_bridge`
//! (uuid_bridge and the bridge app), moving a caller to another operator with `uuid_bridge`,
//! `record_session` through a bridge, agent phones (offers, peak, behaviour changed
//! at run time) and `originate_timeout` on `user/`.

use std::collections::HashMap;
use std::time::Duration;

use contactd::sim::{
    AfterAnswer, Behaviour, CallerStep, InboundCall, SimConfig, Simulator, SubscriberRule,
    TrunkConfig, TrunkKind,
};
use tokio::net::TcpListener;

use crate::sim_support::raw::Client;

const TIMEOUT: Duration = Duration::from_secs(10);

fn header<'a>(m: &'a str, k: &str) -> Option<&'a str> {
    m.lines()
        .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix(": ")))
}

fn ev(name: &str) -> String {
    format!("Event-Name: {name}")
}

fn uid(u: &str) -> String {
    format!("Unique-ID: {u}")
}

/// 1 simulated second = 10 ms.
fn cfg(agents: &[(&str, Behaviour)]) -> SimConfig {
    SimConfig {
        time_scale: 0.01,
        heartbeat_ms: 0,
        trunks: vec![TrunkConfig {
            name: "1".into(),
            kind: TrunkKind::Freetdm,
            channels: 4,
        }],
        rules: vec![SubscriberRule {
            pattern: "^555".into(),
            behaviour: Behaviour::Answer {
                ring_ms: 200,
                after: AfterAnswer::Stay,
            },
        }],
        agents: agents
            .iter()
            .map(|(k, b)| (k.to_string(), b.clone()))
            .collect::<HashMap<_, _>>(),
        ..Default::default()
    }
}

fn stay(ring_ms: u64) -> Behaviour {
    Behaviour::Answer {
        ring_ms,
        after: AfterAnswer::Stay,
    }
}

async fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How the test's outbound server lets the socket go after the transfer.
#[derive(Clone, Copy, PartialEq)]
enum Leave {
    Close,
    Exit,
}

/// A caller arrives on the trunk, the test (as contactd's outbound server) sends it
/// to `acd_<queue>` in contactd-acd and lets the socket go. Returns its uuid once it
/// is parked there.
async fn acd_caller(sim: &Simulator, queue: &str, leave: Leave) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uuid = sim
        .inbound_call(InboundCall {
            connect_to: l.local_addr().unwrap().to_string(),
            caller_number: "5559001".into(),
            destination: "250100".into(),
            trunk: Some("1".into()),
            script: vec![CallerStep::WaitMs(3_600_000)],
            ..Default::default()
        })
        .unwrap();
    let (s, _) = tokio::time::timeout(TIMEOUT, l.accept())
        .await
        .unwrap()
        .unwrap();
    let mut c = Client::raw(s);
    c.send("connect").await;
    assert!(c.next().await.contains(&uid(&uuid)));
    assert!(c.cmd("myevents").await.contains("+OK Events Enabled"));
    let r = c
        .execute(&uuid, "transfer", &format!("acd_{queue} XML contactd-acd"))
        .await;
    assert!(r.contains("Reply-Text: +OK"), "{r}");
    match leave {
        Leave::Close => drop(c),
        Leave::Exit => {
            assert!(c.cmd("exit").await.contains("+OK bye"));
            drop(c);
        }
    }
    eventually("the caller parks in contactd-acd", || {
        sim.channel_var(&uuid, "current_application").as_deref() == Some("park")
            && sim.channel_var(&uuid, "contactd_queue").as_deref() == Some(queue)
    })
    .await;
    uuid
}

/// `originate` an operator leg to `user/<ext>` as contactd does; its uuid.
async fn operator_leg(c: &mut Client, ext: &str, call: &str) -> String {
    let leg = uuid::Uuid::new_v4().to_string();
    let body = c
        .bgapi(&format!(
            "originate {{origination_uuid={leg},originate_timeout=30,contactd_acd_call={call}}}user/{ext} &park()"
        ))
        .await;
    assert_eq!(body, format!("+OK {leg}\n"));
    leg
}

/// One `<extension>` of a context: its name, its condition's field and expression, and
/// every `<action application=".." data=".."/>` in order.
type XmlExtension = (String, String, String, Vec<(String, String)>);

/// The extensions of a context, read from the XML file with no XML crate.
fn xml_context(text: &str, name: &str) -> Vec<XmlExtension> {
    let attr = |tag: &str, k: &str| -> Option<String> {
        let re = regex::Regex::new(&format!(r#"\b{k}="([^"]*)""#)).unwrap();
        re.captures(tag).map(|c| c[1].to_string())
    };
    let no_comments = regex::Regex::new(r"(?s)<!--.*?-->")
        .unwrap()
        .replace_all(text, "");
    let start = no_comments
        .find(&format!(r#"<context name="{name}">"#))
        .unwrap_or_else(|| panic!("no context {name}"));
    let ctx = &no_comments[start..];
    let ctx = &ctx[..ctx.find("</context>").unwrap()];
    let tag = |body: &str, t: &str| -> Vec<String> {
        regex::Regex::new(&format!(r"<{t}\b[^>]*>"))
            .unwrap()
            .find_iter(body)
            .map(|m| m.as_str().to_string())
            .collect()
    };
    ctx.split("<extension ")
        .skip(1)
        .map(|body| {
            let body = format!("<extension {body}");
            let ext = &tag(&body, "extension")[0];
            let conds = tag(&body, "condition");
            assert_eq!(conds.len(), 1, "one condition per extension in {name}");
            let actions = tag(&body, "action")
                .iter()
                .map(|a| {
                    (
                        attr(a, "application").unwrap(),
                        attr(a, "data").unwrap_or_default(),
                    )
                })
                .collect();
            (
                attr(ext, "name").unwrap(),
                attr(&conds[0], "field").unwrap(),
                attr(&conds[0], "expression").unwrap(),
                actions,
            )
        })
        .collect()
}

#[test]
fn contactd_acd_context_is_the_dialplan_file() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans/contactd-acd.xml");
    let text = std::fs::read_to_string(path).unwrap();
    let exts = xml_context(&text, "contactd-acd");
    let names: Vec<&str> = exts.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["acd_queue", "acd_hold"]);
    for (_, field, _, _) in &exts {
        assert_eq!(field, "destination_number");
    }
    let long = format!("acd_{}", "q".repeat(32));
    let too_long = format!("acd_{}", "q".repeat(33));
    let numbers = [
        "acd_general",
        "acd_a",
        "acd_sales_2",
        long.as_str(),
        too_long.as_str(),
        "acd_Sales",
        "acd_",
        "acd-general",
        "xacd_general",
        "acd_general ",
        "250100",
        "acd-hold",
        "acd-hold ",
        "acd_hold",
        "xacd-hold",
    ];
    let mut matched = 0;
    for n in numbers {
        // the first extension whose condition matches, as the XML dialplan picks it
        let want = exts.iter().find_map(|(_, _, expr, actions)| {
            let re = regex::Regex::new(expr).unwrap();
            re.captures(n).map(|c| {
                actions
                    .iter()
                    .map(|(a, d)| {
                        // the switch expands these when it runs the action
                        let one = c.get(1).map_or("", |m| m.as_str());
                        let d = d.replace("$1", one).replace("${destination_number}", n);
                        (a.clone(), d)
                    })
                    .collect::<Vec<_>>()
            })
        });
        matched += usize::from(want.is_some());
        assert_eq!(
            contactd::sim::dialplan::contactd_acd(n),
            want,
            "destination {n:?}"
        );
    }
    // acd_hold is a queue named "hold"; acd-hold the hold extension
    assert_eq!(matched, 6);
    let general = contactd::sim::dialplan::contactd_acd("acd_general").unwrap();
    assert_eq!(
        general,
        [
            ("set", "contactd_entry=queue"),
            ("set", "contactd_queue=general"),
            ("set", "hangup_after_bridge=true"),
            ("answer", ""),
            ("sleep", "300"),
            ("park", ""),
            ("transfer", "acd_general XML contactd-acd"),
        ]
        .iter()
        .map(|(a, d)| (a.to_string(), d.to_string()))
        .collect::<Vec<_>>()
    );
    let hold = contactd::sim::dialplan::contactd_acd(contactd::sim::dialplan::ACD_HOLD).unwrap();
    assert_eq!(
        hold,
        [("playback", "${contactd_moh}"), ("park", "")]
            .iter()
            .map(|(a, d)| (a.to_string(), d.to_string()))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn transferred_caller_stays_parked_after_the_socket_goes() {
    let sim = Simulator::start(cfg(&[])).await.unwrap();
    let mut c = Client::control(&sim).await;
    for leave in [Leave::Close, Leave::Exit] {
        let call = acd_caller(&sim, "general", leave).await;
        // 30 simulated seconds later it is still there, parked, in the new context
        assert!(
            !c.saw_within(
                Duration::from_millis(300),
                &[&ev("CHANNEL_HANGUP"), &uid(&call)]
            )
            .await
        );
        assert!(sim.live_channels().contains(&call));
        assert_eq!(
            sim.channel_var(&call, "contactd_entry").as_deref(),
            Some("queue")
        );
        assert_eq!(sim.channel_var(&call, "park_after_bridge"), None);
        assert_eq!(
            sim.channel_var(&call, "hangup_after_bridge").as_deref(),
            Some("true")
        );
        let dump = c.api(&format!("uuid_dump {call}")).await;
        assert!(dump.contains("Caller-Context: contactd-acd"), "{dump}");
        assert!(
            dump.contains("Caller-Destination-Number: acd_general"),
            "{dump}"
        );
        assert!(dump.contains("Caller-RDNIS: 250100"), "{dump}");
        assert!(dump.contains("Answer-State: answered"), "{dump}");
        // the control connection drives it now
        let r = c.execute(&call, "playback", "silence_stream://500").await;
        assert!(r.contains("Reply-Text: +OK"), "{r}");
        let done = c
            .wait(&[
                &ev("CHANNEL_EXECUTE_COMPLETE"),
                &uid(&call),
                "Application: playback",
            ])
            .await;
        assert_eq!(header(&done, "Application-Response"), Some("FILE%20PLAYED"));
        assert!(sim.live_channels().contains(&call));
        assert!(sim.hangup(&call, "NORMAL_CLEARING"));
    }
    // an extension the context does not have: no route
    let bad = acd_caller_no_park(&sim, "acd_Bad").await;
    let h = c.wait(&[&ev("CHANNEL_HANGUP"), &uid(&bad)]).await;
    assert_eq!(header(&h, "Hangup-Cause"), Some("NO_ROUTE_DESTINATION"));
}

/// Like `acd_caller`, to any extension, without waiting for park.
async fn acd_caller_no_park(sim: &Simulator, ext: &str) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uuid = sim
        .inbound_call(InboundCall {
            connect_to: l.local_addr().unwrap().to_string(),
            script: vec![CallerStep::WaitMs(3_600_000)],
            ..Default::default()
        })
        .unwrap();
    let (s, _) = l.accept().await.unwrap();
    let mut c = Client::raw(s);
    c.send("connect").await;
    c.next().await;
    c.execute(&uuid, "transfer", &format!("{ext} XML contactd-acd"))
        .await;
    uuid
}

#[tokio::test]
async fn music_on_hold_plays_until_uuid_break() {
    let sim = Simulator::start(cfg(&[])).await.unwrap();
    let mut c = Client::control(&sim).await;
    let call = acd_caller(&sim, "general", Leave::Close).await;
    c.execute(&call, "playback", "local_stream://moh").await;
    let start = c.wait(&[&ev("PLAYBACK_START"), &uid(&call)]).await;
    assert_eq!(header(&start, "Playback-File-Type"), Some("local_stream"));
    assert_eq!(
        header(&start, "Playback-File-Path"),
        Some("local_stream%3A//moh")
    );
    // 100 simulated seconds: it never ends by itself
    assert!(
        !c.saw_within(Duration::from_millis(1000), &[&ev("PLAYBACK_STOP")])
            .await
    );
    assert_eq!(c.api(&format!("uuid_break {call}")).await, "+OK\n");
    let stop = c.wait(&[&ev("PLAYBACK_STOP"), &uid(&call)]).await;
    assert_eq!(header(&stop, "Playback-Status"), Some("break"));
    let done = c
        .wait(&[
            &ev("CHANNEL_EXECUTE_COMPLETE"),
            &uid(&call),
            "Application: playback",
        ])
        .await;
    assert_eq!(header(&done, "Application-Response"), Some("FILE%20PLAYED"));
    // still parked
    assert!(
        !c.saw_within(
            Duration::from_millis(100),
            &[&ev("CHANNEL_UNPARK"), &uid(&call)]
        )
        .await
    );
    assert_eq!(
        sim.channel_var(&call, "current_application").as_deref(),
        Some("playback")
    );
    assert!(sim.live_channels().contains(&call));

    // uuid_broadcast of the same stream, broken with `all`
    assert_eq!(
        c.api(&format!("uuid_broadcast {call} local_stream://moh aleg"))
            .await,
        "+OK Message sent\n"
    );
    c.wait(&[&ev("PLAYBACK_START"), &uid(&call)]).await;
    assert!(
        !c.saw_within(Duration::from_millis(500), &[&ev("PLAYBACK_STOP")])
            .await
    );
    assert_eq!(c.api(&format!("uuid_break {call} all")).await, "+OK\n");
    let stop = c.wait(&[&ev("PLAYBACK_STOP"), &uid(&call)]).await;
    assert_eq!(header(&stop, "Playback-Status"), Some("break"));
    c.wait(&[
        &ev("CHANNEL_EXECUTE_COMPLETE"),
        &uid(&call),
        "Application: playback",
    ])
    .await;

    // errors as mod_commands words them
    assert_eq!(
        c.api("uuid_break 00000000-0000-4000-8000-000000000000")
            .await,
        "-ERR No such channel!\n"
    );
    assert_eq!(c.api("uuid_break").await, "-USAGE: <uuid> [all]\n");

    // a bridge also ends the music (a phone registered at run time)
    sim.set_agent_behaviour("1001", stay(300));
    c.execute(&call, "playback", "local_stream://moh").await;
    c.wait(&[&ev("PLAYBACK_START"), &uid(&call)]).await;
    let leg = operator_leg(&mut c, "1001", &call).await;
    assert_eq!(
        c.api(&format!("uuid_bridge {call} {leg}")).await,
        format!("+OK {leg}\n")
    );
    let stop = c.wait(&[&ev("PLAYBACK_STOP"), &uid(&call)]).await;
    assert_eq!(header(&stop, "Playback-Status"), Some("done"));
    let done = c
        .wait(&[
            &ev("CHANNEL_EXECUTE_COMPLETE"),
            &uid(&call),
            "Application: playback",
        ])
        .await;
    assert_eq!(
        header(&done, "Application-Response"),
        Some("PLAYBACK%20ERROR")
    );
    c.wait(&[&ev("CHANNEL_BRIDGE"), &uid(&call)]).await;
    assert!(sim.hangup(&call, "NORMAL_CLEARING"));
}

#[tokio::test]
async fn caller_holds_when_moved_and_is_hung_up_when_the_operator_hangs_up() {
    // 100 real ms of talk: time enough for the bridge to be seen while tests run in parallel
    let hang_up_after = Behaviour::Answer {
        ring_ms: 300,
        after: AfterAnswer::HangupAfter { ms: 10_000 },
    };
    let sim = Simulator::start(cfg(&[("1001", hang_up_after), ("1002", stay(300))]))
        .await
        .unwrap();
    let mut c = Client::control(&sim).await;
    let call = acd_caller(&sim, "general", Leave::Close).await;
    let l1 = operator_leg(&mut c, "1001", &call).await;
    // contactd is about to move the caller (a transfer): the bridge's end sends it to
    // acd-hold, which plays the music the variable names
    for (k, v) in [
        ("contactd_moh", "local_stream://moh"),
        ("transfer_after_bridge", "acd-hold:XML:contactd-acd"),
    ] {
        assert_eq!(c.api(&format!("uuid_setvar {call} {k} {v}")).await, "+OK\n");
    }
    assert_eq!(
        c.api(&format!("uuid_bridge {call} {l1}")).await,
        format!("+OK {l1}\n")
    );
    let br = c.wait(&[&ev("CHANNEL_BRIDGE"), &uid(&call)]).await;
    assert_eq!(header(&br, "Bridge-B-Unique-ID"), Some(l1.as_str()));
    assert_eq!(sim.bridged_to(&call), Some(l1.clone()));
    assert_eq!(sim.bridged_to(&l1), Some(call.clone()));
    let dead_air = |sim: &Simulator| {
        sim.ground_truth()
            .into_iter()
            .find(|r| r.uuid == call)
            .map_or(0, |r| r.dead_air_ms)
    };
    let before = dead_air(&sim);

    // the operator hangs up after 10 s: the caller is unbridged and hears music at once
    let h = c.wait(&[&ev("CHANNEL_HANGUP"), &uid(&l1)]).await;
    assert_eq!(header(&h, "Hangup-Cause"), Some("NORMAL_CLEARING"));
    let ub = c.wait(&[&ev("CHANNEL_UNBRIDGE"), &uid(&call)]).await;
    assert_eq!(header(&ub, "Bridge-B-Unique-ID"), Some(l1.as_str()));
    let start = c.wait(&[&ev("PLAYBACK_START"), &uid(&call)]).await;
    assert_eq!(
        header(&start, "Playback-File-Path"),
        Some("local_stream%3A//moh")
    );
    // (simulated ms at 100 per real ms: only the scheduling between the two)
    let gap = dead_air(&sim) - before;
    assert!(
        gap < 2000,
        "{gap} ms of silence between the bridge and the music"
    );
    assert!(
        !c.saw_within(
            Duration::from_millis(200),
            &[&ev("CHANNEL_HANGUP"), &uid(&call)]
        )
        .await
    );
    assert_eq!(sim.bridged_to(&call), None);
    // used up by the transfer
    assert_eq!(sim.channel_var(&call, "transfer_after_bridge"), None);
    let o1 = sim.agent_offers("1001");
    assert_eq!(o1.len(), 1);
    assert!(o1[0].answered);
    assert_eq!(o1[0].hangup_cause.as_deref(), Some("NORMAL_CLEARING"));

    // contactd takes it back: uuid_break ends the music and the extension parks
    assert_eq!(c.api(&format!("uuid_break {call} all")).await, "+OK\n");
    let stop = c.wait(&[&ev("PLAYBACK_STOP"), &uid(&call)]).await;
    assert_eq!(header(&stop, "Playback-Status"), Some("break"));
    c.wait(&[&ev("CHANNEL_PARK"), &uid(&call)]).await;
    // parked it takes sendmsg and a new uuid_bridge
    c.execute(&call, "playback", "silence_stream://300").await;
    c.wait(&[
        &ev("CHANNEL_EXECUTE_COMPLETE"),
        &uid(&call),
        "Application: playback",
    ])
    .await;
    let l2 = operator_leg(&mut c, "1002", &call).await;
    assert_eq!(
        c.api(&format!("uuid_bridge {call} {l2}")).await,
        format!("+OK {l2}\n")
    );
    c.wait(&[&ev("CHANNEL_UNPARK"), &uid(&call)]).await;
    let br = c.wait(&[&ev("CHANNEL_BRIDGE"), &uid(&call)]).await;
    assert_eq!(header(&br, "Bridge-B-Unique-ID"), Some(l2.as_str()));
    assert_eq!(sim.bridged_to(&call), Some(l2.clone()));

    // the talk is over when the operator hangs up: hangup_after_bridge hangs the caller up
    assert!(sim.hangup(&l2, "NORMAL_CLEARING"));
    let ub = c.wait(&[&ev("CHANNEL_UNBRIDGE"), &uid(&call)]).await;
    assert_eq!(header(&ub, "Bridge-B-Unique-ID"), Some(l2.as_str()));
    let h = c.wait(&[&ev("CHANNEL_HANGUP"), &uid(&call)]).await;
    assert_eq!(header(&h, "Hangup-Cause"), Some("NORMAL_CLEARING"));
    eventually("both legs gone", || sim.live_channels().is_empty()).await;
    let truth = sim.ground_truth();
    let me = truth.iter().find(|r| r.uuid == call).unwrap();
    assert_eq!(me.hangup_by.as_deref(), Some("switch"));
    assert_eq!(
        me.transfers,
        ["acd_general@contactd-acd", "acd-hold@contactd-acd"]
    );
    let o2 = sim.agent_offers("1002");
    assert_eq!(o2.len(), 1);
    assert_eq!(o2[0].uuid, l2);
    assert!(o2[0].answered);
    assert_eq!(
        o2[0].vars,
        vec![("contactd_acd_call".to_string(), call.clone())]
    );

    // a caller who hangs up takes the operator leg (no park_after_bridge) with it
    let call = acd_caller(&sim, "general", Leave::Close).await;
    let l3 = operator_leg(&mut c, "1002", &call).await;
    c.api(&format!("uuid_bridge {call} {l3}")).await;
    c.wait(&[&ev("CHANNEL_BRIDGE"), &uid(&call)]).await;
    assert!(sim.hangup(&call, "NORMAL_CLEARING"));
    let h = c.wait(&[&ev("CHANNEL_HANGUP"), &uid(&l3)]).await;
    assert_eq!(header(&h, "Hangup-Cause"), Some("NORMAL_CLEARING"));
    eventually("both legs gone", || sim.live_channels().is_empty()).await;
}

#[tokio::test]
async fn bridge_app_and_park_after_bridge() {
    let hang_up_after = Behaviour::Answer {
        ring_ms: 300,
        after: AfterAnswer::HangupAfter { ms: 1000 },
    };
    let sim = Simulator::start(cfg(&[("1003", hang_up_after)]))
        .await
        .unwrap();
    let mut c = Client::control(&sim).await;
    // `bridge` as the channel's application: with park_after_bridge the channel
    // goes to CS_PARK when the operator hangs up
    let a = c
        .bgapi("originate {park_after_bridge=true}freetdm/1/a/5551001 &bridge(user/1003)")
        .await;
    let a = a.trim().strip_prefix("+OK ").unwrap().to_string();
    let br = c.wait(&[&ev("CHANNEL_BRIDGE"), &uid(&a)]).await;
    let leg = header(&br, "Bridge-B-Unique-ID").unwrap().to_string();
    assert_eq!(sim.bridged_to(&a), Some(leg.clone()));
    c.wait(&[&ev("CHANNEL_HANGUP"), &uid(&leg)]).await;
    c.wait(&[&ev("CHANNEL_UNBRIDGE"), &uid(&a)]).await;
    c.wait(&[
        &ev("CHANNEL_EXECUTE_COMPLETE"),
        &uid(&a),
        "Application: bridge",
    ])
    .await;
    c.wait(&[&ev("CHANNEL_STATE"), &uid(&a), "Channel-State: CS_PARK"])
        .await;
    c.wait(&[&ev("CHANNEL_PARK"), &uid(&a)]).await;
    assert!(
        !c.saw_within(
            Duration::from_millis(200),
            &[&ev("CHANNEL_HANGUP"), &uid(&a)]
        )
        .await
    );
    assert_eq!(sim.bridged_to(&a), None);
    c.execute(&a, "playback", "silence_stream://200").await;
    c.wait(&[
        &ev("CHANNEL_EXECUTE_COMPLETE"),
        &uid(&a),
        "Application: playback",
    ])
    .await;
    assert!(sim.hangup(&a, "NORMAL_CLEARING"));

    // without it the dialplan goes on: nothing left, NORMAL_CLEARING
    let b = c
        .bgapi("originate freetdm/1/a/5551002 &bridge(user/1003)")
        .await;
    let b = b.trim().strip_prefix("+OK ").unwrap().to_string();
    c.wait(&[&ev("CHANNEL_UNBRIDGE"), &uid(&b)]).await;
    let h = c.wait(&[&ev("CHANNEL_HANGUP"), &uid(&b)]).await;
    assert_eq!(header(&h, "Hangup-Cause"), Some("NORMAL_CLEARING"));
    // run from a park (sendmsg): park_after_bridge ends that park (switch_ivr_park_session
    // sets CS_PARK and CF_TRANSFER) and the channel is parked in CS_PARK instead
    let call = acd_caller(&sim, "general", Leave::Close).await;
    c.execute(&call, "set", "park_after_bridge=true").await;
    c.execute(&call, "bridge", "user/1003").await;
    c.wait(&[&ev("CHANNEL_BRIDGE"), &uid(&call)]).await;
    c.wait(&[&ev("CHANNEL_UNBRIDGE"), &uid(&call)]).await;
    c.wait(&[
        &ev("CHANNEL_EXECUTE_COMPLETE"),
        &uid(&call),
        "Application: bridge",
    ])
    .await;
    c.wait(&[&ev("CHANNEL_UNPARK"), &uid(&call)]).await;
    c.wait(&[
        &ev("CHANNEL_EXECUTE_COMPLETE"),
        &uid(&call),
        "Application: park",
    ])
    .await;
    c.wait(&[&ev("CHANNEL_STATE"), &uid(&call), "Channel-State: CS_PARK"])
        .await;
    c.wait(&[&ev("CHANNEL_PARK"), &uid(&call)]).await;
    assert!(
        !c.saw_within(
            Duration::from_millis(200),
            &[&ev("CHANNEL_HANGUP"), &uid(&call)]
        )
        .await
    );
    assert!(sim.live_channels().contains(&call));
    c.execute(&call, "playback", "silence_stream://200").await;
    c.wait(&[
        &ev("CHANNEL_EXECUTE_COMPLETE"),
        &uid(&call),
        "Application: playback",
    ])
    .await;
    assert!(sim.hangup(&call, "NORMAL_CLEARING"));

    // hangup_after_bridge=true and no park_after_bridge: hung up with the
    // operator's cause when the operator hangs up
    let call = acd_caller(&sim, "general", Leave::Close).await;
    c.execute(&call, "set", "park_after_bridge=false").await;
    c.execute(&call, "set", "hangup_after_bridge=true").await;
    c.execute(&call, "bridge", "user/1003").await;
    c.wait(&[&ev("CHANNEL_UNBRIDGE"), &uid(&call)]).await;
    let h = c.wait(&[&ev("CHANNEL_HANGUP"), &uid(&call)]).await;
    assert_eq!(header(&h, "Hangup-Cause"), Some("NORMAL_CLEARING"));
}

#[tokio::test]
async fn uuid_bridge_moves_the_caller_and_the_old_operator_leg_hangs_up() {
    let sim = Simulator::start(cfg(&[("1001", stay(300)), ("1002", stay(300))]))
        .await
        .unwrap();
    let mut c = Client::control(&sim).await;
    let call = acd_caller(&sim, "general", Leave::Close).await;
    let l1 = operator_leg(&mut c, "1001", &call).await;
    c.api(&format!("uuid_bridge {call} {l1}")).await;
    c.wait(&[&ev("CHANNEL_BRIDGE"), &uid(&call)]).await;
    let l2 = operator_leg(&mut c, "1002", &call).await;
    assert_eq!(
        c.api(&format!("uuid_bridge {call} {l2}")).await,
        format!("+OK {l2}\n")
    );
    // the caller leaves L1 (CHANNEL_UNBRIDGE) and is bridged to L2
    let ub = c.wait(&[&ev("CHANNEL_UNBRIDGE"), &uid(&call)]).await;
    assert_eq!(header(&ub, "Bridge-B-Unique-ID"), Some(l1.as_str()));
    let br = c.wait(&[&ev("CHANNEL_BRIDGE"), &uid(&call)]).await;
    assert_eq!(header(&br, "Bridge-B-Unique-ID"), Some(l2.as_str()));
    // L1, left alone with nothing to run, is hung up NORMAL_CLEARING
    let h = c.wait(&[&ev("CHANNEL_HANGUP"), &uid(&l1)]).await;
    assert_eq!(header(&h, "Hangup-Cause"), Some("NORMAL_CLEARING"));
    eventually("L1 gone", || !sim.live_channels().contains(&l1)).await;
    assert_eq!(sim.bridged_to(&call), Some(l2.clone()));
    assert_eq!(sim.bridged_to(&l2), Some(call.clone()));
    assert!(sim.live_channels().contains(&call));
    let o1 = sim.agent_offers("1001");
    assert_eq!(o1[0].hangup_cause.as_deref(), Some("NORMAL_CLEARING"));
    assert!(o1[0].ended_at_us.is_some());
    assert!(sim.agent_offers("1002")[0].ended_at_us.is_none());
    assert!(sim.hangup(&call, "NORMAL_CLEARING"));
    eventually("all gone", || sim.live_channels().is_empty()).await;
}

/// uuid_bridge of two legs already bridged together (a bridge sent again after its reply
/// was lost): both leave their bridge for a new one between them (switch_ivr_uuid_bridge
/// flags CF_TRANSFER on both, so no after-bridge action runs), and stay bridged.
#[tokio::test]
async fn uuid_bridge_of_two_legs_already_bridged_bridges_them_again() {
    let sim = Simulator::start(cfg(&[("1001", stay(300))])).await.unwrap();
    let mut c = Client::control(&sim).await;
    let call = acd_caller(&sim, "general", Leave::Close).await;
    let l1 = operator_leg(&mut c, "1001", &call).await;
    c.api(&format!("uuid_bridge {call} {l1}")).await;
    c.wait(&[&ev("CHANNEL_BRIDGE"), &uid(&call)]).await;
    assert_eq!(
        c.api(&format!("uuid_bridge {call} {l1}")).await,
        format!("+OK {l1}\n")
    );
    let ub = c.wait(&[&ev("CHANNEL_UNBRIDGE"), &uid(&call)]).await;
    assert_eq!(header(&ub, "Bridge-B-Unique-ID"), Some(l1.as_str()));
    let br = c.wait(&[&ev("CHANNEL_BRIDGE"), &uid(&call)]).await;
    assert_eq!(header(&br, "Bridge-B-Unique-ID"), Some(l1.as_str()));
    assert_eq!(sim.bridged_to(&call), Some(l1.clone()));
    assert_eq!(sim.bridged_to(&l1), Some(call.clone()));
    // still one bridge: the operator's hang-up reaches the caller's side as before
    assert!(sim.hangup(&l1, "NORMAL_CLEARING"));
    c.wait(&[&ev("CHANNEL_UNBRIDGE"), &uid(&call)]).await;
    eventually("all gone", || sim.live_channels().is_empty()).await;
}

/// `call`, recording to `path`, is bridged to operator 1001 and talks 5 simulated seconds,
/// then hangs up: the recording ran through the bridge and was written only at its end.
async fn bridge_talk_and_hang_up(sim: &Simulator, c: &mut Client, call: &str, path: &str) {
    let leg = operator_leg(c, "1001", call).await;
    c.api(&format!("uuid_bridge {call} {leg}")).await;
    c.wait(&[&ev("CHANNEL_BRIDGE"), &uid(call)]).await;
    tokio::time::sleep(Duration::from_millis(50)).await; // 5 s of talk
    assert!(
        !std::path::Path::new(path).exists(),
        "written only when the recording ends"
    );
    assert!(sim.hangup(call, "NORMAL_CLEARING"));
    let stop = c.wait(&[&ev("RECORD_STOP"), &uid(call)]).await;
    assert_eq!(header(&stop, "Record-File-Path"), Some(path));
    c.wait(&[&ev("CHANNEL_HANGUP_COMPLETE"), &uid(call)]).await;
    let ms = contactd::sim::media::wav_ms(path).expect("a WAV file");
    assert!(ms >= 5000, "{ms} ms recorded");
    let truth = sim.ground_truth();
    let rec = truth.iter().find(|r| r.uuid == call).unwrap();
    assert_eq!(rec.recording.as_deref(), Some(path));
}

#[tokio::test]
async fn record_session_records_through_the_bridge_until_hangup() {
    let sim = Simulator::start(cfg(&[("1001", stay(300))])).await.unwrap();
    let mut c = Client::control(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let path_s = dir.path().join("rec.wav").to_str().unwrap().to_string();
    let call = acd_caller(&sim, "general", Leave::Close).await;
    c.execute(&call, "record_session", &path_s).await;
    let rs = c.wait(&[&ev("RECORD_START"), &uid(&call)]).await;
    assert!(rs.contains("Record-File-Path: "));
    // it returns at once: the application completes before anything else happens
    c.wait(&[
        &ev("CHANNEL_EXECUTE_COMPLETE"),
        &uid(&call),
        "Application: record_session",
    ])
    .await;
    assert_eq!(
        sim.channel_var(&call, "sim_record_session"),
        Some(path_s.clone())
    );
    bridge_talk_and_hang_up(&sim, &mut c, &call, &path_s).await;

    // switch_ivr_record_session_event makes the file's directory (switch_dir_make_recursive)
    let call2 = acd_caller(&sim, "general", Leave::Close).await;
    let nested = dir.path().join("2026/12/rec.wav");
    c.execute(&call2, "record_session", nested.to_str().unwrap())
        .await;
    c.wait(&[&ev("RECORD_START"), &uid(&call2)]).await;
    assert!(sim.hangup(&call2, "NORMAL_CLEARING"));
    c.wait(&[&ev("CHANNEL_HANGUP_COMPLETE"), &uid(&call2)])
        .await;
    assert!(contactd::sim::media::wav_ms(nested.to_str().unwrap()).is_some());

    // ...but one it cannot make (a file is in the way): no file, no recording, no event
    std::fs::write(dir.path().join("plain"), b"x").unwrap();
    let call3 = acd_caller(&sim, "general", Leave::Close).await;
    let blocked = dir.path().join("plain/rec.wav");
    c.execute(&call3, "record_session", blocked.to_str().unwrap())
        .await;
    let done = c
        .wait(&[
            &ev("CHANNEL_EXECUTE_COMPLETE"),
            &uid(&call3),
            "Application: record_session",
        ])
        .await;
    assert!(!done.is_empty());
    assert_eq!(sim.channel_var(&call3, "sim_record_session"), None);
    assert!(sim.hangup(&call3, "NORMAL_CLEARING"));
    c.wait(&[&ev("CHANNEL_HANGUP_COMPLETE"), &uid(&call3)])
        .await;
    let truth = sim.ground_truth();
    assert_eq!(
        truth.iter().find(|r| r.uuid == call3).unwrap().recording,
        None
    );
}

/// `uuid_record start` is the api form of `record_session` (trace 06): `+OK Success` at once,
/// the recording runs through the bridge until hangup; `-ERR Cannot record session!` when
/// the file cannot be made; `stop` takes the path or `all`.
#[tokio::test]
async fn uuid_record_start_records_like_record_session_and_says_when_it_cannot() {
    let sim = Simulator::start(cfg(&[("1001", stay(300))])).await.unwrap();
    let mut c = Client::control(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let path_s = dir.path().join("day/rec.wav").to_str().unwrap().to_string();
    let call = acd_caller(&sim, "general", Leave::Close).await;
    assert_eq!(
        c.api(&format!("uuid_record {call} start {path_s}")).await,
        "+OK Success\n"
    );
    let rs = c.wait(&[&ev("RECORD_START"), &uid(&call)]).await;
    assert_eq!(header(&rs, "Record-File-Path"), Some(path_s.as_str()));
    // asked again (a bridge retried after the link came back): "Already recording", the
    // running recording goes on (not closed and written now)
    assert_eq!(
        c.api(&format!("uuid_record {call} start {path_s}")).await,
        "+OK Success\n"
    );
    assert_eq!(
        sim.channel_var(&call, "sim_record_session"),
        Some(path_s.clone())
    );
    bridge_talk_and_hang_up(&sim, &mut c, &call, &path_s).await;

    std::fs::write(dir.path().join("plain"), b"x").unwrap();
    let call2 = acd_caller(&sim, "general", Leave::Close).await;
    let blocked = dir.path().join("plain/rec.wav");
    assert_eq!(
        c.api(&format!("uuid_record {call2} start {}", blocked.display()))
            .await,
        "-ERR Cannot record session!\n"
    );
    assert_eq!(sim.channel_var(&call2, "sim_record_session"), None);
    // stop: a path not being recorded is refused, the one that is stops with the trace's cause
    let other = dir.path().join("other.wav");
    assert_eq!(
        c.api(&format!("uuid_record {call2} stop {}", other.display()))
            .await,
        "-ERR Cannot stop record session!\n"
    );
    let rec2 = dir.path().join("rec2.wav");
    c.api(&format!("uuid_record {call2} start {}", rec2.display()))
        .await;
    assert_eq!(
        c.api(&format!("uuid_record {call2} stop all")).await,
        "+OK Success\n"
    );
    let stop = c.wait(&[&ev("RECORD_STOP"), &uid(&call2)]).await;
    assert_eq!(
        header(&stop, "Record-Completion-Cause"),
        Some("success-maxtime")
    );
    assert!(rec2.exists());
    assert_eq!(
        c.api("uuid_record 99999999-0000-4000-8000-000000000000 start /tmp/x.wav")
            .await,
        "-ERR Cannot locate session!\n"
    );
    assert!(sim.hangup(&call2, "NORMAL_CLEARING"));
}

#[tokio::test]
async fn agent_phones_offers_peak_and_behaviour_at_run_time() {
    let sim = Simulator::start(cfg(&[("1001", Behaviour::NoAnswer)]))
        .await
        .unwrap();
    let mut c = Client::control(&sim).await;
    // originate_timeout on a phone that rings and rings: NO_ANSWER, between 2 and 3 s later
    // (switch_ivr_originate counts whole seconds of the wall clock)
    let t0 = std::time::Instant::now();
    let body = c
        .bgapi("originate {originate_timeout=3,contactd_acd_call=c1,other=x}user/1001 &park()")
        .await;
    assert_eq!(body, "-ERR NO_ANSWER\n");
    assert!(
        t0.elapsed() >= Duration::from_millis(20),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(
        c.api("originate {originate_timeout=3}user/1999 &park()")
            .await,
        "-ERR USER_NOT_REGISTERED\n"
    );
    // the operator picks up from now on
    sim.set_agent_behaviour("1001", stay(500));
    let a = operator_leg(&mut c, "1001", "c2").await;
    // a second call rings the same phone while the first is up
    let b = operator_leg(&mut c, "1001", "c3").await;
    assert_eq!(sim.agent_peak_concurrent("1001"), 2);
    assert!(sim.hangup(&a, "NORMAL_CLEARING"));
    assert!(sim.hangup(&b, "NORMAL_CLEARING"));
    eventually("legs gone", || sim.live_channels().is_empty()).await;
    let c4 = operator_leg(&mut c, "1001", "c4").await;
    assert!(sim.hangup(&c4, "NORMAL_CLEARING"));
    eventually("leg gone", || sim.live_channels().is_empty()).await;
    assert_eq!(sim.agent_peak_concurrent("1001"), 2);
    assert_eq!(sim.agent_peak_concurrent("1999"), 0);

    let offers = sim.agent_offers("1001");
    assert_eq!(offers.len(), 4, "{offers:#?}");
    let first = &offers[0];
    assert!(!first.answered);
    assert_eq!(first.answered_at_us, None);
    assert_eq!(first.hangup_cause.as_deref(), Some("NO_ANSWER"));
    assert_eq!(
        first.vars,
        vec![("contactd_acd_call".to_string(), "c1".to_string())]
    );
    // rang 2 to 3 simulated seconds
    let rang = first.ended_at_us.unwrap() - first.rang_at_us;
    assert!((2_000_000..6_000_000).contains(&rang), "{rang} µs");
    for (o, (uuid, call)) in offers[1..]
        .iter()
        .zip([(&a, "c2"), (&b, "c3"), (&c4, "c4")])
    {
        assert_eq!(&o.uuid, uuid);
        assert_eq!(o.ext, "1001");
        assert!(o.answered);
        let ans = o.answered_at_us.unwrap();
        assert!(
            ans - o.rang_at_us >= 450_000,
            "rang {} µs",
            ans - o.rang_at_us
        );
        assert!(o.ended_at_us.unwrap() >= ans);
        assert_eq!(o.hangup_cause.as_deref(), Some("NORMAL_CLEARING"));
        assert_eq!(
            o.vars,
            vec![("contactd_acd_call".to_string(), call.to_string())]
        );
    }
    // in order of ringing
    assert!(offers
        .windows(2)
        .all(|w| w[0].rang_at_us <= w[1].rang_at_us));
    assert!(sim.agent_offers("1999").is_empty());
}

#[tokio::test]
async fn agent_that_hangs_up_after_talking_and_one_that_stays() {
    let sim = Simulator::start(cfg(&[
        (
            "1001",
            Behaviour::Answer {
                ring_ms: 200,
                after: AfterAnswer::HangupAfter { ms: 1500 },
            },
        ),
        ("1002", stay(200)),
    ]))
    .await
    .unwrap();
    let mut c = Client::control(&sim).await;
    let l1 = operator_leg(&mut c, "1001", "x").await;
    let h = c.wait(&[&ev("CHANNEL_HANGUP"), &uid(&l1)]).await;
    assert_eq!(header(&h, "Hangup-Cause"), Some("NORMAL_CLEARING"));
    let o = &sim.agent_offers("1001")[0];
    let talk = o.ended_at_us.unwrap() - o.answered_at_us.unwrap();
    assert!((1_400_000..4_000_000).contains(&talk), "{talk} µs");
    let gt = sim.ground_truth();
    let p = gt.iter().find(|r| r.uuid == l1).unwrap();
    assert_eq!(p.hangup_by.as_deref(), Some("party"));
    // Stay: up until the other side goes
    let l2 = operator_leg(&mut c, "1002", "y").await;
    assert!(
        !c.saw_within(
            Duration::from_millis(300),
            &[&ev("CHANNEL_HANGUP"), &uid(&l2)]
        )
        .await
    );
    assert!(sim.live_channels().contains(&l2));
    assert_eq!(c.api(&format!("uuid_kill {l2}")).await, "+OK\n");
    eventually("l2 gone", || sim.live_channels().is_empty()).await;
}

/// A switch crash takes the operators' legs with it: their offers end in the ground truth
/// (a leg left "up" there would make the phone look booked twice once it is rung again).
#[tokio::test]
async fn a_crash_ends_the_operators_legs_too() {
    let sim = Simulator::start(cfg(&[("1001", stay(0))])).await.unwrap();
    let mut c = Client::control(&sim).await;
    let leg = operator_leg(&mut c, "1001", "x").await;
    eventually("the phone answers", || {
        sim.agent_offers("1001").first().is_some_and(|o| o.answered)
    })
    .await;
    sim.crash();
    let o = &sim.agent_offers("1001")[0];
    assert_eq!(o.uuid, leg);
    assert!(o.ended_at_us.is_some(), "{o:?}");
    assert_eq!(o.hangup_cause.as_deref(), Some("CRASH"));
}
