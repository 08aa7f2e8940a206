"""A2A message parts -> task payloads and answers, and HubError -> A2A errors and task states."""

from __future__ import annotations

from typing import Any

import pytest
from a2a.types.a2a_pb2 import Message, Part, Role, TaskState
from a2a.utils.errors import ContentTypeNotSupportedError, InternalError, InvalidParamsError
from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.struct_pb2 import Value

from hub.api.a2a import parts
from hub.api.a2a.errors import request_error, task_outcome
from hub.call import Operation
from hub.errors import (
    BackendError,
    BackendRejected,
    BackendTimeout,
    BadRequest,
    ModelNotFound,
    RateLimited,
    UnsupportedMediaType,
)


def message(*items: str | dict[str, Any] | Part) -> Message:
    built = Message(message_id="m1", role=Role.ROLE_USER)
    for item in items:
        if isinstance(item, Part):
            built.parts.append(item)
        elif isinstance(item, str):
            built.parts.append(Part(text=item))
        else:
            built.parts.append(Part(data=ParseDict(item, Value())))
    return built


def payload(operation: Operation, msg: Message, accepted: tuple[str, ...] = (), stream: bool = False) -> Any:
    return parts.payload(operation, "m", msg, list(accepted), stream)


def test_text_becomes_the_prompt_of_a_chat() -> None:
    body = payload(Operation.CHAT, message("hello", "there"))
    assert body == {"model": "m", "messages": [{"role": "user", "content": "hello\nthere"}]}


def test_data_part_carries_the_task_arguments_with_integers_kept() -> None:
    body = payload(Operation.CHAT, message("hi", {"max_tokens": 8, "temperature": 0.5, "system": "Be terse"}))
    assert body["max_tokens"] == 8 and isinstance(body["max_tokens"], int)
    assert body["messages"][0] == {"role": "system", "content": "Be terse"}
    assert body["messages"][1] == {"role": "user", "content": "hi"}


def test_data_part_alone_may_give_messages() -> None:
    msgs = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]
    assert payload(Operation.CHAT, message({"messages": msgs}))["messages"] == msgs


def test_main_input_given_twice_is_refused() -> None:
    with pytest.raises(BadRequest) as info:
        payload(Operation.CHAT, message("hi", {"messages": [{"role": "user", "content": "x"}]}))
    assert info.value.param == "prompt"


def test_several_texts_are_several_inputs_for_embeddings_and_one_for_summaries() -> None:
    assert payload(Operation.EMBED, message("a", "b"))["input"] == ["a", "b"]
    assert payload(Operation.CLASSIFY, message("a"))["input"] == "a"
    assert payload(Operation.SUMMARIZE, message("one.", "two."))["input"] == "one.\ntwo."


def test_schema_errors_name_the_argument() -> None:
    with pytest.raises(BadRequest) as info:
        payload(Operation.CHAT, message("hi", {"max_tokens": 0}))
    assert info.value.param == "max_tokens"
    with pytest.raises(BadRequest) as info:
        payload(Operation.EMBED, message({"colour": "red", "input": "x"}))
    assert info.value.param == "colour"


def test_streaming_asks_the_backend_for_usage() -> None:
    body = payload(Operation.CHAT, message("hi"), stream=True)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    "part",
    [
        Part(raw=b"\x89PNG", media_type="image/png"),
        Part(url="https://example.com/a.pdf"),
        Part(text="hi", media_type="text/html"),
    ],
)
def test_parts_the_model_cannot_take_are_unsupported_media(part: Part) -> None:
    with pytest.raises(UnsupportedMediaType):
        payload(Operation.CHAT, message(part))


def test_empty_message_and_non_object_data_are_bad_requests() -> None:
    with pytest.raises(BadRequest):
        payload(Operation.CHAT, message())
    with pytest.raises(BadRequest):
        payload(
            Operation.CHAT,
            Message(message_id="m", role=Role.ROLE_USER, parts=[Part(data=Value(number_value=3))]),
        )


def test_accepted_output_modes_must_include_ours() -> None:
    assert payload(Operation.EMBED, message("x"), accepted=("application/json",))
    assert payload(Operation.CHAT, message("x"), accepted=("*/*",))
    with pytest.raises(UnsupportedMediaType):
        payload(Operation.CHAT, message("x"), accepted=("application/json",))


def test_answers_are_text_for_words_and_data_for_structures() -> None:
    assert parts.output_modes(Operation.CHAT) == ["text/plain"]
    assert parts.output_modes(Operation.CLASSIFY) == ["application/json"]
    text = parts.answer(Operation.SUMMARIZE, {"summary": "Short.", "sentences": ["Short."]})
    assert text.text == "Short."
    labels = {"results": [{"labels": [{"label": "pos", "score": 0.9}]}], "usage": {"prompt_tokens": 1}}
    data = parts.answer(Operation.CLASSIFY, labels)
    assert data.media_type == "application/json"
    assert MessageToDict(data)["data"] == {"results": [{"labels": [{"label": "pos", "score": 0.9}]}]}


def test_request_errors_keep_their_kind() -> None:
    assert isinstance(request_error(ModelNotFound("x")), InvalidParamsError)
    assert isinstance(request_error(BadRequest("no", param="prompt")), InvalidParamsError)
    assert isinstance(request_error(UnsupportedMediaType("png")), ContentTypeNotSupportedError)
    error = request_error(BackendError("down"))
    assert isinstance(error, InternalError) and error.data == {
        "type": "server_error",
        "status": 502,
        "code": "backend_error",
    }


@pytest.mark.parametrize(
    ("error", "state"),
    [
        (BackendError("Replica m/0 failed with HTTP 500"), TaskState.TASK_STATE_FAILED),
        (BackendTimeout("slow"), TaskState.TASK_STATE_FAILED),
        (BackendRejected(400, None, "max_tokens is too large"), TaskState.TASK_STATE_REJECTED),
        (RateLimited("slow down"), TaskState.TASK_STATE_REJECTED),
    ],
)
def test_failures_during_a_task_end_it_with_their_message(error: Any, state: TaskState) -> None:
    outcome = task_outcome(error)
    assert outcome.state == state and outcome.message == error.message
    assert outcome.metadata["error"]["status"] == error.http_status
