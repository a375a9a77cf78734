//! The records of one campaign call's end, as PostgreSQL keeps them: the subscribers a claim
//! takes (due first, then in list order, whatever the index serves), and the attempt's end
//! with the subscriber's next step written together (`finish_and_settle`), as the runner
//! does for a campaign without message rules.
use crate::campaign_support;
use crate::common;

use chrono::{Duration, Utc};
use contactd::config::Config;
use contactd::store::campaigns::{AttemptEnd, Campaigns, NewCampaign, NextStep};
use uuid::Uuid;

async fn campaign_of(env: &common::TestEnv, subscribers: usize) -> (Campaigns, i64) {
    let text = env.config_toml(
        "127.0.0.1:1".parse().unwrap(),
        "ClueCon",
        &[("e1", 30, "freetdm/1/a/{number}")],
    );
    let cfg = Config::from_toml(&text).unwrap();
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    contactd::store::migrate::run(&pool).await.unwrap();
    let numbers = (0..subscribers).map(|i| format!("+7916730{i:04}"));
    campaign_support::import_into(&pool, &cfg.dialing, 4, numbers).await;
    let campaigns = Campaigns::new(pool);
    let (id, _) = campaigns
        .create(&NewCampaign {
            lines: 2,
            window_days: "mon-sun".into(),
            window_start: "00:00".into(),
            window_end: "23:59".into(),
            ..NewCampaign::with_defaults(&cfg.campaigns, 4, campaign_support::MESSAGE, "cli")
        })
        .await
        .unwrap();
    (campaigns, id)
}

#[tokio::test]
async fn a_claim_takes_the_due_subscribers_earliest_first_then_in_list_order() {
    let env = common::TestEnv::new().await;
    let (campaigns, id) = campaign_of(&env, 6).await;
    let pg = env.pg().await;
    let ids: Vec<i64> = pg
        .query(
            "SELECT contact_id FROM campaign_targets WHERE campaign_id = $1 ORDER BY contact_id",
            &[&id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // the last subscriber is due earlier than the rest (a retry whose time came), the second
    // not yet
    let now = Utc::now();
    pg.execute(
        "UPDATE campaign_targets SET next_at = $3 WHERE campaign_id = $1 AND contact_id = $2",
        &[&id, &ids[5], &(now - Duration::hours(1))],
    )
    .await
    .unwrap();
    pg.execute(
        "UPDATE campaign_targets SET next_at = $3 WHERE campaign_id = $1 AND contact_id = $2",
        &[&id, &ids[1], &(now + Duration::hours(1))],
    )
    .await
    .unwrap();
    let claimed = |n| {
        let c = &campaigns;
        async move {
            c.claim_due(id, n, now, None)
                .await
                .unwrap()
                .iter()
                .map(|t| t.contact_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(claimed(3).await, vec![ids[5], ids[0], ids[2]]);
    // the claimed are `dialing`: the next claim goes on from there, and never takes the one
    // not yet due
    assert_eq!(claimed(5).await, vec![ids[3], ids[4]]);
    assert!(claimed(5).await.is_empty());
}

#[tokio::test]
async fn an_attempts_end_and_the_subscribers_next_step_are_written_together() {
    let env = common::TestEnv::new().await;
    let (campaigns, id) = campaign_of(&env, 2).await;
    let now = Utc::now();
    let claimed = campaigns.claim_due(id, 2, now, None).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let (done, again) = (&claimed[0], &claimed[1]);
    let (u1, u2) = (Uuid::new_v4(), Uuid::new_v4());
    campaigns
        .insert_attempt(u1, id, done.contact_id, 1, &done.phone)
        .await
        .unwrap();
    campaigns
        .insert_attempt(u2, id, again.contact_id, 1, &again.phone)
        .await
        .unwrap();

    let heard = AttemptEnd {
        cause: Some("NORMAL_CLEARING".into()),
        q850: Some(16),
        listened_ms: Some(4_200),
        listened_full: Some(true),
        outcome: "listened_full".into(),
        ..Default::default()
    };
    let step = |contact, outcome, next_at| NextStep {
        campaign: id,
        contact,
        attempts: 1,
        outcome,
        next_at,
    };
    campaigns
        .finish_and_settle(
            u1,
            &heard,
            now,
            &step(done.contact_id, "listened_full", None),
        )
        .await
        .unwrap();
    let busy = AttemptEnd {
        cause: Some("USER_BUSY".into()),
        q850: Some(17),
        outcome: "busy".into(),
        ..Default::default()
    };
    let retry_at = now + Duration::minutes(10);
    campaigns
        .finish_and_settle(
            u2,
            &busy,
            now,
            &step(again.contact_id, "busy", Some(retry_at)),
        )
        .await
        .unwrap();

    let pg = env.pg().await;
    let attempt = |u: Uuid| {
        let pg = &pg;
        async move {
            let r = pg
                .query_one(
                    "SELECT ended_at IS NOT NULL, hangup_cause, q850, listened_ms, outcome
                     FROM attempts WHERE uuid = $1",
                    &[&u],
                )
                .await
                .unwrap();
            (
                r.get::<_, bool>(0),
                r.get::<_, Option<String>>(1),
                r.get::<_, Option<i32>>(2),
                r.get::<_, Option<i32>>(3),
                r.get::<_, Option<String>>(4),
            )
        }
    };
    assert_eq!(
        attempt(u1).await,
        (
            true,
            Some("NORMAL_CLEARING".into()),
            Some(16),
            Some(4_200),
            Some("listened_full".into())
        )
    );
    assert_eq!(
        attempt(u2).await,
        (
            true,
            Some("USER_BUSY".into()),
            Some(17),
            None,
            Some("busy".into())
        )
    );
    let target = |contact: i64| {
        let pg = &pg;
        async move {
            let r = pg
                .query_one(
                    "SELECT status, outcome, attempts, next_at FROM campaign_targets
                     WHERE campaign_id = $1 AND contact_id = $2",
                    &[&id, &contact],
                )
                .await
                .unwrap();
            (
                r.get::<_, String>(0),
                r.get::<_, Option<String>>(1),
                r.get::<_, i32>(2),
                r.get::<_, chrono::DateTime<Utc>>(3),
            )
        }
    };
    let (status, outcome, attempts, _) = target(done.contact_id).await;
    assert_eq!(
        (status.as_str(), outcome.as_deref(), attempts),
        ("done", Some("listened_full"), 1)
    );
    let (status, outcome, attempts, next_at) = target(again.contact_id).await;
    assert_eq!(
        (status.as_str(), outcome.as_deref(), attempts),
        ("pending", Some("busy"), 1)
    );
    // (PostgreSQL keeps microseconds)
    assert!(
        (next_at - retry_at).num_milliseconds().abs() < 1,
        "{next_at} vs {retry_at}"
    );
    // everyone has a final outcome or a time: the campaign is not complete while one waits
    assert!(!campaigns.finish_if_complete(id).await.unwrap());
}
