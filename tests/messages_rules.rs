//! A notice campaign's message rules through the running daemon, the simulator and the
//! local SMSC:
//! - `after_confirm` fires at the key press: the message is queued before the attempt's
//!   end is recorded (it used to be queued at the settle, after the call), filled with the
//!   subscriber's list row, account card, campaign and date; a subscriber whose row lacks
//!   a field the template needs gets no SMS with a gap but a `failed` message naming it;
//! - the key pressed while PostgreSQL is away: the rule's message is kept in the journal's
//!   spool and, once PostgreSQL is back, sent exactly once.
use crate::campaign_support;
use crate::common;
use crate::messages_support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::faultproxy::FaultProxy;
use contactd::app::App;
use contactd::sim::{self, AfterAnswer, Behaviour, SubscriberRule};
use contactd::store::campaigns::{Campaigns, NewCampaign};
use contactd::store::messages::{self as store, Of};
use messages_support::{rows, SMS_TOKEN};

const MESSAGE_MS: u64 = 2000;

/// Answers, presses 1 once the message (after the ~1.4 s of answering-machine detection)
/// and the confirmation prompt have begun, and stays a while.
fn presses_one(dialed: &str) -> SubscriberRule {
    SubscriberRule {
        pattern: format!("^{dialed}$"),
        behaviour: Behaviour::Answer {
            ring_ms: 300,
            after: AfterAnswer::PressDigits {
                digits: "1".into(),
                at_ms: MESSAGE_MS + 2700,
                hangup_ms: Some(MESSAGE_MS + 6000),
            },
        },
    }
}

const CARD: &str = r#"
[messages.templates.card]
channel = "sms"
body = "{name}, долг {debt} руб. по счёту {account}, тариф {extra.tariff}, {date}. {campaign}"
"#;

