//! The counts of one scenario, computed from the simulator's ground truth (what each party
//! really experienced), and from contactd's PostgreSQL records only where the count is about
//! those records. The rules are in the README ("Fault matrix").

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use contactd::sim::{AgentOffer, PartyRecord};

use crate::traffic::{Kind, READING_ACCEPTED};

/// The extension of the dialplan's last try to reach contactd (`contactd-reconnect`): a
/// caller transferred there waited out all 15.
const RECONNECT_LAST: &str = "reconnect-xxxxxxxxxxxxxxxx@";

/// An answered party who heard nothing for longer than this (simulated ms, in total) was
/// left in silence.
pub const SILENT_MS: u64 = 5000;

/// What contactd recorded, read after the run.
#[derive(Default, Debug)]
pub struct Records {
    pub finished: bool,
    /// attempts of the campaign: uuid → outcome
    pub attempts: HashMap<String, Option<String>>,
    /// campaign targets not done: (phone, status)
    pub stranded: Vec<(String, String)>,
    /// inbound `calls` rows not ended: (uuid, state)
    pub open_calls: Vec<(String, String)>,
    /// `acd_calls` rows without an end
    pub open_acd: Vec<String>,
    /// call uuids of stored meter readings
    pub readings: HashSet<String>,
}

pub struct Input<'a> {
    pub truth: &'a [PartyRecord],
    pub budget: &'a str,
    /// the operator campaign's calls, counted by `opcamp::compute` against its own limit
    pub op_budget: Option<&'a str>,
    pub message: &'a str,
    pub callers: &'a [(String, Kind)],
    pub offers: &'a [AgentOffer],
    pub gave_up: &'a [String],
    pub trunk_span: &'a str,
    pub trunk_cap: u32,
    pub lines: u32,
    pub api_log: &'a [(Instant, String)],
    pub cleared: Instant,
    pub ended: Instant,
    pub records: &'a Records,
}

#[derive(Default, Debug)]
pub struct Metrics {
    pub finished: bool,
    pub double_dials: usize,
    pub dead_air_redials: usize,
    pub lost_outcomes: usize,
    pub silent_calls: usize,
    pub over_cap: u32,
    pub stranded: usize,
    pub lost_readings: usize,
    pub lost_acd_callers: usize,
    pub cut_off_callers: usize,
    pub resume_s: f64,
    /// the operator campaign's counts (`opcamp_*` scenarios)
    pub op: Option<crate::opcamp::OpMetrics>,
    /// transfers accepted, and of them lost (`transfers_*` scenarios)
    pub transfers: Option<(usize, usize)>,
    /// one line per non-zero count (and a stalled resume)
    pub why: Vec<String>,
    /// what else is worth knowing when reading the log (not counted)
    pub notes: Vec<String>,
}

impl Metrics {
    pub fn line(&self, name: &str) -> String {
        format!(
            "CHAOS {name} finished={} double_dials={} dead_air_redials={} lost_outcomes={} \
             silent_calls={} over_cap={} stranded={} lost_readings={} lost_acd_callers={} cut_off_callers={} resume_s={:.1}",
            if self.finished { "yes" } else { "no" },
            self.double_dials,
            self.dead_air_redials,
            self.lost_outcomes,
            self.silent_calls,
            self.over_cap,
            self.stranded,
            self.lost_readings,
            self.lost_acd_callers,
            self.cut_off_callers,
            self.resume_s
        ) + &self.op.as_ref().map(|o| o.line_part()).unwrap_or_default()
            + &self
                .transfers
                .map(|(n, lost)| format!(" transfers={n} lost_transfers={lost}"))
                .unwrap_or_default()
    }

    pub fn passed(&self) -> bool {
        self.finished
            && self.double_dials == 0
            && self.dead_air_redials == 0
            && self.lost_outcomes == 0
            && self.silent_calls == 0
            && self.over_cap == 0
            && self.stranded == 0
            && self.lost_readings == 0
            && self.lost_acd_callers == 0
            && self.cut_off_callers == 0
            && self.op.as_ref().is_none_or(|o| o.passed())
            && self.transfers.is_none_or(|(_, lost)| lost == 0)
    }
}

pub fn short(u: &str) -> &str {
    u.get(..8).unwrap_or(u)
}

fn sample<I: IntoIterator<Item = String>>(it: I) -> String {
    let v: Vec<String> = it.into_iter().collect();
    let n = v.len();
    let mut s = v.into_iter().take(6).collect::<Vec<_>>().join(", ");
    if n > 6 {
        s.push_str(&format!(", … ({n} in all)"));
    }
    s
}

