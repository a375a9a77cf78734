//! What a channel fires once it has parsed a message queued on it
//! (switch_ivr_parse_next_event): a `sendmsg`'s PRIVATE_COMMAND, a broadcast's COMMAND.

use super::event::Event;
use super::session::{Sess, Vars};

/// switch_ivr_parse_next_event: a private event (sendmsg) is fired again once the channel
/// has parsed it, as PRIVATE_COMMAND: the command's own headers first, then the channel's
/// (no variables).
pub fn fire_private_command(sess: &Sess, command: &[(String, String)]) {
    let ev = Event {
        headers: command.to_vec(),
        ..Default::default()
    };
    fire_parsed(sess, ev);
}

/// The event uuid_broadcast queued on the channel (`Event-Name: COMMAND`, with the
/// `call-command` headers), fired once the channel has run it: FreeSWITCH adds
/// a second header block (`Event-Name: PRIVATE_COMMAND` and the channel data).
pub fn fire_broadcast_command(sess: &Sess, app: &str, arg: &str) {
    let mut ev = sess.core.new_event(
        "COMMAND",
        "switch_ivr_async.c",
        "switch_ivr_broadcast",
        5731,
    );
    ev.add("call-command", "execute");
    ev.add("execute-app-name", app);
    ev.add("execute-app-arg", arg);
    ev.add("event-lock", "true");
    ev.add("lead-frames", "5");
    fire_parsed(sess, ev);
}

/// `ev` fired with the block switch_ivr_parse_next_event adds after its own headers:
/// `Event-Name: PRIVATE_COMMAND` and the channel's data (no variables).
fn fire_parsed(sess: &Sess, mut ev: Event) {
    let inner = sess.event(
        "PRIVATE_COMMAND",
        ("switch_ivr.c", "switch_ivr_parse_next_event", 804),
        Vars::No,
        &[],
        &[],
    );
    ev.headers.extend(inner.headers);
    ev.chan_uuid = inner.chan_uuid;
    sess.core.fire(ev);
}
