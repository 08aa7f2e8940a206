from __future__ import annotations

import pytest

from hub.call import Operation
from hub.errors import BadRequest
from inference_backends.local.profanity import ProfanityClassifier


@pytest.fixture(scope="module")
def model() -> ProfanityClassifier:
    profanity = ProfanityClassifier({})
    profanity.load()
    return profanity


def test_flags_profanity(model: ProfanityClassifier) -> None:
    body = model.run(
        Operation.CLASSIFY, {"model": "profanity", "input": ["fuck you, you shit", "have a nice day"]}
    )
    profane, clean = (item["labels"] for item in body["data"])
    assert profane[0]["label"] == "profane" and profane[0]["score"] > 0.9
    assert clean[0]["label"] == "clean" and clean[0]["score"] > 0.9
    for labels in (profane, clean):
        assert sum(label["score"] for label in labels) == pytest.approx(1.0)
    assert body["usage"]["prompt_tokens"] == 8


def test_rejects_empty_batch(model: ProfanityClassifier) -> None:
    with pytest.raises(BadRequest) as caught:
        model.run(Operation.CLASSIFY, {"model": "profanity", "input": []})
    assert caught.value.param == "input"
