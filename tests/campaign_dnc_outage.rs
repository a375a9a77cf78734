//! Guards the do-not-call check failing closed: while the do-not-call list cannot be read
//! (its table gone), nobody on a running campaign's list is dialed — the simulator sees no
//! originate and no subscriber is marked done; once the list is readable again the campaign
//! resumes by itself, dials everyone except the number on the list, and finishes.
use crate::campaign_support;
use crate::common;

use std::time::Duration;

use campaign_support::{import, originates, start, MESSAGE};
use contactd::store::campaigns::NewCampaign;

const SUBSCRIBERS: usize = 8;

fn number(i: usize) -> String {
    format!("+7916700{i:04}")
}

/// The same number as the trunk sees it (national format).
fn dialed(i: usize) -> String {
    format!("8916700{i:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_dnc_list_dials_nobody_until_it_is_back() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(&env, 30, 2000, "").await;
    import(&app, 7, (0..SUBSCRIBERS).map(number)).await;
    let pg = env.pg().await;
    let dialing = app.shared.config.dialing.clone();
    let db = app.shared.pool.get().await.unwrap();
    contactd::lists::dnc::add(&db, &number(3), "asked", "test", &dialing)
        .await
        .unwrap();

    // The list becomes unreadable, then the campaign starts.
    pg.batch_execute("ALTER TABLE dnc RENAME TO dnc_away")
        .await
        .unwrap();
    let (id, n) = app
        .shared
        .campaigns
        .create(&NewCampaign {
            lines: 3,
            window_days: "mon-sun".into(),
            window_start: "00:00".into(),
            window_end: "23:59".into(),
            max_attempts: 1,
            ring_s: 10,
            ..NewCampaign::with_defaults(&Default::default(), 7, MESSAGE, "cli")
        })
        .await
        .unwrap();
    assert_eq!(n, SUBSCRIBERS as i64);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        originates(&sim),
        Vec::<String>::new(),
        "dialed while the DNC list was unreadable"
    );
    let p = app.shared.campaigns.progress(id).await.unwrap();
    assert_eq!(
        p.done, 0,
        "subscribers settled without a DNC verdict: {p:?}"
    );
    let c = app.shared.campaigns.get(id).await.unwrap().unwrap();
    assert_eq!(c.state, "running");

    // Back: the campaign resumes by itself and skips the listed number.
    pg.batch_execute("ALTER TABLE dnc_away RENAME TO dnc")
        .await
        .unwrap();
    let finished = common::eventually(Duration::from_secs(60), || async {
        app.shared.campaigns.get(id).await.unwrap().unwrap().state == "finished"
    })
    .await;
    assert!(
        finished,
        "campaign did not finish once the DNC list was back"
    );
    for i in 0..SUBSCRIBERS {
        let times = campaign_support::times_dialed(&sim, &dialed(i));
        let expected = usize::from(i != 3);
        assert_eq!(times, expected, "{} dialed {times} times", number(i));
    }
    let outcome: String = pg
        .query_one(
            "SELECT outcome FROM campaign_targets t JOIN contacts c ON c.id = t.contact_id
             WHERE t.campaign_id = $1 AND c.phone = $2",
            &[&id, &number(3)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(outcome, "dnc");
    app.shutdown(Duration::from_secs(1)).await;
}
