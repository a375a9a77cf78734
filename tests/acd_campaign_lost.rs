//! An operator-campaign call whose instance died between writing the call's ACD record and
//! queueing it: the recovery (`Acd::withdraw_lost_campaign_call`) finds no place in any
//! queue, and closes that record as the abandon it is, unless an operator answered it.
use crate::common;
use crate::opcamp_support;

use contactd::store::acd_calls::AcdCalls;

/// `(outcome, ended)` of the call's ACD record.
async fn row(env: &common::TestEnv, call: uuid::Uuid) -> (Option<String>, bool) {
    let r = env
        .pg()
        .await
        .query_one(
            "SELECT outcome, ended_at IS NOT NULL FROM acd_calls WHERE call_uuid = $1::text::uuid",
            &[&call.to_string()],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_call_never_queued_has_its_record_closed_as_abandoned() {
    let env = common::TestEnv::new().await;
    let (_sim, app) = opcamp_support::start(&env, &[], Vec::new(), "").await;
    // nobody logged in: the progressive campaign dials nothing
    let campaign = opcamp_support::campaign(&app, 1, 1, "progressive", 1).await;
    let records = AcdCalls::new(app.shared.pool.clone());
    let now = chrono::Utc::now();

    let lost = uuid::Uuid::new_v4();
    records
        .entered_outbound(lost, "fs1", "general", campaign, "5550100", None, now)
        .await
        .unwrap();
    assert_eq!(row(&env, lost).await, (None, false));
    let taken = app
        .shared
        .acd
        .withdraw_lost_campaign_call(&lost.to_string())
        .await
        .unwrap();
    assert!(!taken, "no operator has a call that was never queued");
    assert!(
        common::eventually(opcamp_support::WAIT, || async {
            row(&env, lost).await == (Some("abandoned".into()), true)
        })
        .await,
        "the record is {:?}",
        row(&env, lost).await
    );

    // An operator answered it (the instance died after the bridge): the talk is theirs,
    // the record is not closed as abandoned.
    let answered = uuid::Uuid::new_v4();
    records
        .entered_outbound(answered, "fs1", "general", campaign, "5550101", None, now)
        .await
        .unwrap();
    records.answered(answered, None, None, now).await.unwrap();
    app.shared
        .acd
        .withdraw_lost_campaign_call(&answered.to_string())
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(row(&env, answered).await, (None, false));
}
