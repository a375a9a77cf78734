//! Redis: the live ACD state every contactd instance shares — each queue's waiting callers,
//! ready operators, their skills, who is offered which call — and the Lua scripts that change
//! it. Every change that touches more than one key is one script, so two instances routing at
//! once can never offer one operator two calls or one call to two operators.
//!
//! Keys, all under the configured prefix:
//! - `acd:queue:<q>`  sorted set, call → `core::acd::queue::order_score(priority, arrival
//!   seq)`: `ZRANGE 0 0` is the highest priority, earliest arrival.
//! - `acd:calls`      hash, call → `priority|seq|arrived_ms|queue`, for as long as the call is
//!   in the ACD (waiting, ringing or talking); lets a missed call return to its old place.
//! - `acd:ready`      sorted set, operator → idle-since (ms): the longest idle comes first, and
//!   equal scores order by id; who qualifies is `core::acd::routing::Need`.
//! - `acd:skills`     hash, `operator|skill` → level.
//! - `acd:agents`     hash, operator → `state|at_ms|idle_ms|offer|call`; the state is a
//!   `core::acd::agent::StateName`'s live name and every script changes it only as
//!   `core::acd::agent::next` allows (its table is generated into the scripts).
//! - `acd:offers`     hash, call → operator it is offered to or talking with.
//! - `acd:clock`      counter; arrivals, offers and requeues each take the next value, so any
//!   two ACD events (across instances) can be put in order afterwards. If Redis lost it, it
//!   starts again from the milliseconds since 2024 rather than from 0, past every arrival
//!   number handed out before (restored callers keep theirs and so their place).
//! - `acd:offer_by`   hash, call → instance that reserved its current offer (and rings the
//!   phone), so an offer whose instance died can be taken over.
//! - `acd:trusted`    the mark that this live state is complete: set (to a new epoch) once it
//!   was rebuilt from PostgreSQL, the switch and the instances' own callers; a Redis that lost
//!   its data has no mark (see `service::acd::rebuild`).
//! - `acd:kick`       pub/sub channel: an instance that made routing possible (an operator
//!   ready, a caller queued) publishes its name; the others route at once instead of polling.
//! - `acd:alive:<instance>`  set by each running instance every second, expiring after 3:
//!   a caller or offer whose instance has none was left behind by a dead instance.
//!
//! The scripts compute one key (the operator state) from arguments they also declare; this is
//! a single Redis, not a cluster, so every key lives on the one server.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use crate::core::acd::agent::{next, AgentInput, Command, StateName};
use crate::core::acd::queue::PRIORITY_STRIDE;
use crate::core::acd::routing::Need;

use super::postgres::StoreError;

/// The next value of the event clock. A missing clock (Redis lost its data) starts again
/// from the milliseconds since 2024-01-01, past every value handed out before, so callers
/// restored with their old arrival numbers stay ahead of those who arrive afterwards.
/// Below 2⁴⁰ until 2058, which keeps queue scores exact.
const NEXT_SEQ: &str = r"
local function seed_clock(clock, now_ms)
  if redis.call('EXISTS', clock) == 0 then
    local base = math.max(0, tonumber(now_ms) - 1704067200000)
    redis.call('SET', clock, string.format('%.0f', base))
  end
end
local function next_seq(clock, now_ms)
  seed_clock(clock, now_ms)
  return redis.call('INCR', clock)
end
";

const ENQUEUE: &str = r"
-- KEYS queue, calls, clock; ARGV call, priority, max_waiting, now_ms, queue name
local info = redis.call('HGET', KEYS[2], ARGV[1])
if info then
  local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
  if rank then return {1, rank + 1, tonumber(string.match(info, '^%d+|(%d+)|'))} end
  return {2, 0, 0}
end
if not admits(redis.call('ZCARD', KEYS[1]), ARGV[3]) then return {0, 0, 0} end
local seq = next_seq(KEYS[3], ARGV[4])
redis.call('ZADD', KEYS[1], queue_score(ARGV[2], seq), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. seq .. '|' .. ARGV[4] .. '|' .. ARGV[5])
return {1, redis.call('ZRANK', KEYS[1], ARGV[1]) + 1, seq}
";

const RESERVE: &str = r"
-- KEYS queue, ready, skills, agents, offers, clock, offer_by; ARGV skill, level, now_ms,
-- instance
local head = redis.call('ZRANGE', KEYS[1], 0, 0)
if #head == 0 then return false end
local call = head[1]
local min = tonumber(ARGV[2])
local ready = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #ready, 2 do
  local agent = ready[i]
  local level = tonumber(redis.call('HGET', KEYS[3], agent .. '|' .. ARGV[1]) or '0')
  local to = change(agent_state(KEYS[4], agent), @I(offer))
  if to and level >= min then
    local offer = redis.call('INCR', KEYS[6])
    redis.call('ZREM', KEYS[1], call)
    redis.call('ZREM', KEYS[2], agent)
    redis.call('HSET', KEYS[4], agent,
      to .. '|' .. ARGV[3] .. '|' .. ready[i + 1] .. '|' .. offer .. '|' .. call)
    redis.call('HSET', KEYS[5], call, agent)
    if ARGV[4] ~= '' then redis.call('HSET', KEYS[7], call, ARGV[4]) end
    return {call, agent, offer}
  end
