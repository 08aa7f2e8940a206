"""The A2A front door: each model of the pool is an A2A agent, and Hub itself a router agent.

Built on the official ``a2a-sdk`` (protocol 1.0, with its 0.3 compatibility mode): cards, JSON-RPC
and HTTP+JSON bindings, streaming, durable tasks and push notifications. A message becomes a
``hub.call.Call`` and runs through the same pipeline as every other door. See ``docs/a2a.md``.
"""

# The SDK's own OpenTelemetry spans are switched off by the entry points, before it is imported
# (``hub.startup.quiet_sdk_instrumentation``): importing this package changes nothing global.
from hub.api.a2a.door import A2ADoor, build_a2a

__all__ = ["A2ADoor", "build_a2a"]
