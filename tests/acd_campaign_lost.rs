//! ACD records of calls whose instance lost them on the way into a queue are closed:
//! - an operator-campaign call whose instance died between writing the call's ACD record
//!   and queueing it: the recovery (`Acd::withdraw_lost_campaign_call`) finds no place in
//!   any queue, and closes that record as the abandon it is, unless an operator answered;
//! - a caller gone before the ACD took them over (the switch restarted in between).
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

/// A caller the ACD takes over only once they are gone (`make chaos` saw it in
/// `all_at_once`: the switch restarted between the IVR's transfer and the take-over, whose
/// first command waited for the link): the music is refused, the caller is looked up and
/// found gone, and their record is closed; before, the caller's task waited for events that
/// never came and the record stayed open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_gone_before_the_take_over_has_the_record_closed() {
    use crate::acd_support;
    let env = common::TestEnv::new().await;
    let sim = acd_support::start_sim(&[]).await;
    let app = acd_support::start_app(&env, &sim, &acd_support::Setup::default()).await;
    // a caller the switch no longer has (nothing on the simulator has this uuid)
    let gone = uuid::Uuid::new_v4();
    let acd = &app.shared.acd;
    acd.admit(
        &gone.to_string(),
        "general",
        Some("5550200"),
        Default::default(),
    )
    .await
    .unwrap();
    acd.take_over(&gone.to_string(), "general").await.unwrap();
    assert!(
        common::eventually(acd_support::WAIT, || async { row(&env, gone).await.1 }).await,
        "the record is {:?}",
        row(&env, gone).await
    );
}
