//! `contactd staffing`: operators needed for a load and a service-level goal, by Erlang C
//! and, given the callers' patience, Erlang A (`core::staffing`). Needs no config, database
//! or switch; `--from-history` forecasts a queue's coming days from its past weeks
//! (`core::forecast`, `store::forecast`) and needs the config and the database.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cli::exit::Exit;
use crate::config::Config;
use crate::core::forecast::Goal;
use crate::core::staffing::{
    erlang_a, operators_needed, operators_needed_a, with_operators, Load, Staffed, StaffedA,
};
use crate::mail::report::report_locale;
use crate::store::forecast::{forecast, Forecast, ForecastQuery};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Calls offered per hour.
    #[arg(long, required_unless_present = "from_history")]
    pub calls_per_hour: Option<f64>,
    /// Average handle time (talk + after-call work), seconds.
    #[arg(long, required_unless_present = "from_history")]
    pub aht_seconds: Option<u64>,
    /// Answer within this many seconds… (with --from-history: default the queue's
    /// service_level_seconds)
    #[arg(long, required_unless_present = "from_history")]
    pub target_seconds: Option<u64>,
    /// …for this percentage of the callers (e.g. 80; with --from-history: default the
    /// queue's service_level_goal).
    #[arg(long, required_unless_present = "from_history")]
    pub service_level: Option<f64>,
    /// The callers' average patience, seconds: also staff by Erlang A (callers who hang up).
    #[arg(long)]
    pub patience_seconds: Option<u64>,
    /// Forecast each half-hour of the coming days from the queue's history (needs the
    /// config and the database).
    #[arg(long, requires = "queue", conflicts_with_all = ["calls_per_hour", "aht_seconds"])]
    pub from_history: bool,
    /// With --from-history: the queue forecast.
    #[arg(long, requires = "from_history")]
    pub queue: Option<String>,
    /// With --from-history: past weeks averaged.
    #[arg(long, default_value_t = 4, requires = "from_history")]
    pub weeks: u32,
    /// With --from-history: days forecast.
    #[arg(long, default_value_t = 7, requires = "from_history")]
    pub days: u32,
    /// With --from-history: first day forecast (YYYY-MM-DD, local); default tomorrow.
    #[arg(long, requires = "from_history")]
    pub from: Option<chrono::NaiveDate>,
}

/// The arguments of the load given on the command line, checked.
struct Plain {
    calls_per_hour: f64,
    aht_seconds: u64,
    target_seconds: u64,
    service_level: f64,
    patience_seconds: Option<u64>,
}

/// Most operators considered: beyond, the goal is called out of reach.
const MAX_OPERATORS: u32 = 5_000;

/// The service-level goal of the arguments (percent to 0–1), or the option that is wrong.
fn goal(target: u64, service_level: f64, patience: Option<u64>) -> Result<Goal, String> {
    if target > 3_600 {
        return Err(format!("--target-seconds {target}: must be 0-3600"));
    }
    if !(service_level.is_finite() && service_level > 0.0 && service_level < 100.0) {
        return Err(format!(
            "--service-level {service_level}: a percentage above 0 and below 100"
        ));
    }
    if let Some(p) = patience.filter(|p| !(1..=3_600).contains(p)) {
        return Err(format!("--patience-seconds {p}: must be 1-3600"));
    }
    Ok(Goal {
        target: Duration::from_secs(target),
        service_level: service_level / 100.0,
        patience: patience.map(Duration::from_secs),
    })
}

/// The report, or what is wrong with the arguments (naming the option).
pub fn run(a: &Args) -> Result<String, String> {
    let (Some(calls_per_hour), Some(aht_seconds), Some(target_seconds), Some(service_level)) = (
        a.calls_per_hour,
        a.aht_seconds,
        a.target_seconds,
        a.service_level,
    ) else {
        return Err("--calls-per-hour, --aht-seconds, --target-seconds and --service-level are needed (or --from-history)".into());
    };
    if !(calls_per_hour.is_finite() && calls_per_hour > 0.0 && calls_per_hour <= 1e6) {
        return Err(format!(
            "--calls-per-hour {calls_per_hour}: must be above 0 and at most 1000000"
        ));
    }
    if !(1..=86_400).contains(&aht_seconds) {
        return Err(format!("--aht-seconds {aht_seconds}: must be 1-86400"));
    }
    goal(target_seconds, service_level, a.patience_seconds)?;
    let a = Plain {
        calls_per_hour,
        aht_seconds,
        target_seconds,
        service_level,
        patience_seconds: a.patience_seconds,
    };
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
        out.push_str(&erlang_a_report(&a, load, target, Duration::from_secs(p)));
    }
    Ok(out)
}

