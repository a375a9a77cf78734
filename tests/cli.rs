//! Guards what a sysadmin sees from the binary: a config typo names its key and exits 78
//! (EX_CONFIG) without leaking secrets, environment overrides work, and `contactd migrate`
//! can be run twice.
use crate::common;

use std::process::Command;

fn contactd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_contactd"))
}

fn write(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let p = dir.path().join("contactd.toml");
    std::fs::write(&p, text).unwrap();
    p
}

const GOOD: &str = r#"
[switch.fs1]
host = "127.0.0.1"
password = "SuperSecretEsl"
[http]
token = "0123456789abcdef-secret"
"#;

#[test]
fn check_config_accepts_a_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, GOOD);
    let out = contactd()
        .args(["check-config", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("config OK"));
}

#[test]
fn a_typo_names_the_key_and_exits_ex_config() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, &GOOD.replace("host =", "hots ="));
    let out = contactd()
        .args(["check-config", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("switch.fs1.hots"), "{err}");
    assert!(!err.contains("SuperSecretEsl"), "secret in logs: {err}");
}

#[test]
fn environment_overrides_and_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, GOOD);
    let out = contactd()
        .args(["check-config", "--config"])
        .arg(&p)
        .env("CONTACTD__SWITCH__FS1__PORT", "not-a-port")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("switch.fs1.port"));
    let out = contactd()
        .args(["check-config", "--config"])
        .arg(&p)
        .env("CONTACTD__HTTP__TOKEN", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("http.token"), "{err}");
}

#[test]
fn a_missing_file_is_named() {
    let out = contactd()
        .args(["check-config", "--config", "/nonexistent/contactd.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/contactd.toml"));
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let out = contactd().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(64));
}

#[tokio::test]
async fn migrate_twice_from_the_command_line() {
    let env = common::TestEnv::new().await;
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        &format!("{GOOD}\n[postgres]\nurl = \"{}\"\n", env.db_url()),
    );
    for expected in ["applied: 001_calls.sql", "schema up to date"] {
        let out = common::contactd_ok(&["migrate"], &p).await;
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(expected),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[tokio::test]
async fn the_simulator_runs_standalone() {
    use tokio::io::AsyncReadExt;
    let port = contactd::store::scratch::free_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
        .args(["sim", "--listen", &format!("127.0.0.1:{port}")])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut greeting = String::new();
    for _ in 0..100 {
        if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).await.unwrap();
            greeting = String::from_utf8_lossy(&buf[..n]).to_string();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(greeting, "Content-Type: auth/request\n\n");
    child.kill().await.unwrap();
}

/// The operator's path: `lists import`, `lists show`, `dnc add` from the binary, with the
/// database its config names; bad rows are reported with their line numbers.
#[tokio::test]
async fn lists_and_dnc_from_the_command_line() {
    let env = common::TestEnv::new().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        &dir,
        &format!("{GOOD}\n[postgres]\nurl = \"{}\"\n", env.db_url()),
    );
    let csv = dir.path().join("subs.csv");
    std::fs::write(
        &csv,
        "phone,name,account\n+79161234567,A,1\n8 (916) 123-45-68,B,2\nnot a number,C,3\n89161234567,A again,1\n",
    )
    .unwrap();
    let run = |args: Vec<String>| {
        let cfg = cfg.clone();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
                .args(&args)
                .arg("--config")
                .arg(&cfg)
                .output()
                .await
                .unwrap()
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let out = run(s(&[
        "lists",
        "import",
        csv.to_str().unwrap(),
        "--number",
        "5",
        "--name",
        "Test",
    ]))
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("accepted           2"), "{stdout}");
    assert!(
        stdout.contains("line 4"),
        "the bad row is named by its line: {stdout}"
    );
    // importing again into list 5 needs --replace
    let out = run(s(&[
        "lists",
        "import",
        csv.to_str().unwrap(),
        "--number",
        "5",
        "--name",
        "Test",
    ]))
    .await;
    assert_eq!(
        out.status.code(),
        Some(73),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(s(&["lists", "show", "5"])).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("line 4") && stdout.contains("line 5"),
        "{stdout}"
    );
    let out = run(s(&[
        "lists",
        "import",
        "/nonexistent.csv",
        "--number",
        "6",
        "--name",
        "X",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(66));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.csv"));
    let out = run(s(&["dnc", "add", "8 916 123-45-67"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(s(&["dnc", "add", "12ab"])).await;
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("12ab"));
    let out = run(s(&["lists", "show", "5"])).await;
    assert!(String::from_utf8_lossy(&out.stdout)
        .to_lowercase()
        .contains("dnc"));
}

/// `contactd staffing` for 200 calls/h of 180 s, 20 s target, at `service_level` %, with
/// `more` arguments.
fn staffing(service_level: &str, more: &[&str]) -> std::process::Output {
    contactd()
        .args([
            "staffing",
            "--calls-per-hour",
            "200",
            "--aht-seconds",
            "180",
        ])
        .args(["--target-seconds", "20", "--service-level", service_level])
        .args(more)
        .output()
        .unwrap()
}

/// `contactd staffing` without any config: the issue's worked example (10 Erlangs, 20 s),
/// and a goal out of range named by its option.
#[test]
fn staffing_by_erlang_c_from_the_command_line() {
    let out = staffing("80", &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("10.00 Erlangs"), "{text}");
    assert!(text.contains("14 operators needed"), "{text}");
    let chosen = text.lines().find(|l| l.ends_with("<- needed")).unwrap();
    assert!(
        chosen.contains("88.8 %") && chosen.contains("7.8 s"),
        "{chosen}"
    );
    // callers who hang up after 120 s on average: Erlang A needs fewer
    let out = staffing("80", &["--patience-seconds", "120"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let a = text.split("Erlang A").nth(1).unwrap_or_default();
    assert!(a.contains("12 operators needed"), "{text}");
    let chosen = a.lines().find(|l| l.ends_with("<- needed")).unwrap();
    assert!(
        chosen.contains("82.6 %") && chosen.contains("6.2 %"),
        "{chosen}"
    );
    let out = staffing("120", &[]);
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--service-level 120"));
}
