"""Which models a caller may use: glob patterns per team (``auth.teams.<team>.models``) and per key
(``hub keys create --models``); when both exist, a model must match both (the intersection).

Patterns are ``fnmatch`` globs, case-sensitive; ``*`` also crosses ``/`` (``org/*`` matches
``org/a/b``). Teams not listed use ``auth.default_models``; callers without credentials, where they are
allowed, use ``auth.anonymous_models`` (without an ``auth:`` section: every model).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping

from hub.call import Identity

_MAX_DECISIONS = 65_536


def _compile(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for a set of globs; None for an empty set (which matches nothing)."""
    parts = [fnmatch.translate(p) for p in patterns]
    return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None


def _matches(pattern: re.Pattern[str] | None, model: str) -> bool:
    return pattern is not None and pattern.match(model) is not None


class Policy:
    def __init__(
        self,
        teams: Mapping[str, Iterable[str]],
        default: Iterable[str],
        anonymous: Iterable[str] | None,
    ) -> None:
        """``anonymous`` None: callers without credentials may use nothing."""
        self._teams = {team: _compile(patterns) for team, patterns in teams.items()}
        self._default = _compile(default)
        self._anonymous = None if anonymous is None else _compile(anonymous)
        self._keys: dict[tuple[str, ...], re.Pattern[str] | None] = {}
        # Decisions are pure functions of (who, model), and the same few pairs repeat all day.
        self._decisions: dict[tuple[str | None, str | None, tuple[str, ...], str], bool] = {}

    def allows(self, identity: Identity, model: str) -> bool:
        """May ``identity`` use (and see) ``model``? Existence is not this method's concern."""
        key = (identity.kind if identity.kind == "anonymous" else None, identity.team, identity.models, model)
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decide(identity, model)
            if len(self._decisions) >= _MAX_DECISIONS:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision

    def _decide(self, identity: Identity, model: str) -> bool:
        if identity.kind == "anonymous":
            return _matches(self._anonymous, model)
        team = self._teams.get(identity.team, self._default) if identity.team else self._default
        if not _matches(team, model):
            return False
        return not identity.models or _matches(self._key_pattern(identity.models), model)

    def _key_pattern(self, patterns: tuple[str, ...]) -> re.Pattern[str] | None:
        if patterns not in self._keys:
            if len(self._keys) >= _MAX_DECISIONS:
                self._keys.clear()
            self._keys[patterns] = _compile(patterns)
        return self._keys[patterns]
