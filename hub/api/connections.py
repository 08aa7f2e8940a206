"""The HTTP/1.1 connection under ``hub serve``: uvicorn's httptools protocol with bounds it lacks.

uvicorn's httptools protocol accepts a request head of any size (llhttp hands over each header whole,
so the parser holds all of it), waits for a head or a body forever, and closes only connections that
were idle after a response. ``HubHttpProtocol`` adds, per connection:

* **head size**: the bytes of the request line and headers (``max_header_bytes``) are counted as they
  arrive, before the parser keeps them; one more gets ``431`` and the connection is closed;
* **head time**: a request head begun must be whole within ``header_timeout`` (a client sending a
  byte at a time); else ``408`` and close;
* **body time**: a body must be whole within ``body_timeout`` of its head; else ``408`` and close;
* **idle time**: a connection with no request yet closes after ``keep_alive_timeout``, as uvicorn
  already closes one idle after a response;
* **connections**: beyond ``max_connections`` open ones, a new connection gets ``503`` and is closed.

The common request (its head and body in one read) costs a length check and a few attribute reads;
no timer is armed for it. Refusals are written on the socket directly, in the hub's JSON error shape,
since no request reached the app.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

LINGER = 2.0  # seconds a refused connection is drained before it is closed
_feed = HttpToolsProtocol.data_received  # uvicorn's, called directly: super() costs every read


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_header_bytes: int
    header_timeout: float
    body_timeout: float
    keep_alive_timeout: float
    max_connections: int


def refusal(status: int, code: str, message: str) -> bytes:
    """A whole ``Connection: close`` response in the HTTP door's error shape."""
    body = orjson.dumps(
        {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    )
    head = b"content-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n" % len(body)
    return STATUS_LINE[status] + head + body


class HubHttpProtocol(HttpToolsProtocol):
    """Built for one server by ``protocol_class``; uvicorn makes one per connection."""

    limits: ClassVar[ConnectionLimits]
    head_too_large: ClassVar[bytes]
    head_timed_out: ClassVar[bytes]
    body_timed_out: ClassVar[bytes]
    too_many: ClassVar[bytes]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # uvicorn's Config takes whole seconds; call_later takes any
        self.timeout_keep_alive = self.limits.keep_alive_timeout  # type: ignore[assignment]
        self._head_bytes = 0  # of the head being read (or about to be)
        self._deadline: asyncio.TimerHandle | None = None  # the head's or the body's, when one is due
        self._deadline_for_head = False
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refused = True
            self.connections.discard(self)
            _close(self.loop, transport, self.too_many)
            return
        # Idle until its first byte, as between requests (uvicorn arms this only after a response).
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._clear_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope and cycle.more_body:
            _feed(self, data)  # a body: bounded by max_body_bytes in the app, and in time here
        else:
            room = self.limits.max_header_bytes - self._head_bytes
            if len(data) > room:
                self._beyond(data, room)
                return
            self._head_bytes += len(data)
            _feed(self, data)
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope and not cycle.more_body and self._deadline is None:
            self._head_bytes = 0  # the request is whole, nothing was due (the common case)
            return
        self._watch()

    def _beyond(self, data: bytes, room: int) -> None:
        """``data`` holds more than the head may still take: feed what fits; if the head is still not
        whole, it is too large."""
        self._head_bytes += room
        _feed(self, data[:room])
        if self.transport.is_closing():
            return
        if self._in_head():
            self._refuse(self.head_too_large)
            return
        self._head_bytes = 0
        self.data_received(data[room:])

    def _in_head(self) -> bool:
        """A request head has begun and is not whole yet (uvicorn makes the cycle when it is)."""
        return self.scope is not None and (self.cycle is None or self.cycle.scope is not self.scope)

    def _watch(self) -> None:
        """Arms the deadline the connection's state calls for, once (a head's from its first read, a
        body's from its head's end); clears one no longer due."""
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope and not cycle.more_body:
            self._head_bytes = 0  # the request is whole (the common case): nothing to time
            if self._deadline is not None:
                self._clear_deadline()
            return
        if self.transport.is_closing():
            return
        if self._in_head():
            if self._deadline is not None and not self._deadline_for_head:
                self._clear_deadline()  # a body ended and the next (pipelined) head began
            if self._deadline is None:
                self._deadline = self.loop.call_later(self.limits.header_timeout, self._head_late)
                self._deadline_for_head = True
            return
        self._head_bytes = 0
        if self._deadline is not None and self._deadline_for_head:
            self._clear_deadline()
        if cycle is not None and cycle.more_body:
            if self._deadline is None:
                self._deadline = self.loop.call_later(self.limits.body_timeout, self._body_late)
                self._deadline_for_head = False
        elif self._deadline is not None:
            self._clear_deadline()

    def _clear_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_late(self) -> None:
        cycle = self.cycle  # a previous request's, when this head is not the connection's first
        self._refuse(self.head_timed_out if cycle is None or cycle.response_complete else None)

    def _body_late(self) -> None:
        cycle = self.cycle
        assert cycle is not None
        if not cycle.response_started:
            cycle.disconnected = True  # the app, reading the body, hears the client leave
            cycle.message_event.set()
            self._refuse(self.body_timed_out)
        else:
            self._refuse(None)

    def _refuse(self, response: bytes | None) -> None:
        """Answer ``response`` (None: a response has begun on this connection) and close."""
        self._clear_deadline()
        self._refused = True
        _close(self.loop, self.transport, response)


def _close(loop: asyncio.AbstractEventLoop, transport: asyncio.Transport, response: bytes | None) -> None:
    """Close after ``response``, lingering: the write side is shut at once and what the client still
    sends is read and dropped (``data_received`` ignores it) until it closes too, for at most
    ``LINGER`` seconds. Closing with unread data would send a reset, which can destroy the response
    before the client reads it."""
    if transport.is_closing():
        return
    if response is None or not transport.can_write_eof():
        if response is not None:
            transport.write(response)
        transport.close()
        return
    transport.write(response)
    transport.write_eof()
    loop.call_later(LINGER, transport.close)


def protocol_class(limits: ConnectionLimits) -> type[HubHttpProtocol]:
    """``HubHttpProtocol`` bound to ``limits`` (uvicorn constructs the protocol itself)."""
    attributes = {
        "limits": limits,
        "head_too_large": refusal(
            431,
            "request_header_fields_too_large",
            f"The request line and headers are larger than the limit of {limits.max_header_bytes} bytes",
        ),
        "head_timed_out": refusal(
            408, "request_timeout", f"The request headers did not arrive within {limits.header_timeout:g} s"
        ),
        "body_timed_out": refusal(
            408, "request_timeout", f"The request body did not arrive within {limits.body_timeout:g} s"
        ),
        "too_many": refusal(
            503, "too_many_connections", "The hub has too many open connections; retry later"
        ),
    }
    return type("BoundHubHttpProtocol", (HubHttpProtocol,), attributes)
