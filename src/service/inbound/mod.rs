//! Runs the flow of each call that reaches the outbound socket and records it: the row
//! when the call arrives, the step reached, and who ended it. The flow is chosen by the
//! variables the dialplan set: `contactd_entry` (`service`, `operator`, `trunk`) and
//! `contactd_code`: `trunk` with `main` or `readings` runs the meter-reading flow.

use std::pin::Pin;
use std::sync::Arc;

use tracing::{error, info, warn};
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::Config;
use crate::core::call::CallState;
use crate::core::flow::{Flow, GreetingFlow, Outcome, Step, Utterance};
use crate::core::flows::meter::{MenuChoice, MeterEntry, MeterFlow, MeterFlowOptions};
use crate::core::flows::service::{ServiceFlow, ServiceFlowOptions};
use crate::core::speech;
use crate::core::values::MediaFile;
use crate::esl::commands::ChannelVar;
use crate::esl::outbound::{CallEnded, CallHandler, CallSession, ChannelData};
use crate::store::campaigns::Campaigns;
use crate::store::postgres::{Calls, NewCall};

mod handover;
mod queries;

pub struct InboundCalls {
    pub calls: Calls,
    pub acd: crate::service::acd::Acd,
    pub campaigns: Campaigns,
    pub config: Arc<Config>,
    pub node: String,
    pub clock: Clock,
}

impl InboundCalls {
    fn prompt(&self, name: &str) -> String {
        self.config.prompts.path(name)
    }

    fn lang(&self) -> speech::Lang {
        self.config.prompts.speech_lang()
    }

    /// What `said` sounds like as one source: a lone prompt's own file, else one
    /// `file_string://` list of every file, heard without gaps.
    fn sounds(&self, said: &[Utterance]) -> Result<String, CallEnded> {
        if let [Utterance::Prompt(p)] = said {
            return Ok(self.prompt(p));
        }
        let mut words: Vec<String> = Vec::new();
        for u in said {
            match u {
                Utterance::Prompt(p) => words.push((*p).to_string()),
                Utterance::Digits(d) => {
                    // Digits may come from the caller or the database: nothing else rides along.
                    let w = speech::digits(self.lang(), d).ok_or_else(|| {
                        CallEnded::Refused(format!("say digits {d:?}: digits only"))
                    })?;
                    words.extend(w);
                }
                Utterance::Number(n) => words.extend(speech::number(
                    self.lang(),
                    n.unsigned_abs(),
                    speech::Gender::Masc,
                )),
                Utterance::Money(amount) => {
                    // The sign was said by the prompt before ("your debt is").
                    let cur = &self.config.ivr.currency;
                    let w = speech::money(self.lang(), amount.unsigned_abs(), cur)
                        .ok_or_else(|| CallEnded::Refused(format!("currency {cur:?}")))?;
                    words.extend(w);
                }
            }
        }
        Ok(self.config.prompts.spoken(&words))
    }

    /// The manager whose phone this is, if on the allow-list.
    fn manager_of(&self, caller: &str) -> Option<(&String, &crate::config::ManagerConfig)> {
        self.config.managers.iter().find(|(_, m)| m.phone == caller)
    }

    fn flow_for(&self, data: &ChannelData) -> Box<dyn Flow> {
        let entry = data.vars.get("contactd_entry").map(String::as_str);
        let code = data
            .vars
            .get("contactd_code")
            .map(String::as_str)
            .unwrap_or("");
        match (entry, self.config.service_codes.get(code)) {
            (Some("service"), Some(action)) => {
                let record_base = format!(
                    "{}/{}",
                    self.config.campaigns.audio_dir.display(),
                    data.uuid
                );
                Box::new(ServiceFlow::new(ServiceFlowOptions {
                    action: *action,
                    pin: self
                        .manager_of(&data.caller)
                        .map(|(_, m)| m.pin.expose().to_string()),
                    record_base,
                    max_message_secs: self.config.campaigns.max_message_seconds,
                    silence_secs: self.config.campaigns.silence_seconds,
                }))
            }
            _ if entry == Some("trunk") && matches!(code, "main" | "readings") => {
                Box::new(self.meter_flow(code))
            }
            _ => Box::new(GreetingFlow::default()),
        }
    }

