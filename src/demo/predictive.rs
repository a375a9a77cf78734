//! The demo's operator-campaign part: a short predictive campaign worked by three operators
//! whose phones answer by themselves. It prints each pacing decision the pacer took (dial
//! level, answer rate, abandon rate, why), then the operators' occupancy (talk time ÷ their
//! time logged in during the campaign) and the abandon figures (rolling 24 h, as the
//! pacer keeps them, and from the records).
//!
//! The pacer dials progressively until it has seen 20 finished attempts and 5 people
//! (`core::dialer::pacer`): the subscribers here ring, talk and fail briefly (a 3-minute
//! list compressed for a demo) and there are enough of them that about half of the
//! campaign's ~45 s is paced predictively.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::app::App;
use crate::core::acd::agent::StateName;
use crate::service::acd::OperatorCommand;
use crate::service::opcamp::operator::Disposition;
use crate::sim;
use crate::store::campaigns::NewCampaign;
use crate::store::op_campaigns::{OpCampaign, OpCampaigns};

use super::script::{err, import_list, say, DemoError};

/// The abandon message: a virtual file of the simulator (4 s).
pub const ABANDON: &str = "/var/lib/contactd/prompts/abandon_demo.wav";
const OPERATORS: [(&str, &str); 3] = [("anna", "3001"), ("boris", "3002"), ("vera", "3003")];
const SUBSCRIBERS: usize = 120;
/// The campaign's part of the demo ends by then at the latest.
const LIMIT: Duration = Duration::from_secs(45);

/// The three operators' phones: they answer by themselves (auto-answer).
pub fn agents() -> HashMap<String, sim::Behaviour> {
    OPERATORS
        .iter()
        .map(|(_, ext)| {
            (
                ext.to_string(),
                sim::Behaviour::Answer {
                    ring_ms: 0,
                    after: sim::AfterAnswer::Stay,
                },
            )
        })
        .collect()
}

/// The campaign's subscribers (`+7916400NNNN`): by the last digit, 0-3 answer after 1-2 s
/// and talk 10-14 s, 4-6 are busy, 7-9 ring 6 s and are not answered (simulated time: the
/// demo's simulator runs 4× faster, so a person's call takes an operator about 3.5 s).
pub fn rules() -> Vec<sim::SubscriberRule> {
    let r = |digits: &str, behaviour: sim::Behaviour| sim::SubscriberRule {
        pattern: format!("^8916400\\d\\d\\d[{digits}]$"),
        behaviour,
    };
    let talk = |ring_ms, ms| sim::Behaviour::Answer {
        ring_ms,
        after: sim::AfterAnswer::HangupAfter { ms },
    };
    vec![
        r("01", talk(1000, 10_000)),
        r("23", talk(2000, 14_000)),
        r("456", sim::Behaviour::Busy { after_ms: 1000 }),
        r(
            "789",
            sim::Behaviour::Reject {
                cause: "NO_ANSWER".into(),
                after_ms: 6000,
                ring: true,
            },
        ),
    ]
}

pub fn media() -> HashMap<String, u64> {
    [(ABANDON.to_string(), 4000)].into()
}

