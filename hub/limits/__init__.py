"""Rate limits: requests, tokens and concurrency per key, team, model and hub, exact across replicas.

``RateLimitStore`` (``base``) is the contract; ``MemoryStore`` keeps counters in this process (the
embedded default), ``RedisStore`` shares them between replicas, ``ResilientStore`` wraps a shared store
with a time budget and per-limit failure modes. ``LimitSpec`` (``spec``) is what the stage builds from
settings; ``LimitExceeded``/``LimitStoreUnavailable`` are how a refusal reaches the front doors.
"""

from hub.limits.base import Admission, Clock, Decision, LimitStatus, RateLimitStore
from hub.limits.errors import LimitExceeded, LimitStoreUnavailable
from hub.limits.headers import rate_limit_headers
from hub.limits.memory import MemoryStore
from hub.limits.spec import FailureMode, Kind, LimitSpec, Scope

__all__ = [
    "Admission",
    "Clock",
    "Decision",
    "FailureMode",
    "Kind",
    "LimitExceeded",
    "LimitSpec",
    "LimitStatus",
    "LimitStoreUnavailable",
    "MemoryStore",
    "RateLimitStore",
    "Scope",
    "rate_limit_headers",
]