end
return false
";

/// Shared by every script that reads or changes an operator's state: the live value's
/// parts, and [`next`]'s table as `NEXT[input][from] = to` (an operator Redis does not know
/// is logged out).
const PARSE_AGENT: &str = r"
local function agent_state(key, agent)
  local s = redis.call('HGET', key, agent)
  if not s then return nil end
  local name, at, idle, offer, call = string.match(s, '^(%a+)|(%d*)|(%d*)|(%d*)|(.*)$')
  return {name = name, at = at, idle = idle, offer = offer, call = call}
end
local function change(st, input)
  local from = st and st.name or @S(logged_out)
  return NEXT[input][from]
end
";

const RELEASE_MISSED: &str = r"
-- KEYS queue, agents, offers, calls, clock; ARGV call, agent, offer, now_ms
local st = agent_state(KEYS[2], ARGV[2])
local to = change(st, @I(ring_timeout))
if not to or st.call ~= ARGV[1] or st.offer ~= ARGV[3] then return 0 end
local prio, seq = string.match(redis.call('HGET', KEYS[4], ARGV[1]), '^(%d+)|(%d+)|')
redis.call('HSET', KEYS[2], ARGV[2], to .. '|' .. ARGV[4] .. '|||')
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[1], queue_score(prio, seq), ARGV[1])
return redis.call('INCR', KEYS[5])
";

const ANSWER: &str = r"
-- KEYS agents; ARGV call, agent, offer, now_ms
local st = agent_state(KEYS[1], ARGV[2])
local to = change(st, @I(answer))
if not to or st.call ~= ARGV[1] or st.offer ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], to .. '|' .. ARGV[4] .. '||' .. st.offer .. '|' .. ARGV[1])
return 1
";

const FINISH: &str = r"
-- KEYS agents, offers, calls; ARGV call, agent, now_ms
local st = agent_state(KEYS[1], ARGV[2])
local to = change(st, @I(hang_up))
if not to or st.call ~= ARGV[1] then return 0 end
-- the call stays named in after-call work, so its length can be recorded against it
redis.call('HSET', KEYS[1], ARGV[2], to .. '|' .. ARGV[3] .. '|||' .. ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
";

const AGENT_COMMAND: &str = r"
-- KEYS agents, ready; ARGV agent, input, now_ms
-- Only what the table allows: a late ready command (from another instance, or a retried event)
-- must not put an operator who is ringing or talking back into routing, which is how one
-- would get two calls.
local to = change(agent_state(KEYS[1], ARGV[1]), ARGV[2])
if not to then return 0 end
if to == @S(ready) then
  redis.call('HSET', KEYS[1], ARGV[1], to .. '|' .. ARGV[3] .. '|' .. ARGV[3] .. '||')
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HSET', KEYS[1], ARGV[1], to .. '|' .. ARGV[3] .. '|||')
end
return 1
";

const ABANDON: &str = r"
-- KEYS queue, calls, offers, agents, ready; ARGV call
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 1
end
local agent = redis.call('HGET', KEYS[3], ARGV[1])
if not agent then return 0 end
local st = agent_state(KEYS[4], agent)
local to = change(st, @I(caller_gone))
if not to or st.call ~= ARGV[1] then return 0 end
-- Not the operator's fault: they keep their place in the longest-idle order.
redis.call('HSET', KEYS[4], agent, to .. '|' .. st.idle .. '|' .. st.idle .. '||')
redis.call('ZADD', KEYS[5], st.idle, agent)
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 2
";

const SET_SKILLS: &str = r"
-- KEYS skills; ARGV agent, skill, level, skill, level, ...
local mine = ARGV[1] .. '|'
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, #mine) == mine then redis.call('HDEL', KEYS[1], f) end
end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], mine .. ARGV[i], ARGV[i + 1]) end
return 1
";

const TRANSFER: &str = r"
-- KEYS agents, offers, calls, to_queue, clock; ARGV call, agent, now_ms, priority, to_queue name
-- The call leaves its operator (after-call work) and waits at the head of another queue, in
-- one step: no instance can see it in neither place.
local st = agent_state(KEYS[1], ARGV[2])
local to = change(st, @I(hang_up))
if not to or st.call ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], to .. '|' .. ARGV[3] .. '|||' .. ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
local seq = next_seq(KEYS[5], ARGV[3])
redis.call('ZADD', KEYS[4], queue_score(ARGV[4], seq), ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4] .. '|' .. seq .. '|' .. ARGV[3] .. '|' .. ARGV[5])
return seq
";

const WRAP_UP_DONE: &str = r"
-- KEYS agents, ready; ARGV agent, wrap-up began at (ms), now_ms
local st = agent_state(KEYS[1], ARGV[1])
local to = change(st, @I(wrap_up_done))
if not to or st.at ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], to .. '|' .. ARGV[3] .. '|' .. ARGV[3] .. '||')
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
";

