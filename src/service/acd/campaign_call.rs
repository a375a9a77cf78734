//! Operator-campaign calls in the ACD (`service::opcamp` drives them): a person who answered
//! a campaign call waits in the campaign's queue like an inbound caller, ahead of them by
//! `[campaigns.operator] outbound_priority`, so the dispatcher reserves a ready operator for
//! them with the same atomic Lua reservation (`store::acd` RESERVE) and the offer rings the
//! operator (auto-answer) and bridges. The campaign's task gives the call up if that has not
//! happened within `connect_within` (then it plays the abandon message), and hands the
//! bridged call to an ACD caller task (end of talk, after-call work) as callbacks do.

use std::collections::BTreeMap;
use std::time::Duration;

use tracing::{info, warn};

use super::campaign_card::CampaignCard;
use super::views::{count_operators, need};
use super::{caller, Acd, AcdError, Meta, LEASE_MS};
use crate::core::acd::agent::StateName;
use crate::core::acd::queue::CallKind;
use crate::store::acd::Abandoned;

/// Whether a campaign call's own script (`service::opcamp::message`: a wait, then the
/// abandon message, then the hang-up) is past its wait, from the switch's
/// `current_application` (`show channels`' `application`): the person is hearing the
/// message, or has heard it, and an operator bridged now would cut it off mid-sentence.
pub fn message_begun(current_application: &str) -> bool {
    matches!(current_application, "playback" | "hangup")
}

/// An offer rung this recently (ms) cannot have been answered yet: withdrawing its call is
/// not the operator's miss.
const JUST_OFFERED_MS: i64 = 100;

/// What the campaign's pacing needs of the operators of one queue, from one read of Redis.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueFloor {
    /// Qualified operators ready now (not reserved).
    pub ready: u32,
    /// Qualified operators in after-call work, and for how long so far.
    pub wrapping_up: Vec<Duration>,
    /// Qualified operators talking or being offered a call, and for how long so far.
    pub talking: Vec<Duration>,
    /// Callers (inbound or campaign) waiting in the queue now.
    pub waiting: u32,
}

impl Acd {
    /// Whether `queue` is one of the ACD's queues.
    pub fn has_queue(&self, queue: &str) -> bool {
        self.cfg().queue.contains_key(queue)
    }

    /// The operators of `queue` as the pacing sees them.
    pub async fn queue_floor(&self, queue: &str) -> Result<QueueFloor, AcdError> {
        let q = self
            .cfg()
            .queue
            .get(queue)
            .ok_or_else(|| AcdError::NotFound(format!("queue {queue}")))?;
        let store = &self.inner.store;
        let agents = store.agents().await?;
        let skills = store.skills().await?;
        let now = self.now_ms();
        let mut floor = QueueFloor {
            ready: count_operators(&agents, &skills, need(q), |s| s == StateName::Ready) as u32,
            waiting: store.queue_len(queue).await? as u32,
            ..Default::default()
        };
        for (login, info) in &agents {
            let one = [(login.clone(), info.clone())];
            if count_operators(&one, &skills, need(q), |_| true) == 0 {
                continue;
            }
            let since = Duration::from_millis((now - info.at_ms).max(0) as u64);
            match info.state {
                StateName::WrapUp => floor.wrapping_up.push(since),
                StateName::Talking | StateName::Offered => floor.talking.push(since),
                _ => {}
            }
        }
        Ok(floor)
    }

