from __future__ import annotations

import threading

import pytest

from hub.call import Operation
from hub.errors import BadRequest
from inference_backends.local.vader import VaderSentiment


@pytest.fixture(scope="module")
def model() -> VaderSentiment:
    vader = VaderSentiment({})
    vader.load()
    return vader


def top_label(item: dict[str, object]) -> object:
    labels = item["labels"]
    assert isinstance(labels, list)
    return labels[0]["label"]


def test_scores_sentiment_per_input(model: VaderSentiment) -> None:
    body = model.run(
        Operation.CLASSIFY,
        {"model": "vader", "input": ["I love this, it is wonderful!", "This is awful and I hate it."]},
    )
    first, second = body["data"]
    assert top_label(first) == "positive" and first["compound"] > 0.5
    assert top_label(second) == "negative" and second["compound"] < -0.5
    assert [item["index"] for item in body["data"]] == [0, 1]


def test_labels_are_sorted_and_shaped(model: VaderSentiment) -> None:
    body = model.run(Operation.CLASSIFY, {"model": "vader", "input": "I love this"})
    assert body["object"] == "list" and body["model"] == "vader"
    labels = body["data"][0]["labels"]
    assert {label["label"] for label in labels} == {"positive", "negative", "neutral"}
    scores = [label["score"] for label in labels]
    assert scores == sorted(scores, reverse=True)
    assert body["data"][0]["labels"][0]["label"] == "positive"
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3}


@pytest.mark.parametrize("bad", [None, 3, [], ["ok", 1], {"text": "x"}])
def test_rejects_invalid_input(model: VaderSentiment, bad: object) -> None:
    with pytest.raises(BadRequest) as caught:
        model.run(Operation.CLASSIFY, {"model": "vader", "input": bad})
    assert caught.value.param == "input"


def test_refuses_other_operations_and_streaming(model: VaderSentiment) -> None:
    with pytest.raises(BadRequest):
        model.run(Operation.CHAT, {"model": "vader", "input": "hi"})
    with pytest.raises(BadRequest) as caught:
        model.stream(Operation.CLASSIFY, {"model": "vader", "input": "hi"}, threading.Event())
    assert caught.value.param == "stream"
