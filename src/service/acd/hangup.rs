//! Who ended a caller's call, as `calls.hungup_by` records it for callers handed to the
//! operators' queue (the IVR leaves it to the ACD). Pure: the caller's task feeds it what it
//! saw and writes the answer.
//!
//! The switch names no culprit on loopback (no `sip_hangup_disposition`), and the order of the
//! legs' CHANNEL_HANGUPs misleads: when a caller on a loopback channel hangs up a bridged call,
//! the operator leg's CHANNEL_HANGUP comes *before* the caller channel's (trace 28). What does
//! not mislead is the order of the caller channel's own events, which arrive in order on its
//! watch: a caller who hangs up gets its CHANNEL_HANGUP before the CHANNEL_UNBRIDGE that ends
//! its bridge; an operator who hangs up ends the bridge first (CHANNEL_UNBRIDGE), and only
//! then does `hangup_after_bridge` hang the caller up. Whatever contactd ends itself (a
//! prompt then hang-up) it knows it sent.

use crate::core::channels::SwitchEvent;

/// The values of `calls.hungup_by` the ACD writes (`sql/007_operator_side.sql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    /// The caller (or, for a callback, the customer dialed).
    Party,
    /// The operator's side of the talk.
    Operator,
    /// contactd: a prompt (queue full, waited too long, callback stored) then its hang-up.
    Contactd,
    /// The switch shutting down.
    Switch,
    /// Ended while contactd could not see it (a dropped link, a restart): not guessed.
    Unknown,
}

impl EndedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            EndedBy::Party => "party",
            EndedBy::Operator => "operator",
            EndedBy::Contactd => "contactd",
            EndedBy::Switch => "switch",
            EndedBy::Unknown => "unknown",
        }
    }

    /// The caller's channel hung up before anything contactd or the operator did ended it:
    /// the caller, unless the switch itself was shutting down.
    pub fn caller_hung_up(cause: &str) -> Self {
        if cause == "SYSTEM_SHUTDOWN" {
            EndedBy::Switch
        } else {
            EndedBy::Party
        }
    }
}

/// What one event of the caller's own channel says about who ended its talk: its hang-up
/// first means the caller, its bridge ending first means the operator's side (unless contactd
/// moved it for a transfer, which the task knows and which ends nothing).
pub fn ends_talk(caller: &str, ev: &SwitchEvent) -> Option<EndedBy> {
    match ev {
        SwitchEvent::Hangup(h) if h.uuid == caller => Some(EndedBy::caller_hung_up(&h.cause)),
        SwitchEvent::Unbridge { uuid, .. } if uuid == caller => Some(EndedBy::Operator),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::channels::HangupInfo;

    const CALLER: &str = "ed7e58c1-603d-4450-b3eb-4278fb353c4a";
    const CALLER_A: &str = "0eb98475-c924-4048-a7d9-a3ccac9bea59";
    const OP: &str = "f2a32aac-9813-437c-8d1e-c8fb05b48fc4";
    const OP_B: &str = "ff0a5dc7-3fda-4244-a5ae-0bdd8811c42a";

    fn hangup(uuid: &str, cause: &str, complete: bool) -> SwitchEvent {
        SwitchEvent::Hangup(HangupInfo {
            uuid: uuid.into(),
            cause: cause.into(),
            complete,
            ..Default::default()
        })
    }

    fn unbridge() -> SwitchEvent {
        SwitchEvent::Unbridge {
            uuid: CALLER.into(),
            other: OP.into(),
            at_us: 0,
        }
    }

    /// The first event of the caller's channel that says anything decides.
    fn decide(events: &[SwitchEvent]) -> Option<EndedBy> {
        events.iter().find_map(|e| ends_talk(CALLER, e))
    }

    #[test]
    fn caller_hanging_up_a_bridged_loopback_call_is_the_party() {
        // Trace 28, Event-Sequence 2211-2245: the caller's loopback A-leg, then the operator
        // leg and its far end, and only then the bridged caller leg; one UNBRIDGE, last.
        let events = [
            hangup(CALLER_A, "NORMAL_CLEARING", false),
            hangup(OP, "NORMAL_CLEARING", false),
            hangup(OP_B, "NORMAL_CLEARING", false),
            hangup(OP, "NORMAL_CLEARING", true),
            hangup(CALLER, "NORMAL_CLEARING", false),
            hangup(CALLER_A, "NORMAL_CLEARING", true),
            unbridge(),
            hangup(CALLER, "NORMAL_CLEARING", true),
        ];
        assert_eq!(decide(&events), Some(EndedBy::Party));
    }

    #[test]
    fn operator_hanging_up_ends_the_bridge_before_the_caller_goes() {
        // hangup_after_bridge: the caller's bridge ends, then the switch hangs it up.
        let events = [
            hangup(OP_B, "NORMAL_CLEARING", false),
            hangup(OP, "NORMAL_CLEARING", false),
            unbridge(),
            hangup(CALLER, "NORMAL_CLEARING", false),
        ];
        assert_eq!(decide(&events), Some(EndedBy::Operator));
    }

    #[test]
    fn a_shutdown_is_the_switch() {
        assert_eq!(
            decide(&[hangup(CALLER, "SYSTEM_SHUTDOWN", false)]),
            Some(EndedBy::Switch)
        );
        assert_eq!(decide(&[hangup(OP, "NORMAL_CLEARING", false)]), None);
    }

    #[test]
    fn values_match_the_schema() {
        let schema = include_str!("../../../sql/007_operator_side.sql");
        for by in [
            EndedBy::Party,
            EndedBy::Operator,
            EndedBy::Contactd,
            EndedBy::Switch,
            EndedBy::Unknown,
        ] {
            assert!(schema.contains(&format!("'{}'", by.as_str())), "{by:?}");
        }
    }
}
