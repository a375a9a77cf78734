//! The demo's operator-routing part: a customer calls the main number and presses 0; the
//! longest-idle operator's phone rings but nobody answers (ring timeout: "missed", the
//! caller back at the head), the next operator answers, the screen pop they received is
//! printed, and the call's record when it ends.

use std::time::Duration;

use crate::app::App;
use crate::service::acd::OperatorCommand;
use crate::sim::{self, Simulator};

use super::script::{err, say, trunk_caller, DemoError, KEY_PAUSE_MS};

/// The simulated operator phones: 1001 answers after 2 s and talks 6 s, 1002 never answers.
pub fn agents() -> std::collections::HashMap<String, sim::Behaviour> {
    [
        (
            "1001".to_string(),
            sim::Behaviour::Answer {
                ring_ms: 2000,
                after: sim::AfterAnswer::HangupAfter { ms: 6000 },
            },
        ),
        ("1002".to_string(), sim::Behaviour::NoAnswer),
    ]
    .into_iter()
    .collect()
}

pub async fn operator_call(app: &App, sim: &Simulator) -> Result<(), DemoError> {
    say("\n3) A customer asks for an operator: queue in Redis, ring timeout, screen pop");
    let ops = crate::store::operators::Operators::new(app.shared.pool.clone());
    for (login, name, ext, level) in [
        ("ivanova", "Ivanova O.", "1001", 5),
        ("petrov", "Petrov S.", "1002", 3),
    ] {
        let id = ops
            .create(login, name, &format!("user/{ext}"))
            .await
            .map_err(|e| err("operators")(&e))?;
        ops.set_skill(id, "general", level)
            .await
            .map_err(|e| err("skills")(&e))?;
        app.shared
            .acd
            .sync_operator(login)
            .await
            .map_err(|e| err("operators")(&e))?;
    }
    let acd = &app.shared.acd;
    // Petrov has been ready longest, so he is offered the call first; his phone rings out.
    acd.command("petrov", OperatorCommand::Login)
        .await
        .map_err(|e| err("login")(&e))?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    acd.command("ivanova", OperatorCommand::Login)
        .await
        .map_err(|e| err("login")(&e))?;
    say("  operators: petrov (user/1002, general 3) and ivanova (user/1001, general 5) log in");
    let mut pops = acd.subscribe("ivanova");
    use sim::CallerStep::*;
    let caller = trunk_caller(
        app,
        sim,
        "+74951112233",
        "250100",
        "main",
        vec![
            WaitForAnswer,
            WaitForPlay("main_menu".into()), // after the greeting
            WaitMs(KEY_PAUSE_MS),
            Dtmf("0".into()),
        ],
    )?;
    say(format!(
        "  +74951112233 (account 100234's phone) calls 250100 and presses 0: call {caller}"
    ));
    let pop = tokio::time::timeout(Duration::from_secs(30), pops.recv())
        .await
        .map_err(|_| DemoError("no screen pop reached ivanova".into()))?
        .map_err(|e| err("screen pop")(&e))?;
    for o in sim.agent_offers("1002") {
        say(format!(
            "  petrov's phone rang and was not answered ({}): petrov is now 'missed', the caller back at the head",
            o.hangup_cause.as_deref().unwrap_or("ringing")
        ));
    }
    say("  screen pop sent to ivanova (SSE /api/v1/operators/ivanova/events):");
    let json = serde_json::to_string_pretty(&*pop).map_err(|e| err("json")(&e))?;
    for line in json.lines() {
        say(format!("    {line}"));
    }
    let uuid = uuid::Uuid::parse_str(&caller).map_err(|e| err("uuid")(&e))?;
    let db = app
        .shared
        .pool
        .get()
        .await
        .map_err(|e| err("postgres")(&e))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let row = db
            .query_opt(
                "SELECT a.queue, a.offers, o.login, a.waited_s, a.talk_s, a.outcome, a.recording
                 FROM acd_calls a LEFT JOIN operators o ON o.id = a.operator
                 WHERE a.call_uuid = $1 AND a.outcome IS NOT NULL",
                &[&uuid],
            )
            .await
            .map_err(|e| err("acd_calls")(&e))?;
        if let Some(r) = row {
            say(format!(
                "    postgres: acd_calls queue={} offers={} answered_by={} waited={:.1}s talk={:.1}s outcome={}",
                r.get::<_, String>(0),
                r.get::<_, i32>(1),
                r.get::<_, Option<String>>(2).unwrap_or_default(),
                r.get::<_, Option<f64>>(3).unwrap_or_default(),
                r.get::<_, Option<f64>>(4).unwrap_or_default(),
                r.get::<_, Option<String>>(5).unwrap_or_default(),
            ));
            say(format!(
                "    recording: {}",
                r.get::<_, Option<String>>(6).unwrap_or_default()
            ));
            break;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(DemoError("the operator call did not end".into()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let states = db
        .query(
            "SELECT o.login, s.state FROM operator_states s JOIN operators o ON o.id = s.operator
             ORDER BY s.since, s.id",
            &[],
        )
        .await
        .map_err(|e| err("operator_states")(&e))?;
    let log: Vec<String> = states
        .iter()
        .map(|r| format!("{}:{}", r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect();
    say(format!("    postgres: operator_states {}", log.join(" → ")));
    Ok(())
}
