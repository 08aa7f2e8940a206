from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from hub.call import Operation
from hub.errors import BadRequest
from inference_backends.local.minilm import MiniLMEmbedder


@pytest.fixture(scope="module")
def model() -> MiniLMEmbedder:
    minilm = MiniLMEmbedder({})
    minilm.load()
    return minilm


def embed(model: MiniLMEmbedder, texts: list[str], **extra: object) -> list[list[float]]:
    body = model.run(Operation.EMBED, {"model": "minilm", "input": texts, **extra})
    return [item["embedding"] for item in body["data"]]


REFERENCE = Path(__file__).parent / "data" / "minilm_reference.json"


def test_matches_sentence_transformers_vectors(model: MiniLMEmbedder) -> None:
    # Vectors computed once by sentence-transformers 6.2 on torch 2.13 (CPU) over the same packaged weights;
    # cos(cat, feline) = 0.6975 and cos(cat, stocks) = 0.2028 there, and here.
    reference = json.loads(REFERENCE.read_text())
    ours = np.array(embed(model, reference["texts"]))
    np.testing.assert_allclose(ours, np.array(reference["embeddings"]), atol=2e-5)
    assert float(ours[0] @ ours[1]) == pytest.approx(0.6975, abs=1e-3)
    assert float(ours[0] @ ours[2]) == pytest.approx(0.2028, abs=1e-3)


def test_matches_sentence_transformers_quickstart(model: MiniLMEmbedder) -> None:
    # The similarity matrix sentence-transformers' quickstart (sbert.net) prints for this model.
    vectors = np.array(
        embed(model, ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    )
    similarities = vectors @ vectors.T
    assert similarities[0, 1] == pytest.approx(0.6660, abs=0.02)
    assert similarities[0, 2] == pytest.approx(0.1046, abs=0.02)
    assert similarities[1, 2] == pytest.approx(0.1411, abs=0.02)


def test_related_words_are_closer(model: MiniLMEmbedder) -> None:
    cat, feline, stocks = np.array(embed(model, ["cat", "feline", "stocks"]))
    assert cat @ feline > 0.6 > 0.3 > cat @ stocks


def test_response_shape_and_unit_vectors(model: MiniLMEmbedder) -> None:
    body = model.run(Operation.EMBED, {"model": "minilm", "input": "hello world"})
    assert body["object"] == "list" and body["model"] == "minilm"
    (item,) = body["data"]
    assert item["object"] == "embedding" and item["index"] == 0
    assert len(item["embedding"]) == 384
    assert np.linalg.norm(item["embedding"]) == pytest.approx(1.0, abs=1e-5)
    # [CLS] hello world [SEP]
    assert body["usage"] == {"prompt_tokens": 4, "total_tokens": 4}


def test_base64_round_trips_to_the_float_vectors(model: MiniLMEmbedder) -> None:
    texts = ["a short one", "a much longer sentence that forces padding in the batch"]
    floats = embed(model, texts, encoding_format="float")
    encoded = embed(model, texts, encoding_format="base64")
    for as_float, as_text in zip(floats, encoded, strict=True):
        assert isinstance(as_text, str)
        decoded = np.frombuffer(base64.b64decode(as_text), dtype="<f4")
        np.testing.assert_allclose(decoded, as_float, atol=1e-6)


def test_padding_does_not_change_an_embedding(model: MiniLMEmbedder) -> None:
    (alone,) = embed(model, ["a cat"])
    batched = embed(model, ["a cat", "a cat sat on the mat and looked out of the window for a while"])[0]
    np.testing.assert_allclose(alone, batched, atol=1e-5)


def test_long_input_is_truncated_not_refused(model: MiniLMEmbedder) -> None:
    body = model.run(Operation.EMBED, {"model": "minilm", "input": "word " * 1000})
    assert body["usage"]["prompt_tokens"] == 256


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"input": []}, "input"),
        ({"input": 5}, "input"),
        ({"input": [1, 2]}, "input"),
        ({"input": "x", "encoding_format": "binary"}, "encoding_format"),
    ],
)
def test_rejects_invalid_payloads(model: MiniLMEmbedder, payload: dict[str, object], param: str) -> None:
    with pytest.raises(BadRequest) as caught:
        model.run(Operation.EMBED, {"model": "minilm", **payload})
    assert caught.value.param == param


def test_does_not_stream(model: MiniLMEmbedder) -> None:
    with pytest.raises(BadRequest):
        model.stream(Operation.EMBED, {"model": "minilm", "input": "x"}, threading.Event())
