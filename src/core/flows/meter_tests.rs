//! Unit tests of the meter-reading flow (`super`): explicit dates, no clock, no switch.

use chrono::NaiveDate;

use super::*;
use crate::core::flow::{Utterance, OUTCOME_VARIABLES};
use crate::core::meter::{LastReading, MeterInfo, MeterSpec};

fn d(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, day).unwrap()
}

fn opts(entry: MeterEntry, open: bool) -> MeterFlowOptions {
    MeterFlowOptions {
        entry,
        menu: vec![
            ("1".into(), MenuChoice::Readings),
            ("2".into(), MenuChoice::Balance),
            ("0".into(), MenuChoice::Operator),
        ],
        open,
        today: d(31),
        accounts: AccountRules {
            min_len: 6,
            max_len: 10,
            check_digit: false,
        },
        readings: ReadingRules { max_daily_kwh: 50 },
        operator: "user/1000".into(),
    }
}

fn account(zones: u8) -> AccountInfo {
    AccountInfo {
        number: "1234534".into(),
        balance_minor: 12345,
        meters: vec![MeterInfo {
            id: 7,
            serial: "M1".into(),
            spec: MeterSpec { digits: 5, zones },
            last: (0..zones)
                .map(|z| LastReading {
                    value: 1000 * i64::from(z + 1),
                    date: d(1),
                })
                .collect(),
        }],
    }
}

fn keyed(s: &str) -> Outcome {
    let mut o = Outcome::default();
    o.vars.insert("read_result".into(), "success".into());
    o.vars.insert("contactd_digits".into(), s.into());
    o
}

fn timeout() -> Outcome {
    let mut o = Outcome::default();
    o.vars.insert("read_result".into(), "failure".into());
    o
}

fn ans(a: Answer) -> Outcome {
    Outcome {
        answer: Some(a),
        ..Default::default()
    }
}

fn ok() -> Outcome {
    Outcome::default()
}

fn prompt_of(s: &Step) -> &'static str {
    match s {
        Step::Collect(c) => {
            // the adapter copies only these variables from a completion
            assert!(OUTCOME_VARIABLES.contains(&c.var), "{} not copied", c.var);
            c.prompt
        }
        Step::Play(p) => p,
        other => panic!("not a prompt: {other:?}"),
    }
}

fn word(u: &Utterance) -> String {
    match u {
        Utterance::Prompt(p) => (*p).to_string(),
        Utterance::Digits(d) => format!("digits {d}"),
        Utterance::Number(n) => format!("number {n}"),
        Utterance::Money(m) => format!("money {m}"),
    }
}

/// What the caller hears from one step, in order; a question's prompt last.
fn heard(s: &Step) -> Vec<String> {
    match s {
        Step::Collect(c) => {
            let mut w: Vec<String> = c.preface.iter().map(word).collect();
            w.push(prompt_of(s).to_string());
            w
        }
        Step::Say(u) => u.iter().map(word).collect(),
        other => Utterance::of(other)
            .map(|u| vec![word(&u)])
            .unwrap_or_default(),
    }
}

/// Answer; greeting with the menu; key 1; account keyed and found.
fn to_first_zone(zones: u8) -> MeterFlow {
    let mut f = MeterFlow::new(opts(MeterEntry::Menu, true));
    assert_eq!(f.next(None), Step::Answer);
    // the greeting goes with the menu: one command, a key cuts it short
    assert_eq!(heard(&f.next(Some(&ok()))), ["ivr_greeting", "main_menu"]);
    assert_eq!(f.step_name(), "menu");
    assert_eq!(
        f.next(Some(&keyed("1"))),
        Step::Query(Query::AccountOfCaller)
    );
    let s = f.next(Some(&ans(Answer::CallerAccount(None))));
    assert_eq!(heard(&s), ["enter_account"]);
    let s = f.next(Some(&keyed("1234534")));
    assert_eq!(s, Step::Query(Query::Account("1234534".into())));
    let s = f.next(Some(&ans(Answer::Account(Some(account(zones))))));
    assert!(prompt_of(&s).starts_with("enter_reading"));
    f
}

