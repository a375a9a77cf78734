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

// ---------------------------------------------------------------------------------------
// What FreeSWITCH itself reads at start: the preprocessed configuration.

/// The text FreeSWITCH parses, made the way its preprocessor does (switch_xml.c
/// `preprocess`), as far as fs-conf/ uses it: line by line, `$${name}` expanded where set,
/// `<X-PRE-PROCESS cmd="set|include" .../>` applied (an include is relative to the including
/// file's directory; `*` globs in the file name, sorted), lines with `<include>`,
/// `</include>` or `<?` dropped. `overrides` replace the value a `set` gives a variable,
/// as a site editing vars.xml would. A missing include is an error, as FreeSWITCH logs one.
fn preprocess(overrides: &[(&str, &str)]) -> Result<String, String> {
    fn expand(line: &str, vars: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        let mut rest = line;
        while let Some(i) = rest.find("$${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 3..];
            match after.find('}') {
                Some(j) => {
                    match vars.get(&after[..j]) {
                        Some(v) => out.push_str(v),
                        // the core's own ($${sounds_dir}, $${local_ip_v4}): left as is
                        None => out.push_str(&rest[i..i + 3 + j + 1]),
                    }
                    rest = &after[j + 1..];
                }
                None => {
                    out.push_str(&rest[i..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
    fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let len = tag[start..].find('"')?;
        Some(&tag[start..start + len])
    }
    fn file(
        path: &Path,
        vars: &mut BTreeMap<String, String>,
        overrides: &[(&str, &str)],
        out: &mut String,
    ) -> Result<(), String> {
        let text =
            fs::read_to_string(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let dir = path.parent().unwrap();
        for raw in text.lines() {
            let line = expand(raw, vars);
            if raw.contains("<include>") || raw.contains("</include>") || raw.contains("<?") {
                continue;
            }
            let Some(at) = line.find("<X-PRE-PROCESS") else {
                out.push_str(&line);
                out.push('\n');
                continue;
            };
            let tag = &line[at..];
            let (Some(cmd), Some(data)) = (attr(tag, "cmd"), attr(tag, "data")) else {
                return Err(format!("{}: malformed {tag}", path.display()));
            };
            match cmd {
                "set" => {
                    let (k, v) = data.split_once('=').unwrap_or((data, ""));
                    let v = overrides
                        .iter()
                        .find(|(name, _)| *name == k)
                        .map_or(v, |(_, value)| *value);
                    vars.insert(k.to_string(), v.to_string());
                }
                "include" => {
                    if data.contains("$${") {
                        return Err(format!(
                            "{}: include of an unset variable: {data}",
                            path.display()
                        ));
                    }
                    let target = dir.join(data);
                    let name = target.file_name().unwrap().to_str().unwrap().to_string();
                    let mut matches: Vec<PathBuf> = match name.split_once('*') {
                        Some((prefix, suffix)) => fs::read_dir(target.parent().unwrap())
                            .map_err(|e| format!("{}: {e}", target.display()))?
                            .flatten()
                            .map(|e| e.path())
                            .filter(|p| {
                                let n = p.file_name().unwrap().to_str().unwrap();
                                p.is_file() && n.starts_with(prefix) && n.ends_with(suffix)
                            })
                            .collect(),
                        None => vec![target.clone()],
                    };
                    matches.sort();
                    for m in matches {
                        file(&m, vars, overrides, out)?;
                    }
                }
                other => {
                    return Err(format!(
                        "{}: X-PRE-PROCESS {other} not handled here",
                        path.display()
                    ))
                }
            }
        }
        Ok(())
    }
    let mut vars = BTreeMap::new();
    let mut out = String::new();
    file(&root_conf(), &mut vars, overrides, &mut out)?;
    Ok(out)
}

/// The text without XML comments (what the parser keeps).
fn uncommented(text: &str) -> String {
    regex::Regex::new(r"(?s)<!--.*?-->")
        .unwrap()
        .replace_all(text, "")
        .into_owned()
}

/// `<configuration name="NAME" ...>…</configuration>` blocks by name.
fn configurations(xml: &str) -> BTreeMap<String, String> {
    let re = regex::Regex::new(r#"(?s)<configuration\s+name="([^"]+)"[^>]*>(.*?)</configuration>"#)
        .unwrap();
    re.captures_iter(xml)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect()
}

fn loaded_modules(xml: &str) -> Vec<String> {
    let confs = configurations(xml);
    let modules = confs.get("modules.conf").expect("modules.conf is loaded");
    regex::Regex::new(r#"<load\s+module="([^"]+)""#)
        .unwrap()
        .captures_iter(modules)
        .map(|c| c[1].to_string())
        .collect()
}

/// `(gateway name, its params)` of every gateway sofia would start.
fn gateways(xml: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let gw = regex::Regex::new(r#"(?s)<gateway\s+name="([^"]+)"\s*>(.*?)</gateway>"#).unwrap();
    let param = regex::Regex::new(r#"<param\s+name="([^"]+)"\s+value="([^"]*)""#).unwrap();
    gw.captures_iter(xml)
        .map(|c| {
            let params = param
                .captures_iter(&c[2])
                .map(|p| (p[1].to_string(), p[2].to_string()))
                .collect();
            (c[1].to_string(), params)
        })
        .collect()
}

/// The module's configuration FreeSWITCH opens when loading it, for every module fs-conf
/// loads: `Some` where the module logs `[ERR] Open of X failed` (or db.conf's "Could not
/// open") without it, `None` where it needs none (read from the 1.10 sources).
const MODULE_CONFIG: &[(&str, Option<&str>)] = &[
    ("mod_console", Some("console.conf")),
    ("mod_logfile", Some("logfile.conf")),
    ("mod_event_socket", Some("event_socket.conf")),
    ("mod_sofia", Some("sofia.conf")),
    ("mod_freetdm", Some("freetdm.conf")),
    ("mod_db", Some("db.conf")),
    ("mod_local_stream", Some("local_stream.conf")),
    ("mod_loopback", None),
    ("mod_commands", None),
    ("mod_dptools", None),
    ("mod_hash", None),
    ("mod_dialplan_xml", None),
    ("mod_sndfile", None),
    ("mod_native_file", None),
    ("mod_tone_stream", None),
    ("mod_say_en", None),
    ("mod_say_ru", None),
    // answering-machine detection (docs/design.md): both read their own configuration
    ("mod_avmd", Some("avmd.conf")),
    ("mod_spandsp", Some("spandsp.conf")),
];

/// Every problem of one preprocessed configuration that FreeSWITCH would log at start.
fn start_problems(xml: &str) -> Vec<String> {
    let xml = uncommented(xml);
    let confs = configurations(&xml);
    let mut problems = Vec::new();
    for core in ["modules.conf", "switch.conf", "acl.conf"] {
        if !confs.contains_key(core) {
            problems.push(format!("no {core}"));
        }
    }
    for m in loaded_modules(&xml) {
        match MODULE_CONFIG.iter().find(|(name, _)| *name == m) {
            None => problems.push(format!(
                "{m}: not in MODULE_CONFIG; look up in its source whether it needs a config"
            )),
            Some((_, Some(conf))) if !confs.contains_key(*conf) => {
                problems.push(format!("{m} is loaded but there is no {conf}.xml"))
            }
            _ => {}
        }
    }
    for (name, params) in gateways(&xml) {
        for (k, v) in &params {
            if v.contains(".invalid") {
                problems.push(format!("gateway {name} is enabled with {k}={v}"));
            }
        }
    }
    problems
}

/// Well-formed XML, as FreeSWITCH's parser needs it (python3 is frslint's interpreter).
fn assert_well_formed(xml: &str, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("freeswitch.xml.fsxml");
    fs::write(&path, xml).unwrap();
    let python = frslint().with_file_name("python3");
    let out = Command::new(python)
        .args([
            "-c",
            "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])",
        ])
        .arg(&path)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{what}: not well-formed XML:\n{}",
        text(&out)
    );
}

#[test]
fn freeswitch_starts_the_shipped_config_without_errors() {
    let xml = preprocess(&[]).unwrap_or_else(|e| panic!("{e}"));
    assert_well_formed(&xml, "shipped config");
    let problems = start_problems(&xml);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let modules = loaded_modules(&uncommented(&xml));
    // FreeTDM is a separate build: loading it where it is absent is a [CRIT] at start
    assert!(
        !modules.iter().any(|m| m == "mod_freetdm"),
        "mod_freetdm loaded by default: {modules:?}"
    );
    // contactd's notification calls store results with the `db` application
    assert!(modules.iter().any(|m| m == "mod_db"));
    // nothing registers anywhere until the site configures its trunk
    assert!(
        gateways(&uncommented(&xml)).is_empty(),
        "a SIP gateway is enabled as shipped"
    );
}

#[test]
fn modules_conf_itself_never_loads_mod_freetdm() {
    let text = fs::read_to_string(manifest_dir().join("fs-conf/autoload_configs/modules.conf.xml"))
        .unwrap();
    assert!(
        !uncommented(&text).contains("mod_freetdm"),
        "modules.conf.xml must leave mod_freetdm to autoload_configs/tdm/freetdm.xml"
    );
    let include =
        fs::read_to_string(manifest_dir().join("fs-conf/autoload_configs/tdm/freetdm.xml"))
            .unwrap();
    assert!(uncommented(&include).contains(r#"<load module="mod_freetdm"/>"#));
}

/// The documented switches of vars.xml turn FreeTDM and the SIP trunk on, and the result
/// still starts cleanly and passes frslint.
#[test]
fn the_site_switches_enable_freetdm_and_the_sip_trunk() {
    let on = [
        ("contactd_tdm", "freetdm"),
        ("contactd_sip_gateway", "sip_trunk"),
    ];
    let xml = preprocess(&on).unwrap_or_else(|e| panic!("{e}"));
    assert_well_formed(&xml, "config with FreeTDM and the SIP trunk");
    let clean = uncommented(&xml);
    assert!(loaded_modules(&clean).iter().any(|m| m == "mod_freetdm"));
    assert!(configurations(&clean).contains_key("freetdm.conf"));
    assert!(
        manifest_dir().join("fs-conf/freetdm.conf").is_file(),
        "FreeTDM's hardware layout"
    );
    let gws = gateways(&clean);
    assert_eq!(gws.len(), 1, "{gws:?}");
    let (name, params) = &gws[0];
    assert_eq!(
        name, "sip_trunk",
        "contactd dials sofia/gateway/sip_trunk/NUMBER"
    );
    // with vars.xml's placeholder still in place the check catches it
    assert_eq!(
        params.get("proxy").map(String::as_str),
        Some("sip.provider.invalid")
    );
    assert!(start_problems(&xml).iter().any(|p| p.contains("sip_trunk")));
    let real = [
        ("contactd_tdm", "freetdm"),
        ("contactd_sip_gateway", "sip_trunk"),
        ("sip_trunk_proxy", "sip.example.net"),
    ];
    let xml = preprocess(&real).unwrap_or_else(|e| panic!("{e}"));
    let problems = start_problems(&xml);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // frslint on the same tree with the switches flipped in vars.xml
    let tmp = tempfile::tempdir().unwrap();
    let conf_dir = tmp.path().join("fs-conf");
    copy_tree(&manifest_dir().join("fs-conf"), &conf_dir);
    let vars = fs::read_to_string(conf_dir.join("vars.xml")).unwrap();
    let flipped = vars
        .replace("contactd_tdm=none", "contactd_tdm=freetdm")
        .replace(
            "contactd_sip_gateway=none",
            "contactd_sip_gateway=sip_trunk",
        );
    assert_ne!(
        vars, flipped,
        "vars.xml no longer sets the switches this test flips"
    );
    fs::write(conf_dir.join("vars.xml"), flipped).unwrap();
    let out = analyze(&conf_dir.join("freeswitch.xml"));
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("No issues found"),
        "frslint analyze with FreeTDM and the SIP trunk on:\n{}",
        text(&out)
    );
}

#[test]
fn a_broken_include_is_caught() {
    let err = preprocess(&[("contactd_tdm", "isdn")]).unwrap_err();
    assert!(err.contains("tdm/isdn.xml"), "{err}");
}

/// The README tells a sysadmin what fs-conf cannot decide for them.
#[test]
fn readme_documents_the_site_switches() {
    let readme = fs::read_to_string(manifest_dir().join("README.md")).unwrap();
    for needle in [
        "contactd_tdm=freetdm",
        "autoload_configs/tdm/freetdm.xml",
        "contactd_sip_gateway=sip_trunk",
        "music/8000",
        "national_number_length",
        "trunk_prefix = \"\"",
        "contactd setup-db",
    ] {
        assert!(
            readme.contains(needle),
            "README.md does not mention {needle}"
        );
    }
}

/// A call to contactd (a trunk's, or an office phone's service or operator code) whose
/// `socket` returns with the call up (contactd down, or its connection dropped) goes to
/// `contactd-reconnect`: 15 tries, each cancelling the channel's scheduled tasks (after
/// running what the drop left queued), the wait tone, then the socket again; then
/// NORMAL_TEMPORARY_FAILURE. The simulator's copy of that context
/// (`sim::dialplan::contactd_reconnect`) must be this file's.
#[test]
fn calls_to_contactd_reconnect_fifteen_times_then_fail() {
    let first = format!(
        "{} XML {}",
        contactd::sim::dialplan::RECONNECT_FIRST,
        contactd::sim::dialplan::CONTACTD_RECONNECT
    );
    for en in ENTRIES {
        let t = debug(en.context, en.number);
        let at = t.socket_index().unwrap();
        let after: Vec<(String, String)> = t.actions[at + 1..]
            .iter()
            .map(|(a, d)| (a.clone(), t.resolve(d)))
            .collect();
        assert_eq!(
            after,
            [("transfer".to_string(), first.clone())],
            "{}: after the socket\n{}",
            en.number,
            t.raw
        );
    }
    let socket = SOCKET.trim_end_matches(" async full");
    let mut dest = contactd::sim::dialplan::RECONNECT_FIRST.to_string();
    for n in 1..=16 {
        let t = debug(contactd::sim::dialplan::CONTACTD_RECONNECT, &dest);
        let got: Vec<(String, String)> = t
            .actions
            .iter()
            .map(|(a, d)| (a.clone(), t.resolve(d)))
            .collect();
        let want: Vec<(String, String)> = if n <= 15 {
            vec![
                ("sleep".into(), "100".into()),
                ("sched_cancel".into(), String::new()),
                (
                    "playback".into(),
                    t.resolve("$${contactd_wait_tone}").to_string(),
                ),
                ("socket".into(), SOCKET.into()),
                (
                    "transfer".into(),
                    format!(
                        "{dest}x XML {}",
                        contactd::sim::dialplan::CONTACTD_RECONNECT
                    ),
                ),
            ]
        } else {
            vec![("hangup".into(), "NORMAL_TEMPORARY_FAILURE".into())]
        };
        assert_eq!(got, want, "try {n} ({dest})\n{}", t.raw);
        assert_eq!(
            contactd::sim::dialplan::contactd_reconnect(&dest, socket),
            want,
            "the simulator's contactd-reconnect differs at {dest}"
        );
        dest.push('x');
    }
}
