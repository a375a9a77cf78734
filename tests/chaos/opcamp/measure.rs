//! What the operator campaign's subscribers and operators experienced, counted from the
//! simulator's ground truth and the records (README, "Fault matrix").

use std::path::Path;

use contactd::sim::{AgentOffer, PartyRecord};

use crate::metrics::{budget_calls, by_number, last_end_ms, short};

use super::{abandon_path, Disposed, OpRecords, LINES, OPERATORS, SPAN, TRUNK_CAP};

/// The counts of the operator campaign (README, "Fault matrix").
#[derive(Default, Debug)]
pub struct OpMetrics {
    pub finished: bool,
    /// a subscriber dialed again after an operator talked with them or they heard the
    /// abandon message
    pub double_dials: usize,
    /// an answered subscriber who got neither an operator nor the abandon message
    pub unserved: usize,
    /// an answered subscriber left in silence longer than the law allows before an operator
    /// or the abandon message (2 s, `connect_within`), in all
    pub silent: usize,
    /// a subscriber talking with an operator hung up by the switch side (contactd), not by
    /// themselves
    pub cut_off: usize,
    /// calls without an outcome, and dispositions accepted (200) but not stored
    pub lost_outcomes: usize,
    /// channels at once above trunk `e2`'s channels or the campaign's lines
    pub over_cap: u32,
    /// an operator phone carrying two campaign calls at once
    pub double_booked: usize,
    pub stranded: usize,
    /// operators not ready at the end (the harness never takes them out of ready)
    pub not_ready: usize,
    /// calls whose recorded outcome says otherwise than what the customer lived: `connected`
    /// (a disposition owed) though no operator was ever bridged to them, or `abandoned`
    /// though one was
    pub wrong_outcome: usize,
    pub why: Vec<String>,
    pub notes: Vec<String>,
}

impl OpMetrics {
    pub fn line_part(&self) -> String {
        format!(
            " op_finished={} op_double_dials={} op_unserved={} op_silent={} op_cut_off={} \
             op_lost_outcomes={} op_over_cap={} op_double_booked={} op_stranded={} \
             op_not_ready={} op_wrong_outcome={}",
            if self.finished { "yes" } else { "no" },
            self.double_dials,
            self.unserved,
            self.silent,
            self.cut_off,
            self.lost_outcomes,
            self.over_cap,
            self.double_booked,
            self.stranded,
            self.not_ready,
            self.wrong_outcome
        )
    }

    pub fn passed(&self) -> bool {
        self.finished
            && self.double_dials == 0
            && self.unserved == 0
            && self.silent == 0
            && self.cut_off == 0
            && self.lost_outcomes == 0
            && self.over_cap == 0
            && self.double_booked == 0
            && self.stranded == 0
            && self.not_ready == 0
            && self.wrong_outcome == 0
    }
}

fn served(r: &PartyRecord, abandon: &str) -> bool {
    !r.bridged_to.is_empty() || r.played.iter().any(|p| p == abandon)
}

pub struct OpInput<'a> {
    pub truth: &'a [PartyRecord],
    pub budget: &'a str,
    pub dir: &'a Path,
    pub offers: &'a [AgentOffer],
    pub records: &'a OpRecords,
    pub disposed: &'a Disposed,
    /// the operators' states at the end
    pub states: &'a [(String, String)],
    /// simulated ms per real ms
    pub time_scale: f64,
}

