use super::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn goal() -> Goal {
    Goal {
        target: Duration::from_secs(20),
        service_level: 0.8,
        patience: None,
    }
}

/// Mondays 2026-03-02 … 03-23 in the past, forecasting from Monday 03-30 (Moscow: no DST).
fn input(history: &[(NaiveDate, u32, u64, u64, f64)]) -> ForecastInput {
    ForecastInput {
        zone: chrono_tz::Europe::Moscow,
        first_day: date(2026, 3, 30),
        days: 1,
        weeks: 4,
        recorded_from: Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()),
        now: Utc.with_ymd_and_hms(2026, 3, 29, 12, 0, 0).unwrap(),
        history: history
            .iter()
            .map(|&(d, slot, calls, answered, handle_s)| {
                (
                    (d, slot),
                    SlotHistory {
                        calls,
                        answered,
                        handle_s,
                    },
                )
            })
            .collect(),
        goal: goal(),
        fallback_aht: Duration::from_secs(180),
        shrinkage: 0.0,
    }
}

fn at(f: &[IntervalForecast], zone: Tz, h: u32, m: u32) -> &IntervalForecast {
    f.iter()
        .find(|i| {
            let l = i.start.with_timezone(&zone);
            (l.hour(), l.minute()) == (h, m)
        })
        .unwrap()
}

#[test]
fn four_mondays_average_and_handle_time_weighs_answered_calls() {
    // 09:00–09:30 is slot 18; 20, 24, 16, 20 calls → 20; AHT over answered calls only
    let i = input(&[
        (date(2026, 3, 2), 18, 20, 20, 20.0 * 200.0),
        (date(2026, 3, 9), 18, 24, 20, 20.0 * 200.0),
        (date(2026, 3, 16), 18, 16, 10, 10.0 * 140.0),
        (date(2026, 3, 23), 18, 20, 10, 10.0 * 140.0),
        // a Tuesday does not count for a Monday
        (date(2026, 3, 24), 18, 500, 500, 500.0 * 100.0),
    ]);
    let f = forecast(&i);
    assert_eq!(f.len(), 48);
    let nine = at(&f, i.zone, 9, 0);
    assert_eq!(nine.calls, 20.0);
    assert!((nine.aht_s - 180.0).abs() < 1e-9, "{nine:?}");
    // 40 calls/h × 180 s = 2 Erlangs; 80 % in 20 s takes 4 by Erlang C
    let (n, sl) = operators_for(20.0, 180.0, &goal());
    assert_eq!((nine.operators, nine.service_level), (n, sl));
    assert_eq!(n, 4);
    assert!(sl >= 0.8);
    // no history: zero, nobody needed
    let ten = at(&f, i.zone, 10, 0);
    assert_eq!(
        (ten.calls, ten.aht_s, ten.operators, ten.with_shrinkage),
        (0.0, 0.0, 0, 0)
    );
    assert_eq!(ten.service_level, 1.0);
}

#[test]
fn weeks_before_the_history_began_or_not_over_are_left_out() {
    // history starts 2026-03-16 (a Monday at noon: that day counts, whole or not)
    let mut i = input(&[
        (date(2026, 3, 16), 18, 16, 16, 16.0 * 180.0),
        (date(2026, 3, 23), 18, 20, 20, 20.0 * 180.0),
    ]);
    i.recorded_from = Some(Utc.with_ymd_and_hms(2026, 3, 16, 9, 0, 0).unwrap());
    assert_eq!(at(&forecast(&i), i.zone, 9, 0).calls, 18.0);
    // the last Monday not over yet (now is Monday 23rd at 10:00 Moscow): left out
    i.now = Utc.with_ymd_and_hms(2026, 3, 23, 7, 0, 0).unwrap();
    assert_eq!(at(&forecast(&i), i.zone, 9, 0).calls, 16.0);
    // nothing recorded at all: zero everywhere
    i.recorded_from = None;
    assert!(forecast(&i)
        .iter()
        .all(|f| f.calls == 0.0 && f.operators == 0));
    // a counted day with no call in the slot is a zero in the average
    let mut i = input(&[(date(2026, 3, 23), 18, 20, 20, 20.0 * 180.0)]);
    i.recorded_from = Some(Utc.with_ymd_and_hms(2026, 3, 9, 0, 0, 0).unwrap());
    assert!((at(&forecast(&i), i.zone, 9, 0).calls - 20.0 / 3.0).abs() < 1e-12);
}

#[test]
fn calls_with_no_answer_in_history_take_the_fallback_handle_time() {
    let mut i = input(&[(date(2026, 3, 23), 18, 8, 0, 0.0)]);
    i.fallback_aht = Duration::from_secs(240);
    let nine = at(&forecast(&i), i.zone, 9, 0).clone();
    assert_eq!((nine.calls, nine.aht_s), (2.0, 240.0));
    assert!(nine.operators >= 1);
}

