//! A real SMTP server for tests: aiosmtpd from the project's `.venv`, run by
//! `tests/support/smtp_sink.py`, one JSON file per received message.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

pub struct Sink {
    _child: tokio::process::Child,
    dir: tempfile::TempDir,
}
/// The attachment of a parsed message whose file name ends with `suffix`.
pub fn attachment<'a>(m: &'a Value, suffix: &str) -> &'a Value {
    m["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["filename"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no {suffix} attachment in {:#}", m["attachments"]))
}

/// A binary attachment's `content_hex`, as bytes.
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

pub use contactd::store::scratch::free_port;

impl Sink {
    /// Starts aiosmtpd on `port` and waits until it accepts connections.
    pub async fn start(port: u16, reply: Option<&str>) -> Sink {
        let ok = std::process::Command::new(python())
            .args(["-c", "import aiosmtpd"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "{} cannot import aiosmtpd: run `make test` (scripts/tools.sh installs it)",
            python().display()
        );
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("sink.log")).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut cmd = tokio::process::Command::new(python());
        cmd.arg(script)
            .args(["--port", &port.to_string()])
            .arg("--dir")
            .arg(dir.path().join("mail"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        if let Some(r) = reply {
            cmd.args(["--reply", r]);
        }
        let mut child = cmd.spawn().expect("spawn smtp_sink.py");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            let exited = child.try_wait().unwrap();
            if exited.is_some() || tokio::time::Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.path().join("sink.log")).unwrap_or_default();
                panic!("smtp_sink.py did not start on port {port} ({exited:?}):\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Sink { _child: child, dir }
    }

    /// Messages received so far, in arrival order.
    pub fn messages(&self) -> Vec<Value> {
        let Ok(rd) = std::fs::read_dir(self.dir.path().join("mail")) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}
