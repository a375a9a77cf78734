//! The switch's scheduler as mod_dptools' `sched_broadcast` and mod_commands' `sched_del`
//! use it: a broadcast scheduled `+2` plays on the channel 1–2.5 s later, inside whatever
//! it runs (a park), unless `sched_del <uuid>` cancelled it. contactd schedules the ACD's
//! music so before it transfers a caller to the silent park (`acd::FALLBACK_MUSIC_AFTER_S`).

use crate::sim_support;

use sim_support::{is, quiet_sim, wav, Client};

/// 1 simulated second = 50 ms.
const SCALE: f64 = 0.05;

/// A channel parked after `sched_broadcast:+2 <music>`: the task id it was given.
async fn parked_with_music_scheduled(c: &mut Client, u: &str, music: &str) -> String {
    let r = c
        .api(&format!(
            "originate {{origination_uuid={u}}}loopback/530/trace 'sched_broadcast:+2 {music},park' inline"
        ))
        .await;
    assert_eq!(r, format!("+OK {u}\n"));
    c.wait(|e| is(e, "CHANNEL_PARK", u)).await;
    c.api(&format!("uuid_getvar {u} last_sched_id")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_broadcast_plays_into_the_park_and_sched_del_cancels_it() {
    let dir = tempfile::tempdir().unwrap();
    let sim = quiet_sim(dir.path(), SCALE).await;
    let mut c = Client::connect(&sim, "plain ALL").await;
    let music = wav(dir.path(), "moh/music.wav", 60_000);

    // Left alone: the music starts 1–2.5 simulated seconds after it was scheduled.
    let played = "55555555-0000-4000-8000-000000000001";
    let id = parked_with_music_scheduled(&mut c, played, &music).await;
    assert_eq!(id.trim().parse::<u32>().ok(), Some(1), "task id: {id:?}");
    c.wait(|e| {
        is(e, "CHANNEL_EXECUTE(playback)", played)
            && e.get("Application-Data") == Some(music.as_str())
    })
    .await;

    // Cancelled by its group, the channel's uuid: nothing plays.
    let cancelled = "55555555-0000-4000-8000-000000000002";
    parked_with_music_scheduled(&mut c, cancelled, &music).await;
    assert_eq!(
        c.api(&format!("sched_del {cancelled}")).await,
        "+OK Deleted: 1\n"
    );
    assert_eq!(
        c.api(&format!("sched_del {cancelled}")).await,
        "+OK Deleted: 0\n",
        "deleted once"
    );
    tokio::time::sleep(std::time::Duration::from_secs_f64(4.0 * SCALE)).await;
    for u in [played, cancelled] {
        c.api(&format!("uuid_kill {u}")).await;
        c.wait(|e| is(e, "CHANNEL_DESTROY", u)).await;
    }
    let truth = sim.ground_truth();
    let of = |u: &str| {
        truth
            .iter()
            .find(|r| r.uuid == u)
            .expect("a record")
            .clone()
    };
    let p = of(played);
    assert_eq!(p.played, vec![music.clone()], "{p:?}");
    let waited = p.played_at_ms[0] - p.answered_at_ms.unwrap_or(p.dialed_at_ms);
    assert!(
        (900..=2600).contains(&waited),
        "music after {waited} ms: {p:?}"
    );
    let q = of(cancelled);
    assert!(q.played.is_empty(), "cancelled, yet played: {q:?}");
    assert!(q.dead_air_ms >= 3000, "a silent park: {q:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sched_broadcast_without_a_path_schedules_nothing_and_sched_del_wants_an_argument() {
    let dir = tempfile::tempdir().unwrap();
    let sim = quiet_sim(dir.path(), SCALE).await;
    let mut c = Client::connect(&sim, "plain ALL").await;
    let u = "55555555-0000-4000-8000-000000000003";
    // `${contactd_moh}` unset expands to nothing: FreeSWITCH logs "Invalid Args"
    let id = parked_with_music_scheduled(&mut c, u, "${contactd_moh}").await;
    assert_eq!(id, "_undef_", "no task");
    assert_eq!(c.api("sched_del").await, "-ERR Invalid syntax\n");
    c.api(&format!("uuid_kill {u}")).await;
    c.wait(|e| is(e, "CHANNEL_DESTROY", u)).await;
}
