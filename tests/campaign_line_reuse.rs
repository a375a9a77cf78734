//! A campaign's line is dialed again as soon as its call ends, not once the call's records
//! are written: with the first subscriber's queue row held locked in PostgreSQL (so that
//! the write of what happens to them next waits), a 1-line campaign dials the next
//! subscriber while the lock is still held. Once it goes, every subscriber has an outcome
//! and nobody was dialed twice (by the simulator's own log).
use crate::campaign_support;
use crate::common;

use std::time::{Duration, Instant};

use campaign_support::{import, originates, start};

const SUBSCRIBERS: usize = 3;

fn number(i: usize) -> String {
    format!("+7916710{i:04}")
}

/// The same number as the trunk sees it (national format).
fn dialed(i: usize) -> String {
    format!("8916710{i:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_subscriber_dialed_while_the_last_calls_records_still_wait() {
    let env = common::TestEnv::new().await;
    // a message of 1 s (20 s of simulated time): room to take the lock mid-call
    let (sim, app) = start(&env, 30, 20_000, "").await;
    import(&app, 7, (0..SUBSCRIBERS).map(number)).await;
    let id = campaign_support::one_line_all_day(&app, 7).await;
    let first = common::eventually(Duration::from_secs(10), || async {
        !originates(&sim).is_empty()
    })
    .await;
    assert!(first, "the campaign dialed nobody");
    let sent = originates(&sim);
    let who = (0..SUBSCRIBERS)
        .find(|&i| sent[0].contains(&dialed(i)))
        .expect("the first originate dials one of the list");

    // The first subscriber's row locked while their call is up: the write that settles
    // them waits for the lock (under the journal's 3 s before it would spool).
    let lock = env.pg().await;
    lock.batch_execute("BEGIN").await.unwrap();
    let locked = lock
        .query(
            "SELECT t.status FROM campaign_targets t JOIN contacts c ON c.id = t.contact_id
             WHERE t.campaign_id = $1 AND c.phone = $2 FOR UPDATE OF t",
            &[&id, &number(who)],
        )
        .await
        .unwrap();
    assert_eq!(locked.len(), 1);
    let status: String = locked[0].get(0);
    assert_eq!(status, "dialing", "locked after the call was settled");

    let t = Instant::now();
    let mut second = false;
    while t.elapsed() < Duration::from_millis(2500) {
        if originates(&sim).len() >= 2 {
            second = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // still unsettled in PostgreSQL: the next call did not wait for it
    let pg = env.pg().await;
    let still: String = pg
        .query_one(
            "SELECT t.status FROM campaign_targets t JOIN contacts c ON c.id = t.contact_id
             WHERE t.campaign_id = $1 AND c.phone = $2",
            &[&id, &number(who)],
        )
        .await
        .unwrap()
        .get(0);
    lock.batch_execute("ROLLBACK").await.unwrap();
    assert!(
        second,
        "the line stayed idle while the ended call's records waited ({} originates in {:?})",
        originates(&sim).len(),
        t.elapsed()
    );
    assert_eq!(
        still, "dialing",
        "the first call was settled before the next dial"
    );
    let ended = sim
        .ground_truth()
        .iter()
        .any(|r| r.number == dialed(who) && r.ended_at_ms.is_some());
    assert!(
        ended,
        "the first subscriber's call was still up at the next dial"
    );

    let finished = common::eventually(Duration::from_secs(30), || async {
        app.shared.campaigns.get(id).await.unwrap().unwrap().state == "finished"
    })
    .await;
    assert!(finished, "campaign did not finish once the lock was gone");
    for i in 0..SUBSCRIBERS {
        let times = campaign_support::times_dialed(&sim, &dialed(i));
        assert_eq!(times, 1, "{} dialed {times} times", number(i));
    }
    let unsettled = campaign_support::unsettled(&pg, id).await;
    assert_eq!(unsettled, 0, "subscribers without an outcome");
    app.shutdown(Duration::from_secs(1)).await;
}
