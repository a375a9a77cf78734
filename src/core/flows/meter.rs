//! The inbound flow of the utility's trunk numbers (`contactd_entry=trunk`): greeting, an
//! after-hours notice, the menu (readings / balance / operator), the account (offered from
//! the caller's number or keyed and checked, three tries), then meter readings zone by
//! zone (checked by `core::meter`, read back, confirmed) stored in one go after the last
//! confirmation, or the balance. Whatever it cannot settle goes to the operators with what
//! it learned (`contactd_account`, `contactd_ivr_step`).
//!
//! Nothing is stored before the final confirmation: a caller who hangs up at any step
//! leaves no half reading (the adapter simply stops asking `next`).

use chrono::NaiveDate;

use crate::core::flow::{Answer, Collect, Flow, Joiner, Outcome, Query, Step};
use crate::core::meter::{
    check_account_number, check_reading, AccountInfo, AccountRules, CheckedReading, ReadingError,
    ReadingRules,
};

#[path = "meter_state.rs"]
mod state;
use state::State;

/// Failed entries (menu key, account number, reading) before the operators take over.
const MAX_TRIES: u32 = 3;

/// Marks a prompt name, so `tests/prompts.rs` finds every prompt this flow plays.
const fn prompt(name: &'static str) -> &'static str {
    name
}

fn collect(prompt: &'static str, min: u32, max: u32, timeout_ms: u32) -> Step {
    Step::Collect(Collect {
        prompt,
        invalid_prompt: "invalid_entry",
        min,
        max,
        tries: 1,
        timeout_ms,
        terminators: "#",
        var: "contactd_digits",
        preface: Vec::new(),
    })
}

/// What a menu key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuChoice {
    Readings,
    Balance,
    Operator,
}

/// Which number the caller dialled: the main number (menu) or the readings line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterEntry {
    Menu,
    Readings,
}

pub struct MeterFlowOptions {
    pub entry: MeterEntry,
    /// Key → choice, from the config.
    pub menu: Vec<(String, MenuChoice)>,
    /// Operators on duty now (office hours, holidays); readings are taken regardless.
    pub open: bool,
    /// The local date of the call, for days since the last reading.
    pub today: NaiveDate,
    pub accounts: AccountRules,
    pub readings: ReadingRules,
    /// Where `0` and every hand-over go (validated at config load).
    pub operator: String,
}

pub struct MeterFlow {
    o: MeterFlowOptions,
    state: State,
    want: Option<MenuChoice>,
    menu_tries: u32,
    account_tries: u32,
    reading_tries: u32,
    /// A task (balance, readings) was completed: a silent menu then means goodbye.
    done_something: bool,
    offered: Option<String>,
    /// Digits keyed for an account that does not exist (carried to the operator).
    keyed: Option<String>,
    pub account: Option<AccountInfo>,
    meter: usize,
    zone: u8,
    pending: Option<CheckedReading>,
    confirmed: Vec<CheckedReading>,
    /// Where the caller was when handed over (`contactd_ivr_step`).
    handover_step: &'static str,
    /// Readings were stored by this call.
    pub stored: bool,
    /// Every step goes through it: prompts said back to back reach the switch as one.
    joiner: Joiner,
}

impl MeterFlow {
    pub fn new(o: MeterFlowOptions) -> Self {
        Self {
            o,
            state: State::Start,
            want: None,
            menu_tries: 0,
            account_tries: 0,
            reading_tries: 0,
            done_something: false,
            offered: None,
            keyed: None,
            account: None,
            meter: 0,
            zone: 1,
            pending: None,
            confirmed: Vec::new(),
            handover_step: "",
            stored: false,
            joiner: Joiner::default(),
        }
    }

    fn go(&mut self, state: State, step: Step) -> Step {
        self.state = state;
        match self.joiner.join(step) {
            Some(step) => step,
            // A sound: no state after one reads its outcome, so go on as if it was played.
            None => self.next(None),
        }
    }

