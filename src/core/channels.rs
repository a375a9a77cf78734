//! Live channels of one FreeSWITCH node, as contactd believes them to be.
//!
//! Pure: fed [`SwitchEvent`]s in order and, after every (re)connect, a snapshot from
//! `show channels as json` that replaces whatever was believed before. Nothing else writes
//! it, so the live-call count cannot drift past a reconnect.

use std::collections::HashMap;

/// The parts of an ESL event contactd acts on; built by `esl::events` from the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchEvent {
    Create(ChannelInfo),
    /// `origination_uuid` renames the A-leg after its first events.
    Rename {
        old: String,
        new: String,
    },
    Answer {
        uuid: String,
        at_us: i64,
    },
    Hangup(HangupInfo),
    Destroy {
        uuid: String,
    },
    ExecuteComplete {
        uuid: String,
        application: String,
        response: String,
        application_uuid: Option<String>,
        /// `read_result` and the digits of `play_and_get_digits` into `contactd_digits`.
        read_result: Option<String>,
        digits: Option<String>,
        /// `wait_for_silence`'s own account (channel variables it sets as it returns):
        /// `wait_for_silence_timeout` (true: its timeout, not the silence, ended it) and
        /// `wait_for_silence_listenhits` (the loud frames it heard).
        silence_timeout: Option<bool>,
        listen_hits: Option<u32>,
        at_us: i64,
    },
    PlaybackStart {
        uuid: String,
        at_us: i64,
    },
    PlaybackStop {
        uuid: String,
        at_us: i64,
    },
    /// CHANNEL_BRIDGE / CHANNEL_UNBRIDGE, on the A side of the bridge.
    Bridge {
        uuid: String,
        other: String,
        at_us: i64,
    },
    Unbridge {
        uuid: String,
        other: String,
        at_us: i64,
    },
    /// CHANNEL_PARK: the channel waits for instructions (again, after a bridge).
    Park {
        uuid: String,
    },
    /// CHANNEL_PROGRESS_MEDIA: the far end sends early media (ring-back or an announcement).
    EarlyMedia {
        uuid: String,
    },
    /// mod_avmd's `CUSTOM avmd::beep`: a voicemail beep heard on the channel.
    Beep {
        uuid: String,
        at_us: i64,
        /// `Frequency`, rounded to Hz.
        frequency_hz: Option<u32>,
    },
    /// `DETECTED_TONE` of mod_spandsp's tone descriptor (`Detected-Tone`).
    Tone {
        uuid: String,
        name: String,
        at_us: i64,
    },
    BackgroundJob {
        job_uuid: String,
        body: String,
    },
    Heartbeat,
    /// FreeSWITCH announced it is shutting down: every channel is about to go.
    Shutdown,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelInfo {
    pub uuid: String,
    pub name: String,
    /// `inbound` or `outbound` as FreeSWITCH says.
    pub direction: String,
    /// The trunk contactd dialed it on (`contactd_trunk` variable), if it did.
    pub trunk: Option<String>,
    pub answered: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HangupInfo {
    pub uuid: String,
    /// Raw FreeSWITCH cause name, e.g. `USER_BUSY`; kept verbatim.
    pub cause: String,
    /// `variable_hangup_cause_q850`, when present.
    pub q850: Option<i32>,
    pub answered_at_us: Option<i64>,
    pub ended_at_us: Option<i64>,
    pub billsec: Option<i64>,
    /// Only HANGUP_COMPLETE carries the timing variables.
    pub complete: bool,
    /// When the event was fired (Event-Date-Timestamp, µs).
    pub at_us: i64,
    /// `contactd_trunk` / `contactd_budget`: the line lease this channel holds, if any.
    pub trunk: Option<String>,
    pub budget: Option<String>,
}

/// One row of `show channels as json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRow {
    pub uuid: String,
    pub name: String,
    pub direction: String,
    pub answered: bool,
}

#[derive(Debug, Default)]
pub struct ChannelTable {
    live: HashMap<String, ChannelInfo>,
}

impl SwitchEvent {
    /// The channel this event is about, if any.
    pub fn uuid(&self) -> Option<&str> {
        match self {
            SwitchEvent::Create(c) => Some(&c.uuid),
            SwitchEvent::Rename { new, .. } => Some(new),
            SwitchEvent::Answer { uuid, .. }
            | SwitchEvent::Destroy { uuid }
            | SwitchEvent::ExecuteComplete { uuid, .. }
            | SwitchEvent::PlaybackStart { uuid, .. }
            | SwitchEvent::PlaybackStop { uuid, .. }
            | SwitchEvent::Bridge { uuid, .. }
            | SwitchEvent::Unbridge { uuid, .. }
            | SwitchEvent::Park { uuid }
            | SwitchEvent::EarlyMedia { uuid }
            | SwitchEvent::Beep { uuid, .. }
            | SwitchEvent::Tone { uuid, .. } => Some(uuid),
            SwitchEvent::Hangup(h) => Some(&h.uuid),
            _ => None,
        }
    }
}

