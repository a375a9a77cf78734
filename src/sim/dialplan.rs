//! Simulated dialplans: the built-in `trace` context of the README (500-544), the
//! `contactd-acd` context of `dialplans/contactd-acd.xml` (the ACD queue contactd
//! transfers callers into, and the hold a caller goes to when contactd moves it out of a
//! bridge), and the translation of a subscriber [`Behaviour`] into
//! the application list that the far end runs (on a loopback B-leg for real, or as
//! a phantom for FreeTDM/SIP).

use super::config::{regex, AfterAnswer, Behaviour, SimConfig};

/// An application list.
pub type Apps = Vec<(String, String)>;

fn a(list: &[(&str, &str)]) -> Apps {
    list.iter()
        .map(|(x, y)| (x.to_string(), y.to_string()))
        .collect()
}

/// The extension `ext` of context `ctx`: a configured context (`SimConfig::contexts`), the
/// built-in `trace` and `contactd-acd`, else the subscriber behaviour the number has. None:
/// no extension matches (NO_ROUTE_DESTINATION).
pub fn route(cfg: &SimConfig, ext: &str, ctx: &str) -> Option<Apps> {
    if let Some(r) = configured(cfg, ext, ctx) {
        return r;
    }
    if ctx == "trace" {
        let addr = cfg.trace_socket_addr.as_deref().unwrap_or("127.0.0.1:8084");
        return trace_ext(ext, addr);
    }
    if ctx == CONTACTD_ACD {
        return contactd_acd(ext);
    }
    Some(behaviour_apps(&cfg.behaviour_for(ext)))
}

/// A context of `SimConfig::contexts` (None: not configured): the actions of the first
/// extension whose expression matches, with `$1`..`$9` replaced by its captures; Some(None)
/// when none matches.
pub fn configured(cfg: &SimConfig, ext: &str, ctx: &str) -> Option<Option<Apps>> {
    let exts = cfg.contexts.get(ctx)?;
    for e in exts {
        let Some(re) = regex(&e.expression) else {
            continue;
        };
        if let Some(c) = re.captures(ext) {
            let apps = e
                .actions
                .iter()
                .map(|(app, data)| (app.clone(), captures(data, &c)))
                .collect();
            return Some(Some(apps));
        }
    }
    Some(None)
}

/// `$N` in action data (mod_dialplan_xml substitutes the condition's captures; `${var}` and
/// `$${var}` are left alone).
fn captures(data: &str, c: &regex::Captures) -> String {
    let mut out = String::with_capacity(data.len());
    let mut chars = data.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, chars.peek()) {
            ('$', Some(d)) if d.is_ascii_digit() => {
                let i = d.to_digit(10).unwrap_or(0) as usize;
                chars.next();
                out.push_str(c.get(i).map(|m| m.as_str()).unwrap_or(""));
            }
            _ => out.push(ch),
        }
    }
    out
}

/// Name of the ACD queue context.
pub const CONTACTD_ACD: &str = "contactd-acd";

/// The context a trunk call goes to when its `socket` returns with the call up
/// (`dialplans/from-trunk.xml`), and its first extension.
pub const CONTACTD_RECONNECT: &str = "contactd-reconnect";
/// The extension `from-trunk` transfers to after the `socket`.
pub const RECONNECT_FIRST: &str = "reconnect-x";
/// `$${contactd_wait_tone}` of `fs-conf/vars.xml`: heard before each try.
pub const WAIT_TONE: &str = "tone_stream://%(200,1800,440)";

/// The `contactd-reconnect` context, as `dialplans/from-trunk.xml` has it (a test compares
/// the two through frslint): `reconnect-x` .. `reconnect-x{15}` run what the dropped
/// connection left queued (a short `sleep`), cancel the channel's scheduled tasks (the
/// music a dropped IVR scheduled for its hand-over), play the wait tone, run
/// `socket <socket> async full` again and go on to the next; anything else hangs up
/// NORMAL_TEMPORARY_FAILURE.
pub fn contactd_reconnect(ext: &str, socket: &str) -> Apps {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(r"^reconnect-x{1,15}$").expect("reconnect"));
    if !re.is_match(ext) {
        return a(&[("hangup", "NORMAL_TEMPORARY_FAILURE")]);
    }
    vec![
        ("sleep".into(), "100".into()),
        ("sched_cancel".into(), String::new()),
        ("playback".into(), WAIT_TONE.into()),
        ("socket".into(), format!("{socket} async full")),
        (
            "transfer".into(),
            format!("{ext}x XML {CONTACTD_RECONNECT}"),
        ),
    ]
}

