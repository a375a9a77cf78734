//! The campaign pacer, sans-IO: every rule that decides whether a subscriber is dialed now —
//! the line budget, the calling window in the subscriber's zone, the do-not-call verdict and
//! the retry after an attempt — and when the runner must look again. Time comes in as an
//! argument; decisions come out as values; [`Pacer::poll_timeout`] says when it next needs
//! to be woken. It never reads a clock, a database or a socket: the service does the I/O.
//!
//! It fails closed: a do-not-call list that cannot be read means nobody is dialed until it
//! can be, and a campaign whose stored window or zone cannot be parsed is not dialed at all
//! (never a default window or zone in its place).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::outcome::{decide, Next, Outcome, RetryPolicy};
use super::window::Window;

/// How soon the do-not-call list is asked again after it could not be read.
pub const DNC_RETRY: Duration = Duration::from_secs(2);
/// How often the runner looks for campaigns and due subscribers when nothing else wakes it
/// (campaigns are started by other processes: the CLI, another instance).
pub const LOOK_EVERY: Duration = Duration::from_secs(1);
/// How soon the runner looks again when lines it could use are held by leases it does not
/// drive (another campaign on the trunk, another instance, or its own calls whose channels
/// are still clearing on the switch's card): a line frees within a call's teardown, and
/// waiting the routine [`LOOK_EVERY`] for it would leave it idle.
pub const HELD_RECHECK: Duration = Duration::from_millis(200);
/// How often subscribers whose calls nobody follows (a flow that gave up, a lost originate
/// reply) are looked for when nothing else triggers it.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Why a campaign's stored rules cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleProblem {
    #[error(
        "calling window window_days={days:?} window_start={start:?} window_end={end:?}: {reason}"
    )]
    Window {
        days: String,
        start: String,
        end: String,
        reason: String,
    },
    #[error("time_zone {0:?} is not an IANA time zone")]
    Zone(String),
}

/// A campaign's calling window and, when set, the zone that overrides the subscribers' own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRules {
    window: Window,
    zone: Option<Tz>,
}

impl CampaignRules {
    pub fn parse(
        days: &str,
        start: &str,
        end: &str,
        zone: Option<&str>,
    ) -> Result<Self, RuleProblem> {
        let window = Window::parse(days, start, end).map_err(|reason| RuleProblem::Window {
            days: days.into(),
            start: start.into(),
            end: end.into(),
            reason,
        })?;
        let zone = zone
            .map(|z| z.parse::<Tz>().map_err(|_| RuleProblem::Zone(z.into())))
            .transpose()?;
        Ok(Self { window, zone })
    }
}

/// What to do with one claimed subscriber before asking the do-not-call list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowVerdict {
    /// Inside the window: dial (if the do-not-call list allows).
    Open,
    /// Outside it: back to the queue until it opens.
    ClosedUntil(DateTime<Utc>),
    /// The subscriber's stored zone is not a zone: not dialed, ever (done as `invalid`).
    BadZone(String),
}

/// What to do with one subscriber the window let through, by the do-not-call lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DncVerdict {
    Dial,
    /// On the list: done, as `dnc`, without a call.
    Skip,
    /// The list could not be read: back to the queue until then, not dialed.
    RetryAt(DateTime<Utc>),
}

/// Why a claimed subscriber was not dialed after all (not an attempt: nothing reached them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotDialed {
    /// No switch link serves the campaign's trunk (a config change): not soon.
    NoSwitch,
    /// The attempt row could not be written before the originate (PostgreSQL away).
    AttemptNotWritten,
    /// No line here or on the switch, or the link went away before the originate left.
    NotSent,
}

/// Something the runner should say (once per change, not once per subscriber).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    DncUnreadable { error: String },
    DncReadable { after: Duration },
    RulesBroken { campaign: i64, problem: RuleProblem },
    RulesMended { campaign: i64 },
}

