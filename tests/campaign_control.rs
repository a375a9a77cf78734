//! Guards the control of campaigns and their line budgets: two campaigns on one small trunk
//! never hold more channels than the trunk has (the simulator counts), the progress short
//! code says "called N of M", the pause/resume short code and the CLI pause, resume and
//! cancel, and the PIN guard (three wrong PINs end the call; an unknown phone is refused).
use crate::campaign_support;
use crate::common;

use std::time::Duration;

use campaign_support::{start, MESSAGE};
use contactd::app::App;
use contactd::sim::{self, CallerStep};
use contactd::store::campaigns::NewCampaign;

fn campaign(list: i32, lines: i32) -> NewCampaign {
    NewCampaign {
        lines,
        caller_id: Some("4951234567".into()),
        window_days: "mon-sun".into(),
        window_start: "00:00".into(),
        window_end: "23:59".into(),
        max_attempts: 1,
        retry_busy_s: 1,
        retry_no_answer_s: 1,
        ring_s: 10,
        ..NewCampaign::with_defaults(&Default::default(), list, MESSAGE, "201")
    }
}

async fn import(app: &App, list: u16, n: usize, prefix: &str) {
    campaign_support::import(app, list, (0..n).map(|i| format!("+7{prefix}{i:04}"))).await;
}

const MANAGER: &str = "[managers.boss]\nphone = \"201\"\npin = \"4321\"\n";

fn service_call(app: &App, code: &str, caller: &str, script: Vec<CallerStep>) -> sim::InboundCall {
    sim::InboundCall {
        connect_to: app.outbound_addr.to_string(),
        caller_number: caller.into(),
        destination: code.into(),
        vars: vec![
            ("contactd_entry".into(), "service".into()),
            ("contactd_code".into(), code.into()),
        ],
        script,
        ..Default::default()
    }
}

