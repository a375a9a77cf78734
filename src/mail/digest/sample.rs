//! A hand-made digest for the rendering tests: one day in Moscow, two queues, two
//! operators, a campaign, readings on two channels and a forecast.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::*;

pub fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn queue(name: &str, offered: u64, answered: u64, in_target: u64, abandoned: u64) -> QueueTotals {
    QueueTotals {
        queue: name.into(),
        target_s: 20,
        offered,
        answered,
        answered_in_target: in_target,
        abandoned,
        abandoned_short: 1.min(abandoned),
        transferred: 0,
        service_level: Some(in_target as f64 / (offered - 1.min(abandoned)) as f64),
        abandon_rate: Some(abandoned as f64 / offered as f64),
        asa_s: Some(12.5),
        aht_s: Some(185.0),
    }
}

pub fn digest() -> Digest {
    // 2026-12-01 00:00 in Moscow is 2026-11-30 21:00 UTC
    let day0 = t("2026-11-30T21:00:00Z");
    let mut intervals = Vec::new();
    for slot in [18, 19, 20, 30] {
        let start = day0 + TimeDelta::minutes(30 * slot);
        intervals.push(IntervalRow {
            start,
            totals: queue("general", 10, 9, 8, 1),
        });
    }
    intervals.push(IntervalRow {
        start: day0 + TimeDelta::minutes(30 * 20),
        totals: queue("meter", 4, 4, 4, 0),
    });
    Digest {
        period: Period::Daily,
        first_day: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        time_zone: "Europe/Moscow".into(),
        kpi: Section::Available {
            data: Kpi {
                queues: vec![queue("general", 40, 36, 32, 4), queue("meter", 4, 4, 4, 0)],
                operators: vec![
                    OperatorTotals {
                        login: "ivanova".into(),
                        name: "Иванова Анна".into(),
                        answered: 25,
                        talk_s: 4000.0,
                        wrap_up_s: 500.0,
                        aht_s: Some(180.0),
                        staffed_s: 28800.0,
                        break_s: 3600.0,
                        occupancy: Some(0.18),
                        calls_per_hour: Some(3.125),
                        service_level: Some(0.92),
                        qa_sampled: 2,
                        qa_reviewed: 1,
                        qa_score: Some(85.0),
                        outbound: 0,
                    },
                    OperatorTotals {
                        login: "petrov".into(),
                        name: "Petrov, Ivan".into(),
                        answered: 15,
                        talk_s: 2700.0,
                        wrap_up_s: 300.0,
                        aht_s: Some(200.0),
                        staffed_s: 14400.0,
                        break_s: 0.0,
                        occupancy: Some(0.75),
                        calls_per_hour: Some(3.75),
                        service_level: None,
                        qa_sampled: 0,
                        qa_reviewed: 0,
                        qa_score: None,
                        outbound: 0,
                    },
                ],
                intervals,
                interval_minutes: 30,
            },
        },
        campaigns: vec![CampaignRun {
            id: 100,
            name: "Плановое отключение воды".into(),
            state: "finished".into(),
            finished_at: Some(t("2026-12-01T12:00:00Z")),
            attempts_in_period: 2,
            answered_in_period: 1,
            counts: ReportCounts {
                total: 3,
                reached: 1,
                listened_full: 1,
                confirmed: 1,
                busy: 1,
                pending: 1,
                attempts: 2,
                ..ReportCounts::default()
            },
            outbound: None,
        }],
        readings: vec![
            ReadingsByChannel {
                channel: "ivr".into(),
                readings: 5,
                meters: 3,
                accounts: 3,
            },
            ReadingsByChannel {
                channel: "web".into(),
                readings: 2,
                meters: 1,
                accounts: 1,
            },
            ReadingsByChannel {
                channel: "messenger".into(),
                readings: 0,
                meters: 0,
                accounts: 0,
            },
        ],
        forecast: Section::Available {
            data: vec![QueueForecast {
                queue: "general".into(),
                shrinkage: 0.25,
                intervals: (0..4)
                    .map(|i| ForecastInterval {
                        start: t("2026-12-02T06:00:00Z") + TimeDelta::minutes(30 * i),
                        calls: 10.0 + i as f64,
                        aht_s: 180.0,
                        operators: 2 + i as u32,
                        with_shrinkage: 3 + i as u32,
                        service_level: 0.85,
                    })
                    .collect(),
            }],
        },
    }
}
