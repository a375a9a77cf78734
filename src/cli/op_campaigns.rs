//! `contactd campaigns start --mode preview|progressive|predictive --queue Q --list N ...`:
//! starts an operator campaign (the running daemon picks it up within a second). Checked like
//! `campaigns create`: the list, the trunk and its lines, the calling window, the queue (an
//! `[acd.queue.NAME]`), the abandon message (a playable path) and the script URL.

use std::path::PathBuf;

use deadpool_postgres::Pool;

use super::exit::CampaignCliError;
use crate::config::Config;
use crate::core::campaign::limits::{check_campaign_name, check_lines};
use crate::core::dialer::DialMode;
use crate::core::values::MediaFile;
use crate::store::campaigns::NewCampaign;
use crate::store::op_campaigns::{OpCampaign, OpCampaigns};

#[derive(Debug, Clone, clap::Args)]
pub struct StartArgs {
    /// preview (the operator presses call), progressive (one call per ready operator) or
    /// predictive (paced from the answer rate, within the abandon cap).
    #[arg(long)]
    pub mode: String,
    /// List number (as imported with `lists import --number`).
    #[arg(long)]
    pub list: i32,
    /// The ACD queue whose operators work the list (default: [campaigns.operator] queue).
    #[arg(long)]
    pub queue: Option<String>,
    /// The call script shown in the screen pop (http:// or https://).
    #[arg(long)]
    pub script_url: Option<String>,
    /// The abandon message (default: [campaigns.operator] abandon_message).
    #[arg(long)]
    pub abandon_message: Option<PathBuf>,
    #[arg(long)]
    pub name: Option<String>,
    /// Lines the campaign may hold at once (default: [campaigns] lines).
    #[arg(long)]
    pub lines: Option<u32>,
    /// Trunk to dial on (default: [campaigns] trunk).
    #[arg(long)]
    pub trunk: Option<String>,
    /// Caller ID shown to subscribers.
    #[arg(long)]
    pub caller_id: Option<String>,
    /// Calling window days, e.g. mon-sat.
    #[arg(long)]
    pub days: Option<String>,
    /// Window start HH:MM (subscriber's time zone).
    #[arg(long)]
    pub from: Option<String>,
    /// Window end HH:MM.
    #[arg(long)]
    pub until: Option<String>,
}

fn invalid(m: String) -> CampaignCliError {
    CampaignCliError::Invalid(m)
}

/// A script URL as the screen pop links it: http(s), no blanks or control characters.
pub fn check_script_url(url: &str) -> Result<(), String> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2000
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err("an http:// or https:// URL without blanks, at most 2000 characters".into())
    }
}

pub async fn start(a: StartArgs, cfg: &Config, pool: &Pool) -> Result<(), CampaignCliError> {
    let d = &cfg.campaigns;
    let o = &d.operator;
    let mode: DialMode = a
        .mode
        .parse()
        .map_err(|e| invalid(format!("--mode: {e}")))?;
    let queue = a.queue.unwrap_or_else(|| o.queue.clone());
    if !cfg.acd.queue.contains_key(&queue) {
        return Err(invalid(format!(
            "--queue {queue:?}: no such [acd.queue.NAME] section in the config"
        )));
    }
    if let Some(u) = &a.script_url {
        check_script_url(u).map_err(|e| invalid(format!("--script-url: {e}")))?;
    }
    let audio = a.abandon_message.map_or_else(
        || o.abandon_message.clone(),
        |p| p.to_string_lossy().to_string(),
    );
    MediaFile::parse(&audio).map_err(|e| invalid(format!("abandon message {audio:?}: {e}")))?;
    let name = a.name.unwrap_or_else(|| format!("{mode} list {}", a.list));
    check_campaign_name(&name).map_err(|e| invalid(format!("--name: {e}")))?;
    let trunk = a.trunk.unwrap_or_else(|| d.trunk.clone());
    // a trunk or a trunk group: its channels in all
    let Some(channels) = cfg.channels_of(&trunk) else {
        return Err(invalid(format!(
            "--trunk {trunk:?}: no such [trunk.NAME] or [trunk_group.NAME] section in the config"
        )));
    };
    let lines = a.lines.unwrap_or(d.lines);
    check_lines(lines).map_err(|e| invalid(format!("--lines {lines}: {e}")))?;
    if lines > channels {
        return Err(invalid(format!(
            "--lines {lines}: trunk {trunk:?} has {channels} channels"
        )));
    }
    if let Some(cid) = &a.caller_id {
        crate::core::values::PhoneNumber::parse(cid)
            .map_err(|e| invalid(format!("--caller-id: {e}")))?;
    }
    let mut c = NewCampaign::with_defaults(d, a.list, &audio, "cli");
    c.name = name;
    c.trunk = trunk;
    c.lines = lines as i32;
    c.caller_id = a.caller_id;
    c.ring_s = o.ring_seconds as i32;
    if let Some(v) = a.days {
        c.window_days = v;
    }
    if let Some(v) = a.from {
        c.window_start = v;
    }
    if let Some(v) = a.until {
        c.window_end = v;
    }
    crate::core::campaign::window::Window::parse(&c.window_days, &c.window_start, &c.window_end)
        .map_err(|e| invalid(format!("calling window: {e}")))?;
    let (id, n) = OpCampaigns::new(pool.clone())
        .create(
            &c,
            &OpCampaign {
                campaign_id: 0,
                mode: mode.to_string(),
                queue: queue.clone(),
                script_url: a.script_url,
            },
        )
        .await?;
    println!("operator campaign {id} started ({mode}, queue {queue}): {n} subscribers");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_urls_are_http_links_on_one_line() {
        assert!(check_script_url("https://intranet/scripts/winter?x=1").is_ok());
        assert!(check_script_url("javascript:alert(1)").is_err());
        assert!(check_script_url("https://a b").is_err());
        assert!(check_script_url("https://a\nb").is_err());
    }
}
