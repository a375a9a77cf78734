//! Contact-list import against a real PostgreSQL: per-line reasons, duplicates, extra
//! columns and time zones in the database, `--replace` atomicity, unreadable files, a killed
//! connection mid-COPY, and a 200,000-row file.
use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use contactd::cli::lists as cli;
use contactd::config::DialingConfig;
use contactd::core::lists::{ImportOptions, ListError, ProblemKind};
use contactd::store::lists::{import_csv, list_problems, list_summary};
use contactd::store::{migrate, postgres};
use deadpool_postgres::Pool;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lists")
        .join(name)
}

async fn pool(env: &common::TestEnv) -> Pool {
    let pool = postgres::pool(env.db_url(), 4).unwrap();
    migrate::run(&pool).await.unwrap();
    pool
}

fn opts(n: u16, name: &str, replace: bool) -> ImportOptions {
    ImportOptions {
        list_number: n,
        name: name.into(),
        replace,
    }
}

#[tokio::test]
async fn mixed_file_is_reported_line_by_line_and_stored() {
    let env = common::TestEnv::new().await;
    let pool = pool(&env).await;
    let rules = DialingConfig::default();
    let r = import_csv(
        &pool,
        &fixture("mixed.csv"),
        opts(12, "Отключения", false),
        &rules,
    )
    .await
    .unwrap();
    assert_eq!(
        (r.rows_read, r.accepted, r.rejected, r.duplicates),
        (16, 6, 8, 2)
    );
    let lines: Vec<(u64, &str)> = r
        .problems
        .iter()
        .map(|p| (p.line, p.reason.as_str()))
        .collect();
    let expect: [(u64, &str); 10] = [
        (3, "duplicate of line 2 (+79161234567)"),
        (6, "empty phone"),
        (7, "bad number \"8 916 ABC-45-67\""),
        (8, "bad number \"+7 916 123 45 6\""),
        (9, "wrong column count: 2 (the header has 6)"),
        (10, "unknown time zone \"Mars/Olympus\""),
        (11, "bad number \"9161234572 &park\""),
        (12, "column 2: not valid UTF-8"),
        (13, "column 2: field too long: 1200 bytes"),
        (15, "duplicate of line 5 (+79161234569)"),
    ];
    assert_eq!(lines.len(), expect.len(), "{lines:#?}");
    for ((line, reason), (want_line, want)) in lines.iter().zip(expect) {
        assert_eq!(*line, want_line, "{lines:#?}");
        assert!(
            reason.starts_with(want),
            "line {line}: {reason:?} !~ {want:?}"
        );
    }
    assert_eq!(r.problems[0].kind, ProblemKind::Duplicate { first_line: 2 });
    assert_eq!(r.problems[1].kind, ProblemKind::Rejected);
    assert!(r.problems[3]
        .reason
        .contains("10 digits after the country code"));

    let pg = env.pg().await;
    let rows = pg
        .query(
            "SELECT line_no, phone_raw, phone, name, account, tz, extra::text FROM contacts
             WHERE list_number = 12 ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(i32, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(2), r.get(5)))
        .collect();
    let want = [
        (2, "+79161234567", "Europe/Moscow"),
        (4, "+79161234568", "Asia/Yekaterinburg"),
        (5, "+79161234569", "Europe/Moscow"),
        (14, "+380501234567", "Europe/Kyiv"),
        (16, "+79161234575", "Europe/Moscow"),
        (18, "+79161234576", "Europe/Moscow"),
    ];
    let want: Vec<(i32, String, String)> = want
        .iter()
        .map(|(l, p, t)| (*l, p.to_string(), t.to_string()))
        .collect();
    assert_eq!(got, want);
    // raw text, names with line breaks, tabs and backslashes survive COPY escaping
    assert_eq!(rows[0].get::<_, String>(1), "+7 (916) 123-45-67");
    assert_eq!(rows[0].get::<_, String>(3), "Иванов Иван");
    assert_eq!(rows[0].get::<_, String>(4), "100001");
    assert_eq!(rows[4].get::<_, String>(3), "Многострочное\r\nимя");
    assert_eq!(rows[5].get::<_, String>(3), "Last\\Tab\there");
    let extra: serde_json::Value = serde_json::from_str(&rows[1].get::<_, String>(6)).unwrap();
    assert_eq!(
        extra,
        serde_json::json!({"Address": "ул. Мира, 5", "Note": "кв. 7"})
    );
    let extra: serde_json::Value = serde_json::from_str(&rows[5].get::<_, String>(6)).unwrap();
    assert_eq!(
        extra,
        serde_json::json!({"Address": "", "Note": "note, with comma"})
    );

    // rejected rows are stored for `lists show`, with their raw text
    let db = pool.get().await.unwrap();
    let stored = list_problems(&db, 12, 100).await.unwrap();
    assert_eq!(stored, r.problems);
    assert!(
        stored[2].raw.starts_with("8 916 ABC-45-67,Буквы"),
        "{:?}",
        stored[2].raw
    );
    let s = list_summary(&db, 12).await.unwrap();
    assert_eq!(
        (s.rows_read, s.accepted, s.rejected, s.duplicates),
        (16, 6, 8, 2)
    );
    assert_eq!((s.contacts, s.on_dnc), (6, 0));
    assert_eq!(s.name, "Отключения");
    assert!(s.source_file.ends_with("mixed.csv"));
    let text = cli::render_show(&s, &stored);
    assert!(text.contains("line 9: wrong column count"), "{text}");
    assert!(text.contains("rejected           8"), "{text}");
    let report = cli::render_import(&r);
    assert!(report.contains("line 15: duplicate of line 5"), "{report}");
}

