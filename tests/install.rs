//! Guards the install path of the README ("Running it for real") as a sysadmin follows it:
//! `make install` into a DESTDIR puts every file where the unit and the example config look;
//! the installed unit passes `systemd-analyze verify`; the installed binary accepts the
//! installed config, creates its database with `contactd setup-db` (an owner role for the
//! schema, the daemon's role with row rights only), is migrated as the owner, and starts as
//! the daemon's role until /healthz says 200, then stops cleanly on SIGTERM.
//!
//! `make install BIN=<this test build>` installs the debug binary: no release build here.
use crate::common;
use crate::install_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use install_support::{exec_start, files_below, make, manifest_dir, test_binary, text};

use contactd::store::scratch::free_port;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// The installed binary with only the environment a unit would give it.
fn installed(root: &Path) -> Command {
    let mut c = Command::new(root.join("usr/bin/contactd"));
    for (k, _) in std::env::vars() {
        if k.starts_with("CONTACTD") || k == "RUST_LOG" || k == "NOTIFY_SOCKET" {
            c.env_remove(k);
        }
    }
    c
}

/// Roles and a database made by setup-db, dropped at the end even if the test fails.
struct Cluster {
    server: tokio_postgres::Config,
    db: String,
    owner: String,
    app: String,
    prefix: String,
}

impl Cluster {
    fn url(&self, user: &str, password: &str) -> String {
        let host = match &self.server.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        };
        let port = self.server.get_ports().first().copied().unwrap_or(5432);
        format!(
            "host={host} port={port} user={user} password={password} dbname={}",
            self.db
        )
    }

    fn superuser_url(&self, db: &str) -> String {
        let mut cfg = self.server.clone();
        cfg.dbname(db);
        let host = match &cfg.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        };
        let port = cfg.get_ports().first().copied().unwrap_or(5432);
        let user = cfg.get_user().unwrap_or("postgres");
        let password = cfg
            .get_password()
            .map(|p| format!(" password={}", String::from_utf8_lossy(p)))
            .unwrap_or_default();
        format!("host={host} port={port} user={user}{password} dbname={db}")
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    tokio::spawn(conn);
    client
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let admin = self.superuser_url("postgres");
        let (db, owner, app, prefix) = (
            self.db.clone(),
            self.owner.clone(),
            self.app.clone(),
            self.prefix.clone(),
        );
        let _ = std::thread::spawn(move || {
            block_on(async move {
                let c = connect(&admin).await;
                // names are ours: [a-z_] only
                let _ = c
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                    .await;
                let _ = c
                    .batch_execute(&format!("DROP ROLE IF EXISTS {app}, {owner}"))
                    .await;
                if let Ok(live) =
                    contactd::store::redis::LiveState::connect(&common::redis_url(), &prefix).await
                {
                    let _ = live.purge_prefix().await;
                }
            })
        })
        .join();
    }
}

/// Writes a 0600 password file.
fn secret_file(dir: &Path, name: &str, secret: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("{secret}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn assert_ok(what: &str, out: &Output) {
    assert!(out.status.success(), "{what}: {}", text(out));
}

fn assert_quiet(what: &str, out: &Output, secrets: &[&str]) {
    let all = text(out);
    for s in secrets {
        assert!(!all.contains(s), "{what} printed a password:\n{all}");
    }
    // tokio-postgres logs the server's NOTICEs as INFO lines ("... already exists, skipping")
    assert!(
        !all.contains("NOTICE") && !all.contains("skipping"),
        "{what} printed the server's notices:\n{all}"
    );
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    let code = body.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body))
}

/// Kills a child left running by a failed assertion.
struct Running(Child, PathBuf);