/// Did the subscriber hear (some of) the message on this call?
pub fn heard(r: &PartyRecord, message: &str) -> bool {
    r.heard_ms > 0 || r.played.iter().any(|p| p == message)
}

/// Largest number of intervals open at once.
pub fn peak(mut iv: Vec<(u64, u64)>) -> u32 {
    let mut ev: Vec<(u64, i32)> = Vec::with_capacity(iv.len() * 2);
    for (a, b) in iv.drain(..) {
        ev.push((a, 1));
        ev.push((b.max(a), -1));
    }
    // at the same instant a channel that ends frees its line before one that starts takes it
    ev.sort();
    let (mut cur, mut max) = (0i32, 0i32);
    for (_, d) in ev {
        cur += d;
        max = max.max(cur);
    }
    max.max(0) as u32
}

/// When the last party ended (simulated ms): the end of what is still on at the end.
pub fn last_end_ms(truth: &[PartyRecord]) -> u64 {
    truth
        .iter()
        .filter_map(|r| r.ended_at_ms)
        .max()
        .unwrap_or(0)
}

/// The calls a campaign placed (those carrying its line budget `budget`).
pub fn budget_calls<'a>(truth: &'a [PartyRecord], budget: &str) -> Vec<&'a PartyRecord> {
    truth
        .iter()
        .filter(|r| r.var("contactd_budget") == Some(budget))
        .collect()
}

/// Each subscriber's calls, in the order they were dialed.
pub fn by_number<'a>(calls: &[&'a PartyRecord]) -> BTreeMap<&'a str, Vec<&'a PartyRecord>> {
    let mut by: BTreeMap<&str, Vec<&PartyRecord>> = BTreeMap::new();
    for r in calls {
        by.entry(r.number.as_str()).or_default().push(r);
    }
    for cs in by.values_mut() {
        cs.sort_by_key(|r| r.dialed_at_ms);
    }
    by
}

