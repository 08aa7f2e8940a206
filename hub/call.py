"""The protocol-neutral call that every front door builds and every stage sees.

Payloads travel in OpenAI's JSON shape for chat, completion and embedding work (the lingua franca of
self-hosted model servers), and in the task's own shape for the other tasks (see ``hub.tasks``). The
hub types only the fields it acts on; everything else is carried unchanged to the backend.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Operation(StrEnum):
    """What the caller asks a model to do; one HTTP route each."""

    CHAT = "chat"
    COMPLETION = "completion"
    EMBED = "embed"
    CLASSIFY = "classify"
    SUMMARIZE = "summarize"


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def from_openai(cls, usage: object) -> Usage | None:
        if not isinstance(usage, dict):
            return None
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens", 0)
        if not isinstance(prompt, int) or not isinstance(completion, int):
            return None
        return cls(prompt, completion)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling, as the identity stage established it. ``ANONYMOUS`` where access is open.

    ``subject`` is stable per caller (an API key's id, a token's ``sub``), never a secret. ``models``
    holds glob patterns of the targets this caller may use (empty: no restriction of its own).
    ``rpm``, ``tpm`` and ``budget`` are an API key's own terms, from the record the identity stage
    read (None: the configured key defaults apply, and no budget of its own): the limits and budget
    stages take them from here, so a call reads its key's record once.
    """

    subject: str
    team: str | None = None
    kind: str = "anonymous"  # "api_key" | "jwt" | "anonymous"
    scopes: frozenset[str] = frozenset()
    models: tuple[str, ...] = ()
    key_id: str | None = None
    rpm: int | None = None
    tpm: int | None = None
    budget: Decimal | None = None


ANONYMOUS = Identity(subject="anonymous")


class CallTrace:
    """A call's place in its trace: one per call, shared by the copies ``evolve`` makes of it.

    Filled in as the call goes rather than by copying the call (a copy costs ~17k instructions, 2% of
    a call): the tracing stage sets ``trace_id`` (hex; the usage ledger records it) and ``session_id``
    (the door's, else the caller's header); the router writes each attempt's W3C ``traceparent``/
    ``tracestate`` into ``headers`` before the attempt runs (attempts run one after another), and the
    backends add them to what they send. A call that ran its branches concurrently would give each
    branch a ``CallTrace`` of its own (``call.evolve(trace=CallTrace())``). Empty when tracing is off.
    """

    __slots__ = ("headers", "session_id", "trace_id")

    def __init__(
        self,
        trace_id: str | None = None,
        session_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.trace_id = trace_id
        self.session_id = session_id
        self.headers: dict[str, str] = {} if headers is None else headers

    def __repr__(self) -> str:
        return f"CallTrace(trace_id={self.trace_id!r}, session_id={self.session_id!r})"


@dataclass(frozen=True, slots=True)
class Call:
    """One request to one model, whatever door it came through.

    ``payload`` is the request body as parsed JSON; stages must not mutate it (backends copy before
    rewriting the model name). ``deadline`` is absolute, in ``time.monotonic()`` seconds. ``headers``
    are the inbound request's (lower-case names; empty over stdio): the identity stage reads
    credentials there, and nothing from them is ever forwarded to a backend. Stages that learn
    something new about the call pass on ``call.evolve(...)`` (``dataclasses.replace``, faster).
    """

    frontdoor: str
    operation: Operation
    model: str
    payload: Mapping[str, Any]
    stream: bool = False
    deadline: float | None = None
    # Out of the repr: they carry the caller's credentials, which must never reach a log.
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    identity: Identity = ANONYMOUS
    # The caller's network address (IP), when the door knows it: trust decisions (trace context).
    client: str | None = None
    # The session the door knows the call by (the A2A context id); the tracing stage resolves the
    # call's session from it or the headers into ``trace.session_id``.
    session_id: str | None = None
    # Where the call sits in its trace, filled in as it goes (by the tracing stage and the router); not
    # part of the call's value (equality).
    trace: CallTrace = field(default_factory=CallTrace, compare=False)

    def evolve(self, **changes: Any) -> Call:
        """``dataclasses.replace(self, **changes)``, at a fifth of the cost: stages do this on every
        call (identity), and ``replace`` re-runs the generic dataclass machinery."""
        return _evolve(self, changes)

    # What the door knows that the call's server span shows (MCP: ``gen_ai.tool.name``,
    # ``jsonrpc.request.id``; A2A: ``a2a.task.id``, ``a2a.context.id``). Ids and names only.
    span_attributes: Mapping[str, str | int] = field(default_factory=dict)


_CALL_FIELDS = tuple(f.name for f in fields(Call))


def _compile_evolve() -> Callable[[Call, dict[str, Any]], Call]:
    """``Call.evolve``'s body, one line per field, written once at import (as ``dataclasses`` writes
    ``__init__``): each field is set through its slot's descriptor, which bypasses the frozen
    ``__setattr__`` as ``dataclasses`` does, with no loop and no lookup of names at run time."""
    lines = ["def evolve(self, changes):", "    new = new_call(Call)"]
    namespace: dict[str, Any] = {"new_call": object.__new__, "Call": Call}
    for i, name in enumerate(_CALL_FIELDS):
        namespace[f"set_{i}"] = getattr(Call, name).__set__
        lines.append(f"    set_{i}(new, changes.pop({name!r}) if {name!r} in changes else self.{name})")
    lines += [
        "    if changes:",
        "        raise TypeError(f\"Call has no field(s) {', '.join(sorted(changes))}\")",
        "    return new",
    ]
    exec("\n".join(lines), namespace)  # our own field names, fixed at import
    evolve: Callable[[Call, dict[str, Any]], Call] = namespace["evolve"]
    return evolve


_evolve = _compile_evolve()


@dataclass(frozen=True, slots=True)
class Chunk:
    """One streamed event: the JSON text of an OpenAI-style chunk, and its usage when it carries one."""

    data: bytes
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """A finished unary answer (``body``) or a stream of chunks (``chunks``); exactly one is set.

    ``raw``, when set, is ``body`` exactly as the backend encoded it, so a front door that speaks the
    same JSON can send it on without encoding it again.

    A streamed result owns its iterator: whoever consumes it must exhaust or ``aclose()`` it, which
    releases the replica and cancels the backend request.
    """

    body: Mapping[str, Any] | None = None
    raw: bytes | None = None
    chunks: AsyncGenerator[Chunk, None] | None = None
    usage: Usage | None = None
    replica: str | None = None
