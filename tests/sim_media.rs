//! The simulator refuses missing sound files as FreeSWITCH does (trace 30): `playback` of a
//! missing file answers `FILE NOT FOUND` at once with no PLAYBACK events, `file_string://`
//! and `say` fire a `CUSTOM filestring::fail` per missing part and play the rest,
//! `play_and_get_digits` with a missing prompt ends at once with no result, and the party
//! hears nothing of what was refused.

use crate::sim_support;

use std::time::{Duration, Instant};

use contactd::sim::{PartyRecord, SimConfig, Simulator};
use sim_support::{is, wav, Client};

/// 1 simulated second = 50 ms.
const SCALE: f64 = 0.05;

fn cfg(sounds: &std::path::Path) -> SimConfig {
    SimConfig {
        time_scale: SCALE,
        heartbeat_ms: 0,
        sounds_dir: sounds.display().to_string(),
        ..Default::default()
    }
}

/// An answered, parked loopback call; the uuid of its A-leg.
async fn parked_call(c: &mut Client, n: u32) -> String {
    let u = format!("33333333-0000-4000-8000-00000000000{n}");
    let r = c
        .api(&format!(
            "originate {{origination_uuid={u}}}loopback/530/trace &park()"
        ))
        .await;
    assert_eq!(r, format!("+OK {u}\n"));
    c.wait(|e| is(e, "CHANNEL_PARK", &u)).await;
    u
}

fn truth(sim: &Simulator, uuid: &str) -> PartyRecord {
    sim.ground_truth()
        .into_iter()
        .find(|r| r.uuid == uuid)
        .expect("a ground-truth record")
}

