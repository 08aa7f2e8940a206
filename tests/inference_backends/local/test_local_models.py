from __future__ import annotations

import subprocess
import sys

import pytest

from hub.call import Operation
from inference_backends.local.base import LocalModel
from inference_backends.local.models import model_factories

POOL = {"smollm2", "minilm", "vader", "langid", "lexrank", "profanity"}


def test_lists_the_default_pool() -> None:
    assert set(model_factories()) == POOL


def test_listing_and_building_import_no_model_runtime() -> None:
    script = (
        "import sys\n"
        "from inference_backends.local.models import model_factories\n"
        "models = [factory({}) for factory in model_factories().values()]\n"
        "heavy = {'llama_cpp', 'sklearn', 'sumy', 'langid', 'vaderSentiment', 'tokenizers', 'safetensors'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("name", "operation", "payload"),
    [
        ("minilm", Operation.EMBED, {"input": "hello"}),
        ("vader", Operation.CLASSIFY, {"input": "hello"}),
        ("langid", Operation.CLASSIFY, {"input": "hello"}),
        ("lexrank", Operation.SUMMARIZE, {"input": "Hello there. How are you?"}),
        ("profanity", Operation.CLASSIFY, {"input": "hello"}),
        pytest.param(
            "smollm2",
            Operation.CHAT,
            {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
            marks=pytest.mark.slow,
        ),
    ],
)
def test_each_factory_builds_a_working_model(
    name: str, operation: Operation, payload: dict[str, object]
) -> None:
    model: LocalModel = model_factories()[name]({})
    model.load()
    body = model.run(operation, {"model": name, **payload})
    assert body["model"] == name
    assert body["usage"]["total_tokens"] > 0