impl ChannelTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one event; returns true when the set of live channels changed.
    pub fn handle_event(&mut self, ev: &SwitchEvent) -> bool {
        match ev {
            SwitchEvent::Create(info) => {
                if let Some(existing) = self.live.get_mut(&info.uuid) {
                    // Already known from a snapshot: keep its answer state, learn the trunk.
                    if existing.trunk.is_none() {
                        existing.trunk.clone_from(&info.trunk);
                    }
                    false
                } else {
                    self.live.insert(info.uuid.clone(), info.clone());
                    true
                }
            }
            SwitchEvent::Rename { old, new } => match self.live.remove(old) {
                Some(mut info) => {
                    info.uuid.clone_from(new);
                    self.live.insert(new.clone(), info);
                    true
                }
                None => false,
            },
            SwitchEvent::Answer { uuid, .. } => {
                if let Some(c) = self.live.get_mut(uuid) {
                    c.answered = true;
                }
                false
            }
            // A channel stays live until DESTROY; outbound-socket channels without linger
            // never deliver DESTROY, so HANGUP_COMPLETE ends them too.
            SwitchEvent::Hangup(h) if h.complete => self.live.remove(&h.uuid).is_some(),
            SwitchEvent::Destroy { uuid } => self.live.remove(uuid).is_some(),
            _ => false,
        }
    }

    /// Replaces belief with the switch's own list.
    pub fn resync(&mut self, rows: &[SnapshotRow]) {
        let mut fresh = HashMap::with_capacity(rows.len());
        for r in rows {
            let trunk = self.live.get(&r.uuid).and_then(|c| c.trunk.clone());
            fresh.insert(
                r.uuid.clone(),
                ChannelInfo {
                    uuid: r.uuid.clone(),
                    name: r.name.clone(),
                    direction: r.direction.clone(),
                    trunk,
                    answered: r.answered,
                },
            );
        }
        self.live = fresh;
    }

    /// Everything is gone (the switch shut down or crashed).
    pub fn clear(&mut self) {
        self.live.clear();
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    pub fn contains(&self, uuid: &str) -> bool {
        self.live.contains_key(uuid)
    }

    pub fn uuids(&self) -> impl Iterator<Item = &str> {
        self.live.keys().map(String::as_str)
    }

    pub fn get(&self, uuid: &str) -> Option<&ChannelInfo> {
        self.live.get(uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(uuid: &str) -> SwitchEvent {
        SwitchEvent::Create(ChannelInfo {
            uuid: uuid.into(),
            name: format!("FreeTDM/1:1/{uuid}"),
            direction: "outbound".into(),
            trunk: Some("e1".into()),
            answered: false,
        })
    }

    #[test]
    fn create_rename_destroy() {
        let mut t = ChannelTable::new();
        assert!(t.handle_event(&create("tmp")));
        assert!(t.handle_event(&SwitchEvent::Rename {
            old: "tmp".into(),
            new: "real".into()
        }));
        assert!(t.contains("real") && !t.contains("tmp"));
        assert!(t.handle_event(&SwitchEvent::Destroy {
            uuid: "real".into()
        }));
        assert!(t.is_empty());
    }

    #[test]
    fn resync_replaces_belief_and_keeps_trunks() {
        let mut t = ChannelTable::new();
        t.handle_event(&create("a"));
        t.handle_event(&create("b"));
        // b ended while disconnected; c started while disconnected
        let rows = vec![
            SnapshotRow {
                uuid: "a".into(),
                name: "x".into(),
                direction: "outbound".into(),
                answered: true,
            },
            SnapshotRow {
                uuid: "c".into(),
                name: "y".into(),
                direction: "inbound".into(),
                answered: false,
            },
        ];
        t.resync(&rows);
        assert_eq!(t.len(), 2);
        assert_eq!(t.get("a").unwrap().trunk.as_deref(), Some("e1"));
        assert!(t.get("a").unwrap().answered);
        assert!(!t.contains("b"));
        // a late CREATE for a snapshotted channel does not double count
        assert!(!t.handle_event(&create("a")));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn hangup_complete_ends_a_channel_that_never_reports_destroy() {
        let mut t = ChannelTable::new();
        t.handle_event(&create("a"));
        t.handle_event(&SwitchEvent::Hangup(HangupInfo {
            uuid: "a".into(),
            cause: "NORMAL_CLEARING".into(),
            complete: false,
            ..Default::default()
        }));
        assert_eq!(t.len(), 1);
        t.handle_event(&SwitchEvent::Hangup(HangupInfo {
            uuid: "a".into(),
            cause: "NORMAL_CLEARING".into(),
            complete: true,
            ..Default::default()
        }));
        assert!(t.is_empty());
    }
}
