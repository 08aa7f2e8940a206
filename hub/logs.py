"""The hub's logs: one JSON object per line (or plain text), secrets masked, trace ids attached.

``configure_logging(level, fmt)`` sets one handler on the root logger (stderr by default), so the
hub's own loggers, the SDKs' and uvicorn's (``hub serve`` gives uvicorn no logging config of its own)
all write through it. A JSON line holds ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``,
``trace_id`` and ``span_id`` when a span is current (``hub.tracing.logcontext``), ``exception`` (the traceback
text) when there is one, and whatever the call passed as ``extra``.

Redaction runs on every record the handler takes, before it is formatted: the message (with its
arguments merged in), ``extra`` string values, exception and stack text. It masks

* ``Authorization`` / ``x-api-key`` (and the configured API key headers) values, quoted or not;
* string values of secret fields (``SECRET_FIELDS``: ``token``, ``credentials``, ``password``,
  ``client_secret``, ...) in JSON, Python reprs and protobuf text, as libraries print request bodies
  at ``debug`` (the A2A SDK prints every JSON-RPC body, push-notification tokens included);
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
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Literal

import orjson

from hub.tracing.logcontext import current_ids

if TYPE_CHECKING:
    from hub.settings import Settings

LogFormat = Literal["json", "text"]
MASK = "[redacted]"
MAX_LINE = 16 * 1024  # bytes of one log line (server.max_log_line_bytes)
_CORE = ("time", "level", "logger", "trace_id", "span_id")  # short fields a line always keeps whole
SECRET_HEADERS = ("authorization", "proxy-authorization", "x-api-key")
# Fields whose string values are secrets wherever a library prints a body: JSON, dict and protobuf
# text (A2A push configs carry "token" and "credentials"; OAuth bodies the rest).
SECRET_FIELDS = (
    "token",
    "credentials",
    "password",
    "secret",
    "client_secret",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "accesstoken",
    "refreshtoken",
    "clientsecret",
    "idtoken",
)
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
        fields = "|".join(SECRET_FIELDS)
        # "token": "v", 'token': 'v', token: "v" (protobuf text), and JSON escaped inside a string.
        self._field = re.compile(rf"(?i)(?<![\w-])(\\?['\"]?)({fields})\1(\s*[:=]\s*b?)(\\?['\"])(.*?)\4")
        self._literals = sorted({s for s in literals if len(s) >= _MIN_LITERAL}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for literal in self._literals:
            text = text.replace(literal, MASK)
        text = self._quoted.sub(lambda m: f"{m[1]}{m[2]}{m[3]}{MASK}{m[3]}", text)
        text = self._bare.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
        text = self._field.sub(lambda m: f"{m[1]}{m[2]}{m[1]}{m[3]}{m[4]}{MASK}{m[4]}", text)
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
    """Exception and stack text redacted too (they are formatted after the filter has run); lines
    bounded to ``max_line`` bytes."""

    def __init__(self, redact: Redactor, fmt: str | None = None, max_line: int = MAX_LINE) -> None:
        super().__init__(fmt)
        self.redact = redact
        self.max_line = max_line

    def formatException(self, ei: Any) -> str:
        return self.redact(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return self.redact(super().formatStack(stack_info))


class TextFormatter(_Redacting):
    def __init__(self, redact: Redactor, max_line: int = MAX_LINE) -> None:
        super().__init__(redact, TEXT_FORMAT, max_line)

    def format(self, record: logging.LogRecord) -> str:
        return _cut(super().format(record), self.max_line)


class JsonFormatter(_Redacting):
    """One JSON object per record, on one line of at most ``max_line`` bytes: when the record is
    longer, its longest fields (message, exception, extras) are cut, each with a marker saying how
    much was cut."""

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
        return _bounded(entry, self.max_line)


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # a string orjson will not write (a lone surrogate), or keys of no JSON form
        return orjson.dumps(_plain(value), default=str, option=orjson.OPT_NON_STR_KEYS)


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, Mapping):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value) if not isinstance(value, int | float | bool | None) else value


def _bounded(entry: dict[str, Any], limit: int) -> str:
    """``entry`` as one JSON line of at most ``limit`` bytes (see ``JsonFormatter``): the line's room
    beyond its core fields is shared among the others, the smaller ones kept whole."""
    line = _dumps(entry)
    if len(line) <= limit:
        return line.decode()
    core = {k: entry[k] for k in _CORE if k in entry}
    sizes = {k: len(_dumps(v)) + len(_dumps(k)) + 2 for k, v in entry.items() if k not in core}
    room = limit - len(_dumps(core))
    for index, key in enumerate(sorted(sizes, key=sizes.__getitem__)):
        share = room // (len(sizes) - index)
        value = entry[key]
        if sizes[key] > share:
            text = value if isinstance(value, str) else _dumps(value).decode()
            value = _fit(text, share - len(_dumps(key)) - 2)
        core[key] = value
        room -= len(_dumps(value)) + len(_dumps(key)) + 2
    return _dumps({k: core[k] for k in entry}).decode()


def _fit(text: str, budget: int) -> str:
    """``text`` cut (and marked) so that its JSON form takes at most ``budget`` bytes."""
    keep = budget
    for _ in range(6):
        cut = _cut(text, max(0, keep))
        size = len(_dumps(cut))
        if size <= budget:
            return cut
        keep -= size - budget + 8  # escapes made it longer than its bytes: cut that much more
    return ""


def _cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` bytes of UTF-8 (escaping aside): when longer, its start and its end
    (a traceback's last lines say what failed) around a marker of what was cut."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    room = max(0, limit - 32)
    head = data[: room * 2 // 3].decode("utf-8", "ignore")
    tail = data[len(data) - room // 3 :].decode("utf-8", "ignore") if room // 3 else ""
    cut = len(data) - len(head.encode()) - len(tail.encode())
    return f"{head}...[cut {cut} bytes]...{tail}"


def build_handler(
    fmt: LogFormat,
    stream: IO[str] | None = None,
    headers: Iterable[str] = SECRET_HEADERS,
    literals: Iterable[str] = (),
    max_line: int = MAX_LINE,
) -> logging.Handler:
    """A stream handler that redacts, then formats as ``fmt`` in lines of at most ``max_line`` bytes."""
    redact = Redactor(headers, literals)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(RedactingFilter(redact))
    formatter: type[JsonFormatter | TextFormatter] = JsonFormatter if fmt == "json" else TextFormatter
    handler.setFormatter(formatter(redact, max_line=max_line))
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
    max_line: int = MAX_LINE,
) -> logging.Handler:
    """Route every logger through one redacting handler on the root logger (replacing any there), at
    ``level``; Python warnings go through it too. Returns the handler. ``extra_headers``: more headers
    whose values are secrets (``auth.api_key_headers``); ``literals``: secrets known from the
    configuration. Logs go to stderr unless ``stream`` says otherwise (``hub mcp-stdio``'s stdout is
    the protocol)."""
    handler = build_handler(fmt, stream, (*SECRET_HEADERS, *extra_headers), literals, max_line)
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
        max_line=settings.server.max_log_line_bytes,
    )


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS and not k.startswith("_")}


def _iso(created: float) -> str:
    stamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")
