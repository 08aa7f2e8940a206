"""`hub serve` with no configuration: every model of the embedded pool answers a real request."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.hub_server import HubProcess, run_hub

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    with run_hub(None, tmp_path_factory.mktemp("default")) as process:
        yield process


@pytest.fixture
def client(hub: HubProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=hub.v1, api_key="unused", max_retries=0, timeout=120)


def post(hub: HubProcess, route: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        hub.url + route, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as resp:
        return json.loads(resp.read())


def test_pool_is_listed(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert ids == {
        "smollm2-135m-instruct",
        "all-minilm-l6-v2",
        "vader-sentiment",
        "langid",
        "lexrank-summarizer",
        "profanity-check",
    }


def test_chat_gives_a_real_answer(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="smollm2-135m-instruct",
        # A 135M model at Q4_1 needs a short instruction to stay on track (else it drifts into French).
        messages=[
            {"role": "system", "content": "You are a concise assistant. Answer in one short sentence."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        max_tokens=24,
        temperature=0,
    )
    assert "Paris" in (reply.choices[0].message.content or "")
    assert reply.usage is not None and reply.usage.completion_tokens > 0


def test_chat_without_max_tokens_is_capped_by_the_models_default(client: openai.OpenAI) -> None:
    # Uncapped, this question ran to ~2,000 tokens (~27 s on two cores): the model rambles on.
    reply = client.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
    )
    assert reply.usage is not None and 0 < reply.usage.completion_tokens <= 256


def test_chat_calls_a_tool_it_is_asked_to(client: openai.OpenAI) -> None:
    city = {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 20}},
        "required": ["city"],
    }
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": city}}
    reply = client.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[tool],  # type: ignore[list-item]
        tool_choice="required",
        max_tokens=32,
        temperature=0,
    )
    (call,) = reply.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert "Paris" in json.loads(call.function.arguments)["city"]  # type: ignore[union-attr]


CITY = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}}, "required": ["city"]}
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Current weather in a city", "parameters": CITY},
}
CLOCK = {
    "type": "function",
    "function": {"name": "get_time", "description": "Current time in a city", "parameters": CITY},
}


def test_chat_with_tools_left_to_choose_answers_or_calls_validly(client: openai.OpenAI) -> None:
    # With tool_choice "auto" the 135M model rarely calls (about 1 % of its first-token mass goes to
    # a call's opening on this question), so this checks that either outcome is well formed.
    reply = client.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": "What is the weather in Paris right now?"}],
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="auto",
        max_tokens=24,
        temperature=0,
    )
    choice = reply.choices[0]
    if choice.message.tool_calls:
        (call,) = choice.message.tool_calls
        assert call.function.name == "get_weather"  # type: ignore[union-attr]
        assert isinstance(json.loads(call.function.arguments)["city"], str)  # type: ignore[union-attr]
    else:
        assert choice.message.content and "<tool_call>" not in choice.message.content
        assert choice.finish_reason in {"stop", "length"}


def test_chat_with_tools_left_to_choose_can_call_one(client: openai.OpenAI) -> None:
    # At temperature 1 with a steering system message about 3 % of the model's first-token mass goes
    # to a call's opening: some seed below 150 decides to call (one token each to find, as the
    # decision does not depend on max_tokens), and that seed's full answer is a well-formed call.
    messages = [
        {"role": "system", "content": "You are a function-calling assistant. Reply only with <tool_call>."},
        {"role": "user", "content": "What is the weather in Paris right now?"},
    ]
    sampling: dict[str, Any] = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0}

    def ask(seed: int, max_tokens: int) -> Any:
        return client.chat.completions.create(
            model="smollm2-135m-instruct",
            messages=messages,  # type: ignore[arg-type]
            tools=[WEATHER],  # type: ignore[list-item]
            max_tokens=max_tokens,
            seed=seed,
            extra_body=sampling,
        )

    seed = next(seed for seed in range(150) if ask(seed, 1).choices[0].message.tool_calls)
    reply = ask(seed, 32)
    (call,) = reply.choices[0].message.tool_calls or []
    assert reply.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"  # type: ignore[union-attr]
    assert isinstance(json.loads(call.function.arguments)["city"], str)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("question", "name", "city"),
    [
        ("What is the weather in Paris?", "get_weather", "Paris"),
        ("What time is it in Tokyo?", "get_time", "Tokyo"),
    ],
)
def test_chat_required_picks_the_fitting_tool_of_two(
    client: openai.OpenAI, question: str, name: str, city: str
) -> None:
    reply = client.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": question}],
        tools=[WEATHER, CLOCK],  # type: ignore[list-item]
        tool_choice="required",
        max_tokens=32,
        temperature=0,
    )
    (call,) = reply.choices[0].message.tool_calls or []
    assert call.function.name == name  # type: ignore[union-attr]
    assert city in json.loads(call.function.arguments)["city"]  # type: ignore[union-attr]


def test_chat_answers_in_json_that_fits_the_schema(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"capital": {"type": "string", "maxLength": 20}},
        "required": ["capital"],
    }
    reply = client.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": "What is the capital of France? Answer in JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "capital", "schema": schema}},
        max_tokens=48,
        temperature=0,
    )
    answer = json.loads(reply.choices[0].message.content or "")
    assert set(answer) == {"capital"} and isinstance(answer["capital"], str)


def test_chat_streams(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="smollm2-135m-instruct",
        messages=[{"role": "user", "content": "Name a colour."}],
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].usage is not None


def test_embeddings_match_the_reference(client: openai.OpenAI) -> None:
    data = client.embeddings.create(model="all-minilm-l6-v2", input=["cat", "feline", "stocks"]).data
    cat, feline, stocks = (d.embedding for d in data)
    assert len(cat) == 384

    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
            sum(x * x for x in a) * sum(y * y for y in b)
        )

    # sentence-transformers gives 0.6975 and 0.2028 for these words with the same weights (checked
    # against its vectors in tests/inference_backends/local/test_local_minilm.py).
    assert cos(cat, feline) == pytest.approx(0.6975, abs=1e-3)
    assert cos(cat, stocks) == pytest.approx(0.2028, abs=1e-3)


def top_label(body: Any) -> str:
    return str(body["data"][0]["labels"][0]["label"])


def test_sentiment(hub: HubProcess) -> None:
    body = post(
        hub, "/v1/classifications", {"model": "vader-sentiment", "input": "I love this, it is great!"}
    )
    assert top_label(body) == "positive"


def test_language(hub: HubProcess) -> None:
    body = post(
        hub,
        "/v1/classifications",
        {"model": "langid", "input": ["Bonjour tout le monde, comment allez-vous ?"]},
    )
    assert top_label(body) == "fr"


def test_moderation(hub: HubProcess) -> None:
    body = post(
        hub, "/v1/classifications", {"model": "profanity-check", "input": ["have a lovely day", "fuck you"]}
    )
    assert [item["labels"][0]["label"] for item in body["data"]] == ["clean", "profane"]


def test_summary(hub: HubProcess) -> None:
    text = (
        "The city council met on Monday to discuss the new park. "
        "Residents asked for more trees and a playground. "
        "The council approved the budget for the park after a long debate. "
        "Construction of the park will start in the spring. "
        "Some residents worried about noise during construction. "
        "The mayor said the park would be finished by next winter."
    )
    body = post(hub, "/v1/summaries", {"model": "lexrank-summarizer", "input": text, "sentences": 2})
    assert len(body["sentences"]) == 2
    assert all(sentence in text for sentence in body["sentences"])


def test_wrong_task_route_is_a_400(hub: HubProcess) -> None:
    request = urllib.request.Request(
        hub.v1 + "/embeddings",
        data=json.dumps({"model": "vader-sentiment", "input": "x"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    assert info.value.code == 400
    assert "classify model" in json.loads(info.value.read())["error"]["message"]


def test_hub_models_cli_against_a_running_hub(hub: HubProcess) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hub", "models", "--url", hub.url, "--json"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    pool = {m["name"]: m for m in json.loads(out)}
    assert pool["langid"]["task"] == "classify"
    assert pool["langid"]["replicas"][0]["healthy"] is True


def test_hub_models_cli_for_a_configured_hub(tmp_path: Path) -> None:
    config = tmp_path / "dead.yaml"
    config.write_text(
        "models:\n  - name: fake-model\n    task: chat\n    backend: openai\n"
        "    replicas:\n      - url: http://127.0.0.1:9/v1\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "hub", "models", "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "fake-model" in result.stdout and "unhealthy" in result.stdout