/// The `File` of each `filestring::<what>` event from index `from` on.
fn filestring(c: &Client, from: usize, what: &str) -> Vec<String> {
    c.events[from..]
        .iter()
        .filter(|e| e.name() == "CUSTOM")
        .filter(|e| e.get("Event-Subclass") == Some(&format!("filestring::{what}")[..]))
        .map(|e| e.get("File").unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_file_is_refused_at_once_and_nothing_is_heard() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(cfg(dir.path())).await.unwrap();
    let mut c = Client::connect(&sim, "plain ALL").await;
    let u = parked_call(&mut c, 1).await;
    let missing = dir.path().join("prompts/en/no_such_prompt.wav");
    let missing = missing.display().to_string();

    let from = c.events.len();
    assert!(c.execute(&u, "playback", &missing).await.contains("+OK"));
    let done = c
        .wait(|e| is(e, "CHANNEL_EXECUTE_COMPLETE(playback)", &u))
        .await;
    assert_eq!(
        c.events[done].get("Application-Response"),
        Some("FILE NOT FOUND")
    );
    // the sendmsg itself is fired once parsed
    let pc = c.wait(|e| is(e, "PRIVATE_COMMAND", &u)).await;
    assert_eq!(
        c.events[pc].get("Command"),
        Some(&format!("sendmsg {u}")[..])
    );
    assert_eq!(c.events[pc].get("execute-app-arg"), Some(missing.as_str()));
    let keys: Vec<String> = c.events[from..pc]
        .iter()
        .filter(|e| e.uuid() == Some(u.as_str()))
        .map(|e| e.key())
        .collect();
    assert_eq!(
        keys,
        [
            "CHANNEL_EXECUTE(playback)",
            "CHANNEL_EXECUTE_COMPLETE(playback)"
        ]
    );
    // a plain file's refusal is no CUSTOM event (only file_string lists have those)
    assert!(filestring(&c, from, "fail").is_empty());

    // an existing file and a virtual one play; their PLAYBACK pair is there
    let real = wav(dir.path(), "prompts/en/real.wav", 400);
    c.execute(&u, "playback", &real).await;
    let done = c
        .wait(|e| {
            is(e, "CHANNEL_EXECUTE_COMPLETE(playback)", &u)
                && e.get("Application-Data") == Some(real.as_str())
        })
        .await;
    assert_eq!(
        c.events[done].get("Application-Response"),
        Some("FILE PLAYED")
    );
    assert!(c.events[..done]
        .iter()
        .any(|e| is(e, "PLAYBACK_STOP", &u) && e.get("Playback-File-Path") == Some(real.as_str())));

    assert_eq!(c.api(&format!("uuid_kill {u}")).await, "+OK\n");
    c.wait(|e| is(e, "CHANNEL_DESTROY", &u)).await;
    let t = truth(&sim, &u);
    assert_eq!(t.played, vec![real.clone()], "{t:?}");
    assert!((300..=700).contains(&t.heard_ms), "{t:?}");
    assert_eq!(t.playbacks_completed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_string_plays_the_parts_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(cfg(dir.path())).await.unwrap();
    let mut c = Client::connect(&sim, "plain ALL").await;
    let u = parked_call(&mut c, 2).await;
    let a = wav(dir.path(), "p/a.wav", 300);
    let b = dir.path().join("p/b.wav").display().to_string();
    let d = wav(dir.path(), "p/d.wav", 300);

    // all parts missing: refused like a missing file, a fail event for each part
    let from = c.events.len();
    let none = format!("file_string://{b}!/nowhere/x.wav");
    c.execute(&u, "playback", &none).await;
    let done = c
        .wait(|e| is(e, "CHANNEL_EXECUTE_COMPLETE(playback)", &u))
        .await;
    assert_eq!(
        c.events[done].get("Application-Response"),
        Some("FILE NOT FOUND")
    );
    assert_eq!(
        filestring(&c, from, "fail"),
        [b.clone(), "/nowhere/x.wav".into()]
    );
    assert!(!c.events[from..done]
        .iter()
        .any(|e| e.name() == "PLAYBACK_START"));
    // fail events carry no channel
    assert!(c.events[from..]
        .iter()
        .filter(|e| e.name() == "CUSTOM")
        .all(|e| e.uuid().is_none()));

    // some missing: the others play as one playback
    let from = c.events.len();
    let some = format!("file_string://{a}!{b}!{d}");
    c.execute(&u, "playback", &some).await;
    let done = c
        .wait(|e| {
            is(e, "CHANNEL_EXECUTE_COMPLETE(playback)", &u)
                && e.get("Application-Data") == Some(some.as_str())
        })
        .await;
    assert_eq!(
        c.events[done].get("Application-Response"),
        Some("FILE PLAYED")
    );
    assert_eq!(filestring(&c, from, "fail"), [b]);
    assert_eq!(filestring(&c, from, "open"), [a.clone(), d.clone()]);
    assert_eq!(filestring(&c, from, "close"), [a.clone(), d.clone()]);
    let starts = c.events[from..done]
        .iter()
        .filter(|e| is(e, "PLAYBACK_START", &u))
        .count();
    assert_eq!(starts, 1);
    c.api(&format!("uuid_kill {u}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn say_without_sound_packs_plays_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(cfg(dir.path())).await.unwrap();
    let mut c = Client::connect(&sim, "plain ALL").await;
    // CUSTOM alone names no subclass: nothing; naming it: the events
    let mut plain_custom = Client::connect(&sim, "plain CUSTOM").await;
    let mut named = Client::connect(&sim, "plain CHANNEL_ANSWER CUSTOM filestring::fail").await;
    let u = parked_call(&mut c, 3).await;

    let from = c.events.len();
    let t0 = Instant::now();
    c.execute(&u, "say", "ru number pronounced 123").await;
    let done = c.wait(|e| is(e, "CHANNEL_EXECUTE_COMPLETE(say)", &u)).await;
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!(c.events[done].get("Application-Response"), Some("_none_"));
    assert_eq!(
        filestring(&c, from, "fail"),
        ["digits/100.wav", "digits/20.wav", "digits/3.wav"]
    );
    assert!(!c.events[from..done]
        .iter()
        .any(|e| e.name().starts_with("PLAYBACK")));

    let from = c.events.len();
    c.execute(&u, "say", "en number pronounced 5100").await;
    c.wait(|e| {
        is(e, "CHANNEL_EXECUTE_COMPLETE(say)", &u)
            && e.get("Application-Data") == Some("en number pronounced 5100")
    })
    .await;
    assert_eq!(
        filestring(&c, from, "fail"),
        [
            "digits/5.wav",
            "digits/thousand.wav",
            "digits/1.wav",
            "digits/hundred.wav"
        ]
    );
    assert_eq!(
        c.api("say_string ru ru number pronounced 123").await,
        "file_string://digits/100.wav!digits/20.wav!digits/3.wav"
    );
    assert_eq!(
        c.api("say_string en en number pronounced 45").await,
        "file_string://digits/40.wav!digits/5.wav"
    );

    named.drain(Duration::from_millis(200)).await;
    assert_eq!(
        filestring(&named, 0, "fail").len(),
        7,
        "a listener naming the subclass gets every fail event"
    );
    plain_custom.drain(Duration::from_millis(200)).await;
    assert!(plain_custom.events.is_empty(), "{:?}", plain_custom.events);

    c.api(&format!("uuid_kill {u}")).await;
    c.wait(|e| is(e, "CHANNEL_DESTROY", &u)).await;
    let t = truth(&sim, &u);
    assert!(t.played.is_empty(), "{t:?}");
    assert_eq!(t.heard_ms, 0, "{t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn say_plays_the_words_of_an_installed_pack() {
    let dir = tempfile::tempdir().unwrap();
    // only "forty" of the English pack is there
    wav(dir.path(), "en/us/callie/digits/40.wav", 400);
    let sim = Simulator::start(cfg(dir.path())).await.unwrap();
    let mut c = Client::connect(&sim, "plain ALL").await;
    let u = parked_call(&mut c, 4).await;
    let from = c.events.len();
    c.execute(&u, "say", "en number pronounced 45").await;
    let done = c.wait(|e| is(e, "CHANNEL_EXECUTE_COMPLETE(say)", &u)).await;
    assert_eq!(c.events[done].get("Application-Response"), Some("_none_"));
    assert_eq!(filestring(&c, from, "open"), ["digits/40.wav"]);
    assert_eq!(filestring(&c, from, "fail"), ["digits/5.wav"]);
    let start = c.wait(|e| is(e, "PLAYBACK_START", &u)).await;
    assert_eq!(
        c.events[start].get("Playback-File-Path"),
        Some("file_string://digits/40.wav!digits/5.wav")
    );
    assert!(start > from && start < done);
    c.api(&format!("uuid_kill {u}")).await;
    c.wait(|e| is(e, "CHANNEL_DESTROY", &u)).await;
    let t = truth(&sim, &u);
    assert_eq!(t.played, ["en number pronounced 45"]);
    // 250 ms of silence first, then the one word
    assert!((550..=900).contains(&t.heard_ms), "{t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_and_get_digits_with_a_missing_prompt_ends_at_once_without_a_result() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(cfg(dir.path())).await.unwrap();
    let mut c = Client::connect(&sim, "plain ALL").await;
    let u = parked_call(&mut c, 5).await;
    let missing = dir.path().join("no_such_prompt.wav").display().to_string();
    // three tries of 5 s each would take 750 ms of real time
    let t0 = Instant::now();
    c.execute(
        &u,
        "play_and_get_digits",
        &format!("1 1 3 5000 # {missing} {missing} contactd_digits \\d+"),
    )
    .await;
    let done = c
        .wait(|e| is(e, "CHANNEL_EXECUTE_COMPLETE(play_and_get_digits)", &u))
        .await;
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
    let e = &c.events[done];
    assert_eq!(e.get("Application-Response"), Some("_none_"));
    assert_eq!(e.get("variable_read_result"), None);
    assert_eq!(e.get("variable_contactd_digits"), None);
    assert!(!c.events.iter().any(|e| e.name() == "PLAYBACK_START"));
    assert_eq!(
        c.api(&format!("uuid_getvar {u} read_result")).await,
        "_undef_"
    );
    c.api(&format!("uuid_kill {u}")).await;
}
