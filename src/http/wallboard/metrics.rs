//! Prometheus families for the same board as the wallboard (appended to `/metrics`): callers
//! waiting and the longest wait per queue, operators by state, lines in use per trunk, and
//! calls by outcome. `grafana/contactd-dashboard.json` charts exactly these.

use std::fmt::Write as _;

use tracing::debug;

use super::super::HttpState;
use crate::core::acd::agent::StateName;

/// How long a scrape waits for the outcome counts.
const OUTCOMES_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Every family this module writes, with its type and help (the dashboard's test checks its
/// queries against these names).
pub const FAMILIES: [(&str, &str, &str); 8] = [
    (
        "contactd_queue_callers_waiting",
        "gauge",
        "callers waiting in the ACD queue now",
    ),
    (
        "contactd_queue_longest_wait_seconds",
        "gauge",
        "how long the longest-waiting caller of the queue has waited",
    ),
    (
        "contactd_queue_operators_ready",
        "gauge",
        "operators ready now who take the queue's calls",
    ),
    (
        "contactd_operators",
        "gauge",
        "operators in each state (logged_out: known to routing but logged out)",
    ),
    (
        "contactd_trunk_lines_in_use",
        "gauge",
        "lines of the trunk held by contactd's calls (line leases)",
    ),
    (
        "contactd_trunk_lines",
        "gauge",
        "lines (channels) the trunk has, as configured",
    ),
    (
        "contactd_acd_calls_total",
        "counter",
        "ACD calls ended, by queue and outcome (answered, abandoned, transferred, overflowed, callback, lost)",
    ),
    (
        "contactd_campaign_calls_total",
        "counter",
        "notification campaign calls ended, by outcome",
    ),
];

fn family(out: &mut String, name: &str) {
    if let Some((n, kind, help)) = FAMILIES.iter().find(|f| f.0 == name) {
        let _ = writeln!(out, "# HELP {n} {help}\n# TYPE {n} {kind}");
    }
}

/// A label value as the exposition format wants it.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Appends the board's families to `out`. A store that cannot be read leaves its samples
/// out (the scrape still succeeds; the gap shows in Grafana).
pub async fn write(shared: &HttpState, out: &mut String) {
    let queues: Vec<String> = shared.config.acd.queue.keys().cloned().collect();
    let now_ms = shared.acd.clock().now().timestamp_millis();
    let board = shared.acd.store().board(&queues).await;
    if let Err(e) = &board {
        debug!("metrics: live state: {e}");
    }
    let board = board.ok();
    let needs: Vec<_> = shared
        .config
        .acd
        .queue
        .iter()
        .map(|(n, q)| {
            (
                n.clone(),
                crate::core::acd::routing::Need {
                    skill: &q.group,
                    min_level: q.min_level,
                },
            )
        })
        .collect();
    let snap = board
        .as_ref()
        .map(|b| super::board::live_snapshot(b, &needs, &Default::default(), now_ms));
    family(out, "contactd_queue_callers_waiting");
    for q in snap.iter().flat_map(|s| &s.queues) {
        let _ = writeln!(
            out,
            "contactd_queue_callers_waiting{{queue=\"{}\"}} {}",
            label(&q.name),
            q.waiting.len()
        );
    }
    family(out, "contactd_queue_longest_wait_seconds");
    for q in snap.iter().flat_map(|s| &s.queues) {
        let waited = q
            .longest_since_ms
            .map_or(0.0, |t| (now_ms - t).max(0) as f64 / 1000.0);
        let _ = writeln!(
            out,
            "contactd_queue_longest_wait_seconds{{queue=\"{}\"}} {waited:.3}",
            label(&q.name)
        );
    }
    family(out, "contactd_queue_operators_ready");
    for q in snap.iter().flat_map(|s| &s.queues) {
        let _ = writeln!(
            out,
            "contactd_queue_operators_ready{{queue=\"{}\"}} {}",
            label(&q.name),
            q.ready
        );
    }
    family(out, "contactd_operators");
    if let Some(b) = &board {
        for state in StateName::ALL {
            let n = b.agents.iter().filter(|(_, i)| i.state == state).count();
            let _ = writeln!(out, "contactd_operators{{state=\"{}\"}} {n}", state.key());
        }
    }
    family(out, "contactd_trunk_lines_in_use");
    for name in shared.config.trunk.keys() {
        match shared.live.lines_in_use(name).await {
            Ok(n) => {
                let _ = writeln!(
                    out,
                    "contactd_trunk_lines_in_use{{trunk=\"{}\"}} {n}",
                    label(name)
                );
            }
            Err(e) => debug!(trunk = %name, "metrics: lines in use: {e}"),
        }
    }
    family(out, "contactd_trunk_lines");
    for (name, t) in &shared.config.trunk {
        let _ = writeln!(
            out,
            "contactd_trunk_lines{{trunk=\"{}\"}} {}",
            label(name),
            t.channels
        );
    }
    // A scrape must answer even while PostgreSQL is away: the counters are then left out.
    let mut counted = String::new();
    let result = tokio::time::timeout(OUTCOMES_WAIT, outcomes(shared, &mut counted)).await;
    match result {
        Ok(Ok(())) => out.push_str(&counted),
        Ok(Err(e)) => debug!("metrics: calls by outcome: {e}"),
        Err(_) => debug!("metrics: calls by outcome: no answer in {OUTCOMES_WAIT:?}"),
    }
}

/// Counters from the records: rows are never deleted, so the counts only grow.
async fn outcomes(shared: &HttpState, out: &mut String) -> Result<(), crate::store::StoreError> {
    let db = shared.pool.get().await?;
    family(out, "contactd_acd_calls_total");
    let rows = db
        .query(
            "SELECT queue, outcome, count(*) FROM acd_calls WHERE outcome IS NOT NULL
             GROUP BY queue, outcome ORDER BY queue, outcome",
            &[],
        )
        .await?;
    for r in rows {
        let (q, o, n): (String, String, i64) = (r.get(0), r.get(1), r.get(2));
        let _ = writeln!(
            out,
            "contactd_acd_calls_total{{queue=\"{}\",outcome=\"{}\"}} {n}",
            label(&q),
            label(&o)
        );
    }
    family(out, "contactd_campaign_calls_total");
    let rows = db
        .query(
            "SELECT outcome, count(*) FROM attempts WHERE outcome IS NOT NULL
             GROUP BY outcome ORDER BY outcome",
            &[],
        )
        .await?;
    for r in rows {
        let (o, n): (String, i64) = (r.get(0), r.get(1));
        let _ = writeln!(
            out,
            "contactd_campaign_calls_total{{outcome=\"{}\"}} {n}",
            label(&o)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_values_are_escaped() {
        assert_eq!(super::label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