const CONSULT_COMPLETE: &str = r"
-- KEYS agents, offers, calls; ARGV call, first agent, consult item, second agent, now_ms
-- Attended transfer done: the first operator goes to after-call work and the second, who
-- was talking with the consult item, now has the call itself (still talking).
local a = agent_state(KEYS[1], ARGV[2])
local b = agent_state(KEYS[1], ARGV[4])
local to = change(a, @I(hang_up))
if not to or a.call ~= ARGV[1] then return 0 end
if not b or b.name ~= @S(talking) or b.call ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], to .. '|' .. ARGV[5] .. '|||' .. ARGV[1])
redis.call('HSET', KEYS[1], ARGV[4], b.name .. '|' .. b.at .. '||' .. b.offer .. '|' .. ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('HDEL', KEYS[2], ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[3])
return 1
";

const BRIDGE_FAILED: &str = r"
-- KEYS queue, agents, offers, calls, clock; ARGV call, agent, now_ms
-- The operator answered but their leg was gone before the caller could be bridged: they
-- did not take the call (missed) and the caller returns to its old place at the head.
local st = agent_state(KEYS[2], ARGV[2])
local to = change(st, @I(bridge_failed))
if not to or st.call ~= ARGV[1] then return 0 end
local info = redis.call('HGET', KEYS[4], ARGV[1])
if not info then return 0 end
local prio, seq = string.match(info, '^(%d+)|(%d+)|')
redis.call('HSET', KEYS[2], ARGV[2], to .. '|' .. ARGV[3] .. '|||')
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[1], queue_score(prio, seq), ARGV[1])
return redis.call('INCR', KEYS[5])
";

const CLAIM: &str = r"
-- KEYS owner; ARGV instance, ttl_ms
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] or not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

const CLAIM_FROM: &str = r"
-- KEYS owner; ARGV instance, ttl_ms, the dead owner it may be taken from
local cur = redis.call('GET', KEYS[1])
if not cur or cur == ARGV[1] or cur == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

const RESTORE_CALL: &str = r"
-- KEYS queue, calls, clock; ARGV call, priority, seq, arrived_ms, queue name, waiting (1/0),
-- now_ms
-- A caller this instance still drives, back after Redis lost it: its old arrival number
-- (and so its place), and the clock moved past it.
seed_clock(KEYS[3], ARGV[7])
local seq = tonumber(ARGV[3])
if tonumber(redis.call('GET', KEYS[3])) < seq then
  redis.call('SET', KEYS[3], string.format('%.0f', seq))
end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4] .. '|' .. ARGV[5])
if ARGV[6] == '1' then
  redis.call('ZADD', KEYS[1], queue_score(ARGV[2], seq), ARGV[1])
end
return 1
";

const RESTORE_AGENT: &str = r"
-- KEYS agents, ready; ARGV agent, state value, ready since (ms, or '' if not ready), force
-- Only an operator Redis knows nothing of (a change made since, a login, is newer), unless
-- forced (an offer this instance is ringing: it knows best).
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
elseif redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) else redis.call('ZREM', KEYS[2], ARGV[1]) end
return 1
";

const TAKE_OFFER: &str = r"
-- KEYS offer_by; ARGV call, the instance it is taken from ('' if none), instance
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if (not cur and ARGV[2] == '') or cur == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0
";

/// Every operator state and change as the scripts see them, from `core::acd::agent`:
/// `NEXT[input][from] = to` for each change [`next`] allows. The scripts name states and
/// inputs only as `@S(key)` / `@I(key)`, replaced here by the core's names, so neither a
/// state nor a rule is spelled twice.
fn transitions_lua() -> String {
    let mut out = String::from("local NEXT = {\n");
    for input in AgentInput::ALL {
        out.push_str(&format!("  ['{}'] = {{", input.key()));
        for from in StateName::ALL {
            if let Ok(to) = next(from, input) {
                out.push_str(&format!("['{}'] = '{}', ", from.live_key(), to.live_key()));
            }
        }
        out.push_str("},\n");
    }
    out.push_str("}\n");
    out
}

/// A queue's order and admission as the scripts apply them, from `core::acd::queue`
/// ([`order_score`](crate::core::acd::queue::order_score),
/// [`admits`](crate::core::acd::queue::admits)).
fn queue_rules_lua() -> String {
    format!(
        "local function queue_score(prio, seq)\n\
         \x20 return string.format('%.0f', (255 - tonumber(prio)) * {PRIORITY_STRIDE} + tonumber(seq))\n\
         end\n\
         local function admits(waiting, max_waiting)\n\
         \x20 return waiting < tonumber(max_waiting)\n\
         end\n"
    )
}

/// `text` with `@S(key)` and `@I(key)` replaced by the quoted live state name and input
/// name. An unknown key is a bug in a script, caught when it is first built (every script
/// is built by the tests).
fn expand(text: &str) -> String {
    let re = regex::Regex::new(r"@([SI])\(([a-z_]+)\)").expect("placeholder pattern");
    re.replace_all(text, |c: &regex::Captures<'_>| {
        let key = &c[2];
        let name = if &c[1] == "S" {
            StateName::from_key(key).map(StateName::live_key)
        } else {
            AgentInput::ALL
                .into_iter()
                .find(|i| i.key() == key)
                .map(AgentInput::key)
        };
        format!(
            "'{}'",
            name.unwrap_or_else(|| panic!("script names unknown {}", &c[0]))
        )
    })
    .into_owned()
}

