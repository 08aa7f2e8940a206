"""The in-process llama.cpp chat model behind the hub's HTTP door: tools, JSON answers and
log-probabilities are honoured, and a field it cannot honour is a 400 naming it.

The model is the tiny random GGUF (fast gibberish): grammars still constrain what it says, so the
shapes are real; the real model's answers are checked in ``test_default_pool``."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import openai
import pytest

from tests.support.hub_server import HubProcess, run_hub
from tests.support.tiny_gguf import build_tiny_llama

HELLO = [{"role": "user", "content": "hello"}]
CITY = {"type": "object", "properties": {"city": {"enum": ["Paris", "Rome"]}}, "required": ["city"]}
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": CITY}}
CLOCK = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("params")
    options = {"model": "smollm2", "model_path": str(build_tiny_llama(tmp / "tiny.gguf")), "n_ctx": 512}
    config = {"models": [{"name": "tiny", "task": "chat", "backend": "local", "options": options}]}
    with run_hub(config, tmp) as process:
        yield process


@pytest.fixture
def client(hub: HubProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=hub.v1, api_key="unused", max_retries=0, timeout=60)


def post(hub: HubProcess, route: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        hub.v1 + route, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.parametrize(
    "choice",
    [{"type": "function", "function": {"name": "get_weather"}}, "required"],
    ids=["named", "required"],
)
def test_a_forced_tool_call_comes_back_with_arguments_that_fit_the_schema(
    client: openai.OpenAI, choice: Any
) -> None:
    tools = [WEATHER] if choice == "required" else [CLOCK, WEATHER]
    reply = client.chat.completions.create(
        model="tiny",
        messages=HELLO,
        tools=tools,
        tool_choice=choice,
        max_tokens=32,  # type: ignore[arg-type]
    )
    assert reply.model == "tiny"
    (call,) = reply.choices[0].message.tool_calls or []
    assert reply.choices[0].finish_reason == "tool_calls"
    assert call.type == "function" and call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments)["city"] in {"Paris", "Rome"}  # type: ignore[union-attr]


def test_a_tool_call_streams(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="tiny",
        messages=HELLO,  # type: ignore[arg-type]
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="required",
        max_tokens=32,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    parts = [
        call.function.arguments or ""
        for chunk in chunks
        if chunk.choices
        for call in chunk.choices[0].delta.tool_calls or []
        if call.function is not None
    ]
    assert json.loads("".join(parts))["city"] in {"Paris", "Rome"}
    # The arguments are the answer's tokens, and counted as such.
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens > 0


def check_call(call: Any) -> None:
    """A tool call to one of WEATHER and CLOCK whose arguments fit its schema."""
    arguments = json.loads(call.function.arguments)
    if call.function.name == "get_weather":
        assert arguments["city"] in {"Paris", "Rome"}
    else:
        assert call.function.name == "get_time" and isinstance(arguments, dict)


def prompt_tokens_without_tools(client: openai.OpenAI) -> int:
    reply = client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=1)  # type: ignore[arg-type]
    assert reply.usage is not None
    return reply.usage.prompt_tokens


@pytest.mark.parametrize("choice", [None, "auto"], ids=["absent", "auto"])
def test_auto_answers_in_text_or_calls_a_tool_with_fitting_arguments(
    client: openai.OpenAI, choice: str | None
) -> None:
    plain_prompt = prompt_tokens_without_tools(client)
    extra = {} if choice is None else {"tool_choice": choice}
    for seed in range(4):
        reply = client.chat.completions.create(
            model="tiny",
            messages=HELLO,  # type: ignore[arg-type]
            tools=[WEATHER, CLOCK],  # type: ignore[list-item]
            max_tokens=6,
            seed=seed,
            temperature=1.0,
            **extra,  # type: ignore[arg-type]
        )
        choice_ = reply.choices[0]
        if choice_.message.tool_calls:
            (call,) = choice_.message.tool_calls
            assert choice_.finish_reason == "tool_calls"
            check_call(call)
        else:
            # The tiny model runs to max_tokens: the answer's own 6 tokens, plus the decision's.
            assert choice_.message.content and choice_.finish_reason == "length"
            assert reply.usage is not None and reply.usage.completion_tokens > 6
        # The caller pays for the decision too: its prompt lists the tools, on top of the answer's.
        assert reply.usage is not None and reply.usage.prompt_tokens > 2 * plain_prompt


def test_auto_streams_text_or_a_tool_call_with_usage(client: openai.OpenAI) -> None:
    plain_prompt = prompt_tokens_without_tools(client)
    stream = client.chat.completions.create(
        model="tiny",
        messages=HELLO,  # type: ignore[arg-type]
        tools=[WEATHER, CLOCK],  # type: ignore[list-item]
        tool_choice="auto",
        max_tokens=6,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    deltas = [chunk.choices[0].delta for chunk in chunks if chunk.choices]
    text = "".join(delta.content or "" for delta in deltas)
    arguments = "".join(
        call.function.arguments or "" for delta in deltas for call in delta.tool_calls or [] if call.function
    )
    assert bool(text) != bool(arguments), (text, arguments)
    if arguments:
        json.loads(arguments)
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens > 2 * plain_prompt and usage.completion_tokens > 1


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "streamed"])
def test_required_picks_one_of_several_tools(client: openai.OpenAI, stream: bool) -> None:
    fields: dict[str, Any] = {
        "model": "tiny",
        "messages": HELLO,
        "tools": [WEATHER, CLOCK],
        "tool_choice": "required",
        "max_tokens": 32,
    }
    if not stream:
        reply = client.chat.completions.create(**fields)
        (call,) = reply.choices[0].message.tool_calls or []
        assert reply.choices[0].finish_reason == "tool_calls"
        check_call(call)
        return
    chunks = list(client.chat.completions.create(**fields, stream=True))
    calls = [call for chunk in chunks if chunk.choices for call in chunk.choices[0].delta.tool_calls or []]
    name = next(call.function.name for call in calls if call.function and call.function.name)
    arguments = "".join(call.function.arguments or "" for call in calls if call.function)
    finishes = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices]
    assert "tool_calls" in finishes
    check_call(SimpleNamespace(function=SimpleNamespace(name=name, arguments=arguments)))


def test_a_later_turn_may_carry_the_tool_call_and_its_result(client: openai.OpenAI) -> None:
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
    }
    messages = [
        *HELLO,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    reply = client.chat.completions.create(
        model="tiny", messages=messages, tools=[WEATHER], tool_choice="none", max_tokens=4
    )  # type: ignore[arg-type]
    assert reply.choices[0].message.content and not reply.choices[0].message.tool_calls


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice",
        ),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tools": [{"type": "retrieval"}], "tool_choice": "required"}, "tools"),
        ({"logit_bias": {"42": 5}}, "logit_bias"),
        ({"functions": [WEATHER["function"]]}, "functions"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ({"logprobs": True, "tools": [WEATHER], "tool_choice": "required"}, "logprobs"),
        (
            {"response_format": {"type": "json_object"}, "tools": [WEATHER], "tool_choice": "required"},
            "response_format",
        ),
    ],
)
def test_what_the_model_cannot_honour_is_a_400_naming_it(
    hub: HubProcess, fields: dict[str, Any], param: str
) -> None:
    for stream in (False, True):
        status, body = post(
            hub, "/chat/completions", {"model": "tiny", "messages": HELLO, "stream": stream, **fields}
        )
        assert status == 400, body
        assert body["error"]["param"] == param, body


def test_an_unknown_completion_field_is_a_400_naming_it(hub: HubProcess) -> None:
    status, body = post(hub, "/completions", {"model": "tiny", "prompt": "hi", "suffix": "!"})
    assert status == 400 and body["error"]["param"] == "suffix", body


def test_json_schema_answers_match_the_schema(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="tiny",
        messages=HELLO,  # type: ignore[arg-type]
        max_tokens=32,
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": CITY}},
    )
    assert json.loads(reply.choices[0].message.content or "") in ({"city": "Paris"}, {"city": "Rome"})


def test_logprobs_come_back_per_token(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="tiny",
        messages=HELLO,
        max_tokens=5,
        logprobs=True,
        top_logprobs=2,  # type: ignore[arg-type]
    )
    logprobs = reply.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None and len(logprobs.content) == 5
    for token in logprobs.content:
        assert token.logprob <= 0 and 1 <= len(token.top_logprobs) <= 3
    assert "".join(token.token for token in logprobs.content) == reply.choices[0].message.content
    # A call that does not ask gets none.
    plain = client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=3)  # type: ignore[arg-type]
    assert plain.choices[0].logprobs is None


def test_logprobs_stream_and_complete(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="tiny",
        messages=HELLO,  # type: ignore[arg-type]
        max_tokens=4,
        logprobs=True,
        stream=True,
    )
    scored = [c for c in stream if c.choices and c.choices[0].logprobs and c.choices[0].logprobs.content]
    assert len(scored) == 4
    completion = client.completions.create(model="tiny", prompt="hello", max_tokens=3, logprobs=2)
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.token_logprobs is not None and len(logprobs.token_logprobs) == 3
