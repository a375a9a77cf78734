//! contactd's voice prompts for the tests that run it against the simulator, which refuses
//! sound files that do not exist, as FreeSWITCH does. `scripts/prompts.sh` generates them
//! once per checkout into `target/test-prompts` (about 5 s, espeak-ng and sox, which
//! `scripts/tools.sh` installs), again whenever the script changes; a file lock keeps test
//! binaries running at the same time from generating them twice. Self-contained, so the
//! benchmarks can include it too.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The generated prompts (`<dir>/<lang>/<name>.wav`, music on hold in `music/8000`): what
/// `[prompts] dir` of a test's config names.
pub fn dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(generate).clone()
}

/// A prompt's path, e.g. `file("en", "goodbye")`.
pub fn file(lang: &str, name: &str) -> String {
    dir()
        .join(lang)
        .join(format!("{name}.wav"))
        .display()
        .to_string()
}

/// Every generated prompt played for `ms` (the simulator's `media_ms`), for tests whose
/// timing must not depend on how long espeak-ng speaks each text.
pub fn lengths(ms: u64) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    let mut stack = vec![dir()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "wav") {
                out.insert(p.display().to_string(), ms);
            }
        }
    }
    out
}

fn script_hash(script: &Path) -> String {
    let text = std::fs::read(script).unwrap_or_else(|e| panic!("read {}: {e}", script.display()));
    Sha256::digest(&text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An exclusive `flock` on a file, held by a child `flock` (util-linux) while its stdin is
/// open: released when dropped, or when this process dies (File::lock needs a newer Rust
/// than the crate's MSRV).
struct Lock(std::process::Child);

impl Lock {
    fn take(path: &Path) -> Lock {
        use std::io::BufRead;
        let mut child = std::process::Command::new("flock")
            .arg("-x")
            .arg(path)
            .args(["sh", "-c", "echo locked; exec cat >/dev/null"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run flock (util-linux)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked", "flock {}", path.display());
        Lock(child)
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

fn generate() -> PathBuf {
    let root = root();
    let script = root.join("scripts/prompts.sh");
    let out = root.join("target/test-prompts");
    let stamp = out.join(".stamp");
    let want = script_hash(&script);
    let fresh = || std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == want);
    if fresh() {
        return out;
    }
    std::fs::create_dir_all(root.join("target")).unwrap();
    let lock = Lock::take(&root.join("target/test-prompts.lock"));
    // another test binary may have made them while this one waited
    if !fresh() {
        let tmp = root.join(format!("target/test-prompts.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let run = std::process::Command::new("bash")
            .arg(&script)
            .arg(&tmp)
            .current_dir(&root)
            .output()
            .expect("run scripts/prompts.sh");
        assert!(
            run.status.success(),
            "scripts/prompts.sh failed (espeak-ng and sox come with scripts/tools.sh):\n{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        std::fs::write(tmp.join(".stamp"), &want).unwrap();
        let _ = std::fs::remove_dir_all(&out);
        std::fs::rename(&tmp, &out).unwrap();
    }
    drop(lock);
    out
}
