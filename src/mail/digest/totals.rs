//! Several queues' KPI rows taken together: all queues of an interval (the charts) and of
//! the period (the "all queues" line). Counts are summed and the rates computed again from
//! the sums by `core::kpi`'s definitions, never averaged; the averages per call (ASA, AHT)
//! are weighted by the calls answered (AHT exactly so once every answered call has ended).
//! For one row the result is that row.

use super::QueueTotals;

fn ratio(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole)
}

/// `Σ value·weight / Σ weight` over the rows that have a value.
fn weighted(rows: &[(Option<f64>, f64)]) -> Option<f64> {
    let (sum, weight) = rows
        .iter()
        .filter_map(|(v, w)| v.map(|v| (v * w, *w)))
        .fold((0.0, 0.0), |(s, ws), (x, w)| (s + x, ws + w));
    ratio(sum, weight)
}

impl QueueTotals {
    /// `rows` taken together under `queue`. Service level: answered within the target ÷
    /// offered less those abandoned within 5 s (which do not count against it); abandon
    /// rate: abandoned ÷ offered, both less those; the target is kept when every row has
    /// the same, else 0.
    pub fn merge<'a>(queue: &str, rows: impl IntoIterator<Item = &'a QueueTotals>) -> Self {
        let rows: Vec<&QueueTotals> = rows.into_iter().collect();
        let sum = |f: fn(&QueueTotals) -> u64| rows.iter().map(|r| f(r)).sum::<u64>();
        let offered = sum(|r| r.offered);
        let answered = sum(|r| r.answered);
        let answered_in_target = sum(|r| r.answered_in_target);
        let abandoned = sum(|r| r.abandoned);
        let abandoned_short = sum(|r| r.abandoned_short);
        let per_answered = |f: fn(&QueueTotals) -> Option<f64>| {
            weighted(
                &rows
                    .iter()
                    .map(|r| (f(r), r.answered as f64))
                    .collect::<Vec<_>>(),
            )
        };
        let target_s = match rows.first() {
            Some(first) if rows.iter().all(|r| r.target_s == first.target_s) => first.target_s,
            _ => 0,
        };
        QueueTotals {
            queue: queue.to_string(),
            target_s,
            offered,
            answered,
            answered_in_target,
            abandoned,
            abandoned_short,
            transferred: sum(|r| r.transferred),
            service_level: ratio(
                answered_in_target as f64,
                offered.saturating_sub(abandoned_short) as f64,
            ),
            abandon_rate: ratio(
                abandoned.saturating_sub(abandoned_short) as f64,
                offered.saturating_sub(abandoned_short) as f64,
            ),
            asa_s: per_answered(|r| r.asa_s),
            aht_s: per_answered(|r| r.aht_s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(
        offered: u64,
        answered: u64,
        in_target: u64,
        ab: u64,
        short: u64,
        asa: f64,
    ) -> QueueTotals {
        QueueTotals {
            queue: "general".into(),
            target_s: 20,
            offered,
            answered,
            answered_in_target: in_target,
            abandoned: ab,
            abandoned_short: short,
            asa_s: Some(asa),
            aht_s: Some(100.0),
            ..QueueTotals::default()
        }
    }

    #[test]
    fn queues_are_summed_and_rates_computed_from_the_sums() {
        // day 1: 10 offered, 8 answered (6 in 20 s), 2 abandoned of which 1 within 5 s
        // day 2: 30 offered, 30 answered (27 in 20 s), ASA 5 s
        let m = QueueTotals::merge(
            "general",
            &[q(10, 8, 6, 2, 1, 20.0), q(30, 30, 27, 0, 0, 5.0)],
        );
        assert_eq!((m.offered, m.answered, m.answered_in_target), (40, 38, 33));
        assert_eq!((m.abandoned, m.abandoned_short, m.target_s), (2, 1, 20));
        // 33 / (40 - 1), not the mean of 6/9 and 27/30
        assert!((m.service_level.unwrap() - 33.0 / 39.0).abs() < 1e-12);
        assert!((m.abandon_rate.unwrap() - 1.0 / 39.0).abs() < 1e-12);
        // (8·20 + 30·5) / 38
        assert!((m.asa_s.unwrap() - 310.0 / 38.0).abs() < 1e-12);
        let other = QueueTotals {
            target_s: 30,
            ..q(1, 1, 1, 0, 0, 1.0)
        };
        assert_eq!(
            QueueTotals::merge("all", &[q(1, 1, 1, 0, 0, 1.0), other]).target_s,
            0
        );
    }

    #[test]
    fn nothing_offered_has_no_rates() {
        let m = QueueTotals::merge("general", &[]);
        assert_eq!(m.offered, 0);
        assert_eq!(
            (m.service_level, m.abandon_rate, m.asa_s),
            (None, None, None)
        );
    }
}
