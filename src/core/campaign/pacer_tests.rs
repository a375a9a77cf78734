use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn msk() -> Tz {
    chrono_tz::Europe::Moscow
}

fn day_rules() -> CampaignRules {
    CampaignRules::parse("mon-fri", "09:00", "20:00", None).unwrap()
}

#[test]
fn window_is_the_subscribers_own() {
    // Wednesday 06:30 UTC: 09:30 in Moscow, 01:30 in New York.
    let now = utc("2026-11-25T06:30:00Z");
    let mut p = Pacer::new(msk(), now);
    let r = day_rules();
    assert_eq!(p.window(&r, None, now), WindowVerdict::Open);
    assert_eq!(
        p.window(&r, Some("Europe/Moscow"), now),
        WindowVerdict::Open
    );
    // New York opens at 09:00 local = 14:00 UTC, and the pacer wants to be woken then.
    let ny = utc("2026-11-25T14:00:00Z");
    assert_eq!(
        p.window(&r, Some("America/New_York"), now),
        WindowVerdict::ClosedUntil(ny)
    );
    // the routine look comes first; once past it, the opening is still remembered
    p.handle_timeout(now);
    assert_eq!(p.poll_timeout(), now + TimeDelta::seconds(1));
    let later = ny - TimeDelta::milliseconds(500);
    p.sweep_due(later);
    p.handle_timeout(later);
    assert_eq!(p.poll_timeout(), ny);
    p.sweep_due(ny);
    p.handle_timeout(ny);
    assert_eq!(p.poll_timeout(), ny + TimeDelta::seconds(1));
}

#[test]
fn the_campaign_zone_overrides_the_rows() {
    let now = utc("2026-11-25T06:30:00Z");
    let mut p = Pacer::new(msk(), now);
    let r = CampaignRules::parse("mon-fri", "09:00", "20:00", Some("America/New_York")).unwrap();
    assert!(matches!(
        p.window(&r, Some("Europe/Moscow"), now),
        WindowVerdict::ClosedUntil(_)
    ));
}

#[test]
fn an_unknown_zone_is_never_a_default() {
    let now = utc("2026-11-25T06:30:00Z");
    let mut p = Pacer::new(msk(), now);
    assert!(matches!(
        p.window(&day_rules(), Some("Mars/Olympus"), now),
        WindowVerdict::BadZone(m) if m.contains("Mars/Olympus")
    ));
    assert_eq!(
        CampaignRules::parse("mon-fri", "09:00", "20:00", Some("MSK")),
        Err(RuleProblem::Zone("MSK".into()))
    );
}

#[test]
fn broken_rules_stop_the_campaign_and_are_said_once() {
    let now = utc("2026-11-25T06:30:00Z");
    let mut p = Pacer::new(msk(), now);
    let bad = || CampaignRules::parse("mon-fri", "20:00", "09:00", None);
    assert!(p.rules(7, bad()).is_none());
    assert!(p.rules(7, bad()).is_none());
    let said: Vec<_> = std::iter::from_fn(|| p.poll_output()).collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        matches!(&said[0], Notice::RulesBroken { campaign: 7, problem }
            if problem.to_string().contains("window_start=\"20:00\""))
    );
    assert_eq!(p.broken().count(), 1);
    assert!(p.rules(7, Ok(day_rules())).is_some());
    assert_eq!(p.poll_output(), Some(Notice::RulesMended { campaign: 7 }));
    assert_eq!(p.broken().count(), 0);
}

#[test]
fn an_unreadable_dnc_list_holds_everyone_back_and_is_said_once() {
    let now = utc("2026-11-25T06:30:00Z");
    let mut p = Pacer::new(msk(), now);
    let budget = LineBudget {
        lines: 5,
        trunk_channels: 30,
        ..Default::default()
    };
    assert_eq!(p.free_lines(budget, now), 5);
    let retry = now + delta(DNC_RETRY);
    for _ in 0..3 {
        assert_eq!(
            p.handle_dnc(Err::<bool, _>("relation \"dnc\" does not exist"), now),
            DncVerdict::RetryAt(retry)
        );
    }
    assert_eq!(
        std::iter::from_fn(|| p.poll_output()).count(),
        1,
        "one line for the outage, not one per subscriber"
    );
    // nothing is dialed until the retry is due, and the pacer wants waking by then
    assert_eq!(p.free_lines(budget, now + TimeDelta::seconds(1)), 0);
    assert!(p.poll_timeout() <= retry);
    assert_eq!(p.free_lines(budget, retry), 5);
    let later = retry + TimeDelta::seconds(1);
    assert_eq!(p.handle_dnc(Ok::<_, String>(true), later), DncVerdict::Skip);
    assert_eq!(
        p.poll_output(),
        Some(Notice::DncReadable {
            after: Duration::from_secs(3)
        })
    );
    assert_eq!(
        p.handle_dnc(Ok::<_, String>(false), later),
        DncVerdict::Dial
    );
    assert_eq!(p.poll_output(), None);
}

