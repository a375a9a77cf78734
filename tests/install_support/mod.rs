//! Shared by tests/install.rs and tests/deb.rs: `make` run the way a sysadmin runs it, one at
//! a time (both write target/prompts; dpkg has one database per machine).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary this test build made: installed and packaged instead of a release build.
pub fn test_binary() -> &'static str {
    env!("CARGO_BIN_EXE_contactd")
}

/// Held until dropped: an exclusive `flock` on a file shared by the install tests of every
/// checkout using this target dir (a child `flock` holds it while its stdin is open).
pub struct Lock(Child);

pub fn lock() -> Lock {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("install-tests.lock");
    let mut child = Command::new("flock")
        .arg("-x")
        .arg(&path)
        .args(["sh", "-c", "echo locked; exec cat >/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run flock (util-linux)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked", "flock {}", path.display());
    Lock(child)
}

impl Drop for Lock {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.0.stdin.take() {
            let _ = stdin.flush();
        }
        let _ = self.0.wait();
    }
}

/// `make ARGS` in the repository, without the outer make's flags (`make test` runs us).
pub fn make(args: &[&str]) -> Output {
    let out = Command::new("make")
        .arg("--no-print-directory")
        .args(args)
        .current_dir(manifest_dir())
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .output()
        .expect("run make");
    assert!(
        out.status.success(),
        "make {}: {}\n{}\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// stdout and stderr together, for messages.
pub fn text(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `systemd-analyze verify` of `unit` (with its ExecStart program replaced by `program`,
/// which must exist: verify checks it); returns the lines about contactd.
pub fn verify_unit(unit: &Path, program: &Path, dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(unit).unwrap();
    let body: String = text
        .lines()
        .map(|l| match l.strip_prefix("ExecStart=") {
            Some(cmd) => {
                let args = cmd.split_once(' ').map(|(_, a)| a).unwrap_or("");
                format!("ExecStart={} {args}\n", program.display())
            }
            None => format!("{l}\n"),
        })
        .collect();
    let copy = dir.join("contactd.service");
    std::fs::write(&copy, body).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .expect("systemd-analyze (apt-get install systemd)");
    let all = text_lines(&out);
    assert!(out.status.success(), "systemd-analyze verify: {all:?}");
    all.into_iter().filter(|l| l.contains("contactd")).collect()
}

fn text_lines(out: &Output) -> Vec<String> {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .lines()
    .map(str::to_string)
    .collect()
}

/// The ExecStart= program of a unit file.
pub fn exec_start(unit: &Path) -> String {
    std::fs::read_to_string(unit)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap_or_else(|| panic!("no ExecStart= in {}", unit.display()))
        .to_string()
}

/// Every file below `dir`, relative to it, sorted.
pub fn files_below(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