/// A script that reads or changes operator states (and may take the event clock), built
/// once.
fn agent_script(body: &str) -> Script {
    Script::new(&expand(&format!(
        "{}\n{}\n{NEXT_SEQ}\n{PARSE_AGENT}\n{body}",
        transitions_lua(),
        queue_rules_lua()
    )))
}

/// Each script's [`Script`] (its text and SHA), built on first use.
macro_rules! script {
    ($body:expr) => {{
        static SCRIPT: std::sync::LazyLock<Script> =
            std::sync::LazyLock::new(|| agent_script($body));
        &*SCRIPT
    }};
}

/// The result of [`AcdStore::enqueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Waiting at 1-based `position`; `seq` is its arrival order (kept if it was already there).
    Waiting { position: u64, seq: u64 },
    /// The queue holds `max_waiting` callers already: offer a callback.
    Refused,
    /// The call is ringing or talking with an operator; it is not queued twice.
    AlreadyOffered,
}

/// A call reserved for an operator. `offer` names this one offer, so a ring timeout that
/// arrives after the call was offered again is recognised as stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub call: String,
    pub agent: String,
    pub offer: u64,
}

/// What [`AcdStore::abandon`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandoned {
    WasWaiting,
    /// The operator's phone was ringing; they are ready again.
    WasRinging,
    /// Not in a queue nor ringing (talking, or already gone): nothing changed.
    NotFound,
}

#[derive(Clone)]
pub struct AcdStore {
    conn: ConnectionManager,
    prefix: String,
    /// For the subscription to other instances' kicks (its own connection).
    client: redis::Client,
}

