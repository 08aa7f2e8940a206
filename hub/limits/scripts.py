"""The Lua scripts of the Redis store (sent by ``hub.redis.script.Script``: EVALSHA, EVAL on NOSCRIPT).

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

ADMIT (``hub.limits.admit_script``) and RELEASE (``hub.limits.release_scripts``, with RENEW) take a
batch (see ``hub.limits.batch``): several decisions or releases, handled one after another inside one
script, each as if it were alone. Each starts with the clock of ``hub.limits.lua_clock``.

Every script is idempotent when replayed with the same arguments (a client retry after a lost reply):
admit sees its own admission id already in a log and charges nothing again; release removes members
and sets amounts rather than adding deltas.
"""

from __future__ import annotations

from hub.limits.admit_script import ADMIT
from hub.limits.release_scripts import RELEASE, RENEW

__all__ = ["ADMIT", "RELEASE", "RENEW"]
