//! `contactd trunks`: every trunk with its state (in service, alarm, switch down), its
//! capacity now and the lines contactd holds on it, from what the running daemon publishes
//! in Redis (`store::trunk_state`) and the line leases. Reads only.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::cli::exit::Exit;
use crate::config::Config;
use crate::core::trunks::TrunkState;
use crate::store::redis::LiveState;
use crate::store::trunk_state::{self, TrunkStatus};

/// A state said longer ago than this is flagged: the daemon may not be running.
const STALE_AFTER_S: i64 = 90;

/// The table, or why it cannot be read (Redis away: EX_UNAVAILABLE).
pub async fn run(cfg: &Config, now: DateTime<Utc>) -> Result<String, (String, Exit)> {
    let unavailable = |e: crate::store::StoreError| (format!("redis: {e}"), Exit::Unavailable);
    let live = LiveState::connect(cfg.redis.url.expose(), &cfg.redis.prefix)
        .await
        .map_err(unavailable)?;
    let states = trunk_state::read_all(&live).await.map_err(unavailable)?;
    let alarms = trunk_state::alarm_counts(&live)
        .await
        .map_err(unavailable)?;
    let mut rows = Vec::new();
    for (name, t) in &cfg.trunk {
        let in_use = live.lines_in_use(name).await.map_err(unavailable)?;
        rows.push(Row {
            name: name.clone(),
            switch: t.switch.clone(),
            kind: format!("{:?}", t.kind).to_lowercase(),
            span: t.span_name().unwrap_or_else(|| "-".into()),
            channels: t.channels,
            in_use,
            status: states.get(name).cloned(),
            alarms: alarms.get(name).copied().unwrap_or(0),
            groups: cfg
                .trunk_group
                .iter()
                .filter(|(_, g)| g.trunks.contains(name))
                .map(|(g, _)| g.clone())
                .collect(),
        });
    }
    Ok(render(&rows, now))
}

struct Row {
    name: String,
    switch: String,
    kind: String,
    span: String,
    channels: u32,
    in_use: usize,
    status: Option<TrunkStatus>,
    alarms: u64,
    groups: Vec<String>,
}

fn render(rows: &[Row], now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:<10} {:<4} {:<6} {:<22} {:<20} {:>8} {:>7} {:>6}  GROUPS",
        "TRUNK", "SWITCH", "KIND", "SPAN", "STATE", "SINCE", "CAPACITY", "IN USE", "ALARMS"
    );
    let mut stale = false;
    for r in rows {
        let (state, since, capacity) = match &r.status {
            None => ("unknown".to_string(), "-".to_string(), "?".to_string()),
            Some(s) => {
                stale |= now.timestamp() - s.updated_unix > STALE_AFTER_S;
                let label = match s.state {
                    TrunkState::InService => "in service".to_string(),
                    TrunkState::Alarm if s.alarms.is_empty() => "alarm".to_string(),
                    TrunkState::Alarm => format!("alarm ({})", s.alarms),
                    TrunkState::SwitchDown => "switch down".to_string(),
                };
                let since = DateTime::from_timestamp(s.since_unix, 0)
                    .map_or("-".into(), |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string());
                let cap = match s.state {
                    TrunkState::InService => r.channels,
                    _ => 0,
                };
                (label, since, format!("{cap}/{}", r.channels))
            }
        };
        let _ = writeln!(
            out,
            "{:<12} {:<10} {:<4} {:<6} {:<22} {:<20} {:>8} {:>7} {:>6}  {}",
            r.name,
            r.switch,
            r.kind,
            r.span,
            state,
            since,
            capacity,
            r.in_use,
            r.alarms,
            if r.groups.is_empty() {
                "-".to_string()
            } else {
                r.groups.join(",")
            }
        );
    }
    if stale || rows.iter().any(|r| r.status.is_none()) {
        let _ = writeln!(
            out,
            "note: some states were not updated in the last {STALE_AFTER_S} s: is contactd running?"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_says_state_capacity_and_lines() {
        let now = DateTime::from_timestamp(1_764_676_900, 0).unwrap();
        let row = |name: &str, state, alarms: &str| Row {
            name: name.into(),
            switch: "fs1".into(),
            kind: "e1".into(),
            span: "1".into(),
            channels: 30,
            in_use: 3,
            status: Some(TrunkStatus {
                state,
                since_unix: 1_764_676_800,
                alarms: alarms.into(),
                updated_unix: 1_764_676_890,
            }),
            alarms: 1,
            groups: vec!["all".into()],
        };
        let t = render(
            &[
                row("e1a", TrunkState::InService, ""),
                row("e1b", TrunkState::Alarm, "red"),
                row("e1c", TrunkState::SwitchDown, ""),
            ],
            now,
        );
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[1].contains("in service") && lines[1].contains("30/30"),
            "{t}"
        );
        assert!(
            lines[2].contains("alarm (red)") && lines[2].contains("0/30"),
            "{t}"
        );
        assert!(
            lines[3].contains("switch down") && lines[3].contains("0/30"),
            "{t}"
        );
        assert!(
            lines[1].contains("2025-12-02 12:00:00Z") || lines[1].contains("Z"),
            "{t}"
        );
        assert!(!t.contains("note:"), "{t}");
    }
}
