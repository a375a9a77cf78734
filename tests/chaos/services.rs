//! Throwaway PostgreSQL and Redis for the fault matrix, on free ports under a scratch
//! directory: a PostgreSQL cluster made with `initdb` / `pg_ctl` (run as the `postgres` user
//! when we are root: initdb refuses root) that the scenarios stop and start, and one
//! `redis-server` child per scenario that they shut down, pause and restart. Everything is
//! also registered for [`cleanup_all`], which the harness runs at the end, on panic and on
//! Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What to undo if the harness dies: PostgreSQL data dirs to stop, pids to kill, dirs to remove.
#[derive(Default)]
struct Registry {
    pg: Vec<(PathBuf, PathBuf, bool)>,
    pids: Vec<u32>,
    dirs: Vec<PathBuf>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    pg: Vec::new(),
    pids: Vec::new(),
    dirs: Vec::new(),
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Register a process to kill on cleanup.
pub fn register_pid(pid: u32) {
    registry().pids.push(pid);
}

/// Forget a process that has exited (its pid may be reused).
pub fn forget_pid(pid: u32) {
    registry().pids.retain(|p| *p != pid);
}

/// Kill every registered process, stop every registered cluster, remove scratch dirs.
pub fn cleanup_all() {
    let (pg, pids, dirs) = {
        let mut r = registry();
        (
            std::mem::take(&mut r.pg),
            std::mem::take(&mut r.pids),
            std::mem::take(&mut r.dirs),
        )
    };
    for pid in pids {
        signal(pid, "CONT");
        signal(pid, "KILL");
    }
    for (bin, data, as_pg) in pg {
        let _ = pg_command(&bin, "pg_ctl", as_pg)
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "-t", "20", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// `kill -<sig> <pid>`.
pub fn signal(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub use contactd::store::scratch::free_port;

/// A scratch directory everybody can enter (the postgres user writes under it).
pub fn scratch_root() -> PathBuf {
    let base = std::env::temp_dir().join(format!(
        "contactd-chaos-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    ));
    std::fs::create_dir_all(&base).expect("scratch dir");
    set_mode(&base, 0o755);
    registry().dirs.push(base.clone());
    base
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// uid and gid of the `postgres` user, from /etc/passwd.
fn postgres_ids() -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&"postgres") && f.len() > 3)
            .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .flatten()
    })
}

/// The newest `/usr/lib/postgresql/*/bin` with initdb and pg_ctl.
fn pg_bin() -> Result<PathBuf, String> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("/usr/lib/postgresql: {e} (run `make services`)"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((v, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, b)| b)
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".into())
}

fn pg_command(bin: &Path, prog: &str, as_postgres: bool) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(prog));
        c
    } else {
        Command::new(bin.join(prog))
    }
}

fn run(mut c: Command, what: &str) -> Result<(), String> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A throwaway PostgreSQL cluster (trust auth, 127.0.0.1 only).
pub struct Pg {
    bin: PathBuf,
    data: PathBuf,
    sock: PathBuf,
    log: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

impl Pg {
    /// initdb under `root/pg` and start it.
    pub fn init(root: &Path) -> Result<Pg, String> {
        let bin = pg_bin()?;
        let as_postgres = is_root();
        let dir = root.join("pg");
        let data = dir.join("data");
        let sock = dir.join("sock");
        std::fs::create_dir_all(&sock).map_err(|e| e.to_string())?;
        if as_postgres {
            let (uid, gid) = postgres_ids().ok_or("no postgres user in /etc/passwd")?;
            for d in [&dir, &sock] {
                std::os::unix::fs::chown(d, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
            }
        }
        set_mode(&dir, 0o700);
        let mut c = pg_command(&bin, "initdb", as_postgres);
        c.arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
        run(c, "initdb")?;
        let pg = Pg {
            bin: bin.clone(),
            log: dir.join("server.log"),
            data: data.clone(),
            sock,
            port: free_port(),
            as_postgres,
        };
        registry().pg.push((bin, data, as_postgres));
        pg.start()?;
        Ok(pg)
    }

    /// `pg_ctl start` (waits until it accepts connections).
    pub fn start(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200",
            self.port,
            self.sock.display()
        );
        let mut c = pg_command(&self.bin, "pg_ctl", self.as_postgres);
        c.arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-o", &opts, "-w", "-t", "60", "start"]);
        run(c, "pg_ctl start")
    }

    /// `pg_ctl stop -m fast` (waits until it is down).
    pub fn stop(&self) -> Result<(), String> {
        let mut c = pg_command(&self.bin, "pg_ctl", self.as_postgres);
        c.arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "-t", "60", "stop"]);
        run(c, "pg_ctl stop")
    }

    /// URL of a database on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A fresh, empty database.
    pub async fn create_db(&self, db: &str) -> Result<(), String> {
        let (client, conn) = tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
            .await
            .map_err(|e| e.to_string())?;
        let h = tokio::spawn(conn);
        let mut r = Ok(());
        // one statement each: CREATE DATABASE cannot run inside a transaction block
        for q in [
            format!("DROP DATABASE IF EXISTS {db}"),
            format!("CREATE DATABASE {db}"),
        ] {
            if let Err(e) = client.batch_execute(&q).await {
                r = Err(pg_error(&e));
                break;
            }
        }
        drop(client);
        let _ = h.await;
        r
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = pg_command(&self.bin, "pg_ctl", self.as_postgres)
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "-t", "20", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        registry().pg.retain(|(_, d, _)| d != &self.data);
    }
}

/// A PostgreSQL error with the server's message.
pub fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{e}: {}", d.message()),
        None => e.to_string(),
    }
}

/// A private `redis-server` (no persistence except an explicit `SHUTDOWN SAVE`).
pub struct Redis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Redis {
    /// Start on a free port with its dump under `dir`.
    pub fn start(dir: &Path) -> Result<Redis, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let mut r = Redis {
            port: free_port(),
            dir: dir.to_path_buf(),
            child: None,
        };
        r.spawn()?;
        Ok(r)
    }

    /// The server's pid (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Start the server again on the same port (loads `dump.rdb` if there is one).
    pub fn spawn(&mut self) -> Result<(), String> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args([
                "--dbfilename",
                "dump.rdb",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-server: {e} (run `make services`)"))?;
        register_pid(child.id());
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.cli(&["PING"]).is_some_and(|o| o.trim() == "PONG") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("redis-server on port {} did not answer", self.port))
    }

    /// `redis-cli -p PORT ARGS...`, its stdout if it ran.
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).to_string())
    }

    /// `SHUTDOWN SAVE` or `SHUTDOWN NOSAVE`, then wait for the process to exit.
    pub fn shutdown(&mut self, save: bool) {
        let _ = self.cli(&["SHUTDOWN", if save { "SAVE" } else { "NOSAVE" }]);
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            forget_pid(c.id());
        }
    }

    /// Remove the dump file (a restart then starts empty).
    pub fn delete_dump(&self) {
        let _ = std::fs::remove_file(self.dir.join("dump.rdb"));
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id(), "CONT");
            let _ = c.kill();
            let _ = c.wait();
            forget_pid(c.id());
        }
    }
}
