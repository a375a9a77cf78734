//! The core's ground truth as the switch's parts report it: each party's record (what
//! they heard, who hung up) and each agent phone's offers (rung, answered, ended, how many
//! at once).

use super::config::Behaviour;
use super::core::{lock, Core, CoreSt};
use super::truth::{AgentOffer, PartyRecord};

impl Core {
    /// Update (or create) the ground-truth record of a party.
    pub fn truth<F: FnOnce(&mut PartyRecord)>(&self, uuid: &str, f: F) {
        let mut st = lock(&self.st);
        if let Some(next) = st.successor.clone() {
            drop(st);
            return next.truth(uuid, f);
        }
        if !st.truth.contains_key(uuid) {
            st.truth_order.push(uuid.to_string());
            st.truth.insert(
                uuid.to_string(),
                PartyRecord {
                    uuid: uuid.to_string(),
                    ..Default::default()
                },
            );
        }
        if let Some(r) = st.truth.get_mut(uuid) {
            f(r);
        }
    }

    /// Update the ground-truth record of a party if it has one (a loopback B-leg has none).
    pub fn truth_if<F: FnOnce(&mut PartyRecord)>(&self, uuid: &str, f: F) {
        let mut st = lock(&self.st);
        if let Some(next) = st.successor.clone() {
            drop(st);
            return next.truth_if(uuid, f);
        }
        if let Some(r) = st.truth.get_mut(uuid) {
            f(r);
        }
    }

    /// Rename a ground-truth key.
    pub fn truth_rename(&self, old: &str, new: &str) {
        let mut st = lock(&self.st);
        if let Some(next) = st.successor.clone() {
            drop(st);
            return next.truth_rename(old, new);
        }
        if let Some(mut r) = st.truth.remove(old) {
            r.uuid = new.to_string();
            st.truth.insert(new.to_string(), r);
            for k in st.truth_order.iter_mut() {
                if k == old {
                    *k = new.to_string();
                }
            }
        }
    }

    /// Does a ground-truth record exist for this uuid?
    pub fn has_truth(&self, uuid: &str) -> bool {
        let st = lock(&self.st);
        if let Some(next) = st.successor.clone() {
            drop(st);
            return next.has_truth(uuid);
        }
        st.truth.contains_key(uuid)
    }

    /// What the agent phone `user/<ext>` does now; None = not registered.
    pub fn agent_behaviour(&self, ext: &str) -> Option<Behaviour> {
        lock(&self.st).agents.get(ext).cloned()
    }

    /// A leg starts ringing agent phone `ext`.
    pub fn agent_offer_start(&self, ext: &str, uuid: &str, vars: Vec<(String, String)>) {
        let now = self.now_us();
        let mut st = lock(&self.st);
        st.offers
            .entry(ext.to_string())
            .or_default()
            .push(AgentOffer {
                uuid: uuid.to_string(),
                ext: ext.to_string(),
                rang_at_us: now,
                vars,
                ..Default::default()
            });
        let live = {
            let n = st.agent_live.entry(ext.to_string()).or_insert(0);
            *n += 1;
            *n
        };
        let peak = st.agent_peak.entry(ext.to_string()).or_insert(0);
        *peak = (*peak).max(live);
    }

    fn agent_offer<F: FnOnce(&mut AgentOffer)>(st: &mut CoreSt, ext: &str, uuid: &str, f: F) {
        if let Some(o) = st
            .offers
            .get_mut(ext)
            .and_then(|v| v.iter_mut().rev().find(|o| o.uuid == uuid))
        {
            f(o);
        }
    }

    /// The agent phone answered the leg `uuid`.
    pub fn agent_offer_answered(&self, ext: &str, uuid: &str) {
        let now = self.now_us();
        let mut st = lock(&self.st);
        Self::agent_offer(&mut st, ext, uuid, |o| {
            o.answered = true;
            o.answered_at_us = Some(now);
        });
    }

    /// The leg `uuid` on agent phone `ext` hung up.
    pub fn agent_offer_end(&self, ext: &str, uuid: &str, cause: &str) {
        let now = self.now_us();
        let mut st = lock(&self.st);
        let mut ended = false;
        Self::agent_offer(&mut st, ext, uuid, |o| {
            if o.ended_at_us.is_none() {
                o.ended_at_us = Some(now);
                o.hangup_cause = Some(cause.to_string());
                ended = true;
            }
        });
        if ended {
            if let Some(n) = st.agent_live.get_mut(ext) {
                *n = n.saturating_sub(1);
            }
        }
    }
}
