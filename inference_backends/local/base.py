"""The contract of an in-process model of the embedded pool.

Models are plain blocking Python: the ``LocalBackend`` runs every method on a worker thread, so a slow
model never stalls the event loop. A model is used by one thread at a time unless it says otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from hub.call import Operation


class Cancelled(Exception):
    """A model stopped because its caller no longer waits (deadline passed, caller left).

    Nobody reads the result of such a call: the backend lets it end quietly.
    """


def stop_if_cancelled(cancel: threading.Event | None) -> None:
    """Raise ``Cancelled`` once ``cancel`` is set: called by models between chunks of their work."""
    if cancel is not None and cancel.is_set():
        raise Cancelled


class LocalModel(Protocol):
    """A model that runs in the hub's own process.

    ``load`` is called once, on a worker thread, before the first ``run`` or ``stream``; it may take
    seconds. ``run`` returns the response body in the task's shape (OpenAI's shape for chat, completion
    and embed; ``hub.tasks`` for the others); once ``cancel`` is set it must stop soon (between items,
    batches, sentences or tokens) by raising ``Cancelled``, so the worker thread is free for the next
    call. ``stream`` yields OpenAI ``chat.completion.chunk`` dicts and must stop soon after ``cancel`` is
    set. Invalid input raises ``hub.errors.BadRequest`` naming the field; nothing else is raised on
    purpose.
    """

    def load(self) -> None: ...

    def run(
        self, operation: Operation, payload: Mapping[str, Any], cancel: threading.Event | None = None
    ) -> dict[str, Any]: ...

    def stream(
        self, operation: Operation, payload: Mapping[str, Any], cancel: threading.Event
    ) -> Iterator[dict[str, Any]]: ...
