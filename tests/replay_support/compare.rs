//! Comparing what the simulator sent with a trace: replies and api bodies in order after
//! normalising host and timing values, events per leg with the tolerances listed in
//! `trace_replay.rs` (where real FreeSWITCH itself varies).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{get, Parsed};

const VALUE_HEADERS: &[&str] = &[
    "Event-Name",
    "Answer-State",
    "Call-Direction",
    "Hangup-Cause",
    "variable_hangup_cause",
    "variable_hangup_cause_q850",
    "Application",
    "Application-Response",
    "DTMF-Digit",
    "DTMF-Duration",
    "Content-Type",
    "variable_read_result",
    "variable_ivr_digits",
    "variable_contactd_digits",
    "Playback-File-Path",
    "Event-Subclass",
    "File",
    "variable_read_terminator_used",
    "variable_loopback_leg",
    "API-Command",
    "Job-Command",
];

const TOLERATED_NAMES: &[&str] = &[
    "Event-Calling-File",
    "Event-Calling-Function",
    "Event-Calling-Line-Number",
];

fn normalise(s: &str) -> String {
    // compiled once: the comparison runs while other traces are still being replayed
    static RES: std::sync::OnceLock<(regex::Regex, regex::Regex)> = std::sync::OnceLock::new();
    let (re_uuid, re_num) = RES.get_or_init(|| {
        (
            regex::Regex::new(
                r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            )
            .unwrap(),
            regex::Regex::new(r"\d+").unwrap(),
        )
    });
    let s = re_uuid.replace_all(s, "<uuid>");
    let s = s
        .replace("192.0.2.2", "IP")
        .replace("127.0.0.1", "IP")
        .replace("fd00::2", "IP6")
        .replace("::1", "IP6");
    re_num.replace_all(&s, "N").to_string()
}