    /// A person answered campaign call `call` (parked on the switch): they wait in `queue`
    /// at `priority` for the next ready operator of that queue. `home` is the campaign's
    /// queue (`queue` may be an operator's personal one), named in the call's record.
    #[allow(clippy::too_many_arguments)]
    pub async fn queue_campaign_call(
        &self,
        call: &str,
        queue: &str,
        home: &str,
        priority: u8,
        number: &str,
        card: CampaignCard,
    ) -> Result<(), AcdError> {
        if !self.has_queue(queue) && !queue.starts_with("opcb-") {
            return Err(AcdError::NotFound(format!("queue {queue}")));
        }
        let now = self.now_ms();
        let account = (!card.contact.account.is_empty()).then(|| card.contact.account.clone());
        if let Ok(u) = uuid::Uuid::parse_str(call) {
            // Written before it can be offered: the offer's answer and the talk update it.
            let _ = self
                .inner
                .records
                .entered_outbound(
                    u,
                    &self.inner.node,
                    home,
                    card.campaign,
                    number,
                    account.as_deref(),
                    super::ms_to_time(now),
                )
                .await;
        }
        let ivr: BTreeMap<String, String> = [
            ("contactd_campaign".to_string(), card.campaign.to_string()),
            ("contactd_contact".to_string(), card.contact.id.to_string()),
        ]
        .into();
        let meta = Meta {
            caller: Some(number.to_string()),
            account,
            ivr,
            node: self.inner.node.clone(),
            entered_ms: now,
            kind: CallKind::Waiting,
            callback: None,
            consult: None,
            by: Some(self.inner.instance.clone()),
            campaign: Some(card),
        };
        let store = &self.inner.store;
        store
            .set_meta(call, &serde_json::to_string(&meta).expect("meta json"))
            .await?;
        // Waiting in its own script since its answer (`service::opcamp::message`): the
        // offer may bridge it at once.
        store.set_parked(call).await?;
        store
            .enqueue(queue, call, priority, usize::MAX / 2, now)
            .await?;
        self.kick();
        Ok(())
    }

    /// The queue of `operator`'s own campaign callbacks: no dispatcher routes it, only
    /// [`Acd::offer_to`] (to that operator alone).
    pub fn personal_queue(operator: &str) -> String {
        format!("opcb-{operator}")
    }

    /// Offers the head of `personal` (a [`Acd::personal_queue`]) to `operator` if they are
    /// ready and qualified for `queue`; true if their phone is being rung.
    pub async fn offer_to(
        &self,
        personal: &str,
        queue: &str,
        operator: &str,
    ) -> Result<bool, AcdError> {
        let q = self
            .cfg()
            .queue
            .get(queue)
            .ok_or_else(|| AcdError::NotFound(format!("queue {queue}")))?;
        let r = self
            .inner
            .store
            .reserve_only(
                personal,
                need(q),
                self.now_ms(),
                &self.inner.instance,
                operator,
            )
            .await?;
        let Some(r) = r else {
            return Ok(false);
        };
        self.spawn_offer(super::offer::run(
            self.clone(),
            personal.to_string(),
            r,
            None,
        ));
        Ok(true)
    }

    /// A campaign call its driver lost sight of (a restart, a lost link), now settled as
    /// abandoned: taken out of whichever queue still holds it, so that no operator is rung
    /// for it later. True if an operator has it already (answered: being bridged).
    pub async fn withdraw_lost_campaign_call(&self, call: &str) -> Result<bool, AcdError> {
        let Some(info) = self.inner.store.call_info(call).await? else {
            // Never queued: its instance died between the call's record and its place in
            // the queue. Its record, if one was written, is closed as the abandon it is.
            self.inner.store.del_meta(call).await?;
            if let Ok(u) = uuid::Uuid::parse_str(call) {
                self.inner
                    .records
                    .abandoned_unanswered(u, self.clock().now())
                    .await?;
            }
            return Ok(false);
        };
        Ok(!self.withdraw_campaign_call(&info.queue, call).await?)
    }

