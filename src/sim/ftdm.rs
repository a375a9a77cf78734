//! FreeTDM span alarms as mod_freetdm shows them: `TRAP` events (one per channel of the
//! span, `condition: ftdm-alarm-trap|ftdm-alarm-clear`, `span-name`, `span-number`,
//! `chan-number`, `alarm: red`), the `ftdm dump <span>` api text, and no channel to hunt
//! on a span in alarm (the originate fails `NORMAL_CIRCUIT_CONGESTION`, what mod_freetdm
//! gives when `ftdm_call_place` finds no channel: FTDM_EBUSY/FTDM_BREAK). Written from
//! mod_freetdm.c's `on_common_signal` and `dump_chan`; shares nothing with contactd.

use std::sync::Arc;

use super::config::TrunkKind;
use super::core::{lock, Core};

/// The span number and name of FreeTDM trunk `name`: its number is the name itself when
/// numeric (`freetdm/1/...`), else its place among the FreeTDM trunks; its name is `spanN`
/// for a numeric name (freetdm.conf's default naming), else the name.
fn span_of(core: &Core, name: &str) -> Option<(u32, String)> {
    let spans: Vec<&str> = core
        .cfg
        .trunks
        .iter()
        .filter(|t| t.kind == TrunkKind::Freetdm)
        .map(|t| t.name.as_str())
        .collect();
    let pos = spans.iter().position(|s| *s == name)?;
    Some(match name.parse::<u32>() {
        Ok(n) => (n, format!("span{n}")),
        Err(_) => (pos as u32 + 1, name.to_string()),
    })
}

/// Finds a FreeTDM trunk by span number or name.
fn trunk_of(core: &Core, span: &str) -> Option<String> {
    core.cfg
        .trunks
        .iter()
        .filter(|t| t.kind == TrunkKind::Freetdm)
        .map(|t| t.name.clone())
        .find(|n| {
            n == span
                || span_of(core, n).is_some_and(|(id, nm)| id.to_string() == span || nm == span)
        })
}

/// Raises (or clears) the alarm of span `span`: every channel fires its TRAP event, and
/// while raised no call is placed on it. False when there is no such FreeTDM span.
pub fn span_alarm(core: &Arc<Core>, span: &str, raised: bool) -> bool {
    let Some(trunk) = trunk_of(core, span) else {
        return false;
    };
    let Some((id, name)) = span_of(core, &trunk) else {
        return false;
    };
    let channels = {
        let mut st = lock(&core.st);
        let Some(tu) = st.trunks.get_mut(&trunk) else {
            return false;
        };
        if tu.alarm == raised {
            return true;
        }
        tu.alarm = raised;
        tu.limit
    };
    for chan in 1..=channels {
        let mut ev = core.new_event("TRAP", "mod_freetdm.c", "on_common_signal", 2543);
        ev.add(
            "condition",
            if raised {
                "ftdm-alarm-trap"
            } else {
                "ftdm-alarm-clear"
            },
        );
        ev.add("span-name", &name);
        ev.add("span-number", id.to_string());
        ev.add("chan-number", chan.to_string());
        if raised {
            ev.add("alarm", "red");
        }
        core.fire(ev);
    }
    true
}

/// The `ftdm` api: `dump <span> [<chan>]` (the text of mod_freetdm's `dump_chan`) and
/// `list`; anything else gets the usage line.
pub fn api(core: &Core, arg: &str) -> String {
    if !core.cfg.trunks.iter().any(|t| t.kind == TrunkKind::Freetdm) {
        return "-ERR ftdm Command not found!\n".into();
    }
    let a: Vec<&str> = arg.split_whitespace().collect();
    match a.as_slice() {
        ["dump", span, rest @ ..] => {
            let Some(trunk) = trunk_of(core, span) else {
                return "-ERR invalid span\n".into();
            };
            let (id, _) = span_of(core, &trunk).unwrap_or((0, String::new()));
            let st = lock(&core.st);
            let Some(tu) = st.trunks.get(&trunk) else {
                return "-ERR invalid span\n".into();
            };
            let only: Option<u32> = rest.first().and_then(|c| c.parse().ok());
            let mut out = String::new();
            for chan in (1..=tu.limit).filter(|c| only.is_none_or(|o| o == *c)) {
                let busy = tu.busy.contains(&chan);
                out.push_str(&format!(
                    "span_id: {id}\nchan_id: {chan}\nphysical_span_id: {id}\nphysical_chan_id: {chan}\n\
physical_status: {}\nphysical_status_red: {}\nphysical_status_yellow: 0\nphysical_status_rai: 0\n\
physical_status_blue: 0\nphysical_status_ais: 0\nphysical_status_general: 0\n\
signaling_status: {}\ntype: B\nstate: {}\nlast_state: DOWN\ntxgain: 0.00\nrxgain: 0.00\n\
cid_date: \ncid_name: \ncid_num: \nani: \naniII: \ndnis: \nrdnis: \ncause: NONE\nsession: (none)\n\n",
                    if tu.alarm { "alarmed" } else { "ok" },
                    u8::from(tu.alarm),
                    if tu.alarm { "DOWN" } else { "UP" },
                    if busy { "UP" } else { "DOWN" },
                ));
            }
            out
        }
        ["list", ..] => {
            let mut out = String::new();
            for t in core
                .cfg
                .trunks
                .iter()
                .filter(|t| t.kind == TrunkKind::Freetdm)
            {
                let (id, name) = span_of(core, &t.name).unwrap_or((0, String::new()));
                let alarm = lock(&core.st).trunks.get(&t.name).is_some_and(|u| u.alarm);
                out.push_str(&format!(
                    "+OK\nspan: {id} ({name})\ntype: isdn\nphysical_status: {}\nsignaling_status: {}\nchan_count: {}\n\n",
                    if alarm { "alarmed" } else { "ok" },
                    if alarm { "DOWN" } else { "UP" },
                    t.channels
                ));
            }
            out
        }
        _ => "-ERR Usage: ftdm list|dump <span_id> [<chan_id>]\n".into(),
    }
}
