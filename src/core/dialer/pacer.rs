//! The pacer of one operator campaign: it takes what happened to its calls and operators
//! (`handle_*`), re-estimates the answer rate, ring and handle times and the abandon
//! fallback at least every `reestimate_every`, and says how many calls to place now for the
//! floor it is shown ([`Pacer::to_dial`]).

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::abandon::{AbandonFigures, AbandonWindow};
use super::estimate::{
    calls_to_add, free_within, operators_free, person_within, predictive_weight, ring_quantiles,
    Moment, BLEND_FROM, RISK_PER_CALL,
};
use super::{AnsweredBy, DialMode, Floor, PacingSettings};

/// Finished attempts the answer rate is taken from: those of the last 10 minutes, but
/// never fewer than the last [`ATTEMPTS_KEPT_MIN`] (a slow campaign still has a rate) nor
/// more than [`ATTEMPTS_KEPT_MAX`].
const ANSWER_WINDOW: TimeDelta = TimeDelta::minutes(10);
const ATTEMPTS_KEPT_MIN: usize = 100;
const ATTEMPTS_KEPT_MAX: usize = 2000;
/// Ring, handle and wrap-up samples kept (the most recent).
const SAMPLES_KEPT: usize = 300;
/// Below these the pacer dials progressively: too few to trust an answer rate, a ring
/// time, or who is about to finish (busy operators then count as not finishing).
pub const MIN_ATTEMPTS: usize = 20;
pub const MIN_RINGS: usize = 5;
pub const MIN_HANDLES: usize = 10;

/// What the pacer decided at one re-estimate, for the log, the demo and the API.
#[derive(Debug, Clone, PartialEq)]
pub struct PacingDecision {
    pub at: DateTime<Utc>,
    pub mode: DialMode,
    /// Calls to hold in flight ÷ operators present (ready, talking, wrapping up), for the
    /// floor last shown; 0 with nobody present.
    pub dial_level: f64,
    /// Calls to hold in flight for that floor.
    pub calls_to_hold: u32,
    /// Persons ÷ finished attempts over the recent window (0 before any).
    pub answer_rate: f64,
    /// Mean time to answer of the persons who answered.
    pub mean_ring: Duration,
    /// Mean talk + wrap-up.
    pub mean_handle: Duration,
    /// Operators expected free by the time a call placed now is answered.
    pub expected_free: f64,
    pub abandon_24h_pct: f64,
    /// Why, in English.
    pub reason: String,
}

impl fmt::Display for PacingDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} dial level {:.2} ({} in flight; answer {:.1} %, ring {:.1} s, handle {:.0} s, \
             {:.1} operators free soon, abandon 24 h {:.2} %): {}",
            self.at.format("%H:%M:%S"),
            self.mode,
            self.dial_level,
            self.calls_to_hold,
            self.answer_rate * 100.0,
            self.mean_ring.as_secs_f64(),
            self.mean_handle.as_secs_f64(),
            self.expected_free,
            self.abandon_24h_pct,
            self.reason
        )
    }
}

/// The figures of the last re-estimate: `to_dial` works from these between two of them.
#[derive(Debug, Clone, Default)]
struct Estimate {
    /// `None` until [`MIN_ATTEMPTS`] finished attempts and [`MIN_RINGS`] persons.
    answer_rate: Option<f64>,
    mean_ring: f64,
    /// Ascending: persons' ring times, unanswered calls' ring times.
    rings: Vec<f64>,
    unanswered: Vec<f64>,
    /// Ascending; empty until [`MIN_HANDLES`].
    handles: Vec<f64>,
    wrap_ups: Vec<f64>,
    abandon_pct: f64,
    /// 1 = fully predictive, 0 = progressive (the abandon fallback).
    weight: f64,
}

/// What to hold in flight for one floor, and why.
struct Plan {
    hold: u32,
    expected_free: f64,
    reason: String,
}

/// The pacer of one operator campaign.
#[derive(Debug)]
pub struct Pacer {
    settings: PacingSettings,
    /// Finished attempts (at, a person answered), oldest first.
    attempts: VecDeque<(DateTime<Utc>, bool)>,
    /// Seconds: persons' ring, unanswered calls' ring, handle (talk + wrap-up), wrap-up.
    rings: VecDeque<f64>,
    unanswered: VecDeque<f64>,
    handles: VecDeque<f64>,
    wrap_ups: VecDeque<f64>,
    dialed: u64,
    abandon: AbandonWindow,
    estimate: Estimate,
    next_estimate: DateTime<Utc>,
    /// The floor `to_dial` was last shown: the decisions' dial level is for it.
    last_floor: Floor,
    decisions: VecDeque<PacingDecision>,
}

