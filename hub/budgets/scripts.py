"""The Lua scripts of the Redis budget store (sent with ``hub.limits.scripts.Script``: EVALSHA, EVAL
once after a Redis restart).

Data layout, per budget counter (``P`` the store's prefix, ``N`` the counter's name, period included):
- ``P N`` hash: ``spent`` and ``reserved`` (nano-dollars), ``r:<id>`` -> nanos held by each live
  reservation, ``e:<id>`` for a reservation whose lease ran out before it was settled (its cost still
  counts when the settlement arrives; without the marker a replayed settle would count twice).
- ``P N:leases`` sorted set: reservation id, score = lease expiry (ms).
Both expire at the end of their period plus a grace, so old periods vanish on their own. The TTL is
relative (PEXPIRE, computed from the hub's clock like the period), so a hub clock that differs from
Redis's (or a test's injected one) cannot make a counter vanish early.

Integers throughout; replies are arrays of integers (Lua numbers reach Redis as integers exactly up
to 2**53, where ``tostring`` would switch to exponent notation past 1e14).
"""

from __future__ import annotations

# KEYS: per budget, its hash then its leases zset. ARGV: now_ms, id, amount, lease_ms, then per
# budget: limit, ttl_ms. Returns {admitted, fits1, spent1, reserved1, fits2, ...}.
RESERVE = """
local now, id, amount, lease = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local n = #KEYS / 2

local function expire(h, z)
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  for _, rid in ipairs(gone) do
    local held = tonumber(redis.call('HGET', h, 'r:' .. rid))
    if held then
      redis.call('HDEL', h, 'r:' .. rid)
      redis.call('HINCRBY', h, 'reserved', -held)
      redis.call('HSET', h, 'e:' .. rid, 1)
    end
  end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', now) end
end

local spent, reserved, fits, ok = {}, {}, {}, true
for i = 1, n do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  expire(h, z)
  local v = redis.call('HMGET', h, 'spent', 'reserved')
  spent[i], reserved[i] = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  fits[i] = spent[i] + reserved[i] + amount <= tonumber(ARGV[3 + 2 * i])
  ok = ok and fits[i]
end

if ok then
  for i = 1, n do
    local h, z = KEYS[2 * i - 1], KEYS[2 * i]
    -- HSETNX: a replayed reserve (a client retry after a lost reply) reserves nothing twice
    if redis.call('HSETNX', h, 'r:' .. id, amount) == 1 then
      redis.call('HINCRBY', h, 'reserved', amount)
      reserved[i] = reserved[i] + amount
      redis.call('ZADD', z, now + lease, id)
    end
    local ttl = tonumber(ARGV[4 + 2 * i])
    redis.call('PEXPIRE', h, ttl)
    redis.call('PEXPIRE', z, ttl)
  end
end

local out = {ok and 1 or 0}
for i = 1, n do
  out[#out + 1] = fits[i] and 1 or 0
  out[#out + 1] = spent[i]
  out[#out + 1] = reserved[i]
end
return out
"""

# KEYS: per budget, its hash then its leases zset. ARGV: id, cost. Returns 0.
# A counter that has expired entirely (settled long after its period) is left alone: neither a
# reservation nor a marker is found, so nothing recreates the key without its expiry.
SETTLE = """
local id, cost = ARGV[1], tonumber(ARGV[2])
for i = 1, #KEYS / 2 do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  local held = tonumber(redis.call('HGET', h, 'r:' .. id))
  if held then
    redis.call('HDEL', h, 'r:' .. id)
    redis.call('HINCRBY', h, 'reserved', -held)
    redis.call('ZREM', z, id)
    redis.call('HINCRBY', h, 'spent', cost)
  elseif redis.call('HDEL', h, 'e:' .. id) == 1 then
    redis.call('HINCRBY', h, 'spent', cost)
  end
end
return 0
"""
