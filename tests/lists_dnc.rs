//! The do-not-call list against a real PostgreSQL: add/remove by any spelling, import with
//! per-line errors, `is_blocked` / `blocked_among` as the dialer calls them, and a list's
//! "on DNC now" count following the DNC list after the import.
use crate::common;

use std::path::{Path, PathBuf};

use contactd::cli::lists as cli;
use contactd::config::DialingConfig;
use contactd::core::lists::ImportOptions;
use contactd::lists::dnc::{self, blocked_among, is_blocked};
use contactd::store::lists::{all_lists, import_csv, list_summary};
use contactd::store::{migrate, postgres};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lists")
        .join(name)
}

#[tokio::test]
async fn add_check_and_remove_by_any_spelling() {
    let env = common::TestEnv::new().await;
    let pool = postgres::pool(env.db_url(), 4).unwrap();
    migrate::run(&pool).await.unwrap();
    let rules = DialingConfig::default();
    let db = pool.get().await.unwrap();

    assert!(!is_blocked(&db, "+79161234567").await.unwrap());
    let (e164, new) = dnc::add(&db, "8 (916) 123-45-67", "жалоба", "cli", &rules)
        .await
        .unwrap();
    assert_eq!((e164.as_str(), new), ("+79161234567", true));
    let (_, new) = dnc::add(&db, "+7 916 123 45 67", "again", "cli", &rules)
        .await
        .unwrap();
    assert!(!new, "a second add of the same number is not new");
    assert!(is_blocked(&db, "+79161234567").await.unwrap());
    assert!(!is_blocked(&db, "+79161234568").await.unwrap());
    // inside a transaction too (the dialer may check within its attempt transaction)
    {
        let mut c = pool.get().await.unwrap();
        let tx = c.transaction().await.unwrap();
        assert!(is_blocked(&tx, "+79161234567").await.unwrap());
    }
    // a non-canonical number is an error, never "not blocked"
    let err = is_blocked(&db, "89161234567").await.unwrap_err();
    assert_eq!(contactd::cli::exit::Exit::from(&err).code(), 65, "{err}");
    let err = dnc::add(&db, "9161234567 &park", "", "cli", &rules)
        .await
        .unwrap_err();
    assert_eq!(contactd::cli::exit::Exit::from(&err).code(), 65, "{err}");

    let batch: Vec<String> = ["+79161234567", "+79161234568", "+380501234567"]
        .map(String::from)
        .to_vec();
    let blocked = blocked_among(&db, &batch).await.unwrap();
    assert_eq!(blocked.len(), 1);
    assert!(blocked.contains("+79161234567"));

    let entries = dnc::list(&db).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].reason.as_str(), entries[0].source.as_str()),
        ("жалоба", "cli")
    );

    let (_, was) = dnc::remove(&db, "9161234567", &rules).await.unwrap();
    assert!(was);
    let (_, was) = dnc::remove(&db, "9161234567", &rules).await.unwrap();
    assert!(!was);
    assert!(!is_blocked(&db, "+79161234567").await.unwrap());
}

#[tokio::test]
async fn import_reports_lines_and_lists_see_the_dnc_list_as_it_is_now() {
    let env = common::TestEnv::new().await;
    let pool = postgres::pool(env.db_url(), 4).unwrap();
    migrate::run(&pool).await.unwrap();
    let rules = DialingConfig::default();
    let db = pool.get().await.unwrap();
    dnc::add(&db, "+7 916 000 00 03", "earlier", "cli", &rules)
        .await
        .unwrap();

    let r = dnc::import(&pool, &fixture("dnc.csv"), "из файла", &rules)
        .await
        .unwrap();
    assert_eq!(
        (r.rows_read, r.added, r.already, r.rejected, r.duplicates),
        (5, 2, 1, 1, 1)
    );
    let problems: Vec<(u64, &str)> = r
        .problems
        .iter()
        .map(|p| (p.line, p.reason.as_str()))
        .collect();
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0].0, 4);
    assert!(
        problems[0].1.starts_with("bad number \"916000000\""),
        "{problems:?}"
    );
    assert_eq!(problems[1], (5, "duplicate of line 2 (+79160000001)"));
    let text = cli::render_dnc_import(&fixture("dnc.csv"), &r);
    assert!(text.contains("2 added, 1 already on the list"), "{text}");

    let rows = db
        .query("SELECT phone, reason, source FROM dnc ORDER BY phone", &[])
        .await
        .unwrap();
    let got: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let want = [
        ("+79160000001", "жалоба", "file:dnc.csv"),
        ("+79160000002", "из файла", "file:dnc.csv"),
        ("+79160000003", "earlier", "cli"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);

    // a file with no usable number stores nothing
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "phone\nabc\n").unwrap();
    let err = dnc::import(&pool, &bad, "", &rules).await.unwrap_err();
    assert_eq!(contactd::cli::exit::Exit::from(&err).code(), 65, "{err}");
    assert!(err.to_string().contains("line 2"), "{err}");
    let err = dnc::import(&pool, &dir.path().join("missing.csv"), "", &rules)
        .await
        .unwrap_err();
    assert_eq!(contactd::cli::exit::Exit::from(&err).code(), 66, "{err}");

    // a list imported now counts its contacts on the DNC list, and follows later changes
    let list = dir.path().join("list.csv");
    std::fs::write(
        &list,
        "phone,name\n89160000001,a\n89160000004,b\n89160000005,c\n",
    )
    .unwrap();
    let opts = ImportOptions {
        list_number: 300,
        name: "n".into(),
        replace: false,
    };
    let r = import_csv(&pool, &list, opts, &rules).await.unwrap();
    assert_eq!((r.accepted, r.on_dnc), (3, 1));
    dnc::add(&db, "89160000004", "", "cli", &rules)
        .await
        .unwrap();
    assert_eq!(list_summary(&db, 300).await.unwrap().on_dnc, 2);
    dnc::remove(&db, "89160000001", &rules).await.unwrap();
    let all = all_lists(&db).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].number, all[0].contacts, all[0].on_dnc), (300, 3, 1));
    let ls = cli::render_ls(&all);
    assert!(
        ls.lines().nth(1).unwrap().trim_start().starts_with("300"),
        "{ls}"
    );
}
