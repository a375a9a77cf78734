use super::*;

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(0x1000_0000_0000_4000_8000_0000_0000_0000 + n)
}

fn answered(n: u128, queue: &str, op: i64, handle_s: f64) -> Call {
    Call {
        uuid: uuid(n),
        queue: queue.into(),
        operator: Some(op),
        handle_s: Some(handle_s),
        transferred: false,
        abandoned_after_s: None,
        outbound: false,
        login: Some(format!("op{op}")),
    }
}

#[test]
fn the_hash_is_stable_and_percent_is_close() {
    // fixed: SHA-256 of the 16 bytes, first 8 as big-endian (a change would move samples)
    assert_eq!(stable_rank(Uuid::nil()), 0x374708fff7719dd5);
    let picked = (0..100_000u128)
        .filter(|n| in_percent(uuid(*n), 5.0))
        .count();
    assert!((4_700..=5_300).contains(&picked), "{picked}");
    assert!((0..1000u128).all(|n| in_percent(uuid(n), 100.0)));
    assert!(!(0..1000u128).any(|n| in_percent(uuid(n), 0.0)));
    // a higher percentage keeps every call a lower one picked
    assert!((0..10_000u128)
        .filter(|n| in_percent(uuid(*n), 5.0))
        .all(|n| in_percent(uuid(n), 20.0)));
}

#[test]
fn each_rule_picks_its_calls() {
    let rules = Rules {
        percent: [("general".to_string(), 100.0)].into(),
        per_operator_per_day: 0,
        long_call_factor: 2.0,
        transferred: true,
        abandoned_after_seconds: 60,
        outbound: BTreeMap::new(),
    };
    let mut calls = vec![
        answered(1, "meter", 7, 100.0),
        answered(2, "meter", 7, 100.0),
        answered(3, "meter", 7, 100.0),
        answered(4, "meter", 7, 501.0), // average 200.25: above 2×
        answered(5, "general", 8, 60.0),
    ];
    calls.push(Call {
        transferred: true,
        ..answered(6, "meter", 7, 100.0)
    });
    let abandoned = |n, w| Call {
        uuid: uuid(n),
        queue: "meter".into(),
        operator: None,
        handle_s: None,
        transferred: false,
        abandoned_after_s: Some(w),
        outbound: false,
        login: None,
    };
    calls.push(abandoned(7, 61.0));
    calls.push(abandoned(8, 60.0)); // not longer than 60
    let got = select(&rules, &calls, &BTreeMap::new());
    let reasons = |n| got.get(&uuid(n)).cloned().unwrap_or_default();
    assert_eq!(reasons(4), [Reason::Long].into());
    assert_eq!(reasons(5), [Reason::Percent].into());
    assert_eq!(reasons(6), [Reason::Transferred].into());
    assert_eq!(reasons(7), [Reason::AbandonedWait].into());
    assert_eq!(got.len(), 4, "{got:?}");
    // already sampled: not picked again
    let already = [(uuid(4), Some(7)), (uuid(5), Some(8))].into();
    assert_eq!(select(&rules, &calls, &already).len(), 2);
    // every rule off: nothing
    assert!(select(&Rules::default(), &calls, &BTreeMap::new()).is_empty());
}

#[test]
fn per_operator_tops_up_by_hash_order_and_counts_other_reasons() {
    let rules = Rules {
        per_operator_per_day: 2,
        transferred: true,
        ..Rules::default()
    };
    let mut calls: Vec<Call> = (0..10).map(|n| answered(n, "general", 1, 100.0)).collect();
    calls.extend((10..13).map(|n| answered(n, "general", 2, 100.0)));
    calls[12].transferred = true; // operator 2 has one by another rule
    let got = select(&rules, &calls, &BTreeMap::new());
    let of = |op: i64| {
        calls
            .iter()
            .filter(|c| c.operator == Some(op) && got.contains_key(&c.uuid))
            .count()
    };
    assert_eq!((of(1), of(2)), (2, 2));
    // the two lowest ranks of operator 1
    let mut ranks: Vec<_> = calls[..10]
        .iter()
        .map(|c| (stable_rank(c.uuid), c.uuid))
        .collect();
    ranks.sort();
    assert!(got[&ranks[0].1].contains(&Reason::PerOperator));
    assert!(got[&ranks[1].1].contains(&Reason::PerOperator));
    // the same input, the same answer; with those stored, nothing more
    assert_eq!(select(&rules, &calls, &BTreeMap::new()), got);
    let stored = got
        .keys()
        .map(|u| (*u, calls.iter().find(|c| c.uuid == *u).unwrap().operator))
        .collect();
    assert!(select(&rules, &calls, &stored).is_empty());
}

