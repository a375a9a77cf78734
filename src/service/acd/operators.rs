//! Operators: their phones and skills copied to Redis, their own changes of state, the end
//! of their talks, and the state log in PostgreSQL.

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::{caller, ms_to_time, Acd, AcdError, OperatorCommand, Unstored};
use crate::core::acd::agent::{next, Command, StateName};
use crate::core::acd::names::check_endpoint;

impl Acd {
    /// The operator whose phone is `phone` (`1001` calling from `user/1001`, `op201` from
    /// `loopback/op201/test_operators`).
    pub async fn operator_by_phone(&self, phone: &str) -> Option<String> {
        if phone.is_empty() {
            return None;
        }
        let ops = self.inner.operators.list().await.ok()?;
        ops.into_iter()
            .find(|o| crate::core::dialstring::phone_of(&o.endpoint) == Some(phone))
            .map(|o| o.login)
    }

    /// Loads every operator's phone and skills into Redis.
    pub async fn sync_all(&self) -> Result<(), AcdError> {
        for op in self.inner.operators.list().await? {
            self.sync_operator(&op.login).await?;
        }
        Ok(())
    }

    /// Copies one operator's phone and skills from PostgreSQL to Redis after a change.
    pub async fn sync_operator(&self, login: &str) -> Result<(), AcdError> {
        let copy = self.inner.store.endpoint(login).await.ok().flatten();
        self.load_operator(login, copy.as_deref()).await?;
        // New skills may qualify them for a caller who waits.
        self.kick();
        Ok(())
    }

    /// The operator's row and skills (one PostgreSQL round trip), copied to Redis (the
    /// phone and the skills written together); `copy` is the phone routing's copy has now.
    /// True if the copy changed.
    async fn load_operator(&self, login: &str, copy: Option<&str>) -> Result<bool, AcdError> {
        let (op, skills) = self
            .inner
            .operators
            .get_with_skills(login)
            .await?
            .ok_or_else(|| AcdError::NotFound(format!("operator {login}")))?;
        if let Err(problem) = check_endpoint(&op.endpoint) {
            return Err(AcdError::Invalid(format!(
                "operator {login}: endpoint {:?}: {problem}",
                op.endpoint
            )));
        }
        self.inner
            .ids
            .lock()
            .expect("ids")
            .insert(op.login.clone(), op.id);
        let skills = crate::store::acd::skill_levels(&skills);
        // A copy that is already right is not written again: a login's re-read then costs
        // routing nothing more (no write, no wallboard refresh, no extra dispatch).
        let new_phone = copy != Some(op.endpoint.as_str());
        // sent together: one round trip, not two
        let (endpoint, skills) = futures_util::future::join(
            async {
                match new_phone {
                    true => self.inner.store.set_endpoint(login, &op.endpoint).await,
                    false => Ok(()),
                }
            },
            self.inner.store.set_skills(login, &skills),
        )
        .await;
        endpoint?;
        Ok(new_phone | skills?)
    }

    pub(crate) async fn operator_id(&self, login: &str) -> Option<i64> {
        if let Some(id) = self.inner.ids.lock().expect("ids").get(login) {
            return Some(*id);
        }
        let op = self.inner.operators.get(login).await.ok().flatten()?;
        self.inner
            .ids
            .lock()
            .expect("ids")
            .insert(login.to_string(), op.id);
        Some(op.id)
    }

    /// Logs an operator's state change in PostgreSQL (best effort: routing goes on if the
    /// database is away; the gap shows in the log as a longer previous period).
    pub(crate) async fn log_state(
        &self,
        login: &str,
        state: StateName,
        reason: &str,
        at: DateTime<Utc>,
    ) {
        let state = state.key();
        let Some(id) = self.operator_id(login).await else {
            warn!(
                operator = login,
                "acd: state {state} for an unknown operator"
            );
            return;
        };
        if let Err(e) = self
            .inner
            .operators
            .record_state(id, state, reason, at)
            .await
        {
            warn!(operator = login, "acd: cannot log state {state}: {e}");
        }
    }

