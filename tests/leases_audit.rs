//! The line-lease audit (`service::leases`): a lease whose call never reached the switch —
//! its holder, another instance, SIGKILLed between taking the line and sending the
//! originate — is given back once it is a minute old, so the trunk has that line again;
//! the lease of a call the switch has, and this process's own originate still on its way,
//! stay.
use crate::common;

use std::time::Duration;

use contactd::config::Config;
use contactd::esl::control::SwitchLink;
use contactd::service::leases::{LeaseGuard, STALE};
use contactd::sim::{self, Simulator};
use contactd::store::redis::LineRefused;
use tokio::sync::{mpsc, watch};

const DEAD: &str = "0000aaaa-0000-4000-8000-000000000001";
const ON_SWITCH: &str = "0000aaaa-0000-4000-8000-000000000002";
const IN_FLIGHT: &str = "0000aaaa-0000-4000-8000-000000000003";
const NEXT: &str = "0000aaaa-0000-4000-8000-000000000004";
const BUDGET: &str = "campaign:1";

#[tokio::test]
async fn a_lease_whose_call_never_reached_the_switch_is_given_back_after_a_minute() {
    let env = common::TestEnv::new().await;
    let sim = Simulator::start(sim::SimConfig {
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 3,
        }],
        ..Default::default()
    })
    .await
    .unwrap();
    let cfg = Config::from_toml(&env.config_toml(
        sim.esl_addr(),
        "ClueCon",
        &[("e1", 3, "freetdm/1/a/{number}")],
    ))
    .unwrap();
    let (name, sw) = cfg.switch.iter().next().unwrap();
    let (sink, mut events) = mpsc::channel(10_000);
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let (_stop, stop_rx) = watch::channel(false);
    let (link, _task) = SwitchLink::spawn(name, sw.clone(), sink, stop_rx);
    assert!(link.wait_connected(Duration::from_secs(5)).await);

    let live = env.live_state().await;
    live.rebuild_leases(&[]).await.unwrap(); // trusted, empty
    for uuid in [DEAD, ON_SWITCH, IN_FLIGHT] {
        live.acquire_line("e1", 3, BUDGET, 3, uuid)
            .await
            .unwrap()
            .unwrap();
    }
    // DEAD and ON_SWITCH are another instance's: this process knows nothing of them
    live.forget_held(DEAD);
    live.forget_held(ON_SWITCH);
    let placed = link
        .api(&format!(
            "originate {{origination_uuid={ON_SWITCH}}}freetdm/1/a/89160000001 &park()"
        ))
        .await
        .unwrap();
    assert!(placed.starts_with("+OK"), "{placed}");
    let full = live.acquire_line("e1", 3, BUDGET, 9, NEXT).await.unwrap();
    assert_eq!(
        full,
        Err(LineRefused::TrunkFull),
        "three leases fill the trunk"
    );

    let guard = LeaseGuard {
        live: live.clone(),
        links: vec![link.clone()],
        trunks: vec![("e1".into(), name.clone())],
    };
    let now = chrono::Utc::now();
    assert_eq!(
        guard.audit(now).await.unwrap(),
        0,
        "no lease is a minute old yet"
    );
    assert_eq!(live.budget_in_use(BUDGET).await.unwrap(), 3);

    let later = now + chrono::TimeDelta::from_std(STALE + Duration::from_secs(1)).unwrap();
    assert_eq!(guard.audit(later).await.unwrap(), 1);
    assert_eq!(live.budget_in_use(BUDGET).await.unwrap(), 2);
    // the line the dead holder took is free again; the other two are still held
    live.acquire_line("e1", 3, BUDGET, 9, NEXT)
        .await
        .unwrap()
        .expect("the dead holder's line is free again");
    for uuid in [ON_SWITCH, IN_FLIGHT] {
        assert!(
            live.release_line("e1", BUDGET, uuid).await.unwrap(),
            "{uuid} kept its lease"
        );
    }
    assert!(
        !live.release_line("e1", BUDGET, DEAD).await.unwrap(),
        "the dead lease is gone"
    );
}
