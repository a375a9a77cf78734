//! The fault matrix: each scenario is a timeline of actions on contactd, PostgreSQL, Redis,
//! the ESL link and the switch, started mid-campaign. The time the last action ran is when
//! the fault was cleared (`resume_s` counts from there).

use std::time::{Duration, Instant};

use contactd::sim::Simulator;

use crate::daemon::Daemon;
use crate::services::{signal, Pg, Redis};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// SIGKILL contactd (its supervisor starts it again 2 s later, like systemd)
    KillContactd,
    /// SIGKILL contactd the moment a person answers an operator-campaign call (by the
    /// simulator's record, polled every 2 ms), so that person waits with nobody watching
    KillContactdAtAnswer,
    /// `pg_ctl stop -m fast`
    PgStop,
    /// `pg_ctl start`
    PgStart,
    /// `SHUTDOWN SAVE`
    RedisStopSave,
    /// `SHUTDOWN NOSAVE` and the dump deleted
    RedisStopEmpty,
    /// redis-server started again on the same port (from its dump, if any)
    RedisStart,
    /// SIGSTOP the redis-server process
    RedisPause,
    /// SIGCONT it
    RedisResume,
    /// `sim.drop_esl_connections()`
    LinkDrop,
    /// `sim.restart()`: the switch crashes (every call gone) and comes back
    SwitchRestart,
}

pub struct Scenario {
    pub name: &'static str,
    /// (seconds after the fault starts, action)
    pub timeline: Vec<(f64, Action)>,
}

impl Scenario {
    /// An operator campaign runs beside the rest (`opcamp_*` scenarios).
    pub fn opcamp(&self) -> bool {
        self.name.starts_with("opcamp_")
    }

    /// When the last action runs (s after the fault starts).
    pub fn span(&self) -> f64 {
        self.timeline.iter().map(|x| x.0).fold(0.0, f64::max)
    }
}

fn every(n: usize, apart: f64, a: Action) -> Vec<(f64, Action)> {
    (0..n).map(|i| (i as f64 * apart, a)).collect()
}

/// The whole matrix, in the order `--all` runs it.
pub fn matrix() -> Vec<Scenario> {
    use Action::*;
    vec![
        Scenario {
            name: "sigkill_x3",
            timeline: every(3, 8.0, KillContactd),
        },
        Scenario {
            name: "pg_stop_10s",
            timeline: vec![(0.0, PgStop), (10.0, PgStart)],
        },
        Scenario {
            name: "pg_stop_60s",
            timeline: vec![(0.0, PgStop), (60.0, PgStart)],
        },
        Scenario {
            name: "redis_stop_10s",
            timeline: vec![(0.0, RedisStopSave), (10.0, RedisStart)],
        },
        Scenario {
            name: "redis_pause_10s",
            timeline: vec![(0.0, RedisPause), (10.0, RedisResume)],
        },
        Scenario {
            name: "redis_restart_empty",
            timeline: vec![(0.0, RedisStopEmpty), (0.5, RedisStart)],
        },
        Scenario {
            name: "link_drop_x5",
            timeline: every(5, 4.0, LinkDrop),
        },
        Scenario {
            name: "switch_restart_x5",
            timeline: every(5, 4.0, SwitchRestart),
        },
        Scenario {
            name: "opcamp_sigkill_x3",
            timeline: every(3, 8.0, KillContactd),
        },
        Scenario {
            name: "opcamp_kill_at_answer_x3",
            timeline: every(3, 6.0, KillContactdAtAnswer),
        },
        Scenario {
            name: "opcamp_link_drop_x5",
            timeline: every(5, 4.0, LinkDrop),
        },
        Scenario {
            name: "all_at_once",
            timeline: vec![
                (0.0, LinkDrop),
                (0.0, SwitchRestart),
                (1.0, KillContactd),
                (2.0, PgStop),
                (3.0, RedisPause),
                (4.0, LinkDrop),
                (6.0, SwitchRestart),
                (8.0, KillContactd),
                (12.0, PgStart),
                (13.0, RedisResume),
                (14.0, LinkDrop),
                (14.0, SwitchRestart),
                (16.0, RedisStopSave),
                (17.0, KillContactd),
                (20.0, LinkDrop),
                (22.0, SwitchRestart),
                (26.0, RedisStart),
                (28.0, RedisStopEmpty),
                (28.5, RedisStart),
                (30.0, LinkDrop),
                (30.0, SwitchRestart),
            ],
        },
    ]
}

/// No fault at all (`--scenario baseline`, not part of `--all`): the same run, to tell
/// what the harness counts without a fault.
pub fn control() -> Scenario {
    Scenario {
        name: "baseline",
        timeline: Vec::new(),
    }
}