/// The Erlang A part: callers hang up after `patience` on average.
fn erlang_a_report(a: &Plain, load: Load, target: Duration, patience: Duration) -> String {
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

/// `--from-history`: the queue's forecast for the coming days, per half-hour with calls
/// (`store::forecast`), in the `[mail] report_time_zone`.
pub async fn run_from_history(
    a: &Args,
    cfg: &Config,
    pool: &deadpool_postgres::Pool,
    now: DateTime<Utc>,
) -> Result<String, (String, Exit)> {
    let usage = |m: String| (m, Exit::Usage);
    let queue = a.queue.clone().unwrap_or_default();
    if !cfg.acd.queue.contains_key(&queue) {
        return Err(usage(format!("--queue {queue}: no such [acd.queue.NAME]")));
    }
    if !(1..=52).contains(&a.weeks) {
        return Err(usage(format!("--weeks {}: must be 1-52", a.weeks)));
    }
    if !(1..=28).contains(&a.days) {
        return Err(usage(format!("--days {}: must be 1-28", a.days)));
    }
    let zone = report_locale(&cfg.mail)
        .map_err(|_| ("mail.report_time_zone: invalid".to_string(), Exit::Config))?
        .time_zone;
    // the queue's own goal unless the options say otherwise
    let q = &cfg.acd.queue[&queue];
    let goal = goal(
        a.target_seconds
            .unwrap_or(u64::from(q.service_level_seconds)),
        a.service_level.unwrap_or(q.service_level_goal),
        a.patience_seconds,
    )
    .map_err(usage)?;
    let tomorrow = now.with_timezone(&zone).date_naive() + chrono::Days::new(1);
    let q = ForecastQuery {
        queue,
        weeks: a.weeks,
        first_day: a.from.unwrap_or(tomorrow),
        days: a.days,
        goal,
        default_handle: Duration::from_secs(cfg.acd.default_handle_seconds),
        now,
    };
    let f = forecast(pool, zone, &q).await.map_err(|e| {
        let code = if e.is_retryable() {
            Exit::Unavailable
        } else {
            Exit::Software
        };
        (format!("forecast: {e}"), code)
    })?;
    Ok(render_forecast(&f, &q, zone))
}

pub fn render_forecast(f: &Forecast, q: &ForecastQuery, zone: chrono_tz::Tz) -> String {
    let model = match q.goal.patience {
        Some(p) => format!("Erlang A, patience {} s", p.as_secs()),
        None => "Erlang C".into(),
    };
    let mut out = format!(
        "queue {}: {} day(s) from {} forecast from the same weekday of the {} week(s) before ({})\n\
         goal: {} % answered within {} s ({model}); shrinkage {:.1} % (break and absent share of staffed time)\n\n\
         interval          calls     AHT  operators  with shrinkage  service level\n",
        f.queue,
        q.days,
        q.first_day,
        q.weeks,
        zone.name(),
        q.goal.service_level * 100.0,
        q.goal.target.as_secs(),
        f.shrinkage * 100.0,
    );
    let mut quiet = 0;
    for i in &f.intervals {
        if i.calls <= 0.0 {
            quiet += 1;
            continue;
        }
        out.push_str(&format!(
            "{}  {:>6.1}  {:>4.0} s  {:>9}  {:>14}  {:>11.1} %\n",
            i.start.with_timezone(&zone).format("%a %Y-%m-%d %H:%M"),
            i.calls,
            i.aht_s,
            i.operators,
            i.with_shrinkage,
            i.service_level * 100.0
        ));
    }
    out.push_str(&format!(
        "\n{quiet} of {} half-hours have no calls in their history: forecast 0, nobody needed\n",
        f.intervals.len()
    ));
    out
}
