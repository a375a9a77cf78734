//! The dialers the production pacer is measured against on the same simulated hours: the
//! VICIdial baseline the issue names, and a reference no real dialer can be (told when
//! every talk ends).

use std::collections::VecDeque;

use contactd::core::dialer::{calls_to_add, operators_free, person_within, ring_quantiles, Moment};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{person_ring, Op, World, ANSWER, BUSY, NO_ANSWER_MS};

/// VICIdial's ADAPT_HARD_LIMIT as its `AST_VDadapt.pl` does it, with the defaults
/// (intensity 0, dial-level differential target 0, `available_only_ratio_tally` N): every
/// 15 s the dial level is scaled by (1 + the last minute's mean of agents waiting minus
/// calls waiting, over the mean of agents active), kept within 1.0 and the 3.0 maximum, and
/// set to 1.0 while today's drops exceed the cap (after 50 calls). The auto-dialer holds
/// level × (agents ready + in call) lines: calls ringing, waiting and talking. Agents in
/// their disposition screen are paused for it and do not count.
pub(super) struct Vicidial {
    level: f64,
    /// Per second of the last minute: (agents waiting − calls waiting, agents active).
    samples: VecDeque<(f64, f64)>,
    next_sample: i64,
    next_adapt: i64,
}

impl Vicidial {
    const ADAPT_MS: i64 = 15_000;
    const MAX_LEVEL: f64 = 3.0;

    pub(super) fn new() -> Self {
        Self {
            level: 1.0,
            samples: VecDeque::new(),
            next_sample: 0,
            next_adapt: Self::ADAPT_MS,
        }
    }

    pub(super) fn due(&self) -> i64 {
        self.next_sample.min(self.next_adapt)
    }

    pub(super) fn tick(&mut self, w: &World, dialed: u32) {
        let f = w.floor();
        if w.now >= self.next_sample {
            let active = f64::from(f.ready) + f.talking.len() as f64;
            let waiting = w.waiting.len() as f64;
            self.samples
                .push_back((f64::from(f.ready) - waiting, active));
            if self.samples.len() > 60 {
                self.samples.pop_front();
            }
            self.next_sample += 1_000;
        }
        if w.now >= self.next_adapt {
            let n = self.samples.len().max(1) as f64;
            let diff = self.samples.iter().map(|s| s.0).sum::<f64>() / n;
            let agents = self.samples.iter().map(|s| s.1).sum::<f64>() / n;
            if agents > 0.0 {
                self.level *= 1.0 + diff / agents;
            }
            self.level = self.level.clamp(1.0, Self::MAX_LEVEL);
            let drops = f64::from(w.abandoned) * 100.0 / f64::from(w.answered.max(1));
            if dialed > 50 && drops > 3.0 {
                self.level = 1.0;
            }
            self.next_adapt += Self::ADAPT_MS;
        }
    }

    pub(super) fn to_dial(&self, w: &World) -> u32 {
        let f = w.floor();
        let talking = f.talking.len() as u32;
        let hold = (self.level * f64::from(f.ready + talking)).floor() as u32;
        let used = f.in_flight + talking + w.waiting.len() as u32;
        hold.saturating_sub(used).min(f.lines_free)
    }
}

/// What the [`Dialer::Knowing`] reference knows of the world: the persons' ring times and
/// the other calls' (busy 2–4 s, no answer at 30 s), sampled from the world's own
/// distributions (5,000 and 7,000 draws of a fixed seed).
pub(super) struct Truth {
    rings: Vec<f64>,
    unanswered: Vec<f64>,
}

impl Truth {
    pub(super) fn new() -> Self {
        let mut rng = StdRng::seed_from_u64(999);
        let mut rings: Vec<f64> = (0..5_000)
            .map(|_| person_ring(&mut rng) as f64 / 1000.0)
            .collect();
        // busy : no answer = 15 : 55
        let busy = (7_000.0 * BUSY / (1.0 - ANSWER)) as usize;
        let mut unanswered: Vec<f64> = (0..7_000)
            .map(|i| {
                if i < busy {
                    f64::from(rng.random_range(2_000..=4_000)) / 1000.0
                } else {
                    NO_ANSWER_MS as f64 / 1000.0
                }
            })
            .collect();
        rings.sort_by(f64::total_cmp);
        unanswered.sort_by(f64::total_cmp);
        Self { rings, unanswered }
    }

    /// The production rule, `calls_to_add` at `risk`, over moments built from the truth:
    /// an operator wrapping up is free at their wrap-up's end, one talking at their talk's
    /// end plus a wrap-up drawn from the world's range; a person waiting takes an operator.
    pub(super) fn to_dial(&self, w: &World, risk: f64, connect_within: i64) -> u32 {
        let (lo, hi) = (w.wrap_up.0 as f64 / 1000.0, w.wrap_up.1 as f64 / 1000.0);
        let moments: Vec<Moment> = ring_quantiles(&self.rings)
            .into_iter()
            .map(|t| {
                let by = (w.now + connect_within) as f64 / 1000.0 + t;
                let mut sure = 0;
                let mut chances = Vec::new();
                for op in &w.ops {
                    match *op {
                        Op::Ready { .. } => sure += 1,
                        Op::Wrapping { since, wrap, .. } => {
                            sure += u32::from((since + wrap) as f64 / 1000.0 <= by);
                        }
                        Op::Talking { since, talk } => {
                            let left = by - (since + talk) as f64 / 1000.0;
                            chances.push(if hi > lo {
                                ((left - lo) / (hi - lo)).clamp(0.0, 1.0)
                            } else {
                                f64::from(u8::from(left >= lo))
                            });
                        }
                    }
                }
                let person =
                    |rang: f64| person_within(&self.rings, &self.unanswered, ANSWER, rang, t);
                let mut flight: Vec<f64> = w
                    .flight
                    .iter()
                    .map(|c| person((w.now - c.1) as f64 / 1000.0))
                    .collect();
                flight.extend(w.waiting.iter().map(|_| 1.0));
                Moment {
                    free: operators_free(sure, &chances),
                    flight,
                    new_call: person(0.0),
                }
            })
            .collect();
        calls_to_add(&moments, risk, w.floor().lines_free)
    }
}