/// The campaign pacer of one runner (all its campaigns).
#[derive(Debug)]
pub struct Pacer {
    default_zone: Tz,
    /// Since when the do-not-call list has been unreadable.
    dnc_down_since: Option<DateTime<Utc>>,
    /// While it is: nobody is dialed before this.
    dnc_retry_at: Option<DateTime<Utc>>,
    /// Campaigns not dialed because their rules cannot be parsed, with why.
    broken: BTreeMap<i64, RuleProblem>,
    notices: VecDeque<Notice>,
    /// The next routine look (new campaigns, subscribers made due by other processes).
    next_look: DateTime<Utc>,
    /// Moments something is due: a retry, a window opening, a put-back subscriber.
    due: BTreeSet<DateTime<Utc>>,
    /// The next look for stranded subscribers.
    next_sweep: DateTime<Utc>,
}

impl Pacer {
    /// `default_zone`: the subscribers' zone when neither the campaign nor the list row
    /// names one (`dialing.default_time_zone`, checked at config load).
    pub fn new(default_zone: Tz, now: DateTime<Utc>) -> Self {
        Self {
            default_zone,
            dnc_down_since: None,
            dnc_retry_at: None,
            broken: BTreeMap::new(),
            notices: VecDeque::new(),
            next_look: now,
            due: BTreeSet::new(),
            next_sweep: now + delta(SWEEP_EVERY),
        }
    }

    /// When the runner must look again (claim due subscribers, retry a failed lookup).
    pub fn poll_timeout(&self) -> DateTime<Utc> {
        let look = self.next_look.min(self.next_sweep);
        self.due.first().map_or(look, |at| look.min(*at))
    }

    /// True when it is time to look for stranded subscribers (then again in [`SWEEP_EVERY`]).
    pub fn sweep_due(&mut self, now: DateTime<Utc>) -> bool {
        if now < self.next_sweep {
            return false;
        }
        self.next_sweep = now + delta(SWEEP_EVERY);
        true
    }

    /// The runner looked at `now`: what was due by then is done with; the next routine look
    /// is [`LOOK_EVERY`] from now.
    pub fn handle_timeout(&mut self, now: DateTime<Utc>) {
        self.due.retain(|at| *at > now);
        self.next_look = now + delta(LOOK_EVERY);
    }

    /// Something is due at `at`: be woken then.
    pub fn wake_at(&mut self, at: DateTime<Utc>) {
        self.due.insert(at);
    }

    /// The next thing to say, if any.
    pub fn poll_output(&mut self) -> Option<Notice> {
        self.notices.pop_front()
    }

    /// Campaigns currently not dialed because of their stored rules, with why (for status).
    pub fn broken(&self) -> impl Iterator<Item = (i64, &RuleProblem)> {
        self.broken.iter().map(|(id, p)| (*id, p))
    }

    /// The rules of campaign `id` as stored, or `None` (not dialed now; said once).
    pub fn rules(
        &mut self,
        id: i64,
        parsed: Result<CampaignRules, RuleProblem>,
    ) -> Option<CampaignRules> {
        match parsed {
            Ok(r) => {
                if self.broken.remove(&id).is_some() {
                    self.notices.push_back(Notice::RulesMended { campaign: id });
                }
                Some(r)
            }
            Err(problem) => {
                if self.broken.get(&id) != Some(&problem) {
                    self.broken.insert(id, problem.clone());
                    self.notices.push_back(Notice::RulesBroken {
                        campaign: id,
                        problem,
                    });
                }
                None
            }
        }
    }

    /// How many more subscribers campaign may dial now: its own lines less those in use
    /// (by this runner's count or by the shared leases, whichever is higher), within the
    /// trunk's free channels. Nothing while the do-not-call list is unreadable.
    /// When leases this runner does not drive hold lines back, it asks to be woken again in
    /// [`HELD_RECHECK`] rather than at the routine look.
    pub fn free_lines(&mut self, budget: LineBudget, now: DateTime<Utc>) -> usize {
        if self.dnc_retry_at.is_some_and(|at| now < at) {
            return 0;
        }
        let campaign_free = budget
            .lines
            .saturating_sub(budget.mine.max(budget.budget_in_use));
        let trunk_free = budget.trunk_channels.saturating_sub(budget.trunk_in_use);
        let free = campaign_free.min(trunk_free);
        // What this runner alone would allow: its own calls against both limits.
        let own_free = budget
            .lines
            .saturating_sub(budget.mine)
            .min(budget.trunk_channels.saturating_sub(budget.mine));
        if free < own_free {
            self.wake_at(now + delta(HELD_RECHECK));
        }
        free
    }

