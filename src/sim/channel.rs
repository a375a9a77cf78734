//! Channel state of the simulated switch (one per leg): states, variables and their
//! expansion, dead air. The header blocks events carry are built from it in `headers`.

use std::collections::VecDeque;

/// Channel states with FreeSWITCH's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Cs {
    New = 0,
    Init = 1,
    Routing = 2,
    SoftExecute = 3,
    Execute = 4,
    ExchangeMedia = 5,
    Park = 6,
    ConsumeMedia = 7,
    Hibernate = 8,
    Reset = 9,
    Hangup = 10,
    Reporting = 11,
    Destroy = 12,
    None = 13,
}

impl Cs {
    /// `CS_*` name.
    pub fn name(self) -> &'static str {
        match self {
            Cs::New => "CS_NEW",
            Cs::Init => "CS_INIT",
            Cs::Routing => "CS_ROUTING",
            Cs::SoftExecute => "CS_SOFT_EXECUTE",
            Cs::Execute => "CS_EXECUTE",
            Cs::ExchangeMedia => "CS_EXCHANGE_MEDIA",
            Cs::Park => "CS_PARK",
            Cs::ConsumeMedia => "CS_CONSUME_MEDIA",
            Cs::Hibernate => "CS_HIBERNATE",
            Cs::Reset => "CS_RESET",
            Cs::Hangup => "CS_HANGUP",
            Cs::Reporting => "CS_REPORTING",
            Cs::Destroy => "CS_DESTROY",
            Cs::None => "CS_NONE",
        }
    }
}

/// Queued request for a channel's session task.
#[derive(Debug, Clone)]
pub enum ChanMsg {
    /// Execute an application (sendmsg execute, uuid_broadcast).
    Execute {
        /// app name
        app: String,
        /// app argument
        arg: String,
        /// Application-UUID
        app_uuid: String,
        /// sendmsg's `Event-UUID-Name`, echoed as `Application-UUID-Name` (switch_ivr.c)
        app_uuid_name: Option<String>,
        /// queued by uuid_broadcast (fires the PRIVATE_COMMAND "COMMAND" event)
        broadcast: bool,
        /// queued by sendmsg: its `Command: sendmsg ..` line and headers, which lead the
        /// PRIVATE_COMMAND event fired once the application has run
        command: Vec<(String, String)>,
    },
}

