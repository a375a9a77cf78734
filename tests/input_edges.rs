//! Input edges that must never lose or forge data: an unclosed quote in a contact list, an
//! overflowing balance, a NUL byte or a 10 MB field in billing's export, line breaks in
//! caller IDs and command-line values (log forging), control characters in campaign names,
//! the campaign line limit, and config keys named by their own name.
use crate::common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use contactd::config::{Config, ConfigError, DialingConfig};
use contactd::core::lists::{ImportOptions, ProblemKind};
use contactd::store::accounts::import_accounts;
use contactd::store::lists::import_csv;
use contactd::store::{migrate, postgres};
use deadpool_postgres::Pool;

async fn pool(env: &common::TestEnv) -> Pool {
    let pool = postgres::pool(env.db_url(), 4).unwrap();
    migrate::run(&pool).await.unwrap();
    pool
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A contact row for `line`: a distinct valid number, a name, an account.
fn contact(line: u32) -> String {
    format!("+7916123{line:04},Subscriber {line},{line}\n")
}

async fn stored_lines(env: &common::TestEnv, list: i32) -> Vec<i32> {
    env.pg()
        .await
        .query(
            "SELECT line_no FROM contacts WHERE list_number = $1 ORDER BY line_no",
            &[&list],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

// ---------------------------------------------------------------------------------------
// 1. Lists: an unclosed quote
// ---------------------------------------------------------------------------------------

/// 50 rows; line 11 opens a quote it never closes. Only line 11 is refused ("unclosed
/// quote"), the 40 rows after it are read as rows of their own.
#[tokio::test]
async fn an_unclosed_quote_costs_its_own_line_only() {
    let env = common::TestEnv::new().await;
    let pool = pool(&env).await;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("phone,name,account\n");
    for line in 2..=51 {
        if line == 11 {
            text.push_str("+79161230011,\"Broken name,11\n");
        } else {
            text.push_str(&contact(line));
        }
    }
    let path = write(dir.path(), "fifty.csv", text.as_bytes());
    let opts = ImportOptions {
        list_number: 21,
        name: "fifty".into(),
        replace: false,
    };
    let r = import_csv(&pool, &path, opts, &DialingConfig::default())
        .await
        .unwrap();
    let problems: Vec<String> = r.problems.iter().map(|p| p.to_string()).collect();
    println!("report: {problems:?}");
    assert_eq!(
        (r.rows_read, r.accepted, r.rejected, r.duplicates),
        (50, 49, 1, 0),
        "{problems:?}"
    );
    assert_eq!(r.problems[0].line, 11, "{problems:?}");
    assert_eq!(r.problems[0].kind, ProblemKind::Rejected);
    assert!(
        r.problems[0].reason.starts_with("unclosed quote"),
        "{problems:?}"
    );
    // what was kept of the broken line is that line alone
    assert_eq!(r.problems[0].raw, "+79161230011,\"Broken name,11");
    let want: Vec<i32> = (2..=51).filter(|l| *l != 11).collect();
    assert_eq!(stored_lines(&env, 21).await, want);
}

/// A stray quote on line 11 and another on line 30: the csv reader pairs them and reads
/// lines 11-30 as ONE record with the right number of columns (a contact with a 20-line
/// name). Nothing between them may vanish: line 11 is refused, lines 12-30 are rows.
#[tokio::test]
async fn two_stray_quotes_do_not_swallow_the_rows_between_them() {
    let env = common::TestEnv::new().await;
    let pool = pool(&env).await;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("phone,name,account\n");
    for line in 2..=40 {
        match line {
            11 => text.push_str("+79161230011,\"Broken name,11\n"),
            30 => text.push_str("+79161230030,Name \"Jr,30\n"),
            _ => text.push_str(&contact(line)),
        }
    }
    let path = write(dir.path(), "stray.csv", text.as_bytes());
    let opts = ImportOptions {
        list_number: 22,
        name: "stray".into(),
        replace: false,
    };
    let r = import_csv(&pool, &path, opts, &DialingConfig::default())
        .await
        .unwrap();
    let problems: Vec<String> = r.problems.iter().map(|p| p.to_string()).collect();
    println!("report: {problems:?}");
    assert_eq!(
        (r.rows_read, r.accepted, r.rejected),
        (39, 38, 1),
        "{problems:?}"
    );
    assert_eq!(r.problems[0].line, 11);
    assert!(r.problems[0].reason.starts_with("unclosed quote"));
    let want: Vec<i32> = (2..=40).filter(|l| *l != 11).collect();
    assert_eq!(stored_lines(&env, 22).await, want);
    // a quoted name that really spans lines is still one field
    let multi = write(
        dir.path(),
        "multi.csv",
        "phone,name,account\n+79161234567,\"Two\nlines\",1\n+79161234568,B,2\n".as_bytes(),
    );
    let opts = ImportOptions {
        list_number: 23,
        name: "multi".into(),
        replace: false,
    };
    let r = import_csv(&pool, &multi, opts, &DialingConfig::default())
        .await
        .unwrap();
    assert_eq!((r.accepted, r.rejected), (2, 0), "{:?}", r.problems);
}

/// List rows: a NUL byte and an over-long name are refused by line, with the limit.
#[tokio::test]
async fn list_rows_with_nul_or_over_long_fields_are_refused_by_line() {
    let env = common::TestEnv::new().await;
    let pool = pool(&env).await;
    let dir = tempfile::tempdir().unwrap();
    let mut text = b"phone,name,account\n".to_vec();
    text.extend_from_slice(b"+79161234567,Nul\0name,1\n");
    text.extend_from_slice(format!("+79161234568,{},2\n", "N".repeat(201)).as_bytes());
    text.extend_from_slice(format!("+79161234569,Ok,{}\n", "9".repeat(41)).as_bytes());
    text.extend_from_slice(b"+79161234570,Good,4\n");
    let path = write(dir.path(), "nul.csv", &text);
    let opts = ImportOptions {
        list_number: 24,
        name: "nul".into(),
        replace: false,
    };
    let r = import_csv(&pool, &path, opts, &DialingConfig::default())
        .await
        .unwrap();
    let problems: Vec<String> = r.problems.iter().map(|p| p.to_string()).collect();
    println!("report: {problems:?}");
    assert_eq!(
        problems,
        [
            "line 2: column 2: NUL byte",
            "line 3: name: 201 characters, at most 200",
            "line 4: account: 41 characters, at most 40",
        ]
    );
    assert_eq!(stored_lines(&env, 24).await, [5]);
}

// ---------------------------------------------------------------------------------------
// 2. Accounts: overflow, NUL, over-long fields
// ---------------------------------------------------------------------------------------

const ACCOUNTS_HEADER: &str =
    "account,holder,phone,balance,meter,zones,digits,last_date,last_1,last_2,last_3\n";

fn account_row(account: &str, holder: &str, balance: &str) -> String {
    format!("{account},{holder},,{balance},M-{account},1,5,2025-03-01,01000,,\n")
}

async fn balance_of(env: &common::TestEnv, account: &str) -> Option<i64> {
    env.pg()
        .await
        .query_opt(
            "SELECT balance_minor FROM accounts WHERE number = $1",
            &[&account],
        )
        .await
        .unwrap()
        .map(|r| r.get(0))
}

#[tokio::test]
async fn an_overflowing_balance_is_refused_by_line_with_the_limit() {
    let env = common::TestEnv::new().await;
    let pool = pool(&env).await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{ACCOUNTS_HEADER}{}{}{}{}",
        account_row("100001", "Ivanov", "92233720368547758.99"),
        account_row("100002", "Petrov", "-92233720368547758.99"),
        account_row("100003", "Sidorov", "1000000000000.00"),
        account_row("100004", "Good", "-999999999999.99"),
    );
    let path = write(dir.path(), "big.csv", text.as_bytes());
    let r = import_accounts(&pool, &path, &DialingConfig::default())
        .await
        .unwrap();
    println!("report: {:?}", r.problems);
    let lines: Vec<u64> = r.problems.iter().map(|p| p.0).collect();
    assert_eq!(lines, [2, 3, 4], "{:?}", r.problems);
    for (_, reason) in &r.problems {
        assert!(
            reason.starts_with("balance") && reason.contains("999999999999.99"),
            "the limit is stated: {reason}"
        );
    }
    assert_eq!(r.accepted, 1);
    assert_eq!(balance_of(&env, "100001").await, None);
    assert_eq!(balance_of(&env, "100002").await, None);
    assert_eq!(balance_of(&env, "100004").await, Some(-99_999_999_999_999));
}

#[tokio::test]
async fn a_nul_byte_costs_its_row_only() {
    let env = common::TestEnv::new().await;
    let pool = pool(&env).await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{ACCOUNTS_HEADER}{}{}{}",
        account_row("100001", "Good", "1"),
        account_row("100002", "Nul\0here", "2"),
        account_row("100003", "Also good", "3"),
    );
    let path = write(dir.path(), "nul.csv", text.as_bytes());
    let r = import_accounts(&pool, &path, &DialingConfig::default()).await;
    println!("result: {r:?}");
    let r = r.unwrap();
    assert_eq!(r.accepted, 2);
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    assert_eq!(r.problems[0].0, 3);
    assert!(r.problems[0].1.contains("NUL"), "{:?}", r.problems);
    assert_eq!(balance_of(&env, "100001").await, Some(100));
    assert_eq!(balance_of(&env, "100003").await, Some(300));
}

#[tokio::test]
async fn over_long_account_fields_are_refused_with_the_limit() {
    let env = common::TestEnv::new().await;
    let pool = pool(&env).await;
    let dir = tempfile::tempdir().unwrap();
    let huge = "Я".repeat(5 * 1024 * 1024); // 10 MB
    let text = format!(
        "{ACCOUNTS_HEADER}{}{}{}{}",
        account_row("100001", &huge, "1"),
        account_row("100002", &"N".repeat(201), "1"),
        account_row("100003", "Control\u{1b}[2J", "1"),
        account_row("100004", &"N".repeat(200), "1"),
    );
    let path = write(dir.path(), "huge.csv", text.as_bytes());
    let r = import_accounts(&pool, &path, &DialingConfig::default())
        .await
        .unwrap();
    let shown: Vec<(u64, String)> = r
        .problems
        .iter()
        .map(|(l, p)| (*l, p.chars().take(120).collect()))
        .collect();
    println!("report: {shown:?}");
    let lines: Vec<u64> = r.problems.iter().map(|p| p.0).collect();
    assert_eq!(lines, [2, 3, 4], "{shown:?}");
    assert!(r.problems[0].1.contains("at most 200"), "{shown:?}");
    assert!(r.problems[0].1.len() < 200, "the value is not echoed");
    assert!(r.problems[1].1.contains("at most 200"), "{shown:?}");
    assert!(r.problems[2].1.contains("control character"), "{shown:?}");
    assert_eq!(r.accepted, 1);
    assert_eq!(balance_of(&env, "100001").await, None);
}

// ---------------------------------------------------------------------------------------
// 3. Log forging
// ---------------------------------------------------------------------------------------

const FORGED: &str = "ERROR contactd: forged line";

/// No log line starts with the forged text; it only ever appears escaped inside a field.
fn assert_not_forged(logs: &str) {
    for line in logs.lines() {
        assert!(
            !line.starts_with(FORGED) && !line.contains("\rERROR"),
            "forged log line: {line:?}\n{logs}"
        );
    }
}

/// The test's own log capture, formatted as the daemon writes it: a dispatcher set on every
/// thread of the test's runtime, so other tests of the binary neither feed nor disturb it.
fn with_captured_logs<F>(test: impl FnOnce(Arc<Mutex<Vec<u8>>>) -> F)
where
    F: std::future::Future<Output = ()>,
{
    let buf = Arc::new(Mutex::new(Vec::new()));
    let writer = Captured(buf.clone());
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_env_filter("info")
            .with_writer(move || writer.clone())
            .finish(),
    );
    let on_workers = dispatch.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            // for the thread's whole life
            std::mem::forget(tracing::dispatcher::set_default(&on_workers));
        })
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || rt.block_on(test(buf)));
}

