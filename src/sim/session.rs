//! A channel's session handle: firing channel events with the right header
//! blocks, state / call-state transitions, answer, progress, DTMF delivery, and the
//! interruptible wait used by apps. Its end — hangup (propagated to the loopback partner;
//! a bridged leg is told its bridge ended), the reporting and destroy sequence — is
//! [`ending`].

use std::sync::Arc;

use super::channel::{ChanState, Cs};
use super::core::{lock, Chan, Core};
use super::event::Event;

mod ending;

/// Handle on one channel.
#[derive(Clone)]
pub struct Sess {
    /// core
    pub core: Arc<Core>,
    /// channel
    pub ch: Arc<Chan>,
}

/// Which variables block an event carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Vars {
    /// variable_* included
    Yes,
    /// Channel-* and Caller-* only
    No,
}

impl Sess {
    /// Wrap.
    pub fn new(core: Arc<Core>, ch: Arc<Chan>) -> Self {
        Sess { core, ch }
    }

    /// Current uuid.
    pub fn uuid(&self) -> String {
        lock(&self.ch.st).uuid.clone()
    }

    /// Read state.
    pub fn with<R>(&self, f: impl FnOnce(&ChanState) -> R) -> R {
        f(&lock(&self.ch.st))
    }

    /// Modify state and wake waiters.
    pub fn modify<R>(&self, f: impl FnOnce(&mut ChanState) -> R) -> R {
        let (r, air) = {
            let mut st = lock(&self.ch.st);
            let r = f(&mut st);
            let air = st
                .air_update(|| self.core.sim_ms())
                .map(|ms| (st.uuid.clone(), ms));
            (r, air)
        };
        // ground truth: a stretch of dead air just ended (media started, bridged, hangup)
        if let Some((uuid, ms)) = air {
            self.core.truth_if(&uuid, |r| r.add_dead_air(ms));
        }
        self.ch.bump();
        r
    }

    /// Build a channel event: base headers, `pre` headers, channel block, `post` headers.
    pub fn event(
        &self,
        name: &str,
        src: (&str, &str, u32),
        vars: Vars,
        pre: &[(&str, String)],
        post: &[(&str, String)],
    ) -> Event {
        let st = lock(&self.ch.st).clone();
        self.event_from(&st, name, src, vars, pre, post)
    }

    /// Like `event`, from a given state of this channel (e.g. the state it is
    /// about to enter). The Other-Leg block comes from the bridged leg if it is
    /// still alive, else from the last snapshot taken of it.
    pub fn event_from(
        &self,
        st: &ChanState,
        name: &str,
        src: (&str, &str, u32),
        vars: Vars,
        pre: &[(&str, String)],
        post: &[(&str, String)],
    ) -> Event {
        let mut ev = self.core.new_event(name, src.0, src.1, src.2);
        for (k, v) in pre {
            ev.add(k, v.clone());
        }
        let other = st.bridged_to.as_ref().and_then(|u| {
            st.bridge_profile
                .as_deref()
                .filter(|p| &p.uuid == u)
                .cloned()
                .or_else(|| self.core.chan(u).map(|c| lock(&c.st).clone()))
                .or_else(|| st.other_snap.as_deref().cloned())
        });
        st.add_headers_other(&mut ev, vars == Vars::Yes, other.as_ref());
        ev.chan_uuid = Some(st.uuid.clone());
        for (k, v) in post {
            ev.add(k, v.clone());
        }
        ev
    }

    /// Build and fire.
    pub fn fire(
        &self,
        name: &str,
        src: (&str, &str, u32),
        vars: Vars,
        pre: &[(&str, String)],
        post: &[(&str, String)],
    ) {
        let ev = self.event(name, src, vars, pre, post);
        self.core.fire(ev);
    }

    /// Set the running state and fire CHANNEL_STATE.
    pub fn set_running(&self, cs: Cs) {
        self.modify(|s| {
            s.running = cs;
            if (s.state as i32) < (cs as i32) || cs == Cs::Init {
                s.state = cs;
            }
        });
        // switch_channel_perform_set_running_state: an inbound channel's call state follows
        // (RINGING in CS_ROUTING, even when answered, as after a transfer; ACTIVE once
        // answered, EARLY with early media)
        let (inbound, answered, early) = self.with(|s| {
            (
                s.direction == "inbound",
                s.caller.answered_us > 0,
                s.caller.progress_media_us > 0,
            )
        });
        if inbound && (cs as i32) < (Cs::Hangup as i32) {
            if cs == Cs::Routing {
                self.set_callstate("RINGING");
            } else if answered {
                self.set_callstate("ACTIVE");
            } else if early {
                self.set_callstate("EARLY");
            }
        }
        self.fire(
            "CHANNEL_STATE",
            (
                "switch_channel.c",
                "switch_channel_perform_set_running_state",
                2408,
            ),
            Vars::No,
            &[],
            &[],
        );
    }

    /// Set the state number only.
    pub fn set_state(&self, cs: Cs) {
        self.modify(|s| s.state = cs);
    }

