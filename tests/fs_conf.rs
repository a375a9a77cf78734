//! Guards the FreeSWITCH side of contactd (`fs-conf/` + `dialplans/`):
//! - `frslint analyze` finds no issue (no error and no warning);
//! - every documented entry (service short codes, operator feature codes, trunk DIDs)
//!   reaches `socket 127.0.0.1:8084 async full` with `contactd_*` set before it;
//! - numbers the dialplan does not document never reach contactd.
//!
//! frslint (PyPI, pinned 0.1.0) lives in `.venv/` (`make test` installs it) or at `$FRSLINT`.
//! Its `debug` only evaluates `destination_number` conditions, does not apply `set`, and
//! prints `$${name}` as `$name`; `resolve` undoes that with the VARIABLES block it prints.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SOCKET: &str = "127.0.0.1:8084 async full";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn root_conf() -> PathBuf {
    manifest_dir().join("fs-conf").join("freeswitch.xml")
}

fn frslint() -> PathBuf {
    let path = std::env::var_os("FRSLINT")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join(".venv").join("bin").join("frslint"));
    assert!(
        path.is_file(),
        "frslint not found at {} (set $FRSLINT or run `make test`, which installs it into .venv)",
        path.display()
    );
    path
}

fn run_frslint(args: &[&str]) -> Output {
    Command::new(frslint())
        .args(args)
        // its console output has non-ASCII marks; do not depend on the locale
        .env("PYTHONIOENCODING", "utf-8")
        .env("PYTHONUTF8", "1")
        .output()
        .expect("run frslint")
}

fn text(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn analyze(conf: &Path) -> Output {
    run_frslint(&["analyze", conf.to_str().unwrap()])
}

/// What `frslint debug` says one call does.
struct Trace {
    /// Global (`$${...}`) variables, from its VARIABLES block.
    vars: BTreeMap<String, String>,
    /// Applications in order, `(application, data)`, data as frslint printed it.
    actions: Vec<(String, String)>,
    raw: String,
}

impl Trace {
    /// Expands `$${name}` and frslint's rendering of it, `$name`.
    fn resolve(&self, data: &str) -> String {
        let mut keys: Vec<&String> = self.vars.keys().collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.len())); // longest first: no prefix clashes
        let mut out = data.to_string();
        for k in keys {
            let v = &self.vars[k];
            out = out
                .replace(&format!("$${{{k}}}"), v)
                .replace(&format!("${k}"), v);
        }
        out
    }

    fn socket_index(&self) -> Option<usize> {
        self.actions.iter().position(|(app, _)| app == "socket")
    }
}

fn debug(context: &str, number: &str) -> Trace {
    let conf = root_conf();
    let out = run_frslint(&["debug", conf.to_str().unwrap(), number, "-c", context]);
    let raw = text(&out);
    assert!(
        out.status.success(),
        "frslint debug {context} {number} failed:\n{raw}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();

    let mut vars = BTreeMap::new();
    let mut lines = stdout.lines();
    // VARIABLES:\n====\n  key = value ... (blank line ends it)
    while let Some(l) = lines.next() {
        if l.trim() == "VARIABLES:" {
            lines.next();
            for l in lines.by_ref() {
                let Some((k, v)) = l.trim().split_once(" = ") else {
                    break;
                };
                vars.insert(k.to_string(), v.to_string());
            }
            break;
        }
    }
    // the trace follows a line of 60 dashes; condition lines are coloured or start with '>'
    let mut actions = Vec::new();
    let mut in_trace = false;
    for l in stdout.lines() {
        if l.len() >= 60 && l.chars().all(|c| c == '-') {
            in_trace = true;
            continue;
        }
        if !in_trace || l.is_empty() || l.starts_with('\u{1b}') || l.starts_with('>') {
            continue;
        }
        let (app, data) = l.split_once(": ").unwrap_or((l, ""));
        actions.push((app.to_string(), data.to_string()));
    }
    assert!(in_trace, "no trace in frslint debug output:\n{raw}");
    Trace { vars, actions, raw }
}

#[test]
fn frslint_analyze_reports_no_issue() {
    let out = analyze(&root_conf());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("No issues found"),
        "frslint analyze found issues in fs-conf/:\n{}",
        text(&out)
    );
}

/// Copies a tree, following symlinks (fs-conf/dialplan -> ../dialplans).
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if fs::metadata(&src).unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

/// The analyzer must see dialplans/ through the include chain, and must be able to fail.
#[test]
fn frslint_analyze_sees_the_dialplans_and_can_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let conf_dir = tmp.path().join("fs-conf");
    copy_tree(&manifest_dir().join("fs-conf"), &conf_dir);
    fs::write(
        conf_dir.join("dialplan").join("zz-broken.xml"),
        "<include>\n  <context name=\"broken\">\n    <extension name=\"typo\">\n      \
         <condition field=\"destination_number\" expression=\"^399$\">\n        \
         <action application=\"socket\" data=\"$${contactd_sockt} async full\"/>\n      \
         </condition>\n    </extension>\n  </context>\n</include>\n",
    )
    .unwrap();
    let out = analyze(&conf_dir.join("freeswitch.xml"));
    let all = text(&out);
    assert!(
        !out.status.success() && all.contains("contactd_sockt"),
        "frslint analyze did not flag an undefined variable in a dialplan file:\n{all}"
    );
}

