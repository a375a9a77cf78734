//! The wallboard's snapshots, built without I/O from what the hub read: the live part
//! (callers waiting, operators' states) on every change, the figures (today's and this
//! interval's KPIs, campaigns, the plan) every few seconds. Times are milliseconds since the
//! epoch; the page ticks waits and times in state itself from them.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use crate::core::acd::agent::StateName;
use crate::core::acd::routing::Need;
use crate::core::kpi::{KpiReport, QueueKpi};
use crate::store::acd::LiveBoard;

/// Pushed on every change of the live state.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LiveSnapshot {
    pub at_ms: i64,
    pub queues: Vec<QueueLive>,
    pub operators: Vec<OperatorLive>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueueLive {
    pub name: String,
    /// Head first.
    pub waiting: Vec<WaitingCaller>,
    /// When the longest-waiting caller arrived.
    pub longest_since_ms: Option<i64>,
    /// Operators of the queue's skill: ready now, and at work (not on a break, absent or out).
    pub ready: usize,
    pub staffed: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WaitingCaller {
    /// The first 8 characters of the call's uuid: enough to tell callers apart on the wall,
    /// nothing that identifies the customer.
    pub id: String,
    pub since_ms: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OperatorLive {
    pub login: String,
    pub name: String,
    /// `core::acd::agent::StateName::key`: ready, offered, talking, wrap_up, break, absent,
    /// missed, logged_out.
    pub state: String,
    pub since_ms: i64,
    /// The queue of the call they are offered or talking.
    pub queue: Option<String>,
}

/// Builds the live part. `queues` are the configured queues with who takes them; `names`
/// the operators' display names (a login missing there shows as itself).
pub fn live_snapshot(
    board: &LiveBoard,
    queues: &[(String, Need<'_>)],
    names: &HashMap<String, String>,
    now_ms: i64,
) -> LiveSnapshot {
    let waiting_of: HashMap<&str, &Vec<String>> =
        board.queues.iter().map(|(q, c)| (q.as_str(), c)).collect();
    let queues = queues
        .iter()
        .map(|(name, need)| {
            let waiting: Vec<WaitingCaller> = waiting_of
                .get(name.as_str())
                .map(|calls| {
                    calls
                        .iter()
                        .map(|c| WaitingCaller {
                            id: c.chars().take(8).collect(),
                            // A call whose place was not read (gone meanwhile) counts from now.
                            since_ms: board.calls.get(c).map_or(now_ms, |i| i.arrived_ms),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let count = |ok: fn(StateName) -> bool| {
                board
                    .agents
                    .iter()
                    .filter(|(a, i)| {
                        ok(i.state)
                            && board
                                .skills
                                .iter()
                                .any(|(sa, g, l)| sa == a && need.met_by(g, *l))
                    })
                    .count()
            };
            QueueLive {
                longest_since_ms: waiting.iter().map(|w| w.since_ms).min(),
                waiting,
                ready: count(|s| s == StateName::Ready),
                staffed: count(StateName::staffed),
                name: name.clone(),
            }
        })
        .collect();
    let operators = board
        .agents
        .iter()
        .map(|(login, i)| OperatorLive {
            name: names.get(login).cloned().unwrap_or_else(|| login.clone()),
            state: i.state.key().to_string(),
            since_ms: i.at_ms,
            queue: i
                .call
                .as_ref()
                .and_then(|c| board.calls.get(c))
                .map(|c| c.queue.clone()),
            login: login.clone(),
        })
        .collect();
    LiveSnapshot {
        at_ms: now_ms,
        queues,
        operators,
    }
}

/// One queue's or one operator's figures over a span (today, this interval).
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Figures {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    /// 0..=1
    pub service_level: Option<f64>,
    pub abandon_rate: Option<f64>,
    pub asa_s: Option<f64>,
    pub aht_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueueStats {
    pub name: String,
    pub today: Figures,
    pub interval: Figures,
    pub plan: Option<Progress>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OperatorStats {
    pub login: String,
    pub name: String,
    pub answered: u64,
    pub aht_s: Option<f64>,
    pub service_level: Option<f64>,
    /// The mean QA score of their reviewed calls, once QA reviews exist.
    pub qa_score: Option<f64>,
    pub plan: Option<Progress>,
}

/// Answered calls against the day's plan.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Progress {
    pub done: u64,
    pub goal: u32,
    /// 0..=1 and beyond when the plan is exceeded.
    pub ratio: f64,
}

pub fn progress(done: u64, goal: u32) -> Option<Progress> {
    (goal > 0).then(|| Progress {
        done,
        goal,
        ratio: done as f64 / f64::from(goal),
    })
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CampaignLive {
    pub id: i64,
    pub name: String,
    pub lines_in_use: usize,
    pub lines: i32,
    /// Subscribers done (final outcome) of all.
    pub called: i64,
    pub total: i64,
    /// Reached of those done, 0..=1.
    pub reached: Option<f64>,
}

/// Pushed every few seconds and when a call ends.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct StatsSnapshot {
    pub at_ms: i64,
    /// False until the KPI figures are wired (the panel then says so instead of zeros).
    pub kpi: bool,
    pub queues: Vec<QueueStats>,
    pub operators: Vec<OperatorStats>,
    pub campaigns: Vec<CampaignLive>,
    /// Running operator campaigns (`super::opcamps`).
    pub op_campaigns: Vec<super::opcamps::OpCampaignLive>,
}

/// The day's plan applied to the KPI figures: queues in configured order with their plan,
/// operators by calls answered (most first, the motivating order), each with the plan.
pub fn stats_snapshot(
    figures: Option<(Vec<QueueStats>, Vec<OperatorStats>)>,
    plan_per_queue: &BTreeMap<String, u32>,
    plan_per_operator: u32,
    campaigns: Vec<CampaignLive>,
    now_ms: i64,
) -> StatsSnapshot {
    let kpi = figures.is_some();
    let (mut queues, mut operators) = figures.unwrap_or_default();
    for q in &mut queues {
        q.plan = plan_per_queue
            .get(&q.name)
            .and_then(|g| progress(q.today.answered, *g));
    }
    for o in &mut operators {
        o.plan = progress(o.answered, plan_per_operator);
    }
    operators.sort_by(|a, b| b.answered.cmp(&a.answered).then(a.login.cmp(&b.login)));
    StatsSnapshot {
        at_ms: now_ms,
        kpi,
        queues,
        operators,
        campaigns,
        op_campaigns: Vec::new(),
    }
}

/// How long "this interval" is on the board.
pub const INTERVAL_MINUTES: u32 = 30;

/// The start of the day and of the current interval containing `now`, local to `zone`, as
/// UTC (a local midnight or boundary that does not exist, in a DST gap, takes the next
/// instant that does).
pub fn day_and_interval(
    now: DateTime<Utc>,
    zone: chrono_tz::Tz,
    minutes: u32,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let local = now.with_timezone(&zone).naive_local();
    let midnight = local.date().and_hms_opt(0, 0, 0).unwrap_or(local);
    let into_day = (local - midnight).num_minutes();
    let step = i64::from(minutes.max(1));
    let boundary = midnight + chrono::Duration::minutes(into_day / step * step);
    let utc = |t: chrono::NaiveDateTime| {
        (0..=120)
            .find_map(|m| {
                zone.from_local_datetime(&(t + chrono::Duration::minutes(m)))
                    .earliest()
            })
            .map_or(now, |t| t.with_timezone(&Utc))
    };
    (utc(midnight), utc(boundary))
}

fn figures(q: &QueueKpi) -> Figures {
    Figures {
        offered: q.offered,
        answered: q.answered,
        abandoned: q.abandoned,
        service_level: q.service_level,
        abandon_rate: q.abandon_rate,
        asa_s: q.asa_s,
        aht_s: q.aht_s,
    }
}

/// The board's figures from two KPI reports of one interval each (today, this interval):
/// every configured queue in order (no calls yet: zeros and no ratios), every operator with
/// calls or time today, with the mean score of their reviewed calls (QA) today.
pub fn figures_from(
    today: &KpiReport,
    interval: &KpiReport,
    queues: &[String],
) -> (Vec<QueueStats>, Vec<OperatorStats>) {
    let find = |r: &KpiReport, name: &str| {
        r.queues
            .iter()
            .find(|q| q.queue == name)
            .map(figures)
            .unwrap_or_default()
    };
    let queues = queues
        .iter()
        .map(|name| QueueStats {
            name: name.clone(),
            today: find(today, name),
            interval: find(interval, name),
            plan: None,
        })
        .collect();
    let operators = today
        .operators
        .iter()
        .map(|o| OperatorStats {
            login: o.login.clone(),
            name: o.name.clone(),
            answered: o.answered,
            aht_s: o.aht_s,
            service_level: o.service_level,
            qa_score: today
                .qa
                .iter()
                .find(|q| q.login == o.login)
                .and_then(|q| q.mean_score),
            plan: None,
        })
        .collect();
    (queues, operators)
}

/// Reached share of the subscribers done.
pub fn reached_share(reached: i64, done: i64) -> Option<f64> {
    (done > 0).then(|| reached as f64 / done as f64)
}

/// A wait for people: `0:42`, `12:05`, `1:02:03`.
pub fn clock_text(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
#[path = "board_tests.rs"]
mod tests;
