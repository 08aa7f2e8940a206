"""The prologue every limit script starts with: ``now`` in integer milliseconds, from ARGV[1] or,
when that is empty, Redis's TIME (``hub.limits.scripts`` has why)."""

from __future__ import annotations

NOW = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""
