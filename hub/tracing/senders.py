"""Where an encoded OTLP request goes: a collector over HTTP/protobuf or gRPC, or memory (tests).

``Sender`` is the interface the exporter uses; ``send`` raises on any failure (``ExportRejected`` for a
collector's refusal). The configured headers usually carry the collector's credentials: they are read
out of their ``SecretStr`` in ``build_sender`` and kept only inside the sender, never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp

from hub.tracing.settings import OTLPSettings

TRACES_PATH = "/v1/traces"
GRPC_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
PROTOBUF = "application/x-protobuf"


class ExportRejected(Exception):
    """The collector answered, but not with success: ``status`` is its HTTP status or gRPC code name."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class Sender(Protocol):
    async def send(self, body: bytes) -> None: ...

    async def close(self) -> None: ...


class MemorySender:
    """Keeps what it is sent; ``failing`` makes it refuse (a collector that is down)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.failing = False

    async def send(self, body: bytes) -> None:
        if self.failing:
            raise ExportRejected("503")
        self.bodies.append(body)

    async def close(self) -> None:
        return None


class HttpSender:
    """``POST {endpoint}/v1/traces`` with ``content-type: application/x-protobuf``, over aiohttp."""

    def __init__(self, url: str, headers: Mapping[str, str]) -> None:
        self._url = url
        self._headers = {"content-type": PROTOBUF, **headers}
        self._session: aiohttp.ClientSession | None = None

    async def send(self, body: bytes) -> None:
        if self._session is None:  # born inside the running loop
            self._session = aiohttp.ClientSession(skip_auto_headers=["User-Agent"])
        async with self._session.post(self._url, data=body, headers=self._headers) as response:
            await response.read()
            if response.status >= 300:
                raise ExportRejected(str(response.status))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class GrpcSender:
    """A unary ``TraceService/Export`` call with ``grpc.aio``, the request already encoded (no
    serializer: the bytes go as they are). ``https://`` endpoints use TLS."""

    def __init__(self, endpoint: str, headers: Mapping[str, str], timeout: float) -> None:
        url = urlsplit(endpoint)
        self._target = url.netloc
        self._secure = url.scheme == "https"
        self._metadata = tuple((name.lower(), value) for name, value in headers.items())
        self._timeout = timeout
        self._channel: Any = None
        self._export: Any = None

    async def send(self, body: bytes) -> None:
        import grpc  # a large native library: loaded only when gRPC export is configured

        if self._channel is None:  # born inside the running loop
            if self._secure:
                self._channel = grpc.aio.secure_channel(self._target, grpc.ssl_channel_credentials())
            else:
                self._channel = grpc.aio.insecure_channel(self._target)
            self._export = self._channel.unary_unary(
                GRPC_METHOD, request_serializer=None, response_deserializer=None
            )
        try:
            await self._export(body, timeout=self._timeout, metadata=self._metadata)
        except grpc.aio.AioRpcError as error:
            raise ExportRejected(error.code().name) from None

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()


def traces_url(endpoint: str) -> str:
    """OTLP/HTTP's convention: a base URL gets the signal's path; a URL that names it is kept."""
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def build_sender(settings: OTLPSettings) -> Sender:
    headers = {name: value.get_secret_value() for name, value in settings.headers.items()}
    if settings.protocol == "grpc":
        return GrpcSender(settings.endpoint, headers, settings.timeout)
    return HttpSender(traces_url(settings.endpoint), headers)