    /// The calling window for one subscriber, in their zone: the campaign's zone if set, else
    /// the list row's, else the default one.
    pub fn window(
        &mut self,
        rules: &CampaignRules,
        contact_zone: Option<&str>,
        now: DateTime<Utc>,
    ) -> WindowVerdict {
        let tz = match (rules.zone, contact_zone) {
            (Some(tz), _) => tz,
            (None, None) => self.default_zone,
            (None, Some(z)) => match z.parse::<Tz>() {
                Ok(tz) => tz,
                Err(_) => {
                    return WindowVerdict::BadZone(format!(
                        "time zone {z:?} is not an IANA time zone"
                    ))
                }
            },
        };
        if rules.window.is_open(now, tz) {
            WindowVerdict::Open
        } else {
            let at = rules.window.next_open(now, tz);
            self.wake_at(at);
            WindowVerdict::ClosedUntil(at)
        }
    }

    /// The do-not-call lookup for the subscribers about to be dialed: `Ok(blocked)` or the
    /// error. An error holds back everyone (fail closed) until [`DNC_RETRY`] from now.
    pub fn handle_dnc<E: std::fmt::Display>(
        &mut self,
        lookup: Result<bool, E>,
        now: DateTime<Utc>,
    ) -> DncVerdict {
        match lookup {
            Ok(blocked) => {
                self.dnc_retry_at = None;
                if let Some(since) = self.dnc_down_since.take() {
                    self.notices.push_back(Notice::DncReadable {
                        after: (now - since).to_std().unwrap_or_default(),
                    });
                }
                if blocked {
                    DncVerdict::Skip
                } else {
                    DncVerdict::Dial
                }
            }
            Err(e) => {
                if self.dnc_down_since.is_none() {
                    self.dnc_down_since = Some(now);
                    self.notices.push_back(Notice::DncUnreadable {
                        error: e.to_string(),
                    });
                }
                let at = now + delta(DNC_RETRY);
                self.dnc_retry_at = Some(at);
                self.wake_at(at);
                DncVerdict::RetryAt(at)
            }
        }
    }

    /// When a subscriber who was not dialed after all is due again (and the pacer wakes).
    pub fn put_back(&mut self, why: NotDialed, now: DateTime<Utc>) -> DateTime<Utc> {
        let after = match why {
            NotDialed::NoSwitch => TimeDelta::seconds(30),
            NotDialed::AttemptNotWritten => TimeDelta::seconds(5),
            NotDialed::NotSent => TimeDelta::seconds(1),
        };
        let at = now + after;
        self.wake_at(at);
        at
    }

    /// After an attempt: `None` = the subscriber is done, else when to try again.
    pub fn retry_at(
        &mut self,
        outcome: Outcome,
        attempts_made: u32,
        policy: &RetryPolicy,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match decide(outcome, attempts_made, policy) {
            Next::Done(_) => None,
            Next::Retry { after, .. } => {
                let at = now + delta(after);
                self.wake_at(at);
                Some(at)
            }
        }
    }
}

/// The counts [`Pacer::free_lines`] decides from.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineBudget {
    /// The campaign's own line count.
    pub lines: usize,
    /// Calls of this campaign this runner is driving.
    pub mine: usize,
    /// The campaign's leases in Redis (every instance's calls).
    pub budget_in_use: usize,
    pub trunk_channels: usize,
    pub trunk_in_use: usize,
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
#[path = "pacer_tests.rs"]
mod tests;