#[derive(Clone)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn caller_ids_with_line_breaks_are_logged_escaped() {
    with_captured_logs(caller_ids_logged);
}

async fn caller_ids_logged(logs: Arc<Mutex<Vec<u8>>>) {
    let env = common::TestEnv::new().await;
    let sim = contactd::sim::Simulator::start(contactd::sim::SimConfig::default())
        .await
        .unwrap();
    let app = contactd::app::App::start(env.config(sim.esl_addr(), "ClueCon", &[]))
        .await
        .unwrap();
    assert!(app.wait_ready(Duration::from_secs(10)).await);
    let caller = format!("5551234\n{FORGED}");
    for (entry, code) in [("trunk", "nothing"), ("operator", "*21")] {
        sim.inbound_call(contactd::sim::InboundCall {
            connect_to: app.outbound_addr.to_string(),
            caller_number: caller.clone(),
            vars: vec![
                ("contactd_entry".into(), entry.into()),
                ("contactd_code".into(), code.into()),
            ],
            script: vec![contactd::sim::CallerStep::WaitForAnswer],
            ..Default::default()
        })
        .unwrap();
    }
    let seen = |what: &'static str| {
        let logs = logs.clone();
        async move { String::from_utf8_lossy(&logs.lock().unwrap()).contains(what) }
    };
    assert!(
        common::eventually(Duration::from_secs(10), || seen("inbound call")).await,
        "no inbound call logged"
    );
    assert!(
        common::eventually(Duration::from_secs(10), || seen("phone of no operator")).await,
        "no feature-code log"
    );
    app.shutdown(Duration::from_secs(2)).await;
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("5551234") || l.starts_with(FORGED))
        .collect();
    println!("{}", ours.join("\n"));
    assert_not_forged(&text);
    assert!(
        text.contains(r#"caller="5551234\nERROR contactd: forged line""#),
        "the caller ID is a quoted, escaped field:\n{text}"
    );
}