impl AcdStore {
    /// Commands fail within about a second while Redis is stopped or frozen, rather than
    /// waiting for the default reconnection backoff (seconds): the callers' tasks and the
    /// IVR's hand-over must go on (music, retries) instead of hanging in a Redis call.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)?;
        let cfg = ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(300))
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)));
        Ok(Self {
            conn: ConnectionManager::new_with_config(client.clone(), cfg).await?,
            prefix: prefix.to_string(),
            client,
        })
    }

    /// The channel instances tell each other on that routing may have work: an operator
    /// became ready, a caller arrived or came back to a queue.
    fn kick_channel(&self) -> String {
        self.key("kick")
    }

    /// Tells the other instances to route now (`instance` names the sender, which ignores
    /// its own message).
    pub async fn publish_kick(&self, instance: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("PUBLISH")
            .arg(self.kick_channel())
            .arg(instance)
            .query_async::<i64>(&mut c)
            .await?;
        Ok(())
    }

    /// Subscribes to the other instances' kicks: a stream of the senders' names that ends
    /// when the connection does.
    pub async fn kicks(
        &self,
    ) -> Result<impl futures_util::Stream<Item = String> + Send + use<>, StoreError> {
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(self.kick_channel()).await?;
        Ok(futures_util::StreamExt::map(
            pubsub.into_on_message(),
            |m| m.get_payload::<String>().unwrap_or_default(),
        ))
    }

    fn key(&self, name: &str) -> String {
        format!("{}acd:{name}", self.prefix)
    }

    fn queue_key(&self, queue: &str) -> String {
        self.key(&format!("queue:{queue}"))
    }

    /// Puts `call` in `queue` unless `max_waiting` callers wait there already (checked and
    /// applied in one step, so two instances cannot both admit the seventh caller).
    pub async fn enqueue(
        &self,
        queue: &str,
        call: &str,
        priority: u8,
        max_waiting: usize,
        now_ms: i64,
    ) -> Result<Enqueued, StoreError> {
        let mut c = self.conn.clone();
        let (kind, position, seq): (i64, u64, u64) = script!(ENQUEUE)
            .key(self.queue_key(queue))
            .key(self.key("calls"))
            .key(self.key("clock"))
            .arg(call)
            .arg(priority)
            .arg(max_waiting)
            .arg(now_ms)
            .arg(queue)
            .invoke_async(&mut c)
            .await?;
        Ok(match kind {
            1 => Enqueued::Waiting { position, seq },
            2 => Enqueued::AlreadyOffered,
            _ => Enqueued::Refused,
        })
    }

    /// Takes the head call of `queue` and the longest-idle ready operator who meets `need`
    /// ([`Need::level`]), and marks the operator offered with that call — all or nothing.
    /// None: no caller waiting or no such operator ready.
    pub async fn reserve(
        &self,
        queue: &str,
        need: Need<'_>,
        now_ms: i64,
    ) -> Result<Option<Reservation>, StoreError> {
        self.reserve_by(queue, need, now_ms, "").await
    }

    /// [`AcdStore::reserve`], noting `instance` as the one that rings the phone
    /// ([`AcdStore::offer_by`]).
    pub async fn reserve_by(
        &self,
        queue: &str,
        need: Need<'_>,
        now_ms: i64,
        instance: &str,
    ) -> Result<Option<Reservation>, StoreError> {
        let mut c = self.conn.clone();
        let r: Option<(String, String, u64)> = script!(RESERVE)
            .key(self.queue_key(queue))
            .key(self.key("ready"))
            .key(self.key("skills"))
            .key(self.key("agents"))
            .key(self.key("offers"))
            .key(self.key("clock"))
            .key(self.key("offer_by"))
            .arg(need.skill)
            .arg(need.level())
            .arg(now_ms)
            .arg(instance)
            .invoke_async(&mut c)
            .await?;
        Ok(r.map(|(call, agent, offer)| Reservation { call, agent, offer }))
    }

    /// The ring timed out: the operator becomes "not ready (missed)" and the call returns to
    /// its old place at the head of `queue`. Returns the event clock of the requeue, or None
    /// if the offer was no longer current (answered, abandoned, or already released).
    pub async fn release_missed(
        &self,
        queue: &str,
        r: &Reservation,
        now_ms: i64,
    ) -> Result<Option<u64>, StoreError> {
        let mut c = self.conn.clone();
        let at: u64 = script!(RELEASE_MISSED)
            .key(self.queue_key(queue))
            .key(self.key("agents"))
            .key(self.key("offers"))
            .key(self.key("calls"))
            .key(self.key("clock"))
            .arg(&r.call)
            .arg(&r.agent)
            .arg(r.offer)
            .arg(now_ms)
            .invoke_async(&mut c)
            .await?;
        Ok((at > 0).then_some(at))
    }

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
        Ok(n == 1)
    }

    /// The call ended: it leaves the ACD and the operator goes to after-call work, out of
    /// routing until [`AcdStore::agent_ready`].
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
        Ok(n == 1)
    }

    /// An operator's own change of state, if [`next`] allows it from their live state
    /// (an operator Redis does not know is logged out): ready puts them in routing, idle
    /// from `now_ms`; anything else takes them out. False (and no change) otherwise, e.g.
    /// while they are ringing or talking.
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
        Ok(n == 1)
    }

    /// The caller hung up before talking to anyone.
    pub async fn abandon(&self, queue: &str, call: &str) -> Result<Abandoned, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = script!(ABANDON)
            .key(self.queue_key(queue))
            .key(self.key("calls"))
            .key(self.key("offers"))
            .key(self.key("agents"))
            .key(self.key("ready"))
            .arg(call)
            .invoke_async(&mut c)
            .await?;
        Ok(match n {
            1 => Abandoned::WasWaiting,
            2 => Abandoned::WasRinging,
            _ => Abandoned::NotFound,
        })
    }

    /// Replaces the operator's skills.
    pub async fn set_skills(&self, agent: &str, skills: &[(&str, u8)]) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let script = Script::new(SET_SKILLS);
        let mut inv = script.key(self.key("skills"));
        inv.arg(agent);
        for (skill, level) in skills {
            inv.arg(*skill).arg(*level);
        }
        inv.invoke_async::<()>(&mut c).await?;
        Ok(())
    }

    /// How many callers wait in `queue`.
    pub async fn queue_len(&self, queue: &str) -> Result<u64, StoreError> {
        let mut c = self.conn.clone();
        Ok(redis::cmd("ZCARD")
            .arg(self.queue_key(queue))
            .query_async(&mut c)
            .await?)
    }

    /// Callers waiting in `queue`, head first.
    pub async fn waiting(&self, queue: &str) -> Result<Vec<String>, StoreError> {
        let mut c = self.conn.clone();
        Ok(redis::cmd("ZRANGE")
            .arg(self.queue_key(queue))
            .arg(0)
            .arg(-1)
            .query_async(&mut c)
            .await?)
    }

    /// The operator's live state name (`ready`, `offered`, `talking`, `missed`, ...), if
    /// known.
    pub async fn agent_state(&self, agent: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .agent_info(agent)
            .await?
            .map(|i| i.state.live_key().to_string()))
    }

    /// Blind transfer: the call leaves `agent` (who goes to after-call work) and waits in
    /// `to_queue` at `priority`. False if the call is not talking with that operator.
    pub async fn transfer(
        &self,
        call: &str,
        agent: &str,
        to_queue: &str,
        priority: u8,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let seq: i64 = script!(TRANSFER)
            .key(self.key("agents"))
            .key(self.key("offers"))
            .key(self.key("calls"))
            .key(self.queue_key(to_queue))
            .key(self.key("clock"))
            .arg(call)
            .arg(agent)
            .arg(now_ms)
            .arg(priority)
            .arg(to_queue)
            .invoke_async(&mut c)
            .await?;
        Ok(seq > 0)
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
        Ok(n == 1)
    }

    /// The caller could not be bridged to the operator who answered (their leg was gone):
    /// the operator is "missed" and the caller back at the head of `queue`.
    pub async fn bridge_failed(
        &self,
        queue: &str,
        call: &str,
        agent: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let at: i64 = script!(BRIDGE_FAILED)
            .key(self.queue_key(queue))
            .key(self.key("agents"))
            .key(self.key("offers"))
            .key(self.key("calls"))
            .key(self.key("clock"))
            .arg(call)
            .arg(agent)
            .arg(now_ms)
            .invoke_async(&mut c)
            .await?;
        Ok(at > 0)
    }

    /// Attended transfer completed: `call` passes from `first` to `second`, who answered the
    /// consult item `consult`. False if either is no longer in that state.
    pub async fn consult_complete(
        &self,
        call: &str,
        first: &str,
        consult: &str,
        second: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = script!(CONSULT_COMPLETE)
            .key(self.key("agents"))
            .key(self.key("offers"))
            .key(self.key("calls"))
            .arg(call)
            .arg(first)
            .arg(consult)
            .arg(second)
            .arg(now_ms)
            .invoke_async(&mut c)
            .await?;
        Ok(n == 1)
    }

    /// Takes or keeps the lease on driving `call` (music, announcements, the end of the
    /// call). An instance that stops renewing it loses the call to another (or to itself
    /// after a restart).
    pub async fn claim(&self, call: &str, instance: &str, ttl_ms: u64) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = Script::new(CLAIM)
            .key(self.key(&format!("owner:{call}")))
            .arg(instance)
            .arg(ttl_ms)
            .invoke_async(&mut c)
            .await?;
        Ok(n == 1)
    }

    /// Takes the lease on `call` if nobody holds it, `instance` does, or `dead` (an instance
    /// known to be gone) does.
    pub async fn claim_from(
        &self,
        call: &str,
        instance: &str,
        dead: &str,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = Script::new(CLAIM_FROM)
            .key(self.key(&format!("owner:{call}")))
            .arg(instance)
            .arg(ttl_ms)
            .arg(dead)
            .invoke_async(&mut c)
            .await?;
        Ok(n == 1)
    }

    /// The instance holding the lease on `call`, if any.
    pub async fn owner(&self, call: &str) -> Result<Option<String>, StoreError> {
        let mut c = self.conn.clone();
        Ok(redis::cmd("GET")
            .arg(self.key(&format!("owner:{call}")))
            .query_async(&mut c)
            .await?)
    }

    /// This instance is running: the mark lasts `ttl_ms` and is renewed every second.
    pub async fn set_alive(&self, instance: &str, ttl_ms: u64) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("SET")
            .arg(self.key(&format!("alive:{instance}")))
            .arg(1)
            .arg("PX")
            .arg(ttl_ms)
            .query_async::<()>(&mut c)
            .await?;
        Ok(())
    }

    /// Whether `instance` renewed its mark lately.
    pub async fn is_alive(&self, instance: &str) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = redis::cmd("EXISTS")
            .arg(self.key(&format!("alive:{instance}")))
            .query_async(&mut c)
            .await?;
        Ok(n == 1)
    }

    /// The instance that reserved the current offer of `call` (and rings the phone).
    pub async fn offer_by(&self, call: &str) -> Result<Option<String>, StoreError> {
        self.hget("offer_by", call).await
    }

    /// Notes that `instance` now carries on the offer of `call` (taken over from a dead one).
    pub async fn set_offer_by(&self, call: &str, instance: &str) -> Result<(), StoreError> {
        self.hset("offer_by", call, instance).await
    }

    /// The epoch of the live state if it is complete (the mark `acd:trusted`), None if Redis
    /// lost it (restarted empty) and it must be rebuilt before routing.
    pub async fn trusted(&self) -> Result<Option<String>, StoreError> {
        let mut c = self.conn.clone();
        Ok(redis::cmd("GET")
            .arg(self.key("trusted"))
            .query_async(&mut c)
            .await?)
    }

    pub async fn set_trusted(&self, epoch: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("SET")
            .arg(self.key("trusted"))
            .arg(epoch)
            .query_async::<()>(&mut c)
            .await?;
        Ok(())
    }

    /// One instance at a time rebuilds the live state: true if `instance` may.
    pub async fn lock_rebuild(&self, instance: &str, ttl_ms: u64) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let r: Option<String> = redis::cmd("SET")
            .arg(self.key("rebuilding"))
            .arg(instance)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut c)
            .await?;
        Ok(r.is_some())
    }

    pub async fn unlock_rebuild(&self, instance: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1",
        )
        .key(self.key("rebuilding"))
        .arg(instance)
        .invoke_async::<i64>(&mut c)
        .await?;
        Ok(())
    }

    /// Puts back a call Redis lost with its old priority, arrival number and queue, waiting
    /// in the queue (`waiting`) or only known (ringing, talking). False if Redis has it.
    pub async fn restore_call(
        &self,
        call: &str,
        info: &CallInfo,
        waiting: bool,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = script!(RESTORE_CALL)
            .key(self.queue_key(&info.queue))
            .key(self.key("calls"))
            .key(self.key("clock"))
            .arg(call)
            .arg(info.priority)
            .arg(info.seq)
            .arg(info.arrived_ms)
            .arg(&info.queue)
            .arg(if waiting { "1" } else { "0" })
            .arg(now_ms)
            .invoke_async(&mut c)
            .await?;
        Ok(n == 1)
    }

    /// An operator's live state Redis lost: `value` as [`agent_value`] makes it, in routing
    /// from `ready_at` if given; only if Redis knows nothing of the operator, unless `force`.
    pub async fn restore_agent(
        &self,
        agent: &str,
        value: &str,
        ready_at: Option<i64>,
        force: bool,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = Script::new(RESTORE_AGENT)
            .key(self.key("agents"))
            .key(self.key("ready"))
            .arg(agent)
            .arg(value)
            .arg(ready_at.map(|t| t.to_string()).unwrap_or_default())
            .arg(if force { "1" } else { "0" })
            .invoke_async(&mut c)
            .await?;
        Ok(n == 1)
    }

    /// Takes over the offer of `call` from `from` (a dead instance, '' if none is noted):
    /// false if another instance got there first.
    pub async fn take_offer(
        &self,
        call: &str,
        from: &str,
        instance: &str,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = Script::new(TAKE_OFFER)
            .key(self.key("offer_by"))
            .arg(call)
            .arg(from)
            .arg(instance)
            .invoke_async(&mut c)
            .await?;
        Ok(n == 1)
    }

    /// The offer of `call` is settled (the caller and the operator are bridged): no instance
    /// needs to carry it on any more.
    pub async fn settle_offer(&self, call: &str) -> Result<(), StoreError> {
        self.hdel("offer_by", call).await
    }

    /// A talk Redis lost: `call` is with `agent` on the operator leg `leg`.
    pub async fn restore_talk(&self, call: &str, agent: &str, leg: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("HSET")
            .arg(self.key("offers"))
            .arg(call)
            .arg(agent)
            .ignore();
        pipe.cmd("HSET")
            .arg(self.key("legs"))
            .arg(call)
            .arg(leg)
            .ignore();
        pipe.query_async::<()>(&mut c).await?;
        Ok(())
    }

    /// Gives the lease back only if `instance` holds it.
    pub async fn release_claim_if(&self, call: &str, instance: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1",
        )
        .key(self.key(&format!("owner:{call}")))
        .arg(instance)
        .invoke_async::<i64>(&mut c)
        .await?;
        Ok(())
    }

    pub async fn release_claim(&self, call: &str) -> Result<(), StoreError> {
        self.cmd_del(&self.key(&format!("owner:{call}"))).await
    }

    async fn cmd_del(&self, key: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("DEL").arg(key).query_async::<()>(&mut c).await?;
        Ok(())
    }

    async fn hset(&self, hash: &str, field: &str, value: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("HSET")
            .arg(self.key(hash))
            .arg(field)
            .arg(value)
            .query_async::<()>(&mut c)
            .await?;
        Ok(())
    }

    async fn hget(&self, hash: &str, field: &str) -> Result<Option<String>, StoreError> {
        let mut c = self.conn.clone();
        Ok(redis::cmd("HGET")
            .arg(self.key(hash))
            .arg(field)
            .query_async(&mut c)
            .await?)
    }

    async fn hdel(&self, hash: &str, field: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("HDEL")
            .arg(self.key(hash))
            .arg(field)
            .query_async::<()>(&mut c)
            .await?;
        Ok(())
    }

    async fn hgetall(&self, hash: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut c = self.conn.clone();
        let m: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.key(hash))
            .query_async(&mut c)
            .await?;
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort();
        Ok(v)
    }

    /// The dial string of the operator's phone, for whichever instance offers the call.
    pub async fn set_endpoint(&self, agent: &str, endpoint: &str) -> Result<(), StoreError> {
        self.hset("endpoints", agent, endpoint).await
    }

    pub async fn endpoint(&self, agent: &str) -> Result<Option<String>, StoreError> {
        self.hget("endpoints", agent).await
    }

    /// What is known about a caller (JSON): number, account, IVR variables, entered at.
    pub async fn set_meta(&self, call: &str, json: &str) -> Result<(), StoreError> {
        self.hset("meta", call, json).await
    }

    pub async fn meta(&self, call: &str) -> Result<Option<String>, StoreError> {
        self.hget("meta", call).await
    }

    /// The caller sits in the ACD's park: commands to it (record, bridge) now take effect.
    pub async fn set_parked(&self, call: &str) -> Result<(), StoreError> {
        self.hset("parked", call, "1").await
    }

    pub async fn is_parked(&self, call: &str) -> Result<bool, StoreError> {
        Ok(self.hget("parked", call).await?.is_some())
    }

    /// Forgets the caller: its meta, park flag, operator leg, pending transfer and the
    /// instance of its offer, at once.
    pub async fn del_meta(&self, call: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic();
        for hash in ["parked", "meta", "legs", "transfers", "offer_by"] {
            pipe.cmd("HDEL").arg(self.key(hash)).arg(call).ignore();
        }
        pipe.query_async::<()>(&mut c).await?;
        Ok(())
    }

    /// Every caller contactd still holds, with its meta.
    pub async fn all_meta(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.hgetall("meta").await
    }

    /// The operator leg of the current offer (its origination uuid), set before the originate.
    pub async fn set_leg(&self, call: &str, leg: &str) -> Result<(), StoreError> {
        self.hset("legs", call, leg).await
    }

    pub async fn leg(&self, call: &str) -> Result<Option<String>, StoreError> {
        self.hget("legs", call).await
    }

    /// A transfer asked for by the API, done when the operator's leg has gone.
    pub async fn set_transfer(&self, call: &str, target: &str) -> Result<(), StoreError> {
        self.hset("transfers", call, target).await
    }

    pub async fn transfer_target(&self, call: &str) -> Result<Option<String>, StoreError> {
        self.hget("transfers", call).await
    }

    pub async fn del_transfer(&self, call: &str) -> Result<(), StoreError> {
        self.hdel("transfers", call).await
    }

    /// The operator this call is offered to or talking with.
    pub async fn offered_to(&self, call: &str) -> Result<Option<String>, StoreError> {
        self.hget("offers", call).await
    }

    /// `priority|seq|arrived_ms|queue` while the call is in the ACD.
    pub async fn call_info(&self, call: &str) -> Result<Option<CallInfo>, StoreError> {
        Ok(self
            .hget("calls", call)
            .await?
            .and_then(|s| CallInfo::parse(&s)))
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

    /// 1-based place of `call` in `queue`, None if it is not waiting there.
    pub async fn position(&self, queue: &str, call: &str) -> Result<Option<u64>, StoreError> {
        let mut c = self.conn.clone();
        let r: Option<u64> = redis::cmd("ZRANK")
            .arg(self.queue_key(queue))
            .arg(call)
            .query_async(&mut c)
            .await?;
        Ok(r.map(|r| r + 1))
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

/// An operator's entry in `acd:agents`: `state|at_ms|idle_ms|offer|call`.
pub fn agent_value(
    state: StateName,
    at_ms: i64,
    idle_ms: Option<i64>,
    offer: Option<u64>,
    call: Option<&str>,
) -> String {
    format!(
        "{}|{at_ms}|{}|{}|{}",
        state.live_key(),
        idle_ms.map(|v| v.to_string()).unwrap_or_default(),
        offer.map(|v| v.to_string()).unwrap_or_default(),
        call.unwrap_or_default()
    )
}

/// A call's entry in `acd:calls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    pub priority: u8,
    pub seq: u64,
    pub arrived_ms: i64,
    pub queue: String,
}

impl CallInfo {
    fn parse(s: &str) -> Option<Self> {
        let mut it = s.splitn(4, '|');
        Some(Self {
            priority: it.next()?.parse().ok()?,
            seq: it.next()?.parse().ok()?,
            arrived_ms: it.next()?.parse().ok()?,
            queue: it.next()?.to_string(),
        })
    }
}

/// An operator's entry in `acd:agents`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInfo {
    pub state: StateName,
    pub at_ms: i64,
    pub idle_ms: Option<i64>,
    pub offer: Option<u64>,
    pub call: Option<String>,
}

