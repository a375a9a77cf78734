//! What the switch notes of a notification call by itself, in its core database (mod_db):
//! the message's result, the confirmation key and the call's end. contactd reads them back
//! after a lost link or its own restart, and drops them once the attempt is written.

use tracing::debug;

use crate::esl::control::SwitchLink;

/// mod_db realm where the switch itself notes each message's result (`FILE PLAYED`, …)
/// right after it, keyed by the call's uuid (in the switch's core database: it survives a
/// restart of the switch, unlike mod_hash).
pub const MESSAGE_REALM: &str = "contactd_msg";
/// mod_db realm for the confirmation key.
pub const KEY_REALM: &str = "contactd_key";
/// Where `play_and_get_digits` puts the confirmation key.
pub const DIGITS_VAR: &str = "contactd_digits";

/// What the switch noted for call `uuid` (message result, confirmation key), if it is
/// reachable. Works after the call is gone, which a channel variable would not.
pub async fn switch_notes(
    link: &SwitchLink,
    uuid: &str,
) -> Option<(Option<String>, Option<String>)> {
    let get = |realm: &'static str| {
        let cmd = format!("db select/{realm}/{uuid}");
        async move {
            let v = link.api(&cmd).await.ok()?;
            let v = v.trim();
            Some((!v.is_empty() && !v.starts_with("-ERR") && v != "!err!").then(|| v.to_string()))
        }
    };
    let msg = get(MESSAGE_REALM).await?;
    let key = get(KEY_REALM).await?;
    Some((msg, key))
}

/// Where the switch notes each campaign call's end itself (`Originate::note_end`).
pub const END_REALM: &str = "contactd_end";

pub use crate::core::switch_witness::NotedEnd;

/// What the switch noted of call `uuid`'s end: None if it cannot be asked now, Some(None)
/// if it noted nothing (the channel has not hung up, or its originate carried no note).
pub async fn switch_end(link: &SwitchLink, uuid: &str) -> Option<Option<NotedEnd>> {
    let v = link
        .api(&format!("db select/{END_REALM}/{uuid}"))
        .await
        .ok()?;
    Some(noted_end(v.trim()))
}

/// `cause/q850/answer_epoch` (answer_epoch is 0 for a call never answered).
fn noted_end(v: &str) -> Option<NotedEnd> {
    let mut f = v.split('/');
    let cause = f
        .next()
        .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))?;
    let q850 = f.next().and_then(|q| q.parse().ok());
    let answered = f.next()?.parse::<i64>().ok()? > 0;
    Some(NotedEnd {
        cause: cause.to_string(),
        q850,
        answered,
    })
}

/// Drops what the switch noted for `uuid` (best effort: a row in its database). Only once
/// the attempt's outcome is durably written: a contactd killed in between reads the notes
/// again after its restart. `confirm`: the call's script asked for the key; a script that
/// did not noted none, and a command fewer per call leaves the control link to originates.
pub async fn forget_notes(link: &SwitchLink, uuid: &str, confirm: bool) {
    let realms: &[&str] = if confirm {
        &[MESSAGE_REALM, KEY_REALM, END_REALM]
    } else {
        &[MESSAGE_REALM, END_REALM]
    };
    for &realm in realms {
        if let Err(e) = link.api(&format!("db delete/{realm}/{uuid}")).await {
            // harmless: the row is a few bytes in the switch's db, read by nobody now
            debug!(%uuid, realm, "notes not deleted: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_noted_end_says_its_cause_and_whether_it_was_answered() {
        let busy = noted_end("USER_BUSY/17/0").unwrap();
        assert_eq!(
            (busy.cause.as_str(), busy.q850, busy.answered),
            ("USER_BUSY", Some(17), false)
        );
        assert!(noted_end("NORMAL_CLEARING/16/1796000000").unwrap().answered);
        // nothing noted, mod_db's error, a hook the switch did not expand
        for none in ["", "!err!", "-ERR no reply", "${hangup_cause}//"] {
            assert_eq!(noted_end(none), None, "{none:?}");
        }
    }
}
