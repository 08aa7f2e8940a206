"""A fast, real OpenAI-compatible upstream for tests and the benchmark.

A bare ASGI callable served by uvicorn (uvloop, httptools): no framework, so one core answers
thousands of requests a second and a benchmark through the hub measures the hub.

Run it with ``python -m tests.support.fake_openai --port N [--mode MODE] [--delay-ms D] [--chunks K]``,
or from a test with ``run_fake_openai()``, which starts it as a subprocess on a free port.

Public API (answers depend on the mode):
  GET  /v1/models, POST /v1/chat/completions, /v1/completions, /v1/embeddings, GET /health.
  Answers echo the request's ``model`` and carry ``x-upstream-id: <port>``. A stream sends K content
  chunks, a chunk with ``finish_reason``, a usage chunk (empty ``choices``) when
  ``stream_options.include_usage`` is true, then ``data: [DONE]``. ``max_tokens`` caps K
  (``finish_reason: "length"``). ``prompt_tokens`` counts the whitespace-separated words of the input.
Modes, switchable at runtime, apply to every path above (so /v1/models health checks see them):
  ok           answers; D ms before a JSON answer and before each stream chunk.
  hang         reads the request and never answers.
  garbage      200 with a body that is not JSON, or an SSE stream of garbage without [DONE].
  error        ``error_status`` (500) with an OpenAI-style JSON error.
  slow-stream  200, then a chunk every D ms (100 if D is 0) until the client goes away; a JSON
               request gets its headers and then one space at a time.
Faults of one answer, for chat and completions only (models and health answer as in ``ok``):
  truncate     a stream of the K content chunks that ends (cleanly, chunked) without a finish chunk,
               usage or [DONE]; a JSON answer cut in the middle, ended cleanly.
  cut          the same, but the connection is closed instead of ending the response.
  bad-json     a stream whose second event is not JSON (the rest as in ``ok``, [DONE] included); a
               JSON answer that is not JSON.
  huge         an answer of about ``huge_bytes`` (10 MiB): a JSON answer whose text is that long,
               sent 64 KiB at a time (with its Content-Length when ``declare_length``, else chunked),
               or a stream of content chunks of ``huge_event_bytes`` (1 KiB) of text each adding up
               to it, then [DONE].
Control endpoints, answered in every mode and not counted:
  GET  /_stats  {"requests", "disconnects", "paths", "last_path", "last_headers", "last_body", "config"}.
                ``paths`` counts requests per path (a hub's health checks hit /v1/models).
                ``disconnects`` counts requests whose client left before the response ended
                (streams cut short, hung or trickling requests abandoned).
  POST /_mode   {"mode": ..., optional "delay_ms", "chunks", "error_status", "huge_bytes",
                "huge_event_bytes", "declare_length"}; answers the new config.
  POST /_reset  zeroes the statistics.
  POST /v1/traces  an OTLP/HTTP trace sink (benchmarks export to it): counted in ``otlp_exports``
                ``otlp_bytes``, answered with an empty export response.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import itertools
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .net import LOCALHOST, ChildExited, free_port, stop_process, wait_for_http

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MODES = ("ok", "hang", "garbage", "error", "slow-stream", "truncate", "cut", "bad-json", "huge")
_FAULTS = frozenset({"truncate", "cut", "bad-json", "huge"})  # faults of generated answers only
_PIECE = 64 * 1024  # a huge JSON answer is sent this much at a time
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(slots=True)
class Config:
    mode: str = "ok"
    delay_ms: float = 0.0
    chunks: int = 5
    error_status: int = 500
    models: tuple[str, ...] = ("fake-model",)
    huge_bytes: int = 10 * 1024 * 1024
    huge_event_bytes: int = 1024
    declare_length: bool = True

    def update(self, changes: dict[str, Any]) -> None:
        mode = changes.get("mode", self.mode)
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
        self.mode = mode
        self.delay_ms = float(changes.get("delay_ms", self.delay_ms))
        self.chunks = int(changes.get("chunks", self.chunks))
        self.error_status = int(changes.get("error_status", self.error_status))
        self.huge_bytes = int(changes.get("huge_bytes", self.huge_bytes))
        self.huge_event_bytes = int(changes.get("huge_event_bytes", self.huge_event_bytes))
        self.declare_length = bool(changes.get("declare_length", self.declare_length))


@dataclass(slots=True)
class Stats:
    requests: int = 0
    disconnects: int = 0
    paths: dict[str, int] = field(default_factory=dict)
    last_path: str | None = None
    last_headers: dict[str, str] = field(default_factory=dict)
    last_body: Any = None
    otlp_exports: int = 0
    otlp_bytes: int = 0


class _BadRequest(Exception):
    pass


def _words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(1 if isinstance(v, int) else _words(v) for v in value)
    if isinstance(value, dict):
        return _words(value.get("text"))
    return 0


def _vector(item: Any, dims: int) -> list[float]:
    digest = hashlib.blake2b(repr(item).encode(), digest_size=64).digest()
    raw = [digest[i % len(digest)] / 127.5 - 1.0 for i in range(dims)]
    norm = sum(x * x for x in raw) ** 0.5 or 1.0
    return [x / norm for x in raw]


def _choice(chat: bool, i: int | None, finish: str | None) -> dict[str, Any]:
    """Stream chunk ``i`` (None: the closing chunk that carries ``finish``); the first one names the role."""
    choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": finish}
    text = "" if i is None else f"w{i} "
    if not chat:
        choice["text"] = text
    elif i is None:
        choice["delta"] = {}
    else:
        choice["delta"] = {"role": "assistant", "content": text} if i == 0 else {"content": text}
    return choice


def _sse(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


class _Fault:
    """The faulty answer (modes in ``_FAULTS``) to one chat or completion request."""

    def __init__(self, cfg: Config, body: dict[str, Any], kind: str, prompt: int, n: int) -> None:
        self.mode = cfg.mode
        self.complete = cfg.mode != "cut"
        self._cfg = cfg
        self._chat = kind == "chat.completion"
        self._base = {"id": f"fake-{n}", "created": int(time.time()), "model": body.get("model")}
        self._kind = kind
        self._prompt = prompt

    def events(self) -> Iterator[bytes]:
        base = {**self._base, "object": "chat.completion.chunk" if self._chat else "text_completion"}
        if self.mode == "huge":
            size = self._cfg.huge_event_bytes
            text = "x" * (size - 1) + " "
            for _ in range(max(1, self._cfg.huge_bytes // size)):
                choice = _choice(self._chat, 1, None)
                choice["delta" if self._chat else "text"] = {"content": text} if self._chat else text
                yield _sse({**base, "choices": [choice]})
        else:
            for i in range(self._cfg.chunks):
                yield _sse({**base, "choices": [_choice(self._chat, i, None)]})
                if i == 0 and self.mode == "bad-json":
                    yield b'data: {"choices": [{"delta": {"content": "never relayed"\n\n'
            if self.mode != "bad-json":
                return  # truncate, cut: no finish chunk, no usage, no [DONE]
        yield _sse({**base, "choices": [_choice(self._chat, None, "stop")]})
        yield b"data: [DONE]\n\n"

    def body(self) -> tuple[Iterator[bytes], int | None]:
        """The pieces of the JSON answer, and its Content-Length when it declares one."""
        if self.mode == "bad-json":
            return iter([b"<html>this is {not json"]), None
        text = "x" * self._cfg.huge_bytes if self.mode == "huge" else "w0 w1 w2 "
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop", "logprobs": None}
        choice |= {"message": {"role": "assistant", "content": text}} if self._chat else {"text": text}
        usage = {"prompt_tokens": self._prompt, "completion_tokens": 3, "total_tokens": self._prompt + 3}
        raw = orjson.dumps({**self._base, "object": self._kind, "choices": [choice], "usage": usage})
        if self.mode != "huge":
            return iter([raw[: len(raw) // 2]]), None  # truncate, cut: half of it
        pieces = (raw[i : i + _PIECE] for i in range(0, len(raw), _PIECE))
        return pieces, len(raw) if self._cfg.declare_length else None


class FakeOpenAI:
    """The ASGI app. One instance per server process; state lives on the instance, not the module."""

    def __init__(self, config: Config, upstream_id: str) -> None:
        self.config = config
        self.stats = Stats()
        self._id_header = (b"x-upstream-id", upstream_id.encode())
        self._api: dict[tuple[str, str], Callable[[dict[str, Any], Send, Receive, bool], Awaitable[None]]] = {
            ("GET", "/health"): self._health,
            ("GET", "/v1/models"): self._models,
            ("POST", "/v1/chat/completions"): self._chat,
            ("POST", "/v1/completions"): self._completions,
            ("POST", "/v1/embeddings"): self._embeddings,
        }
        self._control: dict[tuple[str, str], Callable[[Send, bytes], Awaitable[None]]] = {
            ("GET", "/_stats"): self._get_stats,
            ("POST", "/_mode"): self._set_mode,
            ("POST", "/_reset"): self._reset,
            ("POST", "/v1/traces"): self._traces,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        body = await self._read_body(receive)
        control = self._control.get((method, path))
        if control is not None:
            await control(send, body)
            return
        self._record(scope, path, body)
        try:
            await self._serve(method, path, body, send, receive)
        except _BadRequest as exc:
            await self._json(send, 400, self._error(str(exc), "invalid_request_error"))

    async def _serve(self, method: str, path: str, raw: bytes, send: Send, receive: Receive) -> None:
        cfg = self.config
        handler = self._api.get((method, path))
        if handler is None:
            await self._json(send, 404, self._error(f"no route {method} {path}", "not_found"))
            return
        if cfg.mode == "hang":
            await self._wait_disconnect(receive)
            self.stats.disconnects += 1
            return
        if cfg.mode == "error":
            await self._json(send, cfg.error_status, self._error("fake upstream failure", "server_error"))
            return
        body = self._parse(raw)
        streaming = bool(body.get("stream"))
        if cfg.mode == "garbage":
            await self._garbage(send, streaming)
            return
        await handler(body, send, receive, streaming)

    # --- API handlers: (body, send, receive, streaming) -------------------------------------

    async def _health(self, body: dict[str, Any], send: Send, receive: Receive, streaming: bool) -> None:
        await self._json(send, 200, {"status": "ok"})

    async def _models(self, body: dict[str, Any], send: Send, receive: Receive, streaming: bool) -> None:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.config.models]
        await self._json(send, 200, {"object": "list", "data": data})

    async def _chat(self, body: dict[str, Any], send: Send, receive: Receive, streaming: bool) -> None:
        prompt = sum(_words(m.get("content")) for m in body.get("messages") or [] if isinstance(m, dict))
        await self._generate(body, send, receive, streaming, "chat.completion", max(prompt, 1))

    async def _completions(self, body: dict[str, Any], send: Send, receive: Receive, streaming: bool) -> None:
        await self._generate(
            body, send, receive, streaming, "text_completion", max(_words(body.get("prompt")), 1)
        )

    async def _embeddings(self, body: dict[str, Any], send: Send, receive: Receive, streaming: bool) -> None:
        value = body.get("input", "")
        items = [value] if isinstance(value, str) or (value and isinstance(value[0], int)) else list(value)
        dims = int(body.get("dimensions") or 8)
        data = []
        for i, item in enumerate(items):
            vec: Any = _vector(item, dims)
            if body.get("encoding_format") == "base64":
                vec = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode()
            data.append({"object": "embedding", "index": i, "embedding": vec})
        tokens = max(_words(items), 1)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        await self._delay()
        await self._json(
            send, 200, {"object": "list", "data": data, "model": body.get("model"), "usage": usage}
        )

    async def _generate(
        self, body: dict[str, Any], send: Send, receive: Receive, streaming: bool, kind: str, prompt: int
    ) -> None:
        cfg = self.config
        if cfg.mode in _FAULTS:
            fault = _Fault(cfg, body, kind, prompt, self.stats.requests)
            if streaming:
                await self._stream(send, receive, b"text/event-stream", fault.events(), 0, fault.complete)
            else:
                content, length = fault.body()
                await self._stream(send, receive, b"application/json", content, 0, fault.complete, length)
            return
        slow = cfg.mode == "slow-stream"
        if slow and not streaming:
            trickle = itertools.repeat(b" ")
            await self._stream(send, receive, b"application/json", trickle, self._slow_delay())
            return
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        n = min(cfg.chunks, int(limit)) if limit else cfg.chunks
        finish = "length" if n < cfg.chunks or slow else "stop"
        usage = {"prompt_tokens": prompt, "completion_tokens": n, "total_tokens": prompt + n}
        base = {"id": f"fake-{self.stats.requests}", "created": int(time.time()), "model": body.get("model")}
        chat = kind == "chat.completion"
        if not streaming:
            text = "".join(f"w{i} " for i in range(n))
            choice: dict[str, Any] = {"index": 0, "finish_reason": finish, "logprobs": None}
            choice |= {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
            await self._delay()
            await self._json(send, 200, {**base, "object": kind, "choices": [choice], "usage": usage})
            return
        base["object"] = "chat.completion.chunk" if chat else "text_completion"
        pieces: Iterable[int] = itertools.count() if slow else range(n)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def events() -> Iterator[bytes]:
            yield from (_sse({**base, "choices": [_choice(chat, i, None)]}) for i in pieces)
            yield _sse({**base, "choices": [_choice(chat, None, finish)]})
            if include_usage:
                yield _sse({**base, "choices": [], "usage": usage})
            yield b"data: [DONE]\n\n"

        delay = self._slow_delay() if slow else cfg.delay_ms / 1000
        await self._stream(send, receive, b"text/event-stream", events(), delay)

    # --- responses -------------------------------------------------------------------------

    async def _json(self, send: Send, status: int, payload: Any) -> None:
        await self._raw(send, status, b"application/json", orjson.dumps(payload))

    async def _raw(self, send: Send, status: int, content_type: bytes, body: bytes) -> None:
        headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body)), self._id_header]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _stream(
        self,
        send: Send,
        receive: Receive,
        content_type: bytes,
        events: Iterable[bytes],
        delay: float,
        complete: bool = True,
        length: int | None = None,
    ) -> None:
        """Send ``events`` as one response, ``delay`` s apart, until the client leaves. ``complete``
        False: return without ending the response, so uvicorn closes the connection mid-body."""
        headers = [(b"content-type", content_type), (b"cache-control", b"no-cache"), self._id_header]
        if length is not None:
            headers.append((b"content-length", b"%d" % length))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        # uvicorn drops writes to a closed connection silently; only receive() tells us the client left.
        gone = asyncio.Event()
        watcher = asyncio.create_task(self._watch(receive, gone))
        try:
            for event in events:
                if delay:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(gone.wait(), delay)
                else:
                    await asyncio.sleep(0)  # let a connection_lost in
                if gone.is_set():
                    self.stats.disconnects += 1
                    return
                await send({"type": "http.response.body", "body": event, "more_body": True})
            if complete:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()

    async def _garbage(self, send: Send, streaming: bool) -> None:
        if streaming:
            body = b"data: {not json at all\n\nevent: ???\n\n\xff\xfe\x00garbage\n\n"
            await self._raw(send, 200, b"text/event-stream", body)
        else:
            await self._raw(send, 200, b"application/json", b"<html>this is {not json")

    def _error(self, message: str, kind: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": kind, "param": None, "code": kind}}

    # --- control endpoints -----------------------------------------------------------------

    async def _get_stats(self, send: Send, body: bytes) -> None:
        await self._json(send, 200, {**asdict(self.stats), "config": asdict(self.config)})

    async def _set_mode(self, send: Send, body: bytes) -> None:
        try:
            self.config.update(orjson.loads(body))
        except (ValueError, TypeError, AttributeError) as exc:
            await self._json(send, 400, self._error(str(exc), "invalid_request_error"))
            return
        await self._json(send, 200, asdict(self.config))

    async def _traces(self, send: Send, body: bytes) -> None:
        """An OTLP/HTTP sink for benchmarks: counts the export requests and their bytes, answers
        an empty ``ExportTraceServiceResponse``."""
        self.stats.otlp_exports += 1
        self.stats.otlp_bytes += len(body)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/x-protobuf")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    async def _reset(self, send: Send, body: bytes) -> None:
        self.stats = Stats()
        await self._json(send, 200, asdict(self.stats))

    # --- plumbing --------------------------------------------------------------------------

    def _record(self, scope: Scope, path: str, body: bytes) -> None:
        stats = self.stats
        stats.requests += 1
        stats.paths[path] = stats.paths.get(path, 0) + 1
        stats.last_path = path
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key, val = name.decode("latin-1").lower(), value.decode("latin-1")
            headers[key] = f"{headers[key]}, {val}" if key in headers else val
        stats.last_headers = headers
        try:
            stats.last_body = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            stats.last_body = body.decode(errors="replace")

    def _parse(self, raw: bytes) -> dict[str, Any]:
        if not raw:
            return {}
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _BadRequest(f"body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise _BadRequest("body must be a JSON object")
        return body

    async def _delay(self) -> None:
        if self.config.delay_ms:
            await asyncio.sleep(self.config.delay_ms / 1000)

    def _slow_delay(self) -> float:
        return (self.config.delay_ms or 100.0) / 1000

    @staticmethod
    async def _read_body(receive: Receive) -> bytes:
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    @staticmethod
    async def _wait_disconnect(receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    async def _watch(self, receive: Receive, gone: asyncio.Event) -> None:
        await self._wait_disconnect(receive)
        gone.set()


# --- running it ------------------------------------------------------------------------------


def serve(port: int, config: Config, host: str = LOCALHOST) -> None:
    """Serve until SIGINT/SIGTERM; blocks. Hung requests get one second at shutdown."""
    import uvicorn

    app = FakeOpenAI(config, upstream_id=str(port))
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=1,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.fake_openai", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default=LOCALHOST)
    parser.add_argument("--mode", choices=MODES, default="ok")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--chunks", type=int, default=5)
    parser.add_argument("--error-status", type=int, default=500)
    parser.add_argument("--models", default="fake-model", help="comma-separated ids for GET /v1/models")
    args = parser.parse_args(argv)
    models = tuple(m for m in args.models.split(",") if m)
    serve(args.port, Config(args.mode, args.delay_ms, args.chunks, args.error_status, models), args.host)


@dataclass
class FakeUpstream:
    """A running fake upstream process and the controls a test needs."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def root_url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_stats")
        return result

    def set_mode(self, mode: str, **options: Any) -> None:
        """Switch mode (and ``delay_ms``, ``chunks``, ``error_status``) for the requests that follow."""
        self._call("POST", "/_mode", {"mode": mode, **options})

    def reset_stats(self) -> None:
        self._call("POST", "/_reset", {})

    def kill(self) -> None:
        """SIGKILL: connections drop mid-flight, as when a replica's host dies."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(5)

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else orjson.dumps(payload)
        req = urllib.request.Request(self.root_url + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=5) as resp:
            return orjson.loads(resp.read())


@contextlib.contextmanager
def run_fake_openai(
    mode: str = "ok",
    *,
    delay_ms: float = 0.0,
    chunks: int = 5,
    error_status: int = 500,
    models: Iterable[str] = ("fake-model",),
    startup_timeout: float = 15.0,
) -> Iterator[FakeUpstream]:
    """Start the fake upstream in a subprocess on a free port; stop it on exit, whatever happens."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    args = [
        *("--mode", mode, "--delay-ms", str(delay_ms), "--chunks", str(chunks)),
        *("--error-status", str(error_status), "--models", ",".join(models)),
    ]
    upstream = _start(args, startup_timeout)
    try:
        yield upstream
    finally:
        stop_process(upstream.process, timeout=5)


def _start(args: list[str], timeout: float, attempts: int = 3) -> FakeUpstream:
    for attempt in range(attempts):
        port = free_port()
        cmd = [sys.executable, "-m", "tests.support.fake_openai", "--port", str(port), *args]
        with tempfile.TemporaryFile() as log:
            process = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_for_http(f"http://{LOCALHOST}:{port}/_stats", process, timeout, log)
            except ChildExited as exc:
                if not exc.port_taken or attempt == attempts - 1:
                    raise
                continue
            except BaseException:
                stop_process(process)
                raise
        return FakeUpstream(port, process)
    raise AssertionError("unreachable")


if __name__ == "__main__":
    main()
