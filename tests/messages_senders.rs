//! The message sender against other senders and against its own death: three senders (the
//! daemon's and two more on the same database, as other instances) deliver twenty queued
//! SMS once each; a message whose sender died after the gateway accepted it and before
//! `sent` was written is taken over once its lease runs out, sent again with the same
//! `client_ref` (the one duplicate the design allows, recognisable by that reference), and
//! its lost send recorded as `interrupted`.
use crate::common;
use crate::messages_support;

use std::collections::HashSet;
use std::time::Duration;

use contactd::service::messages::{Messages, Recipient};
use contactd::store::messages::{self as store, Of};
use messages_support::{operator_call, rows, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_senders_deliver_each_message_once() {
    let w = world(vec![]).await;
    let pool = &w.app.shared.pool;
    let others: Vec<Messages> = (0..2)
        .map(|_| Messages::new(pool.clone(), w.app.shared.config.clone()))
        .collect();
    let mut calls = Vec::new();
    for i in 0..20 {
        let call = operator_call(&w.env, &format!("+791612300{i:02}")).await;
        calls.push(call);
    }
    // queued by the test (no wake reaches the daemon's sender but NOTIFY), then all three
    // senders race for them
    for c in &calls {
        others[0]
            .send_for_call(&c.to_string(), "outage", Recipient::Default, "operator")
            .await
            .unwrap();
    }
    let (a, b) = tokio::join!(others[0].send_due_once(), others[1].send_due_once());
    let (a, b) = (a.unwrap(), b.unwrap());
    let all_sent = common::eventually(Duration::from_secs(30), || async {
        let mut n = 0;
        for c in &calls {
            n += usize::from(rows(&w.app, Of::Call(*c)).await[0].state == "sent");
        }
        n == calls.len()
    })
    .await;
    assert!(all_sent);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = w.smsc.received();
    let refs: HashSet<&str> = got.iter().map(|s| s.client_ref.as_str()).collect();
    assert_eq!((got.len(), refs.len()), (20, 20), "each SMS once");
    assert!(a + b <= 20, "the two extra senders sent {a} + {b}");
    for c in &calls {
        let r = &rows(&w.app, Of::Call(*c)).await[0];
        assert_eq!((r.tries, r.attempts.len()), (1, 1), "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_that_died_after_the_gateway_accepted_is_taken_over_with_the_same_reference() {
    let w = world(vec![]).await;
    let pool = &w.app.shared.pool;
    // A row claimed by a sender "on another instance" that reached the gateway and died:
    // the claim and the gateway's acceptance as that sender made them, no `sent` after.
    // The row goes in while the daemon's sender is held off by a claim it cannot see yet.
    let call = operator_call(&w.env, "+79161239999").await;
    let db = w.env.pg().await;
    db.execute(
        "INSERT INTO messages (call_uuid, template, trigger, channel, recipient, body, ref,
                               state, tries, lease_until)
         VALUES ($1, 'outage', 'operator', 'sms', '+79161239999', 'текст', 'ref-dead-sender',
                 'sending', 1, now() + interval '1 hour')",
        &[&call],
    )
    .await
    .unwrap();
    let id: i64 = db
        .query_one("SELECT id FROM messages WHERE call_uuid = $1", &[&call])
        .await
        .unwrap()
        .get(0);
    db.execute(
        "INSERT INTO message_attempts (message_id, attempt_no, instance) VALUES ($1, 1, 'dead')",
        &[&id],
    )
    .await
    .unwrap();
    let gateway = contactd::service::messages::SmsGateway::new(&w.app.shared.config.sms).unwrap();
    gateway
        .send("+79161239999", "текст", "ref-dead-sender")
        .await
        .unwrap();
    // nobody takes a leased row
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rows(&w.app, Of::Call(call)).await[0].state, "sending");
    // the lease runs out: the daemon's sender takes it over
    db.execute(
        "UPDATE messages SET lease_until = now() WHERE id = $1",
        &[&id],
    )
    .await
    .unwrap();
    let sent = common::eventually(Duration::from_secs(15), || async {
        rows(&w.app, Of::Call(call)).await[0].state == "sent"
    })
    .await;
    let r = store::list(pool, Of::Id(id)).await.unwrap().remove(0);
    assert!(sent, "{r:?}");
    let results: Vec<(&str, &str)> = r
        .attempts
        .iter()
        .map(|a| (a.instance.as_str(), a.result.as_str()))
        .collect();
    assert_eq!(
        results,
        [("dead", "interrupted"), ("contactd-1", "accepted")],
        "{r:?}"
    );
    let got = w.smsc.received();
    assert_eq!(got.len(), 2, "the allowed duplicate: {got:?}");
    assert!(got.iter().all(|s| s.client_ref == "ref-dead-sender"));
}
