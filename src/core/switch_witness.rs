//! What one contactd instance saw of one switch's channels, to tell — for an attempt whose
//! call it finds neither live on the switch nor ended in its records — whether the switch
//! ever had that channel.
//!
//! Every instance keeps its own event connection to every switch and sees every channel's
//! events; each originate carries `origination_uuid` = the attempt's uuid. So if this
//! instance's link to the switch has been up without a break since before the attempt's
//! row was committed (the originate can only follow that commit), and the record of the
//! uuids seen since then is complete (nothing evicted from that span), a uuid never seen
//! was never a channel there: nobody was called. Anything less — the link dropped in
//! between, this instance connected after the attempt, the span evicted — is not proof,
//! and the verdict is `Unknown` (never a guess that could call someone twice).
//!
//! Bounded: entries older than `window` (or beyond `cap`) are evicted, and eviction moves
//! the start of the complete span past them.
//!
//! The switch keeps a record of its own that outlives a link's break: a campaign call's
//! `api_hangup_hook` notes its end in mod_db as the channel hangs up (FreeSWITCH runs the
//! hook in `switch_core_session_hangup_state`, for every session that existed, answered or
//! not), and the note stays until its outcome is written. So a uuid the switch does not list
//! and for which it noted no end was never a channel — provided the switch is the same
//! process since before the attempt: a crash ends channels without their hooks, and mod_db's
//! table survives a restart. A new process is a new Core-UUID, which the link reads at each
//! connect (`core_seen`): the same Core-UUID on both sides of a break proves no restart in
//! between. This covers what the event record cannot: a link that had just come back.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

/// One uuid seen on the switch.
#[derive(Debug, Clone, Default)]
struct Seen {
    answered: bool,
    /// The hang-up's cause name (one shared copy per name) and Q.850 code, once seen.
    hangup: Option<(Arc<str>, Option<i32>)>,
}

/// A uuid as the record keeps it. A channel uuid in its canonical form (lower-case,
/// hyphenated: what contactd originates with and the switch reports back) is 16 bytes
/// rather than two 36-byte strings: the record holds every channel of the last
/// [`Witness::new`] window, up to hundreds of thousands at full dialing speed. Anything
/// else is kept as it came. Two keys are equal exactly when their strings are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Uuid([u8; 16]),
    Other(Box<str>),
}

impl Key {
    fn of(s: &str) -> Self {
        // 36 characters that parse are the hyphenated form; lower-case makes it one string
        // per uuid, so the bytes stand for exactly that string
        if s.len() == 36 && !s.bytes().any(|b| b.is_ascii_uppercase()) {
            if let Ok(u) = uuid::Uuid::try_parse(s) {
                return Self::Uuid(*u.as_bytes());
            }
        }
        Self::Other(s.into())
    }
}

/// At most this many distinct cause names are shared; past it (a switch inventing names)
/// each is kept on its own.
const CAUSES_SHARED: usize = 256;

/// A call's end as the switch noted it in mod_db (its originate's end-note hook ran: the
/// channel existed and hung up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotedEnd {
    pub cause: String,
    pub q850: Option<i32>,
    pub answered: bool,
}

/// What the record allows saying about one attempt's uuid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Provably never a channel on the switch: the subscriber was not called.
    NeverDialed,
    /// Seen, and seen hung up with this cause (and whether it was answered).
    Ended {
        cause: String,
        q850: Option<i32>,
        answered: bool,
    },
    /// No proof either way.
    Unknown,
}

#[derive(Debug)]
pub struct Witness {
    window: Duration,
    cap: usize,
    /// Clock slack between instances and the database (the attempt's time is the
    /// database's `now()`): the link must have been up this much before it.
    slack: Duration,
    up_since: Option<DateTime<Utc>>,
    /// The record holds every uuid seen since this time (None: nothing to vouch for).
    complete_since: Option<DateTime<Utc>>,
    seen: HashMap<Key, Seen>,
    order: VecDeque<(DateTime<Utc>, Key)>,
    /// The hang-up cause names seen, one copy each.
    causes: HashSet<Arc<str>>,
    /// The switch's Core-UUID, and since when this link has known that same process
    /// (the first connect that found it), across any breaks.
    core: Option<(String, DateTime<Utc>)>,
}

