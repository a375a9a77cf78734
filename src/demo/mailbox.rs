//! A minimal SMTP receiver for `contactd demo` only, so the demo can show the report arrive
//! without a mail server on the machine. It accepts everything and keeps each message in
//! memory; the tests use a real SMTP server (aiosmtpd) instead.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone, Default)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Clone, Default)]
pub struct Mailbox {
    pub messages: Arc<Mutex<Vec<Received>>>,
}

impl Mailbox {
    /// Listens on 127.0.0.1 (a free port); returns the port.
    pub async fn start(&self) -> std::io::Result<u16> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let messages = self.messages.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let messages = messages.clone();
                tokio::spawn(async move {
                    let _ = session(stream, messages).await;
                });
            }
        });
        Ok(port)
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    messages: Arc<Mutex<Vec<Received>>>,
) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    w.write_all(b"220 demo mailbox\r\n").await?;
    let mut msg = Received::default();
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            w.write_all(b"250 demo\r\n").await?;
        } else if let Some(a) = upper.strip_prefix("MAIL FROM:") {
            msg.from = a.trim().trim_matches(['<', '>']).to_ascii_lowercase();
            w.write_all(b"250 ok\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            msg.to
                .push(line[8..].trim().trim_matches(['<', '>']).to_string());
            w.write_all(b"250 ok\r\n").await?;
        } else if upper == "DATA" {
            w.write_all(b"354 go ahead\r\n").await?;
            while let Some(l) = lines.next_line().await? {
                if l == "." {
                    break;
                }
                msg.data.push_str(&l);
                msg.data.push('\n');
            }
            messages
                .lock()
                .expect("mailbox lock")
                .push(std::mem::take(&mut msg));
            w.write_all(b"250 queued\r\n").await?;
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            w.write_all(b"250 ok\r\n").await?;
        }
    }
    Ok(())
}
