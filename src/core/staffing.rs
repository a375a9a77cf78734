//! How many operators a queue needs: Erlang C (callers wait as long as it takes) and
//! Erlang A (callers hang up after their patience, exponential with a given mean). Pure.
//!
//! The offered load in Erlangs is calls per hour × average handle time ÷ 3600. Erlang B is
//! computed by its recursion `B(n) = A·B(n−1) / (n + A·B(n−1))`, which never forms a
//! factorial or a power of A, so it stays exact for thousands of operators; Erlang C follows
//! from it as `C = N·B / (N − A·(1 − B))`.

use std::time::Duration;

/// The traffic a queue is offered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    pub calls_per_hour: f64,
    /// Average handle time: talk plus after-call work.
    pub aht: Duration,
}

impl Load {
    /// The offered load in Erlangs (operators busy on average).
    pub fn erlangs(&self) -> f64 {
        self.calls_per_hour * self.aht.as_secs_f64() / 3600.0
    }
}

/// What `operators` operators achieve with a load, by Erlang C.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Staffed {
    pub operators: u32,
    /// Share of callers answered within the target time (0–1).
    pub service_level: f64,
    /// Share of callers who wait at all (0–1).
    pub wait_probability: f64,
    /// Average speed of answer over all callers, seconds (infinite when overloaded).
    pub asa_s: f64,
    /// Share of the operators' time spent on calls (0–1).
    pub occupancy: f64,
}

/// Erlang B: the share of calls blocked when `n` lines carry `a` Erlangs.
pub fn erlang_b(a: f64, n: u32) -> f64 {
    let mut b = 1.0;
    for k in 1..=n {
        b = a * b / (f64::from(k) + a * b);
    }
    b
}

/// Erlang C: the share of callers who wait when `n` operators take `a` Erlangs (1 when
/// `n` ≤ `a`: the queue grows without end).
pub fn erlang_c(a: f64, n: u32) -> f64 {
    let n_f = f64::from(n);
    if n_f <= a {
        return 1.0;
    }
    let b = erlang_b(a, n);
    n_f * b / (n_f - a * (1.0 - b))
}

/// What `operators` achieve with `load`, the target being an answer within `target`.
pub fn with_operators(load: Load, operators: u32, target: Duration) -> Staffed {
    let a = load.erlangs();
    let aht = load.aht.as_secs_f64();
    let n = f64::from(operators);
    let c = erlang_c(a, operators);
    let (service_level, asa_s) = if n <= a || aht <= 0.0 {
        (if a == 0.0 { 1.0 } else { 0.0 }, f64::INFINITY)
    } else {
        (
            1.0 - c * (-(n - a) * target.as_secs_f64() / aht).exp(),
            c * aht / (n - a),
        )
    };
    Staffed {
        operators,
        service_level,
        wait_probability: c,
        asa_s: if a == 0.0 { 0.0 } else { asa_s },
        occupancy: if n > 0.0 { (a / n).min(1.0) } else { 1.0 },
    }
}

/// The fewest operators who answer `service_level` (0–1) of the callers within `target`;
/// `None` if more than `max_operators` would be needed.
pub fn operators_needed(
    load: Load,
    target: Duration,
    service_level: f64,
    max_operators: u32,
) -> Option<Staffed> {
    // Fewer than the load in Erlangs can never keep up.
    let start = (load.erlangs().floor() as u32).max(1);
    (start..=max_operators)
        .map(|n| with_operators(load, n, target))
        .find(|s| s.service_level >= service_level)
}

/// What `operators` achieve by Erlang A (M/M/N+M), callers giving up after their patience.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StaffedA {
    pub operators: u32,
    /// Share of the callers answered within the target time (0–1).
    pub service_level: f64,
    /// Share of the callers who wait at all (0–1).
    pub wait_probability: f64,
    /// Share of the callers who hang up before an answer (0–1).
    pub abandon_probability: f64,
    /// Average wait of all callers, those who gave up included, seconds.
    pub average_wait_s: f64,
    /// Share of the operators' time spent on calls (0–1).
    pub occupancy: f64,
}

/// Most states of the queue Erlang A is computed over: a load that needs more (far more
/// callers than operators and patience) is out of reach, not an approximation.
const MAX_STATES: usize = 50_000;

