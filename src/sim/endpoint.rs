//! The endpoint an `originate` dials, from its URL: loopback (an extension of a context),
//! a freetdm span (hunting, congestion), a sofia gateway (its contracted limit), a `user/`
//! phone (a directory user is dialed through its own dial-string).

use std::sync::Arc;

use super::config::TrunkKind;
use super::core::{lock, Core};
use super::origparse::OrigReq;

/// Where the A-leg goes.
pub struct Endpoint {
    /// `loopback`, `freetdm`, `gateway` or `user`
    pub kind: &'static str,
    /// the number (or extension) dialed
    pub number: String,
    /// the channel's name
    pub name: String,
    /// the trunk (span or gateway) it seized, if any
    pub trunk: Option<String>,
    /// the trunk channel seized
    pub tchan: Option<u32>,
    /// loopback: the context the B-leg runs the extension in
    pub loop_ctx: Option<String>,
    /// the network refuses the call the channel places (the far end is not consulted)
    pub refused: Option<&'static str>,
}

/// What the URL comes to when it is not an endpoint to dial here.
pub enum Elsewhere {
    /// the api reply (`-ERR CAUSE\n`): no channel
    Refused(String),
    /// mod_dptools' user endpoint: originate this argument instead (the directory user's
    /// dial-string, its channel what the caller gets)
    Redial(String),
}

fn refused(cause: &str) -> Elsewhere {
    Elsewhere::Refused(format!("-ERR {cause}\n"))
}

/// The endpoint of `req`'s URL, as the switch's endpoint modules resolve it.
pub fn resolve(core: &Arc<Core>, req: &OrigReq) -> Result<Endpoint, Elsewhere> {
    let segs: Vec<&str> = req.url.split('/').collect();
    let plain = |kind, number: &str, name: String| Endpoint {
        kind,
        number: number.to_string(),
        name,
        trunk: None,
        tchan: None,
        loop_ctx: None,
        refused: None,
    };
    match segs.as_slice() {
        ["loopback", ext, rest @ ..] => Ok(Endpoint {
            loop_ctx: Some(rest.first().copied().unwrap_or("default").to_string()),
            ..plain("loopback", ext, format!("loopback/{ext}-a"))
        }),
        ["freetdm", span, hunt, num] => {
            let freetdm = |t: &&super::config::TrunkConfig| t.kind == TrunkKind::Freetdm;
            if !core.cfg.trunks.iter().any(|t| freetdm(&t)) {
                return Err(refused("CHAN_NOT_IMPLEMENTED"));
            }
            let span = if *span == "0" {
                // span 0: the first span with a channel free
                core.cfg
                    .trunks
                    .iter()
                    .filter(freetdm)
                    .find(|t| {
                        let st = lock(&core.st);
                        st.trunks
                            .get(&t.name)
                            .is_some_and(|u| (u.busy.len() as u32) < u.limit)
                    })
                    .map(|t| t.name.clone())
                    .unwrap_or_else(|| "0".into())
            } else {
                span.to_string()
            };
            let c = core.seize(&span, hunt).map_err(refused)?;
            Ok(Endpoint {
                trunk: Some(span.clone()),
                tchan: Some(c),
                ..plain("freetdm", num, format!("FreeTDM/{span}:{c}/{num}"))
            })
        }
        ["sofia", "gateway", gw, num] => {
            if !core
                .cfg
                .trunks
                .iter()
                .any(|t| t.kind == TrunkKind::Gateway && t.name == *gw)
            {
                // sofia: unknown gateway
                return Err(refused("INVALID_GATEWAY"));
            }
            let seized = core.seize(gw, "a").ok();
            Ok(Endpoint {
                trunk: Some(gw.to_string()),
                tchan: seized,
                // the carrier answers 503 to a call over the contracted limit: the channel
                // is placed and hung up with the cause sofia maps 503 to
                refused: seized.is_none().then_some("NORMAL_TEMPORARY_FAILURE"),
                ..plain("gateway", num, format!("sofia/gateway/{gw}/{num}"))
            })
        }
        ["user", ext] if core.cfg.users.contains_key(user_id(ext)) => {
            let id = user_id(ext);
            let dial = core.cfg.users[id].clone();
            // the domain: as dialed, else $${domain} ($${local_ip_v4})
            let domain = ext.split_once('@').map(|x| x.1).unwrap_or("127.0.0.1");
            let mut vars: Vec<String> = vec![
                format!("dialed_user={id}"),
                format!("dialed_domain={domain}"),
                format!("presence_id={id}@{domain}"),
            ];
            vars.extend(req.vars.iter().map(|(k, v)| format!("{k}={v}")));
            Err(Elsewhere::Redial(format!(
                "{{{}}}{dial} {} {} {}",
                vars.join(","),
                req.dest,
                req.dialplan,
                req.context
            )))
        }
        ["user", ext] => Ok(plain("user", ext, format!("sofia/internal/{ext}@sim"))),
        _ => Err(refused("CHAN_NOT_IMPLEMENTED")),
    }
}

/// `<id>` of `user/<id>[@<domain>]`.
fn user_id(ext: &str) -> &str {
    ext.split('@').next().unwrap_or(ext)
}
