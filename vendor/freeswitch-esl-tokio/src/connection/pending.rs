//! The waiters of the commands on the wire, matched to replies by position.
//!
//! ESL carries no correlation IDs, but a connection answers its commands in the
//! order it read them: `mod_event_socket` reads one command, runs it, writes its
//! `command/reply` (or `api/response`), then reads the next. So several commands
//! may be on the wire at once, and the reply that arrives is the oldest one's.
//!
//! A command that timed out keeps its place: its waiter stays queued with the
//! receiver gone, and its late reply is consumed (and discarded) there instead
//! of landing on the next command.

use std::collections::VecDeque;

use tokio::sync::oneshot;
use tracing::{debug, warn};

use crate::protocol::EslMessage;

/// One command on the wire.
struct Waiter {
    seq: u64,
    tx: oneshot::Sender<EslMessage>,
}

/// Waiters of the in-flight commands, oldest first.
pub(super) struct PendingReply {
    waiting: VecDeque<Waiter>,
    next_seq: u64,
    /// Set by the reader loop on exit and checked under this same lock before a
    /// waiter is queued, which closes the window after `is_connected()`.
    reader_dead: bool,
}

/// What [`PendingReply::deliver`] did with a reply.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Delivery {
    /// Handed to the waiting command.
    Delivered,
    /// The command it answers gave up on it (timed out or was cancelled).
    Stale,
    /// No command was on the wire.
    Unsolicited,
}

impl PendingReply {
    pub(super) fn new() -> Self {
        Self {
            waiting: VecDeque::new(),
            next_seq: 0,
            reader_dead: false,
        }
    }

    /// Queues the waiter of a command about to be written. The caller holds the
    /// writer lock from here until the command is on the wire (or taken back with
    /// [`forget`](Self::forget)), so queue order is wire order.
    ///
    /// `None` once the reader has exited: no reply would ever come.
    pub(super) fn push(&mut self) -> Option<(u64, oneshot::Receiver<EslMessage>)> {
        if self.reader_dead {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        let seq = self.next_seq;
        self.next_seq = self
            .next_seq
            .wrapping_add(1);
        self.waiting
            .push_back(Waiter { seq, tx });
        Some((seq, rx))
    }

    /// Takes back the waiter of a command that never reached the wire (its write
    /// failed or was cancelled before the first byte): no reply will come for it.
    ///
    /// Only the newest waiter can be such a command (the writer lock is still
    /// held), so it is looked for at the back.
    pub(super) fn forget(&mut self, seq: u64) {
        if let Some(pos) = self
            .waiting
            .iter()
            .rposition(|w| w.seq == seq)
        {
            self.waiting
                .remove(pos);
        }
    }

    /// Hands a reply to the oldest command on the wire.
    pub(super) fn deliver(&mut self, message: EslMessage) -> Delivery {
        let Some(waiter) = self
            .waiting
            .pop_front()
        else {
            warn!(
                "Received unsolicited {:?} with no pending command",
                message.message_type,
            );
            return Delivery::Unsolicited;
        };
        match waiter
            .tx
            .send(message)
        {
            Ok(()) => Delivery::Delivered,
            Err(message) => {
                let reply_text = message
                    .headers
                    .get("Reply-Text")
                    .map(|s| s.as_str())
                    .unwrap_or("<none>");
                warn!(
                    "Discarded stale {:?} reply (Reply-Text: {}) of a command that gave up \
                     waiting; {} commands still in flight",
                    message.message_type,
                    reply_text,
                    self.waiting
                        .len(),
                );
                Delivery::Stale
            }
        }
    }

    /// Commands whose sender still waits for the reply.
    pub(super) fn in_flight(&self) -> usize {
        self.waiting
            .iter()
            .filter(|w| {
                !w.tx
                    .is_closed()
            })
            .count()
    }

    /// Commands on the wire, including those whose sender gave up.
    #[cfg(test)]
    pub(super) fn queued(&self) -> usize {
        self.waiting
            .len()
    }

    /// The reader exited: every waiter fails now (its receiver sees the sender
    /// dropped), and no new one is queued.
    pub(super) fn fail_all(&mut self) {
        self.reader_dead = true;
        if !self
            .waiting
            .is_empty()
        {
            debug!(
                "Failing {} in-flight command waiter(s): reader loop exited",
                self.waiting
                    .len()
            );
        }
        self.waiting
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::MessageType;

    fn reply(text: &str) -> EslMessage {
        let mut headers = indexmap::IndexMap::new();
        headers.insert("Reply-Text".to_string(), text.to_string());
        EslMessage::new(MessageType::CommandReply, headers, None)
    }

    fn text(m: EslMessage) -> String {
        m.headers
            .get("Reply-Text")
            .cloned()
            .unwrap()
    }

    #[test]
    fn replies_go_to_commands_in_the_order_they_were_sent() {
        let mut p = PendingReply::new();
        let (_, mut a) = p
            .push()
            .unwrap();
        let (_, mut b) = p
            .push()
            .unwrap();
        let (_, mut c) = p
            .push()
            .unwrap();
        assert_eq!(p.deliver(reply("+OK a")), Delivery::Delivered);
        assert_eq!(p.deliver(reply("+OK b")), Delivery::Delivered);
        assert_eq!(text(a.try_recv().unwrap()), "+OK a");
        assert_eq!(text(b.try_recv().unwrap()), "+OK b");
        assert!(c
            .try_recv()
            .is_err());
        assert_eq!(p.deliver(reply("+OK c")), Delivery::Delivered);
        assert_eq!(text(c.try_recv().unwrap()), "+OK c");
        assert_eq!(p.deliver(reply("+OK ?")), Delivery::Unsolicited);
    }

    #[test]
    fn a_late_reply_is_consumed_by_the_command_that_gave_up() {
        let mut p = PendingReply::new();
        let (_, timed_out) = p
            .push()
            .unwrap();
        let (_, mut next) = p
            .push()
            .unwrap();
        drop(timed_out);
        assert_eq!(p.in_flight(), 1);
        assert_eq!(p.deliver(reply("+OK late")), Delivery::Stale);
        assert_eq!(p.deliver(reply("+OK mine")), Delivery::Delivered);
        assert_eq!(text(next.try_recv().unwrap()), "+OK mine");
    }

    #[test]
    fn a_command_never_written_is_taken_back_without_shifting_the_others() {
        let mut p = PendingReply::new();
        let (_, mut a) = p
            .push()
            .unwrap();
        let (seq, _unsent) = p
            .push()
            .unwrap();
        p.forget(seq);
        let (_, mut c) = p
            .push()
            .unwrap();
        assert_eq!(p.queued(), 2);
        p.deliver(reply("+OK a"));
        p.deliver(reply("+OK c"));
        assert_eq!(text(a.try_recv().unwrap()), "+OK a");
        assert_eq!(text(c.try_recv().unwrap()), "+OK c");
    }

    #[test]
    fn the_reader_exiting_fails_every_command_in_flight_and_refuses_new_ones() {
        let mut p = PendingReply::new();
        let (_, mut a) = p
            .push()
            .unwrap();
        let (_, mut b) = p
            .push()
            .unwrap();
        p.fail_all();
        assert!(matches!(
            a.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
        assert!(matches!(
            b.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
        assert!(p
            .push()
            .is_none());
    }
}
