//! The operator-campaign set-up shared by the tests (`opcamp_support`) and the bench
//! (`benches/opcamp.rs`, by `#[path]`): operators logged in, a list imported and an
//! operator campaign started on it, dispositions set as the desk software would. Needs
//! nothing of either harness but a started [`App`].
#![allow(dead_code)]

use contactd::app::App;
use contactd::service::acd::OperatorCommand;
use contactd::service::opcamp::operator::Disposition;
use contactd::store::campaigns::NewCampaign;
use contactd::store::op_campaigns::{OpCampaign, OpCampaigns};

/// Operators `op<ext>` on `user/<ext>` in `general`, logged in (ready).
pub async fn operators(app: &App, exts: &[&str]) {
    let store = contactd::store::operators::Operators::new(app.shared.pool.clone());
    for ext in exts {
        let login = format!("op{ext}");
        let id = store
            .create(&login, &login, &format!("user/{ext}"))
            .await
            .unwrap();
        store.set_skill(id, "general", 5).await.unwrap();
        app.shared.acd.sync_operator(&login).await.unwrap();
        app.shared
            .acd
            .command(&login, OperatorCommand::Login)
            .await
            .unwrap();
    }
}

/// Imports `phones` (subscriber `i` has account `1000000 + i`, plan `gold`) as list
/// `list` and starts an operator campaign on it in `mode` over `lines`, open all day,
/// with the abandon message `abandon`; `tweak` adjusts the campaign before it is made.
pub async fn campaign(
    app: &App,
    list: u16,
    phones: &[String],
    abandon: &str,
    mode: &str,
    lines: i32,
    tweak: impl FnOnce(&mut NewCampaign, &mut OpCampaign),
) -> i64 {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("l.csv");
    let mut t = String::from("phone,name,account,plan\n");
    for (i, phone) in phones.iter().enumerate() {
        t.push_str(&format!(
            "{phone},Subscriber {i},{:07},gold\n",
            1_000_000 + i
        ));
    }
    std::fs::write(&csv, t).unwrap();
    contactd::store::lists::import_csv(
        &app.shared.pool,
        &csv,
        contactd::core::lists::ImportOptions {
            list_number: list,
            name: format!("l{list}"),
            replace: false,
        },
        &app.shared.config.dialing,
    )
    .await
    .unwrap();
    let cfg = &app.shared.config;
    let mut c = NewCampaign::with_defaults(&cfg.campaigns, i32::from(list), abandon, "test");
    c.lines = lines;
    c.window_days = "mon-sun".into();
    c.window_start = "00:00".into();
    c.window_end = "23:59".into();
    let mut op = OpCampaign {
        campaign_id: 0,
        mode: mode.into(),
        queue: "general".into(),
        script_url: None,
    };
    tweak(&mut c, &mut op);
    let (id, _) = OpCampaigns::new(app.shared.pool.clone())
        .create(&c, &op)
        .await
        .unwrap();
    app.opcamp.wake.notify_one();
    id
}

/// Every disposition owed by operators `op<ext>` is set (`sale`), as their desk software
/// does as soon as a call ends.
pub async fn dispose(app: &App, exts: &[&str]) {
    for ext in exts {
        let login = format!("op{ext}");
        let Ok(Some(call)) = app.shared.acd.disposition_due(&login).await else {
            continue;
        };
        let Ok(call) = uuid::Uuid::parse_str(&call) else {
            continue;
        };
        let d = Disposition {
            call,
            code: "sale".into(),
            callback_at: None,
            callback_number: None,
        };
        let _ = app.opcamp.set_disposition(&login, d).await;
    }
}
