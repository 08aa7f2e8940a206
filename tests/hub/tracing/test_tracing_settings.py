"""The ``tracing:`` section: defaults, validation, environment overrides, and whose context is trusted."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.settings import ConfigError, load_settings
from hub.tracing.senders import traces_url
from hub.tracing.trust import Incoming
from hub.tracing.wiring import build_tracing

MINIMAL = """\
models:
  - name: m
    task: chat
    backend: openai
    replicas: [{url: "http://127.0.0.1:9001/v1"}]
"""


def write(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text(MINIMAL + extra)
    return path


def test_defaults_are_on_sampled_untrusting_and_buffered(tmp_path: Path) -> None:
    tracing = load_settings(write(tmp_path), environ={}).tracing
    assert tracing.enabled and tracing.sample_ratio == 1.0 and tracing.service_name == "hub"
    assert tracing.trusted_networks == () and tracing.otlp is None and tracing.implementation == "own"
    assert (tracing.buffer.traces, tracing.buffer.spans_per_trace) == (500, 128)


def test_a_full_section_and_env_overrides(tmp_path: Path) -> None:
    extra = """\
tracing:
  sample_ratio: 0.25
  trusted_networks: [10.0.0.0/8, "::1/128"]
  buffer: {traces: 20, spans_per_trace: 16}
  otlp: {endpoint: "http://collector:4317", protocol: grpc, headers: {authorization: "Bearer s3cret"}}
"""
    env = {"HUB_TRACING__SERVICE_NAME": "hub-eu", "HUB_TRACING__OTLP__TIMEOUT": "3"}
    tracing = load_settings(write(tmp_path, extra), environ=env).tracing
    assert tracing.sample_ratio == 0.25 and tracing.service_name == "hub-eu"
    assert tracing.otlp is not None and tracing.otlp.protocol == "grpc" and tracing.otlp.timeout == 3
    assert "s3cret" not in repr(tracing)
    assert load_settings(write(tmp_path), environ={"HUB_TRACING__ENABLED": "false"}).tracing.enabled is False


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ("tracing: {sample_ratio: 1.5}", "tracing.sample_ratio"),
        ("tracing: {trusted_networks: [not-a-network]}", "tracing.trusted_networks"),
        ("tracing: {otlp: {endpoint: collector:4317}}", "tracing.otlp.endpoint"),
        ("tracing: {otlp: {endpoint: 'http://c:4318', protocol: thrift}}", "tracing.otlp.protocol"),
        ("tracing: {buffer: {traces: 0}}", "tracing.buffer.traces"),
        ("tracing: {sampling: 1}", "tracing.sampling"),
        ("tracing: {implementation: jaeger}", "tracing.implementation"),
    ],
)
def test_bad_values_name_their_key(tmp_path: Path, extra: str, where: str) -> None:
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        load_settings(write(tmp_path, extra + "\n"), environ={})


def test_the_sdk_implementation_exports_over_http_protobuf_only(tmp_path: Path) -> None:
    extra = (
        "tracing: {implementation: opentelemetry-sdk, otlp: {endpoint: 'http://c:4317', protocol: grpc}}\n"
    )
    with pytest.raises(ConfigError, match="opentelemetry-sdk exports over http/protobuf only"):
        load_settings(write(tmp_path, extra), environ={})
    ok = "tracing: {implementation: opentelemetry-sdk, otlp: {endpoint: 'http://c:4318'}}\n"
    assert load_settings(write(tmp_path, ok), environ={}).tracing.implementation == "opentelemetry-sdk"


def test_disabled_builds_nothing(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path), environ={"HUB_TRACING__ENABLED": "false"})
    assert build_tracing(settings.tracing) is None


def test_trust_is_by_network_and_ipv4_mapped_addresses_count() -> None:
    incoming = Incoming(["10.0.0.0/8", "::1/128"])
    assert incoming.trusts("10.20.30.40") and incoming.trusts("::1") and incoming.trusts("::ffff:10.0.0.1")
    assert not incoming.trusts("11.0.0.1") and not incoming.trusts(None) and not incoming.trusts("unix.sock")
    assert not Incoming().trusts("127.0.0.1")  # default: nobody


def test_a_malformed_traceparent_starts_a_new_trace_without_a_link() -> None:
    incoming = Incoming(["0.0.0.0/0"])
    _, links = incoming.parent({"traceparent": "00-zz-yy-01"}, "10.0.0.1")
    assert links == ()
    _, links = Incoming().parent({"traceparent": "00-" + "0" * 32 + "-" + "1" * 16 + "-01"}, "10.0.0.1")
    assert links == ()


def test_otlp_http_endpoint_gets_the_signal_path_once() -> None:
    assert traces_url("http://c:4318") == "http://c:4318/v1/traces"
    assert traces_url("http://c:4318/v1/traces") == "http://c:4318/v1/traces"