impl Pacer {
    pub fn new(settings: PacingSettings, now: DateTime<Utc>) -> Self {
        Self {
            settings,
            attempts: VecDeque::new(),
            rings: VecDeque::new(),
            unanswered: VecDeque::new(),
            handles: VecDeque::new(),
            wrap_ups: VecDeque::new(),
            dialed: 0,
            abandon: AbandonWindow::default(),
            estimate: Estimate::default(),
            next_estimate: now,
            last_floor: Floor::default(),
            decisions: VecDeque::new(),
        }
    }

    pub fn settings(&self) -> &PacingSettings {
        &self.settings
    }

    /// Calls placed since the pacer started.
    pub fn dialed(&self) -> u64 {
        self.dialed
    }

    /// Seed the abandon window after a restart: (answered_at, abandoned) of the last 24 h.
    /// The fallback applies from the next re-estimate, which is made due now.
    pub fn handle_history(&mut self, answered: impl IntoIterator<Item = (DateTime<Utc>, bool)>) {
        self.abandon.extend(answered);
        // due at once, whatever the time: the service's next look re-estimates
        self.next_estimate = DateTime::<Utc>::MIN_UTC;
    }

    pub fn handle_dialed(&mut self, _now: DateTime<Utc>) {
        self.dialed += 1;
    }

    /// A call that was not answered (busy, no answer, failed): how long it rang.
    pub fn handle_unanswered(&mut self, now: DateTime<Utc>, ringing: Duration) {
        self.push_attempt(now, false);
        push_kept(&mut self.unanswered, ringing.as_secs_f64());
    }

    /// A call answered, after `ringing`, classified as `by` (machines etc. are not
    /// "answered" for the answer rate nor the abandon rate).
    pub fn handle_answered(&mut self, now: DateTime<Utc>, ringing: Duration, by: AnsweredBy) {
        let person = by == AnsweredBy::Person;
        self.push_attempt(now, person);
        // a machine's ring is the ring of a call that brought no person
        push_kept(
            if person {
                &mut self.rings
            } else {
                &mut self.unanswered
            },
            ringing.as_secs_f64(),
        );
    }

    /// An answered person reached an operator `after` their answer; later than
    /// `connect_within` is an abandon by the legal definition, whoever they reached.
    pub fn handle_connected(&mut self, now: DateTime<Utc>, after: Duration) {
        if after > self.settings.connect_within {
            self.handle_abandoned(now);
        } else {
            self.abandon.push(now, false);
        }
    }

    /// An answered person got no operator within `connect_within` (abandoned; heard the
    /// message). The fallback is re-estimated at once, not at the next routine estimate.
    pub fn handle_abandoned(&mut self, now: DateTime<Utc>) {
        self.abandon.push(now, true);
        self.next_estimate = self.next_estimate.min(now);
    }

    /// An operator finished a campaign call: talk + wrap-up.
    pub fn handle_handled(&mut self, _now: DateTime<Utc>, handle: Duration) {
        push_kept(&mut self.handles, handle.as_secs_f64());
    }

    /// An operator's after-call work ended after `wrap_up` (also in `handle_handled`'s
    /// total): who is wrapping up is judged on these. Without them an operator in wrap-up
    /// counts as not finishing soon.
    pub fn handle_wrap_up(&mut self, _now: DateTime<Utc>, wrap_up: Duration) {
        push_kept(&mut self.wrap_ups, wrap_up.as_secs_f64());
    }

    /// How many new calls to place now (0 in preview mode: the operator asks for each).
    pub fn to_dial(&mut self, now: DateTime<Utc>, floor: &Floor) -> u32 {
        self.last_floor.clone_from(floor);
        if now >= self.next_estimate {
            self.reestimate(now);
        }
        let plan = self.plan(floor);
        plan.hold
            .saturating_sub(floor.in_flight)
            .min(floor.lines_free)
    }

    /// When the pacer must be asked again (next re-estimate).
    pub fn poll_timeout(&self) -> DateTime<Utc> {
        self.next_estimate
    }

    pub fn handle_timeout(&mut self, now: DateTime<Utc>) {
        if now >= self.next_estimate {
            self.reestimate(now);
        }
    }

