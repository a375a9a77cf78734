//! Trunk occupancy in the simulated switch: which channels of each trunk are busy,
//! seizing one by a hunt order, refusing a call when all are busy, and FreeTDM's clearing
//! time after a hang-up, by the simulator's clock.

use std::sync::Arc;

use super::core::{lock, Core};

impl Core {
    /// The endpoint's on_hangup (CS_HANGUP) for a channel on a trunk. mod_freetdm hangs up
    /// its FreeTDM channel there, and ftmod_analog holds it in HANGUP for 500 ms before it
    /// goes DOWN and can be hunted again, whatever FreeSWITCH's session does meanwhile
    /// (CHANNEL_HANGUP_COMPLETE, CHANNEL_DESTROY come first). A SIP gateway's call is over
    /// with its BYE.
    pub fn hangup_trunk_channel(self: &Arc<Self>, uuid: &str) {
        let Some(c) = self.chan(uuid) else {
            return;
        };
        let Some((t, n)) = c.take_trunk_channel() else {
            return;
        };
        let freetdm = self
            .cfg
            .trunks
            .iter()
            .any(|tc| tc.name == t && tc.kind == super::config::TrunkKind::Freetdm);
        if !freetdm {
            self.release(&t, n);
            return;
        }
        let free_at = self.sim_ms() + FREETDM_HANGUP_MS;
        if let Some(tu) = lock(&self.st).trunks.get_mut(&t) {
            tu.clearing.insert(n, free_at);
        }
        let core = self.clone();
        tokio::spawn(async move {
            core.sleep(FREETDM_HANGUP_MS).await;
            // unless a seize found it cleared already (and it may be another call's now)
            if let Some(tu) = lock(&core.st).trunks.get_mut(&t) {
                if tu.clearing.get(&n) == Some(&free_at) {
                    tu.clearing.remove(&n);
                    tu.busy.remove(&n);
                }
            }
        });
    }

    /// Seize a channel on a trunk. `hunt`: a/A/r/R or a channel number.
    pub fn seize(&self, trunk: &str, hunt: &str) -> Result<u32, &'static str> {
        let now = self.sim_ms();
        let mut st = lock(&self.st);
        let Some(tu) = st.trunks.get_mut(trunk) else {
            return Err("DESTINATION_OUT_OF_ORDER");
        };
        if tu.alarm {
            // mod_freetdm: no channel to hunt on a span in alarm
            return Err("NORMAL_CIRCUIT_CONGESTION");
        }
        // a channel whose clearing is over is free by the switch's clock, whenever the
        // timer that frees it runs (late, on a loaded machine)
        let cleared: Vec<u32> = tu
            .clearing
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(c, _)| *c)
            .collect();
        for c in cleared {
            tu.clearing.remove(&c);
            tu.busy.remove(&c);
        }
        let free: Vec<u32> = (1..=tu.limit).filter(|c| !tu.busy.contains(c)).collect();
        if free.is_empty() {
            tu.refused_full += 1;
            tu.refused_full_at.push(now);
            tu.refused_clearing.push(tu.clearing.len() as u32);
            return Err("NORMAL_CIRCUIT_CONGESTION");
        }
        let pick = match hunt {
            "a" | "" => free[0],
            "A" => *free.last().unwrap_or(&free[0]),
            "r" => {
                let p = free.iter().copied().find(|c| *c > tu.rr).unwrap_or(free[0]);
                tu.rr = p;
                p
            }
            "R" => {
                let p = free
                    .iter()
                    .rev()
                    .copied()
                    .find(|c| tu.rr == 0 || *c < tu.rr)
                    .unwrap_or(*free.last().unwrap_or(&free[0]));
                tu.rr = p;
                p
            }
            n => match n.parse::<u32>() {
                Ok(c) if c >= 1 && c <= tu.limit => {
                    if tu.busy.contains(&c) {
                        tu.refused_full += 1;
                        tu.refused_full_at.push(now);
                        tu.refused_clearing
                            .push(tu.clearing.contains_key(&c) as u32);
                        return Err("NORMAL_CIRCUIT_CONGESTION");
                    }
                    c
                }
                _ => return Err("DESTINATION_OUT_OF_ORDER"),
            },
        };
        tu.busy.insert(pick);
        tu.peak = tu.peak.max(tu.busy.len() as u32);
        Ok(pick)
    }

    /// Free trunk channel `n` (seized for a call that never became a channel, or cleared).
    pub fn release(&self, trunk: &str, n: u32) {
        if let Some(tu) = lock(&self.st).trunks.get_mut(trunk) {
            tu.busy.remove(&n);
            tu.clearing.remove(&n);
        }
    }
}

/// ftmod_analog: a channel the user hung up stays in HANGUP this long (sim ms) before DOWN.
pub const FREETDM_HANGUP_MS: u64 = 500;