    /// Change the call state and fire CHANNEL_CALLSTATE.
    pub fn set_callstate(&self, new: &'static str) {
        let old = self.modify(|s| std::mem::replace(&mut s.callstate, new));
        if old == new {
            return;
        }
        let num = match new {
            "DOWN" => 0,
            "DIALING" => 1,
            "RINGING" => 2,
            "EARLY" => 3,
            "ACTIVE" => 4,
            "HELD" => 5,
            "RING_WAIT" => 6,
            "HANGUP" => 7,
            _ => 8,
        };
        self.fire(
            "CHANNEL_CALLSTATE",
            (
                "switch_channel.c",
                "switch_channel_perform_set_callstate",
                301,
            ),
            Vars::No,
            &[
                ("Original-Channel-Call-State", old.to_string()),
                ("Channel-Call-State-Number", num.to_string()),
            ],
            &[],
        );
    }

    /// Is it hung up?
    pub fn hungup(&self) -> bool {
        self.with(|s| s.is_hungup())
    }

    /// Is it answered?
    pub fn answered(&self) -> bool {
        self.with(|s| s.caller.answered_us > 0)
    }

    /// Mark answered: CHANNEL_ANSWER + CALLSTATE ACTIVE. No-op if already answered.
    pub fn mark_answered(&self) -> bool {
        let now = self.core.now_us();
        let first = self.modify(|s| {
            if s.caller.answered_us > 0 || s.is_hungup() {
                return false;
            }
            s.caller.answered_us = now;
            s.answer_state = "answered";
            true
        });
        if !first {
            return false;
        }
        self.fire(
            "CHANNEL_ANSWER",
            (
                "switch_channel.c",
                "switch_channel_perform_mark_answered",
                3846,
            ),
            Vars::Yes,
            &[],
            &[],
        );
        self.set_callstate("ACTIVE");
        let (uuid, agent) = self.with(|s| (s.uuid.clone(), s.agent.clone()));
        let ms = self.core.sim_ms();
        self.core.truth(&uuid, |r| {
            r.answered = true;
            r.answered_at_ms = Some(ms);
        });
        super::amd::sounds::note_answer(&self.core, &uuid, ms);
        if let Some(ext) = agent {
            self.core.agent_offer_answered(&ext, &uuid);
        }
        true
    }

    /// Ring indication: CHANNEL_PROGRESS (once).
    pub fn mark_progress(&self) {
        let now = self.core.now_us();
        let first = self.modify(|s| {
            if s.caller.progress_us > 0 || s.caller.answered_us > 0 || s.is_hungup() {
                return false;
            }
            s.caller.progress_us = now;
            true
        });
        if first {
            self.fire(
                "CHANNEL_PROGRESS",
                (
                    "switch_channel.c",
                    "switch_channel_perform_mark_ring_ready_value",
                    1125,
                ),
                Vars::Yes,
                &[],
                &[],
            );
        }
    }

    /// Queue DTMF for this channel: one digit per 20 ms frame.
    pub fn deliver_dtmf(&self, digits: &str, duration: u32, by_party: bool) {
        let me = self.clone();
        let digits: Vec<char> = digits
            .chars()
            .filter(|c| c.is_ascii_digit() || "*#ABCDabcd".contains(*c))
            .collect();
        tokio::spawn(async move {
            for d in digits {
                me.core.sleep(20).await;
                if me.hungup() {
                    return;
                }
                me.modify(|s| {
                    s.dtmf.push_back((d, duration));
                    if by_party && d == '#' {
                        s.hash_at = Some(tokio::time::Instant::now());
                    }
                });
                if by_party {
                    let u = me.uuid();
                    me.core.truth(&u, |r| r.digits.push(d));
                }
            }
        });
    }

    /// Fire the DTMF event for a digit an app has read.
    pub fn fire_dtmf(&self, d: char, dur: u32) {
        self.fire(
            "DTMF",
            ("switch_channel.c", "switch_channel_dequeue_dtmf", 563),
            Vars::No,
            &[],
            &[
                ("DTMF-Digit", d.to_string()),
                ("DTMF-Duration", dur.to_string()),
                ("DTMF-Source", "UNKNOWN".to_string()),
            ],
        );
    }

    /// Wait up to `ms` simulated ms (None = for ever) until `cond` holds.
    /// Returns true if the condition held, false on timeout.
    pub async fn wait_until(&self, ms: Option<u64>, cond: impl Fn(&ChanState) -> bool) -> bool {
        let mut rx = self.ch.tick.subscribe();
        let deadline = ms.map(|m| tokio::time::Instant::now() + self.core.dur(m));
        loop {
            if cond(&lock(&self.ch.st)) {
                return true;
            }
            match deadline {
                Some(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(d) => return cond(&lock(&self.ch.st)),
                        r = rx.changed() => if r.is_err() { return false; },
                    }
                }
                None => {
                    if rx.changed().await.is_err() {
                        return false;
                    }
                }
            }
        }
    }
}
