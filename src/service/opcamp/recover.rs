//! After a restart (or a lost originate): subscribers of operator campaigns left `dialing`
//! with nobody following their call. Nobody who may have been connected is dialed again, and
//! nobody answered is left in silence or cut off:
//! - a call still up and talking with an operator (bridged on the switch, which carries the
//!   talk without contactd) is followed to its end and recorded `connected`; the ACD takes
//!   the operator's side over as for its own calls, and the disposition is owed as usual;
//! - a call still up, answered, with no operator: the person hears the abandon message (as
//!   any abandoned call does) and is recorded `abandoned`;
//! - a call still ringing is ended and retried by its cause;
//! - a call gone: one that had reached an operator is `connected` (its talk ended now: the
//!   disposition is owed), another answered one is done (`unknown`), one never answered is
//!   retried by its cause, one with no call row was never sent, and one with no end recorded
//!   that this instance's record of the switch proves never placed (`service::witnessed`:
//!   its sender died before the originate left) is put back, not counted as an attempt.
//!
//! Operators' callbacks left `dialing` are settled the same way: due again if never dialed,
//! counted by their call's end (done, tried again later, failed) otherwise.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use freeswitch_types::HangupCause;
use tracing::{info, warn};
use uuid::Uuid;

use super::connect::Reached;
use super::ends::{end_with, wait_hangup, CONNECTED};
use super::OpRunner;
use crate::core::campaign::outcome::{self, Outcome};
use crate::core::channels::SwitchEvent;
use crate::esl::control::{CallWatch, SwitchLink, WatchEvent};
use crate::service::acd::message_begun;
use crate::service::witnessed::{witnessed, Witnessed};
use crate::store::campaigns::{AttemptEnd, Campaign, Stranded};
use crate::store::op_campaigns::OpCallback;
use crate::store::StoreError;

/// A finished campaign's callback taken by another process that long ago is settled by
/// any instance (the taker is gone for good: a callback call never lasts this long).
const CALLBACK_STALE_HOURS: i64 = 4;

/// Whom a recovered call was placed for.
enum Owner {
    Target { contact: i64, attempt_no: i32 },
    Callback(OpCallback),
}

/// How long recovery waits for the switch link before it judges a call it cannot see.
const LINK_WAIT: Duration = Duration::from_secs(10);

impl OpRunner {
    pub(super) async fn recover(self: &Arc<Self>) -> Result<(), StoreError> {
        for op in self.ops.active().await? {
            if !self.drives(op.campaign_id) {
                continue; // another instance's calls, or nobody's yet: its driver's to recover
            }
            let Some(c) = self.campaigns.get(op.campaign_id).await? else {
                continue;
            };
            // A preview contact on an operator's screen is theirs, not stranded.
            let held = self.held().held_contacts(c.id).await?;
            // a call that ends while the read is under way may have written its end after
            // the read's snapshot (`core::drivers`)
            let since = self.driving.read_begins();
            let mut stranded =
                self.driving
                    .left_alone(self.campaigns.stranded(c.id).await?, since, |s| {
                        (c.id, s.contact_id)
                    });
            stranded.retain(|s| !held.contains(&s.contact_id));
            if !stranded.is_empty() {
                info!(
                    campaign = c.id,
                    n = stranded.len(),
                    "operator campaign: recovering subscribers nobody follows"
                );
            }
            // side by side: one call's wait for proof (`service::witnessed`, seconds) must
            // not keep an answered person in silence while it lasts
            let each = stranded.into_iter().map(|s| self.recover_one(&c, s));
            for r in futures_util::future::join_all(each).await {
                r?;
            }
        }
        self.recover_callbacks().await
    }

