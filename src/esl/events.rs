//! The event path: an [`EslEvent`] from the wire becomes a [`SwitchEvent`], or nothing.
//!
//! Kept allocation-light because every event FreeSWITCH sends passes through here
//! (`make bench` measures it against the parser alone).

use freeswitch_esl_tokio::{EslEvent, EslEventType};

use crate::core::channels::{ChannelInfo, ChannelTable, HangupInfo, SnapshotRow, SwitchEvent};

/// Where an event goes after the wire: to the job table, or to the channel table and on to
/// the records service.
#[derive(Debug)]
pub enum Routed {
    Ignored,
    /// A BACKGROUND_JOB: the link matches it to its bgapi.
    Job,
    Channel {
        event: SwitchEvent,
        changed: bool,
    },
    /// mod_freetdm's span alarm (a TRAP event): to the trunk-health service.
    SpanAlarm(crate::core::trunks::AlarmEvent),
}

/// Everything contactd does with an event on the link's own task; the rest happens after
/// the hand-off to the records service.
#[derive(Default)]
pub struct EventPath {
    pub table: ChannelTable,
}

impl EventPath {
    pub fn handle(&mut self, ev: &EslEvent) -> Routed {
        match to_switch_event(ev) {
            None => match crate::esl::span_alarm::parse(ev) {
                Some(a) => Routed::SpanAlarm(a),
                None => Routed::Ignored,
            },
            Some(SwitchEvent::BackgroundJob { .. }) => Routed::Job,
            Some(event) => {
                let changed = self.table.handle_event(&event);
                Routed::Channel { event, changed }
            }
        }
    }
}

fn h<'a>(ev: &'a EslEvent, name: &str) -> Option<&'a str> {
    ev.header_str(name)
}

fn owned(ev: &EslEvent, name: &str) -> String {
    h(ev, name).unwrap_or_default().to_string()
}

fn num(ev: &EslEvent, name: &str) -> Option<i64> {
    h(ev, name).and_then(|v| v.parse().ok()).filter(|v| *v != 0)
}

