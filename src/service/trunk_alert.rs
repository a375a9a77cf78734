//! The sysadmins' e-mail about a FreeTDM span in alarm: its text and its row in the durable
//! outbox (sent by `mail::run_outbox`, retried until the mail server takes it). Which alarm
//! is mailed, once per episode, is `service::trunks`' decision.

use crate::config::Config;

/// Outbox `kind` of a span alarm's e-mail to the sysadmins.
pub const KIND_SPAN_ALARM: &str = "span_alarm";

/// The sysadmins' e-mail: what is down, what it means for the campaigns, where to look.
pub(crate) fn alert_text(
    switch: &str,
    span: &str,
    span_name: &str,
    alarms: &[String],
    trunks: &[String],
    cfg: &Config,
) -> (String, String) {
    let alarm = if alarms.is_empty() {
        "alarm".to_string()
    } else {
        alarms.join(", ")
    };
    let named = if span_name.is_empty() || span_name == span {
        String::new()
    } else {
        format!(" ({span_name})")
    };
    let subject = format!("contactd: E1/FXO span {span}{named} on {switch} in alarm ({alarm})");
    let groups: Vec<&str> = cfg
        .trunk_group
        .iter()
        .filter(|(_, g)| g.trunks.iter().any(|t| trunks.contains(t)))
        .map(|(n, _)| n.as_str())
        .collect();
    let body = format!(
        "FreeSWITCH node {switch} reports FreeTDM span {span}{named} in alarm: {alarm}.\n\
         \n\
         Trunks out of service (capacity 0): {}\n\
         Trunk groups going on over their other trunks: {}\n\
         \n\
         Calls are no longer placed on this span; campaigns on a group go on over the rest\n\
         of it, campaigns on this trunk alone wait. The trunk comes back by itself when the\n\
         span's alarm clears. Check the line (cable, provider) and `fs_cli -x \"ftdm dump {span}\"`;\n\
         `contactd trunks` shows every trunk's state.\n",
        if trunks.is_empty() {
            "(none configured on this span)".to_string()
        } else {
            trunks.join(", ")
        },
        if groups.is_empty() {
            "(none)".to_string()
        } else {
            groups.join(", ")
        },
    );
    (subject, body)
}

pub(crate) async fn enqueue_alert(
    pool: &deadpool_postgres::Pool,
    to: &[String],
    subject: &str,
    body: &str,
) -> Result<(), crate::mail::MailError> {
    let to = crate::mail::recipients(to)?;
    let db = pool.get().await?;
    db.execute(
        "INSERT INTO outbox (kind, recipients, subject, body) VALUES ($1, $2, $3, $4)",
        &[&KIND_SPAN_ALARM, &to, &subject, &body],
    )
    .await?;
    Ok(())
}
