//! Trunk groups and trunk health, pure: which trunk of a group the next call takes (in the
//! group's order, among the trunks in service with a free channel), a group's capacity, and
//! each FreeTDM span's alarm state from mod_freetdm's per-channel TRAP events.
//!
//! No I/O: the service (`service::trunks`) reads the line leases (Redis) and the switch links
//! and hands the loads in; this module only decides. A trunk's `channels` stay the hard cap,
//! enforced by the lease script itself — a pick here is only a preference.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// How a group spreads its calls over its trunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GroupOrder {
    /// The first trunk (in the group's list) with a free channel: the later trunks only
    /// carry the overflow (a cheaper provider first).
    #[default]
    FillFirst,
    /// The trunk after the one used last that has a free channel.
    RoundRobin,
    /// The trunk with the smallest share of its channels in use (ties: list order).
    LeastUsed,
}

/// Why a trunk carries calls or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrunkState {
    InService,
    /// Its FreeTDM span is in alarm (red, yellow, ais...): capacity 0 until cleared.
    Alarm,
    /// Its switch's control link is down, or back but not yet resynced.
    SwitchDown,
}

impl TrunkState {
    pub fn label(self) -> &'static str {
        match self {
            TrunkState::InService => "in_service",
            TrunkState::Alarm => "alarm",
            TrunkState::SwitchDown => "switch_down",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "in_service" => TrunkState::InService,
            "alarm" => TrunkState::Alarm,
            "switch_down" => TrunkState::SwitchDown,
            _ => return None,
        })
    }
}

/// One trunk as the picker sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkLoad {
    pub channels: u32,
    pub in_use: u32,
    pub state: TrunkState,
}

impl TrunkLoad {
    /// Channels a new call may take now: none out of service.
    pub fn free(&self) -> u32 {
        match self.state {
            TrunkState::InService => self.channels.saturating_sub(self.in_use),
            _ => 0,
        }
    }

    /// What the trunk adds to its group's capacity: (channels, in use), nothing when out of
    /// service (its calls still up end on their own and are not counted twice).
    fn counted(&self) -> (u32, u32) {
        match self.state {
            TrunkState::InService => (self.channels, self.in_use.min(self.channels)),
            _ => (0, 0),
        }
    }
}

/// A group's (or a lone trunk's) capacity for the pacer: channels in service and their
/// lines in use.
pub fn capacity(trunks: &[TrunkLoad]) -> (u32, u32) {
    trunks.iter().fold((0, 0), |(c, u), t| {
        let (tc, tu) = t.counted();
        (c + tc, u + tu)
    })
}

/// Which trunk (index into `trunks`, the group's list order) the next call takes, or none
/// when no trunk in service has a free channel. `last`: the index used last (round robin).
pub fn pick(order: GroupOrder, trunks: &[TrunkLoad], last: Option<usize>) -> Option<usize> {
    let n = trunks.len();
    match order {
        GroupOrder::FillFirst => trunks.iter().position(|t| t.free() > 0),
        GroupOrder::RoundRobin => {
            let start = last.map_or(0, |l| l + 1);
            (0..n)
                .map(|k| (start + k) % n)
                .find(|&i| trunks[i].free() > 0)
        }
        GroupOrder::LeastUsed => trunks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.free() > 0)
            // share in use as a fraction, compared without floats: a/b < c/d ⇔ a·d < c·b
            .min_by(|(i, a), (j, b)| {
                let l = u64::from(a.in_use) * u64::from(b.channels.max(1));
                let r = u64::from(b.in_use) * u64::from(a.channels.max(1));
                l.cmp(&r).then(i.cmp(j))
            })
            .map(|(i, _)| i),
    }
}

/// The FreeTDM span of a dial string `freetdm/<span>/<hunt>/<number>`; none for any other
/// endpoint (a SIP gateway has no span to alarm).
pub fn span_of_dial(dial: &str) -> Option<String> {
    let mut parts = dial.split('/');
    if parts.next()? != "freetdm" {
        return None;
    }
    let span = parts.next()?.trim();
    (!span.is_empty()).then(|| span.to_string())
}

