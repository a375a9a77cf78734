//! The auditors' digest end to end on a hand-made day (Monday 30 November 2026, Moscow):
//! `contactd digest --date` prints the day's figures (KPIs per queue and operator, the
//! campaigns that dialed, readings by channel, the staffing forecast); the mail sent through the outbox to a real
//! SMTP server has the text, the HTML with its charts inline (valid, non-blank PNGs) and
//! the CSVs; two instances queueing and sending it make one e-mail, and the campaign
//! report's own uniqueness still holds; the schedule queues the digest when the configured
//! time comes (a clock started just before it), and a daemon started late catches up.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use common::smtp::{attachment, free_port, unhex, Sink};
use common::TestEnv;
use contactd::clock::Clock;
use contactd::config::Config;
use contactd::mail::digest::gather::GatherOptions;
use contactd::mail::digest::schedule::{self, enqueue_due};
use contactd::mail::digest::{Period, KIND_DAILY, KIND_WEEKLY};
use contactd::mail::{self, Mailer};
use deadpool_postgres::Pool;

const ZONE: chrono_tz::Tz = chrono_tz::Europe::Moscow;

/// A Moscow wall-clock time on 30 November 2026 (`d = -1`: the 29th).
fn at(d: i64, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    ZONE.with_ymd_and_hms(2026, 11, 30, h, m, s)
        .unwrap()
        .with_timezone(&Utc)
        + chrono::Duration::days(d)
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
}

/// Campaign 100 dialed on the day (one subscriber heard it and pressed 1, one was busy, one
/// waits); campaign 101 dialed only the day before. Readings: two zones by IVR and one by
/// web that day, one by IVR the day before.
const SEED: &str = "
    INSERT INTO operators (id, login, name, endpoint) VALUES
      (1, 'anna', 'Анна Орлова', 'user/1001'), (2, 'boris', 'Boris Belov', 'user/1002');
    INSERT INTO contact_lists (number, name, source_file) VALUES (3, 'Школьная', 's.csv');
    INSERT INTO contacts (id, list_number, line_no, phone_raw, phone, name, account, tz) VALUES
      (1, 3, 2, '89031230001', '+79031230001', 'A', 'LS-1', 'Europe/Moscow'),
      (2, 3, 3, '89031230002', '+79031230002', 'B', 'LS-2', 'Europe/Moscow'),
      (3, 3, 4, '89031230003', '+79031230003', 'C', 'LS-3', 'Europe/Moscow');
    INSERT INTO campaigns (id, name, list_number, audio, confirm, trunk, lines, state,
                           created_by) VALUES
      (100, 'Water outage', 3, '/tmp/m.wav', true, 'e1', 5, 'running', '2001'),
      (101, 'Yesterday only', 3, '/tmp/m.wav', false, 'e1', 1, 'running', 'cli');
    INSERT INTO campaign_targets (campaign_id, contact_id, phone, status, outcome, attempts) VALUES
      (100, 1, '+79031230001', 'done', 'listened_full', 1),
      (100, 2, '+79031230002', 'done', 'busy', 1),
      (100, 3, '+79031230003', 'pending', NULL, 0);
    INSERT INTO attempts (uuid, campaign_id, contact_id, attempt_no, number_dialed, created_at,
        answered_at, ended_at, hangup_cause, listened_full, confirm_key, outcome) VALUES
      (gen_random_uuid(), 100, 1, 1, '89031230001', '2026-11-30T07:00:00Z',
       '2026-11-30T07:00:05Z', '2026-11-30T07:01:00Z', 'NORMAL_CLEARING', true, '1',
       'listened_full'),
      (gen_random_uuid(), 100, 2, 1, '89031230002', '2026-11-30T07:01:00Z', NULL,
       '2026-11-30T07:01:30Z', 'USER_BUSY', NULL, NULL, 'busy'),
      (gen_random_uuid(), 101, 1, 1, '89031230001', '2026-11-29T07:00:00Z', NULL,
       '2026-11-29T07:01:30Z', 'USER_BUSY', NULL, NULL, 'busy');
    INSERT INTO accounts (number, holder) VALUES ('1001', 'X'), ('1002', 'Y');
    INSERT INTO meters (id, account, serial, zones, digits) VALUES
      (1, '1001', 'M1', 2, 6), (2, '1002', 'M2', 1, 6);
    INSERT INTO meter_readings (meter, zone, value, consumption, reading_date, status, source,
                                submitted_at) VALUES
      (1, 1, 1200, 100, '2026-11-30', 'pending', 'ivr', '2026-11-30T08:00:00Z'),
      (1, 2, 800, 50, '2026-11-30', 'pending', 'ivr', '2026-11-30T08:00:00Z'),
      (2, 1, 500, 20, '2026-11-30', 'pending', 'web', '2026-11-30T12:00:00Z'),
      (2, 1, 480, 20, '2026-11-29', 'pending', 'ivr', '2026-11-29T12:00:00Z');";

