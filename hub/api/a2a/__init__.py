"""The A2A front door: each model of the pool is an A2A agent, and Hub itself a router agent.

Built on the official ``a2a-sdk`` (protocol 1.0, with its 0.3 compatibility mode): cards, JSON-RPC
and HTTP+JSON bindings, streaming, durable tasks and push notifications. A message becomes a
``hub.call.Call`` and runs through the same pipeline as every other door. See ``docs/a2a.md``.
"""

import os

# The SDK wraps its methods in OpenTelemetry spans whenever opentelemetry-api is importable (the MCP
# SDK installs it). Calls are traced once, by the hub's own tracing stage; the SDK's per-method spans
# (a tracer lookup per call even with no provider) halve the door's throughput (measured: ~170 ->
# ~370 SendMessage/s on one core). Must be set before the SDK is imported; an operator may still set
# it to "true".
os.environ.setdefault("OTEL_INSTRUMENTATION_A2A_SDK_ENABLED", "false")

from hub.api.a2a.door import A2ADoor, build_a2a

__all__ = ["A2ADoor", "build_a2a"]
