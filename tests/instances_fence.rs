//! Campaign-driver fencing in PostgreSQL: a driver that lost its lease (stalled past it, or
//! its Redis grant lost in a failover) claims no subscriber once the next driver has bumped
//! the campaign's token, whatever Redis says; the claim checks the token in one statement.
use crate::common;
use crate::faults_support;

use chrono::Utc;
use contactd::store::campaigns::Campaigns;
use contactd::store::drivers::bump_fence;

/// A scratch database with a running campaign of `n` subscribers on list `list`.
async fn running_campaign(list: u16, n: usize) -> (common::TestEnv, deadpool_postgres::Pool, i64) {
    let env = common::TestEnv::new().await;
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    contactd::store::migrate::run(&pool).await.unwrap();
    let config = env.config("127.0.0.1:8021".parse().unwrap(), "ClueCon", &[]);
    let phones: Vec<String> = (0..n)
        .map(|i| faults_support::number(u32::from(list), i))
        .collect();
    let id = faults_support::start_campaign(&pool, &config, list, &phones, 5).await;
    (env, pool, id)
}

#[tokio::test]
async fn a_stale_driver_claims_nothing_once_the_next_one_bumped_the_fence() {
    let (_env, pool, id) = running_campaign(31, 6).await;
    let campaigns = Campaigns::new(pool.clone());
    let now = Utc::now();

    let first = bump_fence(&pool, id, "alpha@h:1").await.unwrap();
    assert_eq!(
        campaigns
            .claim_due(id, 2, now, Some(first))
            .await
            .unwrap()
            .len(),
        2
    );

    // beta takes over: alpha, still believing it drives, claims nothing from now on
    let second = bump_fence(&pool, id, "beta@h:2").await.unwrap();
    assert!(second > first, "fence went from {first} to {second}");
    assert!(campaigns
        .claim_due(id, 2, now, Some(first))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        campaigns
            .claim_due(id, 2, now, Some(second))
            .await
            .unwrap()
            .len(),
        2
    );

    // a token never granted claims nothing either; no fence (an operator's preview) does
    assert!(campaigns
        .claim_due(id, 2, now, Some(second + 7))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        campaigns.claim_due(id, 5, now, None).await.unwrap().len(),
        2
    );
}

/// The runner reuses its list of active campaigns between looks (up to a second), so the
/// claim itself refuses a campaign that is no longer running: a pause or a cancel stops the
/// dialing at once, whatever the driver last read.
#[tokio::test]
async fn a_paused_or_cancelled_campaign_claims_nobody() {
    let (_env, pool, id) = running_campaign(34, 4).await;
    let campaigns = Campaigns::new(pool.clone());
    let now = Utc::now();
    let fence = bump_fence(&pool, id, "alpha@h:1").await.unwrap();
    assert_eq!(
        campaigns
            .claim_due(id, 1, now, Some(fence))
            .await
            .unwrap()
            .len(),
        1
    );

    assert!(campaigns
        .set_state(id, &["running"], "paused")
        .await
        .unwrap());
    assert!(campaigns
        .claim_due(id, 3, now, Some(fence))
        .await
        .unwrap()
        .is_empty());
    assert!(campaigns
        .claim_due(id, 3, now, None)
        .await
        .unwrap()
        .is_empty());

    // resumed: the rest are claimed again
    assert!(campaigns
        .set_state(id, &["paused"], "running")
        .await
        .unwrap());
    assert_eq!(
        campaigns
            .claim_due(id, 1, now, Some(fence))
            .await
            .unwrap()
            .len(),
        1
    );

    assert!(campaigns.cancel(id).await.unwrap());
    assert!(campaigns
        .claim_due(id, 3, now, Some(fence))
        .await
        .unwrap()
        .is_empty());
}

/// A running operator campaign's callbacks are dialed by its driver only (it counts the
/// campaign's lines); a finished campaign's by whichever instance claims them first.
#[tokio::test]
async fn callbacks_of_a_running_campaign_go_to_its_driver_only() {
    use contactd::store::op_campaigns::OpCampaigns;
    let env = common::TestEnv::new().await;
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    contactd::store::migrate::run(&pool).await.unwrap();
    let config = env.config("127.0.0.1:8021".parse().unwrap(), "ClueCon", &[]);
    let phones = [faults_support::number(32, 0), faults_support::number(32, 1)];
    let running = faults_support::start_campaign(&pool, &config, 32, &phones[..1], 2).await;
    let finished = faults_support::start_campaign(&pool, &config, 33, &phones[1..], 2).await;
    let db = pool.get().await.unwrap();
    db.execute(
        "UPDATE campaigns SET state = 'running' WHERE id = $1",
        &[&running],
    )
    .await
    .unwrap();
    db.execute(
        "UPDATE campaigns SET state = 'finished' WHERE id = $1",
        &[&finished],
    )
    .await
    .unwrap();
    for id in [running, finished] {
        db.execute(
            "INSERT INTO operator_campaigns (campaign_id, mode, queue) VALUES ($1, 'progressive', 'q');
             ",
            &[&id],
        )
        .await
        .unwrap();
        db.execute(
            "INSERT INTO operator_callbacks (campaign_id, contact_id, operator, number, due_at)
             VALUES ($1, 1, '2101', '+79160000000', now() - interval '1 minute')",
            &[&id],
        )
        .await
        .unwrap();
    }
    let ops = OpCampaigns::new(pool.clone());
    let now = Utc::now();
    // beta drives nothing: only the finished campaign's callback
    let beta = ops
        .take_due_callbacks(now, Some(&[]), "beta@h:2")
        .await
        .unwrap();
    let ids: Vec<i64> = beta.iter().map(|c| c.campaign_id).collect();
    assert_eq!(ids, [finished]);
    // alpha drives the running one: its callback, once
    let alpha = ops
        .take_due_callbacks(now, Some(&[running]), "alpha@h:1")
        .await
        .unwrap();
    let ids: Vec<i64> = alpha.iter().map(|c| c.campaign_id).collect();
    assert_eq!(ids, [running]);
    assert!(ops
        .take_due_callbacks(now, None, "gamma@h:3")
        .await
        .unwrap()
        .is_empty());
    // who took each is recorded, for a later recovery to tell whose call it may settle
    let by: Vec<(i64, String)> = db
        .query(
            "SELECT campaign_id, claimed_by FROM operator_callbacks ORDER BY campaign_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut want = vec![
        (running, "alpha@h:1".to_string()),
        (finished, "beta@h:2".to_string()),
    ];
    want.sort();
    assert_eq!(by, want);
}
