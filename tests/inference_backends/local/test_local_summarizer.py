from __future__ import annotations

import pytest

from hub.call import Operation
from hub.errors import BadRequest
from inference_backends.local.summarizer import LexRankSummarizer, RegexTokenizer

# The opening of Wikipedia's "Photosynthesis" article, lightly abridged.
PARAGRAPH = (
    "Photosynthesis is a biological process used by many cellular organisms to convert light energy "
    "into chemical energy. The chemical energy is stored in carbohydrate molecules, such as sugars, "
    "which are synthesized from carbon dioxide and water. Most plants, algae, and cyanobacteria perform "
    "photosynthesis; such organisms are called photoautotrophs. Photosynthesis is largely responsible for "
    "producing and maintaining the oxygen content of the Earth's atmosphere. It supplies most of the "
    "biological energy necessary for complex life on Earth.\n\n"
    "Some bacteria also perform anoxygenic photosynthesis, which uses bacteriochlorophyll to split "
    "hydrogen sulfide as a reductant instead of water. This produces sulfur instead of oxygen. Archaea "
    "such as Halobacterium also perform a type of non-carbon-fixing anoxygenic photosynthesis. The "
    "simplest form of this is the light-dependent proton pumps found in many archaea! Did the first "
    "photosynthetic organisms evolve early in the evolutionary history of life? They most likely used "
    "reducing agents such as hydrogen or hydrogen sulfide, rather than water."
)


@pytest.fixture(scope="module")
def model() -> LexRankSummarizer:
    lexrank = LexRankSummarizer({})
    lexrank.load()
    return lexrank


@pytest.mark.parametrize("count", [1, 2, 4])
def test_picks_requested_number_of_sentences(model: LexRankSummarizer, count: int) -> None:
    body = model.run(Operation.SUMMARIZE, {"model": "lexrank", "input": PARAGRAPH, "sentences": count})
    assert body["object"] == "summary" and body["model"] == "lexrank"
    assert len(body["sentences"]) == count
    assert all(sentence in PARAGRAPH for sentence in body["sentences"])
    assert body["summary"] == " ".join(body["sentences"])
    # Extractive summaries keep the document's order.
    positions = [PARAGRAPH.index(sentence) for sentence in body["sentences"]]
    assert positions == sorted(positions)
    usage = body["usage"]
    assert usage["prompt_tokens"] == len(PARAGRAPH.split())
    assert usage["completion_tokens"] == len(body["summary"].split())
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_defaults_to_three_sentences(model: LexRankSummarizer) -> None:
    body = model.run(Operation.SUMMARIZE, {"model": "lexrank", "input": PARAGRAPH})
    assert len(body["sentences"]) == 3


def test_short_text_returns_what_it_has(model: LexRankSummarizer) -> None:
    body = model.run(
        Operation.SUMMARIZE, {"model": "lexrank", "input": "Only one sentence here.", "sentences": 5}
    )
    assert body["sentences"] == ["Only one sentence here."]


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"input": ""}, "input"),
        ({"input": ["a list"]}, "input"),
        ({}, "input"),
        ({"input": PARAGRAPH, "sentences": 0}, "sentences"),
        ({"input": PARAGRAPH, "sentences": 51}, "sentences"),
        ({"input": PARAGRAPH, "sentences": "3"}, "sentences"),
        ({"input": PARAGRAPH, "sentences": True}, "sentences"),
    ],
)
def test_rejects_invalid_payloads(model: LexRankSummarizer, payload: dict[str, object], param: str) -> None:
    with pytest.raises(BadRequest) as caught:
        model.run(Operation.SUMMARIZE, {"model": "lexrank", **payload})
    assert caught.value.param == param


def test_regex_tokenizer_splits_sentences_and_words() -> None:
    tokenizer = RegexTokenizer()
    assert tokenizer.to_sentences('He said "stop." Then left! Why? Because.') == [
        'He said "stop."',
        "Then left!",
        "Why?",
        "Because.",
    ]
    assert tokenizer.to_words("Earth's non-carbon-fixing 3.5 cells") == [
        "Earth's",
        "non-carbon-fixing",
        "3",
        "5",
        "cells",
    ]
