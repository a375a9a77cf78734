//! Trunk release guards for a simulator running on a compressed clock.

use contactd::sim::Simulator;

/// `text` (a contactd config) with `release_guard_ms` set on every `[trunk.*]` that has none
/// to what the simulator's clock wants (`Simulator::trunk_guard_ms`). The simulator still
/// refuses a channel that has not cleared, and counts it.
pub fn for_sim(text: &str, sim: &Simulator) -> String {
    with_guard(text, sim.trunk_guard_ms())
}

/// `text` with `release_guard_ms = ms` added to every `[trunk.*]` section that has none.
pub fn with_guard(text: &str, ms: u64) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut pending = false;
    let close = |out: &mut String, pending: &mut bool| {
        if std::mem::take(pending) {
            out.push_str(&format!("release_guard_ms = {ms}\n"));
        }
    };
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            close(&mut out, &mut pending);
            pending = t.starts_with("[trunk.");
        } else if t.starts_with("release_guard_ms") {
            pending = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    close(&mut out, &mut pending);
    out
}

#[test]
fn every_trunk_gets_a_guard_unless_it_has_one() {
    let text = "[switch.fs1]\nhost = \"x\"\n[trunk.a]\ndial = \"d\"\n[trunk.b]\nrelease_guard_ms = 7\n[campaigns]\ntrunk = \"a\"\n[trunk.c]\ndial = \"e\"";
    let out = with_guard(text, 30);
    assert_eq!(
        out,
        "[switch.fs1]\nhost = \"x\"\n[trunk.a]\ndial = \"d\"\nrelease_guard_ms = 30\n[trunk.b]\nrelease_guard_ms = 7\n[campaigns]\ntrunk = \"a\"\n[trunk.c]\ndial = \"e\"\nrelease_guard_ms = 30\n"
    );
}
