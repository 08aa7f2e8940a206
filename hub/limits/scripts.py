"""The Lua scripts of the Redis store, and how they are sent (EVALSHA, EVAL on NOSCRIPT).

Why scripts: Redis runs a script to completion before any other command, so the whole
check-all-then-charge-all of one decision is atomic across every hub replica, in one round trip.

Data layout, per limit (``P`` is the store's key prefix, ``N`` the spec's ``name``):
- requests: ``P N`` sorted set, member = admission id, score = admission time (ms).
- tokens: ``P N`` sorted set as above, and ``P N:amounts`` hash: admission id -> tokens charged,
  plus ``_total``, the sum (so a decision does not add up the window).
- concurrency: ``P N`` sorted set, member = admission id, score = lease expiry (ms).
Each write sets the key's TTL to the longest any of its entries can matter (window or lease) plus a
slack for clock skew, so idle counters vanish on their own.

Times are integer milliseconds: Lua hands numbers to Redis with 14 significant digits, and a
millisecond epoch time has 13, so scores are exact. ARGV[1] is the caller's clock; when it is empty
the scripts read Redis's TIME instead (allowed with effect replication, the default since Redis 5).

ADMIT and RELEASE take a batch (see ``hub.limits.batch``): several decisions or releases, handled
one after another inside one script, each as if it were alone.

Every script is idempotent when replayed with the same arguments (a client retry after a lost reply):
admit sees its own admission id already in a log and charges nothing again; release removes members
and sets amounts rather than adding deltas.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

from redis.exceptions import NoScriptError

_NOW = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

# ARGV: now, then per decision: id, "tokens lease_ms slack_ms busy_retry_ms", and "kind limit
# window_ms" for each of its limits (few, packed arguments: encoding each one costs the hub CPU).
# KEYS: every decision's keys in order; per limit its log, and for a tokens limit its amounts hash.
# Returns one string per decision: "admitted" then per limit " allowed,remaining,reset_ms,retry_ms".
ADMIT = (
    _NOW
    + """
local k = 1  -- the next unread key
local id, cost, lease, slack, busy