#[test]
fn two_zone_reading_is_stored_only_after_the_last_confirmation() {
    let mut f = to_first_zone(2);
    assert_eq!(f.step_name(), "reading");
    // day: 1000 -> 1100, read back with the question, confirmed
    let s = f.next(Some(&keyed("1100")));
    assert_eq!(heard(&s), ["you_entered", "number 1100", "confirm_reading"]);
    assert_eq!(f.step_name(), "confirm");
    assert_eq!(prompt_of(&f.next(Some(&keyed("1")))), "enter_reading_night");
    // night: re-entered once with 2
    f.next(Some(&keyed("2050")));
    assert_eq!(prompt_of(&f.next(Some(&keyed("2")))), "enter_reading_night");
    f.next(Some(&keyed("2040")));
    assert_eq!(
        f.next(Some(&keyed("1"))),
        Step::Query(Query::StoreReadings {
            account: "1234534".into(),
            meter: 7,
            readings: vec![(1, 1100), (2, 2040)],
        })
    );
    // back to the menu, told first; silence there is goodbye, not the operator
    let s = f.next(Some(&ans(Answer::ReadingsStored(true))));
    assert_eq!(heard(&s), ["reading_accepted", "main_menu"]);
    assert!(f.stored);
    // goodbye, then the hang-up held back until it has been said
    assert_eq!(heard(&f.next(Some(&timeout()))), ["goodbye"]);
    assert_eq!(f.next(Some(&ok())), Step::Hangup("NORMAL_CLEARING"));
    assert_eq!(f.next(Some(&ok())), Step::End);
}

#[test]
fn readings_line_says_accepted_and_goodbye_as_one_sound_then_hangs_up() {
    let mut f = MeterFlow::new(opts(MeterEntry::Readings, true));
    f.next(None);
    // the greeting waits while contactd looks the caller up
    assert_eq!(f.next(Some(&ok())), Step::Query(Query::AccountOfCaller));
    let s = f.next(Some(&ans(Answer::CallerAccount(None))));
    assert_eq!(heard(&s), ["ivr_greeting", "enter_account"]);
    f.next(Some(&keyed("1234534")));
    f.next(Some(&ans(Answer::Account(Some(account(1))))));
    f.next(Some(&keyed("1100")));
    assert!(matches!(f.next(Some(&keyed("1"))), Step::Query(_)));
    let s = f.next(Some(&ans(Answer::ReadingsStored(true))));
    assert_eq!(
        s,
        Step::Say(vec![
            Utterance::Prompt("reading_accepted"),
            Utterance::Prompt("goodbye"),
        ])
    );
    assert_eq!(f.next(Some(&ok())), Step::Hangup("NORMAL_CLEARING"));
}

#[test]
fn refused_readings_reprompt_then_go_to_the_operator() {
    let mut f = to_first_zone(1);
    let s = f.next(Some(&keyed("999")));
    assert_eq!(heard(&s), ["reading_below_previous", "enter_reading"]);
    let s = f.next(Some(&keyed("99999")));
    assert_eq!(heard(&s), ["reading_too_high", "enter_reading"]);
    // third refusal: hand-over with what was learned
    assert_eq!(
        f.next(Some(&keyed("123456"))),
        Step::SetVar {
            name: "contactd_account",
            value: "1234534".into()
        }
    );
    assert_eq!(
        f.next(Some(&ok())),
        Step::SetVar {
            name: "contactd_ivr_step",
            value: "reading".into()
        }
    );
    assert_eq!(f.next(Some(&ok())), Step::Bridge("user/1000".into()));
    assert_eq!(f.next(Some(&ok())), Step::Hangup("NORMAL_CLEARING"));
    assert_eq!(f.step_name(), "operator");
}

#[test]
fn value_below_last_with_an_implausible_wrap_is_refused() {
    let mut f = to_first_zone(1);
    // last 1000 on the 1st, 5 digits: 00500 would mean a 99 500 kWh wrap
    let s = f.next(Some(&keyed("00500")));
    assert_eq!(heard(&s)[0], "reading_below_previous");
}

