"""A real, scriptable in-memory backend for tests: answers like an OpenAI server, fails on demand.

Behaviour is set per replica name: ``ok`` answers, ``fail`` raises ``BackendError``, ``garbage``
raises the error a non-JSON answer would, ``hang`` waits until cancelled, ``reject`` answers 400,
``break`` streams one chunk, then fails.
Every call is recorded in ``calls`` as (replica name, operation).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import orjson

from hub.call import Call, Chunk, Operation, Result, Usage
from hub.errors import BackendError, BackendRejected
from hub.pools.replica import Replica


class FakeBackend:
    def __init__(self, chunks: int = 3) -> None:
        self.behaviour: dict[str, str] = {}
        self.calls: list[tuple[str, Operation]] = []
        self.healthy: dict[str, bool] = {}
        self.in_flight = 0
        self.closed_streams = 0
        self._chunks = chunks

    async def _enter(self, call: Call, replica: Replica) -> None:
        self.calls.append((replica.name, call.operation))
        mode = self.behaviour.get(replica.name, "ok")
        if mode == "fail":
            raise BackendError(f"Replica {replica.name} failed with HTTP 500")
        if mode == "garbage":
            raise BackendError(f"Replica {replica.name} returned a response that is not JSON")
        if mode == "reject":
            raise BackendRejected(400, None, "The model server rejected the request (HTTP 400)")
        if mode == "hang":
            await asyncio.Event().wait()

    async def run(self, call: Call, replica: Replica) -> Result:
        self.in_flight += 1
        try:
            await self._enter(call, replica)
        finally:
            self.in_flight -= 1
        body: dict[str, Any] = {
            "object": "chat.completion",
            "model": call.model,
            "replica": replica.name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        return Result(body=body, usage=Usage(1, 1), replica=replica.name)

    async def stream(self, call: Call, replica: Replica) -> AsyncGenerator[Chunk, None]:
        self.in_flight += 1
        try:
            await self._enter(call, replica)
            for i in range(self._chunks):
                delta = {"choices": [{"index": 0, "delta": {"content": f"t{i}"}}], "replica": replica.name}
                yield Chunk(orjson.dumps(delta))
                if self.behaviour.get(replica.name) == "break":
                    raise BackendError(f"Replica {replica.name} broke off the response")
                await asyncio.sleep(0)
        finally:
            self.in_flight -= 1
            self.closed_streams += 1

    async def health(self, replica: Replica) -> bool:
        return self.healthy.get(replica.name, True)

    async def aclose(self) -> None:
        return None