async fn flow_end(env: &common::TestEnv, uuid: &str) -> (String, String) {
    let pg = env.pg().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let r = pg
            .query_opt(
                "SELECT coalesce(flow_step, ''), coalesce(hungup_by, '') FROM calls WHERE uuid = $1::text::uuid",
                &[&uuid],
            )
            .await
            .unwrap();
        if let Some(r) = r {
            let out: (String, String) = (r.get(0), r.get(1));
            if !out.0.is_empty() || tokio::time::Instant::now() > deadline {
                return out;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "call {uuid} was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_campaigns_never_exceed_the_trunk_and_progress_code_reports() {
    let env = common::TestEnv::new().await;
    // a 6-channel trunk, two campaigns of 5 lines each
    let (sim, app) = start(&env, 6, 4000, MANAGER).await;
    import(&app, 1, 40, "916400").await;
    import(&app, 2, 40, "916500").await;
    let (a, _) = app.shared.campaigns.create(&campaign(1, 5)).await.unwrap();
    let (b, _) = app.shared.campaigns.create(&campaign(2, 5)).await.unwrap();
    let both_done = common::eventually(Duration::from_secs(90), || async {
        let ca = app.shared.campaigns.get(a).await.unwrap().unwrap();
        let cb = app.shared.campaigns.get(b).await.unwrap().unwrap();
        ca.state == "finished" && cb.state == "finished"
    })
    .await;
    assert!(both_done, "campaigns did not finish");
    assert!(
        sim.peak_channels_on("1") <= 6,
        "the switch saw {} channels on a 6-channel trunk",
        sim.peak_channels_on("1")
    );
    assert!(
        sim.peak_channels_on("1") >= 5,
        "lines were not used: {}",
        sim.peak_channels_on("1")
    );
    // the campaign caller ID reached the switch
    assert!(sim
        .api_log()
        .iter()
        .any(|c| c.contains("origination_caller_id_number=4951234567")));

    // 309: "called 40 of 40" for the manager's newest campaign (b)
    let uuid = sim
        .inbound_call(service_call(
            &app,
            "309",
            "201",
            vec![
                CallerStep::WaitForAnswer,
                CallerStep::WaitForPrompt,
                CallerStep::WaitMs(contactd::demo::KEY_PAUSE_MS),
                CallerStep::Dtmf("4321#".into()),
            ],
        ))
        .unwrap();
    let (step, by) = flow_end(&env, &uuid).await;
    assert_eq!((step.as_str(), by.as_str()), ("goodbye", "contactd"));
    let log = sim.api_log();
    let says: Vec<String> = log
        .iter()
        .filter(|c| c.contains(&uuid))
        .filter_map(|c| contactd::core::speech::words_in(c))
        .collect();
    assert_eq!(says, ["n40", "n40"], "called 40 of 40");
    app.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_by_phone_and_cancel_by_cli() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(&env, 30, 4000, MANAGER).await;
    import(&app, 3, 200, "916600").await;
    let (id, _) = app.shared.campaigns.create(&campaign(3, 2)).await.unwrap();
    let state = |id| {
        let c = app.shared.campaigns.clone();
        async move { c.get(id).await.unwrap().unwrap().state }
    };
    // 300 pauses the manager's running campaign
    let pause = |app: &App| {
        service_call(
            app,
            "300",
            "201",
            vec![
                CallerStep::WaitForAnswer,
                CallerStep::WaitForPrompt,
                CallerStep::WaitMs(contactd::demo::KEY_PAUSE_MS),
                CallerStep::Dtmf("4321#".into()),
            ],
        )
    };
    let u = sim.inbound_call(pause(&app)).unwrap();
    flow_end(&env, &u).await;
    assert_eq!(state(id).await, "paused");
    // paused: no new calls start (the ones up may finish)
    tokio::time::sleep(Duration::from_millis(800)).await;
    let done = app.shared.campaigns.progress(id).await.unwrap().done;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let p = app.shared.campaigns.progress(id).await.unwrap();
    assert_eq!(p.done, done, "calls went on while paused");
    assert_eq!(p.dialing, 0);
    // 300 again resumes
    let u = sim.inbound_call(pause(&app)).unwrap();
    flow_end(&env, &u).await;
    assert_eq!(state(id).await, "running");
    assert!(
        common::eventually(Duration::from_secs(10), || async {
            app.shared.campaigns.progress(id).await.unwrap().done > done
        })
        .await,
        "no calls after resume"
    );
    // CLI cancel: nobody else is called
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[switch.fs1]\nhost = \"127.0.0.1\"\npassword = \"x\"\n[http]\ntoken = \"0123456789abcdef-x\"\n[postgres]\nurl = \"{}\"\n[trunk.e1]\nswitch = \"fs1\"\nkind = \"e1\"\nchannels = 30\ndial = \"freetdm/1/a/{{number}}\"\n",
            env.db_url()
        ),
    )
    .unwrap();
    common::contactd_ok(&["campaigns", "cancel", &id.to_string()], &cfg).await;
    let finished = common::eventually(Duration::from_secs(15), || async {
        let pg = env.pg().await;
        pg.query_one(
            "SELECT finished_at IS NOT NULL FROM campaigns WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get::<_, bool>(0)
    })
    .await;
    assert!(
        finished,
        "a cancelled campaign must finish once its live calls end"
    );
    let p = app.shared.campaigns.progress(id).await.unwrap();
    assert_eq!(p.done, p.total, "every subscriber has an outcome");
    assert!(p.reached < 200, "cancel did not stop the campaign");
    let cancelled: i64 = env
        .pg()
        .await
        .query_one(
            "SELECT count(*) FROM campaign_targets WHERE campaign_id = $1 AND outcome = 'cancelled'",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(cancelled > 0);
    // `campaigns report` prints the same report
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
        .args(["campaigns", "report", &id.to_string(), "--config"])
        .arg(&cfg)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains(&format!("Cancelled before dialing: {cancelled}")),
        "{text}"
    );
    app.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pins_and_unknown_phones_are_refused() {
    let env = common::TestEnv::new().await;
    let (sim, app) = start(&env, 30, 4000, MANAGER).await;
    let u = sim
        .inbound_call(service_call(
            &app,
            "301",
            "201",
            vec![
                CallerStep::WaitForAnswer,
                CallerStep::WaitForPrompt,
                CallerStep::WaitMs(contactd::demo::KEY_PAUSE_MS),
                CallerStep::Dtmf("1111#".into()),
                CallerStep::WaitForPrompt,
                CallerStep::WaitMs(contactd::demo::KEY_PAUSE_MS),
                CallerStep::Dtmf("2222#".into()),
                CallerStep::WaitForPrompt,
                CallerStep::WaitMs(contactd::demo::KEY_PAUSE_MS),
                CallerStep::Dtmf("3333#".into()),
            ],
        ))
        .unwrap();
    assert_eq!(
        flow_end(&env, &u).await,
        ("pin_locked".into(), "contactd".into())
    );
    let u = sim
        .inbound_call(service_call(
            &app,
            "301",
            "555",
            vec![CallerStep::WaitForAnswer],
        ))
        .unwrap();
    assert_eq!(
        flow_end(&env, &u).await,
        ("not_authorised".into(), "contactd".into())
    );
    // neither started anything
    assert!(app.shared.campaigns.list().await.unwrap().is_empty());
    app.shutdown(Duration::from_secs(1)).await;
}
