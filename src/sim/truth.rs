//! Ground truth kept by the simulator for tests: one record per simulated party
//! (a dialed subscriber / agent phone, or a scripted inbound caller), and every
//! call offered to an agent phone (`user/<ext>`), taken from the sim's own channels.

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
    /// file a `record_session` on this party's channel wrote (until hangup)
    pub recording: Option<String>,
}

/// One call that reached an agent phone (`user/<ext>`): a leg ringing it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct AgentOffer {
    /// uuid of the leg that rang the phone
    pub uuid: String,
    /// extension (key of `SimConfig::agents`)
    pub ext: String,
    /// when the leg was created and the phone started ringing (simulated µs since the epoch,
    /// the clock of `Event-Date-Timestamp`)
    pub rang_at_us: i64,
    /// when the phone answered, if it did
    pub answered_at_us: Option<i64>,
    /// when the leg hung up (None while it is still ringing or up)
    pub ended_at_us: Option<i64>,
    /// answered?
    pub answered: bool,
    /// hangup cause of the leg
    pub hangup_cause: Option<String>,
    /// the `contactd_*` variables the leg was originated with, in order
    pub vars: Vec<(String, String)>,
}
