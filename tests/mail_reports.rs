//! Campaign reports against a seeded PostgreSQL database: every count, the auditor's text,
//! the per-subscriber CSV and `contactd campaigns report` output, from a realistic mix of
//! outcomes (and a second campaign on the same list that must not leak in).

use crate::common;

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use common::TestEnv;
use contactd::core::report::{Language, ReportCounts, ReportLocale, CSV_HEADER};
use contactd::store::report;
use deadpool_postgres::Pool;
use tokio_postgres::types::ToSql;

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
    machine: 0,
    announcement: 0,
    fax: 0,
    silence: 0,
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
    /// Owns the scratch database: dropped with it.
    _env: TestEnv,
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
    Seeded { _env: env, pool, id, other }
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
    let en = ReportLocale::default();
    assert_eq!(r.subject(&en), subject);
    let text = r.render_text(&en);
    assert_text(&text);
    assert!(
        text.contains("Finished at: 2025-06-02 07:02 (UTC)"),
        "{text}"
    );
    let moscow = ReportLocale::new(Language::En, chrono_tz::Europe::Moscow);
    let local = r.render_text(&moscow);
    assert_text(&local);
    assert!(
        local.contains("Finished at: 2025-06-02 10:02 (Europe/Moscow, UTC+3)"),
        "{local}"
    );

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

    let printed = contactd::mail::report::print_report(&s.pool, s.id, "1")
        .await
        .unwrap();
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

// The marketing list of the brief: 200,000 subscribers in one report, streamed into the CSV.
const BIG: &str = "
    INSERT INTO contact_lists (number, name, source_file) VALUES (9, 'Marketing', 'm.csv');
    INSERT INTO contacts (list_number, line_no, phone_raw, phone, name, account, tz)
      SELECT 9, g, g::text, '+7916' || lpad(g::text, 7, '0'), 'Subscriber ' || g, 'LS-' || g,
             'Europe/Moscow'
      FROM generate_series(1, 200000) g;
    INSERT INTO campaigns (id, name, list_number, audio, trunk, lines, state, created_by)
      VALUES (1, 'Big', 9, '/tmp/a.wav', 'e1', 30, 'finished', 'cli');
    INSERT INTO campaign_targets (campaign_id, contact_id, phone, status, outcome, attempts)
      SELECT 1, id, phone, 'done',
             CASE WHEN id % 3 = 0 THEN 'busy' ELSE 'listened_full' END, 1
      FROM contacts;
    INSERT INTO attempts (uuid, campaign_id, contact_id, attempt_no, number_dialed, answered_at,
                          hangup_cause, q850, listened_ms, listened_full, confirm_key, outcome)
      SELECT gen_random_uuid(), 1, id, 1, phone, CASE WHEN id % 3 = 0 THEN NULL ELSE now() END,
             CASE WHEN id % 3 = 0 THEN 'USER_BUSY' ELSE 'NORMAL_CLEARING' END,
             CASE WHEN id % 3 = 0 THEN 17 ELSE 16 END, 30000, id % 3 <> 0,
             CASE WHEN id % 6 = 1 THEN '1' END, 'x'
      FROM contacts;
    ANALYZE;";

#[tokio::test]
async fn a_report_of_200000_subscribers() {
    let env = TestEnv::new().await;
    let pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    contactd::store::migrate::run(&pool).await.unwrap();
    env.pg().await.batch_execute(BIG).await.unwrap();
    let started = std::time::Instant::now();
    let r = report::campaign_report(&pool, 1, "1").await.unwrap();
    let took = started.elapsed();
    let c = r.counts;
    assert_eq!(
        (c.total, c.listened_full, c.busy),
        (200_000, 133_334, 66_666)
    );
    assert_eq!((c.confirmed, c.attempts), (33_334, 200_000));
    assert_eq!(r.render_csv().lines().count(), 200_001);
    assert!(took < Duration::from_secs(60), "report took {took:?}");

    // what the auditors get of it: every row in the CSV for Excel; the workbook of every
    // row (~10 MB) would take the e-mail past common relay limits, so it has the summary
    let ru = ReportLocale::new(Language::Ru, chrono_tz::Europe::Moscow);
    let started = std::time::Instant::now();
    let parts = r
        .render_mail(&ru, contactd::mail::XLSX_ROWS_AT_MOST)
        .unwrap();
    let took = started.elapsed();
    let lines = parts.csv.split(|b| *b == b'\n').count();
    assert_eq!(lines, 200_002, "header, 200,000 rows, the final newline");
    assert!(!parts.xlsx_rows);
    assert!(parts.xlsx.len() < 64 * 1024, "{}", parts.xlsx.len());
    assert!(parts.text.contains("только сводка"), "{}", parts.text);
    assert!(took < Duration::from_secs(120), "rendering took {took:?}");
}
