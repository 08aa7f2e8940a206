"""The defaults stage: a model's configured request defaults (``models[].defaults``) for the fields a
chat or completion call leaves out, whatever door the call came through.

A caller that sets a field keeps its value: ``max_tokens`` counts as set when the call carries
``max_tokens`` or ``max_completion_tokens`` (OpenAI's newer name for the same cap). A field sent as
``null`` counts as left out, as OpenAI reads it. The stage never refuses a call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from hub.call import Call, Operation, Result
from hub.model_settings import ModelSettings
from hub.pipeline import Next

_GENERATING = frozenset({Operation.CHAT, Operation.COMPLETION})
# Request fields that set the same thing as a default's field.
_ALSO_SETS: Mapping[str, tuple[str, ...]] = {"max_tokens": ("max_tokens", "max_completion_tokens")}


# One default: the field it fills in, its value, and the request fields any of which, set, leave it out.
_Default = tuple[str, Any, tuple[str, ...]]


class DefaultsStage:
    def __init__(self, defaults: Mapping[str, Mapping[str, Any]]) -> None:
        self._defaults: Mapping[str, tuple[_Default, ...]] = MappingProxyType(
            {
                model: tuple((name, value, _ALSO_SETS.get(name, (name,))) for name, value in fields.items())
                for model, fields in defaults.items()
            }
        )

    async def __call__(self, call: Call, next: Next) -> Result:
        defaults = self._defaults.get(call.model)
        if defaults is not None and call.operation in _GENERATING:
            missing = _missing(call.payload, defaults)
            if missing:
                call = call.evolve(payload={**call.payload, **missing})
        return await next(call)


def _missing(payload: Mapping[str, Any], defaults: tuple[_Default, ...]) -> dict[str, Any]:
    missing: dict[str, Any] = {}
    for name, value, fields in defaults:
        for field in fields:
            if payload.get(field) is not None:
                break
        else:
            missing[name] = value
    return missing


def defaults_stage(models: Iterable[ModelSettings]) -> DefaultsStage | None:
    """The stage for these models, or None when none has a default (a hub without any pays nothing)."""
    defaults = {model.name: model.defaults.fields() for model in models if model.defaults.fields()}
    return DefaultsStage(defaults) if defaults else None
