"""Runs an in-process model behind the ``InferenceBackend`` protocol.

Model code is blocking (llama.cpp, numpy, scikit-learn), so every call runs on the model's own worker
threads and the event loop only waits. The model loads lazily on first use, once, with a log line.

A call's input is measured against the model's ``InputBounds`` before anything else (the model is not
even loaded for a call it would refuse). A call whose awaiting side is cancelled (the router's deadline,
a caller that left) sets its ``cancel`` event, and the model stops at its next check: the worker is
free for the next call within one chunk of work, not after the abandoned call's whole input.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from hub.call import Call, Chunk, Result, Usage
from hub.errors import BackendError, HubError
from hub.model_settings import ModelSettings
from hub.pools.replica import Replica
from inference_backends.local.base import Cancelled, LocalModel
from inference_backends.local.bounds import InputBounds

log = logging.getLogger("hub.local")

ModelFactory = Callable[[Mapping[str, Any]], LocalModel]
_END = object()


class LocalBackend:
    def __init__(self, settings: ModelSettings, factory: ModelFactory, bounds: InputBounds) -> None:
        self._name = settings.name
        self._options = settings.options
        self._factory = factory
        self._bounds = bounds.configured(settings.name, settings.options)
        # One thread by default: most small models are not re-entrant (llama.cpp contexts are not).
        threads = int(settings.options.get("threads", 1))
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"model-{settings.name}")
        self._model: LocalModel | None = None
        self._loading: asyncio.Future[LocalModel] | None = None
        self._load_error: str | None = None

    async def _ready(self) -> LocalModel:
        if self._model is not None:
            return self._model
        # One load, in a task of its own: a caller whose deadline passes during a load stops waiting,
        # and the load goes on for the next caller (cancelled with each short deadline, a load longer
        # than the deadline would never finish).
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._load())
            # Read here too: with every waiter gone, a failed load would be "never retrieved".
            self._loading.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._model = await asyncio.shield(self._loading)
        return self._model

    async def _load(self) -> LocalModel:
        if self._load_error is not None:
            raise BackendError(self._load_error)
        log.info("loading model %s ...", self._name)
        started = time.perf_counter()
        try:
            model = self._factory(self._options)
            await self._in_thread(model.load)
        except HubError:
            raise
        except Exception as exc:  # a model that cannot load must fail its calls, not the hub
            self._load_error = f"Model '{self._name}' could not be loaded ({type(exc).__name__})"
            log.error("%s: %s", self._load_error, exc)
            raise BackendError(self._load_error) from None
        log.info("model %s loaded in %.1f s", self._name, time.perf_counter() - started)
        return model

    async def _in_thread(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def preload(self) -> None:
        await self._ready()

    async def run(self, call: Call, replica: Replica) -> Result:
        self._bounds.check(self._name, call.operation, call.payload)
        model = await self._ready()
        cancel = threading.Event()
        try:
            body = await self._in_thread(
                lambda: _guard(self._name, lambda: model.run(call.operation, call.payload, cancel))
            )
        finally:
            cancel.set()  # a no-op after an answer; after a deadline, the model stops at its next check
        return Result(body=body, usage=Usage.from_openai(body.get("usage")), replica=replica.name)

    async def stream(self, call: Call, replica: Replica) -> AsyncGenerator[Chunk, None]:
        self._bounds.check(self._name, call.operation, call.payload)
        model = await self._ready()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()

        def produce() -> None:
            try:
                for item in _guard_iter(
                    self._name, lambda: model.stream(call.operation, call.payload, cancel)
                ):
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                    if cancel.is_set():
                        break
            except HubError as exc:
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            except Cancelled:
                pass  # nobody reads the queue any more
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _END)

        loop.run_in_executor(self._executor, produce)
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, HubError):
                    raise item
                yield Chunk(orjson.dumps(item), Usage.from_openai(item.get("usage")))
        finally:
            cancel.set()  # the caller left or the stream ended: the model thread stops at its next token

    async def health(self, replica: Replica) -> bool:
        return self._load_error is None

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _guard(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return fn()
    except (HubError, Cancelled):
        raise
    except Exception as exc:
        log.exception("model %s failed", name)
        raise BackendError(f"Model '{name}' failed ({type(exc).__name__})") from None


def _guard_iter(name: str, start: Callable[[], Iterator[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    try:
        yield from start()
    except (HubError, Cancelled):
        raise
    except Exception as exc:
        log.exception("model %s failed", name)
        raise BackendError(f"Model '{name}' failed ({type(exc).__name__})") from None
