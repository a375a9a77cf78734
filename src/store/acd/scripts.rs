//! The Lua scripts that change the live ACD state, and the shared prelude they are built
//! with: the operator state table and the queue rules, generated from `core::acd`.

use redis::Script;

use crate::core::acd::agent::{next, AgentInput, StateName};
use crate::core::acd::queue::PRIORITY_STRIDE;

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

pub(super) const ENQUEUE: &str = r"
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

pub(super) const RESERVE: &str = r"
-- KEYS queue, ready, skills, agents, offers, clock, offer_by, legs, meta, endpoints; ARGV
-- skill, level, now_ms, instance, only (an operator: nobody else is reserved; '' for anyone),
-- leg (the operator leg the offer will ring, noted with it; '' for none yet).
-- Returns the call, the operator, the offer, and what the offer reads before it rings: the
-- call's meta and the operator's phone (one round trip, not two, while the caller waits).
local head = redis.call('ZRANGE', KEYS[1], 0, 0)
if #head == 0 then return false end
local call = head[1]
local min = tonumber(ARGV[2])
local ready = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #ready, 2 do
  local agent = ready[i]
  local level = tonumber(redis.call('HGET', KEYS[3], agent .. '|' .. ARGV[1]) or '0')
  local to = change(agent_state(KEYS[4], agent), @I(offer))
  local only = ARGV[5] or ''
  if to and level >= min and (only == '' or only == agent) then
    local offer = redis.call('INCR', KEYS[6])
    redis.call('ZREM', KEYS[1], call)
    redis.call('ZREM', KEYS[2], agent)
    redis.call('HSET', KEYS[4], agent,
      to .. '|' .. ARGV[3] .. '|' .. ready[i + 1] .. '|' .. offer .. '|' .. call)
    redis.call('HSET', KEYS[5], call, agent)
    if ARGV[4] ~= '' then redis.call('HSET', KEYS[7], call, ARGV[4]) end
    if (ARGV[6] or '') ~= '' then redis.call('HSET', KEYS[8], call, ARGV[6]) end
    return {call, agent, offer, redis.call('HGET', KEYS[9], call),
            redis.call('HGET', KEYS[10], agent)}
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

pub(super) const RELEASE_MISSED: &str = r"
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

pub(super) const ANSWER: &str = r"
-- KEYS agents; ARGV call, agent, offer, now_ms
local st = agent_state(KEYS[1], ARGV[2])
local to = change(st, @I(answer))
if not to or st.call ~= ARGV[1] or st.offer ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], to .. '|' .. ARGV[4] .. '||' .. st.offer .. '|' .. ARGV[1])
return 1
";

pub(super) const FINISH: &str = r"
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

pub(super) const AGENT_COMMAND: &str = r"
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

pub(super) const ABANDON: &str = r"
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

pub(super) const SET_SKILLS: &str = r"
-- KEYS skills; ARGV agent, skill, level, skill, level, ...
-- 1 if the operator's skills changed; 0 (and nothing written) if they were these already
local mine = ARGV[1] .. '|'
local old = {}
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, #mine) == mine then old[#old + 1] = f end
end
local same = #old * 2 == #ARGV - 1
for i = 2, #ARGV, 2 do
  if not same then break end
  same = redis.call('HGET', KEYS[1], mine .. ARGV[i]) == ARGV[i + 1]
end
if same then return 0 end
for _, f in ipairs(old) do redis.call('HDEL', KEYS[1], f) end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], mine .. ARGV[i], ARGV[i + 1]) end
return 1
";

pub(super) const TRANSFER: &str = r"
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

pub(super) const WRAP_UP_DONE: &str = r"
-- KEYS agents, ready; ARGV agent, wrap-up began at (ms), now_ms
local st = agent_state(KEYS[1], ARGV[1])
local to = change(st, @I(wrap_up_done))
if not to or st.at ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], to .. '|' .. ARGV[3] .. '|' .. ARGV[3] .. '||')
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
";

pub(super) const CONSULT_COMPLETE: &str = r"
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

pub(super) const BRIDGE_FAILED: &str = r"
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

pub(super) const NOT_BRIDGED: &str = r"
-- KEYS agents, offers, calls, ready; ARGV call, agent, now_ms
-- The operator answered, but the call left before it was bridged to them: the call leaves
-- the ACD and they are ready again, idle from now, with no after-call work.
local st = agent_state(KEYS[1], ARGV[2])
local to = change(st, @I(not_bridged))
if not to or st.call ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], to .. '|' .. ARGV[3] .. '|' .. ARGV[3] .. '||')
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
";

pub(super) const CLAIM: &str = r"
-- KEYS owner; ARGV instance, ttl_ms
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] or not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

pub(super) const CLAIM_FROM: &str = r"
-- KEYS owner; ARGV instance, ttl_ms, the dead owner it may be taken from
local cur = redis.call('GET', KEYS[1])
if not cur or cur == ARGV[1] or cur == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

pub(super) const RESTORE_CALL: &str = r"
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

pub(super) const RESTORE_AGENT: &str = r"
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

pub(super) const TAKE_OFFER: &str = r"
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
pub(super) fn agent_script(body: &str) -> Script {
    Script::new(&expand(&format!(
        "{}\n{}\n{NEXT_SEQ}\n{PARSE_AGENT}\n{body}",
        transitions_lua(),
        queue_rules_lua()
    )))
}

/// Each script's [`Script`] (its text and SHA), built on first use.
macro_rules! script {
    ($body:expr) => {{
        static SCRIPT: std::sync::LazyLock<redis::Script> =
            std::sync::LazyLock::new(|| $crate::store::acd::scripts::agent_script($body));
        &*SCRIPT
    }};
}
pub(super) use script;

#[cfg(test)]
mod tests {
    use super::*;

    const AGENT_SCRIPTS: [&str; 13] = [
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
        NOT_BRIDGED,
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
