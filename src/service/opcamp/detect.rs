//! What answered an operator-campaign call, as the pacer and the records name it: the
//! answering-machine detector's verdict (`service::amd::classify`: the switch's detectors
//! started on the answered, parked call and stopped after), mapped to
//! `core::dialer::AnsweredBy`, with an announcement's detected kind. `[amd] enabled = false`
//! takes every answer for a person.

use crate::core::amd::Detection;
use crate::core::dialer::AnsweredBy;
use crate::esl::control::{CallWatch, SwitchLink};

use super::OpRunner;

/// Classifies the answered call `uuid`.
pub(super) async fn classify(
    runner: &OpRunner,
    link: &SwitchLink,
    watch: &mut CallWatch,
    uuid: &str,
) -> (AnsweredBy, Option<String>) {
    let s = &runner.config.amd;
    if !s.enabled {
        return (AnsweredBy::Person, None);
    }
    match crate::service::amd::classify(link, watch, uuid, s, &runner.clock).await {
        Detection::Person => (AnsweredBy::Person, None),
        Detection::Machine { beep } => (AnsweredBy::Machine, beep.then(|| "beep".to_string())),
        Detection::Announcement { kind } => (AnsweredBy::Announcement, Some(kind)),
        Detection::Fax => (AnsweredBy::Fax, None),
        Detection::Silence => (AnsweredBy::Silence, None),
    }
}

/// The records' word for what answered.
pub fn word(by: AnsweredBy) -> &'static str {
    match by {
        AnsweredBy::Person => "person",
        AnsweredBy::Machine => "machine",
        AnsweredBy::Announcement => "announcement",
        AnsweredBy::Fax => "fax",
        AnsweredBy::Silence => "silence",
    }
}
