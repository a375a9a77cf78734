//! Channel state of the simulated switch (one per leg) and the FreeSWITCH header
//! blocks built from it: the Channel-* block, the Caller-* profile, `variable_*`,
//! and the CDR timing variables added at hangup.

use std::collections::VecDeque;

use super::event::Event;

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

    /// Append the Channel-* block, the caller profile and (optionally) variables.
    pub fn add_headers(&self, ev: &mut Event, with_vars: bool) {
        self.add_headers_other(ev, with_vars, None)
    }

    /// Like `add_headers`, with the bridged partner's `Other-Leg-*` block.
    pub fn add_headers_other(&self, ev: &mut Event, with_vars: bool, other: Option<&ChanState>) {
        ev.add("Channel-State", self.running.name());
        ev.add("Channel-Call-State", self.callstate);
        ev.add("Channel-State-Number", (self.state as i32).to_string());
        ev.add("Channel-Name", &self.name);
        ev.add("Unique-ID", &self.uuid);
        ev.add("Call-Direction", self.direction);
        ev.add("Presence-Call-Direction", self.direction);
        ev.add(
            "Channel-HIT-Dialplan",
            if self.hit_dialplan { "true" } else { "false" },
        );
        if let Some(p) = self.var("presence_id") {
            ev.add("Channel-Presence-ID", p);
        }
        ev.add("Channel-Call-UUID", &self.uuid);
        ev.add("Answer-State", self.answer_state);
        if let Some(c) = &self.hangup_cause {
            ev.add("Hangup-Cause", c);
        }
        if self.codec.0 {
            ev.add("Channel-Read-Codec-Name", &self.codec_name);
            ev.add("Channel-Read-Codec-Rate", "8000");
            ev.add("Channel-Read-Codec-Bit-Rate", "128000");
        }
        if self.codec.1 {
            ev.add("Channel-Write-Codec-Name", &self.codec_name);
            ev.add("Channel-Write-Codec-Rate", "8000");
            ev.add("Channel-Write-Codec-Bit-Rate", "128000");
        }
        if self.has_profile {
            self.add_caller(ev, "Caller-");
        }
        if let Some(o) = other {
            ev.add("Other-Type", self.other_type);
            o.add_caller(ev, "Other-Leg-");
        }
        if with_vars {
            for (k, v) in &self.vars {
                ev.add(&format!("variable_{k}"), v);
            }
        }
    }

    fn add_caller(&self, ev: &mut Event, p: &str) {
        let c = &self.caller;
        let other = p != "Caller-";
        let opt = |ev: &mut Event, k: &str, v: &str| {
            if !v.is_empty() {
                ev.add(&format!("{p}{k}"), v);
            }
        };
        ev.add(&format!("{p}Direction"), self.direction);
        ev.add(&format!("{p}Logical-Direction"), self.direction);
        opt(ev, "Dialplan", &c.dialplan);
        opt(ev, "Caller-ID-Name", &c.cid_name);
        opt(ev, "Caller-ID-Number", &c.cid_num);
        opt(ev, "Orig-Caller-ID-Name", &c.orig_cid_name);
        opt(ev, "Orig-Caller-ID-Number", &c.orig_cid_num);
        opt(ev, "Callee-ID-Name", &c.callee_name);
        opt(ev, "Callee-ID-Number", &c.callee_num);
        opt(ev, "ANI", &c.ani);
        opt(ev, "Destination-Number", &c.dest);
        ev.add(&format!("{p}Unique-ID"), &self.uuid);
        opt(ev, "Source", &c.source);
        if !other {
            opt(ev, "Transfer-Source", &c.transfer_source);
        }
        opt(ev, "Context", &c.context);
        opt(ev, "RDNIS", &c.rdnis);
        ev.add(&format!("{p}Channel-Name"), &self.name);
        if !other {
            ev.add("Caller-Profile-Index", c.profile_index.max(1).to_string());
        }
        ev.add(
            &format!("{p}Profile-Created-Time"),
            c.created_us.to_string(),
        );
        ev.add(
            &format!("{p}Channel-Created-Time"),
            c.created_us.to_string(),
        );
        ev.add(
            &format!("{p}Channel-Answered-Time"),
            c.answered_us.to_string(),
        );
        ev.add(
            &format!("{p}Channel-Progress-Time"),
            c.progress_us.to_string(),
        );
        ev.add(
            &format!("{p}Channel-Progress-Media-Time"),
            c.progress_media_us.to_string(),
        );
        ev.add(&format!("{p}Channel-Hangup-Time"), c.hangup_us.to_string());
        ev.add(
            &format!("{p}Channel-Transfer-Time"),
            c.transfer_us.to_string(),
        );
        ev.add(&format!("{p}Channel-Resurrect-Time"), "0");
        ev.add(
            &format!("{p}Channel-Bridged-Time"),
            c.bridged_us.to_string(),
        );
        ev.add(&format!("{p}Channel-Last-Hold"), "0");
        ev.add(&format!("{p}Channel-Hold-Accum"), "0");
        ev.add(&format!("{p}Screen-Bit"), "true");
        ev.add(&format!("{p}Privacy-Hide-Name"), "false");
        ev.add(&format!("{p}Privacy-Hide-Number"), "false");
    }

    /// Add the CDR variables FreeSWITCH sets when a channel reaches CS_REPORTING.
    pub fn add_cdr_vars(&mut self, q850: u32, now_us: i64) {
        let cause = self.hangup_cause.clone().unwrap_or_default();
        self.set_var("hangup_cause", &cause);
        self.set_var("hangup_cause_q850", &q850.to_string());
        if self.var("digits_dialed").is_none() {
            self.set_var("digits_dialed", "none");
        }
        let c = self.caller.clone();
        let stamp = |us: i64| -> String {
            if us == 0 {
                return String::new();
            }
            chrono::DateTime::from_timestamp_micros(us)
                .map(|t| {
                    t.with_timezone(&chrono::Local)
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default()
        };
        let end = if c.hangup_us > 0 { c.hangup_us } else { now_us };
        self.set_var("start_stamp", &stamp(c.created_us));
        self.set_var("profile_start_stamp", &stamp(c.created_us));
        if c.answered_us > 0 {
            self.set_var("answer_stamp", &stamp(c.answered_us));
        }
        if c.progress_us > 0 {
            self.set_var("progress_stamp", &stamp(c.progress_us));
        }
        self.set_var("end_stamp", &stamp(end));
        let pair = |s: &mut Self, n: &str, us: i64| {
            s.set_var(&format!("{n}_epoch"), &(us / 1_000_000).to_string());
            s.set_var(&format!("{n}_uepoch"), &us.to_string());
        };
        pair(self, "start", c.created_us);
        pair(self, "profile_start", c.created_us);
        pair(self, "answer", c.answered_us);
        pair(self, "bridge", c.bridged_us);
        pair(self, "last_hold", 0);
        self.set_var("hold_accum_seconds", "0");
        self.set_var("hold_accum_usec", "0");
        self.set_var("hold_accum_ms", "0");
        pair(self, "resurrect", 0);
        pair(self, "progress", c.progress_us);
        pair(self, "progress_media", c.progress_media_us);
        pair(self, "end", end);
        if let Some(a) = self.var("current_application").map(str::to_string) {
            self.set_var("last_app", &a);
            let d = self
                .var("current_application_data")
                .unwrap_or("")
                .to_string();
            self.set_var("last_arg", &d);
        }
        let cid = format!("\"{}\" <{}>", c.cid_name, c.cid_num);
        self.set_var("caller_id", &cid);
        let dur = end - c.created_us;
        let bill = if c.answered_us > 0 {
            end - c.answered_us
        } else {
            0
        };
        let since = |t: i64| if t > 0 { t - c.created_us } else { 0 };
        let prog = since(c.progress_us);
        let ans = since(c.answered_us);
        let wait = ans;
        let pm = since(c.progress_media_us);
        let sets = [
            ("duration", "mduration", "uduration", dur),
            ("billsec", "billmsec", "billusec", bill),
            ("progresssec", "progressmsec", "progressusec", prog),
            ("answersec", "answermsec", "answerusec", ans),
            ("waitsec", "waitmsec", "waitusec", wait),
            (
                "progress_mediasec",
                "progress_mediamsec",
                "progress_mediausec",
                pm,
            ),
            ("flow_billsec", "flow_billmsec", "flow_billusec", bill),
        ];
        for (s, _, _, v) in sets {
            self.set_var(s, &(v / 1_000_000).to_string());
        }
        for (_, m, _, v) in sets {
            self.set_var(m, &(v / 1000).to_string());
        }
        for (_, _, u, v) in sets {
            self.set_var(u, &v.to_string());
        }
    }
}

/// Q.850 code of a hangup cause name (16 for FreeSWITCH's own causes).
pub fn q850(cause: &str) -> u32 {
    match cause {
        "UNALLOCATED_NUMBER" => 1,
        "NO_ROUTE_TRANSIT_NET" => 2,
        "NO_ROUTE_DESTINATION" => 3,
        "NORMAL_CLEARING" => 16,
        "USER_BUSY" => 17,
        "NO_USER_RESPONSE" => 18,
        "NO_ANSWER" => 19,
        "SUBSCRIBER_ABSENT" => 20,
        "CALL_REJECTED" => 21,
        "NUMBER_CHANGED" => 22,
        "DESTINATION_OUT_OF_ORDER" => 27,
        "INVALID_NUMBER_FORMAT" => 28,
        "FACILITY_REJECTED" => 29,
        "NORMAL_UNSPECIFIED" => 31,
        "NORMAL_CIRCUIT_CONGESTION" => 34,
        "NETWORK_OUT_OF_ORDER" => 38,
        "NORMAL_TEMPORARY_FAILURE" => 41,
        "SWITCH_CONGESTION" => 42,
        "REQUESTED_CHAN_UNAVAIL" => 44,
        "BEARERCAPABILITY_NOTAVAIL" => 58,
        "CHAN_NOT_IMPLEMENTED" => 66,
        "INCOMPATIBLE_DESTINATION" => 88,
        "RECOVERY_ON_TIMER_EXPIRE" => 102,
        "ORIGINATOR_CANCEL" => 487,
        _ => 16,
    }
}

/// Is this a known cause name? (hupall / hangup-cause parsing)
pub fn known_cause(cause: &str) -> bool {
    q850(cause) != 16
        || matches!(
            cause,
            "NORMAL_CLEARING"
                | "MANAGER_REQUEST"
                | "SYSTEM_SHUTDOWN"
                | "PROGRESS_TIMEOUT"
                | "ALLOTTED_TIMEOUT"
                | "LOSE_RACE"
                | "BLIND_TRANSFER"
                | "ATTENDED_TRANSFER"
                | "PICKED_OFF"
                | "USER_NOT_REGISTERED"
                | "GATEWAY_DOWN"
                | "MEDIA_TIMEOUT"
                | "CRASH"
        )
}