#[test]
fn reviews_are_checked_by_field() {
    let ok = check_review(" anna ", 85, "polite,\nbut no greeting\n").unwrap();
    assert_eq!(
        ok,
        Review {
            reviewer: "anna".into(),
            score: 85,
            comment: "polite,\nbut no greeting".into()
        }
    );
    assert!(check_review("anna", 0, "").is_ok());
    assert!(check_review("anna", 100, "").is_ok());
    for (reviewer, score, comment, field) in [
        ("anna", 101, "", "score"),
        ("anna", -1, "", "score"),
        ("", 50, "", "reviewer"),
        ("an\u{1b}[2Jna", 50, "", "reviewer"),
        ("anna", 50, "ok\u{0}", "comment"),
        ("anna", 50, "fake\rline", "comment"),
    ] {
        assert_eq!(
            check_review(reviewer, score, comment).unwrap_err().field,
            field
        );
    }
    assert_eq!(
        check_review("anna", 50, &"я".repeat(2001))
            .unwrap_err()
            .field,
        "comment"
    );
    assert!(check_review("anna", 50, &"я".repeat(2000)).is_ok());
    for r in Reason::ALL {
        assert_eq!(Reason::parse(r.as_str()), Some(r));
    }
}

#[test]
fn the_sweep_runs_after_each_local_midnight() {
    use chrono::TimeZone;
    let msk = chrono_tz::Europe::Moscow;
    let t = |d, h, m| {
        msk.with_ymd_and_hms(2026, 3, d, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    };
    assert_eq!(next_sweep(msk, t(23, 15, 0)), t(24, 0, 10));
    assert_eq!(next_sweep(msk, t(24, 0, 5)), t(24, 0, 10));
    assert_eq!(next_sweep(msk, t(24, 0, 10)), t(25, 0, 10));
}

#[test]
fn only_the_outbound_calls_of_the_named_operator_are_sampled_by_the_outbound_rule() {
    let rules = Rules {
        // the queue's own percentage must not pick the operators' campaign calls
        percent: [("general".to_string(), 100.0)].into(),
        outbound: [("op7".to_string(), 100.0)].into(),
        ..Rules::default()
    };
    let out = |n, op| Call {
        outbound: true,
        ..answered(n, "general", op, 120.0)
    };
    let calls = vec![
        out(1, 7),
        out(2, 7),
        out(3, 8),                       // another operator's outbound call
        answered(4, "general", 7, 60.0), // op7's inbound call: the queue's percent
        Call {
            handle_s: None,
            ..out(5, 7) // never talked: nothing to listen to
        },
    ];
    let got = select(&rules, &calls, &BTreeMap::new());
    let reasons = |n| got.get(&uuid(n)).cloned().unwrap_or_default();
    assert_eq!(reasons(1), [Reason::Outbound].into());
    assert_eq!(reasons(2), [Reason::Outbound].into());
    assert_eq!(reasons(4), [Reason::Percent].into());
    assert_eq!(got.len(), 3, "{got:?}");
    // a percentage below 100 picks a stable share of them
    let half = Rules {
        outbound: [("op7".to_string(), 50.0)].into(),
        ..Rules::default()
    };
    let many: Vec<Call> = (0..1000).map(|n| out(n, 7)).collect();
    let n = select(&half, &many, &BTreeMap::new()).len();
    assert!((430..=570).contains(&n), "{n}");
    assert_eq!(select(&half, &many, &BTreeMap::new()).len(), n);
}
