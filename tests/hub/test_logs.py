"""The hub's logs: JSON lines with trace and span ids, secrets masked before anything is written."""

from __future__ import annotations

import io
import logging
import logging.config
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import uvicorn.config
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, use_span

from hub.logs import MASK, Redactor, build_handler, configure_logging
from hub.tracing.recorder import Recorder

KEY_SECRET = "Zm9vYmFyYmF6cXV4LXNlY3JldC10aGF0LWlzLWxvbmc"
KEY = f"hub-0123456789abcdef-{KEY_SECRET}"
JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhZ2VudCIsInRlYW0iOiJyIn0.c2lnbmF0dXJlLWJ5dGVz"
OPAQUE = "opaque-token-4f1c2b7a9e"


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        (f"Authorization: Bearer {OPAQUE}", OPAQUE, "Authorization: "),
        (f"authorization=Basic {OPAQUE}", OPAQUE, "authorization="),
        (f"headers {{'authorization': 'Bearer {OPAQUE}', 'host': 'h'}}", OPAQUE, "'host': 'h'"),
        (f"[(b'x-api-key', b'{OPAQUE}'), (b'accept', b'*/*')]", OPAQUE, "(b'accept', b'*/*')"),
        (f'{{"X-Api-Key": "{OPAQUE}"}}', OPAQUE, '"X-Api-Key": '),
        (f"sent bearer {OPAQUE} upstream", OPAQUE, "upstream"),
        (f"key {KEY} refused", KEY_SECRET, "hub-0123456789abcdef-"),  # the key's id is public
        (f"token {JWT} expired", JWT.split(".")[2], "expired"),
        ("postgresql+asyncpg://hub:s3cr3t-pw@db:5432/hub", "s3cr3t-pw", "@db:5432/hub"),
    ],
)
def test_each_kind_of_secret_is_masked(text: str, secret: str, kept: str) -> None:
    masked = Redactor()(text)
    assert secret not in masked and MASK in masked and kept in masked


def test_configured_headers_and_literals_are_masked_and_plain_words_kept() -> None:
    redact = Redactor(headers=("x-hub-token",), literals=("sk-replica-only", "short"))
    assert redact("x-hub-token: abc123def") == f"x-hub-token: {MASK}"
    assert redact("replica key sk-replica-only leaked") == f"replica key {MASK} leaked"
    plain = "the authorization server said no; a short bearer of news"
    assert redact(plain) == plain