impl Running {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.1).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn installed_tree_verifies_sets_up_its_database_and_runs_as_the_daemon_role() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    {
        let _lock = install_support::lock();
        make(&[
            "install",
            &format!("DESTDIR={}", root.display()),
            "PREFIX=/usr",
            &format!("BIN={}", test_binary()),
        ]);
    }

    // Every file where the unit, the config and the README say.
    let bin = root.join("usr/bin/contactd");
    assert_eq!(mode(&bin), 0o755);
    let unit = root.join("etc/systemd/system/contactd.service");
    assert_eq!(
        exec_start(&unit),
        "/usr/bin/contactd --config /etc/contactd/contactd.toml run"
    );
    assert_eq!(mode(&root.join("usr/lib/sysusers.d/contactd.conf")), 0o644);
    assert_eq!(mode(&root.join("usr/lib/tmpfiles.d/contactd.conf")), 0o644);
    let config = root.join("etc/contactd/contactd.toml");
    assert_eq!(mode(&config), 0o640, "the config holds secrets");
    let share = root.join("usr/share/contactd");
    for f in [
        "contactd.example.toml",
        "sql/001_calls.sql",
        "fs-conf/freeswitch.xml",
        "fs-conf/vars.xml",
        "fs-conf/autoload_configs/modules.conf.xml",
        "fs-conf/autoload_configs/tdm/freetdm.xml",
        "fs-conf/dialplan/internal.xml",
        "dialplans/internal.xml",
    ] {
        assert!(share.join(f).is_file(), "{f} not installed");
    }
    let sql: Vec<String> = files_below(&manifest_dir().join("sql"));
    assert_eq!(files_below(&share.join("sql")), sql, "sql/ installed whole");
    // prompts where the installed config's prompts.dir says, music on hold beside them
    let cfg = contactd::config::Config::load(Some(&config)).expect("installed config loads");
    let prompts_dir = root.join(cfg.prompts.dir.strip_prefix("/").unwrap());
    let generated = manifest_dir().join("target/prompts");
    for lang in ["ru", "en"] {
        let want = files_below(&generated.join(lang));
        assert!(!want.is_empty(), "no {lang} prompts generated");
        assert_eq!(
            files_below(&prompts_dir.join(lang)),
            want,
            "{lang} prompts installed in prompts.dir"
        );
    }
    let moh = files_below(&share.join("music/8000"));
    assert!(
        !moh.is_empty() && moh.iter().all(|f| f.ends_with(".wav")),
        "music on hold: {moh:?}"
    );

    // The installed unit, with its ExecStart program found under DESTDIR.
    let said = install_support::verify_unit(&unit, &bin, tmp.path());
    assert!(said.is_empty(), "systemd-analyze verify: {said:?}");

    // The installed binary accepts the installed config as shipped.
    let out = installed(&root)
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_ok("check-config", &out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("config OK"));

    // Database: setup-db as the superuser, migrate as the owner, the daemon as its role.
    let id = contactd::store::scratch::run_id();
    let server: tokio_postgres::Config = common::pg_server().parse().unwrap();
    let cluster = Cluster {
        server,
        db: format!("contactd_inst_{id}"),
        owner: format!("contactd_inst_{id}_owner"),
        app: format!("contactd_inst_{id}_app"),
        prefix: format!("contactd_test:{id}:"),
    };
    let app_secret = format!("app-{}-{}", id, contactd::store::scratch::run_id());
    let owner_secret = format!("own-{}-{}", id, contactd::store::scratch::run_id());
    let app_pw = secret_file(tmp.path(), "app.pw", &app_secret);
    let owner_pw = secret_file(tmp.path(), "owner.pw", &owner_secret);
    let secrets = [app_secret.as_str(), owner_secret.as_str()];
    let setup_db = |extra: &[&str]| {
        installed(&root)
            .arg("setup-db")
            .args(["--admin-url", &cluster.superuser_url("postgres")])
            .args(["--database", &cluster.db])
            .args(["--owner", &cluster.owner])
            .args(["--app-role", &cluster.app])
            .arg("--app-password-file")
            .arg(&app_pw)
            .arg("--owner-password-file")
            .arg(&owner_pw)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = setup_db(&["--no-migrate"]);
    assert_ok("setup-db --no-migrate", &out);
    assert_quiet("setup-db", &out, &secrets);
    let app_url = cluster.url(&cluster.app, &app_secret);
    let owner_url = cluster.url(&cluster.owner, &owner_secret);
    let migrate = |url: &str| {
        installed(&root)
            .args(["migrate", "--config"])
            .arg(&config)
            .env("CONTACTD__POSTGRES__URL", url)
            .output()
            .unwrap()
    };
    // the daemon's role cannot build the schema, and says who can
    let out = migrate(&app_url);
    assert_eq!(out.status.code(), Some(65), "{}", text(&out));
    assert!(text(&out).contains("setup-db"), "{}", text(&out));
    assert_quiet("migrate as the daemon's role", &out, &secrets);
    // the owner can; a second run has nothing to do and prints no notices
    let out = migrate(&owner_url);
    assert_ok("migrate as the owner", &out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied: 001_calls.sql"));
    assert_quiet("migrate", &out, &secrets);
    let out = migrate(&owner_url);
    assert_ok("migrate again", &out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("schema up to date"));
    assert_quiet("migrate again", &out, &secrets);
    // setup-db again (as after an upgrade): idempotent, migrations included
    let out = setup_db(&[]);
    assert_ok("setup-db again", &out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("schema up to date"),
        "{}",
        text(&out)
    );
    assert_quiet("setup-db again", &out, &secrets);
    let out = migrate(&app_url);
    assert_ok("the daemon's role checks an up-to-date schema", &out);
    assert_quiet("migrate as the daemon's role", &out, &secrets);

    check_privileges(&cluster, &app_url);

    // A real start: installed binary, installed config, its own database, Redis prefix and
    // simulated switch; READY=1, /healthz 200, SIGTERM, exit 0.
    let esl = free_port();
    let sim_log = tmp.path().join("sim.log");
    let sim = Running(
        installed(&root)
            .args(["sim", "--listen", &format!("127.0.0.1:{esl}")])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&sim_log).unwrap())
            .spawn()
            .unwrap(),
        sim_log,
    );
    let http = free_port();
    let notify_path = tmp.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let state = tmp.path().join("state");
    std::fs::create_dir_all(state.join("recordings")).unwrap();
    let log = tmp.path().join("contactd.log");
    let mut daemon = Running(
        installed(&root)
            .args(["--config"])
            .arg(&config)
            .arg("run")
            .env("NOTIFY_SOCKET", &notify_path)
            .env("CONTACTD__POSTGRES__URL", &app_url)
            .env("CONTACTD__REDIS__URL", common::redis_url())
            .env("CONTACTD__REDIS__PREFIX", &cluster.prefix)
            .env("CONTACTD__SWITCH__FS1__PORT", esl.to_string())
            .env("CONTACTD__HTTP__LISTEN", format!("127.0.0.1:{http}"))
            .env(
                "CONTACTD__OUTBOUND__LISTEN",
                format!("127.0.0.1:{}", free_port()),
            )
            .env("CONTACTD__DAEMON__RECORDINGS_DIR", state.join("recordings"))
            .env("CONTACTD__DAEMON__SPOOL_DIR", state.join("spool"))
            .env("CONTACTD__PROMPTS__DIR", &prompts_dir)
            .env("CONTACTD__SHUTDOWN__GRACE_SECONDS", "5")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
        log,
    );
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut buf = [0u8; 4096];
    let mut ready = false;
    while !ready && Instant::now() < deadline {
        if let Ok(n) = notify.recv(&mut buf) {
            ready = String::from_utf8_lossy(&buf[..n])
                .lines()
                .any(|l| l == "READY=1");
        }
        if let Ok(Some(st)) = daemon.0.try_wait() {
            panic!(
                "contactd exited before READY ({st}):\n{}\nsimulator:\n{}",
                daemon.log(),
                sim.log()
            );
        }
    }
    assert!(ready, "no READY=1 within 45 s:\n{}", daemon.log());
    let mut health = None;
    while Instant::now() < deadline {
        health = http_get(http, "/healthz");
        if matches!(health, Some((200, _))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        matches!(health, Some((200, _))),
        "/healthz: {health:?}\n{}",
        daemon.log()
    );
    let st = Command::new("kill")
        .args(["-TERM", &daemon.0.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let stop = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = daemon.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < stop,
            "contactd still running 30 s after SIGTERM:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = daemon.log();
    assert!(status.success(), "exit after SIGTERM: {status}\n{log}");
    for s in secrets {
        assert!(!log.contains(s), "a password reached the log:\n{log}");
    }
    drop(sim);
}

/// What setup-db promised: the owner owns everything, the daemon's role reads and writes rows
/// of every table (also one a later migration adds) and can do nothing else.
fn check_privileges(cluster: &Cluster, app_url: &str) {
    let admin = cluster.superuser_url(&cluster.db);
    let (db, owner, app) = (
        cluster.db.clone(),
        cluster.owner.clone(),
        cluster.app.clone(),
    );
    let app_url = app_url.to_string();
    block_on(async move {
        let su = connect(&admin).await;
        let foreign: Vec<String> = su
            .query(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' \
                 AND tableowner <> $1",
                &[&owner],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(
            foreign.is_empty(),
            "tables not owned by {owner}: {foreign:?}"
        );
        let row = su
            .query_one(
                "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, \
                 pg_has_role($1, $2, 'MEMBER') FROM pg_roles WHERE rolname = $1",
                &[&app, &owner],
            )
            .await
            .unwrap();
        for i in 0..5 {
            assert!(!row.get::<_, bool>(i), "role {app} has attribute #{i}");
        }
        let acl: Option<Vec<String>> = su
            .query_one(
                "SELECT datacl::text[] FROM pg_database WHERE datname = $1",
                &[&db],
            )
            .await
            .unwrap()
            .get(0);
        let acl = acl.unwrap_or_default();
        assert!(
            acl.iter().all(|a| !a.starts_with('=')),
            "PUBLIC may still connect to {db}: {acl:?}"
        );

        let a = connect(&app_url).await;
        a.execute(
            "INSERT INTO dnc (phone, reason, source) VALUES ('+79161234567', 'test', 'cli')",
            &[],
        )
        .await
        .expect("the daemon's role inserts rows");
        let n: i64 = a
            .query_one("SELECT count(*) FROM dnc", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1);
        a.batch_execute("CREATE TEMP TABLE stage (x int); DROP TABLE stage")
            .await
            .expect("temporary tables (list imports stage rows in them)");
        for ddl in [
            "CREATE TABLE intruder (x int)",
            "ALTER TABLE calls ADD COLUMN intruder int",
            "DROP TABLE dnc",
            "TRUNCATE dnc",
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'x', 'x')",
            "DELETE FROM schema_migrations",
        ] {
            let e = a
                .batch_execute(ddl)
                .await
                .expect_err(&format!("the daemon's role may not: {ddl}"));
            assert_eq!(
                e.code(),
                Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
                "{ddl}: {e}"
            );
        }
        // a table a later migration adds (made by the owner) is the daemon's to use at once
        su.batch_execute(&format!(
            "SET ROLE {owner}; CREATE TABLE later_migration (id bigserial PRIMARY KEY, v text); \
             RESET ROLE"
        ))
        .await
        .unwrap();
        a.execute("INSERT INTO later_migration (v) VALUES ('x')", &[])
            .await
            .expect("default privileges cover tables created later");
    });
}

#[test]
fn install_rewrites_paths_for_its_prefix_and_keeps_an_edited_config() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let dest = format!("DESTDIR={}", root.display());
    let bin = format!("BIN={}", test_binary());
    let _lock = install_support::lock();
    make(&["install", &dest, "PREFIX=/usr/local", &bin]);
    assert_eq!(
        exec_start(&root.join("etc/systemd/system/contactd.service")),
        "/usr/local/bin/contactd --config /etc/contactd/contactd.toml run"
    );
    let config = root.join("etc/contactd/contactd.toml");
    let cfg = contactd::config::Config::load(Some(&config)).unwrap();
    assert_eq!(
        cfg.prompts.dir,
        Path::new("/usr/local/share/contactd/prompts")
    );
    assert!(root
        .join("usr/local/share/contactd/prompts/en")
        .read_dir()
        .unwrap()
        .next()
        .is_some());
    // the example's defaults match what setup-db creates
    let url: tokio_postgres::Config = cfg.postgres.url.expose().parse().unwrap();
    assert_eq!(
        url.get_user(),
        Some("contactd"),
        "setup-db --app-role default"
    );
    assert_eq!(
        url.get_dbname(),
        Some("contactd"),
        "setup-db --database default"
    );
    assert!(
        matches!(url.get_hosts(), [tokio_postgres::config::Host::Unix(p)] if p == Path::new("/var/run/postgresql")),
        "the example connects on Debian's local socket (peer authentication)"
    );

    // a second install keeps the site's config and refreshes the example
    let edited = std::fs::read_to_string(&config)
        .unwrap()
        .replace("instance = \"contactd-1\"", "instance = \"site-a\"");
    std::fs::write(&config, &edited).unwrap();
    make(&["install", &dest, "PREFIX=/usr/local", &bin]);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited);
    assert!(root
        .join("usr/local/share/contactd/contactd.example.toml")
        .is_file());
}
