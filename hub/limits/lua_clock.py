"""The prologues of the limit scripts: ``now`` in integer milliseconds, from ARGV[1] or, when that
is empty, Redis's TIME (``hub.limits.scripts`` has why); and ``read_sets`` for the scripts that take
a batch."""

from __future__ import annotations

NOW = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

# A batch names each distinct set of limits once: ARGV[2] says how many, then one string per set,
# "kind limit window_ms" per limit; KEYS hold each set's keys in order (per limit its log, and for a
# tokens limit its amounts hash). read_sets() fills limit_sets and returns the first ARGV after them.
READ_SETS = """
local limit_sets = {}
local function read_sets()
  local k = 1  -- the next unread key
  for j = 1, tonumber(ARGV[2]) do
    local limits = {}
    for kind, limit, window in string.gmatch(ARGV[2 + j], '(%a) (%d+) (%d+)') do
      local l = {kind = kind, limit = tonumber(limit), window = tonumber(window), log = KEYS[k]}
      k = k + 1
      if kind == 't' then l.amounts = KEYS[k]; k = k + 1 end
      limits[#limits + 1] = l
    end
    limit_sets[j] = limits
  end
  return 3 + tonumber(ARGV[2])
end
"""