/// Erlang A: what `operators` achieve with `load` when callers' patience is exponential
/// with mean `patience`; `None` if the queue would need more than [`MAX_STATES`] states.
///
/// The stationary distribution of the number of callers (birth λ; death `min(n,N)·μ +
/// max(n−N,0)·θ`) is computed in logarithms (no overflow for large centers) and cut where
/// it falls below e⁻⁴⁰ of its peak. A caller who arrives with `k` callers ahead is answered
/// within T with the probability that the phases "k ahead, …, 0 ahead, answered" (rates
/// `N·μ + j·θ`, against their own patience θ) end by T, computed for every `k` at once by
/// uniformisation.
pub fn erlang_a(
    load: Load,
    operators: u32,
    target: Duration,
    patience: Duration,
) -> Option<StaffedA> {
    let n_ops = operators as usize;
    let lambda = load.calls_per_hour / 3600.0;
    let aht = load.aht.as_secs_f64();
    let patience = patience.as_secs_f64();
    if operators == 0 || aht <= 0.0 || patience <= 0.0 {
        return None;
    }
    let (mu, theta) = (1.0 / aht, 1.0 / patience);
    if lambda <= 0.0 {
        return Some(StaffedA {
            operators,
            service_level: 1.0,
            wait_probability: 0.0,
            abandon_probability: 0.0,
            average_wait_s: 0.0,
            occupancy: 0.0,
        });
    }
    // ln π(n), unnormalised
    let mut log_pi = vec![0.0_f64];
    let mut peak = 0.0_f64;
    loop {
        let n = log_pi.len();
        if n > MAX_STATES {
            return None;
        }
        let death = n.min(n_ops) as f64 * mu + n.saturating_sub(n_ops) as f64 * theta;
        let l = log_pi[n - 1] + (lambda / death).ln();
        log_pi.push(l);
        peak = peak.max(l);
        if n > n_ops && l < peak - 40.0 {
            break;
        }
    }
    let weights: Vec<f64> = log_pi.iter().map(|l| (l - peak).exp()).collect();
    let total: f64 = weights.iter().sum();
    let pi: Vec<f64> = weights.iter().map(|w| w / total).collect();
    let wait_probability: f64 = pi[n_ops..].iter().sum();
    let queue_mean: f64 = pi
        .iter()
        .enumerate()
        .skip(n_ops + 1)
        .map(|(n, p)| (n - n_ops) as f64 * p)
        .sum();
    let abandon_probability = (theta * queue_mean / lambda).min(1.0);
    // answered within T, for each number k of callers ahead on arrival
    let ahead = pi.len() - n_ops;
    let answered = answered_within(ahead, operators, mu, theta, target.as_secs_f64());
    let service_level = pi[..n_ops].iter().sum::<f64>()
        + pi[n_ops..]
            .iter()
            .zip(&answered)
            .map(|(p, a)| p * a)
            .sum::<f64>();
    Some(StaffedA {
        operators,
        service_level: service_level.min(1.0),
        wait_probability,
        abandon_probability,
        average_wait_s: queue_mean / lambda,
        occupancy: (lambda * (1.0 - abandon_probability) * aht / f64::from(operators)).min(1.0),
    })
}

/// For k = 0..`ahead`: the probability that a caller with k callers ahead is answered
/// within `t` seconds (uniformisation of the phases described at [`erlang_a`]).
fn answered_within(ahead: usize, operators: u32, mu: f64, theta: f64, t: f64) -> Vec<f64> {
    let serve = f64::from(operators) * mu;
    let rate = |j: usize| serve + j as f64 * theta;
    let uniform = rate(ahead) + theta;
    let lt = uniform * t;
    // u[j]: answered within m uniformised steps from j ahead; acc: Σ Poisson(m; Λt)·u_m
    let mut u = vec![0.0_f64; ahead];
    let mut acc = vec![0.0_f64; ahead];
    if lt <= 0.0 {
        return acc;
    }
    let steps = (lt + 10.0 * lt.sqrt() + 20.0).ceil() as usize;
    let ln_lt = lt.ln();
    let mut ln_w = -lt; // ln Poisson(0; Λt)
    for m in 1..=steps {
        ln_w += ln_lt - (m as f64).ln();
        let mut next = vec![0.0_f64; ahead];
        for j in 0..ahead {
            let on = if j == 0 { 1.0 } else { u[j - 1] };
            next[j] = rate(j) / uniform * on + (1.0 - (rate(j) + theta) / uniform) * u[j];
        }
        u = next;
        let w = ln_w.exp();
        for (a, x) in acc.iter_mut().zip(&u) {
            *a += w * x;
        }
    }
    acc
}

