//! The arithmetic of predictive pacing, as plain functions of numbers: the chance that a
//! busy operator is free within a horizon given how long they have been busy (from the
//! empirical handle-time distribution), the distribution of operators free by then, the
//! largest number of calls in flight whose next call still risks little, and the blend
//! toward progressive as the abandon rate nears the cap.

/// Above this share of the cap the dial level is blended down toward progressive; at the
/// cap it is progressive. 0.7: room for the ~15 s until the next re-estimate at full pace.
pub const BLEND_FROM: f64 = 0.7;

/// The largest chance, for one more call, that its person would answer with every operator
/// free by then already taken by the persons of the calls before it. Tuned on
/// `benches/predictive.rs` (20 operators, 30 % answer rate): lower wastes operator time,
/// higher abandons more than the 3 % cap allows.
pub const RISK_PER_CALL: f64 = 0.2;

/// How much of the way from progressive to predictive the pacer goes, given the rolling
/// abandon percentage and the cap: 1 below [`BLEND_FROM`] × cap, 0 at or above the cap,
/// linear between.
pub fn predictive_weight(abandon_pct: f64, cap_pct: f64) -> f64 {
    if cap_pct <= 0.0 {
        return 0.0;
    }
    // 1e-9: 2.1 % of a 3 % cap is 70 % of it, not 70.000…01 %
    let share = abandon_pct / cap_pct;
    if share <= BLEND_FROM + 1e-9 {
        1.0
    } else if share >= 1.0 - 1e-9 {
        0.0
    } else {
        (1.0 - share) / (1.0 - BLEND_FROM)
    }
}

/// P(busy time ≤ elapsed + horizon | busy time > elapsed), from `sorted` samples (seconds,
/// ascending). Past every sample the operator is overdue and nothing is known about the
/// rest: memoryless with the samples' mean (a long call ends at the average rate).
pub fn free_within(sorted: &[f64], elapsed: f64, horizon: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let above = sorted.partition_point(|x| *x <= elapsed);
    let longer = sorted.len() - above;
    if longer == 0 {
        let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
        return 1.0 - (-horizon / mean.max(1.0)).exp();
    }
    let by_then = sorted.partition_point(|x| *x <= elapsed + horizon) - above;
    by_then as f64 / longer as f64
}

/// The distribution of operators free by the horizon: `sure` of them for certain (ready),
/// plus one per chance in `chances` (independent). `pmf[k]` = P(exactly k free).
pub fn operators_free(sure: u32, chances: &[f64]) -> Vec<f64> {
    let mut pmf = vec![0.0; sure as usize + 1];
    pmf[sure as usize] = 1.0;
    for &q in chances {
        let q = q.clamp(0.0, 1.0);
        pmf.push(0.0);
        for k in (1..pmf.len()).rev() {
            pmf[k] = pmf[k] * (1.0 - q) + pmf[k - 1] * q;
        }
        pmf[0] *= 1.0 - q;
    }
    pmf
}

/// How many calls to have in flight: starting from those already in flight, one more is
/// added while the chance that the persons of the calls before it already take every
/// operator free by then stays at most `risk` (the marginal call's abandon risk), and never
/// beyond `limit`. Each call brings a person with probability `answer_rate`.
pub fn calls_to_hold(
    in_flight: u32,
    answer_rate: f64,
    free_pmf: &[f64],
    risk: f64,
    limit: u32,
) -> u32 {
    let p = answer_rate.clamp(0.0, 1.0);
    // persons among the calls so far: Binomial(m, p), built one call at a time
    let mut persons = vec![1.0];
    let add_call = |persons: &mut Vec<f64>| {
        persons.push(0.0);
        for k in (1..persons.len()).rev() {
            persons[k] = persons[k] * (1.0 - p) + persons[k - 1] * p;
        }
        persons[0] *= 1.0 - p;
    };
    for _ in 0..in_flight {
        add_call(&mut persons);
    }
    let mut m = in_flight;
    while m < limit {
        // P(persons ≥ free) = Σ_f P(free = f) · P(persons ≥ f)
        let mut tail = 0.0;
        let mut at_least = vec![0.0; persons.len() + 1];
        for k in (0..persons.len()).rev() {
            tail += persons[k];
            at_least[k] = tail;
        }
        let taken: f64 = free_pmf
            .iter()
            .enumerate()
            .map(|(f, pf)| pf * at_least.get(f).copied().unwrap_or(0.0))
            .sum();
        if taken > risk {
            break;
        }
        add_call(&mut persons);
        m += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_is_full_below_seventy_percent_of_the_cap_and_none_at_it() {
        assert_eq!(predictive_weight(0.0, 3.0), 1.0);
        assert_eq!(predictive_weight(2.1, 3.0), 1.0);
        assert!((predictive_weight(2.55, 3.0) - 0.5).abs() < 1e-9);
        assert_eq!(predictive_weight(3.0, 3.0), 0.0);
        assert_eq!(predictive_weight(7.0, 3.0), 0.0);
        assert_eq!(
            predictive_weight(0.0, 0.0),
            0.0,
            "a zero cap allows no overdial"
        );
    }

    #[test]
    fn free_within_is_conditional_on_the_time_already_spent() {
        // handle times 100, 200, …, 1000 s
        let s: Vec<f64> = (1..=10).map(|i| f64::from(i) * 100.0).collect();
        // just started: 1 of 10 ends within 150 s
        assert!((free_within(&s, 0.0, 150.0) - 0.1).abs() < 1e-9);
        // 850 s in: of the two longer (900, 1000), one ends by 950
        assert!((free_within(&s, 850.0, 100.0) - 0.5).abs() < 1e-9);
        // past every sample: memoryless at the mean (550 s)
        let overdue = free_within(&s, 2000.0, 55.0);
        assert!((overdue - (1.0 - (-0.1f64).exp())).abs() < 1e-9);
        assert_eq!(free_within(&[], 10.0, 10.0), 0.0);
    }

    #[test]
    fn operators_free_is_the_sure_ones_plus_the_chances() {
        let pmf = operators_free(2, &[0.5, 0.5]);
        assert_eq!(pmf.len(), 5);
        let want = [0.0, 0.0, 0.25, 0.5, 0.25];
        for (a, b) in pmf.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{pmf:?}");
        }
    }

    #[test]
    fn calls_to_hold_covers_the_sure_operators_and_stops_at_the_risk() {
        // 2 ready for certain, answer rate 1: exactly two calls carry no risk, a third does
        let pmf = operators_free(2, &[]);
        assert_eq!(calls_to_hold(0, 1.0, &pmf, 0.2, 10), 2);
        // at 30 %: the third call's risk is P(both earlier answer) = 0.09, the fourth's 0.216
        assert_eq!(calls_to_hold(0, 0.3, &pmf, 0.1, 10), 3);
        assert_eq!(calls_to_hold(0, 0.3, &pmf, 0.085, 10), 2);
        assert_eq!(calls_to_hold(0, 0.3, &pmf, 0.22, 10), 4);
        // nobody free soon: nothing, whatever is in flight
        let none = operators_free(0, &[]);
        assert_eq!(calls_to_hold(0, 0.3, &none, 0.2, 10), 0);
        assert_eq!(calls_to_hold(4, 0.3, &none, 0.2, 10), 4);
        // the limit holds even with a huge risk allowance
        assert_eq!(calls_to_hold(0, 0.3, &operators_free(20, &[]), 1.0, 7), 7);
    }
}
