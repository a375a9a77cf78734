//! The inbound flows' questions answered from the stores: list sizes, campaigns started,
//! paused or resumed by phone, and (through `service::meter`) the meter flow's accounts
//! and readings.

use tracing::{info, warn};
use uuid::Uuid;

use crate::core::campaign::state::CampaignState;
use crate::core::flow::{Answer, CampaignStatus, Query};
use crate::esl::outbound::ChannelData;
use crate::store::campaigns::NewCampaign;

use super::InboundCalls;

impl InboundCalls {
    /// The answer to `q` for the call `data` (a store that fails answers "none" / "not
    /// done", and the flow says so).
    pub(super) async fn answer_query(&self, q: &Query, data: &ChannelData) -> Answer {
        let caller = data.caller.as_str();
        if let Ok(call) = Uuid::parse_str(&data.uuid) {
            let pool = self.campaigns.pool();
            let now = self.clock.now();
            if let Some(a) =
                crate::service::meter::answer(pool, &self.config, q, call, caller, now).await
            {
                return a;
            }
        }
        match q {
            Query::ListSize(n) => {
                let size = async {
                    let db = self.campaigns.pool().get().await.ok()?;
                    let row = db
                        .query_opt(
                            "SELECT (SELECT count(*) FROM contacts WHERE list_number = $1)
                             FROM contact_lists WHERE number = $1",
                            &[n],
                        )
                        .await
                        .ok()??;
                    Some(row.get::<_, i64>(0))
                };
                Answer::ListSize(size.await)
            }
            Query::StartCampaign {
                list,
                audio,
                confirm,
            } => {
                let c = &self.config.campaigns;
                let email = self.manager_of(caller).and_then(|(_, m)| m.email.clone());
                let name = format!(
                    "list {list} by phone {caller} {}",
                    self.clock.now().format("%Y-%m-%d %H:%M")
                );
                let created = self
                    .campaigns
                    .create(&NewCampaign {
                        name,
                        confirm: *confirm,
                        manager_email: email,
                        ..NewCampaign::with_defaults(c, *list, audio, caller)
                    })
                    .await;
                match created {
                    Ok((id, n)) => {
                        info!(
                            campaign = id,
                            subscribers = n,
                            list,
                            manager = ?caller,
                            "campaign started by phone"
                        );
                        Answer::CampaignStarted(Some(id))
                    }
                    Err(e) => {
                        warn!(list, manager = ?caller, error = ?e.to_string(), "cannot start campaign");
                        Answer::CampaignStarted(None)
                    }
                }
            }
            Query::LastCampaign => {
                let st = async {
                    let c = self.campaigns.last_by(caller).await.ok()??;
                    let p = self.campaigns.progress(c.id).await.ok()?;
                    Some(CampaignStatus {
                        id: c.id,
                        state: c.state,
                        called: p.done,
                        total: p.total,
                    })
                };
                Answer::Campaign(st.await)
            }
            Query::TogglePause(id) => {
                let (running, paused) = (CampaignState::Running, CampaignState::Paused);
                let to_paused = self
                    .campaigns
                    .set_state(*id, &[running.as_str()], paused.as_str())
                    .await
                    .unwrap_or(false);
                if to_paused {
                    info!(campaign = id, manager = ?caller, "campaign paused by phone");
                    return Answer::Toggled(Some(paused.as_str().into()));
                }
                let resumed = self
                    .campaigns
                    .set_state(*id, &[paused.as_str()], running.as_str())
                    .await
                    .unwrap_or(false);
                if resumed {
                    info!(campaign = id, manager = ?caller, "campaign resumed by phone");
                }
                Answer::Toggled(resumed.then(|| running.as_str().into()))
            }
            Query::AccountOfCaller => Answer::CallerAccount(None),
            Query::Account(_) => Answer::AccountLookupFailed,
            Query::StoreReadings { .. } => Answer::ReadingsStored(false),
        }
    }
}
