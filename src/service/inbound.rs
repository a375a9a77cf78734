//! Runs the flow of each call that reaches the outbound socket and records it: the row
//! when the call arrives, the step reached, and who ended it.

use std::pin::Pin;
use std::sync::Arc;

use tracing::{info, warn};
use uuid::Uuid;

use crate::config::Config;
use crate::core::flow::{Flow, GreetingFlow, Outcome, Step};
use crate::esl::outbound::{CallEnded, CallHandler, CallSession};
use crate::store::postgres::{Calls, NewCall};

pub struct InboundCalls {
    pub calls: Calls,
    pub config: Arc<Config>,
    pub node: String,
}

impl InboundCalls {
    fn prompt(&self, name: &str) -> String {
        format!(
            "{}/{}/{name}.wav",
            self.config.prompts.dir.display(),
            self.config.prompts.language
        )
    }

    /// Carries out one step; `Ok(None)` when the flow is over.
    async fn run_step(
        &self,
        session: &mut CallSession,
        step: Step,
    ) -> Result<Option<Outcome>, CallEnded> {
        let (app, arg) = match step {
            Step::Answer => ("answer", String::new()),
            Step::Play(p) => ("playback", self.prompt(p)),
            Step::Collect(c) => (
                "play_and_get_digits",
                format!(
                    "{} {} {} {} {} {} {} {} \\d+",
                    c.min,
                    c.max,
                    c.tries,
                    c.timeout_ms,
                    c.terminators,
                    self.prompt(c.prompt),
                    self.prompt(c.invalid_prompt),
                    c.var
                ),
            ),
            Step::SayDigits(d) => (
                "say",
                format!("{} number iterated {d}", self.config.prompts.language),
            ),
            Step::Hangup(_) | Step::End => return Ok(None),
        };
        let (response, vars) = session.execute(app, &arg).await?;
        Ok(Some(Outcome { response, vars }))
    }

    async fn run(&self, mut session: CallSession) {
        let data = session.data.clone();
        let Ok(uuid) = Uuid::parse_str(&data.uuid) else {
            warn!("outbound call with a malformed Unique-ID {:?}", data.uuid);
            return;
        };
        let entry = format!(
            "{}:{}",
            data.vars
                .get("contactd_entry")
                .map_or("unknown", String::as_str),
            data.vars.get("contactd_code").map_or("", String::as_str)
        );
        let caller = crate::esl::commands::PhoneNumber::parse(&data.caller)
            .map(|n| n.as_str().to_string())
            .ok();
        if let Err(e) = self
            .calls
            .insert(&NewCall {
                uuid,
                node: &self.node,
                direction: "inbound",
                purpose: "ivr",
                trunk: data.vars.get("contactd_trunk").map(String::as_str),
                number: caller.as_deref(),
                entry: Some(&entry),
                state: "answered",
            })
            .await
        {
            warn!(%uuid, "cannot record inbound call: {e}");
        }
        info!(%uuid, caller = %data.caller, %entry, "inbound call");
        let mut flow = GreetingFlow::default();
        let mut last: Option<Outcome> = None;
        let ended = loop {
            let step = flow.next(last.as_ref());
            match self.run_step(&mut session, step).await {
                Ok(Some(o)) => last = Some(o),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        let step = flow.step_name();
        let hungup_by = match &ended {
            None => "contactd",
            Some(CallEnded::CallerHungUp) => "party",
            Some(_) => "unknown",
        };
        if let Some(e) = &ended {
            info!(%uuid, step, "flow stopped: {e}");
        }
        if let Err(e) = self.calls.set_outcome(uuid, step, hungup_by).await {
            warn!(%uuid, "cannot record flow outcome: {e}");
        }
        session.finish("NORMAL_CLEARING").await;
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
