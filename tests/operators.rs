//! Guards `contactd operators ...` through the binary: operators with validated endpoints,
//! skills in existing groups, state changes checked by the operator state machine and logged
//! as periods, and the day report of time per state computed from those periods.
use crate::common;

use chrono::{DateTime, TimeZone, Utc};
use contactd::store::operators::Operators;
use contactd::store::postgres;

struct Cli {
    _dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Cli {
    fn new(env: &common::TestEnv) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("contactd.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[switch.fs1]
host = "127.0.0.1"
password = "SuperSecretEsl"
[http]
token = "0123456789abcdef-secret"
[postgres]
url = "{}"
[redis]
url = "{}"
prefix = "{}"
"#,
                env.db_url(),
                common::redis_url(),
                env.prefix
            ),
        )
        .unwrap();
        Self { _dir: dir, config }
    }

    async fn run(&self, args: &[&str]) -> Out {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
            .arg("--config")
            .arg(&self.config)
            .arg("operators")
            .args(args)
            .output()
            .await
            .unwrap();
        Out {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
        out.stdout
    }

    async fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert_eq!(out.code, Some(65), "{args:?}: {}{}", out.stdout, out.stderr);
        out.stderr
    }
}

#[tokio::test]
async fn operators_skills_and_state_changes() {
    let env = common::TestEnv::new().await;
    let cli = Cli::new(&env);

    let out = cli.ok(&["add", "alice", "Alice Smith", "user/1001"]).await;
    assert!(out.contains("operator alice added"), "{out}");
    cli.ok(&["add", "bob", "Bob Jones", "sofia/gateway/gw/84951234567"])
        .await;
    // Whatever a trunk may dial, an operator's phone may be.
    cli.ok(&["add", "dave", "Dave", "loopback/op201/test_operators"])
        .await;
    cli.ok(&["add", "erin", "Erin", "sofia/internal/1005@pbx.local"])
        .await;
    let overlong = format!("user/{}", "1".repeat(200));
    for (bad, says) in [
        ("user/10 01", "whitespace"),
        ("user/1001\n", "control character"),
        ("user/1001\napi hupall", "control character"),
        (
            "{origination_caller_id_number=1}user/1001",
            "variable block",
        ),
        ("user/1001,user/1002", "another leg"),
        ("user/1001'", "quote"),
        ("user/1001&park()", "application"),
        ("user/^1001", "'^' is not allowed"),
        ("loopback/op201/test_operators/inline", "only be XML"),
        ("sip/1001", "must be user/EXT"),
        (overlong.as_str(), "at most 200"),
    ] {
        let err = cli.refused(&["add", "carol", "Carol", bad]).await;
        assert!(err.contains("endpoint"), "{bad:?}: {err}");
        assert!(err.contains(says), "{bad:?}: {err} should say {says:?}");
        // The value is shown escaped: a newline cannot forge a second line of output.
        assert_eq!(err.trim_end().lines().count(), 1, "{bad:?}: {err}");
    }
    let err = cli.refused(&["add", "Carol!", "Carol", "user/1003"]).await;
    assert!(err.contains("login"), "{err}");
    let err = cli.refused(&["add", "alice", "Again", "user/1009"]).await;
    assert!(err.contains("already exists"), "{err}");

    cli.ok(&["skill", "alice", "meter", "7"]).await;
    cli.ok(&["skill", "alice", "general", "3"]).await;
    cli.ok(&["skill", "alice", "meter", "8"]).await; // a change, not a second row
    cli.ok(&["skill", "bob", "specialists", "10"]).await;
    let err = cli.refused(&["skill", "alice", "meter", "11"]).await;
    assert!(err.contains("level 11"), "{err}");
    let err = cli.refused(&["skill", "alice", "metre", "5"]).await;
    assert!(err.contains("group metre"), "{err}");
    let err = cli.refused(&["skill", "nobody", "meter", "5"]).await;
    assert!(err.contains("operator nobody"), "{err}");
    let groups = cli.ok(&["groups"]).await;
    for g in [
        "general",
        "meter",
        "connection",
        "contracts",
        "specialists",
        "supervisors",
    ] {
        assert!(groups.contains(g), "{groups}");
    }
    assert!(
        groups
            .lines()
            .any(|l| l.starts_with("meter") && l.contains("1 operators")),
        "{groups}"
    );

    // Each operator's own token for their screen-pop stream, derived from http.token.
    let token = cli.ok(&["token", "alice"]).await;
    assert_eq!(
        token.trim(),
        contactd::http::auth::operator_token("0123456789abcdef-secret", "alice")
    );
    assert!(cli
        .refused(&["token", "nobody"])
        .await
        .contains("operator nobody"));

    // A new routing group, named as queues name it.
    let out = cli.ok(&["add-group", "billing"]).await;
    assert!(out.contains("group billing added"), "{out}");
    let err = cli.refused(&["add-group", "billing"]).await;
    assert!(err.contains("already exists"), "{err}");
    let err = cli.refused(&["add-group", "Bill-ing"]).await;
    assert!(err.contains("group"), "{err}");
    assert!(cli.ok(&["groups"]).await.contains("billing"));

    // Real changes, one after another, through the state machine.
    let out = cli.ok(&["state", "alice", "login"]).await;
    assert!(out.contains("logged out -> ready"), "{out}");
    // Routing follows: the live state every contactd instance reads is ready too.
    let live = contactd::store::acd::AcdStore::connect(&common::redis_url(), &env.prefix)
        .await
        .unwrap();
    assert_eq!(
        live.agent_state("alice").await.unwrap().as_deref(),
        Some("ready")
    );
    assert_eq!(
        live.endpoint("alice").await.unwrap().as_deref(),
        Some("user/1001")
    );
    // A loopback phone is routed like any other (the ACD checks it again before ringing).
    cli.ok(&["state", "dave", "login"]).await;
    assert_eq!(
        live.endpoint("dave").await.unwrap().as_deref(),
        Some("loopback/op201/test_operators")
    );
    let err = cli.refused(&["state", "alice", "ready"]).await;
    assert!(
        err.contains("operator cannot go from ready to ready"),
        "{err}"
    );
    let err = cli.refused(&["state", "alice", "break"]).await;
    assert!(err.contains("reason"), "{err}");
    let out = cli.ok(&["state", "alice", "break", "lunch"]).await;
    assert!(out.contains("ready -> break (lunch)"), "{out}");
    let ls = cli.ok(&["ls"]).await;
    let alice = ls.lines().find(|l| l.starts_with("alice")).unwrap();
    assert!(alice.contains("break (lunch)"), "{ls}");
    assert!(alice.contains("general:3,meter:8"), "{ls}");
    assert!(alice.contains("user/1001"), "{ls}");
    let bob = ls.lines().find(|l| l.starts_with("bob")).unwrap();
    assert!(bob.contains("logged out"), "{ls}");
    cli.ok(&["state", "alice", "ready"]).await;
    let out = cli.ok(&["state", "alice", "logout"]).await;
    assert_eq!(
        live.agent_state("alice").await.unwrap().as_deref(),
        Some("loggedout")
    );
    assert!(out.contains("ready -> logged out"), "{out}");
    let err = cli.refused(&["state", "alice", "ready"]).await;
    assert!(
        err.contains("operator cannot go from logged out to ready"),
        "{err}"
    );
    let err = cli.refused(&["state", "alice", "talking"]).await;
    assert!(err.contains("talking"), "{err}");
    let err = cli.refused(&["state", "nobody", "login"]).await;
    assert!(err.contains("operator nobody"), "{err}");

    let pg = env.pg().await;
    let rows = pg
        .query(
            "SELECT s.state, s.reason, s.until IS NULL FROM operator_states s
             JOIN operators o ON o.id = s.operator WHERE o.login = 'alice' ORDER BY s.id",
            &[],
        )
        .await
        .unwrap();
    let log: Vec<(String, String, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let want = [
        ("ready", "", false),
        ("break", "lunch", false),
        ("ready", "", false),
        ("logged_out", "", true),
    ];
    assert_eq!(log.len(), want.len(), "{log:?}");
    for ((s, r, open), (ws, wr, wo)) in log.iter().zip(want) {
        assert_eq!((s.as_str(), r.as_str(), *open), (ws, wr, wo), "{log:?}");
    }
    // Contiguous: each period ends where the next begins.
    let gaps: i64 = pg
        .query_one(
            "SELECT count(*) FROM operator_states a JOIN operator_states b
               ON b.operator = a.operator AND b.id = (SELECT min(id) FROM operator_states
                                                      WHERE operator = a.operator AND id > a.id)
             WHERE a.until IS DISTINCT FROM b.since",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(gaps, 0);
}

fn utc(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap()
}

#[tokio::test]
async fn day_reports_time_per_state_clipped_to_local_midnights() {
    let env = common::TestEnv::new().await;
    let cli = Cli::new(&env);
    cli.ok(&["add", "bob", "Bob Jones", "freetdm/1/a/1234"])
        .await;
    let store = Operators::new(postgres::pool(env.db_url(), 2).unwrap());
    let bob = store.get("bob").await.unwrap().unwrap();
    // Europe/Moscow (the default zone, UTC+3): 10 March is 9 March 21:00Z to 10 March 21:00Z.
    let log = [
        (utc(9, 20, 0), "ready", ""),
        (utc(9, 22, 0), "break", "lunch"),
        (utc(9, 22, 45), "ready", ""),
        (utc(9, 23, 0), "break", "coffee"),
        (utc(9, 23, 10), "absent", ""),
        (utc(9, 23, 30), "ready", ""),
        (utc(10, 20, 30), "break", "lunch"),
        (utc(10, 21, 30), "logged_out", ""),
    ];
    for (at, state, reason) in log {
        store.log_state(bob.id, state, reason, at).await.unwrap();
    }
    // A change that reaches the database late (dated before the open period began) takes
    // its place in the timeline: lunch ends at 21:00, ready until the logout at 21:30.
    store
        .log_state(bob.id, "ready", "", utc(10, 21, 0))
        .await
        .unwrap();
    let tail: Vec<(
        String,
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
    )> = env
        .pg()
        .await
        .query(
            "SELECT state, since, until FROM operator_states WHERE operator = $1
                 ORDER BY since DESC LIMIT 3",
            &[&bob.id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        tail,
        vec![
            ("logged_out".to_string(), utc(10, 21, 30), None),
            ("ready".to_string(), utc(10, 21, 0), Some(utc(10, 21, 30))),
            ("break".to_string(), utc(10, 20, 30), Some(utc(10, 21, 0))),
        ]
    );

    let day = cli.ok(&["day", "bob", "2026-03-10"]).await;
    let secs = |label: &str| -> i64 {
        let line = day
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("{label}: {day}"));
        line.split_whitespace()
            .rev()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(secs("ready"), 3600 + 900 + 75600, "{day}");
    assert_eq!(secs("break (lunch)"), 2700 + 1800, "{day}");
    assert_eq!(secs("break (coffee)"), 600, "{day}");
    assert_eq!(secs("absent"), 1200, "{day}");
    assert_eq!(secs("logged in"), 86400, "{day}");
    assert!(day.contains("22:15:00"), "ready as h:mm:ss: {day}");

    // The day before gets only the hour before its midnight.
    let before = store
        .time_in_states(bob.id, "2026-03-09".parse().unwrap(), "Europe/Moscow")
        .await
        .unwrap();
    assert_eq!(before, vec![("ready".into(), String::new(), 3600)]);
    // The same periods seen from UTC.
    let utc_day = store
        .time_in_states(bob.id, "2026-03-10".parse().unwrap(), "UTC")
        .await
        .unwrap();
    assert_eq!(
        utc_day,
        vec![
            // lunch 20:30-21:00, then the late "ready" 21:00-21:30
            ("break".into(), "lunch".into(), 1800),
            ("ready".into(), String::new(), 20 * 3600 + 30 * 60 + 1800),
        ]
    );
    let empty = cli.ok(&["day", "bob", "2026-03-12"]).await;
    assert!(empty.contains("not logged in"), "{empty}");

    let err = cli.refused(&["day", "bob", "10.03.2026"]).await;
    assert!(err.contains("YYYY-MM-DD"), "{err}");
    let err = cli.refused(&["day", "nobody", "2026-03-10"]).await;
    assert!(err.contains("operator nobody"), "{err}");
}

/// State changes of one operator written at once from many tasks (the ACD's offer, answer
/// and wrap-up paths each log their own, through the journal's several connections): every
/// one is kept, in the order of the times they happened, with exactly one period open. A
/// single statement that locks the operator and then reads the open period reads it from
/// before the lock wait, so two writers both closed the same period and both opened one
/// (`operator_states_open` refused the second, and the state was lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_written_at_once_all_land_in_order_with_one_open_period() {
    let env = common::TestEnv::new().await;
    let cli = Cli::new(&env);
    cli.ok(&["add", "vera", "Vera Orlova", "user/3003"]).await;
    let store = std::sync::Arc::new(Operators::new(postgres::pool(env.db_url(), 8).unwrap()));
    let vera = store.get("vera").await.unwrap().unwrap();
    const N: u32 = 40;
    let states = ["ready", "offered", "talking", "wrap_up"];
    let at = |i: u32| utc(11, 9, 0) + chrono::Duration::seconds(i64::from(i));
    let writes: Vec<_> = (0..N)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .record_state(vera.id, states[i as usize % 4], "", at(i))
                    .await
            })
        })
        .collect();
    let mut refused = Vec::new();
    for (i, w) in writes.into_iter().enumerate() {
        if let Err(e) = w.await.unwrap() {
            refused.push(format!("change {i}: {e}"));
        }
    }
    assert!(refused.is_empty(), "state changes refused: {refused:#?}");
    let rows: Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)> = env
        .pg()
        .await
        .query(
            "SELECT state, since, until FROM operator_states WHERE operator = $1 ORDER BY since",
            &[&vera.id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(rows.len(), N as usize, "{rows:#?}");
    for (i, (state, since, until)) in rows.iter().enumerate() {
        let i = i as u32;
        assert_eq!(state, states[i as usize % 4], "period {i}: {rows:#?}");
        assert_eq!(*since, at(i));
        let want = (i + 1 < N).then(|| at(i + 1));
        assert_eq!(
            *until, want,
            "period {i} ends when the next begins: {rows:#?}"
        );
    }
}
