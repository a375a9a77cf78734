//! The simulator's ground truth of what each party experienced: when the channel was
//! dialed, how long the party heard nothing after answering (parked, waiting for the next
//! command, a switch crash ending it), what was played to them, the `contactd_*` variables
//! the channel was originated with; `current_application_response` after a playback as
//! mod_dptools sets it; `${var}` expanded when an application runs.

use std::time::Duration;

use contactd::sim::{
    AfterAnswer, Behaviour, PartyRecord, SimConfig, Simulator, TrunkConfig, TrunkKind,
};

use crate::sim_support::raw::Client;

/// 1 simulated second = 200 ms real.
const SCALE: f64 = 0.2;

fn cfg() -> SimConfig {
    SimConfig {
        time_scale: SCALE,
        heartbeat_ms: 0,
        trunks: vec![TrunkConfig {
            name: "1".into(),
            kind: TrunkKind::Freetdm,
            channels: 4,
        }],
        default_behaviour: Behaviour::Answer {
            ring_ms: 500,
            after: AfterAnswer::Stay,
        },
        default_playback_ms: 1000,
        ..Default::default()
    }
}

fn sim_sleep(sim_ms: u64) -> tokio::time::Sleep {
    tokio::time::sleep(Duration::from_secs_f64(sim_ms as f64 * SCALE / 1000.0))
}

fn record(sim: &Simulator, uuid: &str) -> PartyRecord {
    sim.ground_truth()
        .into_iter()
        .find(|r| r.uuid == uuid)
        .expect("a ground-truth record")
}