impl Witness {
    pub fn new(window: Duration, cap: usize, slack: Duration) -> Self {
        Self {
            window,
            cap: cap.max(1),
            slack,
            up_since: None,
            complete_since: None,
            seen: HashMap::new(),
            order: VecDeque::new(),
            causes: HashSet::new(),
            core: None,
        }
    }

    /// A connect at `at` found the switch running as `core_uuid` (None: it could not be
    /// read, and nothing is vouched for until a connect reads it). The same process as
    /// last time keeps its start; another one starts now.
    pub fn core_seen(&mut self, core_uuid: Option<&str>, at: DateTime<Utc>) {
        self.core = match (core_uuid, self.core.take()) {
            (Some(now), Some((was, since))) if was == now => Some((was, since)),
            (Some(now), _) => Some((now.to_string(), at)),
            (None, _) => None,
        };
    }

    /// The event subscription is in place as of `at` (taken before asking for it): every
    /// channel event from then on reaches `saw_*` until `link_down`.
    pub fn link_up(&mut self, at: DateTime<Utc>) {
        self.up_since = Some(at);
        self.complete_since = Some(at);
    }

    /// The link dropped: events from now on may be missed until the next `link_up`.
    pub fn link_down(&mut self) {
        self.up_since = None;
        self.complete_since = None;
    }