@pytest.fixture
def stream() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of its own writing JSON lines to a string, as the root logger does under ``hub serve``."""
    buffer = io.StringIO()
    logger = logging.getLogger("tests.hub.logs")
    handler = build_handler("json", buffer)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, buffer
    logger.removeHandler(handler)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in buffer.getvalue().splitlines()]


def test_one_json_object_per_line_with_secrets_masked(stream: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = stream
    logger.info("caller %s sent %r", "agent-7", {"authorization": f"Bearer {OPAQUE}"})
    logger.warning("multi\nline %d", 2, extra={"key_used": KEY, "nested": {"jwt": [JWT]}, "count": 3})
    try:
        raise ValueError(f"upstream refused x-api-key={KEY}")
    except ValueError:
        logger.exception("call failed")
    written = buffer.getvalue()
    assert OPAQUE not in written and KEY_SECRET not in written and JWT not in written
    first, second, third = lines(buffer)
    assert first["message"] == f"caller agent-7 sent {{'authorization': '{MASK}'}}"
    assert (first["level"], first["logger"]) == ("INFO", "tests.hub.logs")
    stamp = datetime.fromisoformat(first["time"].replace("Z", "+00:00"))
    assert first["time"].endswith("Z") and abs(datetime.now(UTC) - stamp).total_seconds() < 60
    assert second["message"] == "multi\nline 2" and second["count"] == 3
    assert second["key_used"] == f"hub-0123456789abcdef-{MASK}" and second["nested"] == {"jwt": [MASK]}
    assert "ValueError: upstream refused x-api-key=" in third["exception"] and third["level"] == "ERROR"
    assert "trace_id" not in first  # no span is current


def test_trace_and_span_ids_of_the_current_span(stream: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = stream
    # A span current in OpenTelemetry's API context (code instrumented with it) lends its ids too.
    span = NonRecordingSpan(
        SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, False, TraceFlags(1))
    )
    with use_span(span):
        logger.info("inside")
    logger.info("outside")
    inside, outside = lines(buffer)
    context = span.get_span_context()
    assert inside["trace_id"] == f"{context.trace_id:032x}" and inside["span_id"] == f"{context.span_id:016x}"
    assert "trace_id" not in outside and "span_id" not in outside


def test_the_ids_of_the_hub_call_being_served(stream: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = stream
    tracer = Recorder()
    server_span = tracer.start("http chat")  # what the tracing stage makes current for a call
    token = tracer.activate(server_span)
    try:
        logger.info("inside")
    finally:
        tracer.deactivate(token)
    logger.info("outside")
    inside, outside = lines(buffer)
    assert inside["trace_id"] == f"{server_span.trace_id:032x}"
    assert inside["span_id"] == f"{server_span.span_id:016x}"
    assert "trace_id" not in outside and "span_id" not in outside


def test_the_text_format_masks_too() -> None:
    buffer = io.StringIO()
    record = logging.LogRecord("hub", logging.ERROR, __file__, 1, "refused %s", (f"Bearer {OPAQUE}",), None)
    handler = build_handler("text", buffer)
    handler.handle(record)
    assert buffer.getvalue().rstrip().endswith(f"ERROR hub: refused Bearer {MASK}")


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """The root logger, put back as it was afterwards (configure_logging replaces its handlers)."""
    logger = logging.getLogger()
    handlers, level = logger.handlers[:], logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logging.captureWarnings(False)


def test_configure_logging_routes_every_logger_and_warnings(root: logging.Logger) -> None:
    buffer = io.StringIO()
    # As after an in-process uvicorn with its default config: its loggers have handlers of their own
    # and do not propagate. configure_logging must route them through its handler anyway.
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
    configure_logging("warning", "json", stream=buffer, extra_headers=("x-team-key",))
    logging.getLogger("uvicorn.error").warning("x-team-key: %s", OPAQUE)
    logging.getLogger("hub").info("below the level")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("a library complains", UserWarning, stacklevel=1)
    first, second = lines(buffer)
    assert (first["logger"], first["message"]) == ("uvicorn.error", f"x-team-key: {MASK}")
    assert second["logger"] == "py.warnings" and "a library complains" in second["message"]
    assert root.level == logging.WARNING


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_line_never_exceeds_its_bound(fmt: str) -> None:
    buffer = io.StringIO()
    logger = logging.getLogger(f"tests.hub.logs.bound.{fmt}")
    handler = build_handler(fmt, buffer, max_line=2048)  # type: ignore[arg-type]
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("body %s", "x" * 1_000_000, extra={"keys": {f"k{i}": i for i in range(100_000)}})
        try:
            raise ValueError("y" * 100_000 + " \ud800 lone surrogate")
        except ValueError:
            logger.exception("failed on\n%s", "line\n" * 10_000)
        logger.info("short")
    finally:
        logger.removeHandler(handler)
    written = buffer.getvalue()
    if fmt == "json":
        entries = lines(buffer)
        assert len(entries) == 3 and all(len(line.encode()) <= 2048 for line in written.splitlines())
        assert entries[0]["message"].startswith("body xxx") and "...[cut " in entries[0]["message"]
        assert "...[cut " in entries[0]["keys"]
        assert entries[1]["exception"].startswith("Traceback") and "lone surrogate" in entries[1]["exception"]
        assert entries[2]["message"] == "short"
    else:
        records = written.split("\n")  # a text record may span lines (a traceback); bounded in total
        assert len(written.encode()) <= 3 * 2048 + len(records) and written.rstrip().endswith("short")