pub fn to_switch_event(ev: &EslEvent) -> Option<SwitchEvent> {
    let kind = ev.event_type()?;
    Some(match kind {
        EslEventType::ChannelCreate => SwitchEvent::Create(ChannelInfo {
            uuid: owned(ev, "Unique-ID"),
            name: owned(ev, "Channel-Name"),
            direction: owned(ev, "Call-Direction"),
            trunk: h(ev, "variable_contactd_trunk").map(str::to_string),
            answered: h(ev, "Answer-State") == Some("answered"),
        }),
        EslEventType::ChannelUuid => SwitchEvent::Rename {
            old: owned(ev, "Old-Unique-ID"),
            new: owned(ev, "Unique-ID"),
        },
        EslEventType::ChannelAnswer => SwitchEvent::Answer {
            uuid: owned(ev, "Unique-ID"),
            at_us: num(ev, "Caller-Channel-Answered-Time").unwrap_or_default(),
        },
        EslEventType::ChannelHangup | EslEventType::ChannelHangupComplete => {
            SwitchEvent::Hangup(HangupInfo {
                uuid: owned(ev, "Unique-ID"),
                cause: owned(ev, "Hangup-Cause"),
                q850: h(ev, "variable_hangup_cause_q850").and_then(|v| v.parse().ok()),
                answered_at_us: num(ev, "Caller-Channel-Answered-Time"),
                ended_at_us: num(ev, "Caller-Channel-Hangup-Time"),
                billsec: h(ev, "variable_billsec").and_then(|v| v.parse().ok()),
                complete: kind == EslEventType::ChannelHangupComplete,
                at_us: num(ev, "Event-Date-Timestamp").unwrap_or_default(),
                trunk: h(ev, "variable_contactd_trunk").map(str::to_string),
                budget: h(ev, "variable_contactd_budget").map(str::to_string),
            })
        }
        EslEventType::ChannelDestroy => SwitchEvent::Destroy {
            uuid: owned(ev, "Unique-ID"),
        },
        EslEventType::ChannelExecuteComplete => SwitchEvent::ExecuteComplete {
            uuid: owned(ev, "Unique-ID"),
            application: owned(ev, "Application"),
            response: owned(ev, "Application-Response"),
            application_uuid: h(ev, "Application-UUID").map(str::to_string),
            read_result: h(ev, "variable_read_result").map(str::to_string),
            digits: h(ev, "variable_contactd_digits").map(str::to_string),
            silence_timeout: h(ev, "variable_wait_for_silence_timeout").map(|v| v == "true"),
            listen_hits: h(ev, "variable_wait_for_silence_listenhits").and_then(|v| v.parse().ok()),
            at_us: num(ev, "Event-Date-Timestamp").unwrap_or_default(),
        },
        EslEventType::PlaybackStart => SwitchEvent::PlaybackStart {
            uuid: owned(ev, "Unique-ID"),
            at_us: num(ev, "Event-Date-Timestamp").unwrap_or_default(),
        },
        EslEventType::PlaybackStop => SwitchEvent::PlaybackStop {
            uuid: owned(ev, "Unique-ID"),
            at_us: num(ev, "Event-Date-Timestamp").unwrap_or_default(),
        },
        EslEventType::ChannelBridge | EslEventType::ChannelUnbridge => {
            let uuid = owned(ev, "Unique-ID");
            let a = h(ev, "Bridge-A-Unique-ID").unwrap_or_default();
            let b = h(ev, "Bridge-B-Unique-ID").unwrap_or_default();
            let other = if a == uuid { b } else { a }.to_string();
            let at_us = num(ev, "Event-Date-Timestamp").unwrap_or_default();
            if kind == EslEventType::ChannelBridge {
                SwitchEvent::Bridge { uuid, other, at_us }
            } else {
                SwitchEvent::Unbridge { uuid, other, at_us }
            }
        }
        EslEventType::ChannelPark => SwitchEvent::Park {
            uuid: owned(ev, "Unique-ID"),
        },
        EslEventType::BackgroundJob => SwitchEvent::BackgroundJob {
            job_uuid: owned(ev, "Job-UUID"),
            body: ev.body().unwrap_or_default().to_string(),
        },
        // mod_avmd fires its events with only Unique-ID of the channel's headers
        EslEventType::Custom if h(ev, "Event-Subclass") == Some("avmd::beep") => {
            SwitchEvent::Beep {
                uuid: owned(ev, "Unique-ID"),
                at_us: num(ev, "Event-Date-Timestamp").unwrap_or_default(),
                frequency_hz: h(ev, "Frequency")
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|f| f.round() as u32),
            }
        }
        EslEventType::ChannelProgressMedia => SwitchEvent::EarlyMedia {
            uuid: owned(ev, "Unique-ID"),
        },
        EslEventType::DetectedTone => SwitchEvent::Tone {
            uuid: owned(ev, "Unique-ID"),
            name: owned(ev, "Detected-Tone"),
            at_us: num(ev, "Event-Date-Timestamp").unwrap_or_default(),
        },
        EslEventType::Heartbeat => SwitchEvent::Heartbeat,
        EslEventType::Shutdown => SwitchEvent::Shutdown,
        _ => return None,
    })
}

/// Parses the body of `show channels as json`. The empty answer is `{"row_count": 0}`
/// with no `rows` key at all.
pub fn parse_show_channels(body: &str) -> Result<Vec<SnapshotRow>, String> {
    let v: serde_json::Value = serde_json::from_str(body.trim())
        .map_err(|e| format!("show channels as json: not JSON ({e})"))?;
    let count = v
        .get("row_count")
        .and_then(serde_json::Value::as_u64)
        .ok_or("show channels as json: no row_count")?;
    let rows = match v.get("rows") {
        None if count == 0 => return Ok(Vec::new()),
        None => {
            return Err(format!(
                "show channels as json: row_count {count} but no rows"
            ))
        }
        Some(r) => r
            .as_array()
            .ok_or("show channels as json: rows is not a list")?,
    };
    Ok(rows
        .iter()
        .filter_map(|r| {
            let s = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or_default();
            let uuid = s("uuid");
            (!uuid.is_empty()).then(|| SnapshotRow {
                uuid: uuid.to_string(),
                name: s("name").to_string(),
                direction: s("direction").to_string(),
                answered: s("callstate") == "ACTIVE" || s("callstate") == "HELD",
            })
        })
        .collect())
}

/// `Event-UUID-Name` of every application a call's own socket runs: the switch echoes it
/// as `Application-UUID-Name` in that application's EXECUTE / EXECUTE_COMPLETE (and in no
/// other event), so the control link's filter can refuse them.
pub const SOCKET_APP_NAME: &str = "contactd-socket";

