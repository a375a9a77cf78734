//! The arithmetic of predictive pacing, as plain functions of numbers: the chance that a
//! busy operator is free within a horizon given how long they have been busy (from the
//! empirical handle-time distribution), the distribution of operators free by then, the
//! chance that a call still ringing brings a person, how many new calls to add before the
//! next one risks too much, and the blend toward progressive as the abandon rate nears the
//! cap.

/// Above this share of the cap the dial level is blended down toward progressive; at the
/// cap it is progressive. 0.7: room for the ~15 s until the next re-estimate at full pace.
pub const BLEND_FROM: f64 = 0.7;

/// The largest chance, for one more call, that its person would answer with every operator
/// free by then already taken by the persons of the calls before it. The pacer tops calls
/// up to this at every event, so it is about the abandon rate the raw policy reaches (on
/// `benches/predictive.rs`, 20 operators at 30 %: 0.01 → 1.3 %, 0.02 → 2.3 %, 0.04 →
/// 4.6 %, 0.1 → 10.6 % over ten seeds): kept under the 70 % of the cap where the fallback
/// starts to brake.
pub const RISK_PER_CALL: f64 = 0.02;

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

/// The ring times at which a new call's person is taken to answer, equally likely: the
/// 10th, 30th, 50th, 70th and 90th percentiles of `sorted` persons' ring times.
pub fn ring_quantiles(sorted: &[f64]) -> Vec<f64> {
    if sorted.is_empty() {
        return Vec::new();
    }
    let last = (sorted.len() - 1) as f64;
    [0.1, 0.3, 0.5, 0.7, 0.9]
        .iter()
        .map(|q| sorted[(last * q).round() as usize])
        .collect()
}

/// The chance that a call still ringing after `elapsed` s brings a person within the next
/// `within` s: of the calls that ring that long, persons (`answer_rate` of all calls, ring
/// times `rings`) against the rest (`unanswered`: how long busy, unanswered and machine
/// calls rang), both ascending. A call that has rung longer than any sample of either (a
/// no-answer about to time out) brings nobody.
pub fn person_within(
    rings: &[f64],
    unanswered: &[f64],
    answer_rate: f64,
    elapsed: f64,
    within: f64,
) -> f64 {
    let survives = |sorted: &[f64], t: f64| {
        if sorted.is_empty() {
            return 1.0;
        }
        (sorted.len() - sorted.partition_point(|x| *x <= t)) as f64 / sorted.len() as f64
    };
    let person = answer_rate * survives(rings, elapsed);
    let other = (1.0 - answer_rate) * survives(unanswered, elapsed);
    if person + other <= 0.0 {
        return 0.0;
    }
    (person - answer_rate * survives(rings, elapsed + within)) / (person + other)
}

/// One moment a new call's person may answer at, `at` s from now.
#[derive(Debug, Clone, PartialEq)]
pub struct Moment {
    /// P(k operators free by `at` + connect_within).
    pub free: Vec<f64>,
    /// Per call in flight: the chance its person has answered by `at`.
    pub flight: Vec<f64>,
    /// The chance that another new call's person has answered by `at`.
    pub new_call: f64,
}

/// How many new calls to place: one more is added while its person's risk of finding no
/// operator stays at most `risk`, never more than `room`. That risk, averaged over the
/// `moments` its person may answer at, is the chance that the persons answered by then
/// (of the calls in flight and of the other new calls) already take every operator free by
/// then (plus connect_within).
pub fn calls_to_add(moments: &[Moment], risk: f64, room: u32) -> u32 {
    if moments.is_empty() {
        return 0;
    }
    let mut persons: Vec<Vec<f64>> = moments
        .iter()
        .map(|m| operators_free(0, &m.flight))
        .collect();
    let mut added = 0;
    while added < room {
        let taken: f64 = moments
            .iter()
            .zip(&persons)
            .map(|(m, pmf)| all_taken(pmf, &m.free))
            .sum::<f64>()
            / moments.len() as f64;
        if taken > risk {
            break;
        }
        for (m, pmf) in moments.iter().zip(&mut persons) {
            let q = m.new_call.clamp(0.0, 1.0);
            pmf.push(0.0);
            for k in (1..pmf.len()).rev() {
                pmf[k] = pmf[k] * (1.0 - q) + pmf[k - 1] * q;
            }
            pmf[0] *= 1.0 - q;
        }
        added += 1;
    }
    added
}

