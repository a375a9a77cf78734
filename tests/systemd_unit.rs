//! Guards `systemd/contactd.service`: `systemd-analyze verify` accepts it without a word
//! about the unit, and it keeps its contract with the daemon: sd_notify readiness and
//! watchdog, a stop timeout longer than the call drain, the dedicated user, and hardening.
//!
//! verify wants ExecStart's binary to exist, so it checks a copy whose ExecStart runs this
//! crate's `contactd` binary (the arguments are kept). It works without systemd as PID 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `shutdown.grace_seconds` default (src/config/infra.rs): TimeoutStopSec must be longer.
const DRAIN_GRACE_SECS: u64 = 60;

fn systemd_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("systemd")
}

fn unit_text() -> String {
    std::fs::read_to_string(systemd_dir().join("contactd.service"))
        .expect("read systemd/contactd.service")
}

/// `(section, key, value)` in file order; comments and blank lines dropped.
fn parse_unit(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            section = line[1..line.len() - 1].to_string();
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not key=value: {line:?}"));
        out.push((section.clone(), k.trim().to_string(), v.trim().to_string()));
    }
    out
}

fn values<'a>(unit: &'a [(String, String, String)], section: &str, key: &str) -> Vec<&'a str> {
    unit.iter()
        .filter(|(s, k, _)| s == section && k == key)
        .map(|(_, _, v)| v.as_str())
        .collect()
}

/// The single value of a key (the last one wins in systemd; a duplicate is a mistake here).
fn value<'a>(unit: &'a [(String, String, String)], section: &str, key: &str) -> &'a str {
    let v = values(unit, section, key);
    assert_eq!(
        v.len(),
        1,
        "[{section}] {key}= should be set exactly once, found {v:?}"
    );
    v[0]
}

fn systemd_analyze_verify(unit: &Path) -> Output {
    let exe = std::env::var("SYSTEMD_ANALYZE").unwrap_or_else(|_| "systemd-analyze".into());
    Command::new(&exe)
        .args(["verify", "--man=no"])
        .arg(unit)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {exe} ({e}); install it: apt-get install systemd"))
}

/// Writes the unit with ExecStart's program replaced by this crate's binary.
fn verifiable_copy(dir: &Path, text: &str) -> PathBuf {
    let bin = env!("CARGO_BIN_EXE_contactd");
    let mut rewritten = 0;
    let body: String = text
        .lines()
        .map(|l| match l.strip_prefix("ExecStart=") {
            Some(cmd) => {
                rewritten += 1;
                let args = cmd.split_once(' ').map(|(_, a)| a).unwrap_or("");
                format!("ExecStart={bin} {args}\n")
            }
            None => format!("{l}\n"),
        })
        .collect();
    assert_eq!(rewritten, 1, "expected one ExecStart= line");
    let path = dir.join("contactd.service");
    std::fs::write(&path, body).unwrap();
    path
}