/// The file parameter (`{contactd_link=socket}<file>`) on every source a call's own socket
/// plays: switch_ivr_play_file merges a file's parameters into its PLAYBACK_START / STOP.
pub const SOCKET_FILE_PARAM: (&str, &str) = ("contactd_link", "socket");

/// The control link's `filter`s: every subscribed event, except the applications and
/// playbacks of calls on contactd's outbound socket. Those reach contactd on the call's
/// socket; on the control link they were each parsed a second time for nothing (an IVR
/// call's prompts made most of its events there). A negative filter alone lets nothing
/// through (mod_event_socket sends an event only once a positive filter matched it), so
/// each subscribed event name gets a positive one.
pub fn control_filters() -> Vec<(&'static str, String)> {
    let mut f: Vec<(&'static str, String)> = SUBSCRIBED_EVENTS
        .split_whitespace()
        .filter(|w| !w.contains("::"))
        .map(|name| ("Event-Name", name.to_string()))
        .collect();
    f.push(("Application-UUID-Name", format!("-{SOCKET_APP_NAME}")));
    f.push((SOCKET_FILE_PARAM.0, format!("-{}", SOCKET_FILE_PARAM.1)));
    for app in DIALPLAN_ONLY_APPS {
        f.push(("Application", format!("-{app}")));
    }
    f
}

/// Applications only dialplans run (dialplans/ sets an inbound call's variables with a
/// `set` each, then hands it to the `socket`): no part of contactd waits for their
/// completion, and each would be a full channel dump on the control link (trace 27: four
/// `set`s and the `socket` per IVR call).
pub const DIALPLAN_ONLY_APPS: [&str; 3] = ["set", "export", "socket"];

/// Subscribed on every control connection: what the tracker, the job table and the call
/// records need, nothing more (FreeSWITCH drops listeners that read too slowly). The call
/// progress detectors' events last: every word after `CUSTOM` names a subclass. `TRAP`
/// carries mod_freetdm's span alarms (see `esl::span_alarm`).
pub const SUBSCRIBED_EVENTS: &str = "CHANNEL_CREATE CHANNEL_UUID CHANNEL_ANSWER CHANNEL_HANGUP \
CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY CHANNEL_EXECUTE_COMPLETE PLAYBACK_START PLAYBACK_STOP \
CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_PARK CHANNEL_PROGRESS_MEDIA BACKGROUND_JOB \
HEARTBEAT SHUTDOWN DETECTED_TONE TRAP CUSTOM avmd::beep";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_full_show_channels() {
        assert!(parse_show_channels("{\"row_count\": 0}\n")
            .unwrap()
            .is_empty());
        let rows = parse_show_channels(
            r#"{"row_count":1,"rows":[{"uuid":"u1","direction":"outbound","name":"loopback/530-a","callstate":"ACTIVE"}]}"#,
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        assert!(rows[0].answered);
        assert!(parse_show_channels("-ERR no reply").is_err());
        assert!(parse_show_channels(r#"{"row_count":2}"#).is_err());
    }

    /// The call progress detectors' events, with the headers their modules write.
    #[test]
    fn avmd_beep_and_spandsp_tone() {
        let mut beep = EslEvent::with_type(EslEventType::Custom);
        for (k, v) in [
            ("Event-Subclass", "avmd::beep"),
            ("Event-Date-Timestamp", "1764676800123456"),
            ("Unique-ID", "u1"),
            ("Call-command", "avmd"),
            ("Beep-Status", "DETECTED"),
            ("Frequency", "949.812345"),
            ("Frequency-variance", "0.000012"),
        ] {
            beep.set_header(k, v);
        }
        assert_eq!(
            to_switch_event(&beep),
            Some(SwitchEvent::Beep {
                uuid: "u1".into(),
                at_us: 1_764_676_800_123_456,
                frequency_hz: Some(950),
            })
        );
        // another module's CUSTOM event is not a beep
        beep.set_header("Event-Subclass", "avmd::start");
        assert_eq!(to_switch_event(&beep), None);
        let mut tone = EslEvent::with_type(EslEventType::DetectedTone);
        tone.set_header("Detected-Tone", "SIT");
        tone.set_header("Unique-ID", "u2");
        tone.set_header("Event-Date-Timestamp", "1764676801000000");
        assert_eq!(
            to_switch_event(&tone),
            Some(SwitchEvent::Tone {
                uuid: "u2".into(),
                name: "SIT".into(),
                at_us: 1_764_676_801_000_000,
            })
        );
    }
}
