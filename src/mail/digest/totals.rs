//! Several queues' KPI rows taken together: all queues of an interval (the charts) and of
//! the period (the "all queues" line). Counts are summed and the rates computed again from
//! the sums by `core::kpi` (`QueueKpi::new`), never averaged; the averages per call (ASA,
//! AHT) are weighted by the calls answered (AHT exactly so once every answered call has ended).
//! For one row the result is that row.

use chrono::DateTime;

use super::QueueTotals;
use crate::core::kpi::{QueueCounts, QueueKpi};

impl From<&QueueKpi> for QueueTotals {
    fn from(q: &QueueKpi) -> Self {
        QueueTotals {
            queue: q.queue.clone(),
            target_s: q.target_s,
            offered: q.offered,
            answered: q.answered,
            answered_in_target: q.answered_in_target,
            abandoned: q.abandoned,
            abandoned_short: q.abandoned_short,
            transferred: q.transferred,
            service_level: q.service_level,
            abandon_rate: q.abandon_rate,
            asa_s: q.asa_s,
            aht_s: q.aht_s,
        }
    }
}

impl QueueTotals {
    /// `rows` taken together under `queue`: the counts summed, the rates by
    /// [`QueueKpi::new`] (service level, abandon rate: `core::kpi`'s rules). ASA and AHT
    /// come back as sums over the calls answered (a row without AHT, its calls still in
    /// talk, adds none); the target is kept when every row has the same, else 0.
    pub fn merge<'a>(queue: &str, rows: impl IntoIterator<Item = &'a QueueTotals>) -> Self {
        let rows: Vec<&QueueTotals> = rows.into_iter().collect();
        let mut c = QueueCounts::default();
        for r in &rows {
            c.offered += r.offered;
            c.answered += r.answered;
            c.answered_in_target += r.answered_in_target;
            c.abandoned += r.abandoned;
            c.abandoned_short += r.abandoned_short;
            c.transferred += r.transferred;
            let answered = r.answered as f64;
            if let Some(asa) = r.asa_s {
                c.wait_sum_s += asa * answered;
            }
            if let Some(aht) = r.aht_s {
                c.handle_sum_s += aht * answered;
                c.handled += r.answered;
            }
        }
        let target_s = match rows.first() {
            Some(first) if rows.iter().all(|r| r.target_s == first.target_s) => first.target_s,
            _ => 0,
        };
        QueueTotals::from(&QueueKpi::new(
            DateTime::UNIX_EPOCH,
            queue.to_string(),
            target_s,
            &c,
        ))
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
