//! Simulator configuration: listen address, password, time scale, trunks with a
//! fixed number of channels, simulated subscribers (by number pattern or map),
//! agent phones, and the scripted behaviour types. Deserializable (serde) so
//! `contactd sim --config` can load it from TOML.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// What a simulated far end (subscriber, agent phone) does with an incoming call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Behaviour {
    /// Ring `ring_ms` (with ring indication), answer, then follow `after`.
    Answer {
        /// ms before answering
        #[serde(default)]
        ring_ms: u64,
        /// what happens after answer
        #[serde(default)]
        after: AfterAnswer,
    },
    /// Reject with USER_BUSY (17) after `after_ms`.
    Busy {
        /// delay
        #[serde(default)]
        after_ms: u64,
    },
    /// Ring until the originate times out (NO_ANSWER).
    NoAnswer,
    /// A network announcement as early media: `tone` (spandsp's name; empty: none, the
    /// voice alone) from 100 to 1100 ms after the media starts, "subscriber unavailable"
    /// for `voice_ms`, then the network releases the call with `cause`. Never answered,
    /// unless `answer_ms` (after the media starts): then the voice goes on after the answer.
    EarlyAnnouncement {
        /// tone name
        tone: String,
        /// voice length
        voice_ms: u64,
        /// release cause (e.g. SUBSCRIBER_ABSENT)
        cause: String,
        /// answer this long after the media started (some networks connect the voice)
        #[serde(default)]
        answer_ms: Option<u64>,
    },
    /// Never indicates ringing and never answers.
    Silent,
    /// Reject with the given cause (UNALLOCATED_NUMBER, NO_ROUTE_DESTINATION,
    /// NORMAL_TEMPORARY_FAILURE, NORMAL_CIRCUIT_CONGESTION, ...).
    Reject {
        /// hangup cause name
        cause: String,
        /// delay
        #[serde(default)]
        after_ms: u64,
        /// send ring indication first
        #[serde(default)]
        ring: bool,
    },
}

/// After answering.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AfterAnswer {
    /// Stay on the line until the switch hangs up.
    #[default]
    Stay,
    /// Listen `ms` then hang up NORMAL_CLEARING.
    HangupAfter {
        /// ms after answer
        ms: u64,
    },
    /// Key `digits` at `at_ms` after answer, then stay (or hang up after `hangup_ms`).
    PressDigits {
        /// digits
        digits: String,
        /// ms after answer
        at_ms: u64,
        /// hang up this many ms after answer (none = stay)
        #[serde(default)]
        hangup_ms: Option<u64>,
    },
    /// A person: says hello from `after_ms` for `speak_ms`, then listens (the plain
    /// behaviours above say "hello" from 200 to 600 ms).
    Person {
        /// ms after answer before speaking
        after_ms: u64,
        /// ms of speech
        speak_ms: u64,
        /// hang up this many ms after answer (none = stay)
        #[serde(default)]
        hangup_ms: Option<u64>,
    },
    /// An answering machine: a greeting from 300 ms for `greeting_ms`, `gap_ms` of quiet, a
    /// beep of `beep_ms` at `beep_hz`, then it records `record_ms` and hangs up.
    Machine {
        /// greeting length
        greeting_ms: u64,
        /// quiet between greeting and beep
        gap_ms: u64,
        /// beep frequency
        beep_hz: f64,
        /// beep length
        beep_ms: u64,
        /// how long it records after the beep
        record_ms: u64,
    },
    /// A network announcement after the answer: `tone` (spandsp's name, e.g. `SIT`) from
    /// 100 to 1100 ms, "subscriber unavailable" for `voice_ms`, then the network hangs up.
    Announcement {
        /// tone name
        tone: String,
        /// voice length
        voice_ms: u64,
    },
    /// A fax: CNG (0.5 s of 1100 Hz every 3.5 s) until it hangs up after `hangup_ms`.
    Fax {
        /// ms after answer
        hangup_ms: u64,
    },
    /// Answers and says nothing.
    Silence {
        /// hang up this many ms after answer (none = stay)
        #[serde(default)]
        hangup_ms: Option<u64>,
    },
}

/// One extension of a configured dialplan context: the first whose `expression` (a regex)
/// matches the destination number runs its `actions` (application, data); `$1`..`$9` in the
/// data are the expression's captures, `${var}` is expanded when the application runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extension {
    /// regex on destination_number
    pub expression: String,
    /// (application, data) in order
    pub actions: Vec<(String, String)>,
}

impl Extension {
    /// An extension from literal actions.
    pub fn new(expression: &str, actions: &[(&str, &str)]) -> Self {
        Extension {
            expression: expression.to_string(),
            actions: actions
                .iter()
                .map(|(a, d)| (a.to_string(), d.to_string()))
                .collect(),
        }
    }
}