/// A 5-line campaign on a 6-channel trunk.
fn b(mine: usize, budget_in_use: usize, trunk_in_use: usize) -> LineBudget {
    LineBudget {
        lines: 5,
        mine,
        budget_in_use,
        trunk_channels: 6,
        trunk_in_use,
    }
}

#[test]
fn line_budget_is_the_tighter_of_campaign_and_trunk() {
    let now = utc("2026-11-25T06:30:00Z");
    let mut p = Pacer::new(msk(), now);
    assert_eq!(p.free_lines(b(0, 0, 0), now), 5);
    // another instance holds 3 of the campaign's lines
    assert_eq!(p.free_lines(b(1, 3, 3), now), 2);
    // the trunk is nearly full with another campaign's calls
    assert_eq!(p.free_lines(b(0, 0, 5), now), 1);
    assert_eq!(p.free_lines(b(5, 5, 5), now), 0);
}

#[test]
fn lines_held_by_leases_it_does_not_drive_are_looked_at_again_soon() {
    let now = utc("2026-11-25T06:30:00Z");
    let routine = now + delta(LOOK_EVERY);
    // every line busy with its own calls: their ends wake the runner, no early look
    let mut p = Pacer::new(msk(), now);
    p.handle_timeout(now);
    assert_eq!(p.free_lines(b(5, 5, 5), now), 0);
    assert_eq!(p.poll_timeout(), routine);
    // nothing held at all: the routine look
    assert_eq!(p.free_lines(b(0, 0, 0), now), 5);
    assert_eq!(p.poll_timeout(), routine);
    // its own call ended but the lease is not released yet: look again soon
    assert_eq!(p.free_lines(b(4, 5, 5), now), 0);
    assert_eq!(p.poll_timeout(), now + delta(HELD_RECHECK));
    // another campaign fills the trunk
    let mut p = Pacer::new(msk(), now);
    p.handle_timeout(now);
    assert_eq!(p.free_lines(b(0, 0, 6), now), 0);
    assert_eq!(p.poll_timeout(), now + delta(HELD_RECHECK));
}

#[test]
fn a_subscriber_not_dialed_comes_back_soon_and_wakes_the_pacer() {
    let now = utc("2026-11-25T06:30:00Z");
    let mut p = Pacer::new(msk(), now);
    p.handle_timeout(now);
    let at = p.put_back(NotDialed::NotSent, now);
    assert_eq!(at, now + TimeDelta::seconds(1));
    assert_eq!(p.poll_timeout(), at);
    assert!(p.put_back(NotDialed::NoSwitch, now) > p.put_back(NotDialed::AttemptNotWritten, now));
}

#[test]
fn stranded_subscribers_are_looked_for_every_ten_seconds() {
    let now = utc("2026-11-25T06:30:00Z");
    let mut p = Pacer::new(msk(), now);
    assert!(!p.sweep_due(now));
    let sweep = now + TimeDelta::seconds(10);
    p.handle_timeout(sweep - TimeDelta::milliseconds(300));
    assert_eq!(p.poll_timeout(), sweep);
    assert!(p.sweep_due(sweep));
    assert!(!p.sweep_due(sweep + TimeDelta::seconds(9)));
    assert!(p.sweep_due(sweep + TimeDelta::seconds(10)));
}

#[test]
fn retries_by_cause_wake_the_pacer() {
    let now = utc("2026-11-25T06:30:00Z");
    let mut p = Pacer::new(msk(), now);
    p.handle_timeout(now);
    let policy = RetryPolicy {
        max_attempts: 2,
        busy: Duration::from_millis(500),
        no_answer: Duration::from_secs(1800),
        failed: Duration::from_secs(300),
    };
    let busy_again = now + TimeDelta::milliseconds(500);
    assert_eq!(p.retry_at(Outcome::Busy, 1, &policy, now), Some(busy_again));
    assert_eq!(p.poll_timeout(), busy_again);
    assert_eq!(p.retry_at(Outcome::Busy, 2, &policy, now), None);
    assert_eq!(p.retry_at(Outcome::Invalid, 1, &policy, now), None);
    assert_eq!(
        p.retry_at(Outcome::NoAnswer, 1, &policy, now),
        Some(now + TimeDelta::seconds(1800))
    );
}