    fn after_greeting(&mut self) -> Step {
        match self.o.entry {
            MeterEntry::Menu => self.ask_menu(),
            MeterEntry::Readings => {
                self.want = Some(MenuChoice::Readings);
                self.identify()
            }
        }
    }

    fn ask_menu(&mut self) -> Step {
        self.go(State::Menu, collect(prompt("main_menu"), 1, 1, 7000))
    }

    fn goodbye(&mut self) -> Step {
        self.go(State::Said, Step::Play("goodbye"))
    }

    fn after_task(&mut self) -> Step {
        self.done_something = true;
        self.menu_tries = 0;
        match self.o.entry {
            MeterEntry::Menu => self.ask_menu(),
            MeterEntry::Readings => self.goodbye(),
        }
    }

    fn identify(&mut self) -> Step {
        if self.account.is_some() {
            return self.with_account();
        }
        self.go(State::LookupCaller, Step::Query(Query::AccountOfCaller))
    }

    fn ask_account(&mut self) -> Step {
        let max = u32::from(self.o.accounts.max_len) + 1;
        self.go(
            State::AccountEntry,
            collect(prompt("enter_account"), 1, max, 10_000),
        )
    }

    fn with_account(&mut self) -> Step {
        let Some(acc) = &self.account else {
            return self.ask_account();
        };
        match self.want {
            Some(MenuChoice::Balance) if acc.balance_minor < 0 => {
                self.go(State::BalanceIs, Step::Play("balance_debt"))
            }
            Some(MenuChoice::Balance) => self.go(State::BalanceIs, Step::Play("balance_is")),
            _ => match acc.meters.len() {
                0 => {
                    self.handover_step = "meter";
                    self.go(State::UnknownAccount, Step::Play("no_meters"))
                }
                1 => self.ask_zone(1),
                _ => self.go(
                    State::MeterChoice,
                    collect(prompt("choose_meter"), 1, 1, 7000),
                ),
            },
        }
    }

    fn zones(&self) -> u8 {
        self.account
            .as_ref()
            .and_then(|a| a.meters.get(self.meter))
            .map_or(1, |m| m.spec.zones)
    }

    fn ask_zone(&mut self, zone: u8) -> Step {
        self.zone = zone;
        let digits = self
            .account
            .as_ref()
            .and_then(|a| a.meters.get(self.meter))
            .map_or(9, |m| u32::from(m.spec.digits));
        let p = match (self.zones(), zone) {
            (1, _) => prompt("enter_reading"),
            (2, 1) => prompt("enter_reading_day"),
            (2, _) => prompt("enter_reading_night"),
            (_, 1) => prompt("enter_reading_peak"),
            (_, 2) => prompt("enter_reading_half_peak"),
            _ => prompt("enter_reading_night"),
        };
        // One digit more than the dial, so an over-long value is seen and refused.
        self.go(State::ZoneEntry, collect(p, 1, digits + 1, 10_000))
    }

    fn reading_refused(&mut self, e: &ReadingError) -> Step {
        self.reading_tries += 1;
        if self.reading_tries >= MAX_TRIES {
            return self.operator("reading");
        }
        let p = match e {
            ReadingError::TooManyDigits { .. } => prompt("reading_too_many_digits"),
            ReadingError::BelowPrevious { .. } => prompt("reading_below_previous"),
            ReadingError::AboveDailyMaximum { .. } => prompt("reading_too_high"),
            _ => prompt("invalid_entry"),
        };
        self.go(State::ReadingRefused, Step::Play(p))
    }

    fn check(&self, digits: &str) -> Result<CheckedReading, ReadingError> {
        let m = self
            .account
            .as_ref()
            .and_then(|a| a.meters.get(self.meter))
            .ok_or(ReadingError::Empty)?;
        let last =
            m.last
                .get(usize::from(self.zone) - 1)
                .copied()
                .ok_or(ReadingError::NoSuchZone {
                    zone: self.zone,
                    zones: m.spec.zones,
                })?;
        check_reading(
            m.spec,
            self.zone,
            last,
            digits,
            self.o.today,
            self.o.readings,
        )
    }