/// Mutable state of one channel.
#[derive(Debug, Clone)]
pub struct ChanState {
    /// Unique-ID
    pub uuid: String,
    /// Channel-Name
    pub name: String,
    /// "inbound" / "outbound"
    pub direction: &'static str,
    /// state number (Channel-State-Number)
    pub state: Cs,
    /// running state (Channel-State)
    pub running: Cs,
    /// DOWN, RINGING, EARLY, ACTIVE, HANGUP
    pub callstate: &'static str,
    /// ringing, early, answered, hangup
    pub answer_state: &'static str,
    /// Channel-HIT-Dialplan
    pub hit_dialplan: bool,
    /// codecs negotiated (read, write)
    pub codec: (bool, bool),
    /// codec name
    pub codec_name: String,
    /// caller profile present
    pub has_profile: bool,
    /// Caller-* values
    pub caller: CallerProfile,
    /// channel variables, in order
    pub vars: Vec<(String, String)>,
    /// hangup cause once hung up
    pub hangup_cause: Option<String>,
    /// who hung up: "far" / "near" / "api" / "system"
    pub hangup_by: Option<String>,
    /// bridged partner
    pub bridged_to: Option<String>,
    /// loopback partner
    pub partner: Option<String>,
    /// DTMF digits waiting to be read by an app: (digit, duration samples)
    pub dtmf: VecDeque<(char, u32)>,
    /// queued execute requests
    pub queue: VecDeque<ChanMsg>,
    /// an app should stop now (uuid_break / transfer / bridge)
    pub brk: bool,
    /// pending transfer (ext, context)
    pub transfer: Option<(String, String)>,
    /// pending uuid_bridge partner
    pub bridge_req: Option<String>,
    /// name of the app currently running
    pub cur_app: Option<String>,
    /// last Application-Response
    pub last_response: String,
    /// the far end is speaking (for record)
    pub far_speaking: bool,
    /// session_id
    pub session_id: u64,
    /// trunk name this channel occupies
    pub trunk: Option<String>,
    /// its trunk channel was given back (or is being cleared): not again
    pub trunk_freed: bool,
    /// destroyed
    pub destroyed: bool,
    /// CHANNEL_HANGUP_COMPLETE fired (the reporting sequence ran)
    pub reported: bool,
    /// apps started count (for WaitForPrompt)
    pub prompt_seq: u64,
    /// The files this leg began to hear, in order, a `file_string://`'s parts one by one
    /// as each begins (for WaitForPlay).
    pub opened: Vec<String>,
    /// this leg plays the far end (loopback B-leg / subscriber side)
    pub far_end: bool,
    /// When the party last keyed `#` and no command has followed yet (benchmarks).
    pub hash_at: Option<tokio::time::Instant>,
    /// bridged by `uuid_bridge` (a hangup does not end the other leg directly)
    pub ubridge: bool,
    /// the uuid_bridge partner has hung up
    pub peer_gone: bool,
    /// `Other-Type` of the Other-Leg block: originatee (A side) / originator (B side)
    pub other_type: &'static str,
    /// last known state of the bridged leg (its Other-Leg block outlives it)
    pub other_snap: Option<Box<ChanState>>,
    /// the other leg's caller profile as cloned when `uuid_bridge` joined them
    /// (switch_channel_set_originator/originatee_caller_profile): the Other-Leg block
    pub bridge_profile: Option<Box<ChanState>>,
    /// CHANNEL_HANGUP is being fired (hangup_cause set right after)
    pub hangup_started: bool,
    /// the leg this channel is bridged to right now (`bridge` app or `uuid_bridge`);
    /// `bridged_to` outlives the bridge for the Other-Leg headers, this does not
    pub bridge_peer: Option<String>,
    /// go to CS_PARK once the current application returns (switch_ivr_park_session,
    /// e.g. park_after_bridge)
    pub park_req: bool,
    /// agent phone (`user/<ext>`) this leg rings, for the agent offer records
    pub agent: Option<String>,
    /// `record_session` running: (path, simulated start µs); written at hangup
    pub recording: Option<(String, i64)>,
    /// media applications running on this channel now (playback, say, the prompt and wait
    /// of play_and_get_digits, record): the party hears something
    pub media: u32,
    /// simulated ms (since simulator start) when the party's current stretch of dead air
    /// began: answered, not hung up, no media running and not bridged (ground truth)
    pub air_since: Option<u64>,
    /// parked by the `socket` application (under the outbound connection's control)
    pub in_socket: bool,
    /// that connection has closed (`SimConfig::socket_close_ends_park`): the park ends
    pub socket_closed: bool,
    /// `$${contactd_socket}` of the `from-trunk` context this call runs in (None: not
    /// routed by it), for its reconnect extension
    pub reconnect_socket: Option<String>,
}

/// Caller profile fields.
#[derive(Debug, Clone, Default)]
pub struct CallerProfile {
    /// dialplan
    pub dialplan: String,
    /// cid name
    pub cid_name: String,
    /// cid number
    pub cid_num: String,
    /// orig cid name
    pub orig_cid_name: String,
    /// orig cid num
    pub orig_cid_num: String,
    /// callee name
    pub callee_name: String,
    /// callee num
    pub callee_num: String,
    /// ANI
    pub ani: String,
    /// destination
    pub dest: String,
    /// Caller-Source
    pub source: String,
    /// context
    pub context: String,
    /// created time (µs)
    pub created_us: i64,
    /// answered time
    pub answered_us: i64,
    /// progress time
    pub progress_us: i64,
    /// progress media time
    pub progress_media_us: i64,
    /// hangup time
    pub hangup_us: i64,
    /// transfer time
    pub transfer_us: i64,
    /// Caller-Transfer-Source (empty: none)
    pub transfer_source: String,
    /// Caller-RDNIS (empty: none)
    pub rdnis: String,
    /// Caller-Profile-Index (0 counts as 1)
    pub profile_index: u32,
    /// bridged time
    pub bridged_us: i64,
}