    /// The operator's talk on `call` is over: after-call work, logged. False if they were
    /// not talking with it (already finished, or never answered).
    pub(crate) async fn end_talk(&self, call: &str, agent: &str, now: i64) -> bool {
        let store = &self.inner.store;
        // Kept trying while Redis is away: the operator would stay "talking" for ever. A
        // try that timed out (Redis frozen) may have been applied when Redis woke up: then
        // the operator is found in this call's after-call work.
        let first = store.finish(call, agent, now).await;
        let done = match first {
            Ok(done) => done,
            Err(_) => {
                let again = caller::persist!("end of talk", call, store.finish(call, agent, now));
                match again {
                    Some(true) => true,
                    Some(false) => store
                        .agent_info(agent)
                        .await
                        .ok()
                        .flatten()
                        .is_some_and(|i| {
                            i.state == StateName::WrapUp
                                && i.call.as_deref() == Some(call)
                                && i.at_ms == now
                        }),
                    None => false,
                }
            }
        };
        if !done {
            return false;
        }
        // The scanner wakes when this after-call work is over.
        self.inner.wrap_started.notify_one();
        self.log_state(agent, StateName::WrapUp, "", ms_to_time(now))
            .await;
        true
    }

    /// `agent` answered `call`, but it will never be bridged to them (its caller left, or a
    /// campaign's person is given the abandon message): their leg `leg` is hung up, since
    /// nothing else would end it, and they are ready again at once — no talk, so no
    /// after-call work and nothing to dispose. False if they were no longer on that call.
    pub(crate) async fn release_unbridged(&self, call: &str, agent: &str, leg: &str) -> bool {
        let link = &self.inner.link;
        let _ = link
            .hangup(leg, freeswitch_types::HangupCause::NormalClearing)
            .await;
        // Gone from the switch before the operator is free: the next offer must not ring
        // a phone still holding this leg (the switch answers the kill before the hang-up).
        let until = self.clock().instant() + std::time::Duration::from_secs(2);
        while matches!(link.exists(leg).await, Ok(true)) && self.clock().instant() < until {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let now = self.now_ms();
        let store = &self.inner.store;
        let freed = caller::persist!(
            "operator ready again",
            call,
            store.not_bridged(call, agent, now)
        );
        store
            .settle_offer(call)
            .await
            .or_log(call, "the offer settled");
        if freed != Some(true) {
            return false;
        }
        self.log_state(agent, StateName::Ready, "", ms_to_time(now))
            .await;
        self.kick();
        info!(%call, operator = agent, %leg, "acd: answered leg never bridged: hung up, operator ready");
        true
    }

    /// An operator's own change of state (feature code or API), as the core's table allows
    /// it from their live state. Returns the new state's key. Asking for ready while ready
    /// changes nothing and is not an error (a second press of the feature code).
    pub async fn command(&self, login: &str, cmd: OperatorCommand) -> Result<StateName, AcdError> {
        let (command, reason) = cmd.command();
        let store = &self.inner.store;
        // The reads a ready operator waits for, together rather than one after another (a
        // caller waits on this path): for a login, the phone routing's copy of the operator
        // has (for any other command, whether the operator exists), the live state, and
        // whether a campaign call's disposition is owed (asked only when ready may follow).
        let may_be_ready = matches!(cmd, OperatorCommand::Login | OperatorCommand::Ready);
        let (copy, current, owed) = futures_util::future::join3(
            async {
                match cmd {
                    OperatorCommand::Login => Ok(store.endpoint(login).await.ok().flatten()),
                    _ => match self.inner.operators.get(login).await? {
                        Some(_) => Ok(None),
                        None => Err(AcdError::NotFound(format!("operator {login}"))),
                    },
                }
            },
            store.agent_info(login),
            async {
                match may_be_ready {
                    true => self.disposition_due(login).await,
                    false => Ok(None),
                }
            },
        )
        .await;
        let copy = copy?;
        // A login re-reads the operator's row (phone, skills) from PostgreSQL into routing's
        // copy. If there is a copy already (loaded at start-up, kept by the API and the
        // command line), the login does not wait for PostgreSQL: the copy is used and the
        // row is read beside it, written over the copy as it comes (a kick then routes by
        // what changed). Without a copy, the login waits for the row. That keeps PostgreSQL
        // off the path a waiting caller is on (`routing_ready_to_command_p99_ms`).
        let (mut reload, mut copied_now) = (None, false);
        if cmd == OperatorCommand::Login {
            if copy.as_deref().is_some_and(|e| check_endpoint(e).is_ok()) {
                let (acd, login) = (self.clone(), login.to_string());
                reload = Some(tokio::spawn(async move {
                    acd.load_operator(&login, copy.as_deref()).await
                }));
            } else {
                copied_now = self.load_operator(login, copy.as_deref()).await?;
            }
        }
        let current = current?;
        let from = current.as_ref().map_or(StateName::LoggedOut, |c| c.state);
        if from == StateName::Ready
            && matches!(cmd, OperatorCommand::Login | OperatorCommand::Ready)
        {
            // skills copied again may qualify them for a caller who waits
            if let Some(r) = reload.take() {
                copied_now = reloaded(r).await?;
            }
            if copied_now {
                self.kick();
            }
            return Ok(StateName::Ready);
        }
        let refused = |from: StateName| {
            let why = next(from, command.input())
                .err()
                .map_or_else(|| "it changed meanwhile".to_string(), |e| e.to_string());
            if from.on_call() {
                AcdError::Conflict(format!(
                    "operator {login} is {from} a call: change the state after it"
                ))
            } else {
                AcdError::Conflict(format!("operator {login}: {why}"))
            }
        };
        let to = match next(from, command.input()) {
            Ok(to) => to,
            Err(_) => {
                if let Some(r) = reload.take() {
                    // the row is still copied (it was asked for), and its errors come first
                    reloaded(r).await?;
                }
                return Err(refused(from));
            }
        };
        if to == StateName::Ready {
            if let Some(call) = owed? {
                return Err(AcdError::Conflict(format!(
                    "operator {login} must set the disposition of campaign call {call} \
                     (POST /api/v1/operators/{login}/disposition) before going ready"
                )));
            }
        }
        let now = self.now_ms();
        if !store.agent_command(login, command, now).await? {
            return Err(refused(from));
        }
        // Routing goes first: the records below are PostgreSQL writes (kept in order by
        // their time, whenever they land) and a caller must not wait for them.
        if to == StateName::Ready {
            self.kick();
        }
        if let Some(r) = reload {
            match reloaded(r).await {
                // what the row changed in the copy may route a caller now
                Ok(true) => self.kick(),
                Ok(false) => {}
                // PostgreSQL away: routing goes on by the copy, corrected at the next login
                Err(AcdError::Store(e)) => {
                    warn!(operator = login, "acd: logged in by routing's copy of the operator; their row not re-read: {e}");
                }
                // The copy outlived the row (removed, or its phone made invalid, in the
                // database since): the login is undone and the error said.
                Err(e) => {
                    store
                        .agent_command(login, Command::LogOut, self.now_ms())
                        .await
                        .or_log(login, "undoing the login of an operator whose row is gone");
                    return Err(e);
                }
            }
        }
        if let (StateName::Ready, Some(c)) = (to, &current) {
            // Back before the after-call work's time was up.
            self.record_wrap_up(c, now).await;
        }
        self.log_state(login, to, reason, ms_to_time(now)).await;
        info!(operator = login, state = to.key(), reason, "operator state");
        Ok(to)
    }
}

/// The result of a login's re-read of the operator's row (`load_operator`, spawned).
/// True if it changed the copy.
async fn reloaded(task: tokio::task::JoinHandle<Result<bool, AcdError>>) -> Result<bool, AcdError> {
    task.await
        .map_err(|e| AcdError::Store(format!("re-reading the operator: {e}")))?
}