    /// No operator in time: takes the call out of the ACD. True if it was still waiting or
    /// only ringing an operator (who is ready again); false if an operator has answered it
    /// (it is being bridged: the caller is theirs).
    pub async fn withdraw_campaign_call(&self, queue: &str, call: &str) -> Result<bool, AcdError> {
        let store = &self.inner.store;
        // An operator whose phone is still ringing at the limit missed the offer, as after
        // `operator_answer_ms` (`offer::run`), unless it was rung only just now.
        let ringing = self
            .inner
            .offers
            .lock()
            .expect("offers")
            .get(call)
            .filter(|o| !o.answered && self.now_ms() - o.at_ms >= JUST_OFFERED_MS)
            .map(|o| (o.r.clone(), o.leg.clone()));
        if let Some((r, leg)) = ringing {
            super::offer::missed_campaign_offer(self, queue, &r, &leg, None).await;
        }
        let found = store.abandon(queue, call).await?;
        if found == Abandoned::NotFound {
            return Ok(false);
        }
        if found == Abandoned::WasRinging {
            if let Ok(Some(leg)) = store.leg(call).await {
                let _ = self
                    .inner
                    .link
                    .hangup(&leg, freeswitch_types::HangupCause::OriginatorCancel)
                    .await;
            }
            self.kick();
        }
        if let Err(e) = store.del_meta(call).await {
            warn!(%call, "acd: campaign call's record not removed: {e}");
        }
        self.record_abandoned(call).await;
        Ok(true)
    }

    /// No operator reached the campaign call: its ACD record ends abandoned (the campaign's
    /// legal figure is `operator_calls`; this row is the ACD's view of the same call).
    async fn record_abandoned(&self, call: &str) {
        if let Ok(u) = uuid::Uuid::parse_str(call) {
            let now = self.clock().now();
            let _ = self
                .inner
                .records
                .ended(u, crate::core::acd::outcome::AcdOutcome::Abandoned, now)
                .await;
        }
    }

    /// A campaign call offered to an operator (ringing, or answered) but never bridged to
    /// them, that now will not be: its person is given the abandon message, or left. The
    /// operator's leg is hung up and they are ready again (no talk, so no after-call work
    /// and no disposition), and the call leaves the ACD, recorded abandoned. False if it is
    /// bridged after all, or no operator has it (nothing changed).
    pub async fn drop_unbridged_campaign_call(&self, call: &str) -> Result<bool, AcdError> {
        let store = &self.inner.store;
        let Some(agent) = store.offered_to(call).await? else {
            return Ok(false);
        };
        let leg = store.leg(call).await?;
        if let Some(l) = &leg {
            if self.inner.link.bridged(l).await {
                return Ok(false);
            }
        }
        let talking = store
            .agent_info(&agent)
            .await?
            .is_some_and(|i| i.state == StateName::Talking && i.call.as_deref() == Some(call));
        let released = match (&leg, talking) {
            (Some(l), true) => self.release_unbridged(call, &agent, l).await,
            _ => {
                // still ringing (or its answer not noted): not the operator's fault either
                if let Some(l) = &leg {
                    let _ = self
                        .inner
                        .link
                        .hangup(l, freeswitch_types::HangupCause::OriginatorCancel)
                        .await;
                }
                let gone = store.abandon("", call).await? == Abandoned::WasRinging;
                self.kick();
                gone
            }
        };
        store.del_meta(call).await?;
        self.record_abandoned(call).await;
        info!(%call, operator = %agent, released, "acd: campaign call given up before its bridge");
        Ok(true)
    }

    /// The operator who talks with (or was offered) `call`, if any.
    pub async fn operator_of(&self, call: &str) -> Option<String> {
        self.inner.store.offered_to(call).await.ok().flatten()
    }