/// What one mod_freetdm alarm event says (see `esl::span_alarm` for the wire text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmEvent {
    /// `span-name` (the `name` of the span in freetdm.conf) and `span-number` (its id).
    pub span_name: String,
    pub span_id: u32,
    pub chan_id: u32,
    /// `ftdm-alarm-trap` (true) or `ftdm-alarm-clear` (false).
    pub raised: bool,
    /// The `alarm` headers: red, yellow, rai, blue, ais, general.
    pub alarms: Vec<String>,
}

/// A span's alarm changed as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanChange {
    /// The first channel of the span went into alarm: the span is out of service.
    Down { alarms: Vec<String> },
    /// The last alarmed channel cleared: the span is back.
    Up,
}

/// Alarmed channels per span of one switch. mod_freetdm fires one event per channel, so a
/// span is out while any of its channels is in alarm, and back when the last one clears.
#[derive(Debug, Default, Clone)]
pub struct SpanAlarms {
    /// span key (name and id both map here, see [`SpanAlarms::key`]) → alarmed channels
    alarmed: BTreeMap<String, BTreeSet<u32>>,
}

impl SpanAlarms {
    /// The key a span is known by: its number, which the dial string names
    /// (`freetdm/1/a/...`), also when the span has a name.
    fn key(span_id: u32) -> String {
        span_id.to_string()
    }

    /// Applies one event; says whether the span as a whole changed.
    pub fn handle(&mut self, ev: &AlarmEvent) -> Option<SpanChange> {
        let set = self.alarmed.entry(Self::key(ev.span_id)).or_default();
        let was = !set.is_empty();
        if ev.raised {
            set.insert(ev.chan_id);
        } else {
            set.remove(&ev.chan_id);
        }
        match (was, !set.is_empty()) {
            (false, true) => Some(SpanChange::Down {
                alarms: ev.alarms.clone(),
            }),
            (true, false) => Some(SpanChange::Up),
            _ => None,
        }
    }

    /// Replaces a span's picture with `ftdm dump`'s after a reconnect (the events sent
    /// while the link was down are lost): the channels now in alarm.
    pub fn resync(&mut self, span_id: u32, alarmed: BTreeSet<u32>) -> Option<SpanChange> {
        let set = self.alarmed.entry(Self::key(span_id)).or_default();
        let was = !set.is_empty();
        *set = alarmed;
        match (was, !set.is_empty()) {
            (false, true) => Some(SpanChange::Down { alarms: Vec::new() }),
            (true, false) => Some(SpanChange::Up),
            _ => None,
        }
    }

