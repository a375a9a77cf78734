//! IVR figures for `make bench`: 500 simulated callers at once pass a meter reading through
//! contactd (its own process): CPU time per completed call and peak RSS from /proc, and the
//! p99 delay between a caller's `#` and contactd's next command, measured by the simulator.
//! Then 3,000 callers arriving over a minute: the same p99, and how many flows were cut
//! short (a caller whose reading was not stored, or whose call contactd did not end itself
//! after the goodbye).

use std::time::{Duration, Instant};

use contactd::sim::{self, CallerStep, Simulator};

use crate::campaign::{config_text, proc_hwm_mb, spawn_contactd, Scratch};

fn proc_cpu_ms(pid: u32) -> f64 {
    // utime + stime, fields 14 and 15 of /proc/PID/stat, in clock ticks (100/s on Linux)
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks * 10.0
}

fn script(account: &str, value: &str) -> Vec<CallerStep> {
    use CallerStep::*;
    vec![
        WaitForAnswer,
        WaitForPlay("enter_account".into()), // after the greeting
        WaitMs(300),
        Dtmf(format!("{account}#")),
        WaitForPlay("enter_reading".into()),
        WaitMs(300),
        Dtmf(format!("{value}#")),
        WaitForPlay("confirm_reading".into()), // after "you entered" and the number
        WaitMs(300),
        Dtmf("1".into()),
    ]
}

/// What one IVR run measured.
pub struct IvrRun {
    pub cpu_per_call_ms: f64,
    pub peak_rss_mb: f64,
    pub p99_ms: f64,
    pub completed: usize,
    /// callers whose reading was not stored or whose flow contactd did not finish
    pub cut_short: usize,
}

/// 500 callers arriving over 5 s: all in the IVR at once.
pub async fn ivr_500() -> IvrRun {
    ivr_run(500, Duration::from_secs(5)).await
}

/// 3,000 callers arriving evenly over a minute.
pub async fn ivr_3000() -> IvrRun {
    ivr_run(3000, Duration::from_secs(60)).await
}

