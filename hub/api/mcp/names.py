"""Tool names for model names.

MCP tool names should match ``^[A-Za-z0-9_.-]{1,128}$``; model names may also hold ``:`` and ``/``
(``qwen2.5:7b``, ``meta-llama/Llama-3.1-8B``) but never ``_`` (``hub.settings.model_name_problem``, the
one rule for model names). The mapping is deterministic and readable:

1. a model name that is already a valid tool name is used as it is;
2. otherwise ``:`` and ``/`` become ``_`` (``qwen2.5_7b``);
3. a rewritten name that would collide with another model's rewritten name (``a:b`` and ``a/b``), or
   that is longer than 128 characters, gets ``-`` and the first 8 hex digits of the SHA-256 of the
   model name appended (after cutting it to fit).

So a tool name holds ``_`` only where the model name held ``:`` or ``/``, and no tool name of a model is
another model's name as written. The hub's own tools are named ``hub_...``: a model name that would map
there (``hub:feedback``, ``hub/x``) is refused by the settings, and by this mapping too.

The tool's ``_meta["hub/model"]`` and its resource URI carry the exact model name, so clients never have
to invert the mapping.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable

from hub.model_settings import model_name_problem

MAX_LENGTH = 128
_VALID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_INVALID_CHAR = re.compile(r"[^A-Za-z0-9_.-]")

FEEDBACK_TOOL = "hub_feedback"


def is_valid(name: str) -> bool:
    return _VALID.match(name) is not None


def _suffixed(base: str, model: str) -> str:
    digest = hashlib.sha256(model.encode()).hexdigest()[:8]
    return f"{base[: MAX_LENGTH - 9]}-{digest}"


def tool_names(models: Iterable[str]) -> dict[str, str]:
    """Tool name by model name, for a whole pool at once (collisions depend on the other names).
    Raises ValueError for a name that is not a model name."""
    models = list(models)
    for model in models:
        problem = model_name_problem(model)
        if problem is not None:
            raise ValueError(f"model name {model!r}: {problem}")
    plain = {model: _INVALID_CHAR.sub("_", model) for model in models}
    counts = Counter(plain.values())
    names: dict[str, str] = {}
    for model, name in plain.items():
        if is_valid(model):
            names[model] = model
        elif counts[name] > 1 or len(name) > MAX_LENGTH:
            names[model] = _suffixed(name, model)
        else:
            names[model] = name
    if len(set(names.values())) != len(names):  # only a SHA-256 prefix clash could get here
        raise ValueError("two models map to the same MCP tool name; rename one of them")
    return names