impl ChanState {
    /// A fresh channel.
    pub fn new(uuid: &str, name: &str, direction: &'static str, now_us: i64) -> Self {
        ChanState {
            uuid: uuid.into(),
            name: name.into(),
            direction,
            state: Cs::New,
            running: Cs::None,
            callstate: "DOWN",
            answer_state: "ringing",
            hit_dialplan: false,
            codec: (false, false),
            codec_name: "L16".into(),
            has_profile: false,
            caller: CallerProfile {
                dialplan: "xml".into(),
                created_us: now_us,
                ..Default::default()
            },
            vars: Vec::new(),
            hangup_cause: None,
            hangup_by: None,
            bridged_to: None,
            partner: None,
            dtmf: VecDeque::new(),
            queue: VecDeque::new(),
            brk: false,
            transfer: None,
            bridge_req: None,
            cur_app: None,
            last_response: "_none_".into(),
            far_speaking: false,
            session_id: 0,
            trunk: None,
            trunk_freed: false,
            destroyed: false,
            reported: false,
            prompt_seq: 0,
            opened: Vec::new(),
            far_end: false,
            hash_at: None,
            ubridge: false,
            peer_gone: false,
            other_type: "originatee",
            other_snap: None,
            bridge_profile: None,
            hangup_started: false,
            bridge_peer: None,
            park_req: false,
            agent: None,
            recording: None,
            media: 0,
            air_since: None,
            in_socket: false,
            socket_closed: false,
            reconnect_socket: None,
        }
    }

    /// Variable value.
    pub fn var(&self, k: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    /// Set (replace in place) or append a variable; empty value deletes.
    pub fn set_var(&mut self, k: &str, v: &str) {
        if v.is_empty() {
            self.vars.retain(|(n, _)| n != k);
            return;
        }
        if let Some(slot) = self.vars.iter_mut().find(|(n, _)| n == k) {
            slot.1 = v.to_string();
        } else {
            self.vars.push((k.to_string(), v.to_string()));
        }
    }

    /// Delete then append (moves the variable to the end).
    pub fn push_var(&mut self, k: &str, v: &str) {
        self.vars.retain(|(n, _)| n != k);
        if !v.is_empty() {
            self.vars.push((k.to_string(), v.to_string()));
        }
    }

    /// Does the party on this channel hear nothing right now? Answered, not hung up, no
    /// media application running and not bridged to a leg that is still there.
    pub fn is_dead_air(&self) -> bool {
        self.caller.answered_us > 0
            && !self.is_hungup()
            && !self.hangup_started
            && self.media == 0
            && (self.bridge_peer.is_none() || self.peer_gone)
    }

    /// Follow the dead-air state after a change: opens a stretch at `now_ms` when the party
    /// starts hearing nothing, and returns the length of the stretch that just ended.
    pub fn air_update(&mut self, now_ms: impl FnOnce() -> u64) -> Option<u64> {
        match (self.air_since, self.is_dead_air()) {
            (None, true) => {
                self.air_since = Some(now_ms());
                None
            }
            (Some(t0), false) => {
                self.air_since = None;
                Some(now_ms().saturating_sub(t0))
            }
            _ => None,
        }
    }

    /// Value of `${name}` at execution time: a channel variable, else the caller-profile
    /// fields switch_channel_get_variable falls back to.
    pub fn lookup_var(&self, k: &str) -> Option<String> {
        if let Some(v) = self.var(k) {
            return Some(v.to_string());
        }
        let c = &self.caller;
        let v = match k {
            "uuid" | "unique_id" => self.uuid.as_str(),
            "channel_name" => self.name.as_str(),
            "destination_number" => c.dest.as_str(),
            "caller_id_number" => c.cid_num.as_str(),
            "caller_id_name" => c.cid_name.as_str(),
            "callee_id_number" => c.callee_num.as_str(),
            "callee_id_name" => c.callee_name.as_str(),
            "ani" => c.ani.as_str(),
            "rdnis" => c.rdnis.as_str(),
            "context" => c.context.as_str(),
            "dialplan" => c.dialplan.as_str(),
            "source" => c.source.as_str(),
            "direction" => self.direction,
            _ => return None,
        };
        Some(v.to_string())
    }

    /// switch_channel_expand_variables: every `${name}` replaced by the variable's value
    /// (empty when unset); `\$` keeps a literal `$`. `${api(args)}` and `${name:off:len}`
    /// forms are left as they are (the simulator has no api expansion).
    pub fn expand(&self, s: &str) -> String {
        if !s.contains("${") {
            return s.to_string();
        }
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            if i > 0 && rest[..i].ends_with('\\') {
                out.push_str(&rest[..i - 1]);
                out.push_str("${");
                rest = &rest[i + 2..];
                continue;
            }
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[i..]);
                return out;
            };
            let name = &after[..end];
            let plain = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
            if plain {
                out.push_str(&self.lookup_var(name).unwrap_or_default());
            } else {
                out.push_str(&rest[i..i + 3 + end]);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Is the channel hung up?
    pub fn is_hungup(&self) -> bool {
        self.hangup_cause.is_some()
    }
}
