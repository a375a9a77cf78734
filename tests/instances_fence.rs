//! Campaign-driver fencing in PostgreSQL: a driver that lost its lease (stalled past it, or
//! its Redis grant lost in a failover) claims no subscriber once the next driver has bumped
//! the campaign's token, whatever Redis says; the claim checks the token in one statement.
mod common;
mod faults_support;

use chrono::Utc;
use contactd::store::campaigns::Campaigns;
use contactd::store::drivers::bump_fence;

#[tokio::test]
async fn a_stale_driver_claims_nothing_once_the_next_one_bumped_the_fence() {
    let env = common::TestEnv::new().await;
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    contactd::store::migrate::run(&pool).await.unwrap();
    let config = env.config("127.0.0.1:8021".parse().unwrap(), "ClueCon", &[]);
    let phones: Vec<String> = (0..6).map(|i| faults_support::number(31, i)).collect();
    let id = faults_support::start_campaign(&pool, &config, 31, &phones, 5).await;
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