local function parse(settings, specs)
  cost, lease, slack, busy = string.match(settings, '^(%d+) (%d+) (%d+) (%d+)$')
  cost, lease, slack, busy = tonumber(cost), tonumber(lease), tonumber(slack), tonumber(busy)
  local limits = {}
  for kind, limit, window in string.gmatch(specs, '(%a) (%d+) (%d+)') do
    local l = {kind = kind, limit = tonumber(limit), window = tonumber(window), log = KEYS[k], cost = 1}
    k = k + 1
    if kind == 't' then l.amounts = KEYS[k]; k = k + 1; l.cost = cost end
    limits[#limits + 1] = l
  end
  return limits
end

local function purge_tokens(l, horizon)
  while true do
    local old = redis.call('ZRANGEBYSCORE', l.log, '-inf', horizon, 'LIMIT', 0, 500)
    if #old == 0 then return end
    local amounts = redis.call('HMGET', l.amounts, unpack(old))
    local freed = 0
    for j = 1, #old do freed = freed + (tonumber(amounts[j]) or 0) end
    redis.call('ZREM', l.log, unpack(old))
    redis.call('HDEL', l.amounts, unpack(old))
    redis.call('HINCRBY', l.amounts, '_total', -freed)
  end
end

local function used(l)
  if l.kind == 'c' then
    redis.call('ZREMRANGEBYSCORE', l.log, '-inf', now)
    return redis.call('ZCARD', l.log)
  end
  if l.kind == 'r' then
    redis.call('ZREMRANGEBYSCORE', l.log, '-inf', now - l.window)
    return redis.call('ZCARD', l.log)
  end
  purge_tokens(l, now - l.window)
  return tonumber(redis.call('HGET', l.amounts, '_total')) or 0
end

local function retry(l, u)
  if l.kind == 'c' then return busy end
  if l.cost > l.limit then return l.window end
  local need = u + l.cost - l.limit
  if l.kind == 'r' then
    local e = redis.call('ZRANGE', l.log, need - 1, need - 1, 'WITHSCORES')
    if #e == 0 then return l.window end
    return math.max(tonumber(e[2]) + l.window - now, 0)
  end
  local e = redis.call('ZRANGE', l.log, 0, 255, 'WITHSCORES')
  if #e == 0 then return l.window end
  local members = {}
  for j = 1, #e, 2 do members[#members + 1] = e[j] end
  local amounts = redis.call('HMGET', l.amounts, unpack(members))
  local freed, at = 0, 0
  for j = 1, #members do
    freed = freed + (tonumber(amounts[j]) or 0)
    at = tonumber(e[2 * j])
    if freed >= need then break end
  end
  return math.max(at + l.window - now, 0)
end

local function reset(l)
  if l.kind == 'c' then return 0 end
  local newest = redis.call('ZRANGE', l.log, -1, -1, 'WITHSCORES')
  if #newest == 0 then return 0 end
  return math.max(tonumber(newest[2]) + l.window - now, 0)
end

local function charge(l)
  if l.kind == 'c' then
    redis.call('ZADD', l.log, now + lease, id)
    redis.call('PEXPIRE', l.log, lease + slack)
    return
  end
  redis.call('ZADD', l.log, now, id)
  redis.call('PEXPIRE', l.log, l.window + slack)
  if l.kind == 't' then
    redis.call('HSET', l.amounts, id, cost)
    redis.call('HINCRBY', l.amounts, '_total', cost)
    redis.call('PEXPIRE', l.amounts, l.window + slack)
  end
end

local function decide(limits)
  -- A client retry of a decision that was charged already: charge nothing. A decision charges all
  -- its limits or none, and a request/token log keeps its entries for a window, so one such log
  -- tells; only slots (removed on release) need every log looked at.
  local replay = false
  local probe
  for _, l in ipairs(limits) do
    if l.kind ~= 'c' then probe = l; break end
  end
  if probe then
    replay = redis.call('ZSCORE', probe.log, id) ~= false
  else
    for _, l in ipairs(limits) do
      if redis.call('ZSCORE', l.log, id) then replay = true end
    end
  end
  local counts, ok = {}, true
  for i, l in ipairs(limits) do
    counts[i] = used(l)
    l.fits = replay or counts[i] + l.cost <= l.limit
    ok = ok and l.fits
  end
  local out = {ok and '1' or '0'}
  for i, l in ipairs(limits) do
    local remaining = l.limit - counts[i]
    if ok and not replay then
      charge(l)
      remaining = remaining - l.cost
    end
    local wait = 0
    if not l.fits then wait = retry(l, counts[i]) end
    -- Charged just now, the newest entry is this one: the window resets a whole window from now
    -- (a slot has no reset). Only other outcomes need to look the newest entry up.
    local r
    if ok and not replay then
      r = (l.kind == 'c') and 0 or l.window
    else
      r = reset(l)
    end
    out[#out + 1] = table.concat({l.fits and 1 or 0, math.max(remaining, 0), r, wait}, ',')
  end
  return table.concat(out, ' ')
end

local replies = {}
for i = 2, #ARGV, 3 do
  id = ARGV[i]
  replies[#replies + 1] = decide(parse(ARGV[i + 1], ARGV[i + 2]))
end
return replies
"""
)

# ARGV: now, then per release: id, "mode used reserved slack_ms" (mode 'settle' or 'undo'; used -1
# when unknown), and "kind window_ms" for each of its limits. KEYS as for ADMIT. Returns 0.
RELEASE = (
    _NOW
    + """
local k = 1  -- the next unread key
local id, undo, used, reserved, slack

local function settle(log, amounts, window)
  local at = tonumber(redis.call('ZSCORE', log, id))
  if undo then
    if at then
      local amount = tonumber(redis.call('HGET', amounts, id)) or 0
      redis.call('ZREM', log, id)
      redis.call('HDEL', amounts, id)
      redis.call('HINCRBY', amounts, '_total', -amount)
    end
    return
  end
  if not used then return end
  if at and at > now - window then
    -- still counted: set the entry to the real usage (a set, not an add, so a replay is harmless)
    local amount = tonumber(redis.call('HGET', amounts, id)) or 0
    redis.call('HSET', amounts, id, used)
    redis.call('HINCRBY', amounts, '_total', used - amount)
  elseif used > reserved then
    -- the reservation left the window already: charge only the excess, now, once
    local extra = id .. '+'
    if redis.call('ZADD', log, now, extra) == 1 then
      redis.call('HSET', amounts, extra, used - reserved)
      redis.call('HINCRBY', amounts, '_total', used - reserved)
      redis.call('PEXPIRE', log, window + slack)
      redis.call('PEXPIRE', amounts, window + slack)
    end
  end
end

local function release(settings, specs)
  local mode
  mode, used, reserved, slack = string.match(settings, '^(%a+) (%-?%d+) (%d+) (%d+)$')
  undo = mode == 'undo'
  used, reserved, slack = tonumber(used), tonumber(reserved), tonumber(slack)
  if used < 0 then used = nil end
  for kind, window in string.gmatch(specs, '(%a) (%d+)') do
    local log = KEYS[k]
    k = k + 1
    if kind == 't' then
      settle(log, KEYS[k], tonumber(window))
      k = k + 1
    elseif kind == 'c' or undo then
      redis.call('ZREM', log, id)
    end
  end
end

for i = 2, #ARGV, 3 do
  id = ARGV[i]
  release(ARGV[i + 1], ARGV[i + 2])
end
return 0
"""
)

# KEYS: concurrency logs; ARGV: now, lease_ms, slack_ms, then the admission id of each key.
# Only a live lease is extended: one that expired may have been handed to another call already.
# Returns the number of leases renewed.
RENEW = (
    _NOW
    + """
local lease, slack, renewed = tonumber(ARGV[2]), tonumber(ARGV[3]), 0
for i, log in ipairs(KEYS) do
  local id = ARGV[3 + i]
  local at = tonumber(redis.call('ZSCORE', log, id))
  if at and at > now then
    redis.call('ZADD', log, now + lease, id)
    redis.call('PEXPIRE', log, lease + slack)
    renewed = renewed + 1
  end
end
return renewed
"""
)


class ScriptClient(Protocol):
    """What the store needs of a Redis client: redis-py's ``Redis`` and ``hub.limits.resp``'s
    ``RespClient`` both fit (and raise redis-py's exceptions)."""

    async def evalsha(self, sha: str, numkeys: int, *keys_and_args: str | int | bytes) -> Any: ...

    async def eval(self, script: str, numkeys: int, *keys_and_args: str | int | bytes) -> Any: ...

    async def script_load(self, script: str) -> Any: ...

    async def aclose(self) -> None: ...


class Script:
    """A Lua script run by its SHA1. The first run after a Redis restart or SCRIPT FLUSH answers
    NOSCRIPT and is sent again with EVAL, which caches it: two round trips that once, one after."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()

    async def __call__(
        self, client: ScriptClient, keys: Sequence[str | bytes], args: Sequence[str | int | bytes]
    ) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(self.source, len(keys), *keys, *args)