/// A subscriber rule: numbers matching `pattern` behave as `behaviour`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubscriberRule {
    /// regex on the dialed number
    pub pattern: String,
    /// behaviour
    pub behaviour: Behaviour,
}

/// Kind of trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrunkKind {
    /// `freetdm/<span>/...`: channels 1..=channels
    Freetdm,
    /// `sofia/gateway/<name>/...` with a call limit
    Gateway,
}

/// A trunk with a fixed number of channels.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrunkConfig {
    /// span number/name or gateway name
    pub name: String,
    /// kind
    pub kind: TrunkKind,
    /// channels (E1: 30, FXO: 1) or gateway limit
    pub channels: u32,
}

/// Simulator configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    /// ESL listen address (`127.0.0.1:0` picks a port)
    pub listen: String,
    /// ESL password
    pub password: String,
    /// multiplies every simulated delay (0.01 = 100x faster)
    pub time_scale: f64,
    /// HEARTBEAT interval in simulated ms (0 = none)
    pub heartbeat_ms: u64,
    /// trunks
    pub trunks: Vec<TrunkConfig>,
    /// exact number -> behaviour
    pub numbers: HashMap<String, Behaviour>,
    /// regex rules, first match wins
    pub rules: Vec<SubscriberRule>,
    /// behaviour when nothing matches
    pub default_behaviour: Behaviour,
    /// agent phones `user/<ext>`
    pub agents: HashMap<String, Behaviour>,
    /// length (ms) of a file that exists but whose length cannot be read from a WAV header
    /// (another format), and of URL sources the simulator does not model
    pub default_playback_ms: u64,
    /// media by path (ms): a path listed here plays for that long whether or not the file
    /// exists (a virtual file, or a real one played shorter or longer). Any other plain file
    /// must exist, as on the switch: a missing one is refused (`playback`: `FILE NOT FOUND`
    /// at once, no PLAYBACK_START/STOP; inside `file_string://` and `say`: a
    /// `CUSTOM filestring::fail` event), and the party hears nothing
    pub media_ms: HashMap<String, u64>,
    /// Directories the simulated switch's disk has besides the real ones, each with all
    /// below it (the capture machine's `/opt/fs-trace` in the trace replay): a file there
    /// may be recorded into, and nothing is made or written on the real disk for it.
    pub disk_dirs: Vec<String>,
    /// `$${sounds_dir}`: where sound packs would be. The default is where Debian's FreeSWITCH
    /// packages put them; on a site that follows contactd's README no pack is installed
    /// there, so `say` finds no file
    pub sounds_dir: String,
    /// phrase languages `say` knows (`<language name=.. say-module=.. sound-prefix=..>`):
    /// name -> sound prefix, `$${sounds_dir}` written `{sounds_dir}`. The say module is the
    /// name's language (en, ru). `say` in a language not listed does nothing
    pub say_languages: HashMap<String, String>,
    /// dialplan contexts (mod_dialplan_xml): name -> extensions, tried in order. A context
    /// listed here replaces the built-in one of that name (`trace`, `contactd-acd`); a
    /// destination none of its extensions matches has no route (NO_ROUTE_DESTINATION)
    pub contexts: HashMap<String, Vec<Extension>>,
    /// the directory's users: `user/<id>[@domain]` dials this dial-string (e.g.
    /// `loopback/op201/test_operators`) instead of a simulated phone of `agents`
    pub users: HashMap<String, String>,
    /// when an outbound socket connection closes while its channel is still parked in the
    /// `socket` application, the park ends as FreeSWITCH's does (mod_event_socket clears
    /// CF_CONTROLLED): the dialplan goes on, and with nothing after `socket` the call is
    /// hung up NORMAL_CLEARING. Off: the channel stays parked (the older simplification).
    pub socket_close_ends_park: bool,
    /// per-connection event queue bound (FreeSWITCH drops a client that lags)
    pub event_queue: usize,
    /// mod_spandsp's tone descriptors (spandsp.conf): name -> the tones it detects
    pub tone_descriptors: HashMap<String, Vec<String>>,
    /// max sessions reported by `status`
    pub max_sessions: u32,
    /// FreeSWITCH-Hostname
    pub hostname: String,
    /// address for the built-in trace extension 540 (`socket <addr> async full`)
    pub trace_socket_addr: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: "127.0.0.1:0".into(),
            password: "ClueCon".into(),
            time_scale: 1.0,
            heartbeat_ms: 20_000,
            trunks: Vec::new(),
            numbers: HashMap::new(),
            rules: Vec::new(),
            default_behaviour: Behaviour::Answer {
                ring_ms: 1000,
                after: AfterAnswer::Stay,
            },
            agents: HashMap::new(),
            default_playback_ms: 1000,
            media_ms: HashMap::new(),
            disk_dirs: Vec::new(),
            sounds_dir: "/usr/share/freeswitch/sounds".into(),
            say_languages: [
                ("en", "{sounds_dir}/en/us/callie"),
                ("ru", "{sounds_dir}/ru/RU/elena"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            contexts: HashMap::new(),
            users: HashMap::new(),
            socket_close_ends_park: false,
            event_queue: 10_000,
            // as fs-conf/autoload_configs/spandsp.conf.xml
            tone_descriptors: [(
                "contactd".to_string(),
                ["SIT", "CNG", "CED"].map(String::from).to_vec(),
            )]
            .into(),
            max_sessions: 1000,
            hostname: "sim".into(),
            trace_socket_addr: None,
        }
    }
}

