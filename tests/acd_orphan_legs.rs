//! An operator leg no offer carries on (its offer missed, withdrawn or taken over, its
//! instance killed between the answer and the hang-up) is hung up by the ACD's scanner
//! within about 5 s, so the operator does not sit in its music for good while being offered
//! the next call; a leg bridged to a caller, whatever Redis says of it, is a talk and stays.
use crate::acd_support;
use crate::common;

use std::time::Duration;

use contactd::esl::control::SwitchLink;
use contactd::sim::Simulator;

/// An operator leg as an offer places it (auto-answered, music while it waits), for `call`.
async fn operator_leg(link: &SwitchLink, ext: &str, call: &str) -> String {
    let leg = uuid::Uuid::new_v4().to_string();
    let reply = link
        .bgapi(
            &format!(
                "originate {{origination_uuid={leg},contactd_acd_call={call},\
                 contactd_operator=op{ext},contactd_queue=general}}user/{ext} \
                 &playback(local_stream://moh)"
            ),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert!(reply.starts_with("+OK"), "{ext}: {reply}");
    leg
}

/// The operator's phone's record of `leg`: (answered, its end's cause if it ended).
fn on_phone(sim: &Simulator, ext: &str, leg: &str) -> (bool, Option<String>) {
    sim.agent_offers(ext)
        .into_iter()
        .find(|o| o.uuid == leg)
        .map(|o| (o.answered, o.hangup_cause))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_leg_no_offer_carries_on_is_hung_up_and_a_bridged_one_stays() {
    let env = common::TestEnv::new().await;
    let (sim, app) = acd_support::start(
        &env,
        &[
            ("1001", acd_support::answers(100, None)),
            ("1002", acd_support::answers(100, None)),
        ],
        &acd_support::Setup::default(),
        &[("1001", &[("general", 5)]), ("1002", &[("general", 5)])],
    )
    .await;
    let link = app.link("fs1").unwrap().clone();

    // op1001's phone answered an offer nobody carries on: its caller waits elsewhere
    let waiting = acd_support::parked_on_trunk(&link, "89160000020").await;
    let orphan = operator_leg(&link, "1001", &waiting).await;
    // op1002's leg was bridged to its caller before its instance died
    let talking = acd_support::parked_on_trunk(&link, "89160000021").await;
    let talk = operator_leg(&link, "1002", &talking).await;
    let bridged = link
        .api(&format!("uuid_bridge {talking} {talk}"))
        .await
        .unwrap();
    assert!(bridged.starts_with("+OK"), "{bridged}");
    assert_eq!(on_phone(&sim, "1001", &orphan), (true, None));

    let started = std::time::Instant::now();
    assert!(
        common::eventually(Duration::from_secs(40), || async {
            on_phone(&sim, "1001", &orphan).1.is_some()
        })
        .await,
        "op1001 still sits in the music of a leg nobody will bridge"
    );
    let after = started.elapsed();
    // not at the first look: an offer being handed over gets its seconds
    assert!(after >= Duration::from_secs(2), "hung up after {after:?}");
    assert_eq!(
        on_phone(&sim, "1001", &orphan).1.as_deref(),
        Some("NORMAL_CLEARING")
    );
    // the operator's phone hangs up only when told: the end was the ACD's
    assert!(
        sim.live_channels().contains(&waiting),
        "the caller was cut off"
    );

    // more sweeps than the orphan had: the talk goes on
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        on_phone(&sim, "1002", &talk),
        (true, None),
        "the talk was cut"
    );
    let live = sim.live_channels();
    assert!(live.contains(&talking) && live.contains(&talk));
    sim.hangup(&talking, "NORMAL_CLEARING");
    sim.hangup(&waiting, "NORMAL_CLEARING");
}