/// Imports list `list` with the columns a template reads (name, account, a `tariff` column).
async fn import(app: &App, list: u16, rows: &[(&str, &str, &str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("l.csv");
    let mut t = String::from("phone,name,account,tariff\n");
    for (phone, name, account, tariff) in rows {
        t.push_str(&format!("{phone},{name},{account},{tariff}\n"));
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
}

async fn confirm_campaign(app: &App, list: u16, template: &str) -> i64 {
    let cfg = &app.shared.config;
    let (id, _) = Campaigns::new(app.shared.pool.clone())
        .create(&NewCampaign {
            name: "Отключение воды".into(),
            window_days: "mon-sun".into(),
            window_start: "00:00".into(),
            window_end: "23:59".into(),
            max_attempts: 1,
            confirm: true,
            // with the campaign, as the CLI does: set after it, the first batch could be
            // dialed without it and its message queued only at the settle
            after_confirm: Some(template.into()),
            ..NewCampaign::with_defaults(
                &cfg.campaigns,
                list.into(),
                campaign_support::MESSAGE,
                "cli",
            )
        })
        .await
        .unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_confirmation_rule_fires_at_the_key_press_filled_from_the_subscribers_card() {
    let w = messages_support::world_with(
        vec![presses_one("89164000001"), presses_one("89164000002")],
        CARD,
    )
    .await;
    let db = w.env.pg().await;
    db.batch_execute(
        "INSERT INTO accounts (number, holder, balance_minor) VALUES
             ('400001', 'Орлова Анна', -152040), ('400002', 'Зуев Пётр', 5000)",
    )
    .await
    .unwrap();
    import(
        &w.app,
        41,
        &[
            ("+79164000001", "Орлова Анна", "400001", "двухставочный"),
            // no tariff on record for this one
            ("+79164000002", "Зуев Пётр", "400002", ""),
        ],
    )
    .await;
    let id = confirm_campaign(&w.app, 41, "card").await;
    let done = common::eventually(Duration::from_secs(60), || async {
        let r = rows(&w.app, Of::Campaign(id)).await;
        r.len() == 2 && r.iter().all(|m| m.state == "sent" || m.state == "failed")
    })
    .await;
    assert!(done, "{:?}", rows(&w.app, Of::Campaign(id)).await);

    // the subscriber with every field: one SMS, every placeholder filled
    let sms = w.smsc.received();
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert_eq!(sms[0].to, "+79164000001");
    let today = Utc::now()
        .with_timezone(&w.app.shared.config.dialing.zone())
        .format("%d.%m.%Y")
        .to_string();
    assert_eq!(
        sms[0].text,
        format!(
            "Орлова Анна, долг 1520.40 руб. по счёту 400001, тариф двухставочный, {today}. \
             Отключение воды"
        )
    );
    // queued at the key press, before the call's end was recorded (a rule fired at the
    // settle comes after it)
    let r = db
        .query_one(
            "SELECT m.created_at, a.ended_at, a.confirm_key FROM messages m
             JOIN attempts a ON a.uuid = m.call_uuid
             WHERE m.recipient = '+79164000001'",
            &[],
        )
        .await
        .unwrap();
    let (queued, ended): (DateTime<Utc>, Option<DateTime<Utc>>) = (r.get(0), r.get(1));
    assert_eq!(r.get::<_, Option<String>>(2).as_deref(), Some("1"));
    let ended = ended.expect("the attempt's end is recorded");
    assert!(
        queued <= ended,
        "message queued at {queued}, after the call's end was recorded at {ended}"
    );

    // the subscriber without a tariff: no SMS with a gap, a failed message saying why
    let all = rows(&w.app, Of::Campaign(id)).await;
    let f = all
        .iter()
        .find(|m| m.recipient == "+79164000002")
        .expect("the second subscriber's message is recorded");
    assert_eq!((f.state.as_str(), f.tries), ("failed", 0), "{f:?}");
    let why = f.last_error.as_deref().unwrap_or_default();
    assert!(
        why.contains("card") && why.contains("{extra.tariff} has no value"),
        "{why}"
    );
    assert_eq!(f.trigger, "after_confirm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_pressed_while_postgres_is_away_gets_its_sms_once_it_is_back() {
    let env = common::TestEnv::new().await;
    let smsc = contactd::sim::smsc::Smsc::start(SMS_TOKEN).await.unwrap();
    // real time: the outage must begin between the answer and the key press
    let sim = contactd::sim::Simulator::start(sim::SimConfig {
        time_scale: 1.0,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        rules: vec![presses_one("89164100001")],
        media_ms: [(campaign_support::MESSAGE.to_string(), MESSAGE_MS)].into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let (pg, pg_url) = FaultProxy::for_url(env.db_url()).await;
    let spool = tempfile::tempdir().unwrap();
    let mut text = env
        .config_toml(
            sim.esl_addr(),
            "ClueCon",
            &[("e1", 5, "freetdm/1/a/{number}")],
        )
        .replace(env.db_url(), &pg_url);
    text.push_str(&format!(
        "[daemon]\nspool_dir = \"{}\"\n[campaigns]\ntrunk = \"e1\"\n\
         [sms]\nurl = \"{}\"\ntoken = \"{SMS_TOKEN}\"\n[messages]\nretry_seconds = 1\n{CARD}",
        spool.path().display(),
        smsc.url()
    ));
    let app = App::start(contactd::config::Config::from_toml(&text).unwrap())
        .await
        .unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    let db = env.pg().await;
    db.batch_execute(
        "INSERT INTO accounts (number, holder, balance_minor) VALUES ('410001', 'Ким Ирина', -700)",
    )
    .await
    .unwrap();
    import(
        &app,
        42,
        &[("+79164100001", "Ким Ирина", "410001", "одноставочный")],
    )
    .await;
    let id = confirm_campaign(&app, 42, "card").await;

    // answered: PostgreSQL goes away before the key is pressed
    let answered = common::eventually(Duration::from_secs(20), || async {
        sim.ground_truth().iter().any(|p| p.answered)
    })
    .await;
    assert!(answered, "the subscriber was not called");
    pg.cut().await;
    let pressed = common::eventually(Duration::from_secs(20), || async {
        sim.ground_truth()
            .iter()
            .any(|p| p.digits == "1" && p.ended_at_ms.is_some())
    })
    .await;
    assert!(pressed, "{:?}", sim.ground_truth());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        smsc.received().is_empty(),
        "sent while PostgreSQL was away?"
    );
    let n: i64 = db
        .query_one("SELECT count(*) FROM messages", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "the message cannot be in PostgreSQL yet");

    pg.restore().await;
    let sent = common::eventually(Duration::from_secs(30), || async {
        smsc.received().len() == 1
    })
    .await;
    assert!(sent, "{:?}", smsc.received());
    // and no second copy from the replay, the settle or the sender's next looks
    tokio::time::sleep(Duration::from_secs(7)).await;
    let sms = smsc.received();
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert!(
        sms[0].text.starts_with("Ким Ирина, долг 7.00 руб."),
        "{}",
        sms[0].text
    );
    let r = store::list(&app.shared.pool, Of::Campaign(id))
        .await
        .unwrap();
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        (r[0].state.as_str(), r[0].trigger.as_str(), r[0].tries),
        ("sent", "after_confirm", 1)
    );
    app.shutdown(Duration::from_secs(2)).await;
}