/// After the calls: anna's call of the day picked for QA and scored 80.
const QA_SEED: &str = "
    INSERT INTO qa_samples (call_uuid, day, queue, operator, reasons)
      SELECT call_uuid, '2026-11-30', queue, operator, ARRAY['percent'] FROM acd_calls
       WHERE operator = 1 AND entered_at >= '2026-11-29T21:00:00Z'
         AND entered_at < '2026-11-30T21:00:00Z';
    INSERT INTO qa_reviews (call_uuid, reviewer, score, reviewed_at)
      SELECT call_uuid, 'petrova', 80, '2026-11-30T15:00:00Z' FROM qa_samples;";

/// (queue, entered, waited, answered by, talk, wrap-up, abandoned after)
type Call = (
    &'static str,
    DateTime<Utc>,
    f64,
    Option<i64>,
    f64,
    f64,
    Option<f64>,
);

async fn seed(pg: &tokio_postgres::Client) {
    pg.batch_execute(SEED).await.unwrap();
    // general: 4 offered, 2 answered (one within 20 s), 2 abandoned of which one within
    // 5 s: service level 1 / 3; meter (target 30 s): 1 offered, answered in 25 s. And one
    // call the evening before, which is not the day's.
    let calls: [Call; 6] = [
        ("general", at(0, 9, 1, 0), 10.0, Some(1), 120.0, 30.0, None),
        ("general", at(0, 9, 5, 0), 25.0, Some(2), 200.0, 30.0, None),
        ("general", at(0, 9, 10, 0), 3.0, None, 0.0, 0.0, Some(3.0)),
        ("general", at(0, 9, 20, 0), 40.0, None, 0.0, 0.0, Some(40.0)),
        ("meter", at(0, 9, 40, 0), 25.0, Some(2), 100.0, 20.0, None),
        ("general", at(-1, 23, 0, 0), 5.0, Some(1), 60.0, 0.0, None),
    ];
    for (queue, entered, waited, by, talk, wrap, abandoned) in calls {
        let answered_at =
            by.map(|_| entered + chrono::Duration::milliseconds((waited * 1000.0) as i64));
        let outcome = if by.is_some() {
            "answered"
        } else {
            "abandoned"
        };
        let (talk, wrap) = if by.is_some() {
            (Some(talk), Some(wrap))
        } else {
            (None, None)
        };
        pg.execute(
            "INSERT INTO acd_calls (call_uuid, node, queue, entered_at, answered_at, operator,
                 waited_s, talk_s, wrap_up_s, abandoned_after_s, outcome, offers)
             VALUES ($1, 'fs1', $2, $3, $4, $5, $6, $7, $8, $9, $10, 1)",
            &[
                &uuid::Uuid::new_v4(),
                &queue,
                &entered,
                &answered_at,
                &by,
                &waited,
                &talk,
                &wrap,
                &abandoned,
                &outcome,
            ],
        )
        .await
        .unwrap();
    }
    // anna: 09:00-10:00 at work with a 15-minute break: 150 s busy of 2,700 s available
    let periods = [
        ("ready", at(0, 9, 0, 0), at(0, 9, 1, 10)),
        ("talking", at(0, 9, 1, 10), at(0, 9, 3, 10)),
        ("wrap_up", at(0, 9, 3, 10), at(0, 9, 3, 40)),
        ("ready", at(0, 9, 3, 40), at(0, 9, 30, 0)),
        ("break", at(0, 9, 30, 0), at(0, 9, 45, 0)),
        ("ready", at(0, 9, 45, 0), at(0, 10, 0, 0)),
        ("logged_out", at(0, 10, 0, 0), at(0, 20, 0, 0)),
    ];
    for (state, since, until) in periods {
        let reason = if state == "break" { "lunch" } else { "" };
        pg.execute(
            "INSERT INTO operator_states (operator, state, reason, since, until)
             VALUES (1, $1, $2, $3, $4)",
            &[&state, &reason, &since, &until],
        )
        .await
        .unwrap();
    }
    pg.batch_execute(QA_SEED).await.unwrap();
}

