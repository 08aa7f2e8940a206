"""``ConfigError`` and the one form of its message: the source, then one ``  key: problem`` line each.

Pydantic's errors, the backends' refusals of a model's options and the checks across sections all
come out in this form, and an unknown key names the closest known key of its section.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError


class ConfigError(Exception):
    """A configuration that cannot be used; the message names the source, each wrong key and what was
    expected (``invalid`` formats it)."""


class ModelOptionError(ConfigError):
    """A backend refuses a model's settings; ``key`` is relative to the model (``options.model``), and
    the registry reports it under the model's place in the file."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def invalid(source: str, problems: Iterable[tuple[str, str]]) -> ConfigError:
    """The one form of a configuration error: the source, then ``  key: what is wrong`` per problem."""
    lines = [f"{source}: invalid configuration"]
    lines += [f"  {where}: {message}" for where, message in problems]
    return ConfigError("\n".join(lines))


def describe(exc: ValidationError, source: str, root: type[BaseModel]) -> str:
    """``exc`` in the one form; ``root`` is the settings class the whole file validates against."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = _unknown_key(root, err["loc"])
        elif err["type"] == "value_error":  # our own validators' words, without pydantic's "Value error, "
            message = str(err.get("ctx", {}).get("error", message))
        problems.append((where, message))
    return str(invalid(source, problems))


def _unknown_key(root: type[BaseModel], loc: Sequence[int | str]) -> str:
    known = _keys_at(root, loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    if close:
        return f"unknown key: did you mean '{close[0]}'?"
    return f"unknown key: expected one of {', '.join(known)}" if known else "unknown key"


def _keys_at(node: Any, loc: Sequence[int | str]) -> list[str]:
    """The keys the settings class at ``loc`` (a pydantic error location) accepts."""
    for part in loc:
        node = _inner(node, part)
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [name for name, field in node.model_fields.items() if not field.exclude]
    return []


def _inner(node: Any, part: int | str) -> Any:
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        field = node.model_fields.get(str(part))
        return None if field is None else field.annotation
    args = get_args(node)
    if get_origin(node) in (tuple, list) and args:
        return args[0]
    if get_origin(node) is dict and len(args) == 2:
        return args[1]
    return None


def _unwrap(node: Any) -> Any:
    """``X`` from ``Annotated[X, ...]`` and ``X | None``."""
    while True:
        if get_origin(node) is Annotated:
            node = get_args(node)[0]
        elif get_origin(node) in (Union, types.UnionType):
            members = [arg for arg in get_args(node) if arg is not type(None)]
            if len(members) != 1:
                return node
            node = members[0]
        else:
            return node
