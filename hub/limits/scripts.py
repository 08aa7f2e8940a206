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
# Returns one string per decision: "1" then per limit " remaining" when it was charged just now (the
# common case, kept short); else "admitted" then per limit " allowed,remaining,reset_ms,retry_ms".
#
# A batch's decisions share their counters: each log is purged and counted once per batch (the first
# decision that touches it), later decisions see the count kept in the script, and the batch's charges
# are written once per key at the end (one ZADD, one HSET, one HINCRBY, one PEXPIRE per key, however
# many decisions charged it). Outcomes are those of deciding one after another; only a refusal or a
# replay reads a log's entries (retry-after, reset), and what is pending is written before it does.
ADMIT = (
    _NOW
    + """
local k = 1  -- the next unread key
local id, cost, lease, slack, busy
local specs_seen = {}  -- spec string -> its limits' {kind, limit, window} and how many keys they have
local layouts = {}  -- spec string and keys -> that decision's limits (equal ones share them)
local settings_seen = {}  -- settings string -> {cost, lease, slack, busy}
local counted = {}  -- log key -> amount counted now (purged and read once per batch)
local zadds, zttl, hsets, hsum, httl = {}, {}, {}, {}, {}  -- pending writes per key
local touched, htouched = {}, {}  -- keys with pending writes, in first-write order

local function parse(settings, specs)
  local set = settings_seen[settings]
  if not set then
    local c, l, s, b = string.match(settings, '^(%d+) (%d+) (%d+) (%d+)$')
    set = {tonumber(c), tonumber(l), tonumber(s), tonumber(b)}
    settings_seen[settings] = set
  end
  cost, lease, slack, busy = set[1], set[2], set[3], set[4]
  local parsed = specs_seen[specs]
  if not parsed then
    parsed = {nkeys = 0}
    for kind, limit, window in string.gmatch(specs, '(%a) (%d+) (%d+)') do
      parsed[#parsed + 1] = {kind, tonumber(limit), tonumber(window)}
      parsed.nkeys = parsed.nkeys + (kind == 't' and 2 or 1)
    end
    specs_seen[specs] = parsed
  end
  -- Decisions of one (model, team, key) name the same limits with the same keys: built once a run.
  local first, last = k, k + parsed.nkeys - 1
  k = last + 1
  local signature = specs .. '|' .. table.concat(KEYS, '|', first, last)
  local limits = layouts[signature]
  if limits then return limits end
  limits = {}
  for i, p in ipairs(parsed) do
    local l = {kind = p[1], limit = p[2], window = p[3], log = KEYS[first]}
    first = first + 1
    if l.kind == 't' then l.amounts = KEYS[first]; first = first + 1 end
    limits[i] = l
  end
  layouts[signature] = limits
  return limits
end

-- What a decision costs a limit: its tokens for a tokens limit, one request or slot otherwise.
local function cost_of(l)
  if l.kind == 't' then return cost end
  return 1
end

local function flush()
  for _, log in ipairs(touched) do
    redis.call('ZADD', log, unpack(zadds[log]))
    redis.call('PEXPIRE', log, zttl[log])
  end
  for _, amounts in ipairs(htouched) do
    redis.call('HSET', amounts, unpack(hsets[amounts]))
    redis.call('HINCRBY', amounts, '_total', hsum[amounts])
    redis.call('PEXPIRE', amounts, httl[amounts])
  end
  zadds, zttl, hsets, hsum, httl, touched, htouched = {}, {}, {}, {}, {}, {}, {}
end

-- At most PAGES pages of expired entries are purged per limit and run, so that no script blocks Redis
-- for long after a quiet spell; a backlog left over is still counted (too much, never too little)
-- and purged by the next runs. A log whose entries have all expired is dropped whole (UNLINK frees it
-- off Redis's main thread).
local PAGE, PAGES = 500, 4

local function purge_tokens(l, horizon)
  for page = 1, PAGES do
    local old = redis.call('ZRANGEBYSCORE', l.log, '-inf', horizon, 'LIMIT', 0, PAGE)
    if #old == 0 then return end
    if page == 1 and #old == PAGE then
      local newest = redis.call('ZRANGE', l.log, -1, -1, 'WITHSCORES')
      if tonumber(newest[2]) <= horizon then
        redis.call('UNLINK', l.log, l.amounts)
        return
      end
    end
    local amounts = redis.call('HMGET', l.amounts, unpack(old))
    local freed = 0
    for j = 1, #old do freed = freed + (tonumber(amounts[j]) or 0) end
    redis.call('ZREM', l.log, unpack(old))
    redis.call('HDEL', l.amounts, unpack(old))
    redis.call('HINCRBY', l.amounts, '_total', -freed)
  end
end

local function used(l)
  local u = counted[l.log]
  if u then return u end
  if l.kind == 'c' then
    redis.call('ZREMRANGEBYSCORE', l.log, '-inf', now)
    u = redis.call('ZCARD', l.log)
  elseif l.kind == 'r' then
    local newest = redis.call('ZRANGE', l.log, -1, -1, 'WITHSCORES')
    if #newest > 0 and tonumber(newest[2]) <= now - l.window then
      redis.call('UNLINK', l.log)  -- every entry has expired: drop the log whole
    else
      redis.call('ZREMRANGEBYSCORE', l.log, '-inf', now - l.window)
    end
    u = redis.call('ZCARD', l.log)
  else
    purge_tokens(l, now - l.window)
    u = tonumber(redis.call('HGET', l.amounts, '_total')) or 0
  end
  counted[l.log] = u
  return u
end

local function retry(l, u)
  if l.kind == 'c' then return busy end
  local c = cost_of(l)
  if c > l.limit then return l.window end
  local need = u + c - l.limit
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
  counted[l.log] = counted[l.log] + cost_of(l)
  local z = zadds[l.log]
  if not z then
    z = {}
    zadds[l.log] = z
    touched[#touched + 1] = l.log
  end
  if l.kind == 'c' then
    z[#z + 1] = now + lease
    z[#z + 1] = id
    zttl[l.log] = lease + slack
    return
  end
  z[#z + 1] = now
  z[#z + 1] = id
  zttl[l.log] = l.window + slack
  if l.kind == 't' then
    local h = hsets[l.amounts]
    if not h then
      h = {}
      hsets[l.amounts] = h
      hsum[l.amounts] = 0
      htouched[#htouched + 1] = l.amounts
    end
    h[#h + 1] = id
    h[#h + 1] = cost
    hsum[l.amounts] = hsum[l.amounts] + cost
    httl[l.amounts] = l.window + slack
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
  local counts, fits, ok = {}, {}, true
  for i, l in ipairs(limits) do
    counts[i] = used(l)
    fits[i] = replay or counts[i] + cost_of(l) <= l.limit
    ok = ok and fits[i]
  end
  if ok and not replay then
    -- charged now: "1" and each limit's remaining count (its reset is its window, it waits nothing)
    local out = {'1'}
    for i, l in ipairs(limits) do
      charge(l)
      out[i + 1] = math.max(l.limit - counts[i] - cost_of(l), 0)
    end
    return table.concat(out, ' ')
  end
  -- Refused, or a replay (charged before): retry-after and reset read the logs' entries, so what is
  -- pending is written first.
  flush()
  local out = {ok and '1' or '0'}
  for i, l in ipairs(limits) do
    local wait = 0
    if not fits[i] then wait = retry(l, counts[i]) end
    local fields = {fits[i] and 1 or 0, math.max(l.limit - counts[i], 0), reset(l), wait}
    out[#out + 1] = table.concat(fields, ',')
  end
  return table.concat(out, ' ')
end

local replies = {}
for i = 2, #ARGV, 3 do
  id = ARGV[i]
  replies[#replies + 1] = decide(parse(ARGV[i + 1], ARGV[i + 2]))
end
flush()
return replies
"""
)