#[tokio::test]
async fn an_existing_list_needs_replace_and_replacing_is_atomic() {
    let env = common::TestEnv::new().await;
    let pool = pool(&env).await;
    let rules = DialingConfig::default();
    import_csv(
        &pool,
        &fixture("small.csv"),
        opts(5, "first", false),
        &rules,
    )
    .await
    .unwrap();

    let err = import_csv(
        &pool,
        &fixture("mixed.csv"),
        opts(5, "second", false),
        &rules,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ListError::ListExists(5)), "{err}");
    assert_eq!(contactd::cli::exit::Exit::from(&err).code(), 73);
    assert!(err.to_string().contains("--replace"), "{err}");
    let db = pool.get().await.unwrap();
    let s = list_summary(&db, 5).await.unwrap();
    assert_eq!((s.name.as_str(), s.contacts), ("first", 3));

    // a replacement with no usable row is refused and changes nothing
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "phone,name\nabc,x\n123,y\n").unwrap();
    let err = import_csv(&pool, &bad, opts(5, "broken", true), &rules)
        .await
        .unwrap_err();
    assert_eq!(contactd::cli::exit::Exit::from(&err).code(), 65, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("line 2: bad number") && msg.contains("line 3"),
        "{msg}"
    );
    let s = list_summary(&db, 5).await.unwrap();
    assert_eq!((s.name.as_str(), s.contacts, s.rejected), ("first", 3, 0));

    let r = import_csv(
        &pool,
        &fixture("mixed.csv"),
        opts(5, "second", true),
        &rules,
    )
    .await
    .unwrap();
    assert!(r.replaced);
    let s = list_summary(&db, 5).await.unwrap();
    assert_eq!((s.name.as_str(), s.contacts, s.rejected), ("second", 6, 8));
    assert!(s.replaced_at.is_some());
    let old: i64 = db
        .query_one(
            "SELECT count(*) FROM contacts WHERE list_number = 5 AND phone = '+79161000001'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(old, 0, "old contacts remain after --replace");
}

