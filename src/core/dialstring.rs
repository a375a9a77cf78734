//! FreeSWITCH dial strings that contactd puts into `originate` verbatim: an operator's phone
//! (CLI, HTTP API, and again right before the ACD rings it) and a trunk's dial template once
//! its `{number}` is filled in. One grammar for both, so an operator's phone can be anything a
//! trunk can dial and nothing more.
//!
//! `originate {vars}ENDPOINT &app(...)` is parsed by FreeSWITCH, so a dial string must be one
//! endpoint and nothing else: no variable block (`{…}` `[…]` `<…>`), no second leg (`,` `|`,
//! or `:_:`), no second argument (whitespace), no quotes, no `&app`, no `${…}` expansion, no
//! control characters. Only letters, digits and `/ _ . - + @` pass, then the shape is checked:
//!
//! - `user/EXT[@HOST]`
//! - `sofia/gateway/GW/NUMBER` and `sofia/PROFILE/USER@HOST` (any profile)
//! - `freetdm/SPAN/CHAN/NUMBER`, CHAN a channel number or the hunt order `a` `A` `r` `R`
//! - `loopback/EXT[/CONTEXT[/XML]]`
//!
//! where EXT and USER are 1-64 of `A-Z a-z 0-9 _ . - +`; GW, PROFILE and CONTEXT 1-64 of
//! `A-Z a-z 0-9 _ . -`; SPAN 1-32 of `A-Z a-z 0-9 _`; HOST dot-separated labels of
//! `A-Z a-z 0-9 -` (no port: `:` is refused); NUMBER 1-20 digits after an optional `+`.
//! A loopback's dialplan may only be `XML`: the `inline` dialplan would run the destination
//! as applications.

/// Longest dial string accepted.
pub const MAX_LEN: usize = 200;

/// The placeholder of a trunk's dial template.
pub const NUMBER: &str = "{number}";

/// The shapes, for messages.
const SHAPES: &str = "must be user/EXT[@HOST], sofia/gateway/GW/NUMBER, sofia/PROFILE/USER@HOST, \
                      freetdm/SPAN/CHAN/NUMBER or loopback/EXT[/CONTEXT[/XML]]";

/// Checks one endpoint (an operator's phone, or a filled-in trunk template). The error says
/// what is wrong, without repeating the value (callers name it, escaped).
pub fn check_endpoint(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    if s.len() > MAX_LEN {
        return Err(format!(
            "is {} bytes long, at most {MAX_LEN} are allowed",
            s.len()
        ));
    }
    check_chars(s)?;
    check_shape(s)
}

/// Checks a trunk's dial template (`freetdm/1/a/{number}`): `{number}` exactly once, and what
/// it gives once a number is put in is a valid endpoint.
pub fn check_template(dial: &str) -> Result<(), String> {
    if dial.matches(NUMBER).count() != 1 {
        return Err(format!("must contain {NUMBER} exactly once"));
    }
    let rest = dial.replace(NUMBER, "");
    if rest.contains(['{', '}']) {
        return Err(format!(
            "braces are only allowed in {NUMBER} (anything else would be a variable block)"
        ));
    }
    // Numbers are validated digits (with an optional leading `+`); a short run of digits
    // stands for any of them, so the shape rules apply to what will really be dialed.
    check_endpoint(&dial.replace(NUMBER, "123"))
}

/// Every character is one of the alphabet; the first that is not is named, with why it
/// matters for `originate`.
/// The number or extension a phone calls from, as the switch shows it in a caller ID:
/// `user/1001@pbx` → `1001`, `loopback/op201/test_operators` → `op201`, a gateway's or
/// FreeTDM's NUMBER, a SIP profile's USER. None for what is not a valid endpoint.
pub fn phone_of(endpoint: &str) -> Option<&str> {
    check_endpoint(endpoint).ok()?;
    let parts: Vec<&str> = endpoint.split('/').collect();
    let ext: &str = match parts.as_slice() {
        ["loopback", ext, ..] => ext,
        [.., last] => last,
        [] => return None,
    };
    ext.split('@').next()
}