# ARGV: now, then per release: id, "mode used reserved slack_ms" (mode 'settle' or 'undo'; used -1
# when unknown), and "kind window_ms" for each of its limits. KEYS as for ADMIT. Returns 0.
#
# A batch's releases are gathered per key first, then each key is read and written once: one ZREM of
# every slot or undone request it frees; for a tokens limit one ZMSCORE and one HMGET of every entry
# settled, one HSET of the new amounts and one HINCRBY of the total. An admission is released once, so
# an entry appears at most once per batch. Needs Redis >= 6.2 (ZMSCORE).
RELEASE = (
    _NOW
    + """
local k = 1  -- the next unread key
local removals, rorder = {}, {}  -- log -> members to remove (slots, undone requests)
local settles, sorder = {}, {}  -- tokens log -> {amounts, window, slack, items}

local function remove(log, id)
  local r = removals[log]
  if not r then r = {}; removals[log] = r; rorder[#rorder + 1] = log end
  r[#r + 1] = id
end

local function settle_later(log, amounts, window, slack, item)
  local s = settles[log]
  if not s then
    s = {amounts = amounts, window = window, slack = slack, items = {}}
    settles[log] = s
    sorder[#sorder + 1] = log
  end
  s.items[#s.items + 1] = item
end

local function gather(id, settings, specs)
  local mode, used, reserved, slack = string.match(settings, '^(%a+) (%-?%d+) (%d+) (%d+)$')
  local undo = mode == 'undo'
  used, reserved, slack = tonumber(used), tonumber(reserved), tonumber(slack)
  if used < 0 then used = nil end
  for kind, window in string.gmatch(specs, '(%a) (%d+)') do
    local log = KEYS[k]
    k = k + 1
    if kind == 't' then
      local item = {id = id, undo = undo, used = used, reserved = reserved}
      settle_later(log, KEYS[k], tonumber(window), slack, item)
      k = k + 1
    elseif kind == 'c' or undo then
      remove(log, id)
    end
  end
end

local function settle(log, s)
  local ids = {}
  for j, item in ipairs(s.items) do ids[j] = item.id end
  local scores = redis.call('ZMSCORE', log, unpack(ids))
  local amounts = redis.call('HMGET', s.amounts, unpack(ids))
  local sets, gone, delta = {}, {}, 0
  for j, item in ipairs(s.items) do
    local at = tonumber(scores[j])
    local amount = tonumber(amounts[j]) or 0
    if item.undo then
      if at then
        gone[#gone + 1] = item.id
        delta = delta - amount
      end
    elseif item.used then
      if at and at > now - s.window then
        -- still counted: set the entry to the real usage (a set, not an add: a replay is harmless)
        sets[#sets + 1] = item.id
        sets[#sets + 1] = item.used
        delta = delta + item.used - amount
      elseif item.used > item.reserved then
        -- the reservation left the window already: charge only the excess, now, once
        local extra = item.id .. '+'
        if redis.call('ZADD', log, now, extra) == 1 then
          redis.call('HSET', s.amounts, extra, item.used - item.reserved)
          redis.call('HINCRBY', s.amounts, '_total', item.used - item.reserved)
          redis.call('PEXPIRE', log, s.window + s.slack)
          redis.call('PEXPIRE', s.amounts, s.window + s.slack)
        end
      end
    end
  end
  if #gone > 0 then
    redis.call('ZREM', log, unpack(gone))
    redis.call('HDEL', s.amounts, unpack(gone))
  end
  if #sets > 0 then redis.call('HSET', s.amounts, unpack(sets)) end
  if delta ~= 0 then redis.call('HINCRBY', s.amounts, '_total', delta) end
end

for i = 2, #ARGV, 3 do
  gather(ARGV[i], ARGV[i + 1], ARGV[i + 2])
end
for _, log in ipairs(rorder) do
  redis.call('ZREM', log, unpack(removals[log]))
end
for _, log in ipairs(sorder) do
  settle(log, settles[log])
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
