"""The model the router agent runs for a message whose metadata names none.

A generic A2A peer knows nothing of Hub's ``hub.model`` metadata: it reads the card and sends words.
Such a message goes to ``a2a.default_model`` when set (a chat model, ``hub.settings`` checks), else
to the first chat model of the pool that the caller may use (on a hub without auth: the pool's first
chat model). Only a caller who may use no chat model at all is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from hub.call import Identity, Operation
from hub.registry import Registry

DEFAULT_SETTING = "a2a.default_model"


class RouterDefault:
    """``for_caller``: the default model for a caller (None: it has no chat model to use);
    ``among``: the default when the caller may use ``names`` (what its card says)."""

    def __init__(
        self, registry: Registry, configured: str | None, visible: Callable[[Identity, str], bool]
    ) -> None:
        self._configured = configured
        self._visible = visible
        self._chat = tuple(entry.name for entry in registry if entry.settings.task is Operation.CHAT)

    def for_caller(self, caller: Identity) -> str | None:
        # A configured default the caller may not use is still its default: the policy refuses it,
        # as it refuses any model the caller names.
        if self._configured is not None:
            return self._configured
        return next((name for name in self._chat if self._visible(caller, name)), None)

    def among(self, names: Collection[str]) -> str | None:
        if self._configured is not None:
            return self._configured if self._configured in names else None
        return next((name for name in self._chat if name in names), None)