#[test]
fn three_bad_account_numbers_go_to_the_operator_without_an_account() {
    let mut f = MeterFlow::new(opts(MeterEntry::Readings, true));
    f.next(None);
    assert_eq!(f.next(Some(&ok())), Step::Query(Query::AccountOfCaller));
    f.next(Some(&ans(Answer::CallerAccount(None))));
    let s = f.next(Some(&keyed("12")));
    assert_eq!(heard(&s), ["account_invalid", "enter_account"]);
    let s = f.next(Some(&timeout()));
    assert_eq!(heard(&s), ["account_invalid", "enter_account"]);
    assert_eq!(
        f.next(Some(&keyed("12345678901"))),
        Step::SetVar {
            name: "contactd_ivr_step",
            value: "account".into()
        }
    );
    assert_eq!(f.next(Some(&ok())), Step::Bridge("user/1000".into()));
}

#[test]
fn caller_number_offers_the_account_and_balance_is_said() {
    let mut f = MeterFlow::new(opts(MeterEntry::Menu, true));
    f.next(None);
    f.next(Some(&ok()));
    assert_eq!(
        f.next(Some(&keyed("2"))),
        Step::Query(Query::AccountOfCaller)
    );
    let s = f.next(Some(&ans(Answer::CallerAccount(Some("1234534".into())))));
    assert_eq!(heard(&s), ["account_ending", "digits 34", "account_offer"]);
    assert_eq!(
        f.next(Some(&keyed("1"))),
        Step::Query(Query::Account("1234534".into()))
    );
    // the balance, then the menu again
    let s = f.next(Some(&ans(Answer::Account(Some(account(1))))));
    assert_eq!(heard(&s), ["balance_is", "money 12345", "main_menu"]);
    assert_eq!(f.step_name(), "menu");
}

#[test]
fn after_hours_the_operator_is_not_offered_a_call() {
    let mut f = MeterFlow::new(opts(MeterEntry::Menu, false));
    f.next(None);
    let s = f.next(Some(&ok()));
    assert_eq!(heard(&s), ["ivr_greeting", "after_hours", "main_menu"]);
    let s = f.next(Some(&keyed("0")));
    assert_eq!(
        s,
        Step::Say(vec![
            Utterance::Prompt("operators_closed"),
            Utterance::Prompt("goodbye")
        ])
    );
    assert_eq!(f.next(Some(&ok())), Step::Hangup("NORMAL_CLEARING"));
}

/// The readings line, account 7654321 keyed, the lookup answered `lookup`: the steps up to
/// the bridge to the operator, after the two variables (`contactd_ivr_step` = `step`), and
/// what the caller heard just before it.
fn keyed_account_to_the_operator(lookup: Answer, step: &str) -> (MeterFlow, Vec<String>) {
    let mut f = MeterFlow::new(opts(MeterEntry::Readings, true));
    f.next(None);
    f.next(Some(&ok()));
    f.next(Some(&ans(Answer::CallerAccount(None))));
    f.next(Some(&keyed("7654321")));
    // the variables go first (no sound); what was found is said just before the bridge
    assert_eq!(
        f.next(Some(&ans(lookup))),
        Step::SetVar {
            name: "contactd_account",
            value: "7654321".into()
        }
    );
    assert_eq!(
        f.next(Some(&ok())),
        Step::SetVar {
            name: "contactd_ivr_step",
            value: step.into()
        }
    );
    let said = heard(&f.next(Some(&ok())));
    assert_eq!(f.next(Some(&ok())), Step::Bridge("user/1000".into()));
    (f, said)
}

#[test]
fn an_account_that_could_not_be_looked_up_is_not_called_unknown() {
    let (_, said) =
        keyed_account_to_the_operator(Answer::AccountLookupFailed, "account_check_failed");
    // the caller is told the check failed, not that their number is wrong
    assert_eq!(said, ["account_check_failed"]);
}

#[test]
fn unknown_account_goes_to_the_operator_with_the_keyed_number() {
    let (mut f, said) = keyed_account_to_the_operator(Answer::Account(None), "account_unknown");
    assert_eq!(said, ["account_not_found"]);
    // no operator reachable
    let mut failed = Outcome::default();
    failed
        .vars
        .insert("originate_disposition".into(), "USER_NOT_REGISTERED".into());
    let s = f.next(Some(&failed));
    assert_eq!(heard(&s), ["operators_busy", "goodbye"]);
    assert_eq!(f.next(Some(&ok())), Step::Hangup("NORMAL_CLEARING"));
}
