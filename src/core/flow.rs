//! Call flows as pure state machines: the adapter asks `next(last outcome)` and carries out
//! the returned [`Step`] on the switch; the flow never does I/O and never reads a clock.
//!
//! A caller who hangs up is not an outcome a flow sees: the adapter stops asking and
//! records the last step reached, so every flow copes with a hang-up at any step.

use std::collections::HashMap;

/// One thing to do on the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Answer,
    /// A prompt by name (`greeting`), resolved to `<dir>/<lang>/<name>.wav` by the adapter.
    Play(&'static str),
    /// Play `prompt` and collect digits (`play_and_get_digits`).
    Collect(Collect),
    /// Say digits back one by one (`say <lang> number iterated`).
    SayDigits(String),
    /// Say a count (`say <lang> number pronounced`).
    SayNumber(i64),
    /// Play a file that is not a prompt (a recorded message).
    PlayFile(String),
    /// A short beep before recording.
    Beep,
    /// Record into `path` until `#`, `silence_secs` of silence, or `max_secs`.
    Record {
        path: String,
        max_secs: u32,
        silence_secs: u32,
    },
    /// Say an amount of money (`say <lang> currency pronounced 123.45`), in minor units.
    SayMoney(i64),
    /// Several sounds as one playback: what [`Joiner`] made of sounds said back to back.
    Say(Vec<Utterance>),
    /// Set a channel variable (`set name=value`), e.g. what the IVR learned before a bridge.
    SetVar {
        name: &'static str,
        value: String,
    },
    /// Hand the call to a validated endpoint (`bridge user/1000`); the flow goes on after
    /// the other leg hangs up or the bridge fails.
    Bridge(String),
    /// Ask contactd (not the switch) something; the answer comes back in `Outcome::answer`.
    Query(Query),
    Hangup(&'static str),
    /// The flow is over and has hung up (or handed the call on).
    End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collect {
    pub prompt: &'static str,
    pub invalid_prompt: &'static str,
    pub min: u32,
    pub max: u32,
    pub tries: u32,
    pub timeout_ms: u32,
    pub terminators: &'static str,
    /// Variable FreeSWITCH stores the digits in.
    pub var: &'static str,
    /// Said before `prompt` in the same `play_and_get_digits` (a key cuts it short too).
    pub preface: Vec<Utterance>,
}

/// One sound of a step: a prompt or words composed from number prompts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Utterance {
    Prompt(&'static str),
    Digits(String),
    Number(i64),
    /// Minor units.
    Money(i64),
}

impl Utterance {
    /// The sound a single-sound step says; None for every other step.
    pub fn of(step: &Step) -> Option<Self> {
        Some(match step {
            Step::Play(p) => Self::Prompt(p),
            Step::SayDigits(d) => Self::Digits(d.clone()),
            Step::SayNumber(n) => Self::Number(*n),
            Step::SayMoney(m) => Self::Money(*m),
            _ => return None,
        })
    }
}

/// Joins the sounds a flow says without waiting for the caller onto the next sound it
/// plays, so that they reach the switch as one command: no gap between them, one command
/// and its four events fewer each, and a key pressed during them cuts them short as it
/// does the prompt (type-ahead). A step without sound (a query of contactd's records, a
/// channel variable) leaves them waiting; any other (bridge, hang-up) is held back until
/// they have been said. A flow routes every step through [`Joiner::join`] and returns
/// [`Joiner::held`] first when asked for its next step.
#[derive(Debug, Default)]
pub struct Joiner {
    unsaid: Vec<Utterance>,
    held: Option<Step>,
}

impl Joiner {
    /// The step to carry out now; None when `step` was a sound kept for the next one (the
    /// flow then goes on at once, as if it had been played).
    pub fn join(&mut self, step: Step) -> Option<Step> {
        if let Some(u) = Utterance::of(&step) {
            self.unsaid.push(u);
            return None;
        }
        if self.unsaid.is_empty() {
            return Some(step);
        }
        Some(match step {
            Step::Collect(mut c) => {
                let mut preface = std::mem::take(&mut self.unsaid);
                preface.append(&mut c.preface);
                c.preface = preface;
                Step::Collect(c)
            }
            Step::Say(mut u) => {
                let mut all = std::mem::take(&mut self.unsaid);
                all.append(&mut u);
                Step::Say(all)
            }
            Step::Query(_) | Step::SetVar { .. } => step,
            other => {
                self.held = Some(other);
                Step::Say(std::mem::take(&mut self.unsaid))
            }
        })
    }

    /// The step held back behind sounds, once they have been said.
    pub fn held(&mut self) -> Option<Step> {
        self.held.take()
    }
}

/// Questions a flow asks of contactd's own records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// How many subscribers list `n` has (None: no such list).
    ListSize(i32),
    /// Start a notice campaign with the recorded message.
    StartCampaign {
        list: i32,
        audio: String,
        confirm: bool,
    },
    /// The manager's newest campaign.
    LastCampaign,
    /// Pause a running campaign or resume a paused one.
    TogglePause(i64),
    /// The account whose phone is the caller's, when exactly one is.
    AccountOfCaller,
    /// An account by the number the caller keyed.
    Account(String),
    /// Store a meter's readings (every zone) in one transaction; checked again there.
    StoreReadings {
        account: String,
        meter: i64,
        /// `(zone, value)`.
        readings: Vec<(u8, i64)>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    ListSize(Option<i64>),
    CampaignStarted(Option<i64>),
    Campaign(Option<CampaignStatus>),
    /// The state after toggling (`running` / `paused`), None if it could not be toggled.
    Toggled(Option<String>),
    /// The caller's one account number, if any.
    CallerAccount(Option<String>),
    Account(Option<crate::core::meter::AccountInfo>),
    /// The account could not be looked up (the accounts store did not answer): not the
    /// same as not found, which would tell the caller their number is wrong.
    AccountLookupFailed,
    /// Whether the readings were stored.
    ReadingsStored(bool),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignStatus {
    pub id: i64,
    pub state: String,
    pub called: i64,
    pub total: i64,
}

/// What the switch reported for the last step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The answer to a [`Step::Query`].
    pub answer: Option<Answer>,
    /// `Application-Response` (`FILE PLAYED`, `PLAYBACK ERROR`, `_none_`...).
    pub response: String,
    /// Channel variables of the EXECUTE_COMPLETE event, without the `variable_` prefix:
    /// those named in [`OUTCOME_VARIABLES`].
    pub vars: HashMap<String, String>,
}

/// The channel variables a flow reads from a step's completion: what `play_and_get_digits`
/// collected (every [`Collect::var`] is `contactd_digits`) and whether a bridge reached
/// anybody. The adapter copies these only, not the hundred-odd others of the channel.
pub const OUTCOME_VARIABLES: &[&str] = &["read_result", "contactd_digits", "originate_disposition"];

impl Outcome {
    /// Digits collected into `var`, only when the read succeeded ([`read_ok`]).
    pub fn digits(&self, var: &str) -> Option<&str> {
        read_ok(self.vars.get("read_result").map(String::as_str))
            .then(|| self.vars.get(var).map(String::as_str))
            .flatten()
    }
}

/// Did `play_and_get_digits` accept what was keyed? `success`, or `timeout`: enough digits
/// but no terminator before the digit timeout (switch_ivr_read reports `timeout`, then
/// play_and_get_digits accepts them and sets the variable only if they match).
pub fn read_ok(read_result: Option<&str>) -> bool {
    matches!(read_result, Some("success" | "timeout"))
}

pub trait Flow: Send {
    /// `last` is `None` on the first call.
    fn next(&mut self, last: Option<&Outcome>) -> Step;
    /// Name of the step reached, recorded with the call.
    fn step_name(&self) -> &'static str;
}

/// The foundation's inbound flow: greet, collect a number, read it back, say goodbye.
/// Real entry points (meter readings, short codes, operators) replace it per `contactd_entry`.
#[derive(Debug, Default)]
pub struct GreetingFlow {
    state: GreetingState,
    pub collected: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum GreetingState {
    #[default]
    Start,
    Answered,
    Greeted,
    Collected,
    SaidBack,
    Done,
}

const COLLECT_NUMBER: Collect = Collect {
    prompt: "enter_number",
    invalid_prompt: "invalid_entry",
    min: 1,
    max: 12,
    tries: 3,
    timeout_ms: 5000,
    terminators: "#",
    var: "contactd_digits",
    preface: Vec::new(),
};

impl Flow for GreetingFlow {
    fn next(&mut self, last: Option<&Outcome>) -> Step {
        use GreetingState::*;
        let (state, step) = match self.state {
            Start => (Answered, Step::Answer),
            Answered => (Greeted, Step::Play("greeting")),
            Greeted => (Collected, Step::Collect(COLLECT_NUMBER)),
            Collected => {
                self.collected = last
                    .and_then(|o| o.digits(COLLECT_NUMBER.var))
                    .map(str::to_string);
                match &self.collected {
                    Some(d) => (SaidBack, Step::SayDigits(d.clone())),
                    None => (Done, Step::Play("goodbye")),
                }
            }
            SaidBack => (Done, Step::Play("goodbye")),
            Done => return Step::End,
        };
        self.state = state;
        step
    }

    fn step_name(&self) -> &'static str {
        match self.state {
            GreetingState::Start => "start",
            GreetingState::Answered => "answer",
            GreetingState::Greeted => "greeting",
            GreetingState::Collected => "collect_number",
            GreetingState::SaidBack => "say_back",
            GreetingState::Done => "goodbye",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collected(digits: Option<&str>) -> Outcome {
        let mut o = Outcome::default();
        match digits {
            Some(d) => {
                o.vars.insert("read_result".into(), "success".into());
                o.vars.insert("contactd_digits".into(), d.into());
            }
            None => {
                o.vars.insert("read_result".into(), "failure".into());
            }
        }
        o
    }

    #[test]
    fn greets_collects_and_reads_back() {
        let mut f = GreetingFlow::default();
        assert_eq!(f.next(None), Step::Answer);
        assert_eq!(f.next(Some(&Outcome::default())), Step::Play("greeting"));
        // the adapter copies only OUTCOME_VARIABLES from a completion
        assert!(matches!(
            f.next(Some(&Outcome::default())),
            Step::Collect(c) if OUTCOME_VARIABLES.contains(&c.var)
        ));
        assert_eq!(f.step_name(), "collect_number");
        assert_eq!(
            f.next(Some(&collected(Some("12345")))),
            Step::SayDigits("12345".into())
        );
        assert_eq!(f.next(Some(&Outcome::default())), Step::Play("goodbye"));
        assert_eq!(f.next(Some(&Outcome::default())), Step::End);
    }

    #[test]
    fn no_digits_after_all_tries_says_goodbye() {
        let mut f = GreetingFlow::default();
        f.next(None);
        f.next(Some(&Outcome::default()));
        f.next(Some(&Outcome::default()));
        assert_eq!(f.next(Some(&collected(None))), Step::Play("goodbye"));
        assert_eq!(f.collected, None);
    }

    #[test]
    fn digits_ignored_unless_read_succeeded() {
        let mut o = collected(Some("99"));
        o.vars.insert("read_result".into(), "failure".into());
        assert_eq!(o.digits("contactd_digits"), None);
    }

    #[test]
    fn joiner_puts_sounds_before_the_next_question_and_holds_a_bridge_behind_them() {
        let mut j = Joiner::default();
        assert_eq!(j.join(Step::Answer), Some(Step::Answer));
        assert_eq!(j.join(Step::Play("greeting")), None);
        assert_eq!(j.join(Step::SayNumber(12)), None);
        // no sound: the sounds wait
        let q = Step::Query(Query::AccountOfCaller);
        assert_eq!(j.join(q.clone()), Some(q));
        match j.join(Step::Collect(COLLECT_NUMBER)) {
            Some(Step::Collect(c)) => assert_eq!(
                c.preface,
                [Utterance::Prompt("greeting"), Utterance::Number(12)]
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(j.held(), None);
        // a bridge waits until what is unsaid has been said
        assert_eq!(j.join(Step::Play("goodbye")), None);
        assert_eq!(
            j.join(Step::Bridge("user/1000".into())),
            Some(Step::Say(vec![Utterance::Prompt("goodbye")]))
        );
        assert_eq!(j.held(), Some(Step::Bridge("user/1000".into())));
        assert_eq!(j.held(), None);
        // nothing unsaid: every step passes as it is
        assert_eq!(
            j.join(Step::Hangup("NORMAL_CLEARING")),
            Some(Step::Hangup("NORMAL_CLEARING"))
        );
    }
}