async fn ivr_run(callers: usize, arrivals_over: Duration) -> IvrRun {
    let s = Scratch::new().await;
    let sim = Simulator::start(sim::SimConfig {
        // prompts of 1.5 s in real time, arrivals spread over 5 s: all 500 are in
        // the IVR at once but do not key in lock-step
        time_scale: 1.0,
        // as FreeSWITCH does (every 20 s): without it the control link's liveness check
        // drops and resyncs the link every 65 s in the middle of the run
        heartbeat_ms: 20_000,
        media_ms: crate::prompts::lengths(1500),
        max_sessions: 5000,
        // as FreeSWITCH does: a call whose socket contactd closes (refused beyond
        // `outbound.max_calls`, or given up while being set up) leaves the park and is
        // hung up, instead of staying parked in the simulator's record for ever
        socket_close_ends_park: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let outbound = crate::acd::free_addr();
    let mut text = config_text(&s, sim.esl_addr().port(), "", "127.0.0.1:0");
    text = text.replace(
        "listen = \"127.0.0.1:0\"\n[http]",
        &format!("listen = \"{outbound}\"\n[http]"),
    );
    text.push_str(
        "[ivr]\noperator = \"user/1000\"\nmax_daily_kwh = 100\n[ivr.hours]\nmon = \"00:00-24:00\"\ntue = \"00:00-24:00\"\nwed = \"00:00-24:00\"\nthu = \"00:00-24:00\"\nfri = \"00:00-24:00\"\nsat = \"00:00-24:00\"\nsun = \"00:00-24:00\"\n",
    );
    let cfg = contactd::config::Config::from_toml(&text).unwrap();
    let pool = contactd::store::postgres::pool(&s.db.url, 4).unwrap();
    contactd::store::migrate::run(&pool).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let last = (chrono::Utc::now() - chrono::Duration::days(10)).date_naive();
    let mut csv =
        String::from("account,holder,phone,balance,meter,zones,digits,last_date,last_1,last_2\n");
    for i in 0..callers {
        csv.push_str(&format!(
            "{},Holder {i},,10.00,M-{i},1,6,{last},001000,\n",
            700_000 + i
        ));
    }
    let path = dir.path().join("billing.csv");
    std::fs::write(&path, csv).unwrap();
    let r = contactd::store::accounts::import_accounts(&pool, &path, &cfg.dialing)
        .await
        .unwrap();
    assert_eq!(r.accepted as usize, callers);

    let cfg_path = dir.path().join("contactd.toml");
    std::fs::write(&cfg_path, &text).unwrap();
    let mut child = spawn_contactd(&cfg_path);
    let pid = child.id().unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // what contactd spends with nobody calling (timers, heartbeats, leases), for the reader
    let idle0 = proc_cpu_ms(pid);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu0 = proc_cpu_ms(pid);
    eprintln!(
        "ivr: contactd idle before the callers: {:.1} ms CPU per s",
        (cpu0 - idle0) / 3.0
    );
    let t = Instant::now();
    for i in 0..callers {
        sim.inbound_call(sim::InboundCall {
            connect_to: outbound.to_string(),
            destination: "2500".into(),
            caller_number: format!("8916777{i:04}"),
            vars: vec![
                ("contactd_entry".into(), "trunk".into()),
                ("contactd_code".into(), "readings".into()),
            ],
            script: script(&(700_000 + i).to_string(), "001050"),
            ..Default::default()
        })
        .unwrap();
        // paced against the start, not by sleeps that add up under load
        let due = t + arrivals_over.mul_f64((i + 1) as f64 / callers as f64);
        tokio::time::sleep_until(due.into()).await;
    }
    let db = pool.get().await.unwrap();
    let mut done = 0usize;
    let mut most_at_once = 0usize;
    while t.elapsed() < arrivals_over + Duration::from_secs(180) {
        most_at_once = most_at_once.max(sim.live_channels().len());
        done = db
            .query_one(
                "SELECT count(*) FROM meter_readings WHERE source = 'ivr'",
                &[],
            )
            .await
            .map(|r| r.get::<_, i64>(0) as usize)
            .unwrap_or(0);
        if done >= callers {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every caller's flow ran to its end: contactd hung up after the goodbye. Waited for
    // (bounded), so that their work is counted too: the last reading is stored 3 s or more
    // before its caller's goodbye ends (a fixed 3 s once counted a flow still playing it).
    let ended_by_contactd = || async {
        db.query_one(
            "SELECT count(*) FROM calls WHERE purpose = 'ivr' AND hungup_by = 'contactd'",
            &[],
        )
        .await
        .map(|r| r.get::<_, i64>(0) as usize)
        .unwrap_or(0)
    };
    let settle_until = Instant::now() + Duration::from_secs(20);
    let mut finished = ended_by_contactd().await;
    while finished < callers && Instant::now() < settle_until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        finished = ended_by_contactd().await;
    }
    // the records of the last hang-ups are written
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cut_short = callers - done.min(callers).min(finished);
    if cut_short > 0 {
        explain_cut_short(&db, &sim).await;
    }
    let cpu = proc_cpu_ms(pid) - cpu0;
    // what contactd asked of the switch per call, for the reader (each is a round trip)
    let mut asked = std::collections::BTreeMap::<String, usize>::new();
    for c in sim.api_log() {
        let mut w = c.split_whitespace();
        let kind = match (w.next(), w.next()) {
            // header names as the client wrote them (`Execute-App-Name`), compared caseless
            (Some("sendmsg"), _) => c
                .to_ascii_lowercase()
                .split("execute-app-name: ")
                .nth(1)
                .and_then(|r| r.split(';').next())
                .map_or("sendmsg".to_string(), |a| format!("sendmsg {a}")),
            (Some(a), Some(b)) => format!("{a} {b}"),
            (Some(a), None) => a.to_string(),
            _ => continue,
        };
        *asked.entry(kind).or_default() += 1;
    }
    eprintln!(
        "ivr: commands per call: {}",
        asked
            .iter()
            .map(|(k, n)| format!("{k} {:.2}", *n as f64 / callers as f64))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rss = proc_hwm_mb(pid);
    let mut lat: Vec<Duration> = sim.hash_to_command();
    lat.sort();
    let p99 = lat
        .get((lat.len() * 99 / 100).min(lat.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    eprintln!(
        "ivr: {done}/{callers} readings stored, {finished} flows ended by contactd, in {:.1} s, {most_at_once} callers in the IVR at once; {} '#' measured; contactd CPU {cpu:.0} ms",
        t.elapsed().as_secs_f64(),
        lat.len()
    );
    drop(db);
    s.drop_now().await;
    IvrRun {
        cpu_per_call_ms: cpu / done.max(1) as f64,
        peak_rss_mb: rss,
        p99_ms: p99.as_secs_f64() * 1000.0,
        completed: done,
        cut_short,
    }
}

/// Why flows were cut short: for every caller whose reading is missing or whose call
/// contactd did not end, the simulator's own record of the call (what the caller heard
/// and keyed, who hung up, when) next to contactd's call row.
async fn explain_cut_short(db: &tokio_postgres::Client, sim: &Simulator) {
    let rows = db
        .query(
            "SELECT c.uuid::text, c.flow_step, c.hungup_by, c.hangup_cause, \
                    (SELECT count(*) FROM meter_readings r WHERE r.call_uuid = c.uuid) \
             FROM calls c WHERE c.purpose = 'ivr'",
            &[],
        )
        .await
        .unwrap_or_default();
    let mut contactd = std::collections::HashMap::new();
    for r in &rows {
        let uuid: String = r.get(0);
        let step: Option<String> = r.get(1);
        let by: Option<String> = r.get(2);
        let cause: Option<String> = r.get(3);
        let readings: i64 = r.get(4);
        contactd.insert(uuid, (step, by, cause, readings));
    }
    for p in sim.ground_truth() {
        if p.endpoint != "inbound" {
            continue;
        }
        let row = contactd.get(&p.uuid);
        let ok = row.is_some_and(|(_, by, _, n)| by.as_deref() == Some("contactd") && *n > 0);
        if !ok {
            eprintln!(
                "cut short: {} caller {} contactd row {row:?}; sim: dialed {} ms, answered {:?} ms, \
                 ended {:?} ms by {:?} ({:?}), digits {:?}, played {:?} at {:?}",
                p.uuid,
                p.number,
                p.dialed_at_ms,
                p.answered_at_ms,
                p.ended_at_ms,
                p.hangup_by,
                p.hangup_cause,
                p.digits,
                p.played,
                p.played_at_ms
            );
        }
    }
}
