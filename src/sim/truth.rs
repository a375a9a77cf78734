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
    /// simulated ms since simulator start when the channel was created (dialed / came in)
    pub dialed_at_ms: u64,
    /// simulated ms, from answer to hangup, during which the party heard nothing: no media
    /// application on their channel (playback, say, play_and_get_digits prompt and wait,
    /// record, music) and not bridged to another leg (`sleep` and `park` are dead air)
    pub dead_air_ms: u64,
    /// the longest continuous stretch of dead air, simulated ms
    pub max_dead_air_ms: u64,
    /// what was played to the party while answered, in order: each playback's file (prompts
    /// of play_and_get_digits included), each `say`'s arguments
    pub played: Vec<String>,
    /// simulated ms since simulator start when each of `played` began
    pub played_at_ms: Vec<u64>,
    /// an answering machine: simulated ms since start when its beep ended (it records from
    /// there: what `played` holds after this is on the tape)
    pub beep_end_ms: Option<u64>,
    /// call progress detectors started on the channel, in order (`avmd`,
    /// `spandsp:<descriptor>`, `wait_for_silence`)
    pub detectors: Vec<String>,
    /// the `contactd_*` variables the channel was originated (or came in) with, in order
    pub vars: Vec<(String, String)>,
    /// every leg this party's channel was bridged to (`bridge` app or `uuid_bridge`), in order
    pub bridged_to: Vec<String>,
    /// every transfer of the party's channel (`transfer` app, `uuid_transfer`, transfer after
    /// bridge) as `<extension>@<context>`, in order
    pub transfers: Vec<String>,
}

impl PartyRecord {
    /// Add a stretch of dead air that just ended.
    pub fn add_dead_air(&mut self, ms: u64) {
        self.dead_air_ms += ms;
        self.max_dead_air_ms = self.max_dead_air_ms.max(ms);
    }

    /// Value of a `contactd_*` variable the channel was created with.
    pub fn var(&self, k: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
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
