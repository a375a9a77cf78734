//! The report as an auditor receives it, in the language and time zone of `[mail]`: a
//! Russian-configured report through PostgreSQL, the outbox and a real SMTP server (aiosmtpd)
//! has Russian labels and outcome names, local times with the zone named, an HTML table, a
//! CSV that Excel in a Russian locale opens (BOM, `;`, decimal comma) and an `.xlsx` read back
//! with calamine (sheets, header, typed cells; bold frozen filtered header from the sheet XML).
//! An English-configured one stays English.

use crate::common;

use std::io::Cursor;
use std::time::Duration;

use calamine::{open_workbook_from_rs, Data, DataType, Reader, Xlsx};
use chrono::NaiveDate;
use common::smtp::{attachment, free_port, python, unhex, Sink};
use common::TestEnv;
use contactd::config::{MailConfig, SmtpTls};
use contactd::mail::{self, Mailer};
use contactd::store::report;
use deadpool_postgres::Pool;
use serde_json::Value;

const NAME: &str = "Отключение воды 2 декабря";
const ID: i64 = 200;

// Four subscribers: one heard it all and confirmed, one hung up after 8.2 s (busy first),
// one never answered, one was busy to the end. Started 18:33:37 UTC = 21:33 in Moscow.
const SEED: &str = "
    INSERT INTO contact_lists (number, name, source_file) VALUES (4, 'Садовая', 's.csv');
    INSERT INTO contacts (id, list_number, line_no, phone_raw, phone, name, account, tz) VALUES
      (1, 4, 2, '89031110001', '+79031110001', 'Орлова Анна', 'LS-1', 'Europe/Moscow'),
      (2, 4, 3, '89031110002', '+79031110002', 'Белов', 'LS-2', 'Europe/Moscow'),
      (3, 4, 4, '89031110003', '+79031110003', 'Гусев', 'LS-3', 'Europe/Moscow'),
      (4, 4, 5, '89031110004', '+79031110004', 'Зайцева', 'LS-4', 'Europe/Moscow');
    INSERT INTO campaigns (id, name, list_number, audio, confirm, trunk, lines, state,
                           created_by, created_at, finished_at) VALUES
      (200, 'Отключение воды 2 декабря', 4, '/tmp/m.wav', true, 'e1', 5, 'finished', '2001',
       '2026-12-01T18:33:37Z', '2026-12-01T19:05:10Z');
    INSERT INTO campaign_targets (campaign_id, contact_id, phone, status, outcome, attempts) VALUES
      (200, 1, '+79031110001', 'done', 'listened_full', 1),
      (200, 2, '+79031110002', 'done', 'listened_partial', 2),
      (200, 3, '+79031110003', 'done', 'no_answer', 1),
      (200, 4, '+79031110004', 'done', 'busy', 1);
    INSERT INTO attempts (uuid, campaign_id, contact_id, attempt_no, number_dialed, created_at,
        answered_at, ended_at, hangup_cause, q850, listened_ms, listened_full, confirm_key,
        outcome) VALUES
      (gen_random_uuid(), 200, 1, 1, '89031110001', '2026-12-01T18:40:00Z',
       '2026-12-01T18:40:05Z', '2026-12-01T18:41:00Z', 'NORMAL_CLEARING', 16, 42000, true, '1',
       'listened_full'),
      (gen_random_uuid(), 200, 2, 1, '89031110002', '2026-12-01T18:41:00Z', NULL,
       '2026-12-01T18:41:30Z', 'USER_BUSY', 17, NULL, NULL, NULL, 'busy'),
      (gen_random_uuid(), 200, 2, 2, '89031110002', '2026-12-01T18:55:00Z',
       '2026-12-01T18:55:04Z', '2026-12-01T18:55:20Z', 'NORMAL_CLEARING', 16, 8200, false, NULL,
       'listened_partial'),
      (gen_random_uuid(), 200, 3, 1, '89031110003', '2026-12-01T18:42:00Z', NULL,
       '2026-12-01T18:43:00Z', 'NO_ANSWER', 19, NULL, NULL, NULL, 'no_answer'),
      (gen_random_uuid(), 200, 4, 1, '89031110004', '2026-12-01T18:43:00Z', NULL,
       '2026-12-01T18:43:10Z', 'USER_BUSY', 17, NULL, NULL, NULL, 'busy');";

const OUTCOME_CODES: [&str; 4] = ["listened_full", "listened_partial", "no_answer", "busy"];