pub fn compute(i: &Input) -> Metrics {
    let mut m = Metrics {
        finished: i.records.finished,
        ..Default::default()
    };
    let now_ms = last_end_ms(i.truth);
    let campaign = budget_calls(i.truth, i.budget);

    // double_dials / dead_air_redials: per subscriber, calls in the order they were dialed
    let (mut dd, mut dar) = (Vec::new(), Vec::new());
    for (n, calls) in by_number(&campaign) {
        let last = calls.len().saturating_sub(1);
        let earlier = &calls[..last];
        if let Some(c) = earlier.iter().find(|c| heard(c, i.message)) {
            dd.push(format!(
                "{n} ({} calls; heard {} ms on {})",
                calls.len(),
                c.heard_ms,
                short(&c.uuid)
            ));
        } else if let Some(c) = earlier.iter().find(|c| c.answered) {
            dar.push(format!(
                "{n} ({} calls; {} answered, heard nothing, {})",
                calls.len(),
                short(&c.uuid),
                c.hangup_cause.as_deref().unwrap_or("-")
            ));
        }
    }
    m.double_dials = dd.len();
    if !dd.is_empty() {
        m.why.push(format!("double_dials: {}", sample(dd)));
    }
    m.dead_air_redials = dar.len();
    if !dar.is_empty() {
        m.why.push(format!("dead_air_redials: {}", sample(dar)));
    }

    // lost_outcomes
    let mut no_outcome = Vec::new();
    let mut wrong = Vec::new();
    for r in &campaign {
        match i.records.attempts.get(&r.uuid) {
            None => no_outcome.push(format!("{} (no attempt row)", short(&r.uuid))),
            Some(None) => no_outcome.push(short(&r.uuid).to_string()),
            Some(Some(o)) => {
                let full = r.playbacks_completed > 0 && r.played.iter().any(|p| p == i.message);
                if full && o != "listened_full" {
                    wrong.push(format!("{} heard it all, recorded {o}", short(&r.uuid)));
                }
            }
        }
    }
    let open: Vec<String> = i
        .records
        .open_calls
        .iter()
        .map(|(u, s)| format!("call {} {s}", short(u)))
        .chain(
            i.records
                .open_acd
                .iter()
                .map(|u| format!("acd_call {}", short(u))),
        )
        .collect();
    m.lost_outcomes = no_outcome.len() + wrong.len() + open.len();
    if !no_outcome.is_empty() {
        m.why.push(format!(
            "lost_outcomes: {} campaign calls without an outcome: {}",
            no_outcome.len(),
            sample(no_outcome)
        ));
    }
    if !wrong.is_empty() {
        m.why.push(format!(
            "lost_outcomes: {} full listens not recorded as listened_full: {}",
            wrong.len(),
            sample(wrong)
        ));
    }
    if !open.is_empty() {
        m.why.push(format!(
            "lost_outcomes: {} IVR/ACD rows left without an end: {}",
            open.len(),
            sample(open)
        ));
    }

    // silent_calls: any answered party, by kind
    let kinds: HashMap<&str, &Kind> = i.callers.iter().map(|(u, k)| (u.as_str(), k)).collect();
    let kind_of = |r: &PartyRecord| -> &'static str {
        if r.var("contactd_budget") == Some(i.budget) {
            "subscriber"
        } else if r.endpoint == "user" {
            "operator"
        } else {
            match kinds.get(r.uuid.as_str()) {
                Some(Kind::Meter { .. }) => "ivr",
                Some(Kind::Acd) => "acd",
                None => "other",
            }
        }
    };
    let silent: Vec<&PartyRecord> = i
        .truth
        .iter()
        .filter(|r| r.answered && r.dead_air_ms > SILENT_MS)
        .filter(|r| i.op_budget.is_none() || r.var("contactd_budget") != i.op_budget)
        .collect();
    m.silent_calls = silent.len();
    if !silent.is_empty() {
        let mut per: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &silent {
            *per.entry(kind_of(r)).or_default() += 1;
        }
        let per: Vec<String> = per.iter().map(|(k, n)| format!("{n} {k}")).collect();
        m.why.push(format!(
            "silent_calls: {}; e.g. {}",
            per.join(", "),
            sample(silent.iter().map(|r| format!(
                "{} {} {} ms (longest {} ms, {})",
                kind_of(r),
                short(&r.uuid),
                r.dead_air_ms,
                r.max_dead_air_ms,
                r.hangup_cause.as_deref().unwrap_or("up")
            )))
        ));
    }

    // over_cap: channels on the trunk, and channels of the campaign, at once
    let span: Vec<(u64, u64)> = i
        .truth
        .iter()
        .filter(|r| r.trunk.as_deref() == Some(i.trunk_span))
        .map(|r| (r.dialed_at_ms, r.ended_at_ms.unwrap_or(now_ms)))
        .collect();
    let budget: Vec<(u64, u64)> = campaign
        .iter()
        .map(|r| (r.dialed_at_ms, r.ended_at_ms.unwrap_or(now_ms)))
        .collect();
    let (pt, pb) = (peak(span), peak(budget));
    m.over_cap = pt
        .saturating_sub(i.trunk_cap)
        .max(pb.saturating_sub(i.lines));
    if m.over_cap > 0 {
        m.why.push(format!(
            "over_cap: {pt} channels at once on the trunk (cap {}), {pb} of the campaign (lines {})",
            i.trunk_cap, i.lines
        ));
    }

    // stranded
    m.stranded = i.records.stranded.len();
    if m.stranded > 0 {
        m.why.push(format!(
            "stranded: {}",
            sample(i.records.stranded.iter().map(|(p, s)| format!("{p} {s}")))
        ));
    }

    // lost_readings
    let by_uuid: HashMap<&str, &PartyRecord> =
        i.truth.iter().map(|r| (r.uuid.as_str(), r)).collect();
    let mut lost = Vec::new();
    for (u, k) in i.callers {
        let Kind::Meter { account, value } = k else {
            continue;
        };
        let Some(r) = by_uuid.get(u.as_str()) else {
            continue;
        };
        let told = r.played.iter().any(|p| p.contains(READING_ACCEPTED));
        if told && !i.records.readings.contains(u) {
            lost.push(format!("{} ({account} = {value})", short(u)));
        }
    }
    m.lost_readings = lost.len();
    if !lost.is_empty() {
        m.why.push(format!(
            "lost_readings: told \"accepted\", not stored: {}",
            sample(lost)
        ));
    }

    // lost_acd_callers
    let offered: HashSet<&str> = i
        .offers
        .iter()
        .filter_map(|o| {
            o.vars
                .iter()
                .find(|(k, _)| k == "contactd_acd_call")
                .map(|(_, v)| v.as_str())
        })
        .collect();
    let gave_up: HashSet<&str> = i.gave_up.iter().map(String::as_str).collect();
    let mut lost = Vec::new();
    for (u, k) in i.callers {
        if !matches!(k, Kind::Acd) {
            continue;
        }
        let Some(r) = by_uuid.get(u.as_str()) else {
            continue;
        };
        let queued = r.transfers.iter().any(|t| t.ends_with("@contactd-acd"));
        if !queued {
            continue;
        }
        let bridged = !r.bridged_to.is_empty();
        let why = if !bridged && r.hangup_by.as_deref() == Some("switch") {
            Some(format!(
                "cut off by the switch side ({})",
                r.hangup_cause.as_deref().unwrap_or("-")
            ))
        } else if r.dead_air_ms > SILENT_MS {
            Some(format!("{} ms of dead air", r.dead_air_ms))
        } else if !bridged
            && !offered.contains(u.as_str())
            && r.hangup_by.as_deref() == Some("party")
            && !gave_up.contains(u.as_str())
        {
            Some("waited its whole patience, no operator phone ever rang for it".into())
        } else {
            None
        };
        if let Some(w) = why {
            lost.push(format!("{} {w}", short(u)));
        }
    }
    m.lost_acd_callers = lost.len();
    if !lost.is_empty() {
        m.why.push(format!("lost_acd_callers: {}", sample(lost)));
    }

    // cut_off_callers: inbound callers the switch side hung up in the IVR (before any
    // transfer to the queue, where lost_acd_callers takes over) with their business not
    // done; a switch crash ("system") is not contactd's doing. Nor is the dialplan giving
    // up after its 15 tries (about 30 simulated s) while contactd could not start: that is
    // a note, since here every real second contactd is away is 5 simulated ones
    let gave_up = |r: &PartyRecord| {
        r.hangup_cause.as_deref() == Some("NORMAL_TEMPORARY_FAILURE")
            && r.transfers.iter().any(|t| t.starts_with(RECONNECT_LAST))
    };
    let waited_out: Vec<String> = i
        .callers
        .iter()
        .filter_map(|(u, _)| by_uuid.get(u.as_str()).filter(|r| gave_up(r)))
        .map(|r| {
            let on_line = r.ended_at_ms.unwrap_or(r.dialed_at_ms) - r.dialed_at_ms;
            format!(
                "{} ({} simulated s on the line)",
                short(&r.uuid),
                on_line / 1000
            )
        })
        .collect();
    if !waited_out.is_empty() {
        m.notes.push(format!(
            "note: {} inbound callers waited out the 15 tries to reach contactd: {}",
            waited_out.len(),
            sample(waited_out)
        ));
    }
    let cut: Vec<String> = i
        .callers
        .iter()
        .filter_map(|(u, k)| {
            let r = by_uuid.get(u.as_str())?;
            let done =
                r.played.iter().any(|p| p.contains(READING_ACCEPTED)) || !r.bridged_to.is_empty();
            let queued = r.transfers.iter().any(|t| t.ends_with("@contactd-acd"));
            let by_switch = r.hangup_by.as_deref() == Some("switch");
            (!done && !queued && by_switch && !gave_up(r)).then(|| {
                format!(
                    "{} {} {}",
                    if matches!(k, Kind::Acd) { "acd" } else { "ivr" },
                    short(u),
                    r.hangup_cause.as_deref().unwrap_or("-")
                )
            })
        })
        .collect();
    m.cut_off_callers = cut.len();
    if !cut.is_empty() {
        m.why.push(format!(
            "cut_off_callers: hung up by the switch side in the IVR: {}",
            sample(cut)
        ));
    }

    // resume_s: first campaign originate after the fault was cleared
    let tag = format!("contactd_budget={}", i.budget);
    let first = i
        .api_log
        .iter()
        .filter(|(t, l)| *t >= i.cleared && l.contains("originate") && l.contains(&tag))
        .map(|(t, _)| *t)
        .min();
    m.resume_s = match first {
        Some(t) => t.duration_since(i.cleared).as_secs_f64(),
        None => {
            let dialed_before = i
                .api_log
                .iter()
                .any(|(t, l)| *t < i.cleared && l.contains(&tag));
            if i.records.finished && i.records.stranded.is_empty() && dialed_before {
                // nothing was left to dial when the fault cleared
                0.0
            } else {
                m.why.push(
                    "resume_s: no campaign originate after the fault was cleared (time to the end)"
                        .into(),
                );
                i.ended.saturating_duration_since(i.cleared).as_secs_f64()
            }
        }
    };
    m
}
