//! Guards a switch's link drop under a trunk group: while contactd's control link to the
//! switch of `e1a` is down, its trunk is out of the group ("switch down" in `contactd
//! trunks` and on `/metrics`) and the campaign goes on over `e1b` on the other switch; once
//! the link is back (and resynced) `e1a` carries calls again. Every subscriber is reached
//! once and no trunk carries more calls than its channels (the simulators' own records).
use crate::common;
use crate::trunks_support;

use std::time::Duration;

use trunks_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_drop_takes_the_switch_trunks_out_until_it_is_back() {
    let env = common::TestEnv::new().await;
    let (a, b) = (switch(30, 20_000).await, switch(30, 20_000).await);
    let app = daemon(&env, &a, 3, &b, 3, "round_robin", "").await;
    const N: usize = 40;
    import(&app, N).await;
    let (id, _) = app.shared.campaigns.create(&campaign(1, 4)).await.unwrap();
    assert!(
        common::eventually(Duration::from_secs(20), || async { answered(&a) >= 2 }).await,
        "no calls on e1a"
    );

    // the switch of e1a goes away (its calls go on there, unseen)
    a.refuse_connections(true).await;
    a.drop_esl_connections();
    assert!(
        common::eventually(Duration::from_secs(10), || async {
            trunks_line(&app, "e1a").await.contains("switch down")
        })
        .await,
        "{}",
        trunks_line(&app, "e1a").await
    );
    let metrics = http_get(app.http_addr, "/metrics").await;
    assert!(
        metrics.contains("contactd_trunk_in_service{trunk=\"e1a\",state=\"switch_down\"} 0"),
        "{metrics}"
    );
    assert!(trunks_line(&app, "e1b").await.contains("in service"));
    // the campaign goes on over e1b meanwhile
    let b_before = answered(&b);
    assert!(
        common::eventually(Duration::from_secs(30), || async {
            answered(&b) >= b_before + 4
        })
        .await,
        "the campaign stopped with one switch down"
    );
    let on_a = a
        .api_log()
        .iter()
        .filter(|c| c.contains("originate"))
        .count();

    // back: resynced, then in the group again
    a.refuse_connections(false).await;
    assert!(
        common::eventually(Duration::from_secs(15), || async {
            trunks_line(&app, "e1a").await.contains("in service")
        })
        .await,
        "{}",
        trunks_line(&app, "e1a").await
    );
    assert!(
        common::eventually(Duration::from_secs(30), || async {
            a.api_log()
                .iter()
                .filter(|c| c.contains("originate"))
                .count()
                > on_a
        })
        .await,
        "no calls on e1a after its switch came back"
    );
    assert!(
        finished(&app, id, Duration::from_secs(120)).await,
        "campaign not finished"
    );
    assert_eq!(reached(&a, &b).len(), N, "every subscriber reached");
    let again = redialed_after_hearing(&a, &b);
    assert!(
        again.is_empty(),
        "dialed again after hearing the message: {again:#?}"
    );
    assert!(a.peak_channels_on("1") <= 3 && b.peak_channels_on("1") <= 3);
    app.shutdown(Duration::from_secs(1)).await;
}
