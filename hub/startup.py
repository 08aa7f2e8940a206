"""What the entry points (``hub serve``, ``hub mcp-stdio``) do to the process, and nothing else does.

Importing a hub module changes nothing global, and neither does building or running an app in
process (tests, embedding): these process-wide settings are the entry points' to make, in this order.

1. ``prepare``, before anything is built: the A2A SDK's own instrumentation off (the SDK reads its
   switch once, when it is imported), then logging (one redacting handler on the root logger,
   ``hub.logs``).
2. ``freeze_heap``, once the app's start-up has built everything (``build_app(on_ready=...)``).
"""

from __future__ import annotations

import gc
import logging
import os
from typing import IO, TYPE_CHECKING

from hub.logs import configure_from_settings

if TYPE_CHECKING:
    from hub.settings import Settings

# Read by the A2A SDK when ``a2a.utils.telemetry`` is imported, never after.
A2A_SDK_TELEMETRY = "OTEL_INSTRUMENTATION_A2A_SDK_ENABLED"

# Net new container objects between two young-generation collections (CPython's default: 700).
YOUNG_THRESHOLD = 10_000


def prepare(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """The process set up for serving ``settings``, before the app is built; logs to ``stream``
    (stderr by default). Returns the log handler."""
    quiet_sdk_instrumentation()
    return configure_from_settings(settings, stream)  # JSON lines by default, secrets masked


def quiet_sdk_instrumentation() -> None:
    """Switch the A2A SDK's OpenTelemetry spans off, unless the environment already says otherwise.

    The SDK wraps its methods in spans whenever opentelemetry-api is importable (the MCP SDK installs
    it). Calls are traced once, by the hub's own tracing stage; the SDK's per-method spans (a tracer
    lookup per call even with no provider) halve the A2A door's throughput (measured: ~170 -> ~370
    SendMessage/s on one core). An operator may still set the variable to "true". It must be set
    before anything imports the SDK.
    """
    os.environ.setdefault(A2A_SDK_TELEMETRY, "false")


def freeze_heap() -> None:
    """Move everything built at start-up (SDKs, schemas, the registry) out of the collector's sight,
    and collect the young generation less often.

    Full collections over the long-lived heap stall the loop for 100+ ms under load (p99); frozen, they
    take a few ms. A call's objects are freed by reference counting as it ends, so young collections at
    CPython's threshold of 700 only walk what calls in flight hold (3-4% of a call's CPU); at 10,000 they
    run only for what cycles leave behind. Timed with ``gc.callbacks`` in a loaded hub
    (``python -m bench.ratio``: docs/performance.md).
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
