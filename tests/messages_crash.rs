//! Issue 14's "an e-mail sent during the call exactly once even when contactd is killed
//! right after sending": the real `contactd` binary runs a notice campaign whose
//! `after_confirm` rule mails each subscriber who pressed 1; it is SIGKILLed as soon as the
//! first e-mail is recorded sent, started again, and finishes the campaign. The SMTP server
//! (a real one) holds exactly one e-mail per subscriber, and each row says `sent` after one
//! attempt. Then: killed while an e-mail is only queued (the SMTP server away, the message
//! waiting for its retry) — after the restart it is sent once.
use crate::common;
use crate::faults_support;

use std::collections::HashMap;
use std::time::Duration;

use common::smtp::{free_port, Sink};
use contactd::config::Config;
use contactd::sim::{self, AfterAnswer, Behaviour, Simulator};
use contactd::store::campaigns::{Campaigns, NewCampaign};
use contactd::store::messages::{self as store, Of};
use faults_support::{Daemon, DaemonOpts};

const MESSAGE: &str = "/var/lib/contactd/recordings/campaigns/msg.wav";
const MESSAGE_MS: u64 = 2000;

fn number(i: usize) -> String {
    format!("+7916300{i:04}")
}

fn dialed(i: usize) -> String {
    format!("8916300{i:04}")
}

fn email(i: usize) -> String {
    format!("subscriber{i}@example.org")
}

struct Setup {
    env: common::TestEnv,
    sim: Simulator,
    _dir: tempfile::TempDir,
}

/// The e-mail template and mail settings, on top of the fault tests' daemon config.
fn extra(smtp_port: u16) -> String {
    format!(
        r#"
[mail]
smtp_port = {smtp_port}
retry_seconds = 1
[messages]
retry_seconds = 1
[messages.templates.thanks]
channel = "email"
subject = "Спасибо, {{name}}: вы подтвердили"
body = "Вы подтвердили получение сообщения «{{campaign}}». Лицевой счёт {{account}}."
"#
    )
}

async fn setup(subscribers: usize) -> Setup {
    let env = common::TestEnv::new().await;
    // every subscriber presses 1 after the message, then hangs up; the message starts
    // only once answering-machine detection has heard their "hello" end (~1.4 s)
    let numbers: HashMap<String, Behaviour> = (0..subscribers)
        .map(|i| {
            (
                dialed(i),
                Behaviour::Answer {
                    ring_ms: 300,
                    after: AfterAnswer::PressDigits {
                        digits: "1".into(),
                        at_ms: MESSAGE_MS + 2700,
                        hangup_ms: Some(MESSAGE_MS + 4000),
                    },
                },
            )
        })
        .collect();
    let sim = Simulator::start(sim::SimConfig {
        time_scale: 0.2,
        trunks: vec![sim::TrunkConfig {
            name: "1".into(),
            kind: sim::TrunkKind::Freetdm,
            channels: 30,
        }],
        numbers,
        default_behaviour: Behaviour::Answer {
            ring_ms: 300,
            after: AfterAnswer::Stay,
        },
        media_ms: [(MESSAGE.to_string(), MESSAGE_MS)].into(),
        ..Default::default()
    })
    .await
    .unwrap();
    Setup {
        env,
        sim,
        _dir: tempfile::tempdir().unwrap(),
    }
}

/// contactd as its own process (`faults_support::Daemon`), with the mail settings.
async fn start(s: &Setup, smtp_port: u16) -> Daemon {
    Daemon::start_with(
        DaemonOpts {
            env: &s.env,
            sim: &s.sim,
            pg_url: s.env.db_url().to_string(),
            redis_url: common::redis_url(),
            trunk_channels: 30,
            reconnect_ms: (100, 500),
        },
        &extra(smtp_port),
    )
    .await
}

/// A campaign with `after_confirm = "thanks"` over `subscribers` (each with an e-mail in
/// the list), one line so they are called one after the other.
async fn campaign(
    s: &Setup,
    cfg: &Config,
    pool: &deadpool_postgres::Pool,
    subscribers: usize,
) -> i64 {
    let csv = s._dir.path().join("list.csv");
    let mut rows = String::from("phone,name,account,email\n");
    for i in 0..subscribers {
        rows.push_str(&format!("{},Абонент {i},LS-{i},{}\n", number(i), email(i)));
    }
    std::fs::write(&csv, rows).unwrap();
    contactd::store::lists::import_csv(
        pool,
        &csv,
        contactd::core::lists::ImportOptions {
            list_number: 4,
            name: "msg crash".into(),
            replace: false,
        },
        &cfg.dialing,
    )
    .await
    .unwrap();
    let (id, _) = Campaigns::new(pool.clone())
        .create(&NewCampaign {
            name: "Плановое отключение".into(),
            window_days: "mon-sun".into(),
            window_start: "00:00".into(),
            window_end: "23:59".into(),
            max_attempts: 1,
            lines: 1,
            confirm: true,
            ..NewCampaign::with_defaults(&cfg.campaigns, 4, MESSAGE, "cli")
        })
        .await
        .unwrap();
    store::set_campaign_rules(pool, id, Some("thanks"), None)
        .await
        .unwrap();
    id
}

async fn finished(pool: &deadpool_postgres::Pool, id: i64) -> bool {
    Campaigns::new(pool.clone())
        .get(id)
        .await
        .unwrap()
        .is_some_and(|c| c.state == "finished")
}