    /// The campaign call is bridged to its operator: an ACD caller task of this instance
    /// follows it from here (the talk's end, who hung up, the after-call work), and the
    /// operator owes its disposition.
    pub async fn adopt_campaign_call(&self, call: &str, operator: &str) {
        let store = &self.inner.store;
        if let Err(e) = store.set_disposition_due(operator, call).await {
            warn!(%call, operator, "acd: disposition owed not noted: {e}");
        }
        let meta: Meta = match store.meta(call).await {
            Ok(Some(m)) => serde_json::from_str(&m).unwrap_or_default(),
            _ => return,
        };
        if matches!(
            store.claim(call, &self.inner.instance, LEASE_MS).await,
            Ok(true)
        ) {
            self.spawn_caller(call.to_string(), meta, caller::Start::Adopted);
            // bridged before its task began: a rebuild of Redis must know it as a talk
            if let Ok(Some(leg)) = store.leg(call).await {
                self.note_caller(call, |s| s.talk = Some((operator.to_string(), leg)));
            }
            info!(%call, operator, "acd: campaign call connected");
        }
    }

    /// The disposition of `call` was set by `operator`: they may go ready (and do, if their
    /// after-call work time is over).
    pub async fn disposition_set(&self, operator: &str, call: &str) -> Result<(), AcdError> {
        self.inner
            .store
            .clear_disposition_due(operator, call)
            .await?;
        self.inner.wrap_started.notify_one();
        Ok(())
    }

    /// The campaign call `operator` owes a disposition for, if any.
    /// Redis holds it while it has its data; PostgreSQL's call records are the truth (Redis
    /// restarted empty, or the note was lost): found there, it is noted in Redis again; a
    /// note for a call whose disposition PostgreSQL has is cleared.
    pub async fn disposition_due(&self, operator: &str) -> Result<Option<String>, AcdError> {
        if let Some(call) = self.inner.store.disposition_due(operator).await? {
            let owed = [(operator.to_string(), call.clone())];
            if self.clear_disposed(&owed).await.is_empty() {
                return Ok(Some(call));
            }
            return Ok(None);
        }
        match crate::store::op_held::disposition_owed(self.pool(), operator).await {
            Ok(Some(u)) => {
                let call = u.to_string();
                if let Err(e) = self.inner.store.set_disposition_due(operator, &call).await {
                    warn!(operator, %call, "acd: disposition owed not noted again: {e}");
                }
                Ok(Some(call))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                // PostgreSQL away: Redis's answer stands rather than keeping everyone out.
                warn!(operator, "acd: disposition owed not looked up: {e}");
                Ok(None)
            }
        }
    }

    /// Of the dispositions Redis notes as owed (`(operator, call)`), those PostgreSQL holds
    /// already — stored, and the step that should have cleared the note failed (Redis away
    /// just then) — are cleared; the operators so freed. PostgreSQL slow or away: none
    /// (the notes stand, asked again later).
    pub(super) async fn clear_disposed(&self, owed: &[(String, String)]) -> Vec<String> {
        let calls: Vec<uuid::Uuid> = owed
            .iter()
            .filter_map(|(_, c)| uuid::Uuid::parse_str(c).ok())
            .collect();
        let ask = crate::store::op_held::disposed(self.pool(), &calls);
        let done = match tokio::time::timeout(Duration::from_secs(1), ask).await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => {
                tracing::debug!("acd: dispositions owed not checked: {e}");
                return Vec::new();
            }
            Err(_) => return Vec::new(),
        };
        let mut freed = Vec::new();
        for (operator, call) in owed {
            if !done.iter().any(|u| u.to_string() == *call) {
                continue;
            }
            match self.inner.store.clear_disposition_due(operator, call).await {
                Ok(()) => {
                    info!(operator = %operator, %call, "acd: disposition stored, its note in Redis cleared late");
                    freed.push(operator.clone());
                }
                Err(e) => {
                    warn!(operator = %operator, %call, "acd: disposition note not cleared: {e}")
                }
            }
        }
        freed
    }

    /// An operator's live state and how long they have been in it (None: logged out/unknown).
    pub async fn operator_state(&self, login: &str) -> Option<(StateName, Duration)> {
        let info = self.inner.store.agent_info(login).await.ok().flatten()?;
        let since = Duration::from_millis((self.now_ms() - info.at_ms).max(0) as u64);
        Some((info.state, since))
    }
}
