//! A line given back with a release guard (`TrunkConfig::release_guard`): its trunk and its
//! campaign have it again only once the guard is over (the channel is still clearing on the
//! switch's card, and a campaign given 5 lines never holds a sixth channel). Given back twice (the originate's -ERR, then the
//! channel's HANGUP_COMPLETE), the guard is not stretched; a runner waiting for a line is
//! woken when it ends. In real Redis, through both ways a release is written.
use crate::common;

use std::time::{Duration, Instant};

use contactd::store::redis::{LineRefused, LiveState, LiveWrite};

const A: &str = "0000bbbb-0000-4000-8000-000000000001";
const B: &str = "0000bbbb-0000-4000-8000-000000000002";
const C: &str = "0000bbbb-0000-4000-8000-000000000003";
const BUDGET: &str = "campaign:7";
const GUARD: Duration = Duration::from_millis(400);

/// A trusted, empty lease set with A and B holding the trunk's 2 lines.
async fn two_calls(env: &common::TestEnv) -> LiveState {
    let live = env.live_state().await;
    live.rebuild_leases(&[]).await.unwrap();
    for uuid in [A, B] {
        live.acquire_line("fxo", 2, BUDGET, 5, uuid)
            .await
            .unwrap()
            .unwrap();
    }
    live
}

/// After A's release at `released`: the trunk and the budget count A's channel until the
/// guard is over, then C gets it.
async fn check_guarded(live: &LiveState, released: Instant) {
    assert_eq!(live.budget_in_use(BUDGET).await.unwrap(), 2);
    assert_eq!(live.lines_in_use("fxo").await.unwrap(), 1, "calls up");
    assert_eq!(live.lines_unavailable("fxo").await.unwrap(), 2);
    assert_eq!(
        live.acquire_line("fxo", 2, BUDGET, 5, C).await.unwrap(),
        Err(LineRefused::TrunkFull),
        "a channel still clearing was granted"
    );
    assert_eq!(
        live.acquire_line("fxo2", 9, BUDGET, 2, C).await.unwrap(),
        Err(LineRefused::BudgetFull),
        "a 2-line campaign was granted a third channel while one clears"
    );
    let mut woken = live.watch_released();
    woken.mark_unchanged();
    tokio::time::timeout(Duration::from_secs(2), woken.changed())
        .await
        .expect("nobody was woken when the guard ended")
        .unwrap();
    assert!(
        released.elapsed() >= GUARD,
        "woken {:?} after",
        released.elapsed()
    );
    live.acquire_line("fxo", 2, BUDGET, 5, C)
        .await
        .unwrap()
        .expect("the cleared channel is free again");
    assert_eq!(live.lines_unavailable("fxo").await.unwrap(), 2, "B and C");
    assert_eq!(live.budget_in_use(BUDGET).await.unwrap(), 2, "B and C");
}

#[tokio::test]
async fn a_released_line_is_free_for_its_trunk_only_after_the_guard() {
    let env = common::TestEnv::new().await;
    let live = two_calls(&env).await;
    assert!(live.release_line("fxo", BUDGET, A, GUARD).await.unwrap());
    let released = Instant::now();
    // given back again (its HANGUP_COMPLETE after its -ERR): no lease, no new guard
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!live.release_line("fxo", BUDGET, A, GUARD).await.unwrap());
    check_guarded(&live, released).await;
    assert!(
        released.elapsed() < GUARD + Duration::from_millis(150),
        "the second release stretched the guard: {:?}",
        released.elapsed()
    );
}

#[tokio::test]
async fn the_event_streams_release_keeps_the_guard_too() {
    let env = common::TestEnv::new().await;
    let live = two_calls(&env).await;
    let n = live
        .apply(&[LiveWrite::Release {
            trunk: "fxo",
            budget: BUDGET,
            uuid: A,
            guard: GUARD,
        }])
        .await
        .unwrap();
    assert_eq!(n, 1);
    check_guarded(&live, Instant::now()).await;
}

#[tokio::test]
async fn a_line_whose_channel_was_never_seized_is_free_at_once() {
    let env = common::TestEnv::new().await;
    let live = two_calls(&env).await;
    assert!(live
        .release_line("fxo", BUDGET, A, Duration::ZERO)
        .await
        .unwrap());
    assert_eq!(live.lines_unavailable("fxo").await.unwrap(), 1);
    assert_eq!(live.budget_in_use(BUDGET).await.unwrap(), 1);
    live.acquire_line("fxo", 2, BUDGET, 5, C)
        .await
        .unwrap()
        .expect("the line is free");
}
