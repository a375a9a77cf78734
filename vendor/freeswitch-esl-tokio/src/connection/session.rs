//! An outbound-mode connection driven by the one task that owns it.
//!
//! [`EslClient`](super::EslClient) splits the socket: a reader task parses every message and
//! hands replies and events over channels to whoever waits on them, so a client can be
//! shared, send from several tasks at once and receive events concurrently. A call handled
//! on the outbound socket (FreeSWITCH's `socket` application) needs none of that: one task
//! sends a command, waits for its reply, waits for an event, sends the next. For that shape
//! [`EslSession`] reads and parses in the calling task itself: no reader task, no channels,
//! no locks, no timer per read. Each message then costs one wake-up of the task that needs
//! it instead of a wake-up of the reader plus a hand-over to the consumer.
//!
//! Events that arrive while a command waits for its reply are kept, in order, and returned
//! by the next [`recv`](EslSession::recv).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{debug, warn};

use crate::command::{EslCommand, EslResponse};
use crate::error::{EslError, EslResult};
use crate::event::EslEvent;
use crate::protocol::{EslMessage, EslParser, MessageType};

use super::reader::{is_linger_notice, prepare_event};

/// Longest wait for a command's reply (FreeSWITCH answers `sendmsg`, `myevents`, `linger`
/// at once; `connect` with the channel's data).
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// One outbound-mode connection, owned and driven by a single task. See the module docs.
pub struct EslSession {
    stream: TcpStream,
    parser: EslParser,
    /// Events read while waiting for a reply, oldest first.
    events: VecDeque<EslEvent>,
    /// Set once the switch said goodbye (a `disconnect` notice) or closed the socket, or
    /// the stream fell out of step (a read or parse error, a reply timed out): every later
    /// read ends at once and every later command fails.
    closed: bool,
    reply_timeout: Duration,
}

impl EslSession {
    /// Wraps a connection the switch's `socket` application opened. Send
    /// [`EslCommand::Connect`] first, as with [`EslClient::accept_outbound_stream`](super::EslClient::accept_outbound_stream).
    pub fn accept_outbound(stream: TcpStream) -> Self {
        // Commands may be sent several in one write; each is answered at once, and Nagle
        // would hold a command back until the previous reply's ACK.
        if let Err(e) = stream.set_nodelay(true) {
            debug!("TCP_NODELAY not set: {e}");
        }
        Self {
            stream,
            parser: EslParser::new(),
            events: VecDeque::new(),
            closed: false,
            reply_timeout: REPLY_TIMEOUT,
        }
    }

    /// Longest wait for each command's reply (default 5 s).
    pub fn set_reply_timeout(&mut self, timeout: Duration) {
        self.reply_timeout = timeout;
    }

    /// Sends one command and waits for its reply.
    pub async fn command(&mut self, command: EslCommand) -> EslResult<EslResponse> {
        let mut replies = self
            .pipeline(&[command])
            .await?;
        replies
            .pop()
            .ok_or(EslError::ConnectionClosed)
    }

    /// Sends every command in one write and waits for their replies, in order (FreeSWITCH
    /// runs a connection's commands in the order they arrive and answers each in turn).
    pub async fn pipeline(&mut self, commands: &[EslCommand]) -> EslResult<Vec<EslResponse>> {
        if self.closed {
            return Err(EslError::ConnectionClosed);
        }
        let mut wire = String::new();
        for c in commands {
            wire.push_str(&c.to_wire_format()?);
        }
        self.stream
            .write_all(wire.as_bytes())
            .await
            .map_err(EslError::Io)?;
        let mut replies = Vec::with_capacity(commands.len());
        let timeout_ms = self
            .reply_timeout
            .as_millis() as u64;
        while replies.len() < commands.len() {
            let Ok(message) = tokio::time::timeout(self.reply_timeout, self.next_reply()).await
            else {
                // Its late reply would be taken for the next command's: the session can no
                // longer match replies to commands, so it ends here.
                self.closed = true;
                return Err(EslError::Timeout { timeout_ms });
            };
            let message = message?;
            replies.push(EslResponse::from_message(message));
        }
        Ok(replies)
    }