async fn ended(sim: &Simulator, uuid: &str) -> PartyRecord {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if record(sim, uuid).ended_at_ms.is_some() {
            // the applications cut by the hangup note what was heard as they return
            tokio::time::sleep(Duration::from_millis(100)).await;
            return record(sim, uuid);
        }
        let r = record(sim, uuid);
        assert!(tokio::time::Instant::now() < deadline, "{r:?} never ended");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_air_is_parked_silence_and_played_lists_the_file() {
    let sim = Simulator::start(cfg()).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let msg = dir.path().join("msg.wav");
    // 1 s of audio: its WAV header gives the playback length
    assert!(contactd::sim::media::write_wav(msg.to_str().unwrap(), 1000));
    let u = "22222222-0000-4000-8000-000000000001";
    let ok = c
        .api(&format!(
            "originate {{origination_uuid={u},contactd_budget=campaign-7,contactd_trunk=e1,other=x}}freetdm/1/a/5551001 &park()"
        ))
        .await;
    assert_eq!(ok, format!("+OK {u}\n"));
    // answered and parked: two simulated seconds with nothing on the line
    sim_sleep(2000).await;
    c.execute_ok(u, "playback", msg.to_str().unwrap()).await;
    assert_eq!(
        c.wait_var(u, "current_application_response").await,
        "FILE PLAYED"
    );
    assert_eq!(c.api(&format!("uuid_kill {u}")).await, "+OK\n");
    let r = ended(&sim, u).await;
    assert!(r.answered);
    let answered = r.answered_at_ms.unwrap();
    assert!(r.dialed_at_ms <= answered, "{r:?}");
    // ring 500 ms before the answer
    assert!(answered - r.dialed_at_ms >= 400, "{r:?}");
    assert!(
        (1800..=2700).contains(&r.dead_air_ms),
        "dead air {} ms, expected about 2000: {r:?}",
        r.dead_air_ms
    );
    assert!(r.max_dead_air_ms >= 1800 && r.max_dead_air_ms <= r.dead_air_ms);
    assert_eq!(r.played, vec![msg.to_str().unwrap().to_string()]);
    assert!((900..=1300).contains(&r.heard_ms), "{r:?}");
    assert_eq!(r.playbacks_completed, 1);
    assert_eq!(
        r.vars,
        vec![
            ("contactd_budget".to_string(), "campaign-7".to_string()),
            ("contactd_trunk".to_string(), "e1".to_string()),
        ]
    );
    assert_eq!(r.var("contactd_budget"), Some("campaign-7"));
    let total = r.ended_at_ms.unwrap() - answered;
    assert!(r.dead_air_ms + r.heard_ms <= total + 100, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_and_variables_expanded_at_execution() {
    let sim = Simulator::start(cfg()).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let u = "22222222-0000-4000-8000-000000000002";
    let ok = c
        .api(&format!(
            "originate {{origination_uuid={u},contactd_x=hello}}freetdm/1/a/5551002 &park()"
        ))
        .await;
    assert_eq!(ok, format!("+OK {u}\n"));
    // `${var}` takes the value the variable has when the application runs
    c.execute_ok(
        u,
        "set",
        "contactd_y=${contactd_x}-${nosuch}-${destination_number}",
    )
    .await;
    c.execute_ok(u, "set", "contactd_x=later").await;
    c.execute_ok(u, "set", "contactd_z=${contactd_x}").await;
    assert_eq!(c.wait_var(u, "contactd_z").await, "later");
    assert_eq!(
        c.api(&format!("uuid_getvar {u} contactd_y")).await,
        "hello--5551002"
    );
    // a file that is not there plays nothing
    c.execute_ok(u, "playback", "/nonexistent/dir/gone.wav")
        .await;
    assert_eq!(
        c.wait_var(u, "current_application_response").await,
        "FILE NOT FOUND"
    );
    // a playback cut short by the far end: PLAYBACK ERROR
    c.execute_ok(u, "playback", "silence_stream://5000").await;
    sim_sleep(500).await;
    assert!(sim.hangup(u, "NORMAL_CLEARING"));
    let r = ended(&sim, u).await;
    assert_eq!(r.played, vec!["silence_stream://5000".to_string()]);
    assert_eq!(r.playbacks_interrupted, 1);
    assert_eq!(r.hangup_by.as_deref(), Some("party"));
    // a party who heard nothing but 500 ms of a 5 s message
    assert!(r.heard_ms >= 300 && r.heard_ms < 1500, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_crash_ends_the_call_and_its_dead_air() {
    let sim = Simulator::start(cfg()).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let u = "22222222-0000-4000-8000-000000000003";
    let ok = c
        .api(&format!(
            "originate {{origination_uuid={u}}}freetdm/1/a/5551003 &playback(silence_stream://60000)"
        ))
        .await;
    assert_eq!(ok, format!("+OK {u}\n"));
    // which process this is (contactd's proof that a switch did not restart across a break)
    let before = c.api("global_getvar core_uuid").await;
    assert_eq!(before, sim.core_uuid());
    sim_sleep(1000).await;
    sim.restart().await.unwrap();
    let r = ended(&sim, u).await;
    assert_eq!(r.hangup_cause.as_deref(), Some("CRASH"));
    assert_eq!(r.hangup_by.as_deref(), Some("system"));
    // the new process has a new Core-UUID
    let mut c = Client::connect(&sim).await;
    let after = c.api("global_getvar core_uuid").await;
    assert_eq!(after, sim.core_uuid());
    assert_ne!(after, before);
    // what the party heard until the crash reaches the restarted switch's truth
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let r = loop {
        let r = record(&sim, u);
        if r.playbacks_interrupted == 1 || tokio::time::Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(r.playbacks_interrupted, 1, "{r:?}");
    assert!(r.heard_ms >= 700 && r.heard_ms < 2000, "{r:?}");
    assert!(r.dead_air_ms < 300, "{r:?}");

    // parked with nothing when the switch dies: dead air until the crash
    let mut c = Client::connect(&sim).await;
    let v = "22222222-0000-4000-8000-000000000004";
    let ok = c
        .api(&format!(
            "originate {{origination_uuid={v}}}freetdm/1/a/5551004 &park()"
        ))
        .await;
    assert_eq!(ok, format!("+OK {v}\n"));
    sim_sleep(1500).await;
    sim.restart().await.unwrap();
    let r = ended(&sim, v).await;
    assert!(
        (1300..=2200).contains(&r.dead_air_ms),
        "dead air {}: {r:?}",
        r.dead_air_ms
    );
    assert_eq!(r.max_dead_air_ms, r.dead_air_ms);
    assert!(r.played.is_empty());
}

/// An inbound call whose `socket` reaches a listener of the test's (`from_trunk`: with the
/// trunk dialplan's reconnect after it), connected and answered over that socket: the
/// call's uuid, the connection, the listener (the switch's next try connects to it again).
async fn answered_on_socket(
    sim: &Simulator,
    from_trunk: bool,
) -> (String, Client, tokio::net::TcpListener) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uuid = sim
        .inbound_call(contactd::sim::InboundCall {
            connect_to: l.local_addr().unwrap().to_string(),
            script: vec![contactd::sim::CallerStep::WaitForAnswer],
            reconnects: from_trunk,
            ..Default::default()
        })
        .unwrap();
    let (s, _) = l.accept().await.unwrap();
    let mut c = Client::raw(s);
    c.send("connect").await;
    assert!(c.next().await.starts_with("Event-Name: CHANNEL_DATA"));
    c.cmd("sendmsg\ncall-command: execute\nexecute-app-name: answer")
        .await;
    (uuid, c, l)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_outbound_socket_ends_the_park_when_configured() {
    let sim = Simulator::start(SimConfig {
        socket_close_ends_park: true,
        ..cfg()
    })
    .await
    .unwrap();
    let (uuid, c, _l) = answered_on_socket(&sim, false).await;
    sim_sleep(1000).await;
    // the IVR server goes away: parked with nothing, then hung up by the switch
    drop(c);
    let r = ended(&sim, &uuid).await;
    assert_eq!(r.hangup_cause.as_deref(), Some("NORMAL_CLEARING"));
    assert_eq!(r.hangup_by.as_deref(), Some("switch"));
    assert!((800..=1600).contains(&r.dead_air_ms), "{r:?}");
}

/// A trunk call (`dialplans/from-trunk.xml`) whose IVR scheduled its music (as contactd's
/// hand-over to the ACD does just before the transfer) and then lost its socket: the
/// `contactd-reconnect` context cancels the channel's scheduled tasks first, so the music
/// never plays over the tone or the next connection's greeting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnected_trunk_call_never_hears_music_scheduled_before_the_drop() {
    let sim = Simulator::start(SimConfig {
        socket_close_ends_park: true,
        ..cfg()
    })
    .await
    .unwrap();
    let (uuid, mut c, l) = answered_on_socket(&sim, true).await;
    c.cmd(
        "sendmsg\ncall-command: execute\nexecute-app-name: sched_broadcast\n\
         execute-app-arg: +2 local_stream://moh",
    )
    .await;
    // contactd dies before its transfer
    drop(c);
    // the switch's next try, 2 s later: a new connection for the same call
    let (s, _) = tokio::time::timeout(Duration::from_secs(5), l.accept())
        .await
        .expect("the switch connected again")
        .unwrap();
    let mut c = Client::raw(s);
    c.send("connect").await;
    assert!(c.next().await.contains(&uuid));
    // past the time the music was scheduled for
    sim_sleep(3000).await;
    let r = record(&sim, &uuid);
    assert_eq!(r.hangup_cause, None, "{r:?}");
    assert_eq!(
        r.transfers,
        ["reconnect-x@contactd-reconnect"],
        "one try, then connected: {r:?}"
    );
    assert!(
        !r.played.iter().any(|p| p.contains("moh")),
        "the music scheduled before the drop played: {r:?}"
    );
    sim.hangup(&uuid, "NORMAL_CLEARING");
}
