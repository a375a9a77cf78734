//! What an attempt's result means for the subscriber: a final outcome, or a retry later.
//! Decided from the raw FreeSWITCH hangup cause, which is kept verbatim with the attempt.

use std::time::Duration;

use freeswitch_types::HangupCause;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    ListenedFull,
    ListenedPartial,
    Busy,
    NoAnswer,
    Failed,
    Invalid,
    Dnc,
    /// The result cannot be known (contactd was down when it happened).
    Unknown,
    Cancelled,
    /// An answering machine took the message after its beep (not reached).
    Machine,
    /// A network announcement answered (SIT, "subscriber unavailable"): not reached.
    Announcement,
    /// A fax answered: not reached.
    Fax,
    /// Answered, and nobody spoke: not reached.
    Silence,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::ListenedFull => "listened_full",
            Outcome::ListenedPartial => "listened_partial",
            Outcome::Busy => "busy",
            Outcome::NoAnswer => "no_answer",
            Outcome::Failed => "failed",
            Outcome::Invalid => "invalid",
            Outcome::Dnc => "dnc",
            Outcome::Unknown => "unknown",
            Outcome::Cancelled => "cancelled",
            Outcome::Machine => "machine",
            Outcome::Announcement => "announcement",
            Outcome::Fax => "fax",
            Outcome::Silence => "silence",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Outcome::ListenedFull,
            Outcome::ListenedPartial,
            Outcome::Busy,
            Outcome::NoAnswer,
            Outcome::Failed,
            Outcome::Invalid,
            Outcome::Dnc,
            Outcome::Unknown,
            Outcome::Cancelled,
            Outcome::Machine,
            Outcome::Announcement,
            Outcome::Fax,
            Outcome::Silence,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }

    /// The subscriber was reached (answered).
    pub fn reached(self) -> bool {
        matches!(self, Outcome::ListenedFull | Outcome::ListenedPartial)
    }
}

/// An unanswered call by its hangup cause. Busy, no answer and temporary failures are
/// worth another try; a number that does not exist never is.
pub fn unanswered(cause: &str) -> Outcome {
    use HangupCause as C;
    match cause.parse::<HangupCause>() {
        Ok(C::UserBusy) => Outcome::Busy,
        Ok(
            C::NoAnswer
            | C::NoUserResponse
            | C::ProgressTimeout
            | C::AllottedTimeout
            | C::OriginatorCancel
            | C::RecoveryOnTimerExpire
            | C::SubscriberAbsent,
        ) => Outcome::NoAnswer,
        Ok(
            C::UnallocatedNumber
            | C::NoRouteDestination
            | C::InvalidNumberFormat
            | C::NumberChanged
            | C::IncompatibleDestination
            | C::NoRouteTransitNet,
        ) => Outcome::Invalid,
        _ => Outcome::Failed,
    }
}

/// The Q.850 code FreeSWITCH pairs with a hangup cause name (`switch_call_cause_t`, as the
/// ESL types crate numbers it), for results that came without one. Causes of its own above
/// 127 are reported as 16, as `switch_channel_cause_q850` does.
pub fn q850_of(cause: &str) -> Option<i32> {
    let code = cause.parse::<HangupCause>().ok()? as u16;
    Some(if code > 127 { 16 } else { i32::from(code) })
}

