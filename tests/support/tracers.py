"""The tracer implementations ``tracing.implementation`` offers (tests that hold for both run on each)."""

IMPLEMENTATIONS = ("own", "opentelemetry-sdk")
