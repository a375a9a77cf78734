//! A FreeTDM span going into alarm or out of it: logged, counted per trunk, mailed to the
//! sysadmins once per episode (across instances), and the pacers woken.

use tracing::{error, info, warn};

use super::Trunks;
use crate::core::trunks::SpanChange;
use crate::service::trunk_alert::{alert_text, enqueue_alert};
use crate::store::trunk_state;

impl Trunks {
    /// A span went down or came back: log, count, mail (once per episode) and wake.
    pub(super) async fn span_changed(
        &self,
        switch: &str,
        span_id: &str,
        span_name: &str,
        c: SpanChange,
    ) {
        let key = format!("{switch}/{span_id}");
        let trunks: Vec<String> = self
            .config
            .trunk
            .iter()
            .filter(|(_, t)| {
                t.switch == switch
                    && t.span_name()
                        .is_some_and(|s| s == span_id || (!span_name.is_empty() && s == span_name))
            })
            .map(|(n, _)| n.clone())
            .collect();
        match c {
            SpanChange::Down { alarms } => {
                error!(
                    switch,
                    span = span_id,
                    span_name,
                    ?alarms,
                    ?trunks,
                    "FreeTDM span in alarm: its trunks are out of service"
                );
                self.health().alarms.insert(key, alarms.clone());
                for t in &trunks {
                    if let Err(e) = trunk_state::count_alarm(&self.live, t).await {
                        warn!(trunk = %t, "alarm not counted: {e}");
                    }
                }
                self.alert(switch, span_id, span_name, &alarms, &trunks)
                    .await;
            }
            SpanChange::Up => {
                info!(
                    switch,
                    span = span_id,
                    span_name,
                    ?trunks,
                    "FreeTDM span alarm cleared: its trunks are back in service"
                );
                self.health().alarms.remove(&key);
                if let Err(e) = trunk_state::end_alert(&self.live, switch, span_id).await {
                    warn!(
                        switch,
                        span = span_id,
                        "alarm episode not closed in Redis: {e}"
                    );
                }
                self.wake();
            }
        }
    }

    /// Queues the sysadmins' e-mail, once per alarm episode across instances.
    async fn alert(
        &self,
        switch: &str,
        span: &str,
        span_name: &str,
        alarms: &[String],
        trunks: &[String],
    ) {
        let to = &self.config.mail.sysadmins;
        if to.is_empty() {
            warn!(switch, span, "no [mail] sysadmins: span alarm not mailed");
            return;
        }
        match trunk_state::claim_alert(&self.live, switch, span).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                error!(switch, span, "span alarm not mailed (Redis): {e}");
                return;
            }
        }
        let Some(pool) = &self.pool else {
            return;
        };
        let (subject, body) = alert_text(switch, span, span_name, alarms, trunks, &self.config);
        if let Err(e) = enqueue_alert(pool, to, &subject, &body).await {
            error!(switch, span, "span alarm not queued for mail: {e}");
            // unclaimed, so the next event or resync tries again
            let _ = trunk_state::unclaim_alert(&self.live, switch, span).await;
        }
    }
}
