//! Simulated FreeSWITCH events: an ordered header list (duplicates allowed, as in
//! CHANNEL_HANGUP_COMPLETE) plus an optional body, and their serialisation as
//! `text/event-plain` (URL-encoded values) and `text/event-json` (hand-written so
//! duplicate keys survive, like FreeSWITCH's cJSON output).

use super::wire::url_encode;

/// One event.
#[derive(Debug, Clone, Default)]
pub struct Event {
    /// Headers in wire order; the first is `Event-Name`.
    pub headers: Vec<(String, String)>,
    /// Body (BACKGROUND_JOB).
    pub body: Option<String>,
    /// Unique-ID of the channel the event belongs to (for `myevents` filtering).
    pub chan_uuid: Option<String>,
}

impl Event {
    /// Event name.
    pub fn name(&self) -> &str {
        self.get("Event-Name").unwrap_or("")
    }

    /// First header with that name.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    /// Append a header.
    pub fn add(&mut self, k: &str, v: impl Into<String>) {
        self.headers.push((k.to_string(), v.into()));
    }

    /// The event as `text/event-plain` framing (Content-Length first).
    pub fn to_plain(&self) -> Vec<u8> {
        let inner = self.plain_body();
        let mut out = format!(
            "Content-Length: {}\nContent-Type: text/event-plain\n\n",
            inner.len()
        );
        out.push_str(&inner);
        out.into_bytes()
    }

    /// The `Name: value` block (used by uuid_dump and the outbound connect reply).
    pub fn plain_headers(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.headers {
            s.push_str(k);
            s.push_str(": ");
            s.push_str(&url_encode(v));
            s.push('\n');
        }
        s
    }

    fn plain_body(&self) -> String {
        let mut s = self.plain_headers();
        if let Some(b) = &self.body {
            s.push_str(&format!("Content-Length: {}\n\n{}", b.len(), b));
        } else {
            s.push('\n');
        }
        s
    }

    /// JSON object text (duplicate keys kept, values plain strings).
    pub fn json_text(&self) -> String {
        let mut s = String::from("{");
        let mut first = true;
        let mut push = |s: &mut String, k: &str, v: &str| {
            if !first {
                s.push(',');
            }
            first = false;
            s.push_str(&serde_json::to_string(k).unwrap_or_default());
            s.push(':');
            s.push_str(&serde_json::to_string(v).unwrap_or_default());
        };
        for (k, v) in &self.headers {
            push(&mut s, k, v);
        }
        if let Some(b) = &self.body {
            push(&mut s, "Content-Length", &b.len().to_string());
            push(&mut s, "_body", b);
        }
        s.push('}');
        s
    }

    /// The event as `text/event-json` framing.
    pub fn to_json(&self) -> Vec<u8> {
        let inner = self.json_text();
        format!(
            "Content-Length: {}\nContent-Type: text/event-json\n\n{}",
            inner.len(),
            inner
        )
        .into_bytes()
    }
}

/// Event names understood by `event plain <list>` (anything else is ignored, as in FS).
pub const KNOWN_EVENTS: &[&str] = &[
    "CUSTOM",
    "CLONE",
    "CHANNEL_CREATE",
    "CHANNEL_DESTROY",
    "CHANNEL_STATE",
    "CHANNEL_CALLSTATE",
    "CHANNEL_ANSWER",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_OUTGOING",
    "CHANNEL_PARK",
    "CHANNEL_UNPARK",
    "CHANNEL_APPLICATION",
    "CHANNEL_ORIGINATE",
    "CHANNEL_UUID",
    "API",
    "LOG",
    "INBOUND_CHAN",
    "OUTBOUND_CHAN",
    "STARTUP",
    "SHUTDOWN",
    "PUBLISH",
    "UNPUBLISH",
    "TALK",
    "NOTALK",
    "SESSION_CRASH",
    "MODULE_LOAD",
    "MODULE_UNLOAD",
    "DTMF",
    "MESSAGE",
    "PRESENCE_IN",
    "NOTIFY_IN",
    "PRESENCE_OUT",
    "PRESENCE_PROBE",
    "MESSAGE_WAITING",
    "MESSAGE_QUERY",
    "ROSTER",
    "CODEC",
    "BACKGROUND_JOB",
    "DETECTED_SPEECH",
    "DETECTED_TONE",
    "PRIVATE_COMMAND",
    "HEARTBEAT",
    "TRAP",
    "ADD_SCHEDULE",
    "DEL_SCHEDULE",
    "EXE_SCHEDULE",
    "RE_SCHEDULE",
    "RELOADXML",
    "NOTIFY",
    "PHONE_FEATURE",
    "PHONE_FEATURE_SUBSCRIBE",
    "SEND_MESSAGE",
    "RECV_MESSAGE",
    "REQUEST_PARAMS",
    "CHANNEL_DATA",
    "GENERAL",
    "COMMAND",
    "SESSION_HEARTBEAT",
    "CLIENT_DISCONNECTED",
    "SERVER_DISCONNECTED",
    "SEND_INFO",
    "RECV_INFO",
    "RECV_RTCP_MESSAGE",
    "SEND_RTCP_MESSAGE",
    "CALL_SECURE",
    "NAT",
    "RECORD_START",
    "RECORD_STOP",
    "PLAYBACK_START",
    "PLAYBACK_STOP",
    "CALL_UPDATE",
    "FAILURE",
    "SOCKET_DATA",
    "MEDIA_BUG_START",
    "MEDIA_BUG_STOP",
    "CONFERENCE_DATA_QUERY",
    "CONFERENCE_DATA",
    "CALL_SETUP_REQ",
    "CALL_SETUP_RESULT",
    "CALL_DETAIL",
    "DEVICE_STATE",
    "TEXT",
    "SHUTDOWN_REQUESTED",
    "ALL",
];

/// Events `myevents` subscribes to (mod_event_socket's fixed list).
pub const MYEVENTS: &[&str] = &[
    "CHANNEL_CREATE",
    "CHANNEL_DESTROY",
    "CHANNEL_STATE",
    "CHANNEL_ANSWER",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_PARK",
    "CHANNEL_UNPARK",
    "DETECTED_SPEECH",
    "DTMF",
    "TALK",
    "NOTALK",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_json_with_body() {
        let mut e = Event::default();
        e.add("Event-Name", "BACKGROUND_JOB");
        e.add("Job-Command-Arg", "{a=b}x &park()");
        e.body = Some("+OK x\n".into());
        let p = String::from_utf8(e.to_plain()).unwrap();
        assert!(p.starts_with("Content-Length: "));
        assert!(
            p.ends_with("Job-Command-Arg: %7Ba%3Db%7Dx%20%26park()\nContent-Length: 6\n\n+OK x\n")
        );
        let j = e.json_text();
        assert!(j.ends_with("\"Content-Length\":\"6\",\"_body\":\"+OK x\\n\"}"));
    }
}
