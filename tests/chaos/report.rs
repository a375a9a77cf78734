//! What a scenario leaves behind: its `CHAOS` line and reasons on stdout, contactd's last
//! warnings when it failed, the ground truth and the switch's command log beside its log.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use crate::metrics::Metrics;
use crate::{logs_dir, note};

/// The last 40 warnings and errors of contactd's log (its processes one after another).
pub fn show_warnings(log: &Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    note(format!(
        "the last {} of {} warnings and errors in {}:",
        bad.len().min(40),
        bad.len(),
        log.display()
    ));
    for l in &bad[bad.len().saturating_sub(40)..] {
        eprintln!("    {l}");
    }
}

pub fn failed_setup(e: &str) -> Metrics {
    Metrics {
        why: vec![format!("setup failed: {e}")],
        ..Default::default()
    }
}

pub fn report(name: &str, m: &Metrics) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", m.line(name));
    for w in m.why.iter().chain(&m.notes) {
        let _ = writeln!(out, "  {w}");
    }
    let _ = out.flush();
}

/// The ground truth and the switch's command log next to the contactd log, for debugging.
pub fn dump(
    name: &str,
    truth: &[contactd::sim::PartyRecord],
    api_log: &[(Instant, String)],
    t0: Instant,
) {
    let json = serde_json::to_string_pretty(truth).unwrap_or_default();
    let _ = std::fs::write(logs_dir().join(format!("{name}.truth.json")), json);
    let log: String = api_log
        .iter()
        .map(|(t, l)| {
            let s = if *t >= t0 {
                t.duration_since(t0).as_secs_f64()
            } else {
                -t0.duration_since(*t).as_secs_f64()
            };
            format!("{s:8.3} {l}\n")
        })
        .collect();
    let _ = std::fs::write(logs_dir().join(format!("{name}.switch.log")), log);
}
