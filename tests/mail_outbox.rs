//! The report e-mail as a real SMTP server receives it (aiosmtpd, run from the project's
//! `.venv` by `tests/support/smtp_sink.py`), and the outbox around it: enqueue twice sends
//! once, a server that is down or refuses keeps the report for later, two senders never send
//! the same row, and the delivery loop stops on shutdown.

use crate::common;

use std::time::Duration;

use common::smtp::{free_port, Sink};
use common::TestEnv;
use contactd::config::{MailConfig, SmtpTls};
use contactd::core::report::ReportLocale;
use contactd::mail::{self, Mailer};
use contactd::store::report;
use deadpool_postgres::Pool;

fn mail_config(port: u16) -> MailConfig {
    MailConfig {
        smtp_host: "127.0.0.1".into(),
        smtp_port: port,
        tls: SmtpTls::None,
        from: "Контакт-центр <contactd@vodokanal.example>".into(),
        ..MailConfig::default()
    }
}

// ---- a small finished campaign --------------------------------------------------------

const NAME: &str = "Плановое отключение воды";

// Campaign 100: one subscriber heard it all and confirmed, one was busy to the end, one is
// still waiting; one line of the list was refused at import. Campaign 101 is empty.
const SEED: &str = "
    INSERT INTO contact_lists (number, name, source_file) VALUES (3, 'Школьная', 's.csv');
    INSERT INTO list_rejects (list_number, line_no, kind, raw, reason)
      VALUES (3, 5, 'rejected', '12-34', 'too short');
    INSERT INTO contacts (id, list_number, line_no, phone_raw, phone, name, account, tz) VALUES
      (1, 3, 2, '89031230001', '+79031230001', 'Orlova, Anna', 'LS-1', 'Europe/Moscow'),
      (2, 3, 3, '89031230002', '+79031230002', 'Белов', 'LS-2', 'Europe/Moscow'),
      (3, 3, 4, '89031230003', '+79031230003', 'Гусев', 'LS-3', 'Europe/Moscow');
    INSERT INTO campaigns (id, name, list_number, audio, confirm, trunk, lines, state,
                           created_by, finished_at) VALUES
      (100, 'Плановое отключение воды', 3, '/tmp/m.wav', true, 'e1', 5, 'finished', '2001', now()),
      (101, 'Empty', 3, '/tmp/m.wav', false, 'e1', 1, 'finished', 'cli', now());
    INSERT INTO campaign_targets (campaign_id, contact_id, phone, status, outcome, attempts) VALUES
      (100, 1, '+79031230001', 'done', 'listened_full', 1),
      (100, 2, '+79031230002', 'done', 'busy', 1),
      (100, 3, '+79031230003', 'pending', NULL, 0);
    INSERT INTO attempts (uuid, campaign_id, contact_id, attempt_no, number_dialed, created_at,
        answered_at, ended_at, hangup_cause, q850, listened_ms, listened_full, confirm_key,
        outcome) VALUES
      (gen_random_uuid(), 100, 1, 1, '89031230001', '2025-06-02T06:00:00Z',
       '2025-06-02T06:00:05Z', '2025-06-02T06:01:00Z', 'NORMAL_CLEARING', 16, 42000, true, '1',
       'listened_full'),
      (gen_random_uuid(), 100, 2, 1, '89031230002', '2025-06-02T06:01:00Z', NULL,
       '2025-06-02T06:01:30Z', 'USER_BUSY', 17, NULL, NULL, NULL, 'busy');";

/// The CSV attachment's header with the `[mail]` defaults (English, UTC): the machine names,
/// the outcome's text beside its code, the zone of the times named.
const HEADER: [&str; 12] = [
    "phone",
    "name",
    "account",
    "outcome",
    "outcome_text",
    "attempts",
    "last_hangup_cause",
    "last_q850",
    "listened_seconds",
    "listened_fully",
    "confirm_key",
    "last_attempt_at (UTC)",
];