const GOOD_CONFIG: &str = r#"
[switch.fs1]
host = "127.0.0.1"
password = "SuperSecretEsl"
[http]
token = "0123456789abcdef-secret"
[trunk.sip]
switch = "fs1"
kind = "sip"
channels = 1000
dial = "sofia/gateway/gw/{number}"
[campaigns]
trunk = "sip"
"#;

fn config_file(dir: &Path, env: &common::TestEnv, extra: &str) -> PathBuf {
    write(
        dir,
        "contactd.toml",
        format!(
            "{GOOD_CONFIG}{extra}\n[postgres]\nurl = \"{}\"\n[redis]\nurl = \"{}\"\nprefix = \"{}\"\n",
            env.db_url(),
            common::redis_url(),
            env.prefix
        )
        .as_bytes(),
    )
}

fn contactd(cfg: &Path, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
        .args(args)
        .arg("--config")
        .arg(cfg)
        .output()
        .unwrap();
    println!(
        "$ contactd {args:?}\n  exit {:?}\n  stdout: {}\n  stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).trim_end(),
        String::from_utf8_lossy(&out.stderr).trim_end()
    );
    out
}

/// A list with one subscriber, number `n`, for campaign tests.
async fn one_list(env: &common::TestEnv, dir: &Path, n: u16) {
    let pool = pool(env).await;
    let path = write(dir, "one.csv", b"phone\n+79161234567\n");
    let opts = ImportOptions {
        list_number: n,
        name: "one".into(),
        replace: false,
    };
    import_csv(&pool, &path, opts, &DialingConfig::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn command_line_errors_quote_the_values_they_name() {
    let env = common::TestEnv::new().await;
    let dir = tempfile::tempdir().unwrap();
    one_list(&env, dir.path(), 7).await;
    let cfg = config_file(dir.path(), &env, "");
    let evil = format!("ghost\n{FORGED}");
    let mut stderr = String::new();
    for args in [
        vec!["operators", "token", &evil],
        vec!["operators", "day", &evil, "2025-01-01"],
        vec!["operators", "state", &evil, "ready"],
        vec![
            "campaigns",
            "create",
            "--list",
            "7",
            "--audio",
            "/tmp/m.wav",
            "--trunk",
            &evil,
        ],
        vec![
            "campaigns",
            "create",
            "--list",
            "7",
            "--audio",
            "/tmp/m.wav",
            "--time-zone",
            &evil,
        ],
        vec![
            "campaigns",
            "create",
            "--list",
            "7",
            "--audio",
            "/tmp/m.wav",
            "--email",
            &evil,
        ],
    ] {
        let out = contactd(&cfg, &args);
        assert!(!out.status.success());
        stderr.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    let missing = dir.path().join(format!("no\n{FORGED}.csv"));
    let missing = missing.to_str().unwrap();
    let out = contactd(
        &cfg,
        &["lists", "import", missing, "--number", "8", "--name", "x"],
    );
    assert_eq!(out.status.code(), Some(66));
    stderr.push_str(&String::from_utf8_lossy(&out.stderr));
    let out = contactd(&cfg, &["accounts", "import", missing]);
    assert!(!out.status.success());
    stderr.push_str(&String::from_utf8_lossy(&out.stderr));
    assert_not_forged(&stderr);
    assert!(
        stderr.matches(r"\nERROR contactd: forged line").count() >= 8,
        "every value is escaped:\n{stderr}"
    );
}

// ---------------------------------------------------------------------------------------
// 4. Campaigns and config
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn campaign_names_with_control_characters_are_refused() {
    let env = common::TestEnv::new().await;
    let dir = tempfile::tempdir().unwrap();
    one_list(&env, dir.path(), 7).await;
    let cfg = config_file(dir.path(), &env, "");
    let base = [
        "campaigns",
        "create",
        "--list",
        "7",
        "--audio",
        "/tmp/m.wav",
    ];
    for name in ["Water\nBcc: evil@example.org", "Tab\there", "Esc\u{1b}[2J"] {
        let mut args = base.to_vec();
        args.extend(["--name", name]);
        let out = contactd(&cfg, &args);
        assert_eq!(out.status.code(), Some(65));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--name") && err.contains("control character"),
            "{err}"
        );
    }
    let long = "n".repeat(201);
    let mut args = base.to_vec();
    args.extend(["--name", &long]);
    assert_eq!(contactd(&cfg, &args).status.code(), Some(65));
    let n: i64 = env
        .pg()
        .await
        .query_one("SELECT count(*) FROM campaigns", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "nothing was created");
    let mut args = base.to_vec();
    args.extend(["--name", "Water outage, Lenina st."]);
    assert!(contactd(&cfg, &args).status.success());
}

#[tokio::test]
async fn campaign_lines_are_checked_against_the_schemas_limit() {
    let env = common::TestEnv::new().await;
    let dir = tempfile::tempdir().unwrap();
    one_list(&env, dir.path(), 7).await;
    let cfg = config_file(dir.path(), &env, "");
    let base = [
        "campaigns",
        "create",
        "--list",
        "7",
        "--audio",
        "/tmp/m.wav",
    ];
    for lines in ["400", "241", "0", "4294967295"] {
        let mut args = base.to_vec();
        args.extend(["--lines", lines]);
        let out = contactd(&cfg, &args);
        assert_eq!(out.status.code(), Some(65));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("lines must be 1–240"), "{err}");
        assert!(!err.contains("constraint"), "{err}");
    }
    let mut args = base.to_vec();
    args.extend(["--lines", "240"]);
    assert!(contactd(&cfg, &args).status.success());
    // the config's default is held to the same limit
    let err = Config::from_toml(&format!("{GOOD_CONFIG}lines = 400\n")).unwrap_err();
    assert!(
        err.to_string()
            .contains("campaigns.lines: lines must be 1–240"),
        "{err}"
    );
}

fn problem_keys(text: &str) -> Vec<String> {
    match Config::from_toml(text) {
        Err(ConfigError::Invalid(problems)) => problems.into_iter().map(|p| p.key).collect(),
        other => panic!("expected validation problems, got {other:?}"),
    }
}

#[test]
fn each_window_key_is_named_by_its_own_name() {
    for (key, value, want) in [
        ("window_start", "\"25:00\"", "campaigns.window_start"),
        ("window_end", "\"9pm\"", "campaigns.window_end"),
        ("window_days", "\"mon-funday\"", "campaigns.window_days"),
    ] {
        let keys = problem_keys(&format!("{GOOD_CONFIG}{key} = {value}\n"));
        assert_eq!(keys, [want]);
    }
    // a start after the end is named at the start
    let keys = problem_keys(&format!(
        "{GOOD_CONFIG}window_start = \"21:00\"\nwindow_end = \"20:00\"\n"
    ));
    assert_eq!(keys, ["campaigns.window_start"]);
}

#[test]
fn check_config_names_window_start() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "c.toml",
        format!("{GOOD_CONFIG}window_start = \"25:00\"\n").as_bytes(),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
        .args(["check-config", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    println!("{err}");
    assert_eq!(out.status.code(), Some(78));
    assert!(err.contains("campaigns.window_start"), "{err}");
    assert!(!err.contains("campaigns.window_days"), "{err}");
}

#[test]
fn daemon_instance_is_a_plain_name() {
    for bad in [
        "\"a\\nb\"",
        "\"\"",
        "\"with space\"",
        "\"ünï\"",
        &format!("\"{}\"", "a".repeat(65)),
    ] {
        let keys = problem_keys(&format!("{GOOD_CONFIG}[daemon]\ninstance = {bad}\n"));
        assert_eq!(keys, ["daemon.instance"], "{bad}");
    }
    for good in ["contactd-1", "node_2.example", &"a".repeat(64)] {
        Config::from_toml(&format!("{GOOD_CONFIG}[daemon]\ninstance = \"{good}\"\n")).unwrap();
    }
}
