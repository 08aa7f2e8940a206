"""The ADMIT script: a batch of all-or-nothing decisions over sliding-window logs (see
``hub.limits.scripts`` for the data layout)."""

from __future__ import annotations

from hub.limits.lua_clock import NOW

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
#
# Numbers bound for Redis or for the reply are strings made once (``now_s``, a decision's ``cost_s``)
# or with ``string.format('%d')``: a Lua number passed to ``redis.call`` or concatenated is formatted
# with ``%.14g``/``%.17g`` (glibc's float path), about 1 us each here and ~18 per call. Measured with
# ``perf`` on the Redis server under ``bench.limits_bench``: ~10% of its CPU went to that formatting.
ADMIT = (
    NOW
    + """
local k = 1  -- the next unread key
local fmt = string.format
local now_s = fmt('%d', now)
local id, cost, cost_s, lease, slack, busy
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
    set = {tonumber(c), tonumber(l), tonumber(s), tonumber(b), c}
    settings_seen[settings] = set
  end
  cost, lease, slack, busy, cost_s = set[1], set[2], set[3], set[4], set[5]
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
    redis.call('PEXPIRE', log, fmt('%d', zttl[log]))
  end
  for _, amounts in ipairs(htouched) do
    redis.call('HSET', amounts, unpack(hsets[amounts]))
    redis.call('HINCRBY', amounts, '_total', fmt('%d', hsum[amounts]))
    redis.call('PEXPIRE', amounts, fmt('%d', httl[amounts]))
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
    z[#z + 1] = fmt('%d', now + lease)
    z[#z + 1] = id
    zttl[l.log] = lease + slack
    return
  end
  z[#z + 1] = now_s
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
    h[#h + 1] = cost_s
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
      out[i + 1] = fmt('%d', math.max(l.limit - counts[i] - cost_of(l), 0))
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
for i = 2, #ARGV, 3 do
  id = ARGV[i]
  replies[#replies + 1] = decide(parse(ARGV[i + 1], ARGV[i + 2]))
end
flush()
return replies
"""
)
