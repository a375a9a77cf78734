//! The service short-code flow a manager reaches from any office phone (3xx): caller-ID
//! allow-list plus PIN (three wrong PINs end the call), then
//! - notice (301) / notice with confirmation (302): "Attention, recording", beep, record until
//!   `#` or silence, listen back / re-record / continue, list number, the list's size read
//!   out, confirm → the campaign starts;
//! - progress (309): "called 120 of 300";
//! - pause/resume (300) of the manager's newest campaign.

use serde::{Deserialize, Serialize};

use crate::core::flow::{Answer, Collect, Flow, Outcome, Query, Step};

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ServiceAction {
    /// Record a message and send it to a list.
    Notice,
    /// The same, asking each subscriber for a confirmation key.
    NoticeConfirm,
    /// Say the progress of the manager's last campaign.
    Progress,
    /// Pause the manager's running campaign, or resume a paused one.
    PauseResume,
}

const MAX_PIN_TRIES: u32 = 3;
const MAX_LIST_TRIES: u32 = 3;

fn collect(prompt: &'static str, min: u32, max: u32, timeout_ms: u32) -> Step {
    Step::Collect(Collect {
        prompt,
        invalid_prompt: "invalid_entry",
        min,
        max,
        tries: if max == 1 { 3 } else { 1 },
        timeout_ms,
        terminators: "#",
        var: "contactd_digits",
        preface: Vec::new(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Answered,
    Pin,
    PinLocked,
    NotAuthorised,
    Attention,
    Beeped,
    Recording,
    RecordMenu,
    ListenBack,
    ListNumber,
    ListLookup,
    ListNotFound,
    ListSize,
    ListConfirm,
    Starting,
    Started,
    Status,
    StatusCalled,
    StatusNumber1,
    StatusOf,
    StatusNumber2,
    Toggle,
    Said,
    Done,
}

pub struct ServiceFlow {
    action: ServiceAction,
    /// The PIN of the manager the caller ID belongs to; None: not on the allow-list.
    pin: Option<String>,
    /// Where this call's recordings go: `<dir>/<call>-<n>.wav`.
    record_base: String,
    max_message_secs: u32,
    silence_secs: u32,
    state: State,
    pin_tries: u32,
    list_tries: u32,
    takes: u32,
    list: Option<i32>,
    campaign: Option<i64>,
    status: Option<crate::core::flow::CampaignStatus>,
    /// Campaign this call started, for the record.
    pub started_campaign: Option<i64>,
    /// The list size to say after "the list has".
    pending_number: Option<i64>,
    hung_up: bool,
}

pub struct ServiceFlowOptions {
    pub action: ServiceAction,
    pub pin: Option<String>,
    pub record_base: String,
    pub max_message_secs: u32,
    pub silence_secs: u32,
}

impl ServiceFlow {
    pub fn new(o: ServiceFlowOptions) -> Self {
        Self {
            action: o.action,
            pin: o.pin,
            record_base: o.record_base,
            max_message_secs: o.max_message_secs,
            silence_secs: o.silence_secs,
            state: State::Start,
            pin_tries: 0,
            list_tries: 0,
            takes: 0,
            list: None,
            campaign: None,
            status: None,
            started_campaign: None,
            pending_number: None,
            hung_up: false,
        }
    }

    fn recording(&self) -> String {
        format!("{}-{}.wav", self.record_base, self.takes)
    }

    fn confirm(&self) -> bool {
        self.action == ServiceAction::NoticeConfirm
    }

    fn go(&mut self, state: State, step: Step) -> Step {
        self.state = state;
        step
    }

    fn after_auth(&mut self) -> Step {
        match self.action {
            ServiceAction::Notice | ServiceAction::NoticeConfirm => {
                self.go(State::Attention, Step::Play("attention_recording"))
            }
            ServiceAction::Progress | ServiceAction::PauseResume => {
                self.go(State::Status, Step::Query(Query::LastCampaign))
            }
        }
    }

    fn record_again(&mut self) -> Step {
        self.go(State::Attention, Step::Play("attention_recording"))
    }

    fn ask_list(&mut self) -> Step {
        self.go(State::ListNumber, collect("enter_list_number", 1, 4, 7000))
    }
}

impl Flow for ServiceFlow {
    fn next(&mut self, last: Option<&Outcome>) -> Step {
        use State::*;
        let digits = |var: &str| last.and_then(|o| o.digits(var)).map(str::to_string);
        let answer = last.and_then(|o| o.answer.clone());
        match self.state {
            Start => self.go(Answered, Step::Answer),
            Answered => match self.pin {
                None => self.go(NotAuthorised, Step::Play("not_authorised")),
                Some(_) => self.go(Pin, collect("enter_pin", 4, 8, 7000)),
            },
            // The state stays, so the step recorded with the call says how it ended.
            NotAuthorised | PinLocked | Said if !self.hung_up => {
                self.hung_up = true;
                Step::Hangup("NORMAL_CLEARING")
            }
            NotAuthorised | PinLocked | Said => self.go(Done, Step::End),
            Started => match answer {
                Some(Answer::CampaignStarted(Some(id))) => {
                    self.started_campaign = Some(id);
                    self.go(Said, Step::Play("campaign_started"))
                }
                _ => self.go(Said, Step::Play("campaign_failed")),
            },
            Pin => {
                if digits("contactd_digits").as_deref() == self.pin.as_deref() {
                    return self.after_auth();
                }
                self.pin_tries += 1;
                if self.pin_tries >= MAX_PIN_TRIES {
                    self.go(PinLocked, Step::Play("pin_locked"))
                } else {
                    self.go(Pin, collect("wrong_pin", 4, 8, 7000))
                }
            }
            Attention => self.go(Beeped, Step::Beep),
            Beeped => {
                self.takes += 1;
                let path = self.recording();
                self.go(
                    Recording,
                    Step::Record {
                        path,
                        max_secs: self.max_message_secs,
                        silence_secs: self.silence_secs,
                    },
                )
            }
            Recording | ListenBack => self.go(RecordMenu, collect("record_menu", 1, 1, 5000)),
            RecordMenu => match digits("contactd_digits").as_deref() {
                Some("1") => {
                    let f = self.recording();
                    self.go(ListenBack, Step::PlayFile(f))
                }
                Some("2") => self.record_again(),
                Some("3") => self.ask_list(),
                _ => self.go(Said, Step::Play("goodbye")),
            },
            ListNumber => match digits("contactd_digits").and_then(|d| d.parse::<i32>().ok()) {
                Some(n) => {
                    self.list = Some(n);
                    self.go(ListLookup, Step::Query(Query::ListSize(n)))
                }
                None => self.go(Said, Step::Play("goodbye")),
            },
            ListLookup => match answer {
                Some(Answer::ListSize(Some(n))) if n > 0 => {
                    self.pending_number = Some(n);
                    self.go(ListSize, Step::Play("list_size_is"))
                }
                _ => {
                    self.list_tries += 1;
                    if self.list_tries >= MAX_LIST_TRIES {
                        self.go(Said, Step::Play("list_not_found"))
                    } else {
                        self.go(ListNotFound, Step::Play("list_not_found"))
                    }
                }
            },
            ListNotFound => self.ask_list(),
            ListSize => {
                let n = self.pending_number.take().unwrap_or(0);
                self.go(ListConfirm, Step::SayNumber(n))
            }
            ListConfirm => self.go(Starting, collect("confirm_start", 1, 1, 5000)),
            Starting => match digits("contactd_digits").as_deref() {
                Some("1") => {
                    let audio = self.recording();
                    let list = self.list.unwrap_or_default();
                    let confirm = self.confirm();
                    self.go(
                        Started,
                        Step::Query(Query::StartCampaign {
                            list,
                            audio,
                            confirm,
                        }),
                    )
                }
                Some("2") => self.ask_list(),
                _ => self.go(Said, Step::Play("goodbye")),
            },
            Status => {
                let st = match answer {
                    Some(Answer::Campaign(Some(st))) => st,
                    _ => return self.go(Said, Step::Play("no_campaign")),
                };
                self.campaign = Some(st.id);
                if self.action == ServiceAction::PauseResume {
                    return self.go(Toggle, Step::Query(Query::TogglePause(st.id)));
                }
                self.status = Some(st);
                self.go(StatusCalled, Step::Play("called"))
            }
            StatusCalled => {
                let n = self.status.as_ref().map_or(0, |s| s.called);
                self.go(StatusNumber1, Step::SayNumber(n))
            }
            StatusNumber1 => self.go(StatusOf, Step::Play("of")),
            StatusOf => {
                let n = self.status.as_ref().map_or(0, |s| s.total);
                self.go(StatusNumber2, Step::SayNumber(n))
            }
            StatusNumber2 => match self.status.as_ref().map(|s| s.state.as_str()) {
                Some("paused") => self.go(Said, Step::Play("campaign_paused")),
                Some("finished") => self.go(Said, Step::Play("campaign_finished")),
                _ => self.go(Said, Step::Play("goodbye")),
            },
            Toggle => match answer {
                Some(Answer::Toggled(Some(s))) if s == "paused" => {
                    self.go(Said, Step::Play("campaign_paused"))
                }
                Some(Answer::Toggled(Some(_))) => self.go(Said, Step::Play("campaign_resumed")),
                _ => self.go(Said, Step::Play("no_campaign")),
            },
            Done => Step::End,
        }
    }

    fn step_name(&self) -> &'static str {
        use State::*;
        match self.state {
            Start => "start",
            Answered => "answer",
            Pin => "pin",
            PinLocked => "pin_locked",
            NotAuthorised => "not_authorised",
            Attention | Beeped => "attention",
            Recording => "recording",
            RecordMenu => "record_menu",
            ListenBack => "listen_back",
            ListNumber | ListLookup | ListNotFound => "list_number",
            ListSize | ListConfirm => "list_size",
            Starting => "confirm_start",
            Started => "campaign_started",
            Status | StatusCalled | StatusNumber1 | StatusOf | StatusNumber2 => "progress",
            Toggle => "pause_resume",
            Said | Done => "goodbye",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::flow::CampaignStatus;

    fn flow(action: ServiceAction) -> ServiceFlow {
        ServiceFlow::new(ServiceFlowOptions {
            action,
            pin: Some("4321".into()),
            record_base: "/rec/call1".into(),
            max_message_secs: 120,
            silence_secs: 5,
        })
    }

    fn keyed(d: &str) -> Outcome {
        let mut o = Outcome::default();
        o.vars.insert("read_result".into(), "success".into());
        o.vars.insert("contactd_digits".into(), d.into());
        o
    }

    fn answer(a: Answer) -> Outcome {
        Outcome {
            answer: Some(a),
            ..Default::default()
        }
    }

    fn ok() -> Outcome {
        Outcome::default()
    }

    #[test]
    fn record_listen_rerecord_pick_list_and_start() {
        let mut f = flow(ServiceAction::NoticeConfirm);
        assert_eq!(f.next(None), Step::Answer);
        assert!(matches!(f.next(Some(&ok())), Step::Collect(c) if c.prompt == "enter_pin"));
        assert_eq!(
            f.next(Some(&keyed("4321"))),
            Step::Play("attention_recording")
        );
        assert_eq!(f.next(Some(&ok())), Step::Beep);
        assert!(
            matches!(f.next(Some(&ok())), Step::Record { path, .. } if path == "/rec/call1-1.wav")
        );
        assert!(matches!(f.next(Some(&ok())), Step::Collect(c) if c.prompt == "record_menu"));
        // listen back
        assert_eq!(
            f.next(Some(&keyed("1"))),
            Step::PlayFile("/rec/call1-1.wav".into())
        );
        assert!(matches!(f.next(Some(&ok())), Step::Collect(c) if c.prompt == "record_menu"));
        // re-record: a second take
        assert_eq!(f.next(Some(&keyed("2"))), Step::Play("attention_recording"));
        assert_eq!(f.next(Some(&ok())), Step::Beep);
        assert!(
            matches!(f.next(Some(&ok())), Step::Record { path, .. } if path == "/rec/call1-2.wav")
        );
        f.next(Some(&ok()));
        assert!(
            matches!(f.next(Some(&keyed("3"))), Step::Collect(c) if c.prompt == "enter_list_number")
        );
        // unknown list first
        assert_eq!(f.next(Some(&keyed("99"))), Step::Query(Query::ListSize(99)));
        assert_eq!(
            f.next(Some(&answer(Answer::ListSize(None)))),
            Step::Play("list_not_found")
        );
        assert!(matches!(f.next(Some(&ok())), Step::Collect(c) if c.prompt == "enter_list_number"));
        assert_eq!(f.next(Some(&keyed("7"))), Step::Query(Query::ListSize(7)));
        assert_eq!(
            f.next(Some(&answer(Answer::ListSize(Some(300))))),
            Step::Play("list_size_is")
        );
        assert_eq!(f.next(Some(&ok())), Step::SayNumber(300));
        assert!(matches!(f.next(Some(&ok())), Step::Collect(c) if c.prompt == "confirm_start"));
        assert_eq!(
            f.next(Some(&keyed("1"))),
            Step::Query(Query::StartCampaign {
                list: 7,
                audio: "/rec/call1-2.wav".into(),
                confirm: true
            })
        );
        assert_eq!(
            f.next(Some(&answer(Answer::CampaignStarted(Some(12))))),
            Step::Play("campaign_started")
        );
        assert_eq!(f.started_campaign, Some(12));
        assert_eq!(f.next(Some(&ok())), Step::Hangup("NORMAL_CLEARING"));
        assert_eq!(f.step_name(), "goodbye");
        assert_eq!(f.next(Some(&ok())), Step::End);
    }

    #[test]
    fn three_wrong_pins_end_the_call() {
        let mut f = flow(ServiceAction::Notice);
        f.next(None);
        f.next(Some(&ok()));
        assert!(
            matches!(f.next(Some(&keyed("1111"))), Step::Collect(c) if c.prompt == "wrong_pin")
        );
        assert!(
            matches!(f.next(Some(&keyed("2222"))), Step::Collect(c) if c.prompt == "wrong_pin")
        );
        assert_eq!(f.next(Some(&keyed("3333"))), Step::Play("pin_locked"));
        assert_eq!(f.step_name(), "pin_locked");
        assert_eq!(f.next(Some(&ok())), Step::Hangup("NORMAL_CLEARING"));
        assert_eq!(f.step_name(), "pin_locked");
    }

    #[test]
    fn unknown_caller_is_refused_without_a_pin_prompt() {
        let mut f = ServiceFlow::new(ServiceFlowOptions {
            action: ServiceAction::Notice,
            pin: None,
            record_base: "/r".into(),
            max_message_secs: 60,
            silence_secs: 5,
        });
        f.next(None);
        assert_eq!(f.next(Some(&ok())), Step::Play("not_authorised"));
        assert_eq!(f.next(Some(&ok())), Step::Hangup("NORMAL_CLEARING"));
    }

    #[test]
    fn progress_says_called_n_of_m() {
        let mut f = flow(ServiceAction::Progress);
        f.next(None);
        f.next(Some(&ok()));
        assert_eq!(
            f.next(Some(&keyed("4321"))),
            Step::Query(Query::LastCampaign)
        );
        let st = CampaignStatus {
            id: 3,
            state: "running".into(),
            called: 120,
            total: 300,
        };
        assert_eq!(
            f.next(Some(&answer(Answer::Campaign(Some(st))))),
            Step::Play("called")
        );
        assert_eq!(f.next(Some(&ok())), Step::SayNumber(120));
        assert_eq!(f.next(Some(&ok())), Step::Play("of"));
        assert_eq!(f.next(Some(&ok())), Step::SayNumber(300));
        assert_eq!(f.next(Some(&ok())), Step::Play("goodbye"));
    }

    #[test]
    fn pause_resume_toggles_the_last_campaign() {
        let mut f = flow(ServiceAction::PauseResume);
        f.next(None);
        f.next(Some(&ok()));
        f.next(Some(&keyed("4321")));
        let st = CampaignStatus {
            id: 3,
            state: "running".into(),
            called: 1,
            total: 2,
        };
        assert_eq!(
            f.next(Some(&answer(Answer::Campaign(Some(st))))),
            Step::Query(Query::TogglePause(3))
        );
        assert_eq!(
            f.next(Some(&answer(Answer::Toggled(Some("paused".into()))))),
            Step::Play("campaign_paused")
        );
    }
}