impl SimConfig {
    /// Parse from TOML text (uses the `config` crate already in the dependency tree).
    pub fn from_toml(text: &str) -> Result<SimConfig, String> {
        config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize::<SimConfig>())
            .map_err(|e| e.to_string())
    }

    /// Sound prefix of a `say` language (None: no such language).
    pub fn say_prefix(&self, lang: &str) -> Option<String> {
        self.say_languages
            .get(lang)
            .map(|p| p.replace("{sounds_dir}", &self.sounds_dir))
    }

    /// Behaviour for a dialed number.
    pub fn behaviour_for(&self, number: &str) -> Behaviour {
        if let Some(b) = self.numbers.get(number) {
            return b.clone();
        }
        for r in &self.rules {
            if let Some(re) = regex(&r.pattern) {
                if re.is_match(number) {
                    return r.behaviour.clone();
                }
            }
        }
        self.default_behaviour.clone()
    }
}

/// One step of a scripted inbound caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CallerStep {
    /// wait (simulated ms)
    WaitMs(u64),
    /// wait until the call is answered
    WaitForAnswer,
    /// wait until the channel starts a prompt/reading app (playback, play_and_get_digits, record, park, say)
    /// later than the one running when this step starts. Counted from then, so two in a
    /// row skip a prompt when the caller's task runs late and the prompts follow each
    /// other at once (a park, then contactd's playback): wait for such a prompt by its
    /// file with `WaitForPlay`
    WaitForPrompt,
    /// wait until the caller begins to hear a file whose name (without folder and
    /// extension: a prompt's name) begins with this, later than the one the previous
    /// `WaitForPlay` matched: as a person waits for the question, however many prompts or
    /// commands come before it
    WaitForPlay(String),
    /// key DTMF digits (one per 20 ms frame, 250 ms each)
    Dtmf(String),
    /// speak for ms (audio for record)
    Speak(u64),
    /// hang up NORMAL_CLEARING
    Hangup,
}

/// An inbound call handed to an outbound ESL server (`socket <addr> async full`).
#[derive(Debug, Clone)]
pub struct InboundCall {
    /// where contactd's outbound server listens
    pub connect_to: String,
    /// channel name, e.g. `FreeTDM/1:3/5551234`; `None` = `FreeTDM/1:<n>/<dest>`
    pub channel_name: Option<String>,
    /// caller id number
    pub caller_number: String,
    /// caller id name
    pub caller_name: String,
    /// destination number dialed by the caller
    pub destination: String,
    /// trunk whose channel the call occupies (counted in live/peak)
    pub trunk: Option<String>,
    /// scripted caller
    pub script: Vec<CallerStep>,
    /// extra channel variables
    pub vars: Vec<(String, String)>,
    /// run as contactd's entries in `dialplans/from-trunk.xml` and `dialplans/internal.xml`
    /// do: when the `socket` application returns with the call still up (contactd down, or
    /// its connection dropped), the context `contactd-reconnect` holds the caller with the
    /// wait tone and connects again ([`super::dialplan::contactd_reconnect`]). false:
    /// nothing follows the `socket`
    pub reconnects: bool,
    /// the person starts the script over when they hear this prompt (a file whose name
    /// begins so) again: what a caller does when the menu starts again after a reconnect
    pub start_over_on: Option<String>,
}

impl Default for InboundCall {
    fn default() -> Self {
        InboundCall {
            connect_to: String::new(),
            channel_name: None,
            caller_number: "5552000".into(),
            caller_name: "caller".into(),
            destination: "100".into(),
            trunk: None,
            script: vec![CallerStep::WaitForAnswer],
            vars: Vec::new(),
            reconnects: false,
            start_over_on: None,
        }
    }
}

/// A compiled regex, kept for the next call with the same pattern (dialplan conditions,
/// subscriber rules and digit patterns are matched over and over); None if it is invalid.
pub fn regex(pattern: &str) -> Option<regex::Regex> {
    static CACHE: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, Option<regex::Regex>>>,
    > = std::sync::OnceLock::new();
    let mut c = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    c.entry(pattern.to_string())
        .or_insert_with(|| regex::Regex::new(pattern).ok())
        .clone()
}