/// The extension of `contactd-acd` a caller is sent to (`transfer_after_bridge`) when
/// contactd ends its bridge: music on hold, then park.
pub const ACD_HOLD: &str = "acd-hold";

/// The `contactd-acd` context, as `dialplans/contactd-acd.xml` has it (a test
/// compares the two): extension `acd_queue`, destination_number
/// `^acd_([a-z0-9_]{1,32})$`, and extension `acd_hold`, `^acd-hold$`. `None` = no
/// extension matches (NO_ROUTE_DESTINATION).
pub fn contactd_acd(ext: &str) -> Option<Apps> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"^acd_([a-z0-9_]{1,32})$").expect("acd_queue expression")
    });
    if ext == ACD_HOLD {
        return Some(vec![
            // `${contactd_moh}` is expanded when the application runs
            ("playback".into(), "${contactd_moh}".into()),
            ("park".into(), String::new()),
        ]);
    }
    let queue = re.captures(ext)?.get(1)?.as_str().to_string();
    Some(vec![
        ("set".into(), "contactd_entry=queue".into()),
        ("set".into(), format!("contactd_queue={queue}")),
        ("set".into(), "hangup_after_bridge=true".into()),
        ("answer".into(), String::new()),
        ("sleep".into(), "300".into()),
        ("park".into(), String::new()),
        // never reached here: the simulator's park is never refused (no socket control)
        ("transfer".into(), format!("{ext} XML contactd-acd")),
    ])
}

/// The `trace` context. `None` = no such extension (NO_ROUTE_DESTINATION).
pub fn trace_ext(ext: &str, socket_addr: &str) -> Option<Apps> {
    let hello = "/opt/fs-trace/sounds/hello.wav";
    Some(match ext {
        "500" => a(&[
            ("answer", ""),
            ("playback", hello),
            ("hangup", "NORMAL_CLEARING"),
        ]),
        "501" => a(&[
            ("answer", ""),
            ("sleep", "30000"),
            ("hangup", "NORMAL_CLEARING"),
        ]),
        "502" => a(&[
            ("answer", ""),
            ("sleep", "1000"),
            ("hangup", "NORMAL_CLEARING"),
        ]),
        "510" => a(&[("respond", "486")]),
        "511" => a(&[
            ("ring_ready", ""),
            ("sleep", "60000"),
            ("hangup", "NO_ANSWER"),
        ]),
        "512" => a(&[("hangup", "UNALLOCATED_NUMBER")]),
        "513" => a(&[("hangup", "NORMAL_TEMPORARY_FAILURE")]),
        "514" => a(&[("hangup", "USER_BUSY")]),
        "515" => a(&[("sleep", "60000"), ("hangup", "NO_ANSWER")]),
        "520" => a(&[
            ("answer", ""),
            ("sleep", "1000"),
            ("send_dtmf", "1"),
            ("sleep", "1000"),
            ("send_dtmf", "23#"),
            ("park", ""),
        ]),
        "530" => a(&[("answer", ""), ("park", "")]),
        "531" => a(&[
            ("answer", ""),
            ("playback", "/opt/fs-trace/sounds/short.wav"),
            ("park", ""),
        ]),
        "540" => vec![("socket".to_string(), format!("{socket_addr} async full"))],
        "541" => a(&[
            ("sleep", "2000"),
            ("send_dtmf", "12345#"),
            ("sleep", "30000"),
            ("hangup", "NORMAL_CLEARING"),
        ]),
        "542" => a(&[("sleep", "1500"), ("hangup", "NORMAL_CLEARING")]),
        "543" => a(&[("sleep", "60000"), ("hangup", "NORMAL_CLEARING")]),
        "544" => a(&[
            ("sleep", "500"),
            ("playback", hello),
            ("sleep", "30000"),
            ("hangup", "NORMAL_CLEARING"),
        ]),
        _ => return None,
    })
}