#[tokio::test]
async fn unreadable_files_are_named_with_the_line() {
    let env = common::TestEnv::new().await;
    let pool = pool(&env).await;
    let rules = DialingConfig::default();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 5] = [
        (
            "png.csv",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00",
            "line 1: header is not UTF-8",
        ),
        (
            "cp1251.csv",
            b"\xf2\xe5\xeb\xe5\xf4\xee\xed;\xd4\xc8\xce\r\n89161234567;x\r\n",
            "Windows-1251",
        ),
        ("utf16.csv", b"\xff\xfep\x00h\x00o\x00n\x00e\x00", "UTF-16"),
        ("empty.csv", b"", "line 1: empty file"),
        (
            "nophone.csv",
            b"name,account\nx,1\n",
            "line 1: no phone column",
        ),
    ];
    for (name, bytes, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = import_csv(&pool, &path, opts(1, "x", false), &rules)
            .await
            .unwrap_err();
        assert_eq!(
            contactd::cli::exit::Exit::from(&err).code(),
            65,
            "{name}: {err}"
        );
        let msg = err.to_string();
        assert!(msg.contains(name) && msg.contains(want), "{name}: {msg}");
    }
    let missing = dir.path().join("nope.csv");
    let err = import_csv(&pool, &missing, opts(1, "x", false), &rules)
        .await
        .unwrap_err();
    assert_eq!(contactd::cli::exit::Exit::from(&err).code(), 66);
    assert!(
        err.to_string()
            .contains("nope.csv: cannot open: no such file"),
        "{err}"
    );
    let err = import_csv(&pool, dir.path(), opts(1, "x", false), &rules)
        .await
        .unwrap_err();
    assert_eq!(contactd::cli::exit::Exit::from(&err).code(), 66, "{err}");
    let err = import_csv(&pool, &fixture("small.csv"), opts(0, "x", false), &rules)
        .await
        .unwrap_err();
    assert_eq!(contactd::cli::exit::Exit::from(&err).code(), 64, "{err}");
    let pg = env.pg().await;
    let n: i64 = pg
        .query_one("SELECT count(*) FROM contact_lists", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

/// `n` rows in a mix of spellings; row i has the number +7 900 000 0000 + i.
fn big_file(dir: &Path, n: u32) -> PathBuf {
    let path = dir.join("big.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(w, "телефон;ФИО;лицевой счёт;сумма").unwrap();
    for i in 0..n {
        let d = format!("{:07}", i);
        let phone = match i % 4 {
            0 => format!("+7 (900) {}-{}-{}", &d[..3], &d[3..5], &d[5..]),
            1 => format!("8 900 {d}"),
            2 => format!("7900{d}"),
            _ => format!("900{d}"),
        };
        writeln!(w, "{phone};Абонент {i};{};{}.50", 1_000_000 + i, i % 1000).unwrap();
    }
    w.flush().unwrap();
    path
}

#[tokio::test]
async fn two_hundred_thousand_rows_import_quickly_and_completely() {
    let env = common::TestEnv::new().await;
    let pool = pool(&env).await;
    let rules = DialingConfig::default();
    let dir = tempfile::tempdir().unwrap();
    let path = big_file(dir.path(), 200_000);
    let started = Instant::now();
    let r = import_csv(&pool, &path, opts(200, "marketing", false), &rules)
        .await
        .unwrap();
    let took = started.elapsed();
    eprintln!("200,000 rows imported in {took:?}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert_eq!(
        (r.rows_read, r.accepted, r.rejected, r.duplicates),
        (200_000, 200_000, 0, 0)
    );
    let pg = env.pg().await;
    let row = pg
        .query_one(
            "SELECT count(*), count(DISTINCT phone), min(phone), max(phone), min(line_no),
                    max(line_no), count(*) FILTER (WHERE extra ? 'сумма')
             FROM contacts WHERE list_number = 200",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 200_000);
    assert_eq!(row.get::<_, i64>(1), 200_000);
    assert_eq!(row.get::<_, String>(2), "+79000000000");
    assert_eq!(row.get::<_, String>(3), "+79000199999");
    assert_eq!((row.get::<_, i32>(4), row.get::<_, i32>(5)), (2, 200_001));
    assert_eq!(row.get::<_, i64>(6), 200_000);
    let last = pg
        .query_one(
            "SELECT phone, name, account FROM contacts WHERE list_number = 200 ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(last.get::<_, String>(0), "+79000199999");
    assert_eq!(last.get::<_, String>(1), "Абонент 199999");
    assert_eq!(last.get::<_, String>(2), "1199999");
}

#[tokio::test]
async fn a_connection_killed_mid_copy_leaves_no_half_list() {
    let env = common::TestEnv::new().await;
    let pool = pool(&env).await;
    let rules = DialingConfig::default();
    let dir = tempfile::tempdir().unwrap();
    let path = big_file(dir.path(), 200_000);
    let import = tokio::spawn({
        let pool = pool.clone();
        async move { import_csv(&pool, &path, opts(7, "doomed", false), &rules).await }
    });
    let pg = env.pg().await;
    let killed = common::eventually(Duration::from_secs(30), || async {
        let rows = pg
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND query LIKE 'COPY contacts%'
                   AND state = 'active'",
                &[],
            )
            .await
            .unwrap();
        !rows.is_empty() || import.is_finished()
    })
    .await;
    assert!(killed);
    let result = import.await.unwrap();
    let err = result.expect_err("the import finished before its COPY could be killed");
    assert!(
        matches!(contactd::cli::exit::Exit::from(&err).code(), 69 | 70),
        "{err}"
    );
    for table in ["contact_lists", "contacts", "list_rejects"] {
        let n: i64 = pg
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{table} has rows after a failed import");
    }
}
