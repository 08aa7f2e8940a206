"""The one interface between the router and whatever runs a model."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol

from hub.call import Call, Chunk, Result
from hub.pools.replica import Replica


class InferenceBackend(Protocol):
    """Runs calls for one model on the replica the router chose.

    Contract: many calls run concurrently on one backend. ``run`` returns a unary result; ``stream``
    is an async generator of chunks that the consumer exhausts or closes: closing it early (the caller
    went away) cancels the request on the replica. Both raise ``BackendError`` when the replica fails
    or answers garbage, ``BackendTimeout`` when it is too slow, ``BackendRejected`` when it refuses the
    request with a 4xx, and ``BadRequest`` for input the model cannot take. ``health`` never raises: it
    answers whether the replica can take work now. ``aclose`` releases pooled connections and threads.
    """

    async def run(self, call: Call, replica: Replica) -> Result: ...

    def stream(self, call: Call, replica: Replica) -> AsyncGenerator[Chunk, None]: ...

    async def health(self, replica: Replica) -> bool: ...

    async def aclose(self) -> None: ...
