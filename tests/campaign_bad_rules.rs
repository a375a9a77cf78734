//! Guards that no calling rule is ever guessed at runtime: a campaign whose stored window
//! cannot be used (start after end, as a hand-edited row could hold) dials nobody — no
//! default window in its place — and dials once the row is fixed; a subscriber whose stored
//! time zone is not a zone is never dialed and ends `invalid` (no default zone either).
use crate::campaign_support;
use crate::common;

use std::time::Duration;

use campaign_support::{import, originates, start, MESSAGE};
use contactd::store::campaigns::NewCampaign;

const SUBSCRIBERS: usize = 4;
/// The subscriber whose stored zone is broken.
const NO_ZONE: usize = 2;

fn number(i: usize) -> String {
    format!("+7916800{i:04}")
}

/// The same number as the trunk sees it (national format).
fn dialed(i: usize) -> String {
    format!("8916800{i:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_stored_window_or_zone_dials_nobody_it_covers() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(&env, 30, 2000, "").await;
    import(&app, 8, (0..SUBSCRIBERS).map(number)).await;
    // A window whose start is after its end: not "always", not "never mind".
    let (id, _) = app
        .shared
        .campaigns
        .create(&NewCampaign {
            lines: 2,
            window_days: "mon-sun".into(),
            window_start: "20:00".into(),
            window_end: "09:00".into(),
            max_attempts: 1,
            ring_s: 10,
            ..NewCampaign::with_defaults(&Default::default(), 8, MESSAGE, "cli")
        })
        .await
        .unwrap();
    let pg = env.pg().await;
    pg.execute(
        "UPDATE campaign_targets SET tz = 'Mars/Olympus' WHERE campaign_id = $1 AND phone = $2",
        &[&id, &number(NO_ZONE)],
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        originates(&sim),
        Vec::<String>::new(),
        "dialed with a window that cannot be used"
    );
    let p = app.shared.campaigns.progress(id).await.unwrap();
    assert_eq!(p.done, 0, "{p:?}");

    // The row fixed: the campaign dials by itself, except the subscriber with no zone.
    pg.batch_execute(&format!(
        "UPDATE campaigns SET window_start = '00:00', window_end = '23:59' WHERE id = {id}"
    ))
    .await
    .unwrap();
    let finished = common::eventually(Duration::from_secs(60), || async {
        app.shared.campaigns.get(id).await.unwrap().unwrap().state == "finished"
    })
    .await;
    assert!(
        finished,
        "campaign did not finish once its window was fixed"
    );
    let sent = originates(&sim);
    for i in 0..SUBSCRIBERS {
        let times = sent.iter().filter(|c| c.contains(&dialed(i))).count();
        assert_eq!(
            times,
            usize::from(i != NO_ZONE),
            "{} dialed {times} times",
            number(i)
        );
    }
    let outcome: String = pg
        .query_one(
            "SELECT outcome FROM campaign_targets WHERE campaign_id = $1 AND phone = $2",
            &[&id, &number(NO_ZONE)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(outcome, "invalid");
    app.shutdown(Duration::from_secs(1)).await;
}
