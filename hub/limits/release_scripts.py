"""The RELEASE and RENEW scripts: settle and free what admissions took, extend slot leases (see
``hub.limits.scripts`` for the data layout)."""

from __future__ import annotations

from hub.limits.lua_clock import NOW, READ_SETS

# ARGV: now; the batch's limit sets (``lua_clock.READ_SETS``, as for ADMIT); then per release:
# id, and "mode used reserved slack_ms set" (mode 'settle' or 'undo'; used -1 when unknown). KEYS as
# for ADMIT: each set's keys in order. Returns 0.
#
# A batch's releases are gathered per key first, then each key is read and written once: one ZREM of
# every slot or undone request it frees; for a tokens limit one ZMSCORE and one HMGET of every entry
# settled, one HSET of the new amounts and one HINCRBY of the total. An admission is released once, so
# an entry appears at most once per batch. Needs Redis >= 6.2 (ZMSCORE).
RELEASE = (
    NOW
    + READ_SETS
    + """
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

local function gather(id, settings)
  local mode, used_s, reserved, slack, n = string.match(settings, '^(%a+) (%-?%d+) (%d+) (%d+) (%d+)$')
  local undo = mode == 'undo'
  local used = tonumber(used_s)
  reserved, slack = tonumber(reserved), tonumber(slack)
  if used < 0 then used = nil end
  for _, l in ipairs(limit_sets[tonumber(n)]) do
    local kind = l.kind
    if kind == 't' then
      local item = {id = id, undo = undo, used = used, used_s = used_s, reserved = reserved}
      settle_later(l.log, l.amounts, l.window, slack, item)
    elseif kind == 'c' or undo then
      remove(l.log, id)
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
        sets[#sets + 1] = item.used_s  -- the string as it came: no number formatting (see ADMIT)
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
  if delta ~= 0 then redis.call('HINCRBY', s.amounts, '_total', string.format('%d', delta)) end
end

for i = read_sets(), #ARGV, 2 do
  gather(ARGV[i], ARGV[i + 1])
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
    NOW
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
