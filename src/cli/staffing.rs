//! `contactd staffing`: operators needed for a load and a service-level goal, by Erlang C
//! and, given the callers' patience, Erlang A (`core::staffing`). Needs no config, database
//! or switch.

use std::time::Duration;

use crate::core::staffing::{
    erlang_a, operators_needed, operators_needed_a, with_operators, Load, Staffed, StaffedA,
};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Calls offered per hour.
    #[arg(long)]
    pub calls_per_hour: f64,
    /// Average handle time (talk + after-call work), seconds.
    #[arg(long)]
    pub aht_seconds: u64,
    /// Answer within this many seconds…
    #[arg(long)]
    pub target_seconds: u64,
    /// …for this percentage of the callers (e.g. 80).
    #[arg(long)]
    pub service_level: f64,
    /// The callers' average patience, seconds: also staff by Erlang A (callers who hang up).
    #[arg(long)]
    pub patience_seconds: Option<u64>,
}

/// Most operators considered: beyond, the goal is called out of reach.
const MAX_OPERATORS: u32 = 5_000;

/// The report, or what is wrong with the arguments (naming the option).
pub fn run(a: &Args) -> Result<String, String> {
    if !(a.calls_per_hour.is_finite() && a.calls_per_hour > 0.0 && a.calls_per_hour <= 1e6) {
        return Err(format!(
            "--calls-per-hour {}: must be above 0 and at most 1000000",
            a.calls_per_hour
        ));
    }
    if !(1..=86_400).contains(&a.aht_seconds) {
        return Err(format!("--aht-seconds {}: must be 1-86400", a.aht_seconds));
    }
    if a.target_seconds > 3_600 {
        return Err(format!(
            "--target-seconds {}: must be 0-3600",
            a.target_seconds
        ));
    }
    if !(a.service_level.is_finite() && a.service_level > 0.0 && a.service_level < 100.0) {
        return Err(format!(
            "--service-level {}: a percentage above 0 and below 100",
            a.service_level
        ));
    }
    if let Some(p) = a.patience_seconds.filter(|p| !(1..=3_600).contains(p)) {
        return Err(format!("--patience-seconds {p}: must be 1-3600"));
    }
    let load = Load {
        calls_per_hour: a.calls_per_hour,
        aht: Duration::from_secs(a.aht_seconds),
    };
    let target = Duration::from_secs(a.target_seconds);
    let mut out = format!(
        "load: {:.2} Erlangs ({} calls/h x {} s)\n",
        load.erlangs(),
        a.calls_per_hour,
        a.aht_seconds
    );
    let Some(need) = operators_needed(load, target, a.service_level / 100.0, MAX_OPERATORS) else {
        out.push_str(&format!(
            "more than {MAX_OPERATORS} operators would be needed for {} % in {} s\n",
            a.service_level, a.target_seconds
        ));
        return Ok(out);
    };
    out.push_str(&format!(
        "{} operators needed to answer {} % of the calls within {} s (Erlang C)\n\n",
        need.operators, a.service_level, a.target_seconds
    ));
    out.push_str("operators  answered in time  wait at all  ASA       occupancy\n");
    for n in around(need.operators) {
        out.push_str(&row(&with_operators(load, n, target), n == need.operators));
    }
    if let Some(p) = a.patience_seconds {
        out.push_str(&erlang_a_report(a, load, target, Duration::from_secs(p)));
    }
    Ok(out)
}

/// The Erlang A part: callers hang up after `patience` on average.
fn erlang_a_report(a: &Args, load: Load, target: Duration, patience: Duration) -> String {
    let goal = a.service_level / 100.0;
    let Some(need) = operators_needed_a(load, target, goal, patience, MAX_OPERATORS) else {
        return format!(
            "\nErlang A (patience {} s): the goal is out of reach\n",
            patience.as_secs()
        );
    };
    let mut out = format!(
        "\nErlang A (callers hang up after {} s on average): {} operators needed\n\n\
         operators  answered in time  abandoned  average wait  occupancy\n",
        patience.as_secs(),
        need.operators
    );
    for n in around(need.operators) {
        if let Some(s) = erlang_a(load, n, target, patience) {
            out.push_str(&row_a(&s, n == need.operators));
        }
    }
    out
}

fn row_a(s: &StaffedA, chosen: bool) -> String {
    format!(
        "{:>9}  {:>15.1} %  {:>7.1} %  {:>10.1} s  {:>7.1} %{}\n",
        s.operators,
        s.service_level * 100.0,
        s.abandon_probability * 100.0,
        s.average_wait_s,
        s.occupancy * 100.0,
        if chosen { "  <- needed" } else { "" }
    )
}

/// The operators shown: those needed and one either side (at least one).
fn around(needed: u32) -> std::ops::RangeInclusive<u32> {
    needed.saturating_sub(1).max(1)..=needed + 1
}

fn row(s: &Staffed, chosen: bool) -> String {
    let asa = if s.asa_s.is_finite() {
        format!("{:.1} s", s.asa_s)
    } else {
        "endless".into()
    };
    format!(
        "{:>9}  {:>15.1} %  {:>9.1} %  {:<8}  {:>7.1} %{}\n",
        s.operators,
        s.service_level * 100.0,
        s.wait_probability * 100.0,
        asa,
        s.occupancy * 100.0,
        if chosen { "  <- needed" } else { "" }
    )
}
