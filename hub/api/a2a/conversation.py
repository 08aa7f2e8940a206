"""Messages in one A2A ``contextId`` form a conversation: the earlier turns a chat model is shown.

A turn is one earlier task of the context that completed with a text answer: the caller's words (its
text parts, else the ``prompt`` of its data part) and the answer's text, as a ``user`` and an
``assistant`` message. The turns come from the task store, so a conversation outlives its hub and
spans every hub that shares the database; they are the caller's own (the store keys tasks by owner),
so a context is its starter's: another caller naming the same ``contextId`` starts a conversation of
its own under that id, as it would for an id never used.

Bounded twice: at most ``turns`` of the latest tasks are read, and the oldest turns are left out
until the rest hold at most ``max_chars`` characters (a turn is kept whole or not at all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from a2a.server.context import ServerCallContext

from hub.a2a_wire.answer import parts_text
from hub.a2a_wire.names import COMPLETED, ROLE_USER, as_list
from hub.api.a2a.parts import ANSWER_ARTIFACT
from hub.api.a2a.taskstore import StoredTask

ChatMessage = dict[str, str]


class ContextTasks(Protocol):
    async def in_context(self, context_id: str, context: ServerCallContext, limit: int) -> list[StoredTask]:
        """The caller's latest ``limit`` tasks of ``context_id``, oldest first."""
        ...


@dataclass(frozen=True, slots=True)
class History:
    tasks: ContextTasks
    turns: int
    max_chars: int

    async def messages(self, context_id: str, context: ServerCallContext) -> list[ChatMessage]:
        """The earlier turns of ``context_id`` as chat messages, oldest first ([] when there are none)."""
        if self.turns == 0 or self.max_chars == 0:
            return []
        found = [turn(task) for task in await self.tasks.in_context(context_id, context, self.turns)]
        return _bounded([pair for pair in found if pair is not None], self.max_chars)


def turn(task: StoredTask) -> tuple[str, str] | None:
    """(the caller's words, the answer) of a task that completed with a text answer; else None."""
    if task.status.get("state") != COMPLETED:
        return None
    asked = "\n".join(filter(None, (_words(m) for m in task.history if m.get("role") == ROLE_USER)))
    answered = "".join(
        parts_text(artifact.get("parts"))
        for artifact in task.artifacts
        if artifact.get("name") == ANSWER_ARTIFACT
    )
    return (asked, answered) if asked and answered else None


def _words(message: Mapping[str, Any]) -> str:
    """The message's text parts, else the ``prompt`` of its data part (as ``parts.payload`` reads it)."""
    texts: list[str] = []
    prompt = ""
    for part in as_list(message.get("parts")):
        data = part.get("data")
        if "text" in part:
            texts.append(part["text"] if isinstance(part["text"], str) else "")
        elif isinstance(data, dict) and isinstance(data.get("prompt"), str):
            prompt = data["prompt"]
    return "\n".join(texts) or prompt


def _bounded(pairs: Sequence[tuple[str, str]], max_chars: int) -> list[ChatMessage]:
    kept: list[tuple[str, str]] = []
    size = 0
    for asked, answered in reversed(pairs):
        size += len(asked) + len(answered)
        if size > max_chars:
            break
        kept.append((asked, answered))
    messages: list[ChatMessage] = []
    for asked, answered in reversed(kept):
        messages += [{"role": "user", "content": asked}, {"role": "assistant", "content": answered}]
    return messages