/// Causes that say nothing about the subscriber: no line was free. Not an attempt.
pub fn no_line(cause: &str) -> bool {
    matches!(
        cause.parse::<HangupCause>(),
        Ok(HangupCause::NormalCircuitCongestion
            | HangupCause::SwitchCongestion
            | HangupCause::ChanNotImplemented)
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub busy: Duration,
    pub no_answer: Duration,
    /// Temporary network failures.
    pub failed: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Done(Outcome),
    /// Try again after the delay; `last` is reported if no later attempt succeeds.
    Retry {
        after: Duration,
        last: Outcome,
    },
}

/// After attempt number `attempts_made` (1-based) ended with `outcome`. A network
/// announcement ("subscriber unavailable") and silence are retried like no answer: the
/// subscriber may be there later. A machine that took the message and a fax line are
/// final: calling again would leave the message twice or reach the fax again.
pub fn decide(outcome: Outcome, attempts_made: u32, policy: &RetryPolicy) -> Next {
    let delay = match outcome {
        Outcome::Busy => policy.busy,
        Outcome::NoAnswer | Outcome::Announcement | Outcome::Silence => policy.no_answer,
        Outcome::Failed => policy.failed,
        done => return Next::Done(done),
    };
    if attempts_made >= policy.max_attempts {
        Next::Done(outcome)
    } else {
        Next::Retry {
            after: delay,
            last: outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q850_codes_of_unanswered_causes() {
        assert_eq!(q850_of("USER_BUSY"), Some(17));
        assert_eq!(q850_of("NO_ANSWER"), Some(19));
        assert_eq!(q850_of("UNALLOCATED_NUMBER"), Some(1));
        assert_eq!(q850_of("NORMAL_TEMPORARY_FAILURE"), Some(41));
        assert_eq!(q850_of("ORIGINATOR_CANCEL"), Some(16));
        assert_eq!(q850_of("NOT_A_CAUSE"), None);
    }

    const P: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        busy: Duration::from_secs(600),
        no_answer: Duration::from_secs(1800),
        failed: Duration::from_secs(300),
    };

    #[test]
    fn causes_are_not_confused() {
        assert_eq!(unanswered("USER_BUSY"), Outcome::Busy);
        assert_eq!(unanswered("NO_ANSWER"), Outcome::NoAnswer);
        assert_eq!(unanswered("NO_USER_RESPONSE"), Outcome::NoAnswer);
        assert_eq!(unanswered("UNALLOCATED_NUMBER"), Outcome::Invalid);
        // MFC/R2 reports an unallocated number as NO_ROUTE_DESTINATION
        assert_eq!(unanswered("NO_ROUTE_DESTINATION"), Outcome::Invalid);
        assert_eq!(unanswered("NORMAL_TEMPORARY_FAILURE"), Outcome::Failed);
        assert_eq!(unanswered("CALL_REJECTED"), Outcome::Failed);
        assert!(no_line("NORMAL_CIRCUIT_CONGESTION"));
        assert!(!no_line("USER_BUSY"));
    }

    #[test]
    fn retries_by_cause_up_to_the_maximum() {
        assert_eq!(
            decide(Outcome::Busy, 1, &P),
            Next::Retry {
                after: Duration::from_secs(600),
                last: Outcome::Busy
            }
        );
        assert_eq!(
            decide(Outcome::NoAnswer, 2, &P),
            Next::Retry {
                after: Duration::from_secs(1800),
                last: Outcome::NoAnswer
            }
        );
        assert_eq!(decide(Outcome::Busy, 3, &P), Next::Done(Outcome::Busy));
        assert_eq!(
            decide(Outcome::Invalid, 1, &P),
            Next::Done(Outcome::Invalid)
        );
        assert_eq!(
            decide(Outcome::ListenedPartial, 1, &P),
            Next::Done(Outcome::ListenedPartial)
        );
        assert_eq!(
            decide(Outcome::Machine, 1, &P),
            Next::Done(Outcome::Machine)
        );
        assert_eq!(decide(Outcome::Fax, 1, &P), Next::Done(Outcome::Fax));
        assert_eq!(
            decide(Outcome::Announcement, 1, &P),
            Next::Retry {
                after: Duration::from_secs(1800),
                last: Outcome::Announcement
            }
        );
        assert_eq!(
            decide(Outcome::Silence, 3, &P),
            Next::Done(Outcome::Silence)
        );
        assert!(!Outcome::Machine.reached());
    }

    #[test]
    fn names_round_trip() {
        for o in [
            Outcome::ListenedFull,
            Outcome::Dnc,
            Outcome::Unknown,
            Outcome::Machine,
            Outcome::Announcement,
            Outcome::Fax,
            Outcome::Silence,
        ] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::parse("nope"), None);
    }
}