/// Copies of each subscriber's e-mail in the sink.
fn copies(sink: &Sink, subscribers: usize) -> Vec<usize> {
    let mails = sink.messages();
    (0..subscribers)
        .map(|i| {
            mails
                .iter()
                .filter(|m| m["rcpt_tos"][0].as_str() == Some(email(i).as_str()))
                .count()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_sent_during_the_call_is_sent_once_when_contactd_is_killed_right_after() {
    const N: usize = 4;
    let smtp_port = free_port();
    let sink = Sink::start(smtp_port, None).await;
    let s = setup(N).await;
    let pool = contactd::store::postgres::pool(s.env.db_url(), 2).unwrap();
    let mut daemon = start(&s, smtp_port).await;
    let id = campaign(&s, &daemon.config, &pool, N).await;

    // the first e-mail recorded sent: kill at once
    let first_sent = common::eventually(Duration::from_secs(60), || async {
        store::list(&pool, Of::Campaign(id))
            .await
            .unwrap()
            .iter()
            .any(|m| m.state == "sent")
    })
    .await;
    assert!(
        first_sent,
        "no e-mail sent: {:?}",
        store::list(&pool, Of::Campaign(id)).await
    );
    daemon.kill().await;
    let at_kill = store::list(&pool, Of::Campaign(id)).await.unwrap();
    assert!(
        at_kill.iter().filter(|m| m.state == "sent").count() < N,
        "the kill came after every e-mail: the test proves nothing"
    );

    eprintln!(
        "at the kill: {:?}",
        at_kill
            .iter()
            .map(|m| (m.id, m.state.as_str()))
            .collect::<Vec<_>>()
    );
    let sent_at_kill: Vec<i64> = at_kill
        .iter()
        .filter(|m| m.state == "sent")
        .map(|m| m.id)
        .collect();

    daemon.restart().await;
    let db = s.env.pg().await;
    // every subscriber who confirmed (as recorded) gets their e-mail; a call that ended
    // while contactd was dead has no key on record, so no rule fires for it
    let confirmed = || async {
        db.query(
            "SELECT count(*) FROM attempts WHERE campaign_id = $1 AND confirm_key = '1'",
            &[&id],
        )
        .await
        .unwrap()[0]
            .get::<_, i64>(0) as usize
    };
    let done = common::eventually(Duration::from_secs(120), || async {
        let rows = store::list(&pool, Of::Campaign(id)).await.unwrap();
        finished(&pool, id).await
            && rows.iter().all(|m| m.state == "sent")
            && rows.len() == confirmed().await
    })
    .await;
    let rows = store::list(&pool, Of::Campaign(id)).await.unwrap();
    assert!(
        done,
        "campaign or e-mails not done after restart: {rows:#?}"
    );
    // a moment for any duplicate to arrive
    tokio::time::sleep(Duration::from_secs(2)).await;
    daemon.stop().await;
    let copies = copies(&sink, N);
    eprintln!(
        "after the restart: {} e-mails, copies per subscriber {copies:?}",
        rows.len()
    );
    assert!(
        copies.iter().all(|&n| n <= 1),
        "an e-mail sent twice: {copies:?} {rows:#?}"
    );
    assert_eq!(
        copies.iter().sum::<usize>(),
        rows.len(),
        "{copies:?} {rows:#?}"
    );
    assert!(rows.len() >= 2, "the restarted daemon sent none: {rows:#?}");
    for m in &rows {
        assert_eq!(m.trigger, "after_confirm");
        assert_eq!((m.tries, m.attempts.len()), (1, 1), "{m:?}");
        assert_eq!(m.attempts[0].result, "accepted");
    }
    // the e-mail sent just before the kill: still one copy, never sent again
    for id in sent_at_kill {
        let m = rows.iter().find(|m| m.id == id).unwrap();
        let i: usize = m.recipient[10..m.recipient.find('@').unwrap()]
            .parse()
            .unwrap();
        assert_eq!(copies[i], 1, "{m:?}");
    }
    let mail = &sink.messages()[0];
    assert!(mail["subject"]
        .as_str()
        .unwrap()
        .starts_with("Спасибо, Абонент "));
    assert!(mail["text"]
        .as_str()
        .unwrap()
        .contains("«Плановое отключение»"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_only_queued_when_contactd_is_killed_is_sent_once_after_restart() {
    const N: usize = 1;
    // the SMTP server is away at first: the e-mail waits in the table for its retry
    let smtp_port = free_port();
    let s = setup(N).await;
    let pool = contactd::store::postgres::pool(s.env.db_url(), 2).unwrap();
    let mut daemon = start(&s, smtp_port).await;
    let id = campaign(&s, &daemon.config, &pool, N).await;
    let waiting = common::eventually(Duration::from_secs(60), || async {
        store::list(&pool, Of::Campaign(id))
            .await
            .unwrap()
            .first()
            .is_some_and(|m| m.state == "queued" && m.tries >= 1)
    })
    .await;
    assert!(waiting, "{:?}", store::list(&pool, Of::Campaign(id)).await);
    daemon.kill().await;
    let before = store::list(&pool, Of::Campaign(id)).await.unwrap();
    assert_eq!(before[0].state, "queued", "{before:?}");
    assert!(
        before[0].attempts.iter().all(|a| a.result == "retry"),
        "{before:?}"
    );

    let sink = Sink::start(smtp_port, None).await;
    daemon.restart().await;
    let sent = common::eventually(Duration::from_secs(60), || async {
        store::list(&pool, Of::Campaign(id)).await.unwrap()[0].state == "sent"
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    daemon.stop().await;
    let after = store::list(&pool, Of::Campaign(id)).await.unwrap();
    assert!(sent, "{after:?}");
    assert_eq!(copies(&sink, N), vec![1], "{after:?}");
    let last = after[0].attempts.last().unwrap();
    assert_eq!(last.result, "accepted");
    assert_eq!(after.len(), 1, "queued once: {after:?}");
}
