"""Tracing: spans for every call, W3C trace context into the backends, OTLP export and an in-memory
buffer of recent traces (``GET /admin/traces``). OpenTelemetry's data model, the hub's own recorder.

``wiring.build_tracing`` builds it all from ``TracingSettings``. ``seam`` is what the rest of the hub
sees: the ``Tracer`` and ``TracedSpan`` protocols and their plain data. Behind it, ``recorder``
(``Span``, ``Recorder``: the default) or ``sdk`` (the OpenTelemetry SDK, for the bench's comparison).
``stage.TracingStage`` (the server span), ``spans.StageSpan`` (the policy stages),
``attempt.AttemptTracer`` (the router's attempts), ``trust.Incoming`` and ``w3c`` (whose
``traceparent`` is joined), ``buffer.TraceBuffer`` and ``render`` (the JSON), ``otlp`` (the protobuf
encoder), ``export`` and ``senders`` (OTLP over HTTP or gRPC), ``reply`` (the trace id a door returns).
"""