/// Lines of verify's output that are about our unit (it may also talk about others).
fn complaints(out: &Output) -> Vec<String> {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    all.lines()
        .filter(|l| l.contains("contactd"))
        .map(str::to_string)
        .collect()
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    let tmp = tempfile::tempdir().unwrap();
    let unit = verifiable_copy(tmp.path(), &unit_text());
    let out = systemd_analyze_verify(&unit);
    let said = complaints(&out);
    assert!(
        out.status.success() && said.is_empty(),
        "systemd-analyze verify {}: {}\n{}\n{}",
        unit.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// verify only warns (exit 0) about unknown keys: make sure such a warning is caught here.
#[test]
fn systemd_analyze_verify_catches_a_bad_key() {
    let tmp = tempfile::tempdir().unwrap();
    let text = unit_text().replace("[Service]\n", "[Service]\nProtectSytem=strict\n");
    let unit = verifiable_copy(tmp.path(), &text);
    let out = systemd_analyze_verify(&unit);
    assert!(
        complaints(&out).iter().any(|l| l.contains("ProtectSytem")),
        "systemd-analyze verify did not report an unknown key: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_true(v: &str) -> bool {
    matches!(v, "yes" | "true" | "on" | "1")
}

/// Seconds of a systemd time span such as `90s`, `90`, `1min 30s`, `2m`.
fn seconds(span: &str) -> u64 {
    let mut total = 0;
    for part in span.split_whitespace() {
        let split = part
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(part.len());
        let (n, unit) = part.split_at(split);
        let n: u64 = n
            .parse()
            .unwrap_or_else(|_| panic!("bad time span {span:?}"));
        total += n * match unit {
            "" | "s" | "sec" => 1,
            "m" | "min" => 60,
            "h" | "hr" => 3600,
            _ => panic!("unit of {span:?} not understood by this test"),
        };
    }
    total
}

#[test]
fn unit_keeps_its_contract_with_the_daemon() {
    let unit = parse_unit(&unit_text());
    let svc = |k| value(&unit, "Service", k);

    for (k, want) in [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        // the package's path; `make install` rewrites it to its PREFIX (tests/install.rs)
        (
            "ExecStart",
            "/usr/bin/contactd --config /etc/contactd/contactd.toml run",
        ),
        ("WatchdogSec", "30s"),
        ("Restart", "on-failure"),
        ("KillSignal", "SIGTERM"),
        ("User", "contactd"),
        ("Group", "contactd"),
        ("StateDirectory", "contactd"),
        ("UMask", "0027"),
        ("LimitNOFILE", "65536"),
    ] {
        assert_eq!(svc(k), want, "[Service] {k}=");
    }
    // config errors (78) and a schema needing setup-db (65) are not retried forever
    let mut no_restart: Vec<&str> = svc("RestartPreventExitStatus").split_whitespace().collect();
    no_restart.sort_unstable();
    assert_eq!(no_restart, ["65", "78"], "RestartPreventExitStatus=");
    let stop = seconds(svc("TimeoutStopSec"));
    assert!(
        stop > DRAIN_GRACE_SECS,
        "TimeoutStopSec={stop}s must exceed the {DRAIN_GRACE_SECS}s call drain"
    );
    assert!(
        svc("ReadWritePaths")
            .split_whitespace()
            .any(|p| p.trim_start_matches('-') == "/var/lib/contactd/recordings"),
        "ReadWritePaths= must include the recordings dir"
    );
    // logs go to the journal, not to files
    assert!(
        values(&unit, "Service", "LogsDirectory").is_empty(),
        "no LogsDirectory=: logs go to the journal"
    );
    for k in ["StandardOutput", "StandardError"] {
        assert!(values(&unit, "Service", k)
            .iter()
            .all(|v| !v.starts_with("file:") && !v.starts_with("append:")));
    }

    let after: Vec<&str> = values(&unit, "Unit", "After")
        .iter()
        .flat_map(|v| v.split_whitespace())
        .collect();
    for dep in [
        "network-online.target",
        "postgresql.service",
        "redis-server.service",
        "freeswitch.service",
    ] {
        assert!(after.contains(&dep), "After= lacks {dep}");
    }
    let wants: Vec<&str> = values(&unit, "Unit", "Wants")
        .iter()
        .flat_map(|v| v.split_whitespace())
        .collect();
    assert!(
        wants.contains(&"network-online.target"),
        "Wants= lacks network-online.target"
    );
}

#[test]
fn unit_is_hardened() {
    let unit = parse_unit(&unit_text());
    let svc = |k| value(&unit, "Service", k);

    for k in [
        "NoNewPrivileges",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "RestrictNamespaces",
        "LockPersonality",
        "MemoryDenyWriteExecute",
        "RestrictRealtime",
        "RestrictSUIDSGID",
    ] {
        assert!(
            is_true(svc(k)),
            "[Service] {k}= must be yes, is {:?}",
            svc(k)
        );
    }
    assert_eq!(svc("ProtectSystem"), "strict");
    assert_eq!(svc("SystemCallArchitectures"), "native");
    assert_eq!(svc("SystemCallFilter"), "@system-service");
    assert_eq!(svc("CapabilityBoundingSet"), "", "no capabilities at all");
    let mut families: Vec<&str> = svc("RestrictAddressFamilies").split_whitespace().collect();
    families.sort_unstable();
    assert_eq!(families, ["AF_INET", "AF_INET6", "AF_UNIX"]);
}

#[test]
fn sysusers_and_tmpfiles_match_the_unit() {
    // debhelper's names: cargo-deb installs them as {sysusers,tmpfiles}.d/contactd.conf
    let sysusers = std::fs::read_to_string(systemd_dir().join("contactd.sysusers")).unwrap();
    assert!(
        sysusers
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["u", "contactd"])),
        "contactd.sysusers must declare the contactd user"
    );
    let tmpfiles = std::fs::read_to_string(systemd_dir().join("contactd.tmpfile")).unwrap();
    let has = |kind: &str, path: &str, mode: &str, user: &str, group: &str| {
        tmpfiles.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 5 && f[..5] == [kind, path, mode, user, group]
        })
    };
    assert!(
        has(
            "d",
            "/var/lib/contactd/recordings",
            "2770",
            "contactd",
            "contactd"
        ),
        "contactd.tmpfile must create /var/lib/contactd/recordings owned by contactd"
    );
    // User=contactd must be able to read the config root installs, and nobody else
    assert!(
        has(
            "z",
            "/etc/contactd/contactd.toml",
            "0640",
            "root",
            "contactd"
        ),
        "contactd.tmpfile must make /etc/contactd/contactd.toml root:contactd 0640"
    );
}
