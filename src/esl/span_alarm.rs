//! mod_freetdm's span alarms as they come over ESL, and `ftdm dump` for the resync.
//!
//! What the module really sends (mod_freetdm.c, `on_common_signal`): on
//! `FTDM_SIGEVENT_ALARM_TRAP` / `_CLEAR` it fires a **`TRAP`** event (not a CUSTOM subclass)
//! per channel, with the headers `condition: ftdm-alarm-trap` or `ftdm-alarm-clear`,
//! `span-name` (the span's name in freetdm.conf), `span-number`, `chan-number`, and an
//! `alarm` header for each alarm bit set (`red`, `yellow`, `rai`, `blue`, `ais`, `general`;
//! FreeSWITCH keeps one header per name, so an event usually carries the last of them, or an
//! `ARRAY::a|:b` when pushed). Other modules fire TRAP events too: only `ftdm-alarm-*`
//! conditions are ours.
//!
//! ESL has no replay, so after a reconnect the span's state is read again with
//! `ftdm dump <span>`: one block per channel with `span_id`, `chan_id` and
//! `physical_status: ok|alarmed` among its `key: value` lines.

use std::collections::BTreeSet;

use freeswitch_esl_tokio::{EslEvent, EslEventType};

use crate::core::trunks::AlarmEvent;

/// The alarm event in `ev`, if it is one of mod_freetdm's.
pub fn parse(ev: &EslEvent) -> Option<AlarmEvent> {
    if ev.event_type()? != EslEventType::Trap {
        return None;
    }
    let raised = match ev.header_str("condition")? {
        "ftdm-alarm-trap" => true,
        "ftdm-alarm-clear" => false,
        _ => return None,
    };
    let num = |k: &str| ev.header_str(k).and_then(|v| v.trim().parse::<u32>().ok());
    let alarms = ev
        .header_str("alarm")
        .map(|v| {
            v.strip_prefix("ARRAY::")
                .unwrap_or(v)
                .split("|:")
                .map(|a| a.trim().to_ascii_lowercase())
                .filter(|a| !a.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Some(AlarmEvent {
        span_name: ev.header_str("span-name").unwrap_or_default().to_string(),
        span_id: num("span-number")?,
        chan_id: num("chan-number")?,
        raised,
        alarms,
    })
}

/// `ftdm dump <span>`, or none when `span` could not be sent safely (it comes from the
/// config, checked there; checked again because it goes into a command).
pub fn dump_command(span: &str) -> Option<String> {
    let ok = !span.is_empty()
        && span.len() <= 64
        && span
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| format!("ftdm dump {span}"))
}

/// What `ftdm dump` says of a span: its number and the channels whose physical status is
/// not `ok`. None when the answer is not a dump (`-ERR`, an unknown span, no module).
pub fn parse_dump(body: &str) -> Option<(u32, BTreeSet<u32>)> {
    let mut span = None;
    let mut alarmed = BTreeSet::new();
    let mut chan: Option<u32> = None;
    let mut seen_channel = false;
    for line in body.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "span_id" => span = v.parse().ok().or(span),
            "chan_id" => {
                chan = v.parse().ok();
                seen_channel = true;
            }
            "physical_status" => {
                if let (Some(c), false) = (chan, v == "ok") {
                    alarmed.insert(c);
                }
            }
            _ => {}
        }
    }
    (seen_channel).then_some(())?;
    Some((span?, alarmed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trap(condition: &str, alarm: Option<&str>) -> EslEvent {
        let mut e = EslEvent::with_type(EslEventType::Trap);
        e.set_header("Event-Name", "TRAP");
        e.set_header("condition", condition);
        e.set_header("span-name", "wp1");
        e.set_header("span-number", "1");
        e.set_header("chan-number", "7");
        if let Some(a) = alarm {
            e.set_header("alarm", a);
        }
        e
    }

    #[test]
    fn trap_and_clear_as_mod_freetdm_fires_them() {
        let a = parse(&trap("ftdm-alarm-trap", Some("red"))).unwrap();
        assert_eq!(
            a,
            AlarmEvent {
                span_name: "wp1".into(),
                span_id: 1,
                chan_id: 7,
                raised: true,
                alarms: vec!["red".into()],
            }
        );
        let c = parse(&trap("ftdm-alarm-clear", None)).unwrap();
        assert!(!c.raised && c.alarms.is_empty());
        let pushed = parse(&trap("ftdm-alarm-trap", Some("ARRAY::red|:ais"))).unwrap();
        assert_eq!(pushed.alarms, ["red", "ais"]);
    }

    #[test]
    fn other_traps_and_events_are_not_alarms() {
        assert_eq!(parse(&trap("network-external-address-change", None)), None);
        let mut e = trap("ftdm-alarm-trap", None);
        e.set_header("span-number", "");
        assert_eq!(parse(&e), None);
        let mut custom = EslEvent::with_type(EslEventType::Custom);
        custom.set_header("condition", "ftdm-alarm-trap");
        assert_eq!(parse(&custom), None);
    }

    #[test]
    fn ftdm_dump_gives_the_alarmed_channels() {
        let body = "span_id: 2\nchan_id: 1\nphysical_span_id: 2\nphysical_chan_id: 1\n\
physical_status: alarmed\nphysical_status_red: 1\nsignaling_status: DOWN\nstate: DOWN\n\n\
span_id: 2\nchan_id: 2\nphysical_status: ok\nphysical_status_red: 0\n\n";
        assert_eq!(parse_dump(body), Some((2, [1].into())));
        assert_eq!(parse_dump("-ERR invalid span\n"), None);
        assert_eq!(dump_command("1").as_deref(), Some("ftdm dump 1"));
        assert_eq!(dump_command("1\nexit"), None);
    }
}
