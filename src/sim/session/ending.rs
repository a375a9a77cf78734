//! A channel's end: the hang-up (its cause and who hung up, CHANNEL_HANGUP), the loopback
//! partner hung up with it, the reporting sequence and the destroy.

use super::{Sess, Vars};
use crate::sim::channel::{ChanState, Cs};
use crate::sim::core::lock;
use crate::sim::headers::q850;
use crate::sim::{api, bridge, ivr, tables};

impl Sess {
    /// Hang up with a cause. Fires CHANNEL_HANGUP; the session task then runs the
    /// reporting sequence, which hangs up the loopback partner; a leg bridged to
    /// this one (or to the partner) sees its bridge end (`peer_gone`) and decides for itself.
    pub fn hangup(&self, cause: &str, by: &str) {
        let now = self.core.now_us();
        let apply = |s: &mut ChanState| {
            s.hangup_cause = Some(cause.to_string());
            s.hangup_by = Some(by.to_string());
            s.caller.hangup_us = now;
            s.answer_state = "hangup";
            s.state = Cs::Hangup;
        };
        // Build CHANNEL_HANGUP from the hung-up state and fire it *before* the
        // channel is marked hung up: the session task (another thread) reacts
        // to the hangup at once and must not get its events out first.
        let next = {
            let mut s = lock(&self.ch.st);
            if s.is_hungup() || s.hangup_started {
                return;
            }
            s.hangup_started = true;
            let mut n = s.clone();
            apply(&mut n);
            n
        };
        let (partner, peer, agent) = (
            next.partner.clone(),
            next.bridge_peer.clone(),
            next.agent.clone(),
        );
        let ev = self.event_from(
            &next,
            "CHANNEL_HANGUP",
            ("switch_channel.c", "switch_channel_perform_hangup", 3445),
            Vars::Yes,
            &[],
            &[],
        );
        self.core.fire(ev);
        self.modify(apply);
        let uuid = self.uuid();
        let ms = self.core.sim_ms();
        let by_s = by.to_string();
        let c = cause.to_string();
        self.core.truth(&uuid, |r| {
            if r.hangup_cause.is_none() {
                r.hangup_cause = Some(c.clone());
                r.q850 = Some(q850(&c));
                r.hangup_by = Some(by_s);
                r.ended_at_ms = Some(ms);
            }
        });
        if let Some(ext) = agent {
            self.core.agent_offer_end(&ext, &uuid, cause);
        }
        // The bridge ends for the leg bridged to this one: it decides on its own
        // what comes next (bridge.rs: park_after_bridge, hangup_after_bridge, its
        // remaining applications, or hang up as an abandoned originatee).
        if let Some(ch) = peer.as_ref().and_then(|u| self.core.chan(u)) {
            let snap = self.with(|s| {
                let mut c = s.clone();
                c.other_snap = None;
                c.bridge_profile = None;
                Box::new(c)
            });
            Sess::new(self.core.clone(), ch).modify(|s| {
                if s.bridge_peer.as_deref() == Some(uuid.as_str()) {
                    s.peer_gone = true;
                    s.other_snap = Some(snap);
                }
            });
        }
        // mod_loopback's kill_channel unlinks the other leg at once: a bridge it is in ends
        // now (its bridged leg decides what comes next); the other leg itself is hung up
        // by this one's CS_HANGUP handler (`report`)
        if let Some(ch) = partner.as_ref().and_then(|u| self.core.chan(u)) {
            bridge::leave_bridge(&Sess::new(self.core.clone(), ch), None);
        }
    }

    /// mod_loopback's on_hangup: the other leg of a loopback pair is hung up with this
    /// leg's cause.
    pub(super) fn hangup_partner(&self) {
        let (partner, cause, by) = self.with(|s| {
            (
                s.partner.clone(),
                s.hangup_cause
                    .clone()
                    .unwrap_or_else(|| "NORMAL_CLEARING".into()),
                s.hangup_by.clone(),
            )
        });
        if let Some(ch) = partner.as_ref().and_then(|u| self.core.chan(u)) {
            let by = if by.as_deref() == Some("party") {
                "party"
            } else {
                "switch"
            };
            Sess::new(self.core.clone(), ch).hangup(&cause, by);
        }
    }

    /// The CS_HANGUP .. CS_DESTROY sequence. `destroy=false` stops after
    /// CHANNEL_HANGUP_COMPLETE (outbound socket with linger keeps the channel).
    pub fn report(&self, destroy: bool) {
        // once per channel: a session task that finds its channel already reported (by the
        // socket application, by a failed originate) only destroys it
        if self.modify(|s| std::mem::replace(&mut s.reported, true)) {
            if destroy {
                self.destroy();
            }
            return;
        }
        self.set_running(Cs::Hangup);
        self.set_callstate("HANGUP");
        // the endpoint's on_hangup: a FreeTDM channel starts clearing
        self.core.hangup_trunk_channel(&self.uuid());
        self.hangup_partner();
        // CS_HANGUP removes the media bugs: a record_session file is closed here
        ivr::stop_record_session(self, None);
        self.set_running(Cs::Reporting);
        let now = self.core.now_us();
        self.modify(|s| {
            let c = s.hangup_cause.clone().unwrap_or_default();
            s.add_cdr_vars(q850(&c), now);
        });
        self.api_hangup_hook();
        let cause = self.with(|s| s.hangup_cause.clone().unwrap_or_default());
        self.fire(
            "CHANNEL_HANGUP_COMPLETE",
            (
                "switch_core_state_machine.c",
                "switch_core_session_reporting_state",
                943,
            ),
            Vars::Yes,
            &[("Hangup-Cause", cause)],
            &[],
        );
        if destroy {
            self.destroy();
        }
    }

    /// `api_hangup_hook` (switch_core_session_hangup_state): the API command it names
    /// (`cmd::arg`, else `cmd arg`), its argument expanded with the channel's variables
    /// (`hangup_cause`, the timestamps and the rest are set by then), run as the channel
    /// hangs up — before CHANNEL_HANGUP_COMPLETE, whether or not anyone listens to events.
    pub(super) fn api_hangup_hook(&self) {
        let hook = self.with(|s| {
            let hook = s.var("api_hangup_hook")?;
            let (cmd, arg) = match hook.find(':') {
                Some(i) if hook[i + 1..].starts_with(':') => (&hook[..i], &hook[i + 2..]),
                _ => hook.split_once(' ').unwrap_or((hook, "")),
            };
            Some((cmd.to_string(), s.expand(arg)))
        });
        let Some((cmd, arg)) = hook else {
            return;
        };
        match cmd.as_str() {
            // mod_db and mod_hash answer at once: done within the hang-up, as on the switch
            "db" => {
                tables::db_op(&self.core, &arg);
            }
            "hash" => {
                tables::hash_op(&self.core, &arg);
            }
            _ => {
                let core = self.core.clone();
                tokio::spawn(async move { api::run(&core, &cmd, &arg).await });
            }
        }
    }

    /// CHANNEL_DESTROY + CHANNEL_STATE CS_DESTROY, then forget the channel.
    pub fn destroy(&self) {
        let done = self.modify(|s| std::mem::replace(&mut s.destroyed, true));
        if done {
            return;
        }
        self.set_state(Cs::Destroy);
        self.fire(
            "CHANNEL_DESTROY",
            (
                "switch_core_session.c",
                "switch_core_session_perform_destroy",
                1584,
            ),
            Vars::Yes,
            &[],
            &[],
        );
        self.set_running(Cs::Destroy);
        let uuid = self.uuid();
        self.core.remove_chan(&uuid);
    }
}
