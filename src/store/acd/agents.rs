//! Operators: their states, skills and phones.

use redis::Script;

use crate::core::acd::agent::Command;
use crate::store::StoreError;

use super::scripts::{
    script, AGENT_COMMAND, ANSWER, FINISH, NOT_BRIDGED, SET_SKILLS, WRAP_UP_DONE,
};
use super::{AcdStore, AgentInfo, Reservation};

impl AcdStore {
    /// The operator answered this offer. False if the offer is no longer current.
    pub async fn answer(&self, r: &Reservation, now_ms: i64) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = script!(ANSWER)
            .key(self.key("agents"))
            .arg(&r.call)
            .arg(&r.agent)
            .arg(r.offer)
            .arg(now_ms)
            .invoke_async(&mut c)
            .await?;
        self.changed();
        Ok(n == 1)
    }

    /// The call ended: it leaves the ACD and the operator goes to after-call work, out of
    /// routing until it is over ([`AcdStore::wrap_up_done`]) or they go ready themselves
    /// ([`AcdStore::agent_command`]).
    pub async fn finish(&self, call: &str, agent: &str, now_ms: i64) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = script!(FINISH)
            .key(self.key("agents"))
            .key(self.key("offers"))
            .key(self.key("calls"))
            .arg(call)
            .arg(agent)
            .arg(now_ms)
            .invoke_async(&mut c)
            .await?;
        self.changed_call_end();
        Ok(n == 1)
    }

    /// `agent` answered `call`, but it left before it was bridged to them: it leaves the
    /// ACD and they are ready again at once (no talk, no after-call work). False if they
    /// are no longer talking on it.
    pub async fn not_bridged(
        &self,
        call: &str,
        agent: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = script!(NOT_BRIDGED)
            .key(self.key("agents"))
            .key(self.key("offers"))
            .key(self.key("calls"))
            .key(self.key("ready"))
            .arg(call)
            .arg(agent)
            .arg(now_ms)
            .invoke_async(&mut c)
            .await?;
        self.changed_call_end();
        Ok(n == 1)
    }

    /// An operator's own change of state, if [`next`] allows it from their live state
    /// (an operator Redis does not know is logged out): ready puts them in routing, idle
    /// from `now_ms`; anything else takes them out. False (and no change) otherwise, e.g.
    /// while they are ringing or talking.
    ///
    /// [`next`]: crate::core::acd::agent::next
    pub async fn agent_command(
        &self,
        agent: &str,
        command: Command,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = script!(AGENT_COMMAND)
            .key(self.key("agents"))
            .key(self.key("ready"))
            .arg(agent)
            .arg(command.input().key())
            .arg(now_ms)
            .invoke_async(&mut c)
            .await?;
        self.changed();
        Ok(n == 1)
    }

    /// Replaces the operator's skills; true if they changed.
    pub async fn set_skills(&self, agent: &str, skills: &[(&str, u8)]) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let script = Script::new(SET_SKILLS);
        let mut inv = script.key(self.key("skills"));
        inv.arg(agent);
        for (skill, level) in skills {
            inv.arg(*skill).arg(*level);
        }
        let changed = inv.invoke_async::<i64>(&mut c).await? == 1;
        if changed {
            self.changed();
        }
        Ok(changed)
    }

    /// The operator's live state name (`ready`, `offered`, `talking`, `missed`, ...), if
    /// known.
    pub async fn agent_state(&self, agent: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .agent_info(agent)
            .await?
            .map(|i| i.state.live_key().to_string()))
    }

    /// After-call work that began at `began_ms` is over: ready, idle from `now_ms`. Only one
    /// instance gets true for one wrap-up.
    pub async fn wrap_up_done(
        &self,
        agent: &str,
        began_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = script!(WRAP_UP_DONE)
            .key(self.key("agents"))
            .key(self.key("ready"))
            .arg(agent)
            .arg(began_ms)
            .arg(now_ms)
            .invoke_async(&mut c)
            .await?;
        self.changed();
        Ok(n == 1)
    }

    /// The dial string of the operator's phone, for whichever instance offers the call.
    pub async fn set_endpoint(&self, agent: &str, endpoint: &str) -> Result<(), StoreError> {
        self.hset("endpoints", agent, endpoint).await
    }

    pub async fn endpoint(&self, agent: &str) -> Result<Option<String>, StoreError> {
        self.hget("endpoints", agent).await
    }

    /// Every operator's raw state `state|at_ms|idle_ms|offer|call`.
    pub async fn agents(&self) -> Result<Vec<(String, AgentInfo)>, StoreError> {
        Ok(self
            .hgetall("agents")
            .await?
            .into_iter()
            .filter_map(|(a, s)| AgentInfo::parse(&s).map(|i| (a, i)))
            .collect())
    }

    pub async fn agent_info(&self, agent: &str) -> Result<Option<AgentInfo>, StoreError> {
        Ok(self
            .hget("agents", agent)
            .await?
            .and_then(|s| AgentInfo::parse(&s)))
    }

    /// Skills of every operator: `(operator, skill, level)`.
    pub async fn skills(&self) -> Result<Vec<(String, String, u8)>, StoreError> {
        Ok(self
            .hgetall("skills")
            .await?
            .into_iter()
            .filter_map(|(k, v)| {
                let (a, s) = k.split_once('|')?;
                Some((a.to_string(), s.to_string(), v.parse().ok()?))
            })
            .collect())
    }
}

/// An operator's skills as PostgreSQL stores them (group, level) in the form routing's copy
/// takes ([`AcdStore::set_skills`]): levels held to 0–10.
pub fn skill_levels(rows: &[(String, i16)]) -> Vec<(&str, u8)> {
    rows.iter()
        .map(|(g, l)| (g.as_str(), (*l).clamp(0, 10) as u8))
        .collect()
}
