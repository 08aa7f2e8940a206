"""The pool of models by name, built from settings: each model's replicas, router state and backend."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from hub.call import Operation
from hub.config_errors import ModelOptionError, invalid
from hub.errors import ModelNotFound
from hub.model_settings import ModelSettings
from hub.pools.pool import Clock, ReplicaPool, build_pool
from hub.settings import Settings
from hub.tasks.specs import SERVES
from inference_backends.base import InferenceBackend

BackendFactory = Callable[[ModelSettings], InferenceBackend]


@dataclass(frozen=True, slots=True)
class ModelEntry:
    settings: ModelSettings
    pool: ReplicaPool
    backend: InferenceBackend

    @property
    def name(self) -> str:
        return self.settings.name

    def serves(self, operation: Operation) -> bool:
        return operation in SERVES[self.settings.task]


class Registry:
    def __init__(self, entries: Mapping[str, ModelEntry]) -> None:
        self._entries = dict(entries)

    def get(self, name: str) -> ModelEntry:
        entry = self._entries.get(name)
        if entry is None:
            raise ModelNotFound(name)
        return entry

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    async def aclose(self) -> None:
        for entry in self._entries.values():
            await entry.backend.aclose()


def _local_backend(settings: ModelSettings) -> InferenceBackend:
    from inference_backends.local.backend import LocalBackend
    from inference_backends.local.models import local_kinds

    name = settings.options.get("model")
    kinds = local_kinds()
    kind = kinds.get(name) if isinstance(name, str) else None
    if kind is None:
        raise ModelOptionError("options.model", f"expected one of {', '.join(kinds)}, got {name!r}")
    if settings.task not in kind.tasks:
        serves = " or ".join(sorted(task.value for task in kind.tasks))
        raise ModelOptionError(
            "task", f"'{settings.task.value}' is not a task of options.model '{name}', which serves {serves}"
        )
    return LocalBackend(settings, kind.factory, kind.bounds)


def _openai_backend(settings: ModelSettings) -> InferenceBackend:
    from inference_backends.openai_compat import OpenAICompatBackend

    return OpenAICompatBackend(settings)


def _a2a_backend(settings: ModelSettings) -> InferenceBackend:
    from inference_backends.a2a_agent import A2AAgentBackend

    return A2AAgentBackend(settings)


def backend_factories() -> Mapping[str, BackendFactory]:
    """Backends by the ``backend:`` key of a model's settings."""
    return {"openai": _openai_backend, "local": _local_backend, "a2a": _a2a_backend}


def build_registry(
    settings: Settings,
    factories: Mapping[str, BackendFactory] | None = None,
    clock: Clock = time.monotonic,
) -> Registry:
    factories = backend_factories() if factories is None else factories
    entries: dict[str, ModelEntry] = {}
    for index, model in enumerate(settings.models):
        try:
            backend = factories[model.backend](model)
        except ModelOptionError as exc:  # reported at the model's place in the file, like pydantic's
            raise invalid(settings.source, [(f"models.{index}.{exc.key}", exc.message)]) from None
        entries[model.name] = ModelEntry(model, build_pool(model, clock), backend)
    return Registry(entries)