struct Setup {
    env: TestEnv,
    pool: Pool,
    config: Config,
    toml: String,
}

/// A migrated, seeded database and a config mailing to `smtp_port`, in English and Moscow
/// time, with `extra` appended to `[mail]`.
async fn setup(smtp_port: u16, extra: &str) -> Setup {
    let env = TestEnv::new().await;
    let pool = contactd::store::postgres::pool(env.db_url(), 4).unwrap();
    contactd::store::migrate::run(&pool).await.unwrap();
    seed(&env.pg().await).await;
    let mut toml = env.config_toml("127.0.0.1:8021".parse().unwrap(), "ClueCon", &[]);
    toml.push_str(&format!(
        "[mail]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {smtp_port}\nfrom = \"contactd <contactd@vodokanal.example>\"\n\
         auditors = [\"audit@vodokanal.example\"]\nreport_time_zone = \"Europe/Moscow\"\n{extra}\n\
         [acd.queue.general]\ngroup = \"general\"\n[acd.queue.meter]\ngroup = \"meter\"\nservice_level_seconds = 30\n"
    ));
    let config = Config::from_toml(&toml).unwrap();
    Setup {
        env,
        pool,
        config,
        toml,
    }
}

impl Setup {
    fn config_file(&self, dir: &tempfile::TempDir) -> std::path::PathBuf {
        let path = dir.path().join("contactd.toml");
        std::fs::write(&path, &self.toml).unwrap();
        path
    }