/// Compare the non-event messages (replies, api bodies, notices).
pub fn compare_replies(file: &str, want: &[Parsed], got: &[Parsed], errs: &mut Vec<String>) {
    let w: Vec<&Parsed> = want
        .iter()
        .filter(|p| p.event.is_none() || get(&p.outer, "Content-Type") == Some("command/reply"))
        .collect();
    let g: Vec<&Parsed> = got
        .iter()
        .filter(|p| p.event.is_none() || get(&p.outer, "Content-Type") == Some("command/reply"))
        .collect();
    for i in 0..w.len().max(g.len()) {
        let (Some(a), Some(b)) = (w.get(i), g.get(i)) else {
            errs.push(format!(
                "{file}: reply #{i}: trace has {:?}, sim has {:?}",
                w.get(i).map(|p| &p.outer),
                g.get(i).map(|p| &p.outer)
            ));
            break;
        };
        let na: Vec<String> = a
            .outer
            .iter()
            .map(|(k, v)| format!("{k}: {}", normalise(v)))
            .collect();
        let nb: Vec<String> = b
            .outer
            .iter()
            .map(|(k, v)| format!("{k}: {}", normalise(v)))
            .collect();
        if na != nb {
            errs.push(format!(
                "{file}: reply #{i} headers differ:\n  trace: {na:?}\n  sim:   {nb:?}"
            ));
        }
        let api_status = a.body.starts_with("UP ");
        let json = a.body.starts_with("{\"row_count\"") || a.body.starts_with("{\"Event-Name\"");
        let (ba, bb) = if api_status {
            (
                a.body.lines().count().to_string(),
                b.body.lines().count().to_string(),
            )
        } else if json {
            (json_shape(&a.body), json_shape(&b.body))
        } else if a.body.starts_with("Event-Name: CHANNEL_DATA") {
            (first_line(&a.body), first_line(&b.body))
        } else if a.body.starts_with("uuid,") {
            (
                first_line(&a.body) + &a.body.lines().count().to_string(),
                first_line(&b.body) + &b.body.lines().count().to_string(),
            )
        } else {
            (normalise(&a.body), normalise(&b.body))
        };
        if ba != bb {
            if std::env::var("TRACE_DEBUG").is_ok() {
                eprintln!("{file}: reply #{i} sim body: {}", b.body);
            }
            errs.push(format!(
                "{file}: reply #{i} body differs:\n  trace: {ba:?}\n  sim:   {bb:?}"
            ));
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

fn json_shape(s: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(s).unwrap_or_default();
    let rows = v["rows"].as_array().map(|r| r.len()).unwrap_or(0);
    let keys: Vec<String> = v["rows"]
        .as_array()
        .and_then(|r| r.first())
        .and_then(|r| r.as_object())
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    format!(
        "count={} rows={rows} keys={keys:?} ends_nl={} event={}",
        v["row_count"],
        s.ends_with('\n'),
        v["Event-Name"]
    )
}

/// Events grouped per leg label.
fn legs(events: &[Vec<(String, String)>]) -> BTreeMap<String, Vec<Vec<(String, String)>>> {
    let mut out: BTreeMap<String, Vec<Vec<(String, String)>>> = BTreeMap::new();
    let refs: Vec<&[(String, String)]> = events.iter().map(|e| e.as_slice()).collect();
    for (e, label) in events.iter().zip(leg_labels(&refs)) {
        out.entry(label).or_default().push(e.clone());
    }
    out
}

/// The leg label of each event (`<Channel-Name>#<n>`, or `(global)`).
pub fn leg_labels(events: &[&[(String, String)]]) -> Vec<String> {
    let mut alias: HashMap<&str, &str> = HashMap::new();
    let mut label_of: HashMap<&str, String> = HashMap::new();
    let mut count: HashMap<&str, usize> = HashMap::new();
    // resolve renames first
    for e in events {
        if get(e, "Event-Name") == Some("CHANNEL_UUID") {
            if let (Some(o), Some(n)) = (get(e, "Old-Unique-ID"), get(e, "Unique-ID")) {
                alias.insert(o, n);
            }
        }
    }
    let mut final_name: HashMap<&str, &str> = HashMap::new();
    for e in events {
        if let (Some(u), Some(n)) = (get(e, "Unique-ID"), get(e, "Channel-Name")) {
            let u = alias.get(u).copied().unwrap_or(u);
            if get(e, "Event-Name") != Some("CODEC") {
                final_name.entry(u).or_insert(n);
            }
        }
    }
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let label = match get(e, "Unique-ID") {
            Some(u)
                if get(e, "Event-Name") != Some("API")
                    && get(e, "Event-Name") != Some("BACKGROUND_JOB") =>
            {
                let u = alias.get(u).copied().unwrap_or(u);
                label_of
                    .entry(u)
                    .or_insert_with(|| {
                        let n = final_name.get(u).copied().unwrap_or_default();
                        let c = count.entry(n).or_insert(0);
                        *c += 1;
                        format!("{n}#{c}")
                    })
                    .clone()
            }
            _ => "(global)".to_string(),
        };
        out.push(label);
    }
    out
}

fn canonical(v: &mut Vec<Vec<(String, String)>>) {
    for i in 0..v.len().saturating_sub(1) {
        if get(&v[i], "Event-Name") == Some("PLAYBACK_STOP")
            && get(&v[i + 1], "Event-Name") == Some("CHANNEL_HANGUP")
        {
            v.swap(i, i + 1);
        }
    }
    loopback_ran_on(v);
}

/// Tolerance: when one leg of a loopback pair hangs up, the other leg's media link is cut at
/// once (its running application returns) and it is hung up by the first leg's CS_HANGUP
/// handler, on another thread. Either thread may win (03-originate-answer-listened: the
/// B-leg went on to its next application, `hangup`, whose completion came before the
/// CHANNEL_HANGUP fired for it; 25/26: CHANNEL_HANGUP first, then the interrupted `sleep`
/// completes). A leg's own `hangup` application always fires CHANNEL_HANGUP before its
/// completion, so `ECOMP(x), [EXECUTE(hangup)], ECOMP(hangup), CHANNEL_HANGUP` is the first
/// outcome and is put in the form of the second: `CHANNEL_HANGUP, ECOMP(x)`.
fn loopback_ran_on(v: &mut Vec<Vec<(String, String)>>) {
    let Some(h) = v
        .iter()
        .position(|e| get(e, "Event-Name") == Some("CHANNEL_HANGUP"))
    else {
        return;
    };
    let app = |e: &Vec<(String, String)>, name: &str, a: &str| {
        get(e, "Event-Name") == Some(name) && get(e, "Application") == Some(a)
    };
    if h < 2 || !app(&v[h - 1], "CHANNEL_EXECUTE_COMPLETE", "hangup") {
        return;
    }
    let mut i = h - 1;
    if app(&v[i - 1], "CHANNEL_EXECUTE", "hangup") {
        i -= 1;
    }
    if i == 0 || get(&v[i - 1], "Event-Name") != Some("CHANNEL_EXECUTE_COMPLETE") {
        return;
    }
    let hangup = v[h].clone();
    v.drain(i..=h);
    // the interrupted application then completes on a channel already hung up
    let done = &mut v[i - 1];
    done.retain(|(k, _)| k != "Answer-State" && k != "Hangup-Cause");
    done.push(("Answer-State".into(), "hangup".into()));
    if let Some(c) = get(&hangup, "Hangup-Cause") {
        done.push(("Hangup-Cause".into(), c.to_string()));
    }
    v.insert(i - 1, hangup);
}

fn ev_key(e: &[(String, String)]) -> String {
    let n = get(e, "Event-Name").unwrap_or("");
    match n {
        "CHANNEL_EXECUTE" | "CHANNEL_EXECUTE_COMPLETE" => {
            format!("{n}({})", get(e, "Application").unwrap_or(""))
        }
        "API" => format!("API({})", get(e, "API-Command").unwrap_or("")),
        "BACKGROUND_JOB" => "BACKGROUND_JOB".into(),
        _ => n.to_string(),
    }
}

pub fn compare_events(
    file: &str,
    want: &[Parsed],
    got: &[Parsed],
    client_api: &[String],
    errs: &mut Vec<String>,
) {
    // tolerance: API events of commands the client never sent (FreeSWITCH runs
    // some api commands internally, e.g. `show channels count`) are ignored
    let foreign_api = |e: &Vec<(String, String)>| {
        get(e, "Event-Name") == Some("API")
            && !client_api.iter().any(|c| {
                c.starts_with(
                    &format!(
                        "{} {}",
                        get(e, "API-Command").unwrap_or(""),
                        get(e, "API-Command-Argument").unwrap_or("")
                    )
                    .trim_end()
                    .to_string(),
                )
            })
    };
    let we: Vec<_> = want
        .iter()
        .filter(|p| {
            get(&p.outer, "Content-Type")
                .map(|c| c.starts_with("text/event"))
                .unwrap_or(false)
        })
        .filter_map(|p| p.event.clone())
        .filter(|e| !foreign_api(e))
        .collect();
    let ge: Vec<_> = got
        .iter()
        .filter(|p| {
            get(&p.outer, "Content-Type")
                .map(|c| c.starts_with("text/event"))
                .unwrap_or(false)
        })
        .filter_map(|p| p.event.clone())
        .filter(|e| !foreign_api(e))
        .collect();
    let wl = legs(&we);
    let gl = legs(&ge);
    let wk: BTreeSet<_> = wl.keys().cloned().collect();
    let gk: BTreeSet<_> = gl.keys().cloned().collect();
    if wk != gk {
        errs.push(format!("{file}: legs differ: trace {wk:?} sim {gk:?}"));
    }
    let outbound = file.contains("outbound");
    for (leg, wev) in &wl {
        let Some(gev) = gl.get(leg) else { continue };
        let filt = |v: &Vec<Vec<(String, String)>>| -> Vec<Vec<(String, String)>> {
            v.iter()
                .filter(|e| {
                    !matches!(
                        get(e, "Event-Name"),
                        Some("CHANNEL_STATE" | "CHANNEL_CALLSTATE")
                    )
                })
                .filter(|e| !(outbound && get(e, "Event-Name") == Some("CHANNEL_PARK")))
                .cloned()
                .collect()
        };
        let states = |v: &Vec<Vec<(String, String)>>| -> BTreeSet<String> {
            v.iter()
                .filter(|e| {
                    matches!(
                        get(e, "Event-Name"),
                        Some("CHANNEL_STATE" | "CHANNEL_CALLSTATE")
                    )
                })
                .map(|e| {
                    let (n, cs, call) = (
                        get(e, "Event-Name").unwrap_or(""),
                        get(e, "Channel-State").unwrap_or(""),
                        get(e, "Channel-Call-State").unwrap_or(""),
                    );
                    // tolerance: whether an originated (outbound) leg is answered
                    // before or after its own state machine has gone CS_INIT ->
                    // CS_ROUTING -> CS_CONSUME_MEDIA is a thread race in
                    // FreeSWITCH (answered in CS_CONSUME_MEDIA in 03-answer-listened
                    // and 03-callee-plays, in CS_INIT in 03-answer-callee-hangup)
                    let pre = matches!(cs, "CS_INIT" | "CS_ROUTING" | "CS_CONSUME_MEDIA");
                    let racy = pre
                        && get(e, "Call-Direction") == Some("outbound")
                        && matches!(call, "DOWN" | "ACTIVE");
                    match (racy, n) {
                        (true, "CHANNEL_CALLSTATE") => format!("{n}:<before CS_EXECUTE>:{call}"),
                        (true, _) => format!("{n}:{cs}:<DOWN or ACTIVE>"),
                        _ => format!("{n}:{cs}:{call}"),
                    }
                })
                .collect()
        };
        let (ws, gs) = (states(wev), states(gev));
        if ws != gs {
            errs.push(format!(
                "{file} leg {leg}: states differ\n  trace: {ws:?}\n  sim:   {gs:?}"
            ));
        }
        let (mut w, mut g) = (filt(wev), filt(gev));
        // tolerance: PLAYBACK_STOP / CHANNEL_HANGUP may come in either order:
        // put both sequences in one canonical order (HANGUP first)
        canonical(&mut w);
        canonical(&mut g);
        let gk: Vec<String> = g.iter().map(|e| ev_key(e)).collect();
        let wkeys: Vec<String> = w.iter().map(|e| ev_key(e)).collect();
        if wkeys != gk {
            errs.push(format!(
                "{file} leg {leg}: event sequence differs\n  trace: {wkeys:?}\n  sim:   {gk:?}"
            ));
            continue;
        }
        for (i, (a, b)) in w.iter().zip(g.iter()).enumerate() {
            for h in VALUE_HEADERS {
                let (va, vb) = (get(a, h), get(b, h));
                if va.is_some() && va.map(normalise) != vb.map(normalise) {
                    errs.push(format!(
                        "{file} leg {leg} event #{i} {}: {h} trace={va:?} sim={vb:?}",
                        wkeys[i]
                    ));
                }
            }
            let names = |e: &Vec<(String, String)>| -> BTreeSet<String> {
                e.iter()
                    .map(|(k, _)| k.clone())
                    .filter(|k| {
                        !k.starts_with("variable_") && !TOLERATED_NAMES.contains(&k.as_str())
                    })
                    .collect()
            };
            let (na, nb) = (names(a), names(b));
            if na != nb {
                let missing: Vec<_> = na.difference(&nb).collect();
                let extra: Vec<_> = nb.difference(&na).collect();
                errs.push(format!("{file} leg {leg} event #{i} {}: header names: missing {missing:?} extra {extra:?}", wkeys[i]));
            }
        }
    }
}
