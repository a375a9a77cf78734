//! The pacer's rules on explicit instants: preview never dials, progressive covers each
//! ready operator once, predictive overdials from its estimates within the lines and the
//! max ratio, falls back to progressive as the abandon rate nears the cap, and re-estimates
//! on its own schedule.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::estimate::predictive_weight;
use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn t0() -> DateTime<Utc> {
    utc("2026-12-01T09:00:00Z")
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn settings(mode: DialMode) -> PacingSettings {
    PacingSettings {
        mode,
        ..PacingSettings::default()
    }
}

fn floor(ready: u32, in_flight: u32, lines_free: u32) -> Floor {
    Floor {
        ready,
        in_flight,
        lines_free,
        ..Floor::default()
    }
}

/// 100 finished attempts: 30 persons after 6–14 s, the others busy after 3 s or
/// unanswered after 30 s; 50 handle times 150–248 s;
/// 20 wrap-ups 5–9.75 s (mean 7.375 s): enough for every estimate.
fn feed_history(p: &mut Pacer, at: DateTime<Utc>) {
    for i in 0..100 {
        p.handle_dialed(at);
        if i % 10 < 3 {
            p.handle_answered(at, secs(6 + i % 9), AnsweredBy::Person);
        } else if i % 10 < 5 {
            p.handle_unanswered(at, secs(3));
        } else {
            p.handle_unanswered(at, secs(30));
        }
    }
    for i in 0..50 {
        p.handle_handled(at, secs(150 + 2 * i));
    }
    for i in 0..20 {
        p.handle_wrap_up(at, Duration::from_millis(5_000 + 250 * i));
    }
}

/// A predictive pacer that has seen `feed_history` and re-estimated at t0 + 15 s.
fn warm(mode: DialMode) -> (Pacer, DateTime<Utc>) {
    let mut p = Pacer::new(settings(mode), t0());
    feed_history(&mut p, t0());
    let now = t0() + TimeDelta::seconds(15);
    // the next routine re-estimate sees them
    let later = now + TimeDelta::seconds(15);
    p.handle_timeout(later);
    (p, later)
}

#[test]
fn dial_mode_names_round_trip() {
    for m in [
        DialMode::Preview,
        DialMode::Progressive,
        DialMode::Predictive,
    ] {
        assert_eq!(m.to_string().parse::<DialMode>(), Ok(m));
    }
    assert!("power".parse::<DialMode>().is_err());
}

#[test]
fn preview_never_dials() {
    let (mut p, now) = warm(DialMode::Preview);
    assert_eq!(p.to_dial(now, &floor(5, 0, 30)), 0);
}

#[test]
fn progressive_is_one_call_per_ready_operator_not_yet_covered() {
    let (mut p, now) = warm(DialMode::Progressive);
    assert_eq!(p.to_dial(now, &floor(3, 0, 30)), 3);
    assert_eq!(p.to_dial(now, &floor(3, 2, 30)), 1);
    assert_eq!(p.to_dial(now, &floor(3, 3, 30)), 0);
    assert_eq!(p.to_dial(now, &floor(3, 5, 30)), 0);
    // the lines cap it
    assert_eq!(p.to_dial(now, &floor(3, 0, 2)), 2);
    // busy operators do not count in progressive mode
    let busy = Floor {
        talking: vec![secs(600); 4],
        ..floor(1, 0, 30)
    };
    assert_eq!(p.to_dial(now, &busy), 1);
}

#[test]
fn predictive_starts_progressive_until_enough_samples() {
    let mut p = Pacer::new(settings(DialMode::Predictive), t0());
    assert_eq!(p.to_dial(t0(), &floor(4, 0, 30)), 4);
    let d = p.poll_decision().unwrap();
    assert!(d.reason.contains("warming up"), "{d}");
    // 19 attempts are not enough, whatever they say
    let later = t0() + TimeDelta::seconds(15);
    for _ in 0..19 {
        p.handle_answered(later, secs(8), AnsweredBy::Person);
    }
    p.handle_timeout(later);
    assert_eq!(p.to_dial(later, &floor(4, 0, 30)), 4);
}

#[test]
fn predictive_overdials_from_the_answer_rate_and_who_is_about_to_finish() {
    let (mut p, now) = warm(DialMode::Predictive);
    // 6 ready, 5 who just started talking (none of 150–248 s ends within the horizon,
    // wrap-up included): more calls than ready operators, at 30 %
    let base = Floor {
        talking: vec![secs(1); 5],
        ..floor(6, 0, 60)
    };
    let want = p.to_dial(now, &base);
    assert!((7..=18).contains(&want), "{want}");
    // the same with calls already in flight: fewer
    assert_eq!(
        p.to_dial(
            now,
            &Floor {
                in_flight: 2,
                ..base.clone()
            }
        ),
        want - 2
    );
    // … those 238 s in will likely be free by the time a call placed now is answered:
    // most handle times longer than 238 + 7.375 s end by 238 + 16 s
    let finishing = Floor {
        talking: vec![secs(238); 5],
        ..base.clone()
    };
    assert!(p.to_dial(now, &finishing) > want + 2);
    // so will those 8 s into a 5–9.75 s wrap-up
    let wrapping = Floor {
        wrapping_up: vec![secs(8); 5],
        ..floor(6, 0, 60)
    };
    assert!(p.to_dial(now, &wrapping) > want + 2);
    // calls in flight count against what is placed
    let covered = Floor {
        in_flight: want,
        ..base.clone()
    };
    assert_eq!(p.to_dial(now, &covered), 0);
    // but not those that rang past every person's ring: no-answers about to time out
    let dead = Floor {
        ringing: vec![secs(25); want as usize],
        ..covered
    };
    assert_eq!(p.to_dial(now, &dead), want);
    // the decision reports the persons' rate
    let d = std::iter::from_fn(|| p.poll_decision()).last().unwrap();
    assert!((d.answer_rate - 0.3).abs() < 1e-9, "{d}");
}

#[test]
fn predictive_never_exceeds_the_lines_nor_the_max_ratio() {
    let (mut p, now) = warm(DialMode::Predictive);
    let finishing = Floor {
        talking: vec![secs(238); 10],
        ..floor(6, 0, 4)
    };
    assert_eq!(p.to_dial(now, &finishing), 4, "4 lines free");
    let mut s = settings(DialMode::Predictive);
    s.max_ratio = 1.5;
    let mut p = Pacer::new(s, t0());
    feed_history(&mut p, t0());
    p.handle_timeout(now);
    // 16 operators present × 1.5 = 24 in flight at most, 5 already
    let f = Floor {
        talking: vec![secs(238); 10],
        ..floor(6, 5, 100)
    };
    assert_eq!(p.to_dial(now, &f), 19);
    let d = std::iter::from_fn(|| p.poll_decision()).last();
    assert!(d.is_none() || d.unwrap().dial_level <= 1.5);
    p.handle_timeout(now + TimeDelta::seconds(15));
    let d = p.poll_decision().unwrap();
    assert!(d.reason.contains("max_ratio"), "{d}");
    assert!((d.dial_level - 1.5).abs() < 1e-9, "{d}");
}

/// A warm predictive pacer whose abandon window holds `abandoned` of `answered`.
fn with_abandons(answered: u32, abandoned: u32) -> (Pacer, DateTime<Utc>) {
    let (mut p, now) = warm(DialMode::Predictive);
    for i in 0..answered {
        if i < abandoned {
            p.handle_abandoned(now);
        } else {
            p.handle_connected(now, Duration::from_millis(300));
        }
    }
    // the next routine re-estimate sees them
    let later = now + TimeDelta::seconds(15);
    p.handle_timeout(later);
    (p, later)
}

#[test]
fn abandon_rate_near_the_cap_blends_toward_progressive_and_at_the_cap_is_progressive() {
    let f = Floor {
        talking: vec![secs(238); 10],
        ..floor(6, 0, 100)
    };
    let (mut clean, now) = with_abandons(200, 0);
    let full = clean.to_dial(now, &f);
    assert!(full > 10, "{full}");
    // 4 of 200 = 2 %: 67 % of the 3 % cap, still full pace
    let (mut p, _) = with_abandons(200, 4);
    assert_eq!(p.to_dial(now, &f), full);
    // 5 of 200 = 2.5 %: 83 % of the cap, blended
    let (mut p, _) = with_abandons(200, 5);
    let w = predictive_weight(2.5, 3.0);
    assert!((w - 5.0 / 9.0).abs() < 1e-9);
    assert_eq!(
        p.to_dial(now, &f),
        6 + ((full - 6) as f64 * w).floor() as u32
    );
    let d = std::iter::from_fn(|| p.poll_decision()).last().unwrap();
    assert!(d.reason.contains("blended 44 % toward progressive"), "{d}");
    // 6 of 200 = 3 %: at the cap, one call per ready operator
    let (mut p, _) = with_abandons(200, 6);
    assert_eq!(p.to_dial(now, &f), 6);
    let d = std::iter::from_fn(|| p.poll_decision()).last().unwrap();
    assert!(d.reason.contains("held to progressive"), "{d}");
}

#[test]
fn a_person_connected_after_connect_within_is_abandoned_and_machines_are_not_answers() {
    let (mut p, now) = warm(DialMode::Predictive);
    p.handle_connected(now, Duration::from_millis(2_000));
    p.handle_connected(now, Duration::from_millis(2_001));
    p.handle_answered(now, secs(5), AnsweredBy::Machine);
    let a = p.abandon(now, now - TimeDelta::hours(9));
    assert_eq!((a.answered_24h, a.abandoned_24h), (2, 1));
    assert!((a.pct_24h - 50.0).abs() < 1e-9);
}

#[test]
fn an_abandon_brings_the_next_estimate_forward() {
    let (mut p, now) = warm(DialMode::Predictive);
    assert_eq!(p.poll_timeout(), now + TimeDelta::seconds(15));
    let at = now + TimeDelta::seconds(3);
    p.handle_abandoned(at);
    assert_eq!(p.poll_timeout(), at);
    p.handle_timeout(at);
    assert_eq!(p.poll_timeout(), at + TimeDelta::seconds(15));
}

#[test]
fn estimates_change_only_at_a_reestimate_and_each_gives_one_decision() {
    let mut p = Pacer::new(settings(DialMode::Predictive), t0());
    assert_eq!(p.poll_timeout(), t0(), "the first estimate is due at once");
    assert_eq!(p.to_dial(t0(), &floor(6, 0, 60)), 6);
    assert_eq!(p.poll_timeout(), t0() + TimeDelta::seconds(15));
    // samples arrive, but until the re-estimate the pacer still warms up
    let mid = t0() + TimeDelta::seconds(5);
    feed_history(&mut p, mid);
    p.handle_timeout(mid);
    assert_eq!(p.to_dial(mid, &floor(6, 0, 60)), 6);
    let due = t0() + TimeDelta::seconds(15);
    p.handle_timeout(due);
    assert!(p.to_dial(due, &floor(6, 0, 60)) > 6);
    p.handle_timeout(due + TimeDelta::seconds(15));
    let decisions: Vec<_> = std::iter::from_fn(|| p.poll_decision()).collect();
    assert_eq!(decisions.len(), 3, "{decisions:?}");
    assert_eq!(decisions[0].at, t0());
    assert_eq!(decisions[1].at, due);
    let line = decisions[1].to_string();
    assert!(
        line.starts_with("09:00:15 predictive dial level "),
        "{line}"
    );
    assert!(line.contains("answer 30.0 %"), "{line}");
    assert!(line.contains("abandon 24 h 0.00 %"), "{line}");
    assert!(!line.contains('\n'));
}

#[test]
fn history_seeds_the_abandon_window_and_the_fallback() {
    let f = Floor {
        talking: vec![secs(238); 10],
        ..floor(6, 0, 100)
    };
    let (mut p, now) = warm(DialMode::Predictive);
    let full = p.to_dial(now, &f);
    // a restart: 10 of 100 abandoned an hour ago is over the cap
    let (mut p, _) = warm(DialMode::Predictive);
    let hour_ago = now - TimeDelta::hours(1);
    p.handle_history((0..100).map(|i| (hour_ago, i < 10)));
    assert!(p.poll_timeout() <= now, "due at once after seeding");
    assert_eq!(p.to_dial(now, &f), 6);
    // the same a day and more ago no longer counts
    let (mut p, _) = warm(DialMode::Predictive);
    p.handle_history((0..100).map(|i| (now - TimeDelta::hours(25), i < 10)));
    assert_eq!(p.to_dial(now, &f), full);
}

#[test]
fn abandon_figures_are_rolling_24h_and_since_the_day_start() {
    let mut p = Pacer::new(settings(DialMode::Predictive), t0());
    let day_start = utc("2026-12-01T00:00:00Z");
    // yesterday evening: 1 abandoned of 2; today: 1 of 4 (one exactly at the day start)
    p.handle_history([
        (utc("2026-11-30T20:00:00Z"), true),
        (utc("2026-11-30T21:00:00Z"), false),
        (day_start, true),
    ]);
    p.handle_connected(t0(), secs(1));
    p.handle_connected(t0(), secs(1));
    p.handle_connected(t0(), secs(1));
    let a = p.abandon(t0(), day_start);
    assert_eq!((a.answered_24h, a.abandoned_24h), (6, 2));
    assert_eq!((a.answered_today, a.abandoned_today), (4, 1));
    assert!((a.pct_today - 25.0).abs() < 1e-9);
    // a day later the evening has left the rolling window
    let next = utc("2026-12-01T21:30:00Z");
    assert_eq!(p.abandon(next, day_start).answered_24h, 4);
}

#[test]
fn a_young_window_allows_less_risk_per_call() {
    let f = Floor {
        talking: vec![secs(238); 10],
        ..floor(6, 0, 100)
    };
    let (mut seasoned, now) = with_abandons(200, 0);
    let full = seasoned.to_dial(now, &f);
    let (mut hundred, _) = with_abandons(100, 0);
    assert_eq!(hundred.to_dial(now, &f), full);
    // no answered person yet: a quarter of the risk, fewer calls, still above progressive
    let (mut young, _) = with_abandons(0, 0);
    let fewer = young.to_dial(now, &f);
    assert!(fewer < full && fewer >= 6, "{fewer} of {full}");
}

#[test]
fn a_preview_is_released_only_from_an_operator_away_long_enough() {
    use crate::core::acd::agent::StateName as S;
    let after = secs(900);
    for away in [S::LoggedOut, S::Absent, S::Break, S::Missed] {
        assert!(
            preview_left_behind(Some((away, secs(900))), after),
            "{away:?}"
        );
        assert!(
            !preview_left_behind(Some((away, secs(899))), after),
            "{away:?}"
        );
    }
    for working in [S::Ready, S::Offered, S::Talking, S::WrapUp] {
        assert!(
            !preview_left_behind(Some((working, secs(86_400))), after),
            "{working:?}"
        );
    }
    assert!(
        !preview_left_behind(None, after),
        "unknown state releases nothing"
    );
}
