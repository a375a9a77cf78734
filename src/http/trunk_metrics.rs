//! `/metrics` families of trunk health (appended after the board's): each trunk's state as
//! the trunk-health service last published it, its capacity in service, and the span
//! alarms counted so far. An alert rule on `contactd_trunk_in_service == 0` or on
//! `increase(contactd_trunk_span_alarms_total[5m]) > 0` pages whoever watches the lines.

use std::fmt::Write as _;

use tracing::debug;

use super::HttpState;
use crate::core::trunks::TrunkState;
use crate::store::trunk_state;

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub async fn write(shared: &HttpState, out: &mut String) {
    let states = match trunk_state::read_all(&shared.live).await {
        Ok(s) => s,
        Err(e) => {
            debug!("metrics: trunk states: {e}");
            return;
        }
    };
    let alarms = trunk_state::alarm_counts(&shared.live)
        .await
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "# HELP contactd_trunk_in_service 1 while the trunk carries calls; 0 in alarm or while its switch is down\n# TYPE contactd_trunk_in_service gauge"
    );
    for name in shared.config.trunk.keys() {
        if let Some(s) = states.get(name) {
            let _ = writeln!(
                out,
                "contactd_trunk_in_service{{trunk=\"{}\",state=\"{}\"}} {}",
                label(name),
                s.state.label(),
                u8::from(s.state == TrunkState::InService)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP contactd_trunk_capacity channels the trunk offers now (0 out of service)\n# TYPE contactd_trunk_capacity gauge"
    );
    for (name, t) in &shared.config.trunk {
        if let Some(s) = states.get(name) {
            let cap = if s.state == TrunkState::InService {
                t.channels
            } else {
                0
            };
            let _ = writeln!(
                out,
                "contactd_trunk_capacity{{trunk=\"{}\"}} {cap}",
                label(name)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP contactd_trunk_span_alarms_total FreeTDM span alarms that took the trunk out of service\n# TYPE contactd_trunk_span_alarms_total counter"
    );
    for name in shared.config.trunk.keys() {
        let n = alarms.get(name).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "contactd_trunk_span_alarms_total{{trunk=\"{}\"}} {n}",
            label(name)
        );
    }
}
