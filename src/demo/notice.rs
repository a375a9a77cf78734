//! The demo's notice campaign (capability 1, shortened): a manager dials 301, records a
//! message, picks a list and confirms; the campaign runs on 5 lines and its report is
//! e-mailed.

use std::time::Duration;

use crate::app::App;
use crate::sim::{self, Simulator};

use super::mailbox;
use super::script::{err, import_list, say, DemoError, KEY_PAUSE_MS};

/// What a manager keys on the phone for the notice short codes (301/302): PIN, listens to
/// "Attention, recording", speaks `speak_ms`, `#`, 3 = continue, the list number, hears the
/// list's size, 1 = start. Shared by the demo and the end-to-end test.
pub fn manager_records_notice(pin: &str, list: &str, speak_ms: u64) -> Vec<sim::CallerStep> {
    use sim::CallerStep::*;
    vec![
        WaitForAnswer,
        WaitForPrompt, // enter PIN
        WaitMs(KEY_PAUSE_MS),
        Dtmf(format!("{pin}#")),
        WaitForPrompt, // attention, recording
        WaitForPrompt, // beep
        WaitForPrompt, // record
        Speak(speak_ms),
        Dtmf("#".into()),
        WaitForPrompt, // 1 listen, 2 re-record, 3 continue
        WaitMs(KEY_PAUSE_MS),
        Dtmf("3".into()),
        WaitForPrompt, // enter the list number
        WaitMs(KEY_PAUSE_MS),
        Dtmf(format!("{list}#")),
        WaitForPrompt, // the list has
        WaitForPrompt, // N subscribers
        WaitForPrompt, // 1 to start
        WaitMs(KEY_PAUSE_MS),
        Dtmf("1".into()),
        WaitForPrompt, // campaign started
        Hangup,
    ]
}

/// Capability 1, shortened: a manager dials 301, records a message, picks list 7 (20
/// subscribers) and confirms; 5 lines; the report is e-mailed.
pub(super) async fn campaign(
    app: &App,
    sim: &Simulator,
    work: &std::path::Path,
    mailbox: &mailbox::Mailbox,
    smtp_port: u16,
    external_smtp: bool,
) -> Result<(), DemoError> {
    say("\n5) A manager informs 20 subscribers from a desk phone (short code 301, 5 lines)");
    let csv = work.join("list7.csv");
    let mut rows = String::from("phone,name,account\n");
    for i in 0..20 {
        rows.push_str(&format!("+7916300{i:04},Subscriber {i},ACC{i:05}\n"));
    }
    rows.push_str("12345,Bad number,ACC99999\n");
    let imported = import_list(app, &csv, &rows, 7, "Lenina st., water outage").await?;
    say(format!(
        "  contactd lists import: {} rows read, {} accepted, {} rejected (with line numbers)",
        imported.rows_read, imported.accepted, imported.rejected
    ));
    let steps = manager_records_notice("4321", "7", 3000);
    say("  manager (ext. 201) dials 301: PIN 4321#, \"Attention, recording\", beep, speaks 3 s, #, 3 = continue, list 7#, hears \"20\", 1 = start");
    sim.inbound_call(sim::InboundCall {
        connect_to: app.outbound_addr.to_string(),
        caller_number: "201".into(),
        destination: "301".into(),
        vars: vec![
            ("contactd_entry".into(), "service".into()),
            ("contactd_code".into(), "301".into()),
        ],
        script: steps,
        ..Default::default()
    })
    .map_err(|e| err("manager call")(&e))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let id = loop {
        if let Ok(Some(c)) = app.shared.campaigns.last_by("201").await {
            break c.id;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(DemoError("the manager's call started no campaign".into()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    say(format!("  campaign {id} started by phone; dialing..."));
    let mut last = -1;
    loop {
        let p = app
            .shared
            .campaigns
            .progress(id)
            .await
            .map_err(|e| err("progress")(&e))?;
        if p.done != last {
            say(format!(
                "    called {} of {} (reached {})",
                p.done, p.total, p.reached
            ));
            last = p.done;
        }
        let finished = app
            .shared
            .campaigns
            .get(id)
            .await
            .ok()
            .flatten()
            .is_some_and(|c| c.state == "finished");
        if finished && report_sent(app, id, mailbox, external_smtp).await {
            break;
        }
        if tokio::time::Instant::now() > deadline + Duration::from_secs(60) {
            return Err(DemoError("the campaign did not finish in time".into()));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    say(format!(
        "  most lines ever in use on the switch: {} (campaign limit 5)",
        sim.peak_channels_on("1")
    ));
    let loc = crate::mail::report::report_locale(&app.shared.config.mail)
        .map_err(|p| DemoError(format!("report locale: {p:?}")))?;
    let report = crate::mail::report::print_report_in(&app.shared.pool, id, "1", &loc)
        .await
        .map_err(|e| err("report")(&e))?;
    say("  the report (contactd campaigns report ID prints the same, then the CSV):");
    for line in report.lines().take_while(|l| !l.starts_with("phone,")) {
        say(format!("    | {line}"));
    }
    if external_smtp {
        say(format!("  e-mailed by SMTP to 127.0.0.1:{smtp_port}"));
        return Ok(());
    }
    let mail = mailbox.messages.lock().expect("mailbox")[0].clone();
    let attached: Vec<&str> = mail
        .data
        .split("filename=")
        .skip(1)
        .filter_map(|s| {
            s.trim_start_matches('"')
                .split(['"', ';', '\r', '\n'])
                .next()
        })
        .collect();
    say(format!(
        "  e-mailed by SMTP to 127.0.0.1:{smtp_port} (demo mailbox): to {} ({} bytes; text, HTML; attached: {}), report in {} for {}",
        mail.to.join(", "),
        mail.data.len(),
        attached.join(", "),
        app.shared.config.mail.report_language,
        app.shared.config.mail.report_time_zone,
    ));
    Ok(())
}

/// Has the campaign's report left: the demo mailbox got it, or the outbox marked it sent.
async fn report_sent(app: &App, id: i64, mailbox: &mailbox::Mailbox, external_smtp: bool) -> bool {
    if !external_smtp {
        return !mailbox.messages.lock().expect("mailbox").is_empty();
    }
    let Ok(db) = app.shared.pool.get().await else {
        return false;
    };
    db.query_opt(
        "SELECT 1 FROM outbox WHERE campaign_id = $1 AND sent_at IS NOT NULL",
        &[&id],
    )
    .await
    .is_ok_and(|r| r.is_some())
}