    /// The next event of the call: one kept while a command waited, else the next read.
    /// `None` once the switch has closed the connection or said goodbye.
    pub async fn recv(&mut self) -> Option<EslResult<EslEvent>> {
        if let Some(ev) = self
            .events
            .pop_front()
        {
            return Some(Ok(ev));
        }
        loop {
            let message = match self
                .next_message()
                .await
            {
                Ok(Some(m)) => m,
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            };
            match message.message_type {
                MessageType::Event => return Some(prepare_event(message, &self.parser).0),
                // a reply no command waits for: not an event
                MessageType::CommandReply | MessageType::ApiResponse => {
                    debug!("reply with no command waiting, discarded")
                }
                _ => {}
            }
        }
    }

    /// Closes the connection (both directions), without `exit`: what the switch sees when
    /// a client goes away.
    pub async fn close(mut self) {
        let _ = self
            .stream
            .shutdown()
            .await;
    }

    /// Reads until a reply, keeping the events met on the way.
    async fn next_reply(&mut self) -> EslResult<EslMessage> {
        loop {
            let Some(message) = self
                .next_message()
                .await?
            else {
                return Err(EslError::ConnectionClosed);
            };
            match message.message_type {
                MessageType::CommandReply | MessageType::ApiResponse => return Ok(message),
                MessageType::Event => match prepare_event(message, &self.parser).0 {
                    Ok(ev) => self
                        .events
                        .push_back(ev),
                    Err(e) => warn!("event not parsed: {e}"),
                },
                _ => {}
            }
        }
    }

    /// The next message that is not a linger notice; `None` at a disconnect notice or the
    /// socket's end. A read or parse error ends the session too: the stream can no longer
    /// be trusted to be in step.
    async fn next_message(&mut self) -> EslResult<Option<EslMessage>> {
        let r = self
            .read_message()
            .await;
        if r.is_err() {
            self.closed = true;
        }
        r
    }