/// The attachment's rows, as the seed says they must be.
#[rustfmt::skip]
const ROWS: [[&str; 12]; 3] = [
    ["+79031230001", "Orlova, Anna", "LS-1", "listened_full", "Listened to the end", "1",
     "NORMAL_CLEARING", "16", "42.0", "yes", "1", "2025-06-02 06:00:00"],
    ["+79031230002", "Белов", "LS-2", "busy", "Busy", "1", "USER_BUSY", "17", "", "no", "",
     "2025-06-02 06:01:00"],
    ["+79031230003", "Гусев", "LS-3", "pending", "Not called yet", "0", "", "", "", "no", "", ""],
];

const BODY_LINES: [&str; 8] = [
    "Subscribers in the campaign: 3",
    "Reached (answered and heard the message): 1",
    "Listened to the end: 1",
    "Confirmed with key 1: 1",
    "Busy: 1",
    "Still pending: 1",
    "Rejected at import (invalid numbers, never dialed): 1",
    "Calls made (all attempts): 2",
];

struct Seeded {
    env: TestEnv,
    pool: Pool,
    id: i64,
    other: i64,
}

async fn seed() -> Seeded {
    let env = TestEnv::new().await;
    let pool = contactd::store::postgres::pool(env.db_url(), 4).unwrap();
    contactd::store::migrate::run(&pool).await.unwrap();
    env.pg().await.batch_execute(SEED).await.unwrap();
    Seeded {
        env,
        pool,
        id: 100,
        other: 101,
    }
}

fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// The campaign's outbox row, as the tests look at it.
#[derive(Debug)]
struct OutboxRow {
    tries: i32,
    last_error: Option<String>,
    sent: bool,
    /// Seconds until the next try.
    wait: f64,
}

impl Seeded {
    async fn outbox(&self, campaign: i64) -> OutboxRow {
        let r = (self.env.pg().await)
            .query_one(
                "SELECT tries, last_error, sent_at IS NOT NULL,
                        extract(epoch FROM next_try_at - now())::float8
                 FROM outbox WHERE campaign_id = $1",
                &[&campaign],
            )
            .await
            .unwrap();
        OutboxRow {
            tries: r.get(0),
            last_error: r.get(1),
            sent: r.get(2),
            wait: r.get(3),
        }
    }

    async fn outbox_rows(&self) -> i64 {
        let db = self.env.pg().await;
        db.query_one("SELECT count(*) FROM outbox", &[])
            .await
            .unwrap()
            .get(0)
    }

    /// Enqueues the report of campaign `id` to `to`.
    async fn enqueue(&self, id: i64, to: &[&str]) -> Result<bool, mail::MailError> {
        let r = report::campaign_report(&self.pool, id, "1").await.unwrap();
        let to: Vec<String> = to.iter().map(|s| s.to_string()).collect();
        mail::enqueue_report(&self.pool, id, &to, &r).await
    }

    async fn send(&self, mailer: &Mailer, retry_base: Duration) -> usize {
        mail::send_due_once(&self.pool, mailer, retry_base)
            .await
            .unwrap()
    }
}

const AUDITOR: &str = "audit@vodokanal.example";
const MINUTE: Duration = Duration::from_secs(60);

// ---- tests ---------------------------------------------------------------------------