pub async fn campaign(app: &App) -> Result<(), DemoError> {
    say(format!(
        "\n7) A predictive operator campaign: 3 operators, {SUBSCRIBERS} subscribers, the pacer's decisions"
    ));
    let ops = crate::store::operators::Operators::new(app.shared.pool.clone());
    let acd = &app.shared.acd;
    // The inbound operators of part 3 (their phones do not answer by themselves) leave.
    for login in ["ivanova", "petrov"] {
        let _ = acd.command(login, OperatorCommand::Logout).await;
    }
    for (login, ext) in OPERATORS {
        let id = ops
            .create(login, login, &format!("user/{ext}"))
            .await
            .map_err(|e| err("operators")(&e))?;
        ops.set_skill(id, "general", 5)
            .await
            .map_err(|e| err("skills")(&e))?;
        acd.sync_operator(login)
            .await
            .map_err(|e| err("operators")(&e))?;
        acd.command(login, OperatorCommand::Login)
            .await
            .map_err(|e| err("login")(&e))?;
    }
    say("  operators anna, boris, vera log in (phones user/3001-3003 answer by themselves)");
    let id = start(app).await?;
    let store = OpCampaigns::new(app.shared.pool.clone());
    let started = Instant::now();
    let mut shown = 0;
    let (mut warming, mut paced) = (0, 0);
    while started.elapsed() < LIMIT {
        dispose(app).await;
        for (c, d) in app.opcamp.decisions().into_iter().skip(shown) {
            shown += 1;
            if c != id {
                continue;
            }
            match d.reason.contains("warming up") {
                true => warming += 1,
                false => paced += 1,
            }
            say(format!(
                "  pacing {}: {} dial level {:.2} ({} calls to hold), answer rate {:.0} %, mean ring {:.1} s, mean handle {:.1} s, abandon 24 h {:.1} % — {}",
                d.at.format("%H:%M:%S"),
                d.mode,
                d.dial_level,
                d.calls_to_hold,
                d.answer_rate * 100.0,
                d.mean_ring.as_secs_f64(),
                d.mean_handle.as_secs_f64(),
                d.abandon_24h_pct,
                d.reason
            ));
        }
        let p = app
            .shared
            .campaigns
            .progress(id)
            .await
            .map_err(|e| err("progress")(&e))?;
        if p.done == p.total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let worked = started.elapsed();
    say(format!(
        "  {warming} decisions while warming up (progressive), {paced} paced predictively after it"
    ));
    let p = app
        .shared
        .campaigns
        .progress(id)
        .await
        .map_err(|e| err("progress")(&e))?;
    if p.done < p.total {
        // The demo's time is up: nobody else is called, the calls on finish.
        let _ = app.shared.campaigns.cancel(id).await;
        say(format!(
            "  demo time is up: campaign cancelled with {} of {} subscribers done; the calls on finish",
            p.done, p.total
        ));
        let until = Instant::now() + Duration::from_secs(20);
        while app.opcamp.calls_in_progress(id) > 0 && Instant::now() < until {
            dispose(app).await;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let f = store.figures(id).await.map_err(|e| err("figures")(&e))?;
    let talk_s = talk_seconds(app, id).await?;
    let occupancy = 100.0 * talk_s / (worked.as_secs_f64() * OPERATORS.len() as f64);
    say(format!(
        "  {} calls placed, {} people answered, {} connected to an operator, {} abandoned (heard the message)",
        f.calls, f.answered_people, f.connected, f.abandoned
    ));
    say(format!(
        "  occupancy: {occupancy:.0} % (talk {talk_s:.0} s of 3 operators × {:.0} s logged in)",
        worked.as_secs_f64()
    ));
    if let Some(a) = app.opcamp.abandon_figures(id) {
        say(format!(
            "  abandon rate: {:.1} % over 24 h ({} of {} answered), {:.1} % today; the legal cap is {} %",
            a.pct_24h,
            a.abandoned_24h,
            a.answered_24h,
            a.pct_today,
            app.shared.config.campaigns.operator.abandon_cap_pct
        ));
    }
    Ok(())
}

async fn start(app: &App) -> Result<i64, DemoError> {
    let dir = std::env::temp_dir().join(format!("contactd-demo-list-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| err("list")(&e))?;
    let csv = dir.join("predictive.csv");
    let mut t = String::from("phone,name,account\n");
    for i in 0..SUBSCRIBERS {
        t.push_str(&format!(
            "+7916400{i:04},Subscriber {i},{:07}\n",
            4_000_000 + i
        ));
    }
    import_list(app, &csv, &t, 40, "winter offer").await?;
    let _ = std::fs::remove_dir_all(&dir);
    let mut c = NewCampaign::with_defaults(&app.shared.config.campaigns, 40, ABANDON, "demo");
    c.name = "winter offer".into();
    c.lines = 10;
    c.max_attempts = 1;
    let (id, n) = OpCampaigns::new(app.shared.pool.clone())
        .create(
            &c,
            &OpCampaign {
                campaign_id: 0,
                mode: "predictive".into(),
                queue: "general".into(),
                script_url: Some("https://intranet.example/scripts/winter-offer".into()),
            },
        )
        .await
        .map_err(|e| err("campaign")(&e))?;
    app.opcamp.wake.notify_one();
    say(format!(
        "  campaign {id} \"winter offer\" (predictive, queue general, 10 lines): {n} subscribers"
    ));
    Ok(id)
}

/// The operators' desk software sets a disposition as soon as a call ends, and they go
/// ready again. Not before the end: a disposition set during the talk leaves nothing owed
/// after it, and the operator would sit out the whole after-call work time.
async fn dispose(app: &App) {
    let acd = &app.shared.acd;
    for (login, _) in OPERATORS {
        if !matches!(
            acd.operator_state(login).await,
            Some((StateName::WrapUp, _))
        ) {
            continue;
        }
        if let Ok(Some(call)) = acd.disposition_due(login).await {
            let Ok(call) = uuid::Uuid::parse_str(&call) else {
                continue;
            };
            let d = Disposition {
                call,
                code: "sale".into(),
                callback_at: None,
                callback_number: None,
            };
            if app.opcamp.set_disposition(login, d).await.is_err() {
                continue;
            }
        }
        let _ = acd.command(login, OperatorCommand::Ready).await;
    }
}

/// Seconds the operators talked with the campaign's people (ended talks, and the ones on).
async fn talk_seconds(app: &App, id: i64) -> Result<f64, DemoError> {
    let db = app
        .shared
        .pool
        .get()
        .await
        .map_err(|e| err("database")(&e))?;
    let row = db
        .query_one(
            "SELECT COALESCE(sum(EXTRACT(EPOCH FROM (COALESCE(talk_ended_at, now()) - connected_at))), 0)::float8
             FROM operator_calls WHERE campaign_id = $1 AND connected_at IS NOT NULL",
            &[&id],
        )
        .await
        .map_err(|e| err("talk time")(&e))?;
    Ok(row.get(0))
}
