//! The demo's meter-readings part (capability 2): a caller passes a day/night reading by
//! keypad, and what PostgreSQL recorded of it is printed.

use std::time::Duration;

use crate::app::App;
use crate::sim::{self, Simulator};

use super::script::{err, say, trunk_caller, DemoError, KEY_PAUSE_MS};
use super::{show_record, wait_ended};

/// Capability 2: a caller on the readings number passes a two-zone reading by keypad.
pub(super) async fn meter_reading(
    app: &App,
    sim: &Simulator,
    work: &std::path::Path,
) -> Result<(), DemoError> {
    say("\n2) A caller on the meter-readings number passes a day/night reading by keypad");
    let last = (chrono::Utc::now() - chrono::Duration::days(30)).date_naive();
    let billing = work.join("billing.csv");
    std::fs::write(
        &billing,
        format!(
            "account,holder,phone,balance,meter,zones,digits,last_date,last_1,last_2\n\
             100234,Ivanova M.P.,+74951112233,-152.40,M-1,2,6,{last},012300,004500\n"
        ),
    )
    .map_err(|e| err("billing file")(&e))?;
    crate::store::accounts::import_accounts(&app.shared.pool, &billing, &app.shared.config.dialing)
        .await
        .map_err(|e| err("importing accounts")(&e))?;
    say("  contactd accounts import: account 100234, two-zone meter, last 012300 / 004500 30 days ago");
    use sim::CallerStep::*;
    let key = |d: &str| [WaitMs(KEY_PAUSE_MS), Dtmf(d.into())];
    let hear = |prompt: &str| WaitForPlay(prompt.into());
    let mut script = vec![WaitForAnswer, hear("enter_account")]; // after the greeting
    script.extend(key("100234#"));
    for value in ["012540#", "004610#"] {
        script.push(hear("enter_reading")); // the zone's
        script.extend(key(value));
        script.push(hear("confirm_reading")); // after "you entered N"
        script.extend(key("1"));
    }
    script.extend([hear("reading_accepted"), Hangup]);
    say("  caller keys: account 100234#, day 012540#, confirms 1, night 004610#, confirms 1");
    let caller = trunk_caller(app, sim, "89165550123", "250200", "readings", script)?;
    let uuid = uuid::Uuid::parse_str(&caller).map_err(|e| err("inbound uuid")(&e))?;
    match wait_ended(app, uuid, Duration::from_secs(60)).await {
        Some(r) => show_record(&r),
        None => say("    postgres: no record (unexpected)"),
    }
    // Numbers are spoken from contactd's own word prompts (num/…), inside the sounds they
    // are said with.
    let read_back: Vec<String> = sim
        .api_log()
        .into_iter()
        .filter(|c| c.contains(&caller))
        // prompts joined without a number (greeting and question) say no words
        .filter_map(|c| crate::core::speech::words_in(&c))
        .collect();
    say(format!(
        "    read back to the caller (word prompts): {}",
        read_back.join(" / ")
    ));
    let db = app
        .shared
        .pool
        .get()
        .await
        .map_err(|e| err("postgres")(&e))?;
    let rows = db
        .query(
            "SELECT r.zone, r.value, r.status, r.source, r.caller FROM meter_readings r
             WHERE r.call_uuid = $1 ORDER BY r.zone",
            &[&uuid],
        )
        .await
        .map_err(|e| err("readings")(&e))?;
    for r in rows {
        say(format!(
            "    postgres: meter_readings zone={} value={} status={} source={} caller={}",
            r.get::<_, i16>(0),
            r.get::<_, i64>(1),
            r.get::<_, String>(2),
            r.get::<_, String>(3),
            r.get::<_, Option<String>>(4).unwrap_or_default()
        ));
    }
    Ok(())
}
