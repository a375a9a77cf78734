//! The fault matrix (`make chaos`): contactd as a process on throwaway PostgreSQL and Redis,
//! driving the in-process FreeSWITCH simulator through a 300-subscriber campaign on 10 lines
//! while IVR callers pass meter readings and customers wait for operators — and a fault is
//! injected mid-run (SIGKILL, PostgreSQL or Redis stopped, paused or emptied, the ESL link
//! dropped, the switch restarted, or all of them). What happened is then measured from the
//! simulator's ground truth and printed as one line per scenario:
//!
//! `CHAOS <scenario> finished=yes|no double_dials=N dead_air_redials=N lost_outcomes=N
//! silent_calls=N over_cap=N stranded=N lost_readings=N lost_acd_callers=N cut_off_callers=N resume_s=X`
//!
//! Arguments: none (as under `cargo test`, whose flags are ignored): the three of
//! `faults::QUICK`; `--all`: the whole matrix; `--scenario NAME`: one. Exit status 1 if any
//! scenario did not finish or counted anything. The README's "Fault matrix" section
//! defines every count.

mod daemon;
mod faults;
#[allow(dead_code)] // for_sim: the suite's; chaos knows its time scale
#[path = "../common/guard.rs"]
mod guard;
mod metrics;
mod opcamp;
#[path = "../common/prompts.rs"]
mod prompts;
mod records;
mod report;
mod services;
mod traffic;
mod transfers;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contactd::sim::Simulator;

use daemon::{Daemon, Endpoints};
use faults::Scenario;
use metrics::{Input, Metrics};
use records::{campaign_state, read_records, settled};
use report::{dump, failed_setup, report, show_warnings};
use services::{Pg, Redis};

/// Real seconds after the campaign starts when the fault begins.
const FAULT_AT: f64 = 8.0;
/// Real seconds the campaign may take beyond the fault's timeline before it counts as not
/// finished.
const FINISH_SLACK: f64 = 75.0;
/// Inbound callers keep coming at least this long (real s), and until 5 s after the fault.
const STREAM_MIN: f64 = 30.0;
/// After the campaign: how long the last calls may take to end (real s).
const DRAIN: Duration = Duration::from_secs(25);
/// After the last call: how long contactd has to complete its records (real s).
const SETTLE: Duration = Duration::from_secs(15);

fn logs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chaos")
}