    /// Callbacks left `dialing`: one never dialed is due again now; one whose call ended is
    /// counted as that call went (done, tried again, failed); one whose call is still up is
    /// taken over as any call.
    async fn recover_callbacks(self: &Arc<Self>) -> Result<(), StoreError> {
        for d in self.held().callbacks_dialing().await? {
            let cb = d.callback;
            let Some(c) = self.campaigns.get(cb.campaign_id).await? else {
                continue;
            };
            // A running campaign's driver settles its callbacks. A finished campaign has no
            // driver: its callback is settled by a later process of the instance that took
            // it (gone), or once stale; never one this or another live process is dialing.
            if c.state != "finished" && !self.drives(cb.campaign_id) {
                continue;
            }
            if c.state == "finished" && !self.settles_taken_by(d.claimed.as_ref()) {
                continue;
            }
            match d.call {
                None | Some((_, _, true)) => {
                    info!(
                        callback = cb.id,
                        "callback left dialing, never dialed: due again"
                    );
                    self.ops
                        .callback_state(cb.id, "pending", Some(self.clock.now()), None)
                        .await?;
                }
                Some((uuid, Some(outcome), false)) => {
                    self.callback_ended(&cb, uuid, &outcome).await
                }
                Some((uuid, None, false)) => match self.calls.get(uuid).await.ok().flatten() {
                    // no call row: written before the originate, so none was sent
                    None => {
                        self.campaigns.delete_attempt(uuid).await?;
                        self.ops
                            .callback_state(cb.id, "pending", Some(self.clock.now()), None)
                            .await?;
                    }
                    Some(r) => {
                        let answered = r.answered_at.is_some();
                        self.recover_call(&c, Owner::Callback(cb), uuid, answered)
                            .await;
                    }
                },
            }
        }
        Ok(())
    }

    fn settles_taken_by(&self, claimed: Option<&(String, DateTime<Utc>)>) -> bool {
        let Some((by, at)) = claimed else {
            return true; // taken before sql/018 recorded who
        };
        let me = self.holder();
        if *by == me {
            return false; // this process follows its own calls
        }
        let stale = self.clock.now() - *at > TimeDelta::hours(CALLBACK_STALE_HOURS);
        stale
            || crate::core::driver_lease::earlier_process(
                &me,
                by,
                crate::service::campaign_lease::process_alive,
            )
    }

    async fn recover_one(self: &Arc<Self>, c: &Campaign, s: Stranded) -> Result<(), StoreError> {
        let attempt_no = s.attempts + 1;
        if let Some(o) = s.outcome.as_deref() {
            self.settle(c, s.contact_id, s.attempts.max(1), o).await;
            return Ok(());
        }
        let Some(uuid) = s.uuid else {
            self.campaigns
                .requeue(c.id, s.contact_id, self.clock.now())
                .await?;
            return Ok(());
        };
        let rec = self.calls.get(uuid).await.ok().flatten();
        let answered = s.answered || rec.as_ref().is_some_and(|r| r.answered_at.is_some());
        if rec.is_none() {
            // No call row: written before the originate, so none was sent.
            self.campaigns.delete_attempt(uuid).await?;
            self.campaigns
                .requeue(c.id, s.contact_id, self.clock.now())
                .await?;
            return Ok(());
        }
        let owner = Owner::Target {
            contact: s.contact_id,
            attempt_no,
        };
        self.recover_call(c, owner, uuid, answered).await;
        Ok(())
    }

