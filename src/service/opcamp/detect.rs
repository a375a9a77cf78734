//! What answered an operator-campaign call, as the pacer and the records name it: the
//! answering-machine detector's verdict (`service::amd::classify`, started on the answered
//! call) mapped to `core::dialer::AnsweredBy`, with an announcement's detected kind.

use crate::core::dialer::AnsweredBy;
use crate::esl::control::{CallWatch, SwitchLink};

use super::OpRunner;

/// Classifies the answered call `uuid`. Until the detector is wired in (branch i14-amd) every
/// answer is taken for a person.
pub(super) async fn classify(
    _runner: &OpRunner,
    _link: &SwitchLink,
    _watch: &mut CallWatch,
    _uuid: &str,
) -> (AnsweredBy, Option<String>) {
    (AnsweredBy::Person, None)
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