    /// The meter-reading flow, with the clock read here (the flow never reads it).
    fn meter_flow(&self, code: &str) -> MeterFlow {
        let ivr = &self.config.ivr;
        let local = crate::store::accounts::local_time(&self.config, self.clock.now());
        let menu = ivr
            .menu
            .iter()
            .map(|(k, a)| {
                let c = match a {
                    crate::config::IvrMenuAction::Readings => MenuChoice::Readings,
                    crate::config::IvrMenuAction::Balance => MenuChoice::Balance,
                    crate::config::IvrMenuAction::Operator => MenuChoice::Operator,
                };
                (k.clone(), c)
            })
            .collect();
        MeterFlow::new(MeterFlowOptions {
            entry: if code == "readings" {
                MeterEntry::Readings
            } else {
                MeterEntry::Menu
            },
            menu,
            open: ivr.office_hours().is_open(local),
            today: local.date(),
            accounts: crate::core::meter::AccountRules {
                min_len: ivr.account_min_length,
                max_len: ivr.account_max_length,
                check_digit: ivr.account_check_digit,
            },
            readings: crate::store::accounts::reading_rules(&self.config),
            operator: ivr.operator.clone(),
        })
    }

    /// Carries out one step; `Ok(None)` when the flow is over.
    async fn run_step(
        &self,
        session: &mut CallSession,
        step: Step,
    ) -> Result<Option<Outcome>, CallEnded> {
        let (app, arg) = match step {
            Step::Answer => ("answer", String::new()),
            Step::Play(_) | Step::SayDigits(_) | Step::SayNumber(_) | Step::SayMoney(_) => {
                let said = Utterance::of(&step).into_iter().collect::<Vec<_>>();
                ("playback", self.sounds(&said)?)
            }
            Step::Say(said) => ("playback", self.sounds(&said)?),
            Step::PlayFile(f) => match MediaFile::parse(&f) {
                Ok(f) => ("playback", f.as_str().to_string()),
                Err(e) => return Err(CallEnded::Refused(e.to_string())),
            },
            Step::Beep => ("playback", "tone_stream://%(500,0,800)".to_string()),
            Step::Record {
                path,
                max_secs,
                silence_secs,
            } => {
                // a file to write: a path, never a stream
                let path =
                    MediaFile::parse_path(&path).map_err(|e| CallEnded::Refused(e.to_string()))?;
                // `record` stops on a playback terminator: make it `#` as the prompt says.
                session.execute("set", "playback_terminators=#").await?;
                (
                    "record",
                    format!("{} {max_secs} 200 {silence_secs}", path.as_str()),
                )
            }
            Step::Collect(mut c) => {
                c.preface.push(Utterance::Prompt(c.prompt));
                (
                    "play_and_get_digits",
                    format!(
                        "{} {} {} {} {} {} {} {} \\d+",
                        c.min,
                        c.max,
                        c.tries,
                        c.timeout_ms,
                        c.terminators,
                        self.sounds(&c.preface)?,
                        self.prompt(c.invalid_prompt),
                        c.var
                    ),
                )
            }
            Step::SetVar { name, value } => {
                // Account numbers and step names reach `sendmsg` only through this check.
                ChannelVar::new(name, &value).map_err(|e| CallEnded::Refused(e.to_string()))?;
                ("set", format!("{name}={value}"))
            }
            Step::Bridge(target) => {
                // The target is config, checked at load; check again at the boundary.
                let ok = target
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/_.@+-".contains(&b));
                if !ok || target.is_empty() {
                    return Err(CallEnded::Refused(format!("bridge target {target:?}")));
                }
                ("bridge", target)
            }
            Step::Query(q) => {
                let answer = self.answer_query(&q, &session.data).await;
                return Ok(Some(Outcome {
                    answer: Some(answer),
                    ..Default::default()
                }));
            }
            Step::Hangup(_) | Step::End => return Ok(None),
        };
        let (response, vars) = session.execute(app, &arg).await?;
        Ok(Some(Outcome {
            answer: None,
            response,
            vars,
        }))
    }