/// The fewest operators who answer `service_level` (0–1) within `target` by Erlang A;
/// `None` if more than `max_operators` would be needed.
pub fn operators_needed_a(
    load: Load,
    target: Duration,
    service_level: f64,
    patience: Duration,
    max_operators: u32,
) -> Option<StaffedA> {
    let meets =
        |n: u32| erlang_a(load, n, target, patience).filter(|s| s.service_level >= service_level);
    // More operators never answer fewer callers in time: the smallest that meets the goal
    // by bisection (each point is a whole Erlang A computation).
    let mut best = meets(max_operators)?;
    let (mut lo, mut hi) = (1, max_operators);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match meets(mid) {
            Some(s) => {
                best = s;
                hi = mid;
            }
            None => lo = mid + 1,
        }
    }
    Some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() <= eps
    }

    #[test]
    fn erlang_b_matches_the_published_tables() {
        // 10 lines at 5 Erlangs block 1.84 %; an E1's 30 channels at 20 Erlangs 0.85 %
        assert!(close(erlang_b(5.0, 10), 0.018_38, 0.000_01));
        assert!(close(erlang_b(20.0, 30), 0.008_46, 0.000_01));
    }

    #[test]
    fn erlang_c_matches_the_textbook_and_the_issue_example() {
        // 3 servers, 2 Erlangs: 4/9 of callers wait
        assert!(close(erlang_c(2.0, 3), 4.0 / 9.0, 1e-12));
        // 200 calls/h × 180 s = 10 Erlangs on 14 operators, 20 s target
        let load = Load {
            calls_per_hour: 200.0,
            aht: Duration::from_secs(180),
        };
        assert!(close(load.erlangs(), 10.0, 1e-12));
        let s = with_operators(load, 14, Duration::from_secs(20));
        assert!(close(s.service_level, 0.888, 0.0005), "{s:?}");
        assert!(close(s.asa_s, 7.8, 0.05), "{s:?}");
        assert!(close(s.occupancy, 10.0 / 14.0, 1e-12));
        // 13 operators answer 79.6 % in 20 s, 14 answer 88.8 %, 15 answer 94.1 %
        let need =
            |sl| operators_needed(load, Duration::from_secs(20), sl, 100).map(|s| s.operators);
        assert_eq!(need(0.79), Some(13));
        assert_eq!(need(0.80), Some(14));
        assert_eq!(need(0.888), Some(14));
        assert_eq!(need(0.90), Some(15));
    }

    #[test]
    fn erlang_a_agrees_with_erlang_c_and_with_a_simulation() {
        let load = Load {
            calls_per_hour: 200.0,
            aht: Duration::from_secs(180),
        };
        let t = Duration::from_secs(20);
        // callers who never give up: Erlang C
        let a = erlang_a(load, 14, t, Duration::from_secs(1_000_000_000)).unwrap();
        let c = with_operators(load, 14, t);
        assert!(close(a.service_level, c.service_level, 1e-6), "{a:?}");
        assert!(close(a.wait_probability, c.wait_probability, 1e-6));
        assert!(close(a.average_wait_s, c.asa_s, 1e-3));
        assert!(a.abandon_probability < 1e-6);
        // 10 operators for 10 Erlangs, callers hang up after 60 s on average: Erlang C says
        // the queue never ends; four simulation runs (3.4 × 10⁶ callers in all, FCFS,
        // exponential patience) gave 71.5–72.1 % answered in 20 s and 15.6–16.0 % abandoned
        let a = erlang_a(load, 10, t, Duration::from_secs(60)).unwrap();
        assert!(close(a.service_level, 0.718, 0.001), "{a:?}");
        assert!(close(a.abandon_probability, 0.1575, 0.001), "{a:?}");
        // 12 operators, 120 s patience: simulated (4 × 10⁵ callers) 82.7 % and 6.1 %
        let a = erlang_a(load, 12, t, Duration::from_secs(120)).unwrap();
        assert!(close(a.service_level, 0.8256, 0.001), "{a:?}");
        assert!(close(a.abandon_probability, 0.0616, 0.001), "{a:?}");
        // those who give up make room: better than Erlang C with the same staff
        assert!(a.service_level > with_operators(load, 12, t).service_level);
        // and so fewer operators meet a goal: 80 % in 20 s takes 14 by Erlang C, 12 here
        let need = operators_needed_a(load, t, 0.80, Duration::from_secs(120), 100).unwrap();
        assert_eq!(need.operators, 12, "{need:?}");
        assert!(
            erlang_a(load, 11, t, Duration::from_secs(120))
                .unwrap()
                .service_level
                < 0.80
        );
    }

    #[test]
    fn large_centers_and_overload_stay_finite() {
        let c = erlang_c(500.0, 520);
        assert!(c > 0.0 && c < 1.0 && c.is_finite(), "{c}");
        let big = Load {
            calls_per_hour: 10_000.0,
            aht: Duration::from_secs(180),
        };
        let a = erlang_a(big, 520, Duration::from_secs(20), Duration::from_secs(60)).unwrap();
        assert!(a.service_level > 0.0 && a.service_level <= 1.0, "{a:?}");
        assert!(
            a.abandon_probability > 0.0 && a.abandon_probability < 0.1,
            "{a:?}"
        );
        assert!(close(c, 0.274_756, 0.000_001));
        // as many operators as Erlangs: everyone waits, for ever on average
        let load = Load {
            calls_per_hour: 200.0,
            aht: Duration::from_secs(180),
        };
        let s = with_operators(load, 10, Duration::from_secs(20));
        assert_eq!(s.wait_probability, 1.0);
        assert_eq!(s.service_level, 0.0);
        assert!(s.asa_s.is_infinite());
        assert_eq!(
            operators_needed(load, Duration::from_secs(20), 0.99, 12),
            None
        );
        // no calls: nobody waits
        let idle = Load {
            calls_per_hour: 0.0,
            aht: Duration::from_secs(180),
        };
        let s = with_operators(idle, 1, Duration::from_secs(20));
        assert_eq!(
            (s.service_level, s.asa_s, s.wait_probability),
            (1.0, 0.0, 0.0)
        );
    }
}