fn check_chars(s: &str) -> Result<(), String> {
    let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/_.-+@".contains(*c)))
    else {
        return Ok(());
    };
    let why = match c {
        c if c.is_control() => "a control character",
        c if c.is_whitespace() => "whitespace would start another argument of originate",
        '{' | '}' | '[' | ']' | '<' | '>' => "it would open a channel-variable block",
        ',' | '|' => "it would add another leg to dial",
        ':' => "`:_:` would add another leg to dial",
        '\'' | '"' | '`' => "a quote would end the originate argument",
        '&' => "it would name an application to run",
        '$' => "it would expand a channel variable",
        '\\' => "an escape",
        _ => "only letters, digits and / _ . - + @ are allowed",
    };
    Err(format!("{c:?} is not allowed: {why}"))
}

fn check_shape(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.split('/').collect();
    match parts.as_slice() {
        ["user", rest] => {
            let (ext, host) = match rest.split_once('@') {
                Some((e, h)) => (e, Some(h)),
                None => (*rest, None),
            };
            if !is_ext(ext) {
                return Err(
                    "user wants user/EXT or user/EXT@HOST (EXT: 1-64 of A-Z a-z 0-9 _ . - +)"
                        .into(),
                );
            }
            match host {
                Some(h) if !is_host(h) => Err(format!("user/EXT@HOST: {}", host_rule())),
                _ => Ok(()),
            }
        }
        ["user", ..] => Err("user wants user/EXT or user/EXT@HOST".into()),
        ["sofia", "gateway", gw, n] => {
            if !is_name(gw) {
                Err("sofia/gateway/GW/NUMBER: GW is 1-64 of A-Z a-z 0-9 _ . -".into())
            } else if !is_number(n) {
                Err("sofia/gateway/GW/NUMBER: NUMBER is 1-20 digits after an optional +".into())
            } else {
                Ok(())
            }
        }
        ["sofia", "gateway", ..] => Err("sofia wants sofia/gateway/GW/NUMBER".into()),
        ["sofia", profile, dest] => {
            if !is_name(profile) {
                return Err("sofia/PROFILE/USER@HOST: PROFILE is 1-64 of A-Z a-z 0-9 _ . -".into());
            }
            match dest.split_once('@') {
                Some((user, host)) if is_ext(user) && is_host(host) => Ok(()),
                Some((user, _)) if !is_ext(user) => {
                    Err("sofia/PROFILE/USER@HOST: USER is 1-64 of A-Z a-z 0-9 _ . - +".into())
                }
                Some(_) => Err(format!("sofia/PROFILE/USER@HOST: {}", host_rule())),
                None => {
                    Err("sofia wants sofia/PROFILE/USER@HOST or sofia/gateway/GW/NUMBER".into())
                }
            }
        }
        ["sofia", ..] => {
            Err("sofia wants sofia/PROFILE/USER@HOST or sofia/gateway/GW/NUMBER".into())
        }
        ["freetdm", span, chan, n] => {
            let span_ok = !span.is_empty()
                && span.len() <= 32
                && span.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            let chan_ok = matches!(*chan, "a" | "A" | "r" | "R")
                || (!chan.is_empty()
                    && chan.len() <= 4
                    && chan.bytes().all(|b| b.is_ascii_digit()));
            if !span_ok {
                Err("freetdm/SPAN/CHAN/NUMBER: SPAN is 1-32 of A-Z a-z 0-9 _".into())
            } else if !chan_ok {
                Err("freetdm/SPAN/CHAN/NUMBER: CHAN is a channel number or a, A, r, R".into())
            } else if !is_number(n) {
                Err("freetdm/SPAN/CHAN/NUMBER: NUMBER is 1-20 digits after an optional +".into())
            } else {
                Ok(())
            }
        }
        ["freetdm", ..] => Err("freetdm wants freetdm/SPAN/CHAN/NUMBER".into()),
        ["loopback", dest, rest @ ..] if rest.len() <= 2 => {
            if !is_ext(dest) {
                return Err(
                    "loopback/EXT[/CONTEXT[/XML]]: EXT is 1-64 of A-Z a-z 0-9 _ . - +".into(),
                );
            }
            if let Some(ctx) = rest.first() {
                if !is_name(ctx) {
                    return Err("loopback/EXT/CONTEXT: CONTEXT is 1-64 of A-Z a-z 0-9 _ . -".into());
                }
            }
            match rest.get(1) {
                Some(&"XML") | None => Ok(()),
                Some(_) => Err(concat!(
                    "loopback/EXT/CONTEXT/DIALPLAN: DIALPLAN can only be XML ",
                    "(inline would run the destination as applications)"
                )
                .into()),
            }
        }
        ["loopback", ..] => Err("loopback wants loopback/EXT[/CONTEXT[/XML]]".into()),
        _ => Err(SHAPES.into()),
    }
}

