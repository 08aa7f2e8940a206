"""The contract of an in-process model of the embedded pool.

Models are plain blocking Python: the ``LocalBackend`` runs every method on a worker thread, so a slow
model never stalls the event loop. A model is used by one thread at a time unless it says otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from hub.call import Operation


class LocalModel(Protocol):
    """A model that runs in the hub's own process.

    ``load`` is called once, on a worker thread, before the first ``run`` or ``stream``; it may take
    seconds. ``run`` returns the response body in the task's shape (OpenAI's shape for chat, completion
    and embed; ``hub.tasks`` for the others). ``stream`` yields OpenAI ``chat.completion.chunk`` dicts
    and must stop soon after ``cancel`` is set. Invalid input raises ``hub.errors.BadRequest`` naming the
    field; nothing else is raised on purpose.
    """

    def load(self) -> None: ...

    def run(self, operation: Operation, payload: Mapping[str, Any]) -> dict[str, Any]: ...

    def stream(
        self, operation: Operation, payload: Mapping[str, Any], cancel: threading.Event
    ) -> Iterator[dict[str, Any]]: ...
