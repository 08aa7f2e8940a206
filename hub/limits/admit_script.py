"""The ADMIT script: a batch of all-or-nothing decisions over sliding-window logs (see
``hub.limits.scripts`` for the data layout)."""

from __future__ import annotations

from hub.limits.lua_clock import NOW, READ_SETS

# ARGV: now; the batch's limit sets (``lua_clock.READ_SETS``: each set's specs once, its keys once
# in KEYS, however many decisions count on it); then per decision: id, and "tokens lease_ms slack_ms
# busy_retry_ms set" (few, packed arguments: encoding each one costs the hub CPU).
# Returns one string per decision: "1" then per limit " remaining" when it was charged just now (the
# common case, kept short); else "admitted" then per limit " allowed,remaining,reset_ms,retry_ms".
#
# A batch's decisions share their counters: each log is purged and counted once per batch (the first
# decision that touches it), later decisions see the count kept in the script, and the batch's charges
# are written once per key at the end (one ZADD, one HSET, one HINCRBY, one PEXPIRE per key, however
# many decisions charged it). Outcomes are those of deciding one after another; only a refusal or a
# replay reads a log's entries (retry-after, reset), and what is pending is written before it does.
#
# Numbers bound for Redis or for the reply are strings made once (``now_s``, a decision's ``cost_s``)
# or with ``string.format('%d')``: a Lua number passed to ``redis.call`` or concatenated is formatted
# with ``%.14g``/``%.17g`` (glibc's float path), about 1 us each here and ~18 per call. Measured with
# ``perf`` on the Redis server under ``bench.limits_bench``: ~10% of its CPU went to that formatting.
ADMIT = (
    NOW
    + READ_SETS
    + """
local fmt = string.format
local now_s = fmt('%d', now)
local id, cost, cost_s, lease, slack, busy
local settings_seen = {}  -- settings string -> {cost, lease, slack, busy, cost string, set}
-- Per log key, one state for the run, shared by every limit that names it: the amount counted now
-- (purged and read once per batch), and the writes pending for it (ZADD members, and for a tokens
-- log its amounts' HSET fields), with their lengths kept by hand.
local states = {}
local touched = {}  -- states with pending writes, in first-write order

local function state(log, amounts)
  local st = states[log]
  if not st then
    st = {log = log, amounts = amounts, z = {}, zn = 0, ttl = 0, h = {}, hn = 0, hsum = 0, httl = 0}
    states[log] = st
  end
  return st
end

-- The batch's limit sets, each limit with the state of its log.
local function read_all()
  local first = read_sets()
  for _, limits in ipairs(limit_sets) do
    for _, l in ipairs(limits) do l.st = state(l.log, l.amounts) end
  end
  return first  -- where the decisions start
end

-- A decision's settings (equal ones parsed once a run), and the limits of its set.
local function parse(settings)
  local set = settings_seen[settings]
  if not set then
    local c, l, s, b, n = string.match(settings, '^(%d+) (%d+) (%d+) (%d+) (%d+)$')
    set = {tonumber(c), tonumber(l), tonumber(s), tonumber(b), c, limit_sets[tonumber(n)]}
    settings_seen[settings] = set
  end
  cost, lease, slack, busy, cost_s = set[1], set[2], set[3], set[4], set[5]
  return set[6]
end

-- What a decision costs a limit: its tokens for a tokens limit, one request or slot otherwise.
local function cost_of(l)
  if l.kind == 't' then return cost end
  return 1
end

local function flush()
  for _, st in ipairs(touched) do
    redis.call('ZADD', st.log, unpack(st.z, 1, st.zn))
    redis.call('PEXPIRE', st.log, fmt('%d', st.ttl))
    if st.hn > 0 then
      redis.call('HSET', st.amounts, unpack(st.h, 1, st.hn))
      redis.call('HINCRBY', st.amounts, '_total', fmt('%d', st.hsum))
      redis.call('PEXPIRE', st.amounts, fmt('%d', st.httl))
    end
    st.zn, st.hn, st.hsum = 0, 0, 0
  end
  touched = {}
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
  local u = l.st.count
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
  l.st.count = u
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

local function charge(l, c)
  local st = l.st
  st.count = st.count + c
  local z, n = st.z, st.zn
  if n == 0 then touched[#touched + 1] = st end
  st.zn = n + 2
  local kind = l.kind
  if kind == 'c' then
    z[n + 1] = fmt('%d', now + lease)
    z[n + 2] = id
    st.ttl = lease + slack
    return
  end
  z[n + 1] = now_s
  z[n + 2] = id
  st.ttl = l.window + slack
  if kind == 't' then
    local h, hn = st.h, st.hn
    h[hn + 1] = id
    h[hn + 2] = cost_s
    st.hn = hn + 2
    st.hsum = st.hsum + cost
    st.httl = l.window + slack
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
  local counts, costs, fits, ok = {}, {}, {}, true
  for i, l in ipairs(limits) do
    local c = cost_of(l)
    local u = used(l)
    counts[i], costs[i] = u, c
    fits[i] = replay or u + c <= l.limit
    ok = ok and fits[i]
  end
  if ok and not replay then
    -- charged now: "1" and each limit's remaining count (its reset is its window, it waits nothing)
    local out = {'1'}
    for i, l in ipairs(limits) do
      local c = costs[i]
      charge(l, c)
      local left = l.limit - counts[i] - c
      out[i + 1] = fmt('%d', left > 0 and left or 0)
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
    local remaining = fmt('%d', math.max(l.limit - counts[i], 0))
    local fields = {fits[i] and '1' or '0', remaining, fmt('%d', reset(l)), fmt('%d', wait)}
    out[#out + 1] = table.concat(fields, ',')
  end
  return table.concat(out, ' ')
end

local replies = {}
for i = read_all(), #ARGV, 2 do
  id = ARGV[i]
  replies[#replies + 1] = decide(parse(ARGV[i + 1]))
end
flush()
return replies
"""
)
