//! Campaign reports end to end: counts and CSV against a seeded PostgreSQL database, and the
//! e-mail as a real SMTP server (aiosmtpd, `tests/support/smtp_sink.py`) receives it,
//! including the outbox's retries while the server is down or refusing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use common::TestEnv;
use contactd::config::{MailConfig, SmtpTls};
use contactd::mail::{self, Mailer};
use contactd::report::{self, ReportCounts, CSV_HEADER};
use deadpool_postgres::Pool;
use serde_json::Value;
use tokio_postgres::types::ToSql;

// ---- the SMTP sink -------------------------------------------------------------------

struct Sink {
    _child: tokio::process::Child,
    dir: tempfile::TempDir,
}

fn python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Sink {
    /// Starts aiosmtpd on `port` and waits until it accepts connections.
    async fn start(port: u16, reply: Option<&str>) -> Sink {
        let ok = std::process::Command::new(python())
            .args(["-c", "import aiosmtpd"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "{} cannot import aiosmtpd: run `make test` (scripts/tools.sh installs it)",
            python().display()
        );
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("sink.log")).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut cmd = tokio::process::Command::new(python());
        cmd.arg(script)
            .args(["--port", &port.to_string()])
            .arg("--dir")
            .arg(dir.path().join("mail"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        if let Some(r) = reply {
            cmd.args(["--reply", r]);
        }
        let mut child = cmd.spawn().expect("spawn smtp_sink.py");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            let exited = child.try_wait().unwrap();
            if exited.is_some() || tokio::time::Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.path().join("sink.log")).unwrap_or_default();
                panic!("smtp_sink.py did not start on port {port} ({exited:?}):\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Sink { _child: child, dir }
    }

    /// Messages received so far, in arrival order.
    fn messages(&self) -> Vec<Value> {
        let Ok(rd) = std::fs::read_dir(self.dir.path().join("mail")) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

fn mail_config(port: u16) -> MailConfig {
    MailConfig {
        smtp_host: "127.0.0.1".into(),
        smtp_port: port,
        tls: SmtpTls::None,
        from: "Контакт-центр <contactd@vodokanal.example>".into(),
        ..MailConfig::default()
    }
}

// ---- the seeded campaign -------------------------------------------------------------

struct A {
    cause: Option<&'static str>,
    q850: Option<i32>,
    answered: bool,
    listened_ms: Option<i32>,
    full: Option<bool>,
    key: Option<&'static str>,
    outcome: Option<&'static str>,
}

#[rustfmt::skip]
const fn unanswered(cause: &'static str, q850: i32, outcome: &'static str) -> A {
    A { cause: Some(cause), q850: Some(q850), answered: false, listened_ms: None, full: None, key: None, outcome: Some(outcome) }
}

#[rustfmt::skip]
const fn heard(ms: i32, full: bool, key: Option<&'static str>) -> A {
    let outcome = if full { "listened_full" } else { "listened_partial" };
    A { cause: Some("NORMAL_CLEARING"), q850: Some(16), answered: true, listened_ms: Some(ms), full: Some(full), key, outcome: Some(outcome) }
}

struct T {
    phone: &'static str,
    name: &'static str,
    account: &'static str,
    status: &'static str,
    outcome: Option<&'static str>,
    attempts: Vec<A>,
    /// Expected CSV: outcome, listened seconds, listened fully, confirm key.
    expect: [&'static str; 4],
}

// One subscriber per line: phone, name, account, status, stored outcome, attempts, and
// the expected CSV outcome, listened seconds, listened fully, confirm key.
#[rustfmt::skip]
fn targets() -> Vec<T> {
    let t = |phone, name, account, status, outcome, attempts, expect| T {
        phone, name, account, status, outcome, attempts, expect,
    };
    let busy = || unanswered("USER_BUSY", 17, "busy");
    let still = A { cause: None, q850: None, answered: false, listened_ms: None, full: None, key: None, outcome: None };
    // contactd was down while this call played: answered, never ended, result unknown
    let lost = A { answered: true, ..still };
    vec![
        t("+79161110001", "Иванов, Иван Петрович", "LS-0001", "done", Some("listened_full"),
          vec![heard(42_000, true, Some("1"))], ["listened_full", "42.0", "yes", "1"]),
        t("+79161110002", "Петрова \"А.С.\"", "LS-0002", "done", Some("listened_full"),
          vec![heard(41_560, true, Some("1"))], ["listened_full", "41.5", "yes", "1"]),
        t("+79161110003", "Сидоров", "LS-0003", "done", Some("listened_partial"),
          vec![heard(8_200, false, None)], ["listened_partial", "8.2", "no", ""]),
        // busy first, then heard it all but pressed the wrong key: reached, not confirmed
        t("+79161110004", "Кузнецова", "LS-0004", "done", Some("listened_full"),
          vec![busy(), heard(42_000, true, Some("2"))], ["listened_full", "42.0", "yes", "2"]),
        t("+79161110005", "Смирнов", "LS-0005", "done", Some("busy"),
          vec![busy(), busy(), busy()], ["busy", "", "no", ""]),
        t("+79161110006", "Попов", "LS-0006", "done", Some("no_answer"),
          vec![unanswered("NO_ANSWER", 19, "no_answer"), unanswered("NO_ANSWER", 19, "no_answer")],
          ["no_answer", "", "no", ""]),
        t("+79161110007", "Васильев", "LS-0007", "done", Some("invalid"),
          vec![unanswered("UNALLOCATED_NUMBER", 1, "invalid")], ["invalid", "", "no", ""]),
        t("+79161110008", "Соколов", "LS-0008", "done", Some("dnc"), vec![], ["dnc", "", "no", ""]),
        t("+79161110009", "Михайлов", "LS-0009", "done", Some("unknown"), vec![lost],
          ["unknown", "", "no", ""]),
        // waiting for a retry: its last outcome is busy, but it is not done
        t("+79161110010", "Новиков", "LS-0010", "pending", Some("busy"), vec![busy()],
          ["pending", "", "no", ""]),
        t("+79161110011", "Федоров", "LS-0011", "dialing", None, vec![still],
          ["dialing", "", "no", ""]),
        t("+79161110012", "Морозов", "LS-0012", "done", Some("failed"),
          vec![unanswered("CALL_REJECTED", 21, "failed")], ["failed", "", "no", ""]),
        t("+79161110013", "Волков", "LS-0013", "done", Some("cancelled"), vec![],
          ["cancelled", "", "no", ""]),
    ]
}

const EXPECTED: ReportCounts = ReportCounts {
    total: 13,
    reached: 4,
    listened_full: 3,
    listened_partial: 1,
    confirmed: 2,
    busy: 1,
    no_answer: 1,
    failed: 1,
    invalid: 1,
    dnc: 1,
    unknown: 1,
    cancelled: 1,
    pending: 2,
    rejected_at_import: 2,
    attempts: 15,
};

const NAME: &str = "Отключение воды, ул. Ленина";

fn attempt_time(target: usize, attempt: usize) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 2, 6, 0, 0).unwrap()
        + chrono::Duration::minutes(target as i64)
        + chrono::Duration::minutes(20 * attempt as i64)
}

struct Seeded {
    env: TestEnv,
    pool: Pool,
    /// The campaign of `targets()`.
    id: i64,
    /// Another campaign on the same list (its rows must not leak into `id`'s report).
    other: i64,
}

const SEED_LISTS: &str = "
    INSERT INTO contact_lists (number, name, source_file) VALUES
      (7, 'Ленина 1-15', 'lenina.csv'), (8, 'Other', 'other.csv');
    INSERT INTO list_rejects (list_number, line_no, kind, raw, reason, duplicate_of) VALUES
      (7, 20, 'rejected', '8916', 'too short', NULL), (7, 21, 'rejected', 'n/a', 'not a number', NULL),
      (7, 22, 'duplicate', '+79161110001', 'duplicate', 1), (8, 2, 'rejected', 'x', 'not a number', NULL);";

const NEW_CAMPAIGN: &str = "
    INSERT INTO campaigns (name, list_number, audio, confirm, trunk, lines, state, created_by,
                           created_at, finished_at)
    VALUES ($1, 7, '/var/lib/contactd/recordings/campaigns/c.wav', true, 'e1', 5, $2, '2001',
            '2025-06-02 09:00:00+03', $3) RETURNING id";

const NEW_TARGET: &str = "
    INSERT INTO campaign_targets (campaign_id, contact_id, phone, status, outcome, attempts)
    VALUES ($1, $2, $3, $4, $5, $6)";

const NEW_ATTEMPT: &str = "
    INSERT INTO attempts (uuid, campaign_id, contact_id, attempt_no, number_dialed, created_at,
        answered_at, playback_started_at, ended_at, hangup_cause, q850, listened_ms,
        listened_full, confirm_key, outcome)
    VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $6,
            CASE WHEN $7::text IS NULL THEN NULL ELSE $5::timestamptz + interval '1 minute' END,
            $7, $8, $9, $10, $11, $12)";

type Param<'a> = &'a (dyn ToSql + Sync);

#[rustfmt::skip]
async fn seed() -> Seeded {
    let env = TestEnv::new().await;
    let pool = contactd::store::postgres::pool(env.db_url(), 4).unwrap();
    contactd::store::migrate::run(&pool).await.unwrap();
    let db = env.pg().await;
    db.batch_execute(SEED_LISTS).await.unwrap();
    let finished = Some(Utc.with_ymd_and_hms(2025, 6, 2, 7, 2, 13).unwrap());
    let id: i64 = db.query_one(NEW_CAMPAIGN, &[&NAME, &"finished", &finished]).await.unwrap().get(0);
    let none: Option<DateTime<Utc>> = None;
    let other: i64 = db.query_one(NEW_CAMPAIGN, &[&"Other", &"running", &none]).await.unwrap().get(0);
    for (i, t) in targets().iter().enumerate() {
        let contact: i64 = db.query_one(
            "INSERT INTO contacts (list_number, line_no, phone_raw, phone, name, account, tz)
             VALUES (7, $1, $2, $2, $3, $4, 'Europe/Moscow') RETURNING id",
            &[&(i as i32 + 2), &t.phone, &t.name, &t.account],
        ).await.unwrap().get(0);
        let tries = t.attempts.len() as i32;
        let target: [Param; 6] = [&id, &contact, &t.phone, &t.status, &t.outcome, &tries];
        db.execute(NEW_TARGET, &target).await.unwrap();
        for (n, a) in t.attempts.iter().enumerate() {
            let at = attempt_time(i, n);
            let answered = a.answered.then(|| at + chrono::Duration::seconds(5));
            let no = n as i32 + 1;
            let row: [Param; 12] = [&id, &contact, &no, &t.phone, &at, &answered, &a.cause,
                &a.q850, &a.listened_ms, &a.full, &a.key, &a.outcome];
            db.execute(NEW_ATTEMPT, &row).await.unwrap();
        }
        if i == 0 {
            // the other campaign reached the first subscriber, who confirmed
            let a = heard(40_000, true, Some("1"));
            let (at, one) = (Utc::now(), 1i32);
            let target: [Param; 6] = [&other, &contact, &t.phone, &"done", &a.outcome, &one];
            db.execute(NEW_TARGET, &target).await.unwrap();
            let row: [Param; 12] = [&other, &contact, &one, &t.phone, &at, &Some(at), &a.cause,
                &a.q850, &a.listened_ms, &a.full, &a.key, &a.outcome];
            db.execute(NEW_ATTEMPT, &row).await.unwrap();
        }
    }
    Seeded { env, pool, id, other }
}

/// The CSV the report must contain, from the seed (not from the code under test).
fn expected_rows() -> Vec<Vec<String>> {
    targets()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let last = t.attempts.last();
            vec![
                t.phone.to_string(),
                t.name.to_string(),
                t.account.to_string(),
                t.expect[0].to_string(),
                t.attempts.len().to_string(),
                last.and_then(|a| a.cause).unwrap_or("").to_string(),
                last.and_then(|a| a.q850)
                    .map(|q| q.to_string())
                    .unwrap_or_default(),
                t.expect[1].to_string(),
                t.expect[2].to_string(),
                t.expect[3].to_string(),
                last.map(|_| {
                    attempt_time(i, t.attempts.len() - 1)
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                })
                .unwrap_or_default(),
            ]
        })
        .collect()
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

/// The labelled lines an auditor reads, for the seeded campaign.
#[rustfmt::skip]
const TEXT_LINES: [&str; 16] = [
    "Subscribers in the campaign: 13", "Reached (answered and heard the message): 4",
    "Listened to the end: 3", "Hung up before the end: 1", "Confirmed with key 1: 2", "Busy: 1",
    "No answer: 1", "Failed (network or line error): 1", "Invalid number: 1",
    "On the do-not-call list (not dialed): 1", "Result unknown: 1", "Cancelled before dialing: 1",
    "Still pending: 2", "Rejected at import (invalid numbers, never dialed): 2",
    "Calls made (all attempts): 15", "List: 7 'Ленина 1-15'",
];

fn assert_text(text: &str) {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    for want in TEXT_LINES {
        assert!(lines.contains(&want), "missing line {want:?} in:\n{text}");
    }
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
async fn report_counts_text_and_csv_match_the_database() {
    let s = seed().await;
    let r = report::campaign_report(&s.pool, s.id, "1").await.unwrap();
    assert_eq!(r.counts, EXPECTED);
    assert_eq!(r.campaign.name, NAME);
    assert_eq!(r.campaign.list_name.as_deref(), Some("Ленина 1-15"));
    assert_eq!(
        (r.campaign.created_by.as_str(), r.campaign.lines),
        ("2001", 5)
    );
    let subject = format!("Campaign {} '{NAME}' finished: 4 of 13 reached", s.id);
    assert_eq!(r.subject(), subject);
    let text = r.render_text();
    assert_text(&text);
    assert!(text.contains("Finished at: 2025-06-02T07:02:13Z"), "{text}");

    let (header, rows) = parse_csv(r.render_csv());
    assert_eq!(header, CSV_HEADER);
    assert_eq!(rows, expected_rows());

    // Another key counts other confirmations; the other campaign stays apart.
    let r2 = report::campaign_report(&s.pool, s.id, "2").await.unwrap();
    assert_eq!(r2.counts.confirmed, 1);
    let other = report::campaign_report(&s.pool, s.other, "1")
        .await
        .unwrap();
    let c = other.counts;
    assert_eq!((c.total, c.confirmed, c.attempts), (1, 1, 1));

    let printed = report::print_report(&s.pool, s.id, "1").await.unwrap();
    assert_text(&printed);
    assert!(printed.starts_with(&text));
    let csv_at = printed
        .find("phone,name,account")
        .expect("CSV in the printout");
    assert_eq!(&printed[csv_at..], r.render_csv());

    let missing = report::campaign_report(&s.pool, 999_999, "1").await;
    assert!(matches!(
        missing,
        Err(report::ReportError::NotFound(999_999))
    ));
}

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
    let subject = format!("Campaign {} '{NAME}' finished: 4 of 13 reached", s.id);
    assert_eq!(m["subject"].as_str().unwrap(), subject);
    assert_text(m["text"].as_str().expect("a text/plain body"));
    let atts = m["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 1, "{atts:#?}");
    assert_eq!(atts[0]["filename"], format!("campaign-{}.csv", s.id));
    assert_eq!(atts[0]["content_type"], "text/csv");
    let (header, rows) = parse_csv(atts[0]["content"].as_str().unwrap());
    assert_eq!(header, CSV_HEADER);
    assert_eq!(rows, expected_rows());

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
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("run_outbox exits promptly on shutdown")
        .unwrap();
    assert_eq!(sink.messages().len(), 1);
    assert!(s.outbox(s.id).await.sent);
}