fn is_ext(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-+".contains(&b))
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

fn is_number(s: &str) -> bool {
    let d = s.strip_prefix('+').unwrap_or(s);
    !d.is_empty() && d.len() <= 20 && d.bytes().all(|b| b.is_ascii_digit())
}

fn is_host(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn host_rule() -> &'static str {
    "HOST is a host name or IPv4 address (labels of A-Z a-z 0-9 -, no port)"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_endpoints() {
        for ok in [
            "user/1001",
            "user/alice.smith",
            "user/Alice",
            "user/1001@pbx.local",
            "user/+74951234567@10.0.0.1",
            "sofia/gateway/gw/84951234567",
            "sofia/gateway/my-gw_2/+74951234567",
            "sofia/internal/1001@10.0.0.1",
            "sofia/external/+74951234567@sip.provider.example",
            "sofia/my_profile.2/op-201@pbx-1.local",
            "freetdm/1/a/1234",
            "freetdm/1/A/1234",
            "freetdm/span_2/r/1234",
            "freetdm/1/R/1234",
            "freetdm/1/7/+74951234567",
            "loopback/op201",
            "loopback/op201/test_operators",
            "loopback/op201/test_operators/XML",
            "loopback/+74951234567/from-trunk",
        ] {
            assert_eq!(check_endpoint(ok), Ok(()), "{ok}");
        }
        let longest = format!("loopback/{}/{}", "a".repeat(64), "c".repeat(64));
        assert_eq!(check_endpoint(&longest), Ok(()));
    }

    #[test]
    fn hostile_endpoints_are_refused_naming_why() {
        for (bad, says) in [
            ("", "empty"),
            ("user/1001\n", "'\\n' is not allowed: a control character"),
            ("user/1001\r\napi hupall", "control character"),
            ("user/1001\u{0}", "control character"),
            ("user/10 01", "whitespace"),
            ("user/1001\t", "control character"),
            ("user/1001\u{a0}", "whitespace"),
            (
                "{origination_caller_id_number=1}user/1001",
                "variable block",
            ),
            ("[leg_timeout=1]user/1001", "variable block"),
            ("<var=1>user/1001", "variable block"),
            ("user/1001,user/1002", "another leg"),
            ("user/1001|user/1002", "another leg"),
            ("user/1001:_:user/1002", "another leg"),
            ("sofia/internal/1001@10.0.0.1:5060", "':' is not allowed"),
            ("user/1001'", "quote"),
            ("user/1001\"", "quote"),
            ("user/1001 &park()", "whitespace"),
            ("user/1001&park()", "application"),
            ("user/${x}", "expand"),
            ("user/^^:1001", "'^' is not allowed: only letters"),
            ("user/1001\\", "escape"),
            ("user/алиса", "only letters"),
            ("sip/1001", "must be user/EXT"),
            ("user/", "user wants"),
            ("user/1/2", "user wants"),
            ("user/1001@", "HOST"),
            ("user/1001@pbx_local", "HOST"),
            ("user/1001@a..b", "HOST"),
            ("sofia/gateway/gw", "sofia wants"),
            ("sofia/gateway/gw/12a", "NUMBER"),
            ("sofia/gateway/gw/+", "NUMBER"),
            ("sofia/gateway//123", "GW"),
            ("sofia/gateway/gw/123456789012345678901", "NUMBER"),
            ("sofia/internal/1001", "USER@HOST"),
            ("sofia/internal/@host", "USER"),
            ("sofia/a/b/c", "sofia wants"),
            ("freetdm/1/x/123", "CHAN"),
            ("freetdm/1/h/123", "CHAN"),
            ("freetdm/1/a/", "NUMBER"),
            ("freetdm/1/a", "freetdm wants"),
            ("loopback/", "EXT"),
            ("loopback/op201/test_operators/inline", "only be XML"),
            ("loopback/op201//XML", "CONTEXT"),
            ("loopback/a/b/XML/d", "loopback wants"),
        ] {
            let e = check_endpoint(bad).expect_err(bad);
            assert!(e.contains(says), "{bad:?}: {e:?} should say {says:?}");
        }
        let long = format!("user/{}", "1".repeat(MAX_LEN));
        assert!(check_endpoint(&long).unwrap_err().contains("at most 200"));
        assert!(check_endpoint(&format!("user/{}", "a".repeat(65)))
            .unwrap_err()
            .contains("user wants"));
        assert_eq!(check_endpoint(&format!("user/{}", "a".repeat(64))), Ok(()));
    }

    #[test]
    fn templates() {
        for ok in [
            "freetdm/1/a/{number}",
            "sofia/gateway/provider/{number}",
            "sofia/gateway/provider/8{number}",
            "sofia/external/{number}@sip.provider.example",
            "loopback/{number}/from-trunk",
            "user/{number}",
        ] {
            assert_eq!(check_template(ok), Ok(()), "{ok}");
        }
        for (bad, says) in [
            ("freetdm/1/a/", "exactly once"),
            ("freetdm/1/a/{number}{number}", "exactly once"),
            ("freetdm/1/a/{number} &park()", "whitespace"),
            ("{x=1}freetdm/1/a/{number}", "braces"),
            ("freetdm/1/a/{number},user/1", "another leg"),
            ("sofia/gw/{number}", "USER@HOST"),
            ("sip/{number}", "must be user/EXT"),
            ("loopback/{number}/ctx/inline", "only be XML"),
        ] {
            let e = check_template(bad).expect_err(bad);
            assert!(e.contains(says), "{bad:?}: {e:?} should say {says:?}");
        }
    }

    #[test]
    fn the_phone_an_endpoint_calls_from() {
        for (endpoint, phone) in [
            ("user/1001", Some("1001")),
            ("user/1001@pbx.local", Some("1001")),
            ("loopback/op201/test_operators", Some("op201")),
            ("loopback/op201", Some("op201")),
            ("sofia/internal/1005@pbx.local", Some("1005")),
            ("sofia/gateway/gw/84951234567", Some("84951234567")),
            ("freetdm/1/a/1234", Some("1234")),
            ("user/1001,user/1002", None),
        ] {
            assert_eq!(phone_of(endpoint), phone, "{endpoint}");
        }
    }

    /// Whatever passes holds none of the characters `originate` treats specially.
    #[test]
    fn nothing_accepted_can_split_originate() {
        let alphabet: Vec<char> = (0u8..=127).map(char::from).chain(['\u{a0}', 'я']).collect();
        for c in alphabet {
            for s in [
                format!("user/10{c}01"),
                format!("loopback/op{c}/ctx"),
                format!("sofia/internal/1001@pbx{c}local"),
            ] {
                if check_endpoint(&s).is_ok() {
                    assert!(
                        c.is_ascii_alphanumeric() || "/_.-+@".contains(c),
                        "{c:?} passed in {s:?}"
                    );
                }
            }
        }
    }
}
