//! The Lua scripts of the line leases and the channel record (`store::redis`): each runs
//! atomically in Redis, so no reader sees half of a multi-key update.

pub(super) const ACQUIRE_LINE: &str = r"
-- KEYS[1] trunk leases, KEYS[2] budget leases, KEYS[3] the 'leases trusted' mark,
-- KEYS[4], KEYS[5] the trunk's and the budget's channels still clearing (uuid -> ms they
-- are free at); ARGV uuid, trunk cap, budget cap, budget|holder|acquired_ms.
-- Without the mark (Redis restarted empty, or a rebuild is under way) the lease counts
-- cannot be trusted: nothing is granted until they are rebuilt from the switches.
if redis.call('EXISTS', KEYS[3]) == 0 then return -3 end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 1 end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
local trunk = redis.call('HLEN', KEYS[1]) + redis.call('ZCARD', KEYS[4])
if trunk >= tonumber(ARGV[2]) then return -1 end
local budget = redis.call('HLEN', KEYS[2]) + redis.call('ZCARD', KEYS[5])
if budget >= tonumber(ARGV[3]) then return -2 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
return 1
";

pub(super) const RELEASE_LINE: &str = r"
-- KEYS[1] trunk leases, KEYS[2] budget leases, KEYS[3], KEYS[4] their channels clearing;
-- ARGV uuid, guard ms. The channel of a lease given back stays counted, on its trunk and
-- its budget, for the guard: the switch's card is still clearing it, and a line is a
-- channel. A lease already given back adds nothing.
local n = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
local guard = tonumber(ARGV[2])
if n == 1 and guard > 0 then
  local t = redis.call('TIME')
  local free_at = t[1] * 1000 + math.floor(t[2] / 1000) + guard
  for k = 3, 4 do
    redis.call('ZADD', KEYS[k], free_at, ARGV[1])
    redis.call('PEXPIRE', KEYS[k], guard + 1000)
  end
end
return n
";

pub(super) const LINES_UNAVAILABLE: &str = r"
-- KEYS[1] leases (of a trunk or a budget), KEYS[2] its channels clearing: neither dialable.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
return redis.call('HLEN', KEYS[1]) + redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')
";

pub(super) const REPLACE_CHANNELS: &str = r"
-- KEYS[1] channel hash of one node; ARGV uuid, info, uuid, info, ...
redis.call('DEL', KEYS[1])
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return redis.call('HLEN', KEYS[1])
";

pub(super) const DROP_DEAD_LEASES: &str = r"
-- KEYS[1] trunk leases, KEYS[2..] budget hashes to clean too;
-- ARGV[1] cutoff (ms) for the leases of the settled holders, ARGV[2] cutoff for the others,
-- ARGV[3] k, ARGV[4 .. 3+k] the settled holders, then the live uuids. A lease is
-- `budget|holder|ms` (or `budget|ms`, holder unknown: settled). A lease granted after its
-- cutoff may be for a call the switch does not list yet (its originate on its way): it
-- stays. A settled holder's leases are known exactly (this process's, or a dead earlier
-- process's); another live holder's originate may be on its way for a while.
local settled_before = tonumber(ARGV[1])
local others_before = tonumber(ARGV[2])
local k = tonumber(ARGV[3])
local settled = {}
for i = 4, 3 + k do settled[ARGV[i]] = true end
local live = {}
for i = 4 + k, #ARGV do live[ARGV[i]] = true end
local dropped = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local u = all[i]
  local holder, at = string.match(all[i + 1], '^[^|]*|([^|]*)|(%d+)$')
  if not holder then
    holder = ''
    at = string.match(all[i + 1], '|(%d+)$')
  end
  at = tonumber(at or '0')
  local before = others_before
  if holder == '' or settled[holder] then before = settled_before end
  if not live[u] and at < before then
    redis.call('HDEL', KEYS[1], u)
    for j = 2, #KEYS do redis.call('HDEL', KEYS[j], u) end
    dropped = dropped + 1
  end
end
return dropped
";

pub(super) const REBUILD_LEASES: &str = r"
-- KEYS[1] the 'leases trusted' mark, KEYS[2..] every lease hash to replace;
-- ARGV: prefix, then trunk, budget, uuid, budget|holder|ms per lease.
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
local n = 0
for i = 2, #ARGV, 4 do
  redis.call('HSET', ARGV[1] .. 'trunk:' .. ARGV[i] .. ':leases', ARGV[i + 2], ARGV[i + 3])
  redis.call('HSET', ARGV[1] .. 'budget:' .. ARGV[i + 1] .. ':leases', ARGV[i + 2], ARGV[i + 3])
  n = n + 1
end
redis.call('SET', KEYS[1], '1')
return n
";
