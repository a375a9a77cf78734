//! E-mail and SMS during a call, through the running daemon: an operator's e-mail (API,
//! clicked twice) reaches a real SMTP server once, rendered, with its attachment and a
//! stable Message-ID; an SMS goes through the local SMSC to the call's number; a gateway
//! failing twice is tried three times and delivers one SMS; a refusal is final after one
//! try; bad requests are refused before anything is written; a notice campaign's
//! `when_unreached` rule texts a subscriber who was busy to the last try.
use crate::campaign_support;
use crate::common;
use crate::messages_support;

use std::time::Duration;

use contactd::sim::{Behaviour, SubscriberRule};
use contactd::store::campaigns::{Campaigns, NewCampaign};
use contactd::store::messages::{self as store, Of};
use messages_support::{listed, operator_call, post, rows, world, TOKEN};
use serde_json::json;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_email_is_delivered_once_even_when_clicked_twice() {
    let w = world(vec![]).await;
    let call = operator_call(&w.env, "+79161234567").await;
    let body = json!({"template": "bill", "to": "anna.orlova@example.org"});
    let (c1, first) = post(&w.app, &call.to_string(), body.clone(), TOKEN).await;
    let (c2, second) = post(&w.app, &call.to_string(), body, TOKEN).await;
    assert_eq!((c1, c2), (201, 200), "{first} {second}");
    assert_eq!(first["message"]["id"], second["message"]["id"]);
    assert_eq!(second["created"], json!(false));
    let sent = common::eventually(Duration::from_secs(20), || async {
        rows(&w.app, Of::Call(call)).await[0].state == "sent"
    })
    .await;
    assert!(sent, "{:?}", rows(&w.app, Of::Call(call)).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mails = w.sink.messages();
    assert_eq!(mails.len(), 1, "one e-mail: {mails:#?}");
    let m = &mails[0];
    assert_eq!(m["rcpt_tos"], json!(["anna.orlova@example.org"]));
    assert_eq!(m["subject"], json!("Лицевой счёт 100234"));
    assert!(
        m["text"]
            .as_str()
            .unwrap()
            .contains("Здравствуйте, Орлова Анна!"),
        "{m:#}"
    );
    assert_eq!(
        common::smtp::attachment(m, ".pdf")["filename"],
        "tariffs-2027.pdf"
    );
    let row = &rows(&w.app, Of::Call(call)).await[0];
    assert!(
        m["message_id"].as_str().unwrap().contains(&row.reference),
        "Message-ID carries the message's reference"
    );
    assert_eq!((row.tries, row.attempts.len()), (1, 1));
    assert_eq!(row.attempts[0].result, "accepted");
    // what the operator's screen may offer
    let r = reqwest::Client::new()
        .get(format!(
            "http://{}/api/v1/messages/templates",
            w.app.http_addr
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(
        v["templates"],
        json!([
            {"name": "bill", "channel": "email"},
            {"name": "missed", "channel": "sms"},
            {"name": "outage", "channel": "sms"}
        ])
    );
    // the listing shows it with its state and attempts
    let listed = listed(&w.app, call).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "sent");
    assert_eq!(listed[0]["attempts"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_goes_to_the_calls_number_through_the_smsc() {
    let w = world(vec![]).await;
    let call = operator_call(&w.env, "+79161234567").await;
    let (code, v) = post(
        &w.app,
        &call.to_string(),
        json!({"template": "outage"}),
        TOKEN,
    )
    .await;
    assert_eq!(code, 201, "{v}");
    assert!(
        common::eventually(Duration::from_secs(20), || async {
            w.smsc.received().len() == 1
        })
        .await
    );
    let sms = &w.smsc.received()[0];
    assert_eq!(sms.to, "+79161234567");
    assert_eq!(
        sms.text,
        "Орлова Анна, воду отключат 3 декабря с 10 до 14. Водоканал"
    );
    let row = &rows(&w.app, Of::Call(call)).await[0];
    assert_eq!(sms.client_ref, row.reference);
    assert!(
        common::eventually(Duration::from_secs(5), || async {
            rows(&w.app, Of::Call(call)).await[0].provider_id.as_deref() == Some("smsc-1")
        })
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_failing_twice_is_tried_three_times_and_delivers_once() {
    let w = world(vec![]).await;
    w.smsc.fail_next(2, 503);
    let call = operator_call(&w.env, "+79161234568").await;
    let (code, v) = post(
        &w.app,
        &call.to_string(),
        json!({"template": "outage", "to": "8 (916) 555-12-34"}),
        TOKEN,
    )
    .await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["message"]["recipient"], "+79165551234", "normalised");
    let sent = common::eventually(Duration::from_secs(30), || async {
        rows(&w.app, Of::Call(call)).await[0].state == "sent"
    })
    .await;
    let row = &rows(&w.app, Of::Call(call)).await[0];
    assert!(sent, "{row:?}");
    let results: Vec<&str> = row.attempts.iter().map(|a| a.result.as_str()).collect();
    assert_eq!(results, ["retry", "retry", "accepted"], "{row:?}");
    assert!(row.attempts[0].error.as_deref().unwrap().contains("503"));
    assert_eq!(row.tries, 3);
    assert_eq!((w.smsc.requests(), w.smsc.received().len()), (3, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_final_and_bad_requests_write_nothing() {
    let w = world(vec![]).await;
    let call = operator_call(&w.env, "+79161234569").await;
    w.smsc.fail_next(1, 400);
    let (code, _) = post(
        &w.app,
        &call.to_string(),
        json!({"template": "outage"}),
        TOKEN,
    )
    .await;
    assert_eq!(code, 201);
    let failed = common::eventually(Duration::from_secs(20), || async {
        rows(&w.app, Of::Call(call)).await[0].state == "failed"
    })
    .await;
    let row = &rows(&w.app, Of::Call(call)).await[0];
    assert!(failed, "{row:?}");
    assert_eq!(
        (row.tries, row.attempts[0].result.as_str()),
        (1, "rejected")
    );
    assert!(w.smsc.received().is_empty());

    let other = operator_call(&w.env, "+79161234570").await.to_string();
    for (body, want, says) in [
        (json!({"template": "nope"}), 400, "no template"),
        (json!({"template": "../bill"}), 400, "no template"),
        (json!({"template": "bill"}), 400, "no recipient"),
        (
            json!({"template": "bill", "to": "x@y\r\nBcc: z@w.org"}),
            400,
            "recipient",
        ),
        (
            json!({"template": "bill", "to": "not an address"}),
            400,
            "recipient",
        ),
        (
            json!({"template": "outage", "to": "12ab"}),
            400,
            "recipient",
        ),
        (
            json!({"template": "outage", "cc": "x"}),
            400,
            "unknown field",
        ),
    ] {
        let (code, v) = post(&w.app, &other, body.clone(), TOKEN).await;
        assert_eq!(code, want, "{body}: {v}");
        assert!(v["error"].as_str().unwrap().contains(says), "{body}: {v}");
    }
    let unknown = Uuid::new_v4().to_string();
    let (code, _) = post(&w.app, &unknown, json!({"template": "outage"}), TOKEN).await;
    assert_eq!(code, 404);
    let (code, _) = post(&w.app, "not-a-uuid", json!({"template": "outage"}), TOKEN).await;
    assert_eq!(code, 400);
    let (code, _) = post(&w.app, &other, json!({"template": "outage"}), "wrong-token").await;
    assert_eq!(code, 401);
    let db = w.env.pg().await;
    let n: i64 = db
        .query_one("SELECT count(*) FROM messages", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "only the first request wrote a message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_busy_to_the_last_try_gets_the_when_unreached_sms() {
    let w = world(vec![SubscriberRule {
        pattern: "^89162000001$".into(),
        behaviour: Behaviour::Busy { after_ms: 300 },
    }])
    .await;
    campaign_support::import(
        &w.app,
        7,
        ["+79162000001".to_string(), "+79162000002".to_string()],
    )
    .await;
    let cfg = &w.app.shared.config;
    let (id, _) = Campaigns::new(w.app.shared.pool.clone())
        .create(&NewCampaign {
            name: "Отключение воды".into(),
            window_days: "mon-sun".into(),
            window_start: "00:00".into(),
            window_end: "23:59".into(),
            max_attempts: 2,
            retry_busy_s: 1,
            ..NewCampaign::with_defaults(&cfg.campaigns, 7, campaign_support::MESSAGE, "cli")
        })
        .await
        .unwrap();
    store::set_campaign_rules(&w.app.shared.pool, id, None, Some("missed"))
        .await
        .unwrap();
    let done = common::eventually(Duration::from_secs(60), || async {
        w.smsc.received().len() == 1
            && rows(&w.app, Of::Campaign(id))
                .await
                .iter()
                .all(|m| m.state == "sent")
    })
    .await;
    assert!(
        done,
        "{:?} {:?}",
        w.smsc.received(),
        rows(&w.app, Of::Campaign(id)).await
    );
    let sms = &w.smsc.received()[0];
    assert_eq!(sms.to, "+79162000001");
    assert_eq!(
        sms.text,
        "Мы не дозвонились до вас: Отключение воды. Водоканал"
    );
    let r = &rows(&w.app, Of::Campaign(id)).await;
    assert_eq!(r.len(), 1, "only the unreached subscriber, once: {r:?}");
    assert_eq!(r[0].trigger, "when_unreached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sets_a_campaigns_rules_and_lists_messages() {
    let w = world(vec![]).await;
    let cfg = w._dir.path().join("contactd.toml");
    std::fs::write(&cfg, &w.toml).unwrap();
    campaign_support::import(&w.app, 8, ["+79162000009".to_string()]).await;
    let cli = |args: Vec<&str>| {
        let cfg = cfg.clone();
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
                .args(&args)
                .arg("--config")
                .arg(&cfg)
                .output()
                .await
                .unwrap()
        }
    };
    let create = |rule: &'static str, template: &'static str, confirm: bool| {
        let mut a = vec![
            "campaigns",
            "create",
            "--list",
            "8",
            "--audio",
            campaign_support::MESSAGE,
            rule,
            template,
            "--days",
            "mon-sun",
            "--from",
            "00:00",
            "--until",
            "00:01",
        ];
        if confirm {
            a.push("--confirm");
        }
        a
    };
    let out = cli(create("--after-confirm", "outage", false)).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--after-confirm needs --confirm"));
    let out = cli(create("--when-unreached", "nope", false)).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such [messages.templates.NAME]"));
    let out = cli(create("--after-confirm", "outage", true)).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = w.env.pg().await;
    let r = db
        .query_one("SELECT after_confirm, when_unreached FROM campaigns", &[])
        .await
        .unwrap();
    assert_eq!(
        (r.get::<_, Option<String>>(0), r.get::<_, Option<String>>(1)),
        (Some("outage".into()), None)
    );

    let call = operator_call(&w.env, "+79161234571").await;
    let (code, _) = post(
        &w.app,
        &call.to_string(),
        json!({"template": "outage"}),
        TOKEN,
    )
    .await;
    assert_eq!(code, 201);
    assert!(
        common::eventually(Duration::from_secs(20), || async {
            rows(&w.app, Of::Call(call)).await[0].state == "sent"
        })
        .await
    );
    let out = cli(vec!["messages", "ls", "--call", &call.to_string()]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("sent") && text.contains("+79161234571") && text.contains("#1"),
        "{text}"
    );
    assert!(text.contains("accepted"), "{text}");
    let out = cli(vec!["messages", "ls", "--call", "nope"]).await;
    assert_eq!(out.status.code(), Some(65), "a bad uuid is a data error");
}