/// Applications a far end with this behaviour runs.
pub fn behaviour_apps(b: &Behaviour) -> Apps {
    let mut v: Apps = Vec::new();
    let push = |v: &mut Apps, x: &str, y: String| v.push((x.to_string(), y));
    match b {
        Behaviour::Answer { ring_ms, after } => {
            if *ring_ms > 0 {
                push(&mut v, "ring_ready", String::new());
                push(&mut v, "sleep", ring_ms.to_string());
            }
            push(&mut v, "answer", String::new());
            match after {
                AfterAnswer::Stay => push(&mut v, "park", String::new()),
                AfterAnswer::HangupAfter { ms } => {
                    // 0: hangs up as it answers, in the same run of its session (a
                    // `sleep 0` would let whoever answered act on the channel first)
                    if *ms > 0 {
                        push(&mut v, "sleep", ms.to_string());
                    }
                    push(&mut v, "hangup", "NORMAL_CLEARING".into());
                }
                AfterAnswer::PressDigits {
                    digits,
                    at_ms,
                    hangup_ms,
                } => {
                    push(&mut v, "sleep", at_ms.to_string());
                    push(&mut v, "send_dtmf", digits.clone());
                    match hangup_ms {
                        Some(h) => {
                            push(&mut v, "sleep", h.saturating_sub(*at_ms).to_string());
                            push(&mut v, "hangup", "NORMAL_CLEARING".into());
                        }
                        None => push(&mut v, "park", String::new()),
                    }
                }
                other => {
                    for (app, arg) in super::amd::after_apps(other) {
                        push(&mut v, app, arg);
                    }
                }
            }
        }
        Behaviour::Busy { after_ms } => {
            if *after_ms > 0 {
                push(&mut v, "sleep", after_ms.to_string());
            }
            push(&mut v, "hangup", "USER_BUSY".into());
        }
        Behaviour::NoAnswer => {
            push(&mut v, "ring_ready", String::new());
            push(&mut v, "park", String::new());
        }
        Behaviour::Silent => push(&mut v, "park", String::new()),
        Behaviour::EarlyAnnouncement {
            voice_ms,
            cause,
            answer_ms,
            ..
        } => {
            let release = 1200 + voice_ms + 200;
            push(&mut v, "pre_answer", String::new());
            match answer_ms {
                Some(a) if *a < release => {
                    push(&mut v, "sleep", a.to_string());
                    push(&mut v, "answer", String::new());
                    push(&mut v, "sleep", (release - a).to_string());
                }
                _ => push(&mut v, "sleep", release.to_string()),
            }
            push(&mut v, "hangup", cause.clone());
        }
        Behaviour::Reject {
            cause,
            after_ms,
            ring,
        } => {
            if *ring {
                push(&mut v, "ring_ready", String::new());
            }
            if *after_ms > 0 {
                push(&mut v, "sleep", after_ms.to_string());
            }
            push(&mut v, "hangup", cause.clone());
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_contexts_from_toml() {
        let cfg = SimConfig::from_toml(
            r#"
[[contexts.test_operators]]
expression = '^op(\d+)$'
actions = [["set", "op=$1"], ["answer", ""], ["park", ""]]

[users]
"201" = "loopback/op201/test_operators"
"#,
        )
        .unwrap();
        assert_eq!(cfg.users["201"], "loopback/op201/test_operators");
        let apps = route(&cfg, "op201", "test_operators").unwrap();
        assert_eq!(apps[0], ("set".to_string(), "op=201".to_string()));
        assert_eq!(apps.len(), 3);
        // a configured context routes nothing else
        assert_eq!(route(&cfg, "noans203", "test_operators"), None);
        // the built-in contexts and the subscriber behaviours are still there
        assert!(route(&cfg, "530", "trace").is_some());
        assert!(route(&cfg, "acd_general", CONTACTD_ACD).is_some());
        assert!(route(&cfg, "5551234", "default").is_some());
    }
}