/// P(persons ≥ free) = Σ_f P(free = f) · P(persons ≥ f).
fn all_taken(persons: &[f64], free: &[f64]) -> f64 {
    let mut at_least = vec![0.0; persons.len() + 1];
    let mut tail = 0.0;
    for k in (0..persons.len()).rev() {
        tail += persons[k];
        at_least[k] = tail;
    }
    free.iter()
        .enumerate()
        .map(|(f, pf)| pf * at_least.get(f).copied().unwrap_or(0.0))
        .sum()
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

    /// One moment: `free` operators free for certain, no calls in flight.
    fn moment(free: u32, flight: Vec<f64>, new_call: f64) -> Moment {
        Moment {
            free: operators_free(free, &[]),
            flight,
            new_call,
        }
    }

    #[test]
    fn calls_to_add_covers_the_sure_operators_and_stops_at_the_risk() {
        // 2 free for certain, every call a person by then: two calls carry no risk, a third does
        assert_eq!(calls_to_add(&[moment(2, vec![], 1.0)], 0.2, 10), 2);
        // at 30 %: the third call's risk is P(both earlier answered) = 0.09, the fourth's 0.216
        assert_eq!(calls_to_add(&[moment(2, vec![], 0.3)], 0.1, 10), 3);
        assert_eq!(calls_to_add(&[moment(2, vec![], 0.3)], 0.085, 10), 2);
        assert_eq!(calls_to_add(&[moment(2, vec![], 0.3)], 0.22, 10), 4);
        // calls in flight count by their own chances: two sure persons fill both operators,
        // two that can no longer bring one leave room for three
        assert_eq!(calls_to_add(&[moment(2, vec![1.0, 1.0], 0.3)], 0.1, 10), 0);
        assert_eq!(calls_to_add(&[moment(2, vec![0.0, 0.0], 0.3)], 0.1, 10), 3);
        // the risk is averaged over the moments: nobody free at the early one
        let early_late = [moment(0, vec![], 0.3), moment(2, vec![], 0.3)];
        assert_eq!(calls_to_add(&early_late, 0.4, 10), 0);
        assert_eq!(calls_to_add(&early_late, 0.5, 10), 2);
        assert_eq!(calls_to_add(&early_late, 0.55, 10), 3);
        // nobody free: nothing; the room holds even with a huge risk allowance
        assert_eq!(calls_to_add(&[moment(0, vec![], 0.3)], 0.2, 10), 0);
        assert_eq!(calls_to_add(&[moment(20, vec![], 0.3)], 1.0, 7), 7);
        assert_eq!(calls_to_add(&[], 1.0, 7), 0);
    }

    #[test]
    fn a_call_that_rang_long_is_less_likely_a_person() {
        // persons answer after 5–15 s; the others are busy at 3 s or time out at 30 s
        let rings = [5.0, 7.0, 9.0, 11.0, 13.0, 15.0];
        let unanswered = [3.0, 3.0, 30.0, 30.0, 30.0, 30.0];
        let within = |e, w| person_within(&rings, &unanswered, 0.3, e, w);
        assert!((within(0.0, 60.0) - 0.3).abs() < 1e-9);
        assert!((within(0.0, 10.0) - 0.3 * 3.0 / 6.0).abs() < 1e-9);
        // at 10 s: half the persons still to come, busy calls are over
        let at10 = 0.3 * 0.5 / (0.3 * 0.5 + 0.7 * 4.0 / 6.0);
        assert!((within(10.0, 60.0) - at10).abs() < 1e-9);
        // past every person's ring: a no-answer about to time out
        assert_eq!(within(20.0, 60.0), 0.0);
        assert_eq!(within(40.0, 60.0), 0.0);
    }

    #[test]
    fn ring_quantiles_are_five_equal_steps() {
        let s: Vec<f64> = (0..=10).map(f64::from).collect();
        assert_eq!(ring_quantiles(&s), vec![1.0, 3.0, 5.0, 7.0, 9.0]);
        assert!(ring_quantiles(&[]).is_empty());
    }
}
