from __future__ import annotations

import pytest

from hub.call import Operation
from hub.errors import BadRequest
from inference_backends.local.language import LangIdClassifier


@pytest.fixture(scope="module")
def model() -> LangIdClassifier:
    langid = LangIdClassifier({})
    langid.load()
    return langid


def test_identifies_languages(model: LangIdClassifier) -> None:
    body = model.run(
        Operation.CLASSIFY,
        {
            "model": "langid",
            "input": [
                "Bonjour tout le monde, comment allez-vous",
                "The quick brown fox jumps over the lazy dog",
                "Der schnelle braune Fuchs springt über den faulen Hund",
            ],
        },
    )
    tops = [item["labels"][0]["label"] for item in body["data"]]
    assert tops == ["fr", "en", "de"]


def test_returns_top_three_normalised(model: LangIdClassifier) -> None:
    body = model.run(
        Operation.CLASSIFY, {"model": "langid", "input": "Bonjour tout le monde, comment allez-vous"}
    )
    labels = body["data"][0]["labels"]
    assert len(labels) == 3
    scores = [label["score"] for label in labels]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert scores[0] > 0.9
    assert body["usage"]["prompt_tokens"] == 6


def test_rejects_non_text(model: LangIdClassifier) -> None:
    with pytest.raises(BadRequest) as caught:
        model.run(Operation.CLASSIFY, {"model": "langid", "input": 42})
    assert caught.value.param == "input"
