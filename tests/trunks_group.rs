//! Guards trunk groups across switches: a campaign naming the group `all` (trunk `e1a` on
//! one simulated switch, `e1b` on another) places calls on both switches, never more at
//! once on a trunk than its channels (the simulators' own peak counts), and reaches every
//! subscriber once. `fill_first` keeps the first trunk full; `round_robin` spreads calls
//! over both even when the campaign's lines would fit on one.
use crate::common;
use crate::trunks_support;

use std::time::Duration;

use trunks_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fill_first_fills_the_first_trunk_and_overflows_to_the_second_switch() {
    let env = common::TestEnv::new().await;
    let (a, b) = (switch(30, 8_000).await, switch(30, 8_000).await);
    let app = daemon(&env, &a, 2, &b, 3, "fill_first", "").await;
    const N: usize = 24;
    import(&app, N).await;
    let (id, _) = app.shared.campaigns.create(&campaign(1, 5)).await.unwrap();
    assert!(
        finished(&app, id, Duration::from_secs(90)).await,
        "campaign not finished"
    );

    // ground truth: each switch's own count of channels on its span
    assert_eq!(a.peak_channels_on("1"), 2, "e1a (2 channels) filled first");
    assert!(b.peak_channels_on("1") <= 3, "e1b above its 3 channels");
    assert!(
        answered(&a) > 0 && answered(&b) > 0,
        "calls on both switches"
    );
    assert_eq!(reached(&a, &b).len(), N, "every subscriber reached");
    let again = redialed_after_hearing(&a, &b);
    assert!(
        again.is_empty(),
        "dialed again after hearing the message: {again:#?}"
    );
    app.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_spreads_calls_over_both_switches() {
    let env = common::TestEnv::new().await;
    let (a, b) = (switch(30, 6_000).await, switch(30, 6_000).await);
    // 2 lines would fit on either trunk alone: only the order sends calls to both
    let app = daemon(&env, &a, 4, &b, 4, "round_robin", "").await;
    const N: usize = 20;
    import(&app, N).await;
    let (id, _) = app.shared.campaigns.create(&campaign(1, 2)).await.unwrap();
    assert!(
        finished(&app, id, Duration::from_secs(90)).await,
        "campaign not finished"
    );

    let (na, nb) = (answered(&a), answered(&b));
    let again = redialed_after_hearing(&a, &b);
    assert!(
        again.is_empty(),
        "dialed again after hearing the message: {again:#?}"
    );
    assert_eq!(reached(&a, &b).len(), N);
    assert!(
        na >= N * 3 / 10 && nb >= N * 3 / 10,
        "not spread: {na} on fs1, {nb} on fs2"
    );
    assert!(a.peak_channels_on("1") <= 4 && b.peak_channels_on("1") <= 4);
    app.shutdown(Duration::from_secs(1)).await;
}