    pub fn up_since(&self) -> Option<DateTime<Utc>> {
        self.up_since
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn entry(&mut self, uuid: &str, at: DateTime<Utc>) -> &mut Seen {
        let key = Key::of(uuid);
        if !self.seen.contains_key(&key) {
            self.order.push_back((at, key.clone()));
            self.seen.insert(key.clone(), Seen::default());
            self.evict(at);
        }
        self.seen.get_mut(&key).expect("just inserted")
    }

    fn cause(&mut self, name: &str) -> Arc<str> {
        if let Some(c) = self.causes.get(name) {
            return c.clone();
        }
        let c: Arc<str> = name.into();
        if self.causes.len() < CAUSES_SHARED {
            self.causes.insert(c.clone());
        }
        c
    }

    /// A channel event naming `uuid` (created, renamed to it, any other).
    pub fn saw(&mut self, uuid: &str, at: DateTime<Utc>) {
        self.entry(uuid, at);
    }

    pub fn saw_answer(&mut self, uuid: &str, at: DateTime<Utc>) {
        self.entry(uuid, at).answered = true;
    }

    pub fn saw_hangup(&mut self, uuid: &str, cause: &str, q850: Option<i32>, at: DateTime<Utc>) {
        let cause = self.cause(cause);
        let e = self.entry(uuid, at);
        if e.hangup.is_none() {
            e.hangup = Some((cause, q850));
        }
    }

    /// Drops entries older than the window or beyond the cap; the complete span then
    /// starts after the newest one dropped.
    pub fn evict(&mut self, now: DateTime<Utc>) {
        while let Some((at, _)) = self.order.front() {
            if *at >= now - self.window && self.order.len() <= self.cap {
                break;
            }
            let (at, uuid) = self.order.pop_front().expect("front exists");
            self.seen.remove(&uuid);
            if let Some(c) = self.complete_since.as_mut() {
                if *c <= at {
                    *c = at + Duration::milliseconds(1);
                }
            }
        }
    }

    /// [`Self::verdict`], with what the switch noted for `uuid` (whose originate carried the
    /// end-note hook; None: no note), asked once the switch no longer lists it. A noted end
    /// is the switch's own word; no note proves the call was never a channel only if this
    /// link has known the same switch process since before the attempt, and never saw the
    /// uuid without its end (a channel gone with no note means a hook that did not run: no
    /// proof).
    pub fn verdict_noted(
        &self,
        uuid: &str,
        attempt_at: DateTime<Utc>,
        noted: Option<NotedEnd>,
    ) -> Verdict {
        if let Some(NotedEnd {
            cause,
            q850,
            answered,
        }) = noted
        {
            return Verdict::Ended {
                cause,
                q850,
                answered,
            };
        }
        let key = Key::of(uuid);
        let seen = self.verdict_of(&key, attempt_at);
        if seen != Verdict::Unknown || self.seen.contains_key(&key) {
            return seen;
        }
        let same_switch = self
            .core
            .as_ref()
            .is_some_and(|(_, since)| *since <= attempt_at - self.slack);
        if same_switch {
            Verdict::NeverDialed
        } else {
            Verdict::Unknown
        }
    }

    /// What can be said of `uuid`, whose attempt row was committed at `attempt_at` and
    /// whose channel the switch does not list now.
    pub fn verdict(&self, uuid: &str, attempt_at: DateTime<Utc>) -> Verdict {
        self.verdict_of(&Key::of(uuid), attempt_at)
    }

    fn verdict_of(&self, key: &Key, attempt_at: DateTime<Utc>) -> Verdict {
        if let Some(s) = self.seen.get(key) {
            return match &s.hangup {
                Some((cause, q850)) => Verdict::Ended {
                    cause: cause.to_string(),
                    q850: *q850,
                    answered: s.answered,
                },
                // It was a channel and its end went unseen.
                None => Verdict::Unknown,
            };
        }
        let vouched =
            |since: Option<DateTime<Utc>>| since.is_some_and(|t| t <= attempt_at - self.slack);
        if vouched(self.up_since) && vouched(self.complete_since) {
            Verdict::NeverDialed
        } else {
            Verdict::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn w() -> Witness {
        Witness::new(Duration::minutes(15), 1000, Duration::seconds(2))
    }

    #[test]
    fn never_seen_while_the_link_was_up_since_before_the_attempt_is_never_dialed() {
        let mut w = w();
        w.link_up(t(0));
        w.saw("other", t(20));
        assert_eq!(w.verdict("a", t(10)), Verdict::NeverDialed);
    }

    #[test]
    fn a_link_up_only_after_the_attempt_vouches_for_nothing() {
        let mut w = w();
        w.link_up(t(9));
        assert_eq!(w.verdict("a", t(10)), Verdict::Unknown, "within the slack");
        w.link_up(t(30));
        assert_eq!(w.verdict("a", t(10)), Verdict::Unknown);
    }

    #[test]
    fn a_drop_in_between_vouches_for_nothing_even_once_back() {
        let mut w = w();
        w.link_up(t(0));
        w.link_down();
        assert_eq!(w.verdict("a", t(10)), Verdict::Unknown);
        w.link_up(t(12));
        assert_eq!(w.verdict("a", t(10)), Verdict::Unknown);
        assert_eq!(w.verdict("b", t(20)), Verdict::NeverDialed);
    }

    #[test]
    fn seen_and_hung_up_gives_the_cause_seen() {
        let mut w = w();
        w.link_up(t(0));
        w.saw("a", t(11));
        w.saw_hangup("a", "USER_BUSY", Some(17), t(12));
        assert_eq!(
            w.verdict("a", t(10)),
            Verdict::Ended {
                cause: "USER_BUSY".into(),
                q850: Some(17),
                answered: false
            }
        );
        w.saw_answer("b", t(13));
        w.saw_hangup("b", "NORMAL_CLEARING", Some(16), t(14));
        assert!(matches!(
            w.verdict("b", t(10)),
            Verdict::Ended { answered: true, .. }
        ));
    }

    #[test]
    fn a_channel_uuid_is_known_by_its_own_spelling_only() {
        let mut w = w();
        w.link_up(t(0));
        let uuid = "0b5c2f6e-3d1a-4c7e-9f00-1234567890ab";
        w.saw_answer(uuid, t(11));
        w.saw_hangup(uuid, "NORMAL_CLEARING", Some(16), t(12));
        assert_eq!(
            w.verdict(uuid, t(10)),
            Verdict::Ended {
                cause: "NORMAL_CLEARING".into(),
                q850: Some(16),
                answered: true
            }
        );
        // the switch looks channels up by their exact string: capitals name another one
        assert_eq!(w.verdict(&uuid.to_uppercase(), t(10)), Verdict::NeverDialed);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn seen_without_a_hangup_is_unknown() {
        let mut w = w();
        w.link_up(t(0));
        w.saw("a", t(11));
        assert_eq!(w.verdict("a", t(10)), Verdict::Unknown);
    }

    #[test]
    fn eviction_by_age_or_count_moves_the_complete_span() {
        let mut w = Witness::new(Duration::seconds(60), 2, Duration::seconds(2));
        w.link_up(t(0));
        w.saw("x", t(20));
        w.saw("y", t(21));
        w.saw("z", t(22)); // over the cap: x goes, the record is complete only after t(20)
        assert_eq!(w.len(), 2);
        assert_eq!(
            w.verdict("x", t(10)),
            Verdict::Unknown,
            "x may have been it"
        );
        assert_eq!(w.verdict("q", t(30)), Verdict::NeverDialed);
        w.evict(t(200)); // all older than the window
        assert!(w.is_empty());
        assert_eq!(w.verdict("z", t(21)), Verdict::Unknown);
        assert_eq!(w.verdict("q", t(30)), Verdict::NeverDialed);
    }

    #[test]
    fn never_linked_is_unknown() {
        assert_eq!(w().verdict("a", t(10)), Verdict::Unknown);
    }

    #[test]
    fn with_the_switchs_notes_a_link_just_back_can_vouch_if_the_switch_is_the_same() {
        let mut w = w();
        w.core_seen(Some("core-1"), t(0));
        w.link_up(t(0));
        w.link_down();
        w.core_seen(Some("core-1"), t(9));
        w.link_up(t(9));
        // the event record cannot vouch for an attempt at t(10): the link was away
        assert_eq!(w.verdict("a", t(10)), Verdict::Unknown);
        assert_eq!(w.verdict_noted("a", t(10), None), Verdict::NeverDialed);
        // the switch's noted end is its own word, answered or not
        let end = Some(NotedEnd {
            cause: "NORMAL_CLEARING".into(),
            q850: Some(16),
            answered: true,
        });
        assert!(matches!(
            w.verdict_noted("a", t(10), end),
            Verdict::Ended { answered: true, .. }
        ));
    }

    #[test]
    fn a_restarted_switch_or_an_unread_core_vouches_for_nothing_by_its_notes() {
        let mut w = w();
        w.core_seen(Some("core-1"), t(0));
        w.link_up(t(0));
        w.link_down();
        // a crash ends channels without their hang-up hooks
        w.core_seen(Some("core-2"), t(9));
        w.link_up(t(9));
        assert_eq!(w.verdict_noted("a", t(10), None), Verdict::Unknown);
        // the new process vouches from its first sight on (less the clock slack)
        assert_eq!(w.verdict_noted("b", t(11), None), Verdict::NeverDialed);
        w.link_down();
        w.core_seen(None, t(20));
        w.link_up(t(20));
        assert_eq!(
            w.verdict_noted("c", t(30), None),
            Verdict::NeverDialed,
            "the event record alone"
        );
        assert_eq!(w.verdict_noted("d", t(21), None), Verdict::Unknown);
    }

    #[test]
    fn a_channel_seen_whose_end_was_neither_seen_nor_noted_is_unknown() {
        let mut w = w();
        w.core_seen(Some("core-1"), t(0));
        w.link_up(t(0));
        w.saw("a", t(11));
        assert_eq!(w.verdict_noted("a", t(10), None), Verdict::Unknown);
    }
}
