"""hub.tasks.schemas: per-task argument checks, payloads, and the reduction of backend answers."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from hub.call import Chunk, Operation
from hub.errors import BackendError, BadRequest
from hub.tasks.schemas import SCHEMAS, TextStream

CHAT = SCHEMAS[Operation.CHAT]
USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def test_every_task_has_valid_schemas_with_an_object_root() -> None:
    assert set(SCHEMAS) == set(Operation)
    for schema in SCHEMAS.values():
        for document in (schema.input_schema, schema.output_schema):
            Draft202012Validator.check_schema(document)
            assert document["type"] == "object"


def test_prompt_shorthand_becomes_one_user_message() -> None:
    payload = CHAT.payload("m", {"prompt": "hi", "max_tokens": 5, "temperature": 0.2})
    assert payload == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5,
        "temperature": 0.2,
    }


def test_messages_pass_through_and_system_goes_first() -> None:
    messages = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "name": "x"}]
    payload = CHAT.payload("m", {"messages": messages, "system": "be brief", "stop": ["\n"], "seed": 7})
    assert payload["messages"] == [{"role": "system", "content": "be brief"}, *messages]
    assert payload["stop"] == ["\n"] and payload["seed"] == 7


@pytest.mark.parametrize(
    ("operation", "arguments", "payload"),
    [
        (Operation.COMPLETION, {"prompt": "once"}, {"model": "m", "prompt": "once"}),
        (
            Operation.EMBED,
            {"input": ["a", "b"], "dimensions": 4},
            {"model": "m", "input": ["a", "b"], "dimensions": 4},
        ),
        (Operation.CLASSIFY, {"input": "great"}, {"model": "m", "input": "great"}),
        (
            Operation.SUMMARIZE,
            {"input": "A. B.", "sentences": 1},
            {"model": "m", "input": "A. B.", "sentences": 1},
        ),
    ],
)
def test_payloads_use_each_tasks_request_shape(
    operation: Operation, arguments: dict[str, Any], payload: dict[str, Any]
) -> None:
    assert SCHEMAS[operation].payload("m", arguments) == payload


@pytest.mark.parametrize(
    ("operation", "arguments", "param", "words"),
    [
        (Operation.CHAT, {}, "prompt", "'prompt' or 'messages' is required"),
        (Operation.CHAT, {"prompt": "a", "messages": [{"role": "user"}]}, "messages", "not both"),
        (Operation.CHAT, {"prompt": "a", "temperature": 5}, "temperature", "greater than the maximum"),
        (Operation.CHAT, {"prompt": "a", "max_tokens": "many"}, "max_tokens", "not of type 'integer'"),
        (Operation.CHAT, {"prompt": "a", "model": "other"}, "model", "unknown argument 'model'"),
        (
            Operation.CHAT,
            {"messages": [{"role": "robot", "content": "x"}]},
            "messages[0].role",
            "is not one of",
        ),
        (Operation.CHAT, {"messages": [{"content": "x"}]}, "messages[0].role", "is required"),
        (Operation.CHAT, {"messages": []}, "messages", "should be non-empty"),
        (Operation.EMBED, {}, "input", "'input' is required"),
        (Operation.EMBED, {"input": 3}, "input", "input"),
        (Operation.SUMMARIZE, {"input": "x", "sentences": 0}, "sentences", "less than the minimum"),
    ],
)
def test_bad_arguments_name_the_field(
    operation: Operation, arguments: dict[str, Any], param: str, words: str
) -> None:
    with pytest.raises(BadRequest) as info:
        SCHEMAS[operation].payload("m", arguments)
    assert info.value.param == param
    assert words in info.value.message and param.split(".")[0].split("[")[0] in info.value.message


def test_chat_and_completion_answers_reduce_to_text_finish_reason_usage() -> None:
    chat = {
        "choices": [{"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": USAGE,
    }
    assert CHAT.output(chat) == {"text": "hi", "finish_reason": "stop", "usage": USAGE}
    completion = {"choices": [{"text": "more", "finish_reason": "length"}]}
    assert SCHEMAS[Operation.COMPLETION].output(completion) == {"text": "more", "finish_reason": "length"}
    assert CHAT.text({"text": "hi", "finish_reason": "stop"}) == "hi"


def test_embeddings_come_back_in_input_order() -> None:
    body = {
        "object": "list",
        "data": [{"index": 1, "embedding": [0.5]}, {"index": 0, "embedding": [0.25]}],
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
    }
    out = SCHEMAS[Operation.EMBED].output(body)
    assert out == {
        "embeddings": [[0.25], [0.5]],
        "usage": {"prompt_tokens": 2, "completion_tokens": 0, "total_tokens": 2},
    }
    assert orjson.loads(SCHEMAS[Operation.EMBED].text(out)) == out


def test_classifications_keep_labels_and_extras() -> None:
    labels = [{"label": "positive", "score": 0.9}, {"label": "negative", "score": 0.1}]
    body = {
        "object": "list",
        "model": "m",
        "data": [{"index": 0, "labels": labels, "compound": 0.8}],
        "usage": USAGE,
    }
    out = SCHEMAS[Operation.CLASSIFY].output(body)
    assert out["results"] == [{"labels": labels, "compound": 0.8}]
    Draft202012Validator(SCHEMAS[Operation.CLASSIFY].output_schema).validate(out)


def test_summaries_keep_summary_and_sentences() -> None:
    body = {"object": "summary", "model": "m", "summary": "A. B.", "sentences": ["A.", "B."], "usage": USAGE}
    out = SCHEMAS[Operation.SUMMARIZE].output(body)
    assert out == {"summary": "A. B.", "sentences": ["A.", "B."], "usage": USAGE}
    assert SCHEMAS[Operation.SUMMARIZE].text(out) == "A. B."


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        (Operation.CHAT, {"object": "chat.completion"}),
        (Operation.EMBED, {"data": "nope"}),
        (Operation.EMBED, {"data": [{"index": 0, "embedding": "base64=="}]}),
        (Operation.CLASSIFY, {"data": [{"index": 0}]}),
        (Operation.SUMMARIZE, {"summary": 3}),
    ],
)
def test_unreadable_answers_are_backend_errors(operation: Operation, body: dict[str, Any]) -> None:
    with pytest.raises(BackendError):
        SCHEMAS[operation].output(body)


def test_a_stream_folds_into_the_unary_result() -> None:
    stream = TextStream(Operation.CHAT)
    events = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]},
        {"choices": [{"index": 0, "delta": {"content": "lo"}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"choices": [], "usage": USAGE},
    ]
    pieces = [stream.feed(Chunk(orjson.dumps(event))) for event in events]
    assert pieces == ["Hel", "lo", "", ""]
    assert stream.output() == {"text": "Hello", "finish_reason": "stop", "usage": USAGE}
    Draft202012Validator(CHAT.output_schema).validate(stream.output())


def test_a_completion_stream_reads_text_and_garbage_fails() -> None:
    stream = TextStream(Operation.COMPLETION)
    assert stream.feed(Chunk(b'{"choices": [{"text": "abc", "finish_reason": null}]}')) == "abc"
    with pytest.raises(BackendError):
        stream.feed(Chunk(b"{not json"))
