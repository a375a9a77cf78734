//! ESL wire framing for the simulator (server side): reading client commands,
//! URL encoding as FreeSWITCH's `switch_url_encode` does, and building the exact
//! reply / api-response / disconnect-notice byte strings seen in the traces.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The text of the "Disconnected, goodbye." notice body (67 bytes).
pub const GOODBYE: &str = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n";
/// Body of the shutdown notice.
pub const SHUTDOWN_TEXT: &str = "The system is being shut down.\n";
/// Largest command header block accepted from a client.
const MAX_CMD: usize = 1 << 20;

/// A command received from an ESL client: first line, and extra header lines.
#[derive(Debug, Clone, Default)]
pub struct ClientCmd {
    /// First line, e.g. `api status`.
    pub line: String,
    /// Following `Name: value` lines (sendmsg / bgapi), in order.
    pub headers: Vec<(String, String)>,
    /// Body if the client sent a `Content-Length` header.
    pub body: Option<String>,
}

impl ClientCmd {
    /// Case-insensitive header lookup.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Incremental reader of client commands ("lines ending with an empty line").
pub struct CmdReader<R> {
    rd: R,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> CmdReader<R> {
    /// Wrap a reader.
    pub fn new(rd: R) -> Self {
        CmdReader {
            rd,
            buf: Vec::new(),
        }
    }

    /// Next command, `None` on EOF or error or oversize input.
    pub async fn next(&mut self) -> Option<ClientCmd> {
        loop {
            if let Some(cmd) = self.try_parse()? {
                return Some(cmd);
            }
            if self.buf.len() > MAX_CMD {
                return None;
            }
            let mut tmp = [0u8; 8192];
            match self.rd.read(&mut tmp).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
            }
        }
    }

    /// `Some(None)` = need more bytes.
    fn try_parse(&mut self) -> Option<Option<ClientCmd>> {
        // skip leading blank lines like mod_event_socket does
        while self.buf.first() == Some(&b'\n') || self.buf.first() == Some(&b'\r') {
            self.buf.remove(0);
        }
        let end = find_blank_line(&self.buf);
        let Some((hdr_end, body_start)) = end else {
            return Some(None);
        };
        let head = String::from_utf8_lossy(&self.buf[..hdr_end]).replace('\r', "");
        let mut lines = head.split('\n');
        let line = lines.next().unwrap_or("").trim().to_string();
        let mut headers = Vec::new();
        for l in lines {
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_string(), v.trim_start().to_string()));
            }
        }
        let clen = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok());
        let mut consumed = body_start;
        let mut body = None;
        if let Some(n) = clen {
            if n > MAX_CMD {
                return None;
            }
            if self.buf.len() < body_start + n {
                return Some(None);
            }
            body = Some(String::from_utf8_lossy(&self.buf[body_start..body_start + n]).to_string());
            consumed = body_start + n;
        }
        self.buf.drain(..consumed);
        Some(Some(ClientCmd {
            line,
            headers,
            body,
        }))
    }
}

fn find_blank_line(b: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\n' {
            if i + 1 < b.len() && b[i + 1] == b'\n' {
                return Some((i, i + 2));
            }
            if i + 2 < b.len() && b[i + 1] == b'\r' && b[i + 2] == b'\n' {
                return Some((i, i + 3));
            }
        }
        i += 1;
    }
    None
}

/// URL-encode like `switch_url_encode` (keeps `, / . ! ( ) * - _ ~ '` and `$`).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        let unsafe_ch = !(0x20..0x7f).contains(&b)
            || matches!(
                b,
                b' ' | b'"'
                    | b'#'
                    | b'%'
                    | b'&'
                    | b'+'
                    | b':'
                    | b';'
                    | b'<'
                    | b'='
                    | b'>'
                    | b'?'
                    | b'@'
                    | b'['
                    | b'\\'
                    | b']'
                    | b'^'
                    | b'`'
                    | b'{'
                    | b'|'
                    | b'}'
            );
        if unsafe_ch {
            out.push_str(&format!("%{:02X}", b));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// `Content-Type: command/reply` with a Reply-Text and optional extra headers.
pub fn command_reply(text: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut s = format!("Content-Type: command/reply\nReply-Text: {text}\n");
    for (k, v) in extra {
        s.push_str(&format!("{k}: {v}\n"));
    }
    s.push('\n');
    s.into_bytes()
}

/// `Content-Type: api/response` (Content-Type first, then Content-Length).
pub fn api_response(body: &str) -> Vec<u8> {
    format!(
        "Content-Type: api/response\nContent-Length: {}\n\n{}",
        body.len(),
        body
    )
    .into_bytes()
}

/// Inbound "Disconnected, goodbye." notice.
pub fn disconnect_goodbye() -> Vec<u8> {
    format!(
        "Content-Type: text/disconnect-notice\nContent-Length: {}\n\n{}",
        GOODBYE.len(),
        GOODBYE
    )
    .into_bytes()
}

/// Outbound-socket disconnect notice (`Content-Disposition: disconnect`).
pub fn disconnect_outbound(uuid: &str) -> Vec<u8> {
    format!(
        "Content-Type: text/disconnect-notice\nControlled-Session-UUID: {uuid}\nContent-Disposition: disconnect\nContent-Length: {}\n\n{}",
        GOODBYE.len(),
        GOODBYE
    )
    .into_bytes()
}

/// Outbound-socket linger notice.
pub fn linger_notice(uuid: &str, chan_name: &str, linger: i64) -> Vec<u8> {
    format!(
        "Content-Type: text/disconnect-notice\nControlled-Session-UUID: {uuid}\nContent-Disposition: linger\nChannel-Name: {chan_name}\nLinger-Time: {linger}\nContent-Length: 0\n\n"
    )
    .into_bytes()
}

/// "The system is being shut down." notice.
pub fn shutdown_notice() -> Vec<u8> {
    format!(
        "Content-Type: text/disconnect-notice\nContent-Length: {}\n\n{}",
        SHUTDOWN_TEXT.len(),
        SHUTDOWN_TEXT
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_freeswitch() {
        assert_eq!(url_encode("fd00::2"), "fd00%3A%3A2");
        assert_eq!(url_encode("+OK\n"), "%2BOK%0A");
        assert_eq!(
            url_encode("Tue, 24 Nov 2026 19:37:46 GMT"),
            "Tue,%2024%20Nov%202026%2019%3A37%3A46%20GMT"
        );
        assert_eq!(url_encode("loopback/501-a"), "loopback/501-a");
        assert_eq!(url_encode("#"), "%23");
    }

    #[tokio::test]
    async fn parses_commands() {
        let data: &[u8] = b"auth ClueCon\n\nsendmsg x\ncall-command: execute\n\napi a\r\n\r\n";
        let mut r = CmdReader::new(data);
        assert_eq!(r.next().await.unwrap().line, "auth ClueCon");
        let c = r.next().await.unwrap();
        assert_eq!(c.line, "sendmsg x");
        assert_eq!(c.header("Call-Command"), Some("execute"));
        assert_eq!(r.next().await.unwrap().line, "api a");
        assert!(r.next().await.is_none());
    }
}
