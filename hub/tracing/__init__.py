"""Tracing: OpenTelemetry spans for every call, W3C trace context into the backends, OTLP export and
an in-memory buffer of recent traces (``GET /admin/traces``).

``wiring.build_tracing`` builds it all from ``TracingSettings``; ``stage.TracingStage`` (the server
span), ``spans.StageSpan`` (the policy stages), ``attempt.AttemptTracer`` (the router's attempts),
``trust.Incoming`` (whose ``traceparent`` is joined), ``buffer.TraceBuffer`` and ``render`` (the JSON).
"""