pub fn compute(i: &OpInput) -> OpMetrics {
    let abandon = abandon_path(i.dir);
    let mut m = OpMetrics {
        finished: i.records.finished,
        ..Default::default()
    };
    let now_ms = last_end_ms(i.truth);
    let calls = budget_calls(i.truth, i.budget);

    let mut dd = Vec::new();
    for (n, cs) in by_number(&calls) {
        let last = cs.len().saturating_sub(1);
        if let Some(c) = cs[..last].iter().find(|c| served(c, &abandon)) {
            dd.push(format!(
                "{n} ({} calls; served on {})",
                cs.len(),
                short(&c.uuid)
            ));
        }
    }
    m.double_dials = dd.len();
    if !dd.is_empty() {
        m.why.push(format!("op_double_dials: {}", dd.join(", ")));
    }

    let unserved: Vec<String> = calls
        .iter()
        .filter(|r| r.answered && !served(r, &abandon))
        .map(|r| {
            format!(
                "{} {} (hung up by {}, {} ms dead air)",
                short(&r.uuid),
                r.number,
                r.hangup_by.as_deref().unwrap_or("nobody"),
                r.dead_air_ms
            )
        })
        .collect();
    m.unserved = unserved.len();
    if !unserved.is_empty() {
        m.why.push(format!("op_unserved: {}", unserved.join(", ")));
    }

    // the 2 s a person may wait for an operator, on the simulated clock
    let limit_ms = (2000.0 / i.time_scale) as u64;
    let silent: Vec<String> = calls
        .iter()
        .filter(|r| r.answered && r.dead_air_ms > limit_ms)
        .map(|r| {
            format!(
                "{} {} {} ms (real {:.1} s)",
                short(&r.uuid),
                r.number,
                r.dead_air_ms,
                r.dead_air_ms as f64 * i.time_scale / 1000.0
            )
        })
        .collect();
    m.silent = silent.len();
    if !silent.is_empty() {
        m.why.push(format!("op_silent: {}", silent.join(", ")));
    }

    let cut: Vec<String> = calls
        .iter()
        .filter(|r| !r.bridged_to.is_empty())
        .filter(|r| matches!(r.hangup_by.as_deref(), Some("switch" | "system")))
        // a switch crash ends every call: the fault itself, not contactd cutting anyone off
        .filter(|r| r.hangup_cause.as_deref() != Some("CRASH"))
        .map(|r| {
            format!(
                "{} {} ({})",
                short(&r.uuid),
                r.number,
                r.hangup_cause.as_deref().unwrap_or("-")
            )
        })
        .collect();
    m.cut_off = cut.len();
    if !cut.is_empty() {
        m.why.push(format!("op_cut_off: {}", cut.join(", ")));
    }

    // not a count: the abandon message later than 2 s (real) after the answer; a SIGKILL
    // while a person is connecting makes that unavoidable (contactd is away ≥ 2 s)
    let late: Vec<String> = calls
        .iter()
        .filter_map(|r| {
            let k = r.played.iter().position(|p| *p == abandon)?;
            let sim_ms = r.played_at_ms[k].saturating_sub(r.answered_at_ms?);
            let real_ms = sim_ms as f64 * i.time_scale;
            (real_ms > 2000.0).then(|| format!("{} after {real_ms:.0} ms", short(&r.uuid)))
        })
        .collect();
    let abandoned = calls.iter().filter(|r| r.played.contains(&abandon)).count();
    let talked = calls.iter().filter(|r| !r.bridged_to.is_empty()).count();
    let not_ready: Vec<String> = OPERATORS
        .iter()
        .map(|e| format!("op{e}"))
        .filter_map(|l| match i.states.iter().find(|(x, _)| *x == l) {
            Some((_, s)) if s == "ready" => None,
            Some((_, s)) => Some(format!("{l} {s}")),
            None => Some(format!("{l} not listed")),
        })
        .collect();
    m.not_ready = not_ready.len();
    if !not_ready.is_empty() {
        m.why
            .push(format!("op_not_ready: {}", not_ready.join(", ")));
    }
    m.notes.push(format!(
        "note: operator campaign: {} calls, {talked} talked with an operator, {abandoned} heard \
         the abandon message ({} of them later than 2 s{}{})",
        calls.len(),
        late.len(),
        if late.is_empty() { "" } else { ": " },
        late.join(", ")
    ));

    let mut lost: Vec<String> = calls
        .iter()
        .filter(|r| !matches!(i.records.attempts.get(&r.uuid), Some(Some(_))))
        .map(|r| format!("{} without an outcome", short(&r.uuid)))
        .collect();
    let acc = i.disposed.lock().unwrap_or_else(|e| e.into_inner()).clone();
    lost.extend(
        acc.iter()
            .filter(|c| !i.records.disposed.contains(*c))
            .map(|c| format!("{} disposition accepted, not stored", short(c))),
    );
    m.lost_outcomes = lost.len();
    if !lost.is_empty() {
        m.why.push(format!("op_lost_outcomes: {}", lost.join(", ")));
    }

    let iv = |rs: &mut dyn Iterator<Item = &PartyRecord>| -> Vec<(u64, u64)> {
        rs.map(|r| (r.dialed_at_ms, r.ended_at_ms.unwrap_or(now_ms)))
            .collect()
    };
    let span = iv(&mut i.truth.iter().filter(|r| r.trunk.as_deref() == Some(SPAN)));
    let own = iv(&mut calls.iter().copied());
    let (pt, pb) = (crate::metrics::peak(span), crate::metrics::peak(own));
    m.over_cap = pt.saturating_sub(TRUNK_CAP).max(pb.saturating_sub(LINES));
    if m.over_cap > 0 {
        m.why.push(format!(
            "op_over_cap: {pt} channels at once on span {SPAN} (cap {TRUNK_CAP}), {pb} of the \
             campaign (lines {LINES})"
        ));
    }

    // an operator's phone carrying two answered campaign legs at once
    let mut booked = Vec::new();
    for ext in OPERATORS {
        let legs: Vec<(u64, u64)> = i
            .offers
            .iter()
            .filter(|o| o.ext == ext && o.answered)
            .filter_map(|o| {
                let a = o.answered_at_us?.max(0) as u64;
                Some((a, o.ended_at_us.map_or(u64::MAX, |e| e.max(0) as u64)))
            })
            .collect();
        if crate::metrics::peak(legs) > 1 {
            booked.push(ext.to_string());
        }
    }
    m.double_booked = booked.len();
    if !booked.is_empty() {
        m.why.push(format!(
            "op_double_booked: operators on two calls at once: {}",
            booked.join(", ")
        ));
    }

    let wrong: Vec<String> = calls
        .iter()
        .filter_map(|r| {
            let outcome = i.records.attempts.get(&r.uuid)?.as_deref()?;
            let talked = !r.bridged_to.is_empty();
            let wrong = match outcome {
                "connected" => !talked,
                "abandoned" => talked,
                _ => false,
            };
            wrong.then(|| {
                format!(
                    "{} {} recorded {outcome}, {}",
                    short(&r.uuid),
                    r.number,
                    if talked {
                        "talked with an operator"
                    } else {
                        "never bridged to an operator"
                    }
                )
            })
        })
        .collect();
    m.wrong_outcome = wrong.len();
    if !wrong.is_empty() {
        m.why
            .push(format!("op_wrong_outcome: {}", wrong.join(", ")));
    }

    m.stranded = i.records.stranded.len();
    if m.stranded > 0 {
        let s: Vec<String> = i
            .records
            .stranded
            .iter()
            .map(|(p, s)| format!("{p} {s}"))
            .collect();
        m.why.push(format!("op_stranded: {}", s.join(", ")));
    }
    m
}