    /// Reads the socket only when no whole message is buffered.
    async fn read_message(&mut self) -> EslResult<Option<EslMessage>> {
        loop {
            if self.closed {
                return Ok(None);
            }
            if let Some(message) = self
                .parser
                .parse_message()?
            {
                match message.message_type {
                    MessageType::Disconnect => {
                        if is_linger_notice(&message) {
                            continue;
                        }
                        self.closed = true;
                        return Ok(None);
                    }
                    MessageType::RudeRejection => {
                        return Err(EslError::AccessDenied {
                            reason: message
                                .body
                                .unwrap_or_default(),
                        });
                    }
                    MessageType::AuthRequest => {
                        return Err(EslError::protocol_error(
                            "auth/request on an outbound connection",
                        ));
                    }
                    _ => return Ok(Some(message)),
                }
            }
            let n = self
                .stream
                .read_buf(
                    self.parser
                        .read_target(),
                )
                .await
                .map_err(EslError::Io)?;
            if n == 0 {
                self.closed = true;
                return Ok(None);
            }
            self.parser
                .check_size_limits()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::TcpListener;

    /// A switch's side of the socket: answers what the test scripts, reads the commands.
    async fn pair() -> (EslSession, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let addr = listener
            .local_addr()
            .unwrap();
        let switch = TcpStream::connect(addr)
            .await
            .unwrap();
        let (ours, _) = listener
            .accept()
            .await
            .unwrap();
        (EslSession::accept_outbound(ours), switch)
    }

    fn event(name: &str, extra: &str) -> String {
        let body = format!("Event-Name: {name}\nUnique-ID: u1\n{extra}\n");
        format!(
            "Content-Length: {}\nContent-Type: text/event-plain\n\n{body}",
            body.len()
        )
    }

    async fn read_commands(switch: &mut BufReader<TcpStream>, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        while out.len() < n {
            let mut line = String::new();
            switch
                .read_line(&mut line)
                .await
                .unwrap();
            if line == "\n" {
                out.push(std::mem::take(&mut cur));
            } else {
                cur.push_str(&line);
            }
        }
        out
    }

    #[tokio::test]
    async fn pipelined_replies_in_order_and_events_kept_for_recv() {
        let (mut s, switch) = pair().await;
        let mut switch = BufReader::new(switch);
        let server = tokio::spawn(async move {
            let cmds = read_commands(&mut switch, 2).await;
            // an event between the two replies, as FreeSWITCH interleaves them
            let wire = format!(
                "Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n{}Content-Type: command/reply\nReply-Text: +OK will linger 10 seconds\n\n",
                event("CHANNEL_EXECUTE_COMPLETE", "Application: answer")
            );
            switch
                .get_mut()
                .write_all(wire.as_bytes())
                .await
                .unwrap();
            (cmds, switch)
        });
        let replies = s
            .pipeline(&[
                EslCommand::MyEvents {
                    format: "plain".into(),
                    uuid: None,
                },
                EslCommand::Linger {
                    timeout: Some(Duration::from_secs(10)),
                },
            ])
            .await
            .unwrap();
        let (cmds, mut switch) = server
            .await
            .unwrap();
        assert_eq!(cmds, ["myevents plain\n", "linger 10\n"]);
        assert_eq!(replies.len(), 2);
        assert_eq!(replies[0].reply_text(), Some("+OK Events Enabled"));
        assert_eq!(replies[1].reply_text(), Some("+OK will linger 10 seconds"));
        let ev = s
            .recv()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ev.header_str("Application"), Some("answer"));

        // a linger notice is skipped; the disconnect notice ends the session
        let wire = format!(
            "{}Content-Type: text/disconnect-notice\nContent-Disposition: linger\nContent-Length: 0\n\nContent-Type: text/disconnect-notice\nContent-Disposition: disconnect\nContent-Length: 3\n\nbye",
            event("CHANNEL_HANGUP", "Hangup-Cause: NORMAL_CLEARING")
        );
        switch
            .get_mut()
            .write_all(wire.as_bytes())
            .await
            .unwrap();
        let ev = s
            .recv()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ev.header_str("Hangup-Cause"), Some("NORMAL_CLEARING"));
        assert!(s
            .recv()
            .await
            .is_none());
        assert!(matches!(
            s.command(EslCommand::Exit)
                .await,
            Err(EslError::ConnectionClosed)
        ));
    }

    #[tokio::test]
    async fn a_closed_socket_fails_the_waiting_command_and_ends_recv() {
        let (mut s, switch) = pair().await;
        drop(switch);
        assert!(s
            .command(EslCommand::Connect)
            .await
            .is_err());
        assert!(s
            .recv()
            .await
            .is_none());
    }

    #[tokio::test]
    async fn a_message_out_of_step_ends_the_session() {
        let (mut s, mut switch) = pair().await;
        // no Content-Type: the stream is out of step
        switch
            .write_all(b"Reply-Text: +OK\n\n")
            .await
            .unwrap();
        assert!(matches!(
            s.recv()
                .await,
            Some(Err(EslError::ProtocolError { .. }))
        ));
        assert!(s
            .recv()
            .await
            .is_none());
        assert!(matches!(
            s.command(EslCommand::Exit)
                .await,
            Err(EslError::ConnectionClosed)
        ));
    }

    #[tokio::test]
    async fn a_reply_that_never_comes_times_out() {
        let (mut s, _switch) = pair().await;
        s.set_reply_timeout(Duration::from_millis(50));
        assert!(matches!(
            s.command(EslCommand::Connect)
                .await,
            Err(EslError::Timeout { timeout_ms: 50 })
        ));
        // a late reply could no longer be told from the next command's
        assert!(matches!(
            s.command(EslCommand::Exit)
                .await,
            Err(EslError::ConnectionClosed)
        ));
    }
}