impl AgentInfo {
    fn parse(s: &str) -> Option<Self> {
        let mut it = s.splitn(5, '|');
        let state = StateName::from_live_key(it.next()?)?;
        let at_ms = it.next()?.parse().unwrap_or(0);
        let idle_ms = it.next().and_then(|v| v.parse().ok());
        let offer = it.next().and_then(|v| v.parse().ok());
        let call = it.next().filter(|v| !v.is_empty()).map(str::to_string);
        Some(Self {
            state,
            at_ms,
            idle_ms,
            offer,
            call,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGENT_SCRIPTS: [&str; 12] = [
        ENQUEUE,
        RESERVE,
        RELEASE_MISSED,
        ANSWER,
        FINISH,
        AGENT_COMMAND,
        ABANDON,
        TRANSFER,
        WRAP_UP_DONE,
        CONSULT_COMPLETE,
        BRIDGE_FAILED,
        RESTORE_CALL,
    ];

    #[test]
    fn scripts_spell_no_state_and_name_only_known_ones() {
        for body in AGENT_SCRIPTS.iter().chain([&PARSE_AGENT]) {
            for s in StateName::ALL {
                for quoted in [format!("'{}'", s.live_key()), format!("'{}'", s.key())] {
                    assert!(!body.contains(&quoted), "{quoted} spelled in a script");
                }
            }
            // Builds every placeholder (an unknown one panics).
            let text = expand(&format!("{PARSE_AGENT}\n{body}"));
            assert!(!text.contains('@'), "{text}");
        }
    }

    #[test]
    fn the_scripts_table_is_the_cores() {
        let table = transitions_lua();
        for input in AgentInput::ALL {
            for from in StateName::ALL {
                let entry = format!("['{}'] = ", from.live_key());
                let line = table
                    .lines()
                    .find(|l| l.starts_with(&format!("  ['{}']", input.key())))
                    .expect("a line per input");
                match next(from, input) {
                    Ok(to) => assert!(
                        line.contains(&format!("{entry}'{}'", to.live_key())),
                        "{line}"
                    ),
                    Err(_) => assert!(!line.contains(&entry), "{line}"),
                }
            }
        }
    }
}
