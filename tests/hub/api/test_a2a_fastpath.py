"""The fast path's hand conversions equal protobuf's, both ways, for every shape it serves; anything
else it leaves to the SDK."""

from __future__ import annotations

from typing import Any

import pytest
from a2a.types.a2a_pb2 import Artifact, Message, Part, Role, SendMessageRequest, Task, TaskState
from google.protobuf.json_format import MessageToDict, ParseDict

from hub.a2a_wire.proto import send_request, task_json
from hub.api.a2a.context import MAX_CONTEXT_ID
from hub.api.a2a.executor import _agent_text, end_task, new_task
from hub.api.a2a.fastpath import FastSend
from hub.api.a2a.parts import data_part

TEXT = {"messageId": "m-1", "role": "ROLE_USER", "parts": [{"text": "hi"}]}

SERVED: list[dict[str, Any]] = [
    {"message": TEXT},
    {"message": {**TEXT, "metadata": {"hub.model": "m"}}},
    {"message": {**TEXT, "metadata": {}, "contextId": "c-1"}},
    {
        "message": {
            **TEXT,
            "role": "ROLE_AGENT",
            "parts": [{"text": ""}, {"text": "b", "mediaType": "text/plain"}],
        }
    },
    {"message": {**TEXT, "parts": [{"data": {"max_tokens": 8, "x": [1.5, None, True, {"y": "z"}]}}]}},
    {"message": {**TEXT, "parts": [{"data": {}, "mediaType": "application/json"}]}},
    {"message": TEXT, "configuration": {}},
    {"message": TEXT, "configuration": {"acceptedOutputModes": ["text/plain"], "historyLength": 0}},
    {"message": TEXT, "configuration": {"historyLength": 3, "returnImmediately": False}},
    {"message": TEXT, "metadata": {"hub.model": "m", "n": 2}},
    {"message": TEXT, "metadata": {}},
]

LEFT_TO_THE_SDK: list[Any] = [
    [],
    {"message": {**TEXT, "taskId": "t"}},
    {"message": {**TEXT, "message_id": "m"}},
    {"message": {**TEXT, "messageId": ""}},
    {"message": {**TEXT, "role": "ROLE_UNSPECIFIED"}},
    {"message": {**TEXT, "role": 1}},
    {"message": {**TEXT, "parts": []}},
    {"message": {**TEXT, "parts": [{"url": "http://x"}]}},
    {"message": {**TEXT, "parts": [{"data": [1]}]}},
    {"message": {**TEXT, "parts": [{"text": "a", "data": {}}]}},
    {"message": {**TEXT, "metadata": []}},
    {"message": TEXT, "configuration": {"returnImmediately": True}},
    {"message": TEXT, "configuration": {"historyLength": 2.0}},
    {"message": TEXT, "configuration": {"historyLength": -1}},
    {"message": TEXT, "configuration": {"taskPushNotificationConfig": {"url": "http://x"}}},
    {"message": TEXT, "tenant": "t"},
    {"message": {**TEXT, "contextId": "c" * (MAX_CONTEXT_ID + 1)}},
]


@pytest.mark.parametrize("params", SERVED)
def test_served_requests_parse_as_protobuf_parses_them(params: dict[str, Any]) -> None:
    ours = send_request(params, MAX_CONTEXT_ID)
    theirs = ParseDict(params, SendMessageRequest(), ignore_unknown_fields=True)
    assert ours is not None
    assert ours == theirs
    assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True)


@pytest.mark.parametrize("params", LEFT_TO_THE_SDK)
def test_other_requests_are_left_to_the_sdk(params: Any) -> None:
    assert send_request(params, MAX_CONTEXT_ID) is None


def _tasks() -> list[Task]:
    message = ParseDict(SERVED[4]["message"], Message())
    message.metadata.update({"hub.model": "m"})
    done = new_task("t-1", "c-1", message)
    answer = Artifact(artifact_id="a-1", name="answer", parts=[Part(text="ok")])
    done.artifacts.append(answer)
    usage = {"promptTokens": 1, "completionTokens": 2, "totalTokens": 3}
    end_task(
        done, TaskState.TASK_STATE_COMPLETED, None, {"model": "m", "finishReason": "stop", "usage": usage}
    )
    embedded = new_task("t-2", "c-2", None)
    vectors = Artifact(artifact_id="a-2", name="answer", parts=[data_part({"embeddings": [[0.5, -0.5]]})])
    embedded.artifacts.append(vectors)
    end_task(embedded, TaskState.TASK_STATE_COMPLETED, None, {"model": "e"})
    failed = new_task("t-3", "c-3", Message(message_id="m", role=Role.ROLE_USER, parts=[Part(text="x")]))
    error = {"error": {"type": "backend_error", "status": 502, "code": None}}
    end_task(failed, TaskState.TASK_STATE_FAILED, _agent_text("t-3", "c-3", "Replica down"), error)
    unusual = new_task("t-4", "", Message(message_id="m", extensions=["e"], reference_task_ids=["r"]))
    unusual.artifacts.append(Artifact(artifact_id="a", description="d", parts=[Part(url="u", filename="f")]))
    return [done, embedded, failed, unusual, Task()]


@pytest.mark.parametrize("task", _tasks())
def test_task_json_is_message_to_dict(task: Task) -> None:
    assert task_json(task) == MessageToDict(task)


def _same_shape(value: Any) -> Any:
    """Ids and timestamps differ between two runs; everything else must not."""
    if isinstance(value, dict):
        return {
            k: "*" if k in ("id", "contextId", "taskId", "artifactId", "timestamp") else _same_shape(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_same_shape(v) for v in value]
    return value


@pytest.mark.anyio
@pytest.mark.parametrize(
    "message",
    [
        {**TEXT, "metadata": {"hub.model": "m"}},
        {**TEXT, "metadata": {"hub.model": "emb"}, "parts": [{"data": {"input": ["a", "b"]}}]},
        {**TEXT, "metadata": {"hub.model": "nope"}},
        {**TEXT, "metadata": {"hub.model": "m"}, "parts": [{"data": {"max_tokens": "x"}}]},
        {**TEXT},
    ],
)
async def test_fast_and_sdk_paths_answer_alike(
    tmp_path: Any, message: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.hub.api.test_a2a_door import JSONRPC_HEADERS, running_hub

    served: list[bool] = []
    serve = FastSend.serve

    async def spy(self: FastSend, scope: Any, route: str, body: bytes, send: Any) -> bool:
        served.append(await serve(self, scope, route, body, send))
        return served[-1]

    monkeypatch.setattr(FastSend, "serve", spy)
    async with running_hub(tmp_path) as hub:
        answers = []
        for extra in ({}, {"ignored": 1}):  # an unknown field: the SDK path, which ignores it
            rpc = {
                "jsonrpc": "2.0",
                "id": "r",
                "method": "SendMessage",
                "params": {"message": message, **extra},
            }
            response = await hub.http.post("/a2a/", json=rpc, headers=JSONRPC_HEADERS)
            rest = await hub.http.post(
                "/a2a/message:send", json={"message": message, **extra}, headers=JSONRPC_HEADERS
            )
            answers.append(
                (
                    response.status_code,
                    response.headers["content-type"],
                    _same_shape(response.json()),
                    rest.status_code,
                    rest.headers["content-type"],
                    _same_shape(rest.json()),
                )
            )
    assert served == [True, True, False, False]
    assert answers[0] == answers[1]