#[tokio::test]
async fn the_report_is_mailed_once_with_recipients_subject_body_and_csv() {
    let s = seed().await;
    let port = free_port();
    let sink = Sink::start(port, None).await;
    let mailer = Mailer::new(&mail_config(port)).unwrap();
    let want_to = [
        AUDITOR,
        "chief.auditor@vodokanal.example",
        "manager@vodokanal.example",
    ];
    // the manager is an auditor too, in capitals: one copy
    let to = [&want_to[..], &["AUDIT@vodokanal.example"]].concat();
    assert!(s.enqueue(s.id, &to).await.unwrap());
    // a restart, or a second instance, enqueues again: still one e-mail
    assert!(!s.enqueue(s.id, &to).await.unwrap());
    assert_eq!(s.send(&mailer, MINUTE).await, 1);
    assert_eq!(s.send(&mailer, MINUTE).await, 0);

    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1, "{msgs:#?}");
    let m = &msgs[0];
    assert_eq!(m["rcpt_tos"], serde_json::json!(want_to));
    assert_eq!(m["to"], serde_json::json!(want_to));
    assert_eq!(m["mail_from"], "contactd@vodokanal.example");
    let subject = format!("Campaign 100 '{NAME}' finished: 1 of 3 reached");
    assert_eq!(m["subject"].as_str().unwrap(), subject);
    let body = m["text"].as_str().expect("a text/plain body");
    let lines: Vec<&str> = body.lines().map(str::trim_end).collect();
    for want in BODY_LINES {
        assert!(lines.contains(&want), "missing {want:?} in:\n{body}");
    }
    let html = m["html"]
        .as_str()
        .expect("a text/html part beside the text");
    assert!(
        html.contains("<table") && html.contains(">Busy</td>"),
        "{html}"
    );
    let atts = m["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 2, "{atts:#?}");
    assert_eq!(atts[0]["filename"], format!("campaign-{}.csv", s.id));
    assert_eq!(atts[0]["content_type"], "text/csv");
    let csv_text = atts[0]["content"].as_str().unwrap();
    assert!(
        csv_text.starts_with('\u{feff}'),
        "Excel needs the BOM to read UTF-8"
    );
    let (header, rows) = parse_csv(csv_text);
    assert_eq!(header, HEADER);
    assert_eq!(rows, ROWS);
    // and exactly what the report renders
    let r = report::campaign_report(&s.pool, s.id, "1").await.unwrap();
    let local = r.render_local_csv(&ReportLocale::default()).unwrap();
    assert_eq!(parse_csv(std::str::from_utf8(&local).unwrap()).1, rows);
    assert_eq!(atts[1]["filename"], format!("campaign-{}.xlsx", s.id));
    assert!(
        atts[1]["content_hex"]
            .as_str()
            .is_some_and(|h| h.starts_with("504b")),
        "a zip"
    );

    let row = s.outbox(s.id).await;
    assert!(row.sent && row.tries == 1, "{row:?}");
    assert_eq!(s.outbox_rows().await, 1);
}

#[tokio::test]
async fn a_send_while_the_server_is_down_is_kept_and_delivered_later() {
    let s = seed().await;
    let port = free_port();
    let mailer = Mailer::new(&mail_config(port)).unwrap();
    s.enqueue(s.id, &[AUDITOR]).await.unwrap();
    assert_eq!(s.send(&mailer, MINUTE).await, 0);
    let row = s.outbox(s.id).await;
    assert!(!row.sent && row.tries == 1, "{row:?}");
    assert!(
        row.last_error.as_deref().is_some_and(|e| !e.is_empty()),
        "{row:?}"
    );
    assert!(
        (50.0..=61.0).contains(&row.wait),
        "first retry in a minute: {row:?}"
    );

    let sink = Sink::start(port, None).await;
    // up, but the retry is not due yet
    assert_eq!(s.send(&mailer, MINUTE).await, 0);
    assert!(sink.messages().is_empty());
    let db = s.env.pg().await;
    db.execute("UPDATE outbox SET next_try_at = now()", &[])
        .await
        .unwrap();
    assert_eq!(s.send(&mailer, MINUTE).await, 1);
    assert_eq!(sink.messages().len(), 1);
    let row = s.outbox(s.id).await;
    assert!(row.sent && row.tries == 2, "{row:?}");
}

#[tokio::test]
async fn a_permanent_rejection_is_recorded_and_retried_slowly() {
    let s = seed().await;
    let port = free_port();
    let sink = Sink::start(port, Some("554 5.7.1 Relay access denied")).await;
    let mailer = Mailer::new(&mail_config(port)).unwrap();
    s.enqueue(s.id, &[AUDITOR]).await.unwrap();
    assert_eq!(s.send(&mailer, Duration::from_secs(1)).await, 0);
    assert!(sink.messages().is_empty());
    let row = s.outbox(s.id).await;
    assert!(!row.sent && row.tries == 1, "{row:?}");
    let err = row.last_error.as_deref().unwrap_or_default();
    assert!(err.contains("Relay access denied"), "{row:?}");
    assert!(row.wait > 3500.0, "a 5xx waits the longest: {row:?}");
}

#[tokio::test]
async fn a_bad_address_is_refused_and_named() {
    let s = seed().await;
    let err = s
        .enqueue(s.id, &[AUDITOR, "manager@@vodokanal"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("manager@@vodokanal"), "{err}");
    assert!(!err.is_retryable());
    let err = s.enqueue(s.id, &[]).await.unwrap_err();
    assert!(matches!(err, mail::MailError::NoRecipients), "{err}");
    assert_eq!(s.outbox_rows().await, 0);
}

#[tokio::test]
async fn concurrent_senders_never_send_the_same_report() {
    let s = seed().await;
    let port = free_port();
    let sink = Sink::start(port, None).await;
    for id in [s.id, s.other] {
        assert!(s.enqueue(id, &[AUDITOR]).await.unwrap());
    }
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let pool = s.pool.clone();
            let mailer = Mailer::new(&mail_config(port)).unwrap();
            tokio::spawn(async move { mail::send_due_once(&pool, &mailer, MINUTE).await.unwrap() })
        })
        .collect();
    let mut sent = 0;
    for t in tasks {
        sent += t.await.unwrap();
    }
    assert_eq!(sent, 2);
    let msgs = sink.messages();
    let mut subjects: Vec<&str> = msgs
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    subjects.sort();
    subjects.dedup();
    assert_eq!((msgs.len(), subjects.len()), (2, 2), "{subjects:?}");
}