struct Entry {
    context: &'static str,
    number: &'static str,
    entry: &'static str,
    code: &'static str,
    /// `contactd_did`, set for trunk calls only.
    did: Option<&'static str>,
}

const fn e(
    context: &'static str,
    number: &'static str,
    entry: &'static str,
    code: &'static str,
) -> Entry {
    Entry {
        context,
        number,
        entry,
        code,
        did: None,
    }
}

const fn trunk(number: &'static str, code: &'static str) -> Entry {
    Entry {
        context: "from-trunk",
        number,
        entry: "trunk",
        code,
        did: Some(number),
    }
}

/// The entries documented in dialplans/internal.xml and dialplans/from-trunk.xml.
const ENTRIES: &[Entry] = &[
    e("internal", "300", "service", "300"),  // pause / resume
    e("internal", "301", "service", "301"),  // voice notice
    e("internal", "302", "service", "302"),  // voice notice with confirmation
    e("internal", "309", "service", "309"),  // progress
    e("internal", "*21", "operator", "*21"), // log in
    e("internal", "*22", "operator", "*22"), // log out
    e("internal", "*23", "operator", "*23"), // break
    e("internal", "*24", "operator", "*24"), // ready
    trunk("250100", "main"),
    trunk("8452250100", "main"),
    trunk("+78452250100", "main"),
    trunk("88452250100", "main"),
    trunk("250200", "readings"),
    trunk("78452250200", "readings"),
];

fn check_entry(en: &Entry) -> Result<(), String> {
    let t = debug(en.context, en.number);
    let fail = |why: String| Err(format!("{} {}: {why}\n{}", en.context, en.number, t.raw));
    if t.vars.get("contactd_socket").map(String::as_str) != Some("127.0.0.1:8084") {
        return fail(format!(
            "global contactd_socket is {:?}",
            t.vars.get("contactd_socket")
        ));
    }
    let Some(at) = t.socket_index() else {
        return fail("never reaches the socket application".into());
    };
    let data = t.resolve(&t.actions[at].1);
    if data != SOCKET {
        return fail(format!("socket data is {data:?}, want {SOCKET:?}"));
    }
    // channel variables as set before the socket (a later set wins, as in FreeSWITCH)
    let mut set = BTreeMap::new();
    for (app, data) in &t.actions[..at] {
        if app == "set" {
            if let Some((k, v)) = data.split_once('=') {
                set.insert(k.to_string(), t.resolve(v));
            }
        }
    }
    let node = t.vars.get("contactd_node").cloned().unwrap_or_default();
    if node.is_empty() || node.contains('$') {
        return fail(format!(
            "global contactd_node is unset or unresolved: {node:?}"
        ));
    }
    let want = [
        ("contactd_entry", Some(en.entry.to_string())),
        ("contactd_code", Some(en.code.to_string())),
        ("contactd_did", en.did.map(str::to_string)),
        ("contactd_node", Some(node)),
    ];
    for (k, v) in want {
        if set.get(k) != v.as_ref() {
            return fail(format!(
                "{k} is {:?} before the socket, want {v:?}",
                set.get(k)
            ));
        }
    }
    Ok(())
}

#[test]
fn documented_entries_reach_contactd_socket() {
    let failures: Vec<String> = ENTRIES
        .iter()
        .filter_map(|en| check_entry(en).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} entries wrong:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Numbers the dialplan does not document: never handed to contactd; what happens instead.
const NOT_CONTACTD: &[(&str, &str, &str, &str)] = &[
    ("from-trunk", "250300", "hangup", "UNALLOCATED_NUMBER"), // not one of our DIDs
    ("from-trunk", "2501000", "hangup", "UNALLOCATED_NUMBER"),
    ("from-trunk", "301", "hangup", "UNALLOCATED_NUMBER"), // short codes are internal only
    ("internal", "*25", "hangup", "UNALLOCATED_NUMBER"),
    ("internal", "3001", "hangup", "UNALLOCATED_NUMBER"),
    ("internal", "101", "bridge", "user/101@"), // an office phone rings normally
];

#[test]
fn undocumented_numbers_do_not_reach_contactd() {
    let mut failures = Vec::new();
    for &(context, number, app, data_prefix) in NOT_CONTACTD {
        let t = debug(context, number);
        let first = t.actions.first().map(|(a, d)| (a.as_str(), t.resolve(d)));
        let ok = t.socket_index().is_none()
            && !t
                .actions
                .iter()
                .any(|(_, d)| d.starts_with("contactd_entry="))
            && t.actions
                .iter()
                .any(|(a, d)| a == app && t.resolve(d).starts_with(data_prefix));
        if !ok {
            failures.push(format!(
                "{context} {number}: want {app} {data_prefix}..., no socket (first action {first:?})\n{}",
                t.raw
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
