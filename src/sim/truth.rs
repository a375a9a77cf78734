//! Ground truth kept by the simulator for tests: one record per simulated party
//! (a dialed subscriber / agent phone, or a scripted inbound caller).

use serde::Serialize;

/// What really happened to one simulated party.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PartyRecord {
    /// uuid of the channel facing the party (A-leg of the originate, or the inbound channel)
    pub uuid: String,
    /// number dialed (or the inbound caller's number)
    pub number: String,
    /// trunk used, if any
    pub trunk: Option<String>,
    /// endpoint kind: loopback, freetdm, gateway, user, inbound
    pub endpoint: String,
    /// behaviour (debug text)
    pub behaviour: String,
    /// answered?
    pub answered: bool,
    /// simulated ms since simulator start when answered
    pub answered_at_ms: Option<u64>,
    /// ms of played audio (playback/say/prompts) heard while answered
    pub heard_ms: u64,
    /// playbacks completed to the end (FILE PLAYED)
    pub playbacks_completed: u32,
    /// playbacks cut short (PLAYBACK ERROR / interrupted)
    pub playbacks_interrupted: u32,
    /// digits the party pressed
    pub digits: String,
    /// "party" (the subscriber/caller hung up), "switch" (FreeSWITCH/contactd side), "system"
    pub hangup_by: Option<String>,
    /// hangup cause
    pub hangup_cause: Option<String>,
    /// Q.850 code
    pub q850: Option<u32>,
    /// simulated ms since start at hangup
    pub ended_at_ms: Option<u64>,
}
