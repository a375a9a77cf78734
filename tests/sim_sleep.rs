//! `sleep` as switch_ivr_sleep runs it: each turn it parses the channel's queued messages,
//! so an application sent with `sendmsg execute` meanwhile runs inside it, and the sleep
//! still ends at its own time, not before and not at the inner application's end. The
//! operator campaigns' call script relies on both (`service::opcamp::message`): the
//! detector's `wait_for_silence` runs inside the wait, and the abandon message after it
//! starts on time.

use crate::sim_support;

use sim_support::{is, quiet_sim, wav, Client};

/// 1 simulated second = 50 ms.
const SCALE: f64 = 0.05;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_during_sleep_runs_inside_it_and_the_sleep_keeps_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let sim = quiet_sim(dir.path(), SCALE).await;
    let mut c = Client::connect(&sim, "plain ALL").await;
    let inside = wav(dir.path(), "prompts/en/inside.wav", 500);
    let after = wav(dir.path(), "prompts/en/after.wav", 300);
    let u = "44444444-0000-4000-8000-000000000001";
    let r = c
        .api(&format!(
            "originate {{origination_uuid={u}}}loopback/530/trace 'sleep:4000,playback:{after}' inline"
        ))
        .await;
    assert_eq!(r, format!("+OK {u}\n"));
    c.wait(|e| is(e, "CHANNEL_EXECUTE(sleep)", u)).await;
    assert!(c.execute(u, "playback", &inside).await.contains("+OK"));
    let inner_done = c
        .wait(|e| {
            is(e, "CHANNEL_EXECUTE_COMPLETE(playback)", u)
                && e.get("Application-Data") == Some(inside.as_str())
        })
        .await;
    let sleep_done = c
        .wait(|e| is(e, "CHANNEL_EXECUTE_COMPLETE(sleep)", u))
        .await;
    assert!(
        inner_done < sleep_done,
        "the sleep ended before what ran inside it"
    );
    c.wait(|e| is(e, "CHANNEL_DESTROY", u)).await;
    let t = sim
        .ground_truth()
        .into_iter()
        .find(|r| r.uuid == u)
        .expect("a ground-truth record");
    assert_eq!(t.played, vec![inside.clone(), after.clone()], "{t:?}");
    assert_eq!(t.playbacks_completed, 2, "{t:?}");
    // the inner file started at once; the one after the sleep at the sleep's end
    let gap = t.played_at_ms[1] - t.played_at_ms[0];
    assert!((3000..=4500).contains(&gap), "{gap} ms between them: {t:?}");
}