    async fn run(&self, mut session: CallSession) {
        let data = session.data.clone();
        let Ok(uuid) = Uuid::parse_str(&data.uuid) else {
            warn!(uuid = ?data.uuid, "outbound call with a malformed Unique-ID");
            return;
        };
        let arrival = Arrival::of(&data, &self.config, &self.node);
        if let Err(e) = self.calls.record_arrival(&arrival.row(uuid)).await {
            warn!(%uuid, error = ?e.to_string(), "cannot record inbound call");
        }
        let (entry, caller) = (arrival.entry, arrival.caller);
        info!(%uuid, caller = ?data.caller, ?entry, "inbound call");
        if data.vars.get("contactd_entry").map(String::as_str) == Some("operator") {
            let step = self.operator_code(&mut session).await;
            if let Err(e) = self.calls.set_outcome(uuid, step, "contactd").await {
                warn!(%uuid, step, error = ?e.to_string(), "operator call's outcome not recorded");
            }
            session.finish("NORMAL_CLEARING").await;
            return;
        }
        // A number that goes straight to a queue (`contactd_code=queue_<name>`).
        if let Some(q) = data
            .vars
            .get("contactd_code")
            .and_then(|c| c.strip_prefix("queue_"))
            .filter(|q| self.config.acd.queue.contains_key(*q))
        {
            let q = q.to_string();
            // Who ends the call is the ACD's to record (caller, operator, or contactd).
            if let Err(e) = self.calls.set_flow_step(uuid, "operator").await {
                warn!(%uuid, error = ?e.to_string(), "call's step (operator) not recorded");
            }
            let learned = contactd_vars(&data);
            self.hand_over(session, &q, caller.as_deref(), learned)
                .await;
            return;
        }
        let mut flow = self.flow_for(&data);
        let mut last: Option<Outcome> = None;
        // What the flow set on the channel, for the operator's screen.
        let mut learned = contactd_vars(&data);
        let ended = loop {
            let step = flow.next(last.as_ref());
            if let Step::SetVar { name, value } = &step {
                learned.insert(name.to_string(), value.clone());
            }
            if let Step::Bridge(target) = &step {
                if let Some(queue) = target.strip_prefix("queue:") {
                    let queue = queue.to_string();
                    let step = flow.step_name();
                    // Who ends the call is the ACD's to record (caller, operator, contactd).
                    if let Err(e) = self.calls.set_flow_step(uuid, step).await {
                        warn!(%uuid, step, error = ?e.to_string(), "call's step not recorded");
                    }
                    self.hand_over(session, &queue, caller.as_deref(), learned)
                        .await;
                    return;
                }
            }
            match self.run_step(&mut session, step).await {
                Ok(Some(o)) => last = Some(o),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        let step = flow.step_name();
        if step == "pin_locked" {
            warn!(%uuid, caller = ?data.caller, ?entry, "three wrong PINs: call ended");
        }
        let hungup_by = match &ended {
            None => "contactd",
            Some(CallEnded::CallerHungUp) => "party",
            Some(CallEnded::SwitchHungUp { .. }) => "switch",
            Some(_) => "unknown",
        };
        match &ended {
            // switch_ivr_record_file hangs up when it cannot open the file: the sysadmin's
            // to fix, so said as such
            Some(CallEnded::SwitchHungUp { app, arg, cause }) if app == "record" => {
                let file = arg.split_whitespace().next().unwrap_or_default();
                error!(
                    %uuid, step, %cause,
                    "the switch could not record to {file} and hung up the caller: the \
                     directory must exist on the switch, writable by FreeSWITCH \
                     (campaigns.audio_dir)"
                );
            }
            Some(e) => info!(%uuid, step, error = ?e.to_string(), "flow stopped"),
            None => {}
        }
        if let Err(e) = self.calls.set_outcome(uuid, step, hungup_by).await {
            warn!(%uuid, error = ?e.to_string(), "cannot record flow outcome");
        }
        session.finish("NORMAL_CLEARING").await;
    }
}

/// The `contactd_*` variables the dialplan set: what the operator's screen shows of the IVR.
fn contactd_vars(data: &ChannelData) -> std::collections::BTreeMap<String, String> {
    data.vars
        .iter()
        .filter(|(k, _)| k.starts_with("contactd_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The call row of a call that reached the outbound socket, from what the switch told.
pub struct Arrival {
    /// `contactd_entry:contactd_code`, as the dialplan set them.
    pub entry: String,
    /// The caller's number, when it is one.
    pub caller: Option<String>,
    pub node: String,
    pub trunk: Option<String>,
}

impl Arrival {
    pub fn of(data: &ChannelData, config: &Config, default_node: &str) -> Arrival {
        let var = |k: &str| data.vars.get(k).map(String::as_str);
        Arrival {
            entry: format!(
                "{}:{}",
                var("contactd_entry").unwrap_or("unknown"),
                var("contactd_code").unwrap_or("")
            ),
            caller: crate::core::values::PhoneNumber::parse(&data.caller)
                .map(|n| n.as_str().to_string())
                .ok(),
            // With several switches the dialplan names its node (`contactd_node`); a name
            // that is not configured is not trusted.
            node: var("contactd_node")
                .filter(|n| config.switch.contains_key(*n))
                .unwrap_or(default_node)
                .to_string(),
            trunk: var("contactd_trunk").map(str::to_string),
        }
    }

    pub fn row(&self, uuid: Uuid) -> NewCall<'_> {
        NewCall {
            uuid,
            node: &self.node,
            direction: "inbound",
            purpose: "ivr",
            trunk: self.trunk.as_deref(),
            number: self.caller.as_deref(),
            entry: Some(&self.entry),
            state: CallState::Answered.as_str(),
        }
    }
}

impl CallHandler for InboundCalls {
    fn handle(
        &self,
        session: CallSession,
    ) -> Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(self.run(session))
    }
}
