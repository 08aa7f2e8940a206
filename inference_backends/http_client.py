"""The HTTP client of the backend hop, in one place.

aiohttp was chosen by measurement (shared/design/SDK-NOTES.md, re-measured by ``make bench``): behind
a one-core proxy it sustains ~2,300 req/s at concurrency 16 where httpx falls to ~260 and httpx2 to
~700. Everything aiohttp-specific, including its exception types, stays in this module.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import NoReturn

import aiohttp

from hub.errors import BackendError, BackendTimeout, ResponseTooLarge


@dataclass(frozen=True, slots=True)
class ClientTimeouts:
    connect: float
    read: float
    pool_idle: float


class Response:
    """A started response: status and headers are known, the body is read on demand.

    Everything read of the body counts against ``limit`` (the model's ``max_response_bytes``), the
    whole body at once or line by line: past it the connection is closed (it never goes back to the
    pool half-read) and ``ResponseTooLarge`` is raised; aiohttp's flow control holds no more than
    about its read size (256 KiB) beyond what was counted. A declared ``Content-Length`` past the
    bound fails before any of the body is read.
    """

    __slots__ = ("_left", "_limit", "_resp", "_who", "headers", "status")

    def __init__(self, resp: aiohttp.ClientResponse, who: str, limit: int) -> None:
        self._resp = resp
        self._who = who
        self._limit = limit
        self._left = limit
        self.status = resp.status
        self.headers = resp.headers

    async def read(self) -> bytes:
        """The whole body (decoded, when the replica compressed it)."""
        if not self.headers.get("Content-Encoding"):  # a compressed length says little of the decoded size
            length = self._resp.content_length
            if length is not None and length > self._left:
                self._too_large()
        content = self._resp.content
        blocks = []
        while block := await content.readany():
            self._count(len(block))
            blocks.append(block)
        return b"".join(blocks)

    async def lines(self) -> AsyncIterator[bytes]:
        """The body's lines as they arrive, without their ``\n`` (a ``\r`` before it stays). Counted
        line by line, so a stream fails at the line that crosses the bound, whatever the network
        reads were; no limit on one line but that (aiohttp's ``readline`` refuses lines past 512 KiB)."""
        content = self._resp.content
        partial: list[bytes] = []  # the start of a line whose end has not arrived yet
        pending = 0  # its length
        while block := await content.readany():
            if b"\n" not in block:
                partial.append(block)
                pending += len(block)
                if pending > self._left:
                    self._too_large()
                continue
            lines = block.split(b"\n")
            if partial:
                partial.append(lines[0])
                lines[0] = b"".join(partial)
                partial = []
            tail = lines.pop()
            pending = len(tail)
            if tail:
                partial.append(tail)
            for line in lines:
                self._left -= len(line) + 1
                if self._left < 0:
                    self._too_large()
                yield line
        if partial:
            self._count(pending)
            yield b"".join(partial)

    def close(self) -> None:
        """Drop the connection; the replica sees the client go away and can stop generating."""
        self._resp.close()

    def release(self) -> None:
        self._resp.release()

    def _count(self, size: int) -> None:
        self._left -= size
        if self._left < 0:
            self._too_large()

    def _too_large(self) -> NoReturn:
        self.close()
        raise ResponseTooLarge(
            f"Replica {self._who} sent more than max_response_bytes ({self._limit} bytes) in one answer"
        )


class HttpClient:
    """Pooled keep-alive connections to the replicas of one model; no answer read past
    ``max_response_bytes`` (``Response``)."""

    def __init__(self, timeouts: ClientTimeouts, max_response_bytes: int) -> None:
        self._timeouts = timeouts
        self._max_response_bytes = max_response_bytes
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.connect, sock_read=timeouts.read
        )
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily: a ClientSession must be born inside the running event loop.
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=0, keepalive_timeout=self._timeouts.pool_idle, enable_cleanup_closed=True
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                auto_decompress=True,
                skip_auto_headers=["User-Agent"],
            )
        return self._session

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], who: str) -> Response:
        return await self._request("POST", url, body, headers, who)

    async def get(self, url: str, headers: Mapping[str, str], who: str, limit_s: float) -> Response:
        return await self._request("GET", url, None, headers, who, aiohttp.ClientTimeout(total=limit_s))

    async def _request(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        who: str,
        limits: aiohttp.ClientTimeout | None = None,
    ) -> Response:
        try:
            resp = await self._get_session().request(
                method, url, data=body, headers=headers, timeout=limits or self._timeout
            )
        except TimeoutError:
            raise BackendTimeout(f"Replica {who} did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise BackendError(f"Could not reach replica {who} ({type(exc).__name__})") from None
        return Response(resp, who, self._max_response_bytes)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def read_whole(resp: Response, who: str) -> bytes:
    """``resp``'s body; a transport failure while reading closes it and becomes the hub's error."""
    try:
        return await resp.read()
    except BaseException as exc:
        resp.close()
        raise translate_read_error(exc, who) or exc from None


def translate_read_error(exc: BaseException, who: str) -> BackendError | BackendTimeout | None:
    """Map an error raised while reading a body to the hub's tree; None if it is not a transport error."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return BackendTimeout(f"Replica {who} stopped sending in time")
    if isinstance(exc, aiohttp.ClientError):
        return BackendError(f"Replica {who} broke off the response ({type(exc).__name__})")
    return None