    /// Abandon figures: rolling 24 h and since `day_start` (the service's local midnight).
    pub fn abandon(&self, now: DateTime<Utc>, day_start: DateTime<Utc>) -> AbandonFigures {
        self.abandon.figures(now, day_start)
    }

    /// Each re-estimate, for the log / demo / API: time, dial level, answer rate, abandon
    /// %, reason.
    pub fn poll_decision(&mut self) -> Option<PacingDecision> {
        self.decisions.pop_front()
    }

    fn push_attempt(&mut self, now: DateTime<Utc>, person: bool) {
        self.attempts.push_back((now, person));
        while self.attempts.len() > ATTEMPTS_KEPT_MAX
            || (self.attempts.len() > ATTEMPTS_KEPT_MIN
                && self
                    .attempts
                    .front()
                    .is_some_and(|a| a.0 < now - ANSWER_WINDOW))
        {
            self.attempts.pop_front();
        }
    }

    fn reestimate(&mut self, now: DateTime<Utc>) {
        let persons = self.attempts.iter().filter(|a| a.1).count();
        let answer_rate = (self.attempts.len() >= MIN_ATTEMPTS && self.rings.len() >= MIN_RINGS)
            .then(|| persons as f64 / self.attempts.len() as f64);
        let abandon_pct = self.abandon.pct_24h(now);
        self.estimate = Estimate {
            answer_rate,
            mean_ring: mean(&self.rings),
            rings: sorted_if(&self.rings, 0),
            unanswered: sorted_if(&self.unanswered, 0),
            handles: sorted_if(&self.handles, MIN_HANDLES),
            wrap_ups: sorted_if(&self.wrap_ups, MIN_HANDLES),
            abandon_pct,
            weight: predictive_weight(abandon_pct, self.settings.abandon_cap_pct),
        };
        self.next_estimate = now + delta(self.settings.reestimate_every);
        let floor = self.last_floor.clone();
        let plan = self.plan(&floor);
        let operators = floor.operators();
        self.decisions.push_back(PacingDecision {
            at: now,
            mode: self.settings.mode,
            dial_level: if operators == 0 {
                0.0
            } else {
                f64::from(plan.hold) / f64::from(operators)
            },
            calls_to_hold: plan.hold,
            answer_rate: if self.attempts.is_empty() {
                0.0
            } else {
                persons as f64 / self.attempts.len() as f64
            },
            mean_ring: Duration::from_secs_f64(self.estimate.mean_ring),
            mean_handle: Duration::from_secs_f64(mean(&self.handles)),
            expected_free: plan.expected_free,
            abandon_24h_pct: abandon_pct,
            reason: plan.reason,
        });
    }

    /// Calls to hold in flight for `floor`, from the last estimate, within the lines and
    /// `max_ratio` × operators present.
    fn plan(&self, floor: &Floor) -> Plan {
        let lines = floor.in_flight.saturating_add(floor.lines_free);
        let ratio = (self.settings.max_ratio.max(0.0) * f64::from(floor.operators())).floor();
        // `as` saturates: a ratio beyond u32 is no limit
        let limit = lines.min(ratio as u32);
        let progressive = floor.ready;
        // `wanted`: what the mode would hold with no limit, to say when the limit bit
        let (hold, wanted, expected_free, reason) = match self.settings.mode {
            DialMode::Preview => (
                0,
                0,
                f64::from(floor.ready),
                "preview: the operator places each call".to_string(),
            ),
            DialMode::Progressive => (
                progressive,
                progressive,
                f64::from(floor.ready),
                "progressive: one call per ready operator".to_string(),
            ),
            DialMode::Predictive => self.predictive(floor, limit),
        };
        let capped = hold.min(limit);
        let reason = if wanted > capped && capped == limit {
            let by = if limit == lines {
                "the lines"
            } else {
                "max_ratio"
            };
            format!("{reason} (held to {capped} by {by})")
        } else {
            reason
        };
        Plan {
            hold: capped,
            expected_free,
            reason,
        }
    }

