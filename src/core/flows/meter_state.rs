//! The meter flow's states, and the step each is reported as (`contactd_ivr_step`, the
//! call's record).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Start,
    Answered,
    Greeted,
    AfterHours,
    Menu,
    LookupCaller,
    OfferEnding,
    OfferDigits,
    Offer,
    AccountEntry,
    AccountInvalid,
    Lookup,
    UnknownAccount,
    BalanceIs,
    BalanceSaid,
    MeterChoice,
    ZoneEntry,
    ReadingRefused,
    ReadBack,
    SaidBack,
    Confirm,
    Storing,
    Accepted,
    HandoverAccount,
    HandoverStep,
    Bridged,
    OperatorDone,
    Closing,
    Said,
    Done,
}

impl State {
    /// The step the caller is at, as the records and the hand-over name it.
    pub(super) fn name(self) -> &'static str {
        use State::*;
        match self {
            Start => "start",
            Answered => "answer",
            Greeted | AfterHours => "greeting",
            Menu => "menu",
            LookupCaller | OfferEnding | OfferDigits | Offer => "account_offer",
            AccountEntry | AccountInvalid | Lookup | UnknownAccount => "account",
            BalanceIs | BalanceSaid => "balance",
            MeterChoice => "meter",
            ZoneEntry | ReadingRefused => "reading",
            ReadBack | SaidBack => "say_back",
            Confirm => "confirm",
            Storing => "store",
            Accepted => "stored",
            HandoverAccount | HandoverStep | Bridged | OperatorDone => "operator",
            Closing | Said | Done => "goodbye",
        }
    }
}
