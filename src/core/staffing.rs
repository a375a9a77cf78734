//! How many operators a queue needs: Erlang C (callers wait as long as it takes). Pure.
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
    fn large_centers_and_overload_stay_finite() {
        let c = erlang_c(500.0, 520);
        assert!(c > 0.0 && c < 1.0 && c.is_finite(), "{c}");
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
