//! `show channels|calls|bridged_calls [count] [as json]` and `uuid_dump`
//! output, with the exact shapes of trace 07 (empty JSON `{"row_count": 0}\n`,
//! non-empty JSON without trailing newline, CSV with a `N total.` footer).

use std::sync::Arc;

use super::channel::ChanState;
use super::core::{lock, Core};
use super::session::{Sess, Vars};

const CH_COLS: &[&str] = &[
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "application",
    "application_data",
    "dialplan",
    "context",
    "read_codec",
    "read_rate",
    "read_bit_rate",
    "write_codec",
    "write_rate",
    "write_bit_rate",
    "secure",
    "hostname",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
    "call_uuid",
    "sent_callee_name",
    "sent_callee_num",
    "initial_cid_name",
    "initial_cid_num",
    "initial_ip_addr",
    "initial_dest",
    "initial_dialplan",
    "initial_context",
];

const CALL_COLS: &[&str] = &[
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
    "call_uuid",
    "hostname",
    "sent_callee_name",
    "sent_callee_num",
];

fn row(core: &Core, s: &ChanState) -> Vec<(String, String)> {
    let created = chrono::DateTime::from_timestamp_micros(s.caller.created_us)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default();
    let outbound = s.direction == "outbound";
    let v = |k: &str| -> String {
        match k {
            "uuid" => s.uuid.clone(),
            "direction" => s.direction.into(),
            "created" => created.clone(),
            "created_epoch" => (s.caller.created_us / 1_000_000).to_string(),
            "name" => s.name.clone(),
            "state" => s.running.name().into(),
            "cid_name" => s.caller.cid_name.clone(),
            "cid_num" => s.caller.cid_num.clone(),
            "dest" => s.caller.dest.clone(),
            "application" => s.var("current_application").unwrap_or("").into(),
            "application_data" => s.var("current_application_data").unwrap_or("").into(),
            "dialplan" | "initial_dialplan" => s.caller.dialplan.clone(),
            "context" | "initial_context" => s.caller.context.clone(),
            "read_codec" | "write_codec" => s.codec_name.clone(),
            "read_rate" | "write_rate" => "8000".into(),
            "read_bit_rate" | "write_bit_rate" => "128000".into(),
            "hostname" => core.cfg.hostname.clone(),
            "callstate" => s.callstate.into(),
            "callee_name" => s.caller.callee_name.clone(),
            "callee_num" => s.caller.callee_num.clone(),
            "callee_direction" if outbound && s.var("channel_cid_flipped").is_some() => {
                "RECV".into()
            }
            "call_uuid" if outbound => s.uuid.clone(),
            "initial_cid_name" => s.caller.orig_cid_name.clone(),
            "initial_cid_num" => s.caller.orig_cid_num.clone(),
            "initial_dest" => s.caller.dest.clone(),
            _ => String::new(),
        }
    };
    CH_COLS.iter().map(|k| (k.to_string(), v(k))).collect()
}

fn json_rows(rows: &[Vec<(String, String)>]) -> String {
    if rows.is_empty() {
        return "{\"row_count\": 0}\n".into();
    }
    let objs: Vec<String> = rows
        .iter()
        .map(|r| {
            let f: Vec<String> = r
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}:{}",
                        serde_json::to_string(k).unwrap_or_default(),
                        serde_json::to_string(v).unwrap_or_default()
                    )
                })
                .collect();
            format!("{{{}}}", f.join(","))
        })
        .collect();
    format!(
        "{{\"row_count\":{},\"rows\":[{}]}}",
        rows.len(),
        objs.join(",")
    )
}

fn csv(rows: &[Vec<(String, String)>]) -> String {
    if rows.is_empty() {
        return "\n0 total.\n".into();
    }
    let mut s = rows[0]
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    for r in rows {
        s.push_str(
            &r.iter()
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
        s.push('\n');
    }
    s.push_str(&format!("\n{} total.\n", rows.len()));
    s
}

/// `show ...`
pub fn show(core: &Arc<Core>, args: &str) -> String {
    let a: Vec<&str> = args.split_whitespace().collect();
    let what = a.first().copied().unwrap_or("");
    let json = a.len() >= 3 && a[a.len() - 2] == "as" && a[a.len() - 1] == "json";
    let count = a.get(1) == Some(&"count");
    let states: Vec<ChanState> = core.chans().iter().map(|c| lock(&c.st).clone()).collect();
    let rows: Vec<Vec<(String, String)>> = match what {
        "channels" => states.iter().map(|s| row(core, s)).collect(),
        "calls" | "bridged_calls" => {
            let mut out = Vec::new();
            let mut skip = std::collections::HashSet::new();
            for s in &states {
                if skip.contains(&s.uuid) {
                    continue;
                }
                let full = row(core, s);
                let mut r: Vec<(String, String)> = CALL_COLS
                    .iter()
                    .map(|k| {
                        let v = full
                            .iter()
                            .find(|(n, _)| n == k)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default();
                        (k.to_string(), v)
                    })
                    .collect();
                let other = s
                    .bridge_peer
                    .as_ref()
                    .and_then(|o| states.iter().find(|x| &x.uuid == o));
                if what == "bridged_calls" && other.is_none() {
                    continue;
                }
                for k in CALL_COLS
                    .iter()
                    .filter(|k| !matches!(**k, "call_uuid" | "hostname"))
                {
                    let v = other
                        .map(|o| {
                            row(core, o)
                                .into_iter()
                                .find(|(n, _)| n == k)
                                .map(|(_, v)| v)
                                .unwrap_or_default()
                        })
                        .unwrap_or_default();
                    r.push((format!("b_{k}"), v));
                }
                if let Some(o) = other {
                    skip.insert(o.uuid.clone());
                }
                r.push((
                    "call_created_epoch".into(),
                    (s.caller.created_us / 1_000_000).to_string(),
                ));
                out.push(r);
            }
            out
        }
        _ => return "-USAGE: show <channels|calls|bridged_calls> [count] [as json]\n".into(),
    };
    if count {
        return format!("\n{} total.\n", rows.len());
    }
    if json {
        json_rows(&rows)
    } else {
        csv(&rows)
    }
}

/// `uuid_dump <uuid> [json]`
pub fn uuid_dump(core: &Arc<Core>, args: &str) -> String {
    let a: Vec<&str> = args.split_whitespace().collect();
    let Some(ch) = a.first().and_then(|u| core.chan(u)) else {
        return "-ERR No such channel!\n".into();
    };
    let s = Sess::new(core.clone(), ch);
    let ev = s.event(
        "CHANNEL_DATA",
        ("mod_commands.c", "uuid_dump_function", 6468),
        Vars::Yes,
        &[],
        &[],
    );
    let mut ev = ev;
    let seq = {
        let mut st = lock(&core.st);
        st.seq += 1;
        st.seq
    };
    if let Some(h) = ev.headers.iter_mut().find(|(k, _)| k == "Event-Sequence") {
        h.1 = seq.to_string();
    }
    if a.get(1) == Some(&"json") {
        ev.json_text()
    } else {
        format!("{}\n", ev.plain_headers())
    }
}
