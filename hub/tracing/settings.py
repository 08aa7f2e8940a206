"""The ``tracing:`` section of the configuration (models only; ``hub.settings`` reads the file).

tracing:
  enabled: true                 # false: no tracing stage, no spans, nothing exported
  implementation: own           # or opentelemetry-sdk (the bench's comparison; needs the bench extra)
  sample_ratio: 1.0             # ParentBased(TraceIdRatio): a trusted caller's decision wins
  service_name: hub
  trusted_networks: [10.0.0.0/8]   # callers whose traceparent the hub joins; others get a link
  buffer: {traces: 500, spans_per_trace: 128}   # GET /admin/traces
  otlp:
    endpoint: http://collector:4318   # http/protobuf: base URL (/v1/traces is added); grpc: http://host:4317
    protocol: http/protobuf           # or grpc
    headers: {authorization: Bearer ...}
    timeout: 10
"""

from __future__ import annotations

import importlib.util
import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BufferSettings(_Strict):
    traces: int = Field(500, ge=1, le=100_000, description="recent traces kept in memory")
    spans_per_trace: int = Field(128, ge=1, le=10_000, description="spans kept per trace; more are dropped")


class OTLPSettings(_Strict):
    endpoint: str = Field(description="collector URL: http(s)://host:4318 (http/protobuf) or :4317 (grpc)")
    protocol: Literal["http/protobuf", "grpc"] = "http/protobuf"
    # Out of the repr: they usually carry the collector's credentials.
    headers: dict[str, SecretStr] = Field(default_factory=dict, repr=False)
    timeout: float = Field(10.0, gt=0, description="seconds per export request")

    @field_validator("endpoint")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL (https: TLS; for grpc too)")
        return value.rstrip("/")


SDK_MODULES = ("opentelemetry.sdk.trace", "opentelemetry.exporter.otlp.proto.http.trace_exporter")


class TracingSettings(_Strict):
    enabled: bool = True
    implementation: Literal["own", "opentelemetry-sdk"] = Field(
        "own",
        description="what records and exports the spans: the hub's own recorder and OTLP encoder, or the"
        " OpenTelemetry SDK with its OTLP/HTTP exporter (same spans; kept so the bench can compare)",
    )
    sample_ratio: float = Field(1.0, ge=0.0, le=1.0, description="share of new traces recorded")
    service_name: str = Field("hub", min_length=1)
    trusted_networks: tuple[str, ...] = Field(
        (), description="CIDRs whose incoming traceparent is joined; others start a new trace with a link"
    )
    buffer: BufferSettings = BufferSettings()
    otlp: OTLPSettings | None = None

    @field_validator("trusted_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _sdk(self) -> TracingSettings:
        if self.implementation != "opentelemetry-sdk":
            return self
        if self.otlp is not None and self.otlp.protocol != "http/protobuf":
            raise ValueError("tracing.implementation opentelemetry-sdk exports over http/protobuf only")
        if not all(_importable(name) for name in SDK_MODULES):
            raise ValueError(
                "tracing.implementation opentelemetry-sdk needs opentelemetry-sdk and"
                " opentelemetry-exporter-otlp-proto-http (pip install 'hub[bench]')"
            )
        return self


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False
