//! Which instance drives which campaign, for `/healthz` and `/metrics`: this instance's
//! own leases (each instance answers for itself; the sysadmin's monitoring scrapes all).

use std::fmt::Write as _;

use serde_json::json;

use crate::service::campaign_lease::Drivers;

/// `{"instance": ..., "drives": [{"campaign": id, "token": n}, ...]}`.
pub fn health(drivers: &[Drivers]) -> serde_json::Value {
    let instance = holder(drivers);
    let drives: Vec<_> = campaigns(drivers)
        .into_iter()
        .map(|(id, token)| json!({ "campaign": id, "token": token }))
        .collect();
    json!({ "instance": instance, "drives": drives })
}

/// `contactd_campaign_driver{campaign,instance} 1` per campaign driven here, and
/// `contactd_campaigns_driven{instance}`.
pub fn metrics(drivers: &[Drivers], out: &mut String) {
    let list = campaigns(drivers);
    let inst = holder(drivers).replace(['\\', '"'], "_");
    let _ = writeln!(
        out,
        "# HELP contactd_campaign_driver 1 for each campaign this instance drives (holds the lease of)\n\
         # TYPE contactd_campaign_driver gauge"
    );
    for (id, _) in &list {
        let _ = writeln!(
            out,
            "contactd_campaign_driver{{campaign=\"{id}\",instance=\"{inst}\"}} 1"
        );
    }
    let _ = writeln!(
        out,
        "# HELP contactd_campaigns_driven campaigns this instance drives\n\
         # TYPE contactd_campaigns_driven gauge\n\
         contactd_campaigns_driven{{instance=\"{inst}\"}} {}",
        list.len()
    );
}

/// This process's lease holder name (the same for every runner).
fn holder(drivers: &[Drivers]) -> String {
    drivers
        .first()
        .map(|d| d.instance().to_string())
        .unwrap_or_default()
}

fn campaigns(drivers: &[Drivers]) -> Vec<(i64, u64)> {
    let mut v: Vec<_> = drivers.iter().flat_map(|d| d.driven()).collect();
    v.sort_unstable();
    v
}