fn mail_config(port: u16, language: &str, csv_separator: Option<&str>) -> MailConfig {
    MailConfig {
        smtp_host: "127.0.0.1".into(),
        smtp_port: port,
        tls: SmtpTls::None,
        from: "Контакт-центр <contactd@vodokanal.example>".into(),
        report_language: language.into(),
        report_time_zone: "Europe/Moscow".into(),
        csv_separator: csv_separator.map(String::from),
        ..MailConfig::default()
    }
}

/// Seeds the campaign, queues its report and sends it to a fresh SMTP sink with `cfg`'s
/// locale; returns the message as the server parsed it.
async fn mailed(language: &str, csv_separator: Option<&str>) -> Value {
    let env = TestEnv::new().await;
    let pool: Pool = contactd::store::postgres::pool(env.db_url(), 2).unwrap();
    contactd::store::migrate::run(&pool).await.unwrap();
    env.pg().await.batch_execute(SEED).await.unwrap();
    let port = free_port();
    let sink = Sink::start(port, None).await;
    let mailer = Mailer::new(&mail_config(port, language, csv_separator)).unwrap();
    let r = report::campaign_report(&pool, ID, "1").await.unwrap();
    let to = vec!["audit@vodokanal.example".to_string()];
    assert!(mail::enqueue_report(&pool, ID, &to, &r).await.unwrap());
    let sent = mail::send_due_once(&pool, &mailer, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(sent, 1);
    let mut msgs = sink.messages();
    assert_eq!(msgs.len(), 1);
    msgs.remove(0)
}

/// The workbook attached to `m`, as bytes.
fn xlsx_bytes(m: &Value) -> Vec<u8> {
    let a = attachment(m, ".xlsx");
    assert_eq!(
        a["content_type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    unhex(a["content_hex"].as_str().expect("binary .xlsx content"))
}

/// One part of the `.xlsx` (a zip) as text, read by Python's zipfile.
fn xlsx_part(bytes: &[u8], part: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.xlsx");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new(python())
        .args([
            "-c",
            "import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode())",
        ])
        .arg(&path)
        .arg(part)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn text_cell(d: &Data) -> &str {
    match d {
        Data::String(s) => s,
        other => panic!("not text: {other:?}"),
    }
}

fn local(h: u32, m: u32, s: u32) -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 12, 1)
        .unwrap()
        .and_hms_opt(h, m, s)
        .unwrap()
}

const RU_COLUMNS: [&str; 12] = [
    "Телефон",
    "Абонент",
    "Лицевой счёт",
    "Код результата",
    "Результат",
    "Попыток",
    "Причина отбоя",
    "Код Q.850",
    "Прослушано, с",
    "Прослушано до конца",
    "Нажатая клавиша",
    "Последний звонок (Europe/Moscow)",
];

#[tokio::test]
async fn a_russian_report_reads_as_russian_in_local_time() {
    let m = mailed("ru", None).await;
    assert_eq!(
        m["subject"],
        format!("Кампания {ID} «{NAME}» завершена: дозвонились до 2 из 4")
    );

    // the plain-text part
    let text = m["text"].as_str().expect("a text/plain part");
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    for want in [
        format!("Кампания {ID} «{NAME}»: завершена"),
        "Список: 4 «Садовая»".into(),
        "Начало: 01.12.2026 21:33 (Europe/Moscow, UTC+3)".into(),
        "Окончание: 01.12.2026 22:05 (Europe/Moscow, UTC+3)".into(),
        "Запрашивалось подтверждение: да".into(),
        "Абонентов в кампании: 4".into(),
        "Дозвонились (ответили и слушали сообщение): 2".into(),
        "Прослушали до конца: 1".into(),
        "Положили трубку до конца: 1".into(),
        "Подтвердили клавишей 1: 1".into(),
        "Занято: 1".into(),
        "Не ответили: 1".into(),
        "Сделано звонков (все попытки): 5".into(),
        "Дозвонились, % от числа абонентов: 50".into(),
        format!("Результат по каждому абоненту: campaign-{ID}.csv и campaign-{ID}.xlsx"),
    ] {
        assert!(
            lines.contains(&want.as_str()),
            "missing {want:?} in:\n{text}"
        );
    }
    for english in OUTCOME_CODES.iter().chain(&[
        "Subscribers",
        "Started at",
        "UTC)",
        "T18:33",
        "finished",
        "yes",
    ]) {
        assert!(!text.contains(english), "{english:?} in:\n{text}");
    }

    // the HTML part: the summary as tables
    let html = m["html"].as_str().expect("a text/html part");
    assert!(html.contains("<html lang=\"ru\">"), "{html}");
    let row = |label: &str, value: &str| {
        regex::Regex::new(&format!(
            r"<tr><t[hd][^>]*>{}</t[hd]><td[^>]*>{}</td></tr>",
            regex::escape(label),
            regex::escape(value)
        ))
        .unwrap()
    };
    assert!(row("Абонентов в кампании", "4").is_match(html), "{html}");
    assert!(row("Прослушали до конца", "1").is_match(html), "{html}");
    assert!(
        row("Начало", "01.12.2026 21:33 (Europe/Moscow, UTC+3)").is_match(html),
        "{html}"
    );
    assert!(html.contains("<table"), "{html}");
    assert!(!html.contains("listened_full"), "{html}");
    assert!(m["raw"].as_str().unwrap().contains("multipart/alternative"));

    // the CSV: BOM, `;`, codes and their translation, local times, decimal comma
    let csv_att = attachment(&m, ".csv");
    assert_eq!(csv_att["filename"], format!("campaign-{ID}.csv"));
    assert_eq!(csv_att["content_type"], "text/csv");
    let csv_text = csv_att["content"].as_str().unwrap();
    assert!(csv_text.starts_with('\u{feff}'), "no BOM: {csv_text:?}");
    let header = csv_text[3..].lines().next().unwrap();
    assert_eq!(header, RU_COLUMNS.join(";"));
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(csv_text.as_bytes());
    let rows: Vec<Vec<String>> = rdr
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    #[rustfmt::skip]
    let want: [[&str; 12]; 4] = [
        ["+79031110001", "Орлова Анна", "LS-1", "listened_full", "Прослушал до конца", "1",
         "NORMAL_CLEARING", "16", "42,0", "да", "1", "01.12.2026 21:40:00"],
        ["+79031110002", "Белов", "LS-2", "listened_partial", "Положил трубку до конца", "2",
         "NORMAL_CLEARING", "16", "8,2", "нет", "", "01.12.2026 21:55:00"],
        ["+79031110003", "Гусев", "LS-3", "no_answer", "Не ответил", "1", "NO_ANSWER", "19",
         "", "нет", "", "01.12.2026 21:42:00"],
        ["+79031110004", "Зайцева", "LS-4", "busy", "Занято", "1", "USER_BUSY", "17", "", "нет",
         "", "01.12.2026 21:43:00"],
    ];
    assert_eq!(rows, want);

    // the workbook, read back as a spreadsheet program would
    let bytes = xlsx_bytes(&m);
    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.clone())).unwrap();
    assert_eq!(wb.sheet_names(), ["Сводка", "Абоненты"]);
    let subs = wb.worksheet_range("Абоненты").unwrap();
    assert_eq!(subs.height(), 1 + 4, "header and one row per subscriber");
    let header: Vec<&str> = subs.rows().next().unwrap().iter().map(text_cell).collect();
    assert_eq!(header, RU_COLUMNS);
    let first = subs.rows().nth(1).unwrap();
    assert_eq!(text_cell(&first[0]), "+79031110001", "phone stays text");
    assert_eq!(text_cell(&first[4]), "Прослушал до конца");
    assert_eq!(first[5], Data::Float(1.0), "attempts are a number");
    assert_eq!(first[7], Data::Float(16.0), "Q.850 is a number");
    assert_eq!(first[8], Data::Float(42.0), "seconds are a number");
    assert!(matches!(first[11], Data::DateTime(_)), "{:?}", first[11]);
    assert_eq!(
        first[11].as_datetime(),
        Some(local(21, 40, 0)),
        "local time"
    );
    let second = subs.rows().nth(2).unwrap();
    assert_eq!(second[8], Data::Float(8.2));
    assert_eq!(second[5], Data::Float(2.0));
    assert_eq!(second[10], Data::Empty, "no key pressed");

    let summary = wb.worksheet_range("Сводка").unwrap();
    let value = |label: &str| -> Data {
        summary
            .rows()
            .find(|r| r[0] == Data::String(label.into()))
            .unwrap_or_else(|| panic!("no {label:?} row in the summary"))[1]
            .clone()
    };
    let head: Vec<&str> = summary
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(text_cell)
        .collect();
    assert_eq!(head, ["Показатель", "Значение"]);
    assert_eq!(value("Абонентов в кампании"), Data::Float(4.0));
    assert_eq!(value("Сделано звонков (все попытки)"), Data::Float(5.0));
    assert_eq!(value("Кампания"), Data::Float(ID as f64));
    assert_eq!(value("Название"), Data::String(NAME.into()));
    assert_eq!(value("Состояние"), Data::String("завершена".into()));
    assert_eq!(value("Начало").as_datetime(), Some(local(21, 33, 37)));
    assert_eq!(value("Окончание").as_datetime(), Some(local(22, 5, 10)));
    assert_eq!(
        value("Время указано в поясе"),
        Data::String("Europe/Moscow, UTC+3".into())
    );

    // the header rows are bold, frozen and filtered (from the sheets' XML)
    let sheet = |n: u32| xlsx_part(&bytes, &format!("xl/worksheets/sheet{n}.xml"));
    let (summary_xml, subs_xml) = (sheet(1), sheet(2));
    assert!(
        subs_xml.contains("<autoFilter ref=\"A1:L5\"/>"),
        "{subs_xml}"
    );
    assert!(
        summary_xml.contains("<autoFilter ref=\"A1:B"),
        "{summary_xml}"
    );
    for xml in [&summary_xml, &subs_xml] {
        assert!(xml.contains("state=\"frozen\""), "{xml}");
        assert!(xml.contains("topLeftCell=\"A2\""), "{xml}");
    }
    let styles = xlsx_part(&bytes, "xl/styles.xml");
    assert!(styles.contains("<b/>"), "no bold font: {styles}");
    // A1 of the subscribers carries a bold style; a data row's phone does not
    let style_of = |xml: &str, cell: &str| -> String {
        let re = regex::Regex::new(&format!(r#"<c r="{cell}"(?: s="(\d+)")?"#)).unwrap();
        let caps = re
            .captures(xml)
            .unwrap_or_else(|| panic!("{cell} in {xml}"));
        caps.get(1).map_or("0", |m| m.as_str()).to_string()
    };
    assert_ne!(style_of(&subs_xml, "A1"), style_of(&subs_xml, "A2"));
    assert_ne!(style_of(&summary_xml, "A1"), style_of(&summary_xml, "A2"));
}

#[tokio::test]
async fn an_english_report_stays_english() {
    let m = mailed("en", None).await;
    assert_eq!(
        m["subject"],
        format!("Campaign {ID} '{NAME}' finished: 2 of 4 reached")
    );
    let text = m["text"].as_str().unwrap();
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    for want in [
        "Started at: 2026-12-01 21:33 (Europe/Moscow, UTC+3)",
        "Finished at: 2026-12-01 22:05 (Europe/Moscow, UTC+3)",
        "Subscribers in the campaign: 4",
        "Listened to the end: 1",
        "Confirmed with key 1: 1",
        "Calls made (all attempts): 5",
    ] {
        assert!(lines.contains(&want), "missing {want:?} in:\n{text}");
    }
    for russian in ["Абонентов", "Начало", "завершена", "Прослушал"]
    {
        assert!(!text.contains(russian), "{russian:?} in:\n{text}");
    }
    let html = m["html"].as_str().unwrap();
    assert!(
        html.contains("<html lang=\"en\">") && html.contains("<table"),
        "{html}"
    );
    assert!(html.contains(">Subscribers in the campaign</td>"), "{html}");

    let csv_text = attachment(&m, ".csv")["content"].as_str().unwrap();
    assert!(csv_text.starts_with('\u{feff}'));
    let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
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
            "last_attempt_at (Europe/Moscow)"
        ]
    );
    let second: Vec<String> = rdr
        .records()
        .nth(1)
        .unwrap()
        .unwrap()
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(
        second,
        [
            "+79031110002",
            "Белов",
            "LS-2",
            "listened_partial",
            "Hung up before the end",
            "2",
            "NORMAL_CLEARING",
            "16",
            "8.2",
            "no",
            "",
            "2026-12-01 21:55:00"
        ]
    );

    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(xlsx_bytes(&m))).unwrap();
    assert_eq!(wb.sheet_names(), ["Summary", "Subscribers"]);
    let subs = wb.worksheet_range("Subscribers").unwrap();
    assert_eq!(subs.height(), 5);
    assert_eq!(subs.get((0, 4)), Some(&Data::String("Outcome".into())));
    assert_eq!(
        subs.get((0, 11)),
        Some(&Data::String("Last call (Europe/Moscow)".into()))
    );
    assert_eq!(
        subs.get((4, 4)),
        Some(&Data::String("Busy".into())),
        "{subs:?}"
    );
}

#[tokio::test]
async fn the_separator_can_be_set_apart_from_the_language() {
    let m = mailed("ru", Some(",")).await;
    let csv_text = attachment(&m, ".csv")["content"].as_str().unwrap();
    assert!(
        csv_text[3..].starts_with("Телефон,Абонент,Лицевой счёт,"),
        "{csv_text}"
    );
    // the decimal comma is quoted, not split
    assert!(csv_text.contains(",\"8,2\","), "{csv_text}");
}