    /// Whether span `span` (its number or, when `names` maps it, its name) is in alarm.
    pub fn in_alarm(&self, span: &str, names: &BTreeMap<String, u32>) -> bool {
        let key = names
            .get(span)
            .map(|id| Self::key(*id))
            .unwrap_or_else(|| span.to_string());
        self.alarmed.get(&key).is_some_and(|s| !s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TrunkState::*;

    fn t(channels: u32, in_use: u32, state: TrunkState) -> TrunkLoad {
        TrunkLoad {
            channels,
            in_use,
            state,
        }
    }

    #[test]
    fn fill_first_takes_the_first_with_room_and_skips_trunks_out_of_service() {
        let g = [t(2, 2, InService), t(4, 0, InService)];
        assert_eq!(pick(GroupOrder::FillFirst, &g, None), Some(1));
        let g = [t(2, 1, InService), t(4, 0, InService)];
        assert_eq!(pick(GroupOrder::FillFirst, &g, Some(1)), Some(0));
        let g = [t(2, 0, Alarm), t(4, 0, InService)];
        assert_eq!(pick(GroupOrder::FillFirst, &g, None), Some(1));
        let g = [t(2, 0, Alarm), t(4, 0, SwitchDown)];
        assert_eq!(pick(GroupOrder::FillFirst, &g, None), None);
    }

    #[test]
    fn round_robin_goes_on_after_the_last_used_and_wraps() {
        let g = [t(2, 0, InService), t(2, 0, InService), t(2, 0, InService)];
        assert_eq!(pick(GroupOrder::RoundRobin, &g, None), Some(0));
        assert_eq!(pick(GroupOrder::RoundRobin, &g, Some(0)), Some(1));
        assert_eq!(pick(GroupOrder::RoundRobin, &g, Some(2)), Some(0));
        // the next one full or out: the one after it
        let g = [t(2, 0, InService), t(2, 2, InService), t(2, 0, Alarm)];
        assert_eq!(pick(GroupOrder::RoundRobin, &g, Some(0)), Some(0));
    }

    #[test]
    fn least_used_compares_shares_not_counts() {
        // 3 of 30 (10 %) is less used than 1 of 4 (25 %)
        let g = [t(4, 1, InService), t(30, 3, InService)];
        assert_eq!(pick(GroupOrder::LeastUsed, &g, None), Some(1));
        // ties go to list order
        let g = [t(4, 2, InService), t(2, 1, InService)];
        assert_eq!(pick(GroupOrder::LeastUsed, &g, None), Some(0));
        let g = [t(4, 0, SwitchDown), t(2, 1, InService)];
        assert_eq!(pick(GroupOrder::LeastUsed, &g, None), Some(1));
    }

    #[test]
    fn capacity_counts_only_trunks_in_service() {
        let g = [t(30, 5, InService), t(4, 4, Alarm), t(2, 1, InService)];
        assert_eq!(capacity(&g), (32, 6));
        assert_eq!(capacity(&[t(30, 7, SwitchDown)]), (0, 0));
        // more leases than channels (a trunk shrunk in the config) never counts above it
        assert_eq!(capacity(&[t(2, 5, InService)]), (2, 2));
    }

    #[test]
    fn the_span_of_a_freetdm_dial_string() {
        assert_eq!(span_of_dial("freetdm/1/a/{number}").as_deref(), Some("1"));
        assert_eq!(
            span_of_dial("freetdm/wp2/A/{number}").as_deref(),
            Some("wp2")
        );
        assert_eq!(span_of_dial("sofia/gateway/gw1/{number}"), None);
        assert_eq!(span_of_dial("freetdm//a/{number}"), None);
    }

    fn ev(chan: u32, raised: bool) -> AlarmEvent {
        AlarmEvent {
            span_name: "wp1".into(),
            span_id: 1,
            chan_id: chan,
            raised,
            alarms: if raised { vec!["red".into()] } else { vec![] },
        }
    }

    #[test]
    fn a_span_is_down_from_its_first_alarmed_channel_to_its_last_clear() {
        let mut s = SpanAlarms::default();
        let names: BTreeMap<String, u32> = [("wp1".to_string(), 1)].into();
        assert_eq!(
            s.handle(&ev(1, true)),
            Some(SpanChange::Down {
                alarms: vec!["red".into()]
            })
        );
        assert_eq!(s.handle(&ev(2, true)), None);
        assert!(s.in_alarm("1", &names) && s.in_alarm("wp1", &names));
        assert!(!s.in_alarm("2", &names));
        assert_eq!(s.handle(&ev(1, false)), None);
        assert!(s.in_alarm("1", &names));
        assert_eq!(s.handle(&ev(2, false)), Some(SpanChange::Up));
        assert!(!s.in_alarm("wp1", &names));
        // a clear of a channel never seen in alarm changes nothing
        assert_eq!(s.handle(&ev(3, false)), None);
    }

    #[test]
    fn a_resync_replaces_what_the_lost_events_would_have_said() {
        let mut s = SpanAlarms::default();
        s.handle(&ev(1, true));
        assert_eq!(s.resync(1, BTreeSet::new()), Some(SpanChange::Up));
        assert_eq!(
            s.resync(1, [4, 5].into()),
            Some(SpanChange::Down { alarms: vec![] })
        );
        assert_eq!(s.resync(1, [4].into()), None);
    }
}
