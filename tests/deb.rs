//! Guards the Debian package (`make deb`, cargo-deb metadata in Cargo.toml): it installs with
//! `dpkg -i` on this machine, its postinst creates the contactd user, the config is a
//! conffile the daemon's user can read once tmpfiles has run, the installed unit verifies,
//! `contactd check-config` accepts the installed config, and `dpkg --purge` takes it all away.
//!
//! The package is built around this test's debug binary (`make deb BIN=...`): no release
//! build. Needs root (dpkg) and cargo-deb (`make tools`). The contactd user, which the purge
//! leaves (Debian keeps system users), is removed again when this test created it; tmpfiles
//! runs for /etc/contactd only (other tests' daemons share /var/lib/contactd).
use crate::install_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use install_support::{make, test_binary, text};

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

fn installed() -> bool {
    run("dpkg-query", &["-W", "-f=${Status}", "contactd"])
        .stdout
        .starts_with(b"install ok installed")
}

/// dpkg, waiting for the dpkg lock if apt or another test holds it.
fn dpkg(args: &[&str]) -> Output {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let out = run("dpkg", args);
        let locked = String::from_utf8_lossy(&out.stderr).contains("lock");
        if out.status.success() || !locked || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn user_exists(name: &str) -> bool {
    run("getent", &["passwd", name]).status.success()
}

/// Undoes what the test added, also when an assertion failed half-way.
struct Cleanup {
    user_was_there: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if installed() || run("dpkg-query", &["-W", "contactd"]).status.success() {
            let out = dpkg(&["--purge", "contactd"]);
            if !out.status.success() {
                eprintln!("dpkg --purge contactd: {}", text(&out));
            }
        }
        if !self.user_was_there && user_exists("contactd") {
            let _ = run("userdel", &["contactd"]);
            let _ = run("groupdel", &["contactd"]);
        }
    }
}

#[test]
fn the_package_installs_checks_its_config_and_purges() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let _lock = install_support::lock();
    assert!(
        !installed(),
        "a contactd package is already installed on this machine: this test would replace it"
    );
    assert_eq!(
        run("id", &["-u"]).stdout,
        b"0\n",
        "dpkg -i needs root (CI and the test machine run as root)"
    );
    let _cleanup = Cleanup {
        user_was_there: user_exists("contactd"),
    };

    make(&[
        "deb",
        &format!("BIN={}", test_binary()),
        &format!("DEB_TARGET={}", tmp.path().join("target").display()),
        &format!("DEB_OUT={}", out_dir.display()),
    ]);
    let debs: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "one .deb in {}: {debs:?}", out_dir.display());
    let deb = debs[0].to_str().unwrap();

    let out = dpkg(&["-i", deb]);
    assert!(out.status.success(), "dpkg -i: {}", text(&out));
    assert!(installed());
    assert!(user_exists("contactd"), "postinst runs systemd-sysusers");

    // the layout the unit, the config and the README rely on
    for f in [
        "/usr/bin/contactd",
        "/usr/lib/systemd/system/contactd.service",
        "/usr/lib/sysusers.d/contactd.conf",
        "/usr/lib/tmpfiles.d/contactd.conf",
        "/etc/contactd/contactd.toml",
        "/usr/share/contactd/contactd.example.toml",
        "/usr/share/contactd/sql/001_calls.sql",
        "/usr/share/contactd/fs-conf/freeswitch.xml",
        "/usr/share/contactd/fs-conf/autoload_configs/tdm/freetdm.xml",
        "/usr/share/contactd/fs-conf/dialplan/internal.xml",
        "/usr/share/contactd/dialplans/from-trunk.xml",
    ] {
        assert!(Path::new(f).is_file(), "{f} not installed");
    }
    for dir in [
        "/usr/share/contactd/prompts/ru",
        "/usr/share/contactd/prompts/en",
        "/usr/share/contactd/music/8000",
    ] {
        let n = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .count();
        assert!(n > 0, "{dir} is empty");
    }
    let conffiles = run("dpkg-query", &["-W", "-f=${Conffiles}", "contactd"]);
    assert!(
        String::from_utf8_lossy(&conffiles.stdout).contains("/etc/contactd/contactd.toml"),
        "the config is a conffile: {}",
        text(&conffiles)
    );
    let meta = std::fs::metadata("/etc/contactd/contactd.toml").unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);

    let said = install_support::verify_unit(
        Path::new("/usr/lib/systemd/system/contactd.service"),
        Path::new("/usr/bin/contactd"),
        tmp.path(),
    );
    assert!(said.is_empty(), "systemd-analyze verify: {said:?}");
    assert_eq!(
        install_support::exec_start(Path::new("/usr/lib/systemd/system/contactd.service")),
        "/usr/bin/contactd --config /etc/contactd/contactd.toml run"
    );

    let out = run(
        "/usr/bin/contactd",
        &["check-config", "--config", "/etc/contactd/contactd.toml"],
    );
    assert!(out.status.success(), "check-config: {}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("config OK"));

    // postinst runs tmpfiles only under a running systemd (and boot does): run its /etc
    // lines, after which the daemon's user reads the config and nobody else does
    let out = run(
        "systemd-tmpfiles",
        &["--create", "--prefix=/etc/contactd", "contactd.conf"],
    );
    assert!(out.status.success(), "systemd-tmpfiles: {}", text(&out));
    let meta = std::fs::metadata("/etc/contactd/contactd.toml").unwrap();
    let gid = String::from_utf8_lossy(&run("id", &["-g", "contactd"]).stdout)
        .trim()
        .parse::<u32>()
        .unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, gid), "root:contactd");
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    let out = run(
        "runuser",
        &[
            "-u",
            "contactd",
            "--",
            "/usr/bin/contactd",
            "check-config",
            "--config",
            "/etc/contactd/contactd.toml",
        ],
    );
    assert!(
        out.status.success(),
        "check-config as user contactd: {}",
        text(&out)
    );

    let out = dpkg(&["--purge", "contactd"]);
    assert!(out.status.success(), "dpkg --purge: {}", text(&out));
    assert!(!installed());
    for f in ["/usr/bin/contactd", "/etc/contactd/contactd.toml"] {
        assert!(!Path::new(f).exists(), "{f} left after purge");
    }
}
