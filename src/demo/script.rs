//! What the demo's scenes share: their error, how they print, how a scripted person keys.

use std::fmt::Display;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DemoError(pub(crate) String);

pub(crate) fn err(what: &str) -> impl FnOnce(&dyn Display) -> DemoError + '_ {
    move |e| DemoError(format!("{what}: {e}"))
}

pub(crate) fn say(line: impl Display) {
    println!("{line}");
}

/// Simulated ms a scripted caller waits after a prompt starts before keying, as a person
/// does: digits keyed before `play_and_get_digits` starts listening are not collected.
pub const KEY_PAUSE_MS: u64 = 300;

/// Writes `rows` (a CSV with its header) to `file` and imports it as list `number`, as
/// `contactd lists import` does.
pub(crate) async fn import_list(
    app: &crate::app::App,
    file: &std::path::Path,
    rows: &str,
    number: u16,
    name: &str,
) -> Result<crate::store::lists::ImportReport, DemoError> {
    std::fs::write(file, rows).map_err(|e| err("list file")(&e))?;
    crate::store::lists::import_csv(
        &app.shared.pool,
        file,
        crate::core::lists::ImportOptions {
            list_number: number,
            name: name.into(),
            replace: false,
        },
        &app.shared.config.dialing,
    )
    .await
    .map_err(|e| err("importing the list")(&e))
}

/// A scripted caller on the utility's number `did` (`contactd_code` `code`), routed as
/// `dialplans/from-trunk.xml` does: held and connected again should contactd go away.
pub(crate) fn trunk_caller(
    app: &crate::app::App,
    sim: &crate::sim::Simulator,
    caller: &str,
    did: &str,
    code: &str,
    script: Vec<crate::sim::CallerStep>,
) -> Result<String, DemoError> {
    sim.inbound_call(crate::sim::InboundCall {
        connect_to: app.outbound_addr.to_string(),
        caller_number: caller.into(),
        destination: did.into(),
        vars: vec![
            ("contactd_entry".into(), "trunk".into()),
            ("contactd_code".into(), code.into()),
            ("contactd_did".into(), did.into()),
        ],
        script,
        reconnects: true,
        start_over_on: Some("ivr_greeting".into()),
        ..Default::default()
    })
    .map_err(|e| err("inbound call")(&e))
}