fn note(s: impl AsRef<str>) {
    eprintln!("chaos: {}", s.as_ref());
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo test -- --list` and the like: this target has no unit tests to list
    if args.iter().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    let all = faults::matrix();
    let filters = positional(&args);
    let chosen: Vec<Scenario> = if args.iter().any(|a| a == "--all") {
        all
    } else if args.iter().any(|a| a == "--ignored") {
        // `cargo test -- --ignored`: only ignored tests, and this target has none
        Vec::new()
    } else if !filters.is_empty() {
        // `cargo test NAME`: like a test filter, scenarios whose name contains it
        all.into_iter()
            .chain([faults::control()])
            .filter(|s| filters.iter().any(|f| s.name.contains(f.as_str())))
            .collect()
    } else if let Some(i) = args.iter().position(|a| a == "--scenario") {
        let Some(name) = args.get(i + 1) else {
            eprintln!("--scenario NAME; one of: {}", names(&all));
            return ExitCode::from(64);
        };
        match all
            .into_iter()
            .chain([faults::control()])
            .find(|s| s.name == name)
        {
            Some(s) => vec![s],
            None => {
                eprintln!("no scenario {name}; one of: {}", names(&faults::matrix()));
                return ExitCode::from(64);
            }
        }
    } else {
        all.into_iter()
            .filter(|s| faults::QUICK.contains(&s.name))
            .collect()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    // on a worker thread, so that stopping and starting services (blocking commands) can
    // hand the simulator's tasks to the other worker
    let result = rt.block_on(async {
        tokio::spawn(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                services::cleanup_all();
                std::process::exit(130);
            }
        });
        tokio::spawn(run_all(chosen)).await
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    services::cleanup_all();
    match result {
        Ok((passed, failed)) => {
            println!("{passed} passed, {failed} failed");
            if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(_) => {
            println!("0 passed, 1 failed");
            ExitCode::FAILURE
        }
    }
}

/// Arguments that are neither flags nor the values of flags: test-name filters.
fn positional(args: &[String]) -> Vec<String> {
    const WITH_VALUE: [&str; 7] = [
        "--scenario",
        "--test-threads",
        "--skip",
        "--format",
        "--color",
        "--logfile",
        "-Z",
    ];
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
        } else if WITH_VALUE.contains(&a.as_str()) {
            skip = true;
        } else if !a.starts_with('-') {
            out.push(a.clone());
        }
    }
    out
}

fn names(s: &[Scenario]) -> String {
    s.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

async fn run_all(chosen: Vec<Scenario>) -> (usize, usize) {
    if chosen.is_empty() {
        return (0, 0);
    }
    let _ = std::fs::create_dir_all(logs_dir());
    let root = services::scratch_root();
    let pg = match Pg::init(&root) {
        Ok(p) => p,
        Err(e) => {
            note(format!("cannot start PostgreSQL: {e}"));
            for sc in &chosen {
                report(sc.name, &failed_setup(&e));
            }
            return (0, chosen.len());
        }
    };
    note(format!(
        "PostgreSQL on 127.0.0.1:{}, logs in {}",
        pg.port,
        logs_dir().display()
    ));
    let (mut passed, mut failed) = (0, 0);
    for sc in &chosen {
        let t = Instant::now();
        note(format!("{}: starting", sc.name));
        let m = match run_scenario(sc, &pg, &root).await {
            Ok(m) => m,
            Err(e) => failed_setup(&e),
        };
        report(sc.name, &m);
        note(format!(
            "{}: {:.0} s, log {}",
            sc.name,
            t.elapsed().as_secs_f64(),
            logs_dir().join(format!("{}.log", sc.name)).display()
        ));
        if m.passed() {
            passed += 1;
        } else {
            failed += 1;
            // a failure in CI is read from its output alone: contactd's warnings with it
            show_warnings(&logs_dir().join(format!("{}.log", sc.name)));
        }
    }
    drop(pg);
    (passed, failed)
}

async fn run_scenario(sc: &Scenario, pg: &Pg, root: &Path) -> Result<Metrics, String> {
    let dir = root.join(sc.name);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let log = logs_dir().join(format!("{}.log", sc.name));
    let _ = std::fs::remove_file(&log);
    let mut redis = Redis::start(&dir.join("redis"))?;
    let db = format!("chaos_{}", sc.name);
    pg.create_db(&db).await?;
    let pg_url = pg.url(&db);
    let sim = Simulator::start(traffic::sim_config())
        .await
        .map_err(|e| e.to_string())?;
    let ep = Endpoints {
        esl_port: sim.esl_addr().port(),
        http_port: services::free_port(),
        outbound_port: services::free_port(),
        redis_url: redis.url(),
        pg_url: pg_url.clone(),
        smtp_port: services::free_port(),
        dir: dir.clone(),
    };
    let cfg = daemon::write_config(&ep)?;
    let outbound = format!("127.0.0.1:{}", ep.outbound_port);
    let daemon = Daemon::start(&cfg, &log, ep.http_port);
    let result = drive(
        sc, pg, &mut redis, &sim, &daemon, &cfg, &dir, &outbound, &pg_url,
    )
    .await;
    let unexpected = daemon.unexpected_exits();
    daemon.stop(Duration::from_secs(5)).await;
    let mut m = result?;
    if !unexpected.is_empty() {
        m.notes.push(format!(
            "note: contactd exited on its own {} time(s): {}",
            unexpected.len(),
            unexpected.join("; ")
        ));
    }
    Ok(m)
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    sc: &Scenario,
    pg: &Pg,
    redis: &mut Redis,
    sim: &Simulator,
    daemon: &Daemon,
    cfg: &Path,
    dir: &Path,
    outbound: &str,
    pg_url: &str,
) -> Result<Metrics, String> {
    if !daemon.wait_healthy(Duration::from_secs(30)).await {
        return Err("contactd did not become healthy in 30 s (see its log)".into());
    }
    let msg = traffic::setup(cfg, dir, daemon.http_port).await?;
    if sc.transfers() {
        daemon::add_group_operators(daemon.http_port, "specialists", &transfers::SPECIALISTS)
            .await?;
    }
    let callers = traffic::Callers::default();
    let gave_up = Arc::new(Mutex::new(Vec::new()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (stream_tx, stream_rx) = tokio::sync::watch::channel(false);
    let patience = traffic::spawn_patience(sim.clone(), gave_up.clone(), stop_rx);
    let stream = traffic::spawn_stream(
        sim.clone(),
        outbound.to_string(),
        callers.clone(),
        stream_rx,
    );
    let id = traffic::create_campaign(cfg, &msg).await?;
    let budget = contactd::service::campaigns::budget_of(id);
    let disposed = opcamp::Disposed::default();
    let (desk_stop, desk_rx) = tokio::sync::watch::channel(false);
    let op_id = if sc.opcamp() {
        Some(opcamp::start(cfg, dir, daemon.http_port).await?)
    } else {
        None
    };
    let desk = op_id.map(|op| {
        opcamp::spawn_desk(
            pg_url.to_string(),
            daemon.http_port,
            op,
            disposed.clone(),
            desk_rx,
        )
    });
    let transferred = transfers::Transferred::default();
    let (xfer_stop, xfer_rx) = tokio::sync::watch::channel(false);
    let xfer_desk = sc.transfers().then(|| {
        transfers::spawn_desk(sim.clone(), daemon.http_port, transferred.clone(), xfer_rx)
    });
    let t0 = Instant::now();
    let fault_t0 = t0 + Duration::from_secs_f64(FAULT_AT);
    let limit = Duration::from_secs_f64(FAULT_AT + sc.span() + FINISH_SLACK);
    let stream_for = Duration::from_secs_f64(STREAM_MIN.max(FAULT_AT + sc.span() + 5.0));

    let faults = async {
        tokio::time::sleep_until(fault_t0.into()).await;
        faults::apply(sc, fault_t0, daemon, pg, redis, sim).await
    };
    let finish = async {
        loop {
            let op_done = match op_id {
                Some(op) => campaign_state(pg_url, op).await.as_deref() == Some("finished"),
                None => true,
            };
            if op_done && campaign_state(pg_url, id).await.as_deref() == Some("finished") {
                return Some(Instant::now());
            }
            if t0.elapsed() > limit {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    let stream_stop = async {
        tokio::time::sleep(stream_for).await;
        let _ = stream_tx.send(true);
    };
    let (applied, finished_at, ()) = tokio::join!(faults, finish, stream_stop);
    for l in &applied.log {
        note(format!("{}: {l}", sc.name));
    }
    match finished_at {
        Some(t) => note(format!(
            "{}: campaign finished {:.1} s after it started",
            sc.name,
            t.duration_since(t0).as_secs_f64()
        )),
        None => note(format!(
            "{}: campaign not finished after {:.0} s",
            sc.name,
            limit.as_secs_f64()
        )),
    }
    // no new transfers once no new callers come
    let _ = xfer_stop.send(true);
    if let Some(d) = xfer_desk {
        let _ = d.await;
    }
    let _ = stream_tx.send(true);
    let _ = stream.await;

    // the last calls end (callers give up in silence or after waiting their turn)
    let drain_until = Instant::now() + DRAIN;
    while !sim.live_channels().is_empty() && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let left = sim.live_channels();
    if !left.is_empty() {
        note(format!(
            "{}: {} channels still up after the drain, hung up",
            sc.name,
            left.len()
        ));
        for u in &left {
            sim.hangup(u, "NORMAL_CLEARING");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = stop_tx.send(true);
    let _ = patience.await;
    let ended = Instant::now();
    // the desk sets the dispositions still owed (contactd may still be writing the calls)
    if desk.is_some() {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let _ = desk_stop.send(true);
    if let Some(d) = desk {
        let _ = d.await;
    }

    // contactd completes its records (e.g. from its spool once PostgreSQL is back)
    let truth = sim.ground_truth();
    let settle_until = Instant::now() + SETTLE;
    let records = loop {
        let r = read_records(pg_url, id, finished_at.is_some()).await;
        let done = Instant::now() >= settle_until;
        match r {
            Ok(r) if done || settled(&r, &truth, &budget) => break r,
            Err(e) if done => return Err(format!("reading the records: {e}")),
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    let op_budget = op_id.map(contactd::service::campaigns::budget_of);
    let op_records = match (op_id, &op_budget) {
        (Some(op), Some(b)) => Some(loop {
            let r = opcamp::read_records(pg_url, op).await;
            let done = Instant::now() >= settle_until;
            match r {
                Ok(r) if done || opcamp::settled(&r, &truth, b, &disposed) => break r,
                Err(e) if done => return Err(format!("reading the operator campaign: {e}")),
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }),
        _ => None,
    };
    let offers: Vec<_> = daemon::OPERATORS
        .iter()
        .flat_map(|e| sim.agent_offers(e))
        .collect();
    let op_offers: Vec<_> = opcamp::OPERATORS
        .iter()
        .flat_map(|e| sim.agent_offers(e))
        .collect();
    let gave_up = gave_up.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let callers = callers.all();
    let api_log = sim.api_log_timed();
    dump(sc.name, &truth, &api_log, t0);
    let states = match op_id {
        Some(_) => opcamp::operator_states(daemon.http_port).await,
        None => Vec::new(),
    };
    let op = match (&op_records, &op_budget) {
        (Some(r), Some(b)) => Some(opcamp::compute(&opcamp::OpInput {
            truth: &truth,
            budget: b,
            dir,
            offers: &op_offers,
            records: r,
            disposed: &disposed,
            states: &states,
            time_scale: traffic::TIME_SCALE,
        })),
        _ => None,
    };
    let mut m = metrics::compute(&Input {
        truth: &truth,
        budget: &budget,
        op_budget: op_budget.as_deref(),
        message: &msg,
        callers: &callers,
        offers: &offers,
        gave_up: &gave_up,
        trunk_span: traffic::OUT_SPAN,
        trunk_cap: daemon::TRUNK_CAP,
        lines: daemon::CAMPAIGN_LINES,
        api_log: &api_log,
        cleared: applied.cleared,
        ended,
        records: &records,
    });
    if let Some(o) = op {
        m.why.extend(o.why.iter().cloned());
        m.notes.extend(o.notes.iter().cloned());
        m.op = Some(o);
    }
    if sc.transfers() {
        let specialists: Vec<_> = transfers::SPECIALISTS
            .iter()
            .flat_map(|e| sim.agent_offers(e))
            .collect();
        let all = transferred.all();
        let lost = transfers::lost(&truth, &specialists, &all);
        if !lost.is_empty() {
            m.why.push(format!(
                "lost_transfers: never reached a specialist: {}",
                lost.join(", ")
            ));
        }
        m.transfers = Some((all.len(), lost.len()));
    }
    Ok(m)
}