    fn operator(&mut self, step: &'static str) -> Step {
        self.handover_step = step;
        if !self.o.open {
            return self.go(State::Closing, Step::Play("operators_closed"));
        }
        let account = self
            .account
            .as_ref()
            .map(|a| a.number.clone())
            .or_else(|| self.keyed.clone())
            .or_else(|| self.offered.clone());
        match account {
            Some(value) => self.go(
                State::HandoverAccount,
                Step::SetVar {
                    name: "contactd_account",
                    value,
                },
            ),
            None => self.set_step_var(),
        }
    }

    fn set_step_var(&mut self) -> Step {
        self.go(
            State::HandoverStep,
            Step::SetVar {
                name: "contactd_ivr_step",
                value: self.handover_step.to_string(),
            },
        )
    }

    fn account_failed(&mut self) -> Step {
        self.account_tries += 1;
        if self.account_tries >= MAX_TRIES {
            return self.operator("account");
        }
        self.go(State::AccountInvalid, Step::Play("account_invalid"))
    }
}

impl Flow for MeterFlow {
    fn next(&mut self, last: Option<&Outcome>) -> Step {
        use State::*;
        if let Some(step) = self.joiner.held() {
            return step;
        }
        let digits = last
            .and_then(|o| o.digits("contactd_digits"))
            .map(str::to_string);
        let answer = last.and_then(|o| o.answer.clone());
        match self.state {
            Start => self.go(Answered, Step::Answer),
            Answered => self.go(Greeted, Step::Play("ivr_greeting")),
            Greeted if !self.o.open => self.go(AfterHours, Step::Play("after_hours")),
            Greeted | AfterHours => self.after_greeting(),
            Menu => {
                let choice = digits
                    .as_deref()
                    .and_then(|d| self.o.menu.iter().find(|(k, _)| k == d).map(|(_, c)| *c));
                match choice {
                    Some(MenuChoice::Operator) => self.operator("menu"),
                    Some(c) => {
                        self.want = Some(c);
                        self.identify()
                    }
                    None if self.done_something && digits.is_none() => self.goodbye(),
                    None => {
                        self.menu_tries += 1;
                        if self.menu_tries >= MAX_TRIES {
                            self.operator("menu")
                        } else {
                            self.ask_menu()
                        }
                    }
                }
            }
            LookupCaller => match answer {
                Some(Answer::CallerAccount(Some(n))) => {
                    self.offered = Some(n);
                    self.go(OfferEnding, Step::Play("account_ending"))
                }
                _ => self.ask_account(),
            },
            OfferEnding => {
                let n = self.offered.clone().unwrap_or_default();
                let tail = n[n.len().saturating_sub(2)..].to_string();
                self.go(OfferDigits, Step::SayDigits(tail))
            }
            OfferDigits => self.go(Offer, collect(prompt("account_offer"), 1, 1, 7000)),
            Offer => match (digits.as_deref(), self.offered.clone()) {
                (Some("1"), Some(n)) => self.go(Lookup, Step::Query(Query::Account(n))),
                _ => {
                    self.offered = None;
                    self.ask_account()
                }
            },
            AccountEntry => match digits {
                Some(d) if check_account_number(&d, self.o.accounts).is_ok() => {
                    self.keyed = Some(d.clone());
                    self.go(Lookup, Step::Query(Query::Account(d)))
                }
                _ => self.account_failed(),
            },
            AccountInvalid => self.ask_account(),
            Lookup => match answer {
                Some(Answer::Account(Some(acc))) => {
                    self.account = Some(acc);
                    self.with_account()
                }
                Some(Answer::AccountLookupFailed) => {
                    self.handover_step = "account_check_failed";
                    self.go(UnknownAccount, Step::Play("account_check_failed"))
                }
                _ => {
                    self.handover_step = "account_unknown";
                    self.go(UnknownAccount, Step::Play("account_not_found"))
                }
            },
            UnknownAccount => {
                let step = self.handover_step;
                self.operator(step)
            }
            BalanceIs => {
                let b = self.account.as_ref().map_or(0, |a| a.balance_minor.abs());
                self.go(BalanceSaid, Step::SayMoney(b))
            }
            BalanceSaid | Accepted => self.after_task(),
            MeterChoice => {
                let n = self.account.as_ref().map_or(0, |a| a.meters.len());
                match digits.and_then(|d| d.parse::<usize>().ok()) {
                    Some(k) if (1..=n).contains(&k) => {
                        self.meter = k - 1;
                        self.ask_zone(1)
                    }
                    _ => {
                        self.reading_tries += 1;
                        if self.reading_tries >= MAX_TRIES {
                            return self.operator("meter");
                        }
                        self.go(MeterChoice, collect(prompt("choose_meter"), 1, 1, 7000))
                    }
                }
            }
            ZoneEntry => match self.check(digits.as_deref().unwrap_or("")) {
                Ok(r) => {
                    self.pending = Some(r);
                    self.go(ReadBack, Step::Play("you_entered"))
                }
                Err(e) => self.reading_refused(&e),
            },
            ReadingRefused => self.ask_zone(self.zone),
            ReadBack => {
                let v = self.pending.map_or(0, |r| r.value);
                self.go(SaidBack, Step::SayNumber(v))
            }
            SaidBack => self.go(Confirm, collect(prompt("confirm_reading"), 1, 1, 7000)),
            Confirm => match digits.as_deref() {
                Some("1") => {
                    let Some(r) = self.pending.take() else {
                        return self.ask_zone(self.zone);
                    };
                    self.confirmed.retain(|c| c.zone != r.zone);
                    self.confirmed.push(r);
                    self.reading_tries = 0;
                    if self.zone < self.zones() {
                        return self.ask_zone(self.zone + 1);
                    }
                    let (account, meter) = match &self.account {
                        Some(a) => (a.number.clone(), a.meters[self.meter].id),
                        None => return self.operator("store"),
                    };
                    let readings = self.confirmed.iter().map(|r| (r.zone, r.value)).collect();
                    self.go(
                        Storing,
                        Step::Query(Query::StoreReadings {
                            account,
                            meter,
                            readings,
                        }),
                    )
                }
                Some("2") => self.ask_zone(self.zone),
                _ => {
                    self.reading_tries += 1;
                    if self.reading_tries >= MAX_TRIES {
                        return self.operator("confirm");
                    }
                    self.go(Confirm, collect(prompt("confirm_reading"), 1, 1, 7000))
                }
            },
            Storing => match answer {
                Some(Answer::ReadingsStored(true)) => {
                    self.stored = true;
                    self.confirmed.clear();
                    self.go(Accepted, Step::Play("reading_accepted"))
                }
                _ => {
                    self.handover_step = "store";
                    self.go(UnknownAccount, Step::Play("reading_not_stored"))
                }
            },
            HandoverAccount => self.set_step_var(),
            HandoverStep => self.go(Bridged, Step::Bridge(self.o.operator.clone())),
            Bridged => {
                // FreeSWITCH leaves `originate_disposition` = the failure cause when no
                // operator could be reached.
                let failed = last
                    .and_then(|o| o.vars.get("originate_disposition"))
                    .is_some_and(|d| d != "SUCCESS" && d != "ANSWER");
                if failed {
                    self.go(Closing, Step::Play("operators_busy"))
                } else {
                    self.go(OperatorDone, Step::Hangup("NORMAL_CLEARING"))
                }
            }
            Closing => self.goodbye(),
            Said => self.go(Done, Step::Hangup("NORMAL_CLEARING")),
            OperatorDone | Done => Step::End,
        }
    }

    fn step_name(&self) -> &'static str {
        self.state.name()
    }
}

#[cfg(test)]
#[path = "meter_tests.rs"]
mod tests;