    async fn outbox_rows(&self, kind: &str) -> Vec<NaiveDate> {
        self.env
            .pg()
            .await
            .query(
                "SELECT period FROM outbox WHERE kind = $1 ORDER BY period",
                &[&kind],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
}

#[tokio::test]
async fn the_cli_prints_the_days_figures() {
    let s = setup(25, "").await;
    let dir = tempfile::tempdir().unwrap();
    let config = s.config_file(&dir);
    let out = common::contactd_ok(&["digest", "--date", "2026-11-30"], &config).await;
    let text = String::from_utf8(out.stdout).unwrap();
    println!("{text}");
    let line = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line {start:?} in\n{text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        text.starts_with("Daily digest: 2026-11-30 (Europe/Moscow)"),
        "{text}"
    );
    // offered, answered, in target, abandoned, ≤5 s, transferred, SL, abandon rate, ASA, AHT
    assert_eq!(
        line("general "),
        "general 4 2 1 (20 s) 2 1 0 33.3 % 33.3 % 17.5 s 190.0 s"
    );
    assert_eq!(
        line("meter "),
        "meter 1 1 1 (30 s) 0 0 0 100.0 % 0.0 % 25.0 s 120.0 s"
    );
    assert_eq!(
        line("All queues"),
        "All queues 5 3 2 2 1 0 50.0 % 25.0 % 20.0 s 166.7 s"
    );
    // anna: 1 answered, AHT 150 s, an hour logged in with 15 min break, occupancy 150/2700,
    // her one call picked for QA and reviewed (80)
    assert_eq!(
        line("1  Анна Орлова"),
        "1 Анна Орлова (anna) 1 150.0 s 1 h 00 min 0 h 15 min 5.6 % 1.0 100.0 % 1/1, 80.0"
    );
    assert!(text.contains("(boris)"), "{text}");
    // only the campaign that dialed that day, with the day's calls and where it stands
    assert_eq!(
        line("100 'Water outage'"),
        "100 'Water outage' running 2 1 3 1 (33 %) 1 1 0 1"
    );
    assert!(!text.contains("Yesterday only"), "{text}");
    assert_eq!(line("IVR (phone)"), "IVR (phone) 2 1 1");
    assert_eq!(line("Web"), "Web 1 1 1");
    assert_eq!(line("Messenger"), "Messenger 0 0 0");
    // the forecast from the same weekday of the 4 weeks before, history starting on the
    // 29th: Monday 7 December expects the 30th's calls. general: 4 calls in 09:00-09:30
    // (8/h × 190 s, 0.42 Erlang) need 2 operators for 80 % in 20 s, 3 with anna's 25 %
    // break share; meter: 1 call (2/h × 120 s) needs 1 for 80 % in 30 s, 2 with breaks.
    assert_eq!(
        line("general  2026-12-07"),
        "general 2026-12-07 4 2 3 09:00 25.0 %"
    );
    assert_eq!(
        line("meter    2026-12-07"),
        "meter 2026-12-07 1 1 2 09:30 25.0 %"
    );
    assert_eq!(
        line("general  2026-12-02"),
        "general 2026-12-02 0 0 0 – 25.0 %"
    );

    // a bad date is a usage error
    let bad = tokio::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
        .args(["digest", "--date", "30.11.2026", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--date \"30.11.2026\""));
}

fn decode_png(data: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut r = png::Decoder::new(std::io::Cursor::new(data))
        .read_info()
        .unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[tokio::test]
async fn the_mail_has_text_html_inline_charts_and_csvs_and_is_sent_once() {
    let port = free_port();
    let sink = Sink::start(port, None).await;
    let s = setup(port, "report_language = \"ru\"").await;
    let opts = GatherOptions::from_config(&s.config).unwrap();
    let to = s.config.mail.auditors.clone();

    // two instances queue the same digest at once: one row
    let (a, b) = tokio::join!(
        enqueue_due(&s.pool, &opts, &to, Period::Daily, day(), Utc::now()),
        enqueue_due(&s.pool, &opts, &to, Period::Daily, day(), Utc::now()),
    );
    assert!(a.unwrap() ^ b.unwrap(), "exactly one of them queued it");
    assert!(
        !enqueue_due(&s.pool, &opts, &to, Period::Daily, day(), Utc::now())
            .await
            .unwrap()
    );
    assert_eq!(s.outbox_rows(KIND_DAILY).await, vec![day()]);
    // the weekly digest of the same first day is another row
    assert!(
        enqueue_due(&s.pool, &opts, &to, Period::Weekly, day(), Utc::now())
            .await
            .unwrap()
    );
    // the campaign report's uniqueness still holds beside them
    let report = contactd::store::report::campaign_report(&s.pool, 100, "1")
        .await
        .unwrap();
    assert!(mail::enqueue_report(&s.pool, 100, &to, &report)
        .await
        .unwrap());
    assert!(!mail::enqueue_report(&s.pool, 100, &to, &report)
        .await
        .unwrap());

    // two senders at once: every row sent once
    let mailer = Mailer::new(&s.config.mail).unwrap();
    let (x, y) = tokio::join!(
        mail::send_due_once(&s.pool, &mailer, Duration::from_secs(60)),
        mail::send_due_once(&s.pool, &mailer, Duration::from_secs(60)),
    );
    assert_eq!(x.unwrap() + y.unwrap(), 3);
    assert_eq!(
        mail::send_due_once(&s.pool, &mailer, Duration::from_secs(60))
            .await
            .unwrap(),
        0
    );
    let got = common::eventually(Duration::from_secs(10), || async {
        sink.messages().len() >= 3
    })
    .await;
    assert!(got, "three messages expected");
    let messages = sink.messages();
    assert_eq!(messages.len(), 3, "each row once");
    let daily = messages
        .iter()
        .find(|m| {
            m["subject"]
                .as_str()
                .unwrap()
                .starts_with("Ежедневная сводка 30.11.2026")
        })
        .expect("the daily digest");
    assert_eq!(daily["rcpt_tos"][0], "audit@vodokanal.example");
    assert!(
        daily["subject"].as_str().unwrap().contains("5 звонков"),
        "{}",
        daily["subject"]
    );
    let text = daily["text"].as_str().unwrap();
    assert!(
        text.contains("33,3 %") && text.contains("Анна Орлова (anna)"),
        "{text}"
    );
    let html = daily["html"].as_str().unwrap();
    for cid in [
        "calls@contactd",
        "service-level@contactd",
        "occupancy@contactd",
    ] {
        assert!(
            html.contains(&format!("src=\"cid:{cid}\"")),
            "{cid} not in {html}"
        );
    }
    let raw = daily["raw"].as_str().unwrap();
    assert!(
        raw.contains("multipart/related"),
        "charts not related to the HTML"
    );
    for (name, cid) in [
        ("calls.png", "calls@contactd"),
        ("service-level.png", "service-level@contactd"),
        ("occupancy.png", "occupancy@contactd"),
    ] {
        assert!(raw.contains(&format!("Content-ID: <{cid}>")), "{cid}");
        let a = attachment(daily, name);
        assert_eq!(a["content_type"], "image/png");
        let (w, h, px) = decode_png(&unhex(a["content_hex"].as_str().unwrap()));
        assert!(w > 100 && h > 40, "{name}: {w}x{h}");
        let colours: std::collections::BTreeSet<&[u8]> = px.chunks(3).collect();
        assert!(
            colours.len() >= 3,
            "{name} is blank: {} colours",
            colours.len()
        );
    }
    let queues = attachment(daily, "kpi-queues-2026-11-30.csv");
    let csv = queues["content"].as_str().unwrap();
    assert!(
        csv.contains("general;20;4;2;1;2;1;0;33,3;33,3;17,5;190,0"),
        "{csv}"
    );
    let readings = attachment(daily, "readings-2026-11-30.csv")["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        readings.contains("ivr;2;1;1") && readings.contains("web;1;1;1"),
        "{readings}"
    );
    attachment(daily, "kpi-operators-2026-11-30.csv");
    attachment(daily, "kpi-intervals-2026-11-30.csv");
    attachment(daily, "campaigns-2026-11-30.csv");
    let forecast = attachment(daily, "forecast-2026-11-30.csv")["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        forecast.contains("general;07.12.2026 09:00:00;4,00;190,0;2;3;"),
        "{forecast}"
    );
    let weekly = messages
        .iter()
        .find(|m| {
            m["subject"]
                .as_str()
                .unwrap()
                .starts_with("Еженедельная сводка")
        })
        .expect("the weekly digest");
    attachment(weekly, "kpi-queues-week-2026-11-30.csv");

    // queued from the command line once more: already there, nothing new
    let dir = tempfile::tempdir().unwrap();
    let out = common::contactd_ok(
        &["digest", "--date", "2026-11-30", "--send"],
        &s.config_file(&dir),
    )
    .await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("already in the outbox"));
    assert_eq!(s.outbox_rows(KIND_DAILY).await, vec![day()]);
}

/// Runs the schedule task on a clock that starts at `start` and moves in real time.
fn schedule_from(s: &Setup, start: DateTime<Utc>) -> tokio::sync::watch::Sender<bool> {
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(schedule::run(
        s.pool.clone(),
        Arc::new(s.config.clone()),
        Clock::following_tokio(start),
        stop_rx,
    ));
    stop
}

#[tokio::test]
async fn the_schedule_queues_the_digest_when_its_time_comes() {
    let s = setup(25, "digest_at = \"07:00\"").await;
    // Tuesday 1 December, 06:59:58.5 in Moscow: nothing yet
    let stop = schedule_from(&s, at(1, 6, 59, 58) + chrono::Duration::milliseconds(500));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(s.outbox_rows(KIND_DAILY).await.is_empty());
    // 07:00: Monday's digest
    let queued = common::eventually(Duration::from_secs(10), || async {
        !s.outbox_rows(KIND_DAILY).await.is_empty()
    })
    .await;
    assert!(queued, "not queued at 07:00");
    assert_eq!(s.outbox_rows(KIND_DAILY).await, vec![day()]);
    assert!(s.outbox_rows(KIND_WEEKLY).await.is_empty(), "not a Monday");
    let _ = stop.send(true);
}

#[tokio::test]
async fn a_daemon_started_late_catches_up_yesterday_only() {
    let s = setup(25, "digest_at = \"07:00\"\ndigest_weekly = true").await;
    // Monday 7 December, 15:00 Moscow: Sunday's digest and the week of 30 November are due
    let stop = schedule_from(&s, at(7, 15, 0, 0));
    let queued = common::eventually(Duration::from_secs(10), || async {
        !s.outbox_rows(KIND_WEEKLY).await.is_empty() && !s.outbox_rows(KIND_DAILY).await.is_empty()
    })
    .await;
    assert!(queued, "nothing caught up");
    let _ = stop.send(true);
    assert_eq!(
        s.outbox_rows(KIND_DAILY).await,
        vec![NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()],
        "only yesterday's daily digest"
    );
    assert_eq!(s.outbox_rows(KIND_WEEKLY).await, vec![day()]);
    // a second instance doing the same adds nothing
    let stop = schedule_from(&s, at(7, 15, 0, 0));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop.send(true);
    let n: i64 = s
        .env
        .pg()
        .await
        .query_one("SELECT count(*) FROM outbox", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
}
