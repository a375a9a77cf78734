//! ACD records of calls whose instance lost them on the way into a queue are closed:
//! - an operator-campaign call whose instance died between writing the call's ACD record
//!   and queueing it: the recovery (`Acd::withdraw_lost_campaign_call`) finds no place in
//!   any queue, and closes that record as the abandon it is, unless an operator answered;
//! - a caller gone before the ACD took them over (the switch restarted in between);
//! - a campaign call a dead instance left waiting for its operator is not adopted by the
//!   scanner (its runner settles it), while a caller left the same way is.
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

/// Left by an instance that is gone (no alive mark), 20 s ago, nobody holding its lease:
/// the scanner's adoption candidates. A campaign call not bridged is still in its runner's
/// script (waiting for an operator, then the abandon message; `service::opcamp::recover`
/// settles it): music from an adoption would break that script, so the scanner leaves it.
/// A plain caller left the same way is adopted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scanner_adopts_a_dead_instances_caller_but_leaves_its_waiting_campaign_call() {
    use crate::acd_support;
    use contactd::service::acd::campaign_card::CampaignCard;
    use contactd::service::acd::Meta;
    use contactd::store::acd::AcdStore;
    use contactd::store::redis_conn::RedisTarget;

    let env = common::TestEnv::new().await;
    let sim = acd_support::start_sim(&[]).await;
    let app = acd_support::start_app(&env, &sim, &acd_support::Setup::default()).await;
    let link = app.link("fs1").unwrap().clone();
    // answered and parked on the switch, as a dead instance's calls are
    let campaign_call = acd_support::parked_on_trunk(&link, "89160000010").await;
    let caller = acd_support::parked_on_trunk(&link, "89160000011").await;
    let config = &app.shared.config;
    let store = AcdStore::connect_to(RedisTarget::of(&config.redis), &config.redis.prefix)
        .await
        .unwrap();
    let left = |campaign: Option<CampaignCard>| {
        serde_json::to_string(&Meta {
            caller: Some("89160000010".into()),
            node: "fs1".into(),
            entered_ms: chrono::Utc::now().timestamp_millis() - 20_000,
            by: Some("instance-that-died".into()),
            campaign,
            ..Default::default()
        })
        .unwrap()
    };
    let card = CampaignCard {
        campaign: 1,
        name: "survey".into(),
        mode: "progressive".into(),
        ..Default::default()
    };
    store
        .set_meta(&campaign_call, &left(Some(card)))
        .await
        .unwrap();
    store.set_meta(&caller, &left(None)).await.unwrap();

    let heard = |uuid: String| {
        let sim = &sim;
        async move {
            sim.ground_truth()
                .into_iter()
                .find(|r| r.uuid == uuid)
                .map(|r| r.played)
                .unwrap_or_default()
        }
    };
    // adopted: this instance holds the caller's lease (the music the dead instance started
    // plays on in the switch)
    assert!(
        common::eventually(acd_support::WAIT, || async {
            store.owner(&caller).await.unwrap().is_some()
        })
        .await,
        "the dead instance's caller was never adopted"
    );
    // a few more beats for the campaign call
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        heard(campaign_call.clone()).await,
        Vec::<String>::new(),
        "the scanner played to the campaign call"
    );
    assert_eq!(store.owner(&campaign_call).await.unwrap(), None);
    assert!(store
        .all_meta()
        .await
        .unwrap()
        .iter()
        .any(|(c, _)| *c == campaign_call));
    sim.hangup(&campaign_call, "NORMAL_CLEARING");
    sim.hangup(&caller, "NORMAL_CLEARING");
    app.shutdown(std::time::Duration::from_secs(2)).await;
}