#[tokio::test]
async fn the_outbox_loop_delivers_and_stops_on_shutdown() {
    let s = seed().await;
    let port = free_port();
    let sink = Sink::start(port, None).await;
    let mailer = Mailer::new(&mail_config(port)).unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let pool = s.pool.clone();
    let task = tokio::spawn(mail::run_outbox(
        pool,
        mailer,
        Duration::from_secs(1),
        stopped,
    ));
    // enqueued while the loop runs: picked up within its one-second tick
    s.enqueue(s.id, &[AUDITOR]).await.unwrap();
    let got_it = common::eventually(Duration::from_secs(5), || async {
        sink.messages().len() == 1
    });
    assert!(got_it.await, "the loop did not send the report");
    // at once, possibly before the loop recorded the send: it finishes that, then exits
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(3), task)
        .await
        .expect("run_outbox exits promptly on shutdown")
        .unwrap();
    assert_eq!(sink.messages().len(), 1);
    assert!(s.outbox(s.id).await.sent);
}

#[tokio::test]
async fn a_report_queued_as_text_by_an_older_version_is_sent_as_it_is() {
    let s = seed().await;
    let port = free_port();
    let sink = Sink::start(port, None).await;
    let mailer = Mailer::new(&mail_config(port)).unwrap();
    (s.env.pg().await)
        .execute(
            "INSERT INTO outbox (kind, campaign_id, recipients, subject, body, attachment_name,
                                 attachment)
             VALUES ('campaign_report', 100, $1, 'Campaign 100 finished: 1 of 3 reached',
                     E'Campaign 100: finished\\nBusy: 1\\n', 'campaign-100.csv',
                     E'phone,outcome\\n+79031230002,busy\\n')",
            &[&vec![AUDITOR.to_string()]],
        )
        .await
        .unwrap();
    assert_eq!(s.send(&mailer, MINUTE).await, 1);
    let msgs = sink.messages();
    let m = &msgs[0];
    assert_eq!(m["subject"], "Campaign 100 finished: 1 of 3 reached");
    let unix = |v: &serde_json::Value| v.as_str().unwrap().replace("\r\n", "\n");
    assert_eq!(unix(&m["text"]), "Campaign 100: finished\nBusy: 1\n");
    assert!(m["html"].is_null(), "no HTML made up for it");
    let atts = m["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 1, "{atts:#?}");
    assert_eq!(
        unix(&atts[0]["content"]),
        "phone,outcome\n+79031230002,busy\n"
    );
}