#[test]
fn shrinkage_rounds_up_and_is_capped() {
    assert_eq!(shrinkage(0.0, 0.0), 0.0);
    assert_eq!(shrinkage(3600.0, 0.0), 0.0);
    assert!((shrinkage(1800.0, 7200.0) - 0.25).abs() < 1e-12);
    assert_eq!(shrinkage(9000.0, 7200.0), MAX_SHRINKAGE);
    assert_eq!(with_shrinkage(0, 0.5), 0);
    assert_eq!(with_shrinkage(8, 0.2), 10);
    assert_eq!(with_shrinkage(10, 0.5), 20);
    assert_eq!(with_shrinkage(10, 0.25), 14); // 13.33 → 14
    assert_eq!(with_shrinkage(7, 0.0), 7);
    assert_eq!(with_shrinkage(1, 1.0), 10); // capped at 90 %
    let mut i = input(&[(date(2026, 3, 23), 18, 20, 20, 20.0 * 180.0)]);
    i.shrinkage = 0.25;
    i.weeks = 1;
    let nine = at(&forecast(&i), i.zone, 9, 0).clone();
    assert_eq!(nine.operators, 4);
    assert_eq!(nine.with_shrinkage, 6); // 4 / 0.75 = 5.33
}

#[test]
fn erlang_a_is_used_with_a_patience() {
    let mut g = goal();
    let c = operators_for(100.0, 180.0, &g).0; // 10 Erlangs: 14 by Erlang C
    g.patience = Some(Duration::from_secs(120));
    let a = operators_for(100.0, 180.0, &g).0;
    assert_eq!((c, a), (14, 12));
}

#[test]
fn daylight_saving_days_have_their_real_half_hours() {
    let berlin = chrono_tz::Europe::Berlin;
    // 2026-03-29 spring forward (02:00 → 03:00): 46 intervals, no 02:xx
    let spring = intervals_of(berlin, date(2026, 3, 29));
    assert_eq!(spring.len(), 46);
    assert!(!spring.iter().any(|(_, s)| *s == 4 || *s == 5));
    // 2026-10-25 fall back (03:00 → 02:00): 50 intervals, 02:00 and 02:30 twice
    let fall = intervals_of(berlin, date(2026, 10, 25));
    assert_eq!(fall.len(), 50);
    assert_eq!(fall.iter().filter(|(_, s)| *s == 4).count(), 2);
    // a forecast for the Sunday after a fall-back Sunday: the doubled hour's calls are
    // halved (per real half-hour), the normal Sundays count as they are
    let i = ForecastInput {
        zone: berlin,
        first_day: date(2026, 11, 1),
        days: 1,
        weeks: 2,
        recorded_from: Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()),
        now: Utc.with_ymd_and_hms(2026, 10, 31, 12, 0, 0).unwrap(),
        history: [
            (
                (date(2026, 10, 25), 4),
                SlotHistory {
                    calls: 20,
                    answered: 20,
                    handle_s: 3600.0,
                },
            ),
            (
                (date(2026, 10, 18), 4),
                SlotHistory {
                    calls: 6,
                    answered: 6,
                    handle_s: 1080.0,
                },
            ),
        ]
        .into_iter()
        .collect(),
        ..input(&[])
    };
    let f = forecast(&i);
    assert_eq!(f.len(), 48);
    assert_eq!(at(&f, berlin, 2, 0).calls, 8.0); // (20 / 2 + 6) / 2
                                                 // the spring-forward Sunday is left out of the 02:00 average, not counted as zero
    let i = ForecastInput {
        first_day: date(2026, 4, 5),
        now: Utc.with_ymd_and_hms(2026, 4, 4, 12, 0, 0).unwrap(),
        history: [(
            (date(2026, 3, 22), 4),
            SlotHistory {
                calls: 6,
                answered: 6,
                handle_s: 1080.0,
            },
        )]
        .into_iter()
        .collect(),
        ..i
    };
    assert_eq!(at(&forecast(&i), berlin, 2, 0).calls, 6.0);
}

#[test]
fn same_weekdays_are_before_the_first_day() {
    let monday = date(2026, 3, 30);
    assert_eq!(
        same_weekdays(monday, monday, 2),
        vec![date(2026, 3, 23), date(2026, 3, 16)]
    );
    // Sunday of the forecast week: the Sunday just before
    assert_eq!(
        same_weekdays(date(2026, 4, 5), monday, 1),
        vec![date(2026, 3, 29)]
    );
    // a second week forecast from the same past weeks
    assert_eq!(
        same_weekdays(date(2026, 4, 6), monday, 1),
        vec![date(2026, 3, 23)]
    );
}
