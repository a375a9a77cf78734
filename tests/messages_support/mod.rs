//! What the message tests share: the daemon with an SMTP sink, the local SMSC and three
//! templates (`bill` by e-mail with an attachment, `outage` and `missed` by SMS); an
//! operator's call on record; the API and the table as the tests read them.
#![allow(dead_code)]

use contactd::app::App;
use contactd::sim::smsc::Smsc;
use contactd::sim::SubscriberRule;
use contactd::store::messages::{self as store, MessageRow, Of};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::campaign_support;
use crate::common::smtp::{free_port, Sink};
use crate::common::TestEnv;

pub const TOKEN: &str = "test-token-0123456789";
pub const SMS_TOKEN: &str = "sms-token-secret-77";

pub fn extra(smtp: u16, smsc: &str, attachment: &std::path::Path) -> String {
    format!(
        r#"
[mail]
smtp_port = {smtp}
from = "Водоканал <info@vodokanal.example>"
[sms]
url = "{smsc}"
token = "{SMS_TOKEN}"
[messages]
retry_seconds = 1
max_tries = 4
[messages.templates.bill]
channel = "email"
subject = "Лицевой счёт {{account}}"
body = "Здравствуйте, {{name}}! Счёт по лицевому счёту {{account}} во вложении."
attachments = ["{att}"]
[messages.templates.outage]
channel = "sms"
body = "{{name}}, воду отключат 3 декабря с 10 до 14. Водоканал"
[messages.templates.missed]
channel = "sms"
body = "Мы не дозвонились до вас: {{campaign}}. Водоканал"
"#,
        att = attachment.display()
    )
}

/// An operator's call: the call record, the ACD's row with the account offered, the account.
pub async fn operator_call(env: &TestEnv, caller: &str) -> Uuid {
    let uuid = Uuid::new_v4();
    let db = env.pg().await;
    db.batch_execute(
        "INSERT INTO accounts (number, holder) VALUES ('100234', 'Орлова Анна')
         ON CONFLICT DO NOTHING",
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO calls (uuid, node, direction, purpose, number, state)
         VALUES ($1, 'fs1', 'inbound', 'acd', $2, 'answered')",
        &[&uuid, &caller],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO acd_calls (call_uuid, node, queue, caller, account, entered_at)
         VALUES ($1, 'fs1', 'general', $2, '100234', now())",
        &[&uuid, &caller],
    )
    .await
    .unwrap();
    uuid
}

pub async fn post(app: &App, call: &str, body: Value, token: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!(
            "http://{}/api/v1/calls/{call}/messages",
            app.http_addr
        ))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        code,
        serde_json::from_str(&text).unwrap_or(json!({"raw": text})),
    )
}

pub async fn listed(app: &App, call: Uuid) -> Vec<Value> {
    let r = reqwest::Client::new()
        .get(format!(
            "http://{}/api/v1/calls/{call}/messages",
            app.http_addr
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    v["messages"].as_array().unwrap().clone()
}

pub async fn rows(app: &App, of: Of) -> Vec<MessageRow> {
    store::list(&app.shared.pool, of).await.unwrap()
}

pub struct World {
    /// The daemon's config as TOML, for the CLI.
    pub toml: String,
    pub env: TestEnv,
    pub sink: Sink,
    pub smsc: Smsc,
    pub _sim: contactd::sim::Simulator,
    pub app: App,
    pub _dir: tempfile::TempDir,
}

pub async fn world(sim_extra: Vec<SubscriberRule>) -> World {
    world_with(sim_extra, "").await
}

/// [`world`] with more config (templates of the test's own) appended.
pub async fn world_with(sim_extra: Vec<SubscriberRule>, more_config: &str) -> World {
    let env = TestEnv::new().await;
    let port = free_port();
    let sink = Sink::start(port, None).await;
    let smsc = Smsc::start(SMS_TOKEN).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let att = dir.path().join("tariffs-2027.pdf");
    std::fs::write(&att, b"%PDF-1.4 tariffs").unwrap();
    let more = extra(port, &smsc.url(), &att) + more_config;
    let (sim, app) = campaign_support::start_with_rules(&env, 5, 2000, &more, sim_extra).await;
    let mut toml = env.config_toml(
        sim.esl_addr(),
        "ClueCon",
        &[("e1", 5, "freetdm/1/a/{number}")],
    );
    toml.push_str("[campaigns]\ntrunk = \"e1\"\n");
    toml.push_str(&more);
    World {
        toml,
        env,
        sink,
        smsc,
        _sim: sim,
        app,
        _dir: dir,
    }
}