/// What a plain `cargo test` runs: the two quickest scenarios, and kills with an operator
/// campaign at its most delicate moment, a customer's answer (its calls taken over after a
/// restart, the abandon message the switch's own).
pub const QUICK: [&str; 3] = ["link_drop_x5", "sigkill_x3", "opcamp_kill_at_answer_x3"];

/// What the timeline did, for the report.
pub struct Applied {
    /// when the fault was cleared: the last action (a kill: when contactd was back)
    pub cleared: Instant,
    pub log: Vec<String>,
}

/// Runs the timeline from `t0`.
pub async fn apply(
    sc: &Scenario,
    t0: Instant,
    daemon: &Daemon,
    pg: &Pg,
    redis: &mut Redis,
    sim: &Simulator,
) -> Applied {
    let mut log = Vec::new();
    let mut cleared = t0;
    let mut steps = sc.timeline.clone();
    steps.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (at, action) in steps {
        let when = t0 + Duration::from_secs_f64(at);
        tokio::time::sleep_until(when.into()).await;
        log.push(format!(
            "{:5.1}s {action:?}",
            Instant::now().duration_since(t0).as_secs_f64()
        ));
        let done_at = run(action, daemon, pg, redis, sim, &mut log).await;
        cleared = cleared.max(done_at);
    }
    Applied { cleared, log }
}

async fn run(
    a: Action,
    daemon: &Daemon,
    pg: &Pg,
    redis: &mut Redis,
    sim: &Simulator,
    log: &mut Vec<String>,
) -> Instant {
    match a {
        Action::KillContactd | Action::KillContactdAtAnswer => {
            if a == Action::KillContactdAtAnswer {
                match next_answer(sim, Duration::from_secs(30)).await {
                    Some((uuid, number, waited)) => log.push(format!(
                        "  {number} ({}) answered; killed {} ms after the simulator recorded it",
                        uuid.get(..8).unwrap_or(&uuid),
                        waited.as_millis()
                    )),
                    None => log.push("  (no person answered within 30 s: killed anyway)".into()),
                }
            }
            let at = Instant::now();
            if !daemon.sigkill() {
                log.push("  (contactd was not running)".into());
            }
            // cleared once the supervisor has started it again
            match daemon
                .restarted_after(at, crate::daemon::RESTART_DELAY + Duration::from_secs(10))
                .await
            {
                Some(t) => t,
                None => Instant::now(),
            }
        }
        Action::PgStop => {
            if let Err(e) = blocking(|| pg.stop()).await {
                log.push(format!("  pg stop: {e}"));
            }
            Instant::now()
        }
        Action::PgStart => {
            if let Err(e) = blocking(|| pg.start()).await {
                log.push(format!("  pg start: {e}"));
            }
            Instant::now()
        }
        Action::RedisStopSave => {
            blocking(|| redis.shutdown(true)).await;
            Instant::now()
        }
        Action::RedisStopEmpty => {
            blocking(|| {
                redis.shutdown(false);
                redis.delete_dump();
            })
            .await;
            Instant::now()
        }
        Action::RedisStart => {
            if let Err(e) = blocking(|| redis.spawn()).await {
                log.push(format!("  redis start: {e}"));
            }
            Instant::now()
        }
        Action::RedisPause => {
            if let Some(p) = redis.pid() {
                signal(p, "STOP");
            }
            Instant::now()
        }
        Action::RedisResume => {
            if let Some(p) = redis.pid() {
                signal(p, "CONT");
            }
            Instant::now()
        }
        Action::LinkDrop => {
            sim.drop_esl_connections();
            Instant::now()
        }
        Action::SwitchRestart => {
            if let Err(e) = sim.restart().await {
                log.push(format!("  switch restart: {e}"));
            }
            Instant::now()
        }
    }
}

/// Waits for a person to answer an operator-campaign call after now: (uuid, number, how
/// long after the answer was seen here).
async fn next_answer(sim: &Simulator, within: Duration) -> Option<(String, String, Duration)> {
    let answered = |sim: &Simulator| {
        sim.ground_truth()
            .into_iter()
            .filter(|r| crate::opcamp::is_campaign_number(&r.number) && r.answered)
            .map(|r| (r.uuid, r.number))
            .collect::<Vec<_>>()
    };
    let before: std::collections::HashSet<String> =
        answered(sim).into_iter().map(|(u, _)| u).collect();
    let end = Instant::now() + within;
    while Instant::now() < end {
        let seen = Instant::now();
        if let Some((u, n)) = answered(sim).into_iter().find(|(u, _)| !before.contains(u)) {
            return Some((u, n, seen.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}

/// Runs a blocking service command without stalling the runtime's other tasks for long
/// (the harness runtime has worker threads; this keeps the call on this one).
async fn blocking<R>(f: impl FnOnce() -> R) -> R {
    tokio::task::block_in_place(f)
}
