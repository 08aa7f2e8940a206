"""Which earlier tasks of a context are turns of its conversation, and how the bounds cut them."""

from __future__ import annotations

import pytest
from a2a.server.context import ServerCallContext
from a2a.types.a2a_pb2 import Artifact, Message, Part, Role, Task, TaskState, TaskStatus
from google.protobuf.struct_pb2 import Value

from hub.api.a2a.conversation import History, turn
from hub.api.a2a.taskstore import StoredTask

pytestmark = pytest.mark.anyio


def task(
    asked: Part, answer: str | None = "ok", state: TaskState = TaskState.TASK_STATE_COMPLETED
) -> StoredTask:
    done = Task(id="t", context_id="c", status=TaskStatus(state=state))
    done.history.append(Message(message_id="m", role=Role.ROLE_USER, parts=[asked]))
    if answer is not None:
        done.artifacts.append(Artifact(artifact_id="a", name="answer", parts=[Part(text=answer)]))
    return StoredTask.of(done)


def prompt_part(prompt: str) -> Part:
    part = Part()
    part.data.CopyFrom(Value())
    part.data.struct_value.update({"prompt": prompt, "max_tokens": 4})
    return part


def test_a_turn_is_a_completed_task_with_words_and_a_text_answer() -> None:
    assert turn(task(Part(text="hi"))) == ("hi", "ok")
    assert turn(task(prompt_part("from data"))) == ("from data", "ok")
    assert turn(task(Part(text="hi"), state=TaskState.TASK_STATE_FAILED)) is None
    assert turn(task(Part(text="hi"), answer=None)) is None
    feedback = task(Part(text="hi"))
    feedback.artifacts[0]["name"] = "feedback"  # the router's feedback skill answers with data
    assert turn(feedback) is None


class Tasks:
    def __init__(self, *tasks: StoredTask) -> None:
        self.tasks = list(tasks)
        self.limits: list[int] = []

    async def in_context(self, context_id: str, context: ServerCallContext, limit: int) -> list[StoredTask]:
        self.limits.append(limit)
        return self.tasks[-limit:]


async def test_the_oldest_turns_go_first_and_a_turn_is_never_cut() -> None:
    store = Tasks(*(task(Part(text=f"q{i}"), f"a{i}") for i in range(4)))
    history = History(store, turns=3, max_chars=9)
    messages = await history.messages("c", ServerCallContext())
    assert [m["content"] for m in messages] == ["q2", "a2", "q3", "a3"]  # 4 chars a turn: two fit in 9
    assert store.limits == [3]
    assert await History(store, turns=0, max_chars=9).messages("c", ServerCallContext()) == []
    assert await History(store, turns=3, max_chars=3).messages("c", ServerCallContext()) == []
