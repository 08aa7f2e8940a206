"""The end of the pipeline: pick a replica, call the backend, fail over while that is still safe.

Failover happens only before the caller has seen a byte: for a unary call, until the backend answers;
for a stream, until its first chunk arrives. After that an error ends the stream; nothing is retried,
because the caller already holds part of an answer.

The call's deadline passing is not the replica's failure: the deadline is the caller's budget (its own,
or the hub's ``server.request_timeout``), and a call larger than its budget says nothing about the
replica. Outlier detection counts only what the replica did wrong: refused connections, 5xx, garbage,
and the backend's own timeouts (``timeouts.connect``/``read``: the replica's silence).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

from hub.call import Call, Chunk, Result
from hub.errors import BackendError, BackendTimeout, BadRequest, HubError, ResponseTooLarge, retryable
from hub.pools.replica import Replica
from hub.registry import ModelEntry, Registry
from hub.tracing.attempt import AttemptTracer
from hub.tracing.seam import Tracer


class Router:
    """The pipeline's terminal handler (``Next``)."""

    def __init__(self, registry: Registry, tracer: Tracer | None = None) -> None:
        self._registry = registry
        # A CLIENT span per attempt, and its trace context to the backend (hub.tracing.attempt);
        # None (tracing off): attempts run bare.
        self._attempts = None if tracer is None else AttemptTracer(tracer)

    async def __call__(self, call: Call) -> Result:
        entry = self._registry.get(call.model)
        if not entry.serves(call.operation):
            raise BadRequest(
                f"Model '{call.model}' is a {entry.settings.task} model and does not serve "
                f"'{call.operation}' requests",
                param="model",
            )
        tried: list[Replica] = []
        last: HubError | None = None
        for _ in range(1 + entry.settings.max_retries):
            try:
                replica = entry.pool.pick(call, tried)
            except HubError:
                if last is not None:
                    raise last from None
                raise
            tried.append(replica)
            try:
                runner = _open_stream if call.stream else _run
                attempts = self._attempts
                if attempts is None:
                    return await runner(entry, replica, call)
                span = attempts.start(entry, replica, call, len(tried))
                try:
                    result = await runner(entry, replica, call)
                except BaseException as exc:
                    attempts.failed(span, exc)
                    raise
                return attempts.answered(span, result)
            except HubError as error:
                if not retryable(error):
                    raise
                last = error
        assert last is not None
        raise last


def _remaining(call: Call) -> float | None:
    return None if call.deadline is None else call.deadline - time.monotonic()


def _failed(entry: ModelEntry, replica: Replica, error: HubError) -> None:
    # An answer past max_response_bytes is the request's size, not the replica's health.
    if isinstance(error, BackendError | BackendTimeout) and not isinstance(error, ResponseTooLarge):
        entry.pool.outlier.failure(replica)


async def _run(entry: ModelEntry, replica: Replica, call: Call) -> Result:
    pool = entry.pool
    await pool.acquire(replica)
    try:
        async with asyncio.timeout(_remaining(call)):
            result = await entry.backend.run(call, replica)
    except TimeoutError:
        raise BackendTimeout(f"Model '{call.model}' did not answer within the request deadline") from None
    except HubError as error:
        _failed(entry, replica, error)
        raise
    finally:
        pool.release(replica)
    pool.outlier.success(replica)
    return result


async def _open_stream(entry: ModelEntry, replica: Replica, call: Call) -> Result:
    pool = entry.pool
    await pool.acquire(replica)
    chunks = entry.backend.stream(call, replica)
    try:
        async with asyncio.timeout(_remaining(call)):
            first = await anext(chunks, None)
    except BaseException as error:
        await chunks.aclose()
        pool.release(replica)
        if isinstance(error, TimeoutError):
            raise BackendTimeout(f"Model '{call.model}' did not start answering in time") from None
        if isinstance(error, HubError):
            _failed(entry, replica, error)
        raise
    return Result(chunks=_relay(entry, replica, call, first, chunks), replica=replica.name)


async def _relay(
    entry: ModelEntry, replica: Replica, call: Call, first: Chunk | None, chunks: AsyncGenerator[Chunk, None]
) -> AsyncGenerator[Chunk, None]:
    """Hand on the stream; the replica's slot is held until the stream ends, however it ends."""
    ok = False
    try:
        if first is not None:
            yield first
            async with asyncio.timeout(_remaining(call)):
                async for chunk in chunks:
                    yield chunk
        ok = True
    except TimeoutError:
        raise BackendTimeout(f"Model '{call.model}' did not finish within the request deadline") from None
    except HubError as error:
        _failed(entry, replica, error)
        raise
    finally:
        await chunks.aclose()
        entry.pool.release(replica)
        if ok:
            entry.pool.outlier.success(replica)