    /// A call nobody follows: taken over if it is up and answered; ended if it still rings;
    /// settled from the records if it is gone.
    async fn recover_call(
        self: &Arc<Self>,
        c: &Campaign,
        owner: Owner,
        uuid: Uuid,
        answered: bool,
    ) {
        let call = uuid.to_string();
        // the switch of a call it does not list (asked, not guessed)
        let mut gone_from = None;
        // the call's own switch (a campaign on a trunk group spans several)
        if let Some(link) = self.trunks.call_link(&c.trunk, uuid, &self.calls).await {
            let link = &link;
            // watched before asking, so that an end in between is not missed
            let watch = link.watch_call(&call);
            let live = link.back_and_exists(&call, LINK_WAIT).await;
            // answered while nobody wrote it down (the stop came first): the switch knows
            let answered = answered
                || (live == Some(true)
                    && link
                        .channels()
                        .await
                        .ok()
                        .is_some_and(|rows| rows.iter().any(|r| r.uuid == call && r.answered)));
            match live {
                Some(true) if answered => {
                    self.take_over(c, owner, uuid, watch);
                    return;
                }
                Some(true) => {
                    // still ringing: nobody follows it; ended, then retried by its cause
                    let _ = link.kill(&call, HangupCause::NormalClearing).await;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Some(false) => gone_from = Some(link.clone()),
                None => {
                    // the switch cannot be asked: whoever it reached may be connected, so
                    // it is ended and never dialed again (below, `unknown` if answered)
                    let _ = link.kill(&call, HangupCause::NormalClearing).await;
                }
            }
        }
        let rec = self.calls.get(uuid).await.ok().flatten();
        let silent = rec.as_ref().is_some_and(|r| {
            r.answered_at.is_none() && r.hangup_cause.as_deref().is_none_or(|c| c == "UNKNOWN")
        });
        if let (Some(link), true, false) = (&gone_from, silent, answered) {
            // gone with nothing recorded of its end (its sender may have died before the
            // originate left): what this instance saw of the switch
            // its originate carried no end note (`place_call`): the event record alone
            match witnessed(link, &self.campaigns, uuid, false).await {
                Some(Witnessed::NeverDialed) => {
                    info!(campaign = c.id, %uuid, "the switch never had this call: put back, not dialed");
                    self.log_write(self.campaigns.delete_attempt(uuid).await);
                    let again = match &owner {
                        Owner::Target { contact, .. } => {
                            self.campaigns
                                .requeue(c.id, *contact, self.clock.now())
                                .await
                        }
                        Owner::Callback(cb) => {
                            let now = Some(self.clock.now());
                            self.ops.callback_state(cb.id, "pending", now, None).await
                        }
                    };
                    self.log_write(again);
                    return;
                }
                Some(Witnessed::Unanswered { cause, q850 }) => {
                    let end = AttemptEnd {
                        outcome: outcome::unanswered(&cause).as_str().into(),
                        cause: Some(cause),
                        q850,
                        ..Default::default()
                    };
                    warn!(campaign = c.id, %uuid, outcome = %end.outcome, "operator campaign attempt recovered, as seen on the switch");
                    self.close(c, &owner, uuid, &end).await;
                    return;
                }
                Some(Witnessed::OnSwitch) => {
                    // its originate was on its way when asked: a live call, followed (or
                    // ended if still ringing) as any other, not settled from the records
                    return Box::pin(self.recover_call(c, owner, uuid, answered)).await;
                }
                None => {}
            }
        }
        let outcome = match &rec {
            // it ended while nobody followed it; if it had reached an operator, it counts
            // as their talk and the disposition is owed as for any other
            _ if self
                .ops
                .progress(uuid)
                .await
                .ok()
                .flatten()
                .is_some_and(|p| p.0) =>
            {
                self.log_write(self.ops.talk_ended(uuid, self.clock.now()).await);
                CONNECTED
            }
            _ if answered => Outcome::Unknown.as_str(),
            Some(r) if r.answered_at.is_some() => Outcome::Unknown.as_str(),
            Some(r) => match r.hangup_cause.as_deref() {
                Some(cause) if cause != "UNKNOWN" => outcome::unanswered(cause).as_str(),
                _ => Outcome::NoAnswer.as_str(),
            },
            None => Outcome::Unknown.as_str(),
        };
        warn!(campaign = c.id, %uuid, outcome, "operator campaign attempt recovered");
        let end = crate::store::campaigns::AttemptEnd {
            outcome: outcome.to_string(),
            cause: rec.and_then(|r| r.hangup_cause),
            ..Default::default()
        };
        self.close(c, &owner, uuid, &end).await;
    }

    /// Records the end of a recovered call for whoever it was placed for.
    async fn close(&self, c: &Campaign, owner: &Owner, uuid: Uuid, end: &AttemptEnd) {
        match owner {
            Owner::Target {
                contact,
                attempt_no,
            } => self.finish(c, *contact, *attempt_no, uuid, end).await,
            Owner::Callback(cb) => {
                self.log_write(
                    self.campaigns
                        .finish_attempt(uuid, end, self.clock.now())
                        .await,
                );
                self.callback_ended(cb, uuid, &end.outcome).await;
            }
        }
    }

    /// An answered call still up that nobody follows: its talk with the operator is followed
    /// to the end, or, with no operator, the person hears the abandon message.
    fn take_over(self: &Arc<Self>, c: &Campaign, owner: Owner, uuid: Uuid, mut watch: CallWatch) {
        // a subscriber's call is theirs while followed (a callback leaves their place alone)
        let key = match &owner {
            Owner::Target { contact, .. } => Some((c.id, *contact)),
            Owner::Callback(_) => None,
        };
        if let Some(k) = key {
            self.driving.begin(k);
        }
        let me = Arc::clone(self);
        let c = c.clone();
        tokio::spawn(async move {
            if let Some(link) = me.trunks.call_link(&c.trunk, uuid, &me.calls).await {
                let end = me.follow_taken_over(&c, uuid, &link, &mut watch).await;
                me.close(&c, &owner, uuid, &end).await;
            }
            if let Some(k) = key {
                me.driving.end(k);
            }
        });
    }

    async fn follow_taken_over(
        self: &Arc<Self>,
        c: &Campaign,
        uuid: Uuid,
        link: &SwitchLink,
        watch: &mut CallWatch,
    ) -> AttemptEnd {
        let call = uuid.to_string();
        let recorded = self.ops.progress(uuid).await.ok().flatten();
        let (connected, operator) = recorded.unwrap_or((false, None));
        // the switch's own word too: the connect may be the write a crash lost
        let bridged = link.bridged(&call).await;
        if connected || bridged {
            info!(campaign = c.id, %uuid, operator = ?operator, "taken over: talking with an operator, followed to its end");
            wait_hangup(link, watch, &call).await;
            self.log_write(self.ops.talk_ended(uuid, self.clock.now()).await);
            return end_with(CONNECTED, None);
        }
        info!(campaign = c.id, %uuid, "taken over: answered, no operator: the switch plays the abandon message");
        self.settle_lost_call(c, uuid, link, watch).await
    }

    /// A call answered while nobody followed it (a restart, a lost link), found without an
    /// operator: taken out of the ACD so that none is rung for it later, then the switch's
    /// message. One an operator was rung for or answered, but never bridged to (the process
    /// died, or the link dropped, between the answer and the bridge), is a talk only if the
    /// ACD bridges it before its message begins (`Acd::message_begun`); else it is the
    /// abandon the person heard, and the operator is let go without a disposition to set.
    /// Its answer was not seen, so a talk is counted as connected past the limit (the
    /// cautious side of the legal figure).
    pub(super) async fn settle_lost_call(
        self: &Arc<Self>,
        c: &Campaign,
        id: Uuid,
        link: &SwitchLink,
        watch: &mut CallWatch,
    ) -> AttemptEnd {
        let call = id.to_string();
        let held = match self.acd.withdraw_lost_campaign_call(&call).await {
            Ok(held) => held,
            Err(e) => {
                warn!(campaign = c.id, %call, "lost call not withdrawn from the ACD: {e}");
                false
            }
        };
        if held {
            let app = link.getvar(&call, "current_application").await;
            let begun = app.ok().flatten().is_some_and(|a| message_begun(&a));
            // not begun: the operator waits on their leg until the ACD bridges them or the
            // message begins, when they are let go at once
            if begun || self.message_begins(watch).await {
                self.let_operator_go(c, &call).await;
            }
        }
        let late = self.config.campaigns.operator.connect_within() + Duration::from_millis(1);
        let now = self.clock.instant();
        let answered = now.checked_sub(late).unwrap_or(now);
        let end = self
            .after_reached(c, id, link, watch, answered, Reached::Nobody)
            .await;
        if held && end.outcome != CONNECTED {
            // the call ended unbridged while its operator still waited for it
            self.let_operator_go(c, &call).await;
        }
        end
    }

    /// Waits for the call's abandon message to begin (its script's `playback`): true then;
    /// false if it was bridged, ended, or lost sight of first (those events are left on the
    /// watch for what follows), or nothing happened in time.
    async fn message_begins(&self, watch: &mut CallWatch) -> bool {
        let o = &self.config.campaigns.operator;
        let limit = Duration::from_millis(o.abandon_message_after_ms()) + Duration::from_secs(1);
        let until = self.clock.instant() + limit;
        let mut seen = Vec::new();
        let begun = loop {
            match tokio::time::timeout_at(until, watch.recv()).await {
                Ok(Some(WatchEvent::Switch(SwitchEvent::PlaybackStart { .. }))) => break true,
                Ok(Some(
                    ev @ (WatchEvent::Switch(SwitchEvent::Bridge { .. } | SwitchEvent::Hangup(_))
                    | WatchEvent::LinkLost),
                )) => {
                    seen.push(ev);
                    break false;
                }
                Ok(Some(ev)) => seen.push(ev),
                Ok(None) | Err(_) => break false,
            }
        };
        for ev in seen.into_iter().rev() {
            watch.put_back(ev);
        }
        begun
    }

    /// The operator an unbridged lost call was offered to is let go: their leg hung up,
    /// ready again, nothing to dispose.
    async fn let_operator_go(&self, c: &Campaign, call: &str) {
        match self.acd.drop_unbridged_campaign_call(call).await {
            Ok(true) => {
                info!(campaign = c.id, %call, "its operator never bridged to it: let go")
            }
            Ok(false) => {}
            Err(e) => warn!(campaign = c.id, %call, "operator of a lost call not let go: {e}"),
        }
    }
}
