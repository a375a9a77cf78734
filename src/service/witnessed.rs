//! A campaign call the switch does not list and whose records say nothing of its end (its
//! originate may never have left an instance that died): what this instance's own record of
//! the switch's channels (`core::switch_witness`) proves. Shared by the notice and the
//! operator campaigns' recovery.

use std::time::Duration;

use uuid::Uuid;

use crate::core::switch_witness::Verdict;
use crate::esl::control::SwitchLink;
use crate::service::notice_call::switch_end;
use crate::store::campaigns::Campaigns;

/// How long recovery waits before it asks the switch again and trusts its record of the
/// switch's events: an originate already on its way, or events this instance has yet to
/// read, land in it meanwhile.
pub const SETTLE: Duration = Duration::from_secs(5);

/// What was proven of the call.
#[derive(Debug, Clone, PartialEq)]
pub enum Witnessed {
    /// Never a channel on the switch while this instance watched it from before the attempt:
    /// the subscriber was not called (put back, not an attempt).
    NeverDialed,
    /// Seen, and seen hung up unanswered with this cause.
    Unanswered { cause: String, q850: Option<i32> },
    /// On the switch after all (its originate was on its way): a live call to follow.
    OnSwitch,
}

/// None: no proof (answered, or not watched long enough). `noted`: the call's originate
/// carried the end-note hook (`Originate::note_end`), so the switch's own notes count too.
pub async fn witnessed(
    link: &SwitchLink,
    campaigns: &Campaigns,
    id: Uuid,
    noted: bool,
) -> Option<Witnessed> {
    let attempt_at = campaigns.attempt_created(id).await.ok().flatten()?;
    let uuid = id.to_string();
    tokio::time::sleep(SETTLE).await;
    // The note is read before and after the listing: a channel that came and went between
    // them left its note by the second read (its hook runs before it leaves the list).
    let before = if noted {
        Some(switch_end(link, &uuid).await?)
    } else {
        None
    };
    if link.channels().await.ok()?.iter().any(|r| r.uuid == uuid) {
        return Some(Witnessed::OnSwitch);
    }
    let noted = match before {
        Some(None) => Some(switch_end(link, &uuid).await?),
        other => other,
    };
    match link.witness(&uuid, attempt_at, noted) {
        Verdict::NeverDialed => Some(Witnessed::NeverDialed),
        Verdict::Ended {
            cause,
            q850,
            answered: false,
        } => Some(Witnessed::Unanswered { cause, q850 }),
        _ => None,
    }
}