    /// (calls to hold, what the full level wanted, expected free, why).
    fn predictive(&self, floor: &Floor, limit: u32) -> (u32, u32, f64, String) {
        let e = &self.estimate;
        let ready = floor.ready;
        let Some(answer_rate) = e.answer_rate else {
            let reason = format!(
                "predictive, warming up: {} of {MIN_ATTEMPTS} attempts and {} of {MIN_RINGS} \
                 answers seen, one call per ready operator until then",
                self.attempts.len(),
                self.rings.len()
            );
            return (ready, ready, f64::from(ready), reason);
        };
        // a talking operator still has their wrap-up ahead: with T + W ≈ H and W ≈ its
        // mean, P(T + W ≤ e + h | T > e) = P(H ≤ e + h | H > e + W)
        let wrap = if e.wrap_ups.is_empty() {
            0.0
        } else {
            e.wrap_ups.iter().sum::<f64>() / e.wrap_ups.len() as f64
        };
        let connect = self.settings.connect_within.as_secs_f64();
        let fresh = vec![Duration::ZERO; floor.in_flight as usize];
        let ringing = if floor.ringing.len() == floor.in_flight as usize {
            &floor.ringing
        } else {
            &fresh
        };
        // a new call's person answers at one of the ring quantiles, and may wait
        // connect_within there for an operator
        let moments: Vec<Moment> = ring_quantiles(&e.rings)
            .into_iter()
            .map(|at| {
                let horizon = at + connect;
                let chances: Vec<f64> = floor
                    .talking
                    .iter()
                    .map(|t| {
                        if horizon <= wrap {
                            0.0
                        } else {
                            free_within(&e.handles, t.as_secs_f64() + wrap, horizon - wrap)
                        }
                    })
                    .chain(
                        floor
                            .wrapping_up
                            .iter()
                            .map(|w| free_within(&e.wrap_ups, w.as_secs_f64(), horizon)),
                    )
                    .collect();
                let flight = ringing
                    .iter()
                    .map(|r| {
                        person_within(&e.rings, &e.unanswered, answer_rate, r.as_secs_f64(), at)
                    })
                    .collect();
                // another's person answers first: ring shorter, or as long half of the time
                let shorter = e.rings.partition_point(|x| *x < at);
                let as_long = e.rings.partition_point(|x| *x <= at) - shorter;
                let before = (shorter as f64 + as_long as f64 / 2.0) / e.rings.len() as f64;
                Moment {
                    free: operators_free(ready, &chances),
                    flight,
                    new_call: answer_rate * before,
                }
            })
            .collect();
        let expected_free = moments
            .get(moments.len() / 2)
            .map_or(f64::from(ready), |m| {
                m.free.iter().enumerate().map(|(k, p)| k as f64 * p).sum()
            });
        // one past the room, so that `plan` can say when the limit is what held it
        let room = limit.saturating_sub(floor.in_flight).saturating_add(1);
        let full = floor.in_flight + calls_to_add(&moments, RISK_PER_CALL, room);
        let w = e.weight;
        // the blend goes from one call per ready operator (w = 0) to the full level (w = 1)
        let wanted = full;
        let full = full.min(limit);
        let hold = if full <= ready {
            full
        } else {
            ready + (f64::from(full - ready) * w).floor() as u32
        };
        let cap = self.settings.abandon_cap_pct;
        let reason = if w >= 1.0 {
            format!(
                "predictive: abandon 24 h {:.2} % is under {:.0} % of the {cap:.1} % cap, \
                 full dial level from answer rate and operators about to finish",
                e.abandon_pct,
                BLEND_FROM * 100.0
            )
        } else if w <= 0.0 {
            format!(
                "predictive held to progressive: abandon 24 h {:.2} % at or above the \
                 {cap:.1} % cap",
                e.abandon_pct
            )
        } else {
            format!(
                "predictive blended {:.0} % toward progressive: abandon 24 h {:.2} % is \
                 {:.0} % of the {cap:.1} % cap",
                (1.0 - w) * 100.0,
                e.abandon_pct,
                e.abandon_pct / cap * 100.0
            )
        };
        (hold, wanted, expected_free, reason)
    }
}

fn push_kept(samples: &mut VecDeque<f64>, v: f64) {
    samples.push_back(v);
    if samples.len() > SAMPLES_KEPT {
        samples.pop_front();
    }
}

fn sorted_if(samples: &VecDeque<f64>, min: usize) -> Vec<f64> {
    if samples.len() < min {
        return Vec::new();
    }
    let mut v: Vec<f64> = samples.iter().copied().collect();
    v.sort_by(f64::total_cmp);
    v
}

fn mean(samples: &VecDeque<f64>) -> f64 {
    if samples.is_empty() {
        0.0
    } else {
        samples.iter().sum::<f64>() / samples.len() as f64
    }
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}
