//! Parsing `originate` arguments (`{vars}url exten|&app(args) [dialplan] [context]`, the
//! quoting of switch_separate_string, mod_dptools' inline dialplan) and what the A-leg runs
//! once the call is up.

use super::config::SimConfig;
use super::dialplan::{self, Apps};

/// The usage text of mod_commands' originate.
pub const USAGE: &str = "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n";

/// Parsed originate arguments.
#[derive(Debug, Clone, Default)]
pub struct OrigReq {
    /// `{k=v}` variables in order
    pub vars: Vec<(String, String)>,
    /// endpoint url
    pub url: String,
    /// exten or &app(args)
    pub dest: String,
    /// dialplan (`XML`, `inline`, ...)
    pub dialplan: String,
    /// context
    pub context: String,
}

/// `switch_separate_string` on blanks: `'…'` and `"…"` group words (quotes removed).
pub fn split_quoted(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for ch in s.chars() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => cur.push(ch),
            None if ch == '\'' || ch == '"' => {
                quote = Some(ch);
                any = true;
            }
            None if ch.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            None => {
                cur.push(ch);
                any = true;
            }
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// mod_dptools' inline dialplan: `app:data,app:data` (or `m:<d>:` to choose the
/// delimiter); data after the first colon, leading blanks of the app name dropped.
pub fn inline_apps(target: &str) -> Apps {
    let b = target.as_bytes();
    let (delim, body) = if b.len() > 3 && b[0] == b'm' && b[1] == b':' && b[3] == b':' {
        (b[2] as char, &target[4..])
    } else {
        (',', target)
    };
    body.split(delim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            let (app, data) = x.split_once(':').unwrap_or((x, ""));
            (app.trim_start().to_string(), data.to_string())
        })
        .collect()
}

/// Parse; Err = usage text.
pub fn parse(arg: &str) -> Result<OrigReq, String> {
    let mut rest = arg.trim();
    let mut vars = Vec::new();
    while rest.starts_with('{') || rest.starts_with('[') {
        let (open, close) = if rest.starts_with('{') {
            ('{', '}')
        } else {
            ('[', ']')
        };
        let Some(end) = end_paren(rest, open, close) else {
            return Err(USAGE.into());
        };
        for kv in rest[1..end].split(',') {
            if let Some((k, v)) = kv.split_once('=') {
                vars.push((k.trim().to_string(), v.to_string()));
            }
        }
        rest = &rest[end + 1..];
    }
    let parts = split_quoted(rest);
    if parts.len() < 2 {
        return Err(USAGE.into());
    }
    Ok(OrigReq {
        vars,
        url: parts[0].clone(),
        dest: parts[1].clone(),
        dialplan: parts.get(2).cloned().unwrap_or_else(|| "XML".into()),
        context: parts.get(3).cloned().unwrap_or_else(|| "default".into()),
    })
}

/// `switch_find_end_paren`: the byte index of the `close` matching the `open` that `s`
/// starts with, nested pairs skipped (a `${var}` inside a `{…}` block).
fn end_paren(s: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 0usize;
    for (i, ch) in s.char_indices() {
        if ch == open {
            depth += 1;
        } else if ch == close {
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// `switch_channel_set_variable_var_check` as originate calls it: a `{…}` value holding a
/// `${…}` is refused (logged, not set) unless `origination_nested_vars=true`.
pub fn settable(r: &OrigReq, value: &str) -> bool {
    !value.contains("${") || var(r, "origination_nested_vars").is_some_and(|v| v == "true")
}

pub fn var<'a>(r: &'a OrigReq, k: &str) -> Option<&'a str> {
    r.vars
        .iter()
        .rev()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
}

/// What the A-leg runs once answered: the `&app(args)`, an inline dialplan, or the
/// extension in a configured context or `trace` (anything else: park).
pub fn dest_apps(cfg: &SimConfig, req: &OrigReq) -> Apps {
    let d = &req.dest;
    if let Some(x) = d.strip_prefix('&') {
        let (app, arg) = match x.find('(') {
            Some(i) => (&x[..i], x[i + 1..].trim_end_matches(')')),
            None => (x, ""),
        };
        return vec![(app.to_string(), arg.to_string())];
    }
    if req.dialplan == "inline" {
        return inline_apps(d);
    }
    if let Some(r) = dialplan::configured(cfg, d, &req.context) {
        // no extension matches: nothing to run, the channel is hung up
        return r.unwrap_or_default();
    }
    let addr = cfg.trace_socket_addr.as_deref().unwrap_or("127.0.0.1:8084");
    dialplan::trace_ext(d, addr)
        .filter(|_| req.context == "trace")
        .unwrap_or_else(|| vec![("park".into(), String::new())])
}
