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
    /// SIGKILL contactd at the next such moment, as the simulator records it (polled every
    /// 2 ms): the party concerned goes on with nobody watching
    KillContactdAt(Moment),
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

/// A delicate moment of a call to kill contactd at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// a person answers an operator-campaign call (the 2 s to reach an operator begin)
    OpcampAnswer,
    /// a subscriber answers a notice-campaign call (the detector runs, the message is due)
    NoticeAnswer,
    /// an operator's phone answers an inbound caller's offer (the bridge is due)
    OperatorAnswer,
    /// an IVR caller is sent to the ACD's park (`transfer`; the music is due)
    AcdTransfer,
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

    /// The general operators transfer every talk to the specialists (`transfers_*`).
    pub fn transfers(&self) -> bool {
        self.name.starts_with("transfers_")
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
            name: "opcamp_kill_at_moments_x4",
            timeline: vec![
                (0.0, KillContactdAt(Moment::OpcampAnswer)),
                (5.0, KillContactdAt(Moment::AcdTransfer)),
                (10.0, KillContactdAt(Moment::NoticeAnswer)),
                (15.0, KillContactdAt(Moment::OperatorAnswer)),
            ],
        },
        Scenario {
            name: "opcamp_link_drop_x5",
            timeline: every(5, 4.0, LinkDrop),
        },
        Scenario {
            name: "opcamp_switch_restart_x5",
            timeline: every(5, 4.0, SwitchRestart),
        },
        Scenario {
            name: "opcamp_pg_stop_10s",
            timeline: vec![(0.0, PgStop), (10.0, PgStart)],
        },
        Scenario {
            name: "opcamp_redis_stop_10s",
            timeline: vec![(0.0, RedisStopSave), (10.0, RedisStart)],
        },
        Scenario {
            name: "opcamp_redis_restart_empty",
            timeline: vec![(0.0, RedisStopEmpty), (0.5, RedisStart)],
        },
        Scenario {
            name: "transfers_sigkill_x3",
            timeline: every(3, 8.0, KillContactd),
        },
        Scenario {
            name: "transfers_link_drop_x5",
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
pub const QUICK: [&str; 3] = ["link_drop_x5", "sigkill_x3", "opcamp_kill_at_moments_x4"];

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
        Action::KillContactd | Action::KillContactdAt(_) => {
            if let Action::KillContactdAt(m) = a {
                match next_moment(sim, m, Duration::from_secs(30)).await {
                    Some((what, waited)) => log.push(format!(
                        "  {what}; killed {} ms after the simulator recorded it",
                        waited.as_millis()
                    )),
                    None => log.push(format!("  (no {m:?} within 30 s: killed anyway)")),
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

/// What the simulator has recorded of `m` so far: one key per occurrence, and what to
/// say of it.
fn occurrences(sim: &Simulator, m: Moment, log_from: usize) -> Vec<(String, String)> {
    let short = |u: &str| u.get(..8).unwrap_or(u).to_string();
    match m {
        Moment::OpcampAnswer | Moment::NoticeAnswer => sim
            .ground_truth()
            .into_iter()
            .filter(|r| r.answered)
            .filter(|r| match m {
                Moment::OpcampAnswer => crate::opcamp::is_campaign_number(&r.number),
                _ => crate::traffic::is_subscriber_number(&r.number),
            })
            .map(|r| {
                (
                    r.uuid.clone(),
                    format!("{} ({}) answered", r.number, short(&r.uuid)),
                )
            })
            .collect(),
        Moment::OperatorAnswer => crate::daemon::OPERATORS
            .iter()
            .flat_map(|e| sim.agent_offers(e))
            .filter(|o| o.answered)
            .map(|o| {
                let call = o
                    .vars
                    .iter()
                    .find(|(k, _)| k == "contactd_acd_call")
                    .map_or(String::new(), |(_, v)| short(v));
                (
                    o.uuid.clone(),
                    format!("operator {} answered caller {call}", o.ext),
                )
            })
            .collect(),
        Moment::AcdTransfer => sim
            .api_log_timed_since(log_from)
            .into_iter()
            .map(|(_, l)| l)
            .filter(|l| l.starts_with("sendmsg ") && l.contains("Execute-App-Name: transfer"))
            .filter(|l| l.contains("XML contactd-acd"))
            .map(|l| {
                let uuid = l.split_whitespace().nth(1).unwrap_or_default().to_string();
                let said = format!("caller {} sent to the ACD's park", short(&uuid));
                (uuid, said)
            })
            .collect(),
    }
}

/// Waits for the next occurrence of `m` after now: what it was, and how long after it was
/// seen here the kill comes.
async fn next_moment(sim: &Simulator, m: Moment, within: Duration) -> Option<(String, Duration)> {
    let log_from = sim.api_log_len();
    let before: std::collections::HashSet<String> = occurrences(sim, m, log_from)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let end = Instant::now() + within;
    while Instant::now() < end {
        let seen = Instant::now();
        if let Some((_, what)) = occurrences(sim, m, log_from)
            .into_iter()
            .find(|(k, _)| !before.contains(k))
        {
            return Some((what, seen.elapsed()));
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
