"""The hub's logs: one JSON object per line (or plain text), secrets masked, trace ids attached.

``configure_logging(level, fmt)`` sets one handler on the root logger (stderr by default), so the
hub's own loggers, the SDKs' and uvicorn's (``hub serve`` gives uvicorn no logging config of its own)
all write through it. A JSON line holds ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``,
``trace_id`` and ``span_id`` when a span is current (``hub.tracing.logcontext``), ``exception`` (the traceback
text) when there is one, and whatever the call passed as ``extra``.

Redaction runs on every record the handler takes, before it is formatted: the message (with its
arguments merged in), ``extra`` string values, exception and stack text. It masks

* ``Authorization`` / ``x-api-key`` (and the configured API key headers) values, quoted or not;
* bearer tokens (``Bearer <token>``);
* hub API keys ``hub-<id>-<secret>`` (the id stays: it is public and names the key in ``hub keys list``);
* JWT-looking strings (``eyJ...``, three base64url segments);
* passwords in URLs (``scheme://user:password@host``);
* ``literals``: secrets known from the configuration (replica API keys), wherever they appear.

The code never logs credentials on purpose; this is the net under a library's debug line or an
exception message that quotes a request.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Literal

import orjson

from hub.tracing.logcontext import current_ids

if TYPE_CHECKING:
    from hub.settings import Settings

LogFormat = Literal["json", "text"]
MASK = "[redacted]"
SECRET_HEADERS = ("authorization", "proxy-authorization", "x-api-key")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_MIN_LITERAL = 8  # shorter configured "secrets" would mask ordinary words
# A token of 8 characters or more: "bearer of news" is prose, and real tokens are far longer.
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*")
_HUB_KEY = re.compile(r"\b(hub-[0-9a-fA-F]{16}-)[A-Za-z0-9_\-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
_URL_PASSWORD = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.\-]*://[^\s/:@]*:)[^\s/@]+(?=@)")
# What a LogRecord holds of its own; anything else on it came in through ``extra``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's colourised duplicate of the message
}


class Redactor:
    """Masks secrets in text (see the module's docstring). Pure: safe from any thread."""

    def __init__(self, headers: Iterable[str] = SECRET_HEADERS, literals: Iterable[str] = ()) -> None:
        names = "|".join(re.escape(h) for h in sorted({h.lower() for h in headers}, key=len, reverse=True))
        # A header's value: quoted after ``name: `` / ``name=`` / ``'name', `` (dicts, tuples, reprs),
        # or bare after ``name:`` / ``name=`` (an optional scheme word, then the credential).
        self._quoted = re.compile(rf"(?i)\b({names})(['\"]?\s*[:=,]\s*b?)(['\"])(.*?)\3")
        self._bare = re.compile(rf"(?i)\b({names})(\s*[:=]\s*)((?:[A-Za-z]+\s+)?[^\s'\",;)}}\]]+)")
        self._literals = sorted({s for s in literals if len(s) >= _MIN_LITERAL}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for literal in self._literals:
            text = text.replace(literal, MASK)
        text = self._quoted.sub(lambda m: f"{m[1]}{m[2]}{m[3]}{MASK}{m[3]}", text)
        text = self._bare.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
        text = _BEARER.sub(rf"\g<1>{MASK}", text)
        text = _HUB_KEY.sub(rf"\g<1>{MASK}", text)
        text = _JWT.sub(MASK, text)
        return _URL_PASSWORD.sub(rf"\g<1>{MASK}", text)

    def scrub(self, value: Any, depth: int = 4) -> Any:
        """``value`` with every string in it redacted (into lists and mappings, ``depth`` deep)."""
        if isinstance(value, str):
            return self(value)
        if depth <= 0:
            return value
        if isinstance(value, Mapping):
            return {key: self.scrub(item, depth - 1) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(item, depth - 1) for item in value]
        return value


class RedactingFilter(logging.Filter):
    """On a handler: redacts each record's message (arguments merged in) and ``extra`` strings before
    any formatter sees it. The record is changed in place, so every handler after it gets the masked text."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format: keep what can be read
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = self._redact(message), None
        for key, value in _extras(record).items():
            setattr(record, key, self._redact.scrub(value))
        return True


class _Redacting(logging.Formatter):
    """Exception and stack text redacted too (they are formatted after the filter has run)."""

    def __init__(self, redact: Redactor, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self.redact = redact

    def formatException(self, ei: Any) -> str:
        return self.redact(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return self.redact(super().formatStack(stack_info))


class TextFormatter(_Redacting):
    def __init__(self, redact: Redactor) -> None:
        super().__init__(redact, TEXT_FORMAT)


class JsonFormatter(_Redacting):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ids = current_ids()
        if ids is not None:
            entry["trace_id"] = format(ids[0], "032x")
            entry["span_id"] = format(ids[1], "016x")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = self.redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in _extras(record).items():
            entry.setdefault(key, value)
        return orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def build_handler(
    fmt: LogFormat,
    stream: IO[str] | None = None,
    headers: Iterable[str] = SECRET_HEADERS,
    literals: Iterable[str] = (),
) -> logging.Handler:
    """A stream handler that redacts, then formats as ``fmt``."""
    redact = Redactor(headers, literals)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(RedactingFilter(redact))
    formatter: Callable[[Redactor], logging.Formatter] = JsonFormatter if fmt == "json" else TextFormatter
    handler.setFormatter(formatter(redact))
    return handler


# Libraries known to install handlers of their own on their loggers.
_OWN_HANDLERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure_logging(
    level: str,
    fmt: LogFormat = "json",
    *,
    stream: IO[str] | None = None,
    extra_headers: Iterable[str] = (),
    literals: Iterable[str] = (),
) -> logging.Handler:
    """Route every logger through one redacting handler on the root logger (replacing any there), at
    ``level``; Python warnings go through it too. Returns the handler. ``extra_headers``: more headers
    whose values are secrets (``auth.api_key_headers``); ``literals``: secrets known from the
    configuration. Logs go to stderr unless ``stream`` says otherwise (``hub mcp-stdio``'s stdout is
    the protocol)."""
    handler = build_handler(fmt, stream, (*SECRET_HEADERS, *extra_headers), literals)
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for name in _OWN_HANDLERS:
        # uvicorn's default config gives these loggers handlers of their own and stops them
        # propagating; in this process they may have been configured so already: undo it.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.captureWarnings(True)
    return handler


def configure_from_settings(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """``configure_logging`` as ``server.log_level`` and ``server.log_format`` say, masking the API key
    headers ``auth`` names and the replicas' API keys too."""
    auth = settings.auth
    replica_keys = [
        replica.api_key.get_secret_value()
        for model in settings.models
        for replica in model.replicas
        if replica.api_key is not None
    ]
    return configure_logging(
        settings.server.log_level,
        settings.server.log_format,
        stream=stream,
        extra_headers=auth.api_key_headers if auth is not None else (),
        literals=replica_keys,
    )


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS and not k.startswith("_")}


def _iso(created: float) -> str:
    stamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")
