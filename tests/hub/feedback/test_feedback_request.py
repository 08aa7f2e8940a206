"""What a rating may hold: each wrong field is refused by name, before anything is looked up."""

from __future__ import annotations

from typing import Any

import pytest

from hub.errors import BadRequest
from hub.feedback import MAX_COMMENT, FeedbackRequest, Rated, parse_feedback

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_rating_with_and_without_a_comment() -> None:
    assert parse_feedback({"trace_id": TRACE, "rating": "up"}) == FeedbackRequest(TRACE, "up")
    parsed = parse_feedback({"trace_id": TRACE.upper(), "rating": "down", "comment": "wrong year"})
    assert parsed == FeedbackRequest(TRACE, "down", "wrong year")  # hex is kept lower-case, as logged
    assert (parsed.score, parse_feedback({"trace_id": TRACE, "rating": "up"}).score) == (-1, 1)
    assert parse_feedback({"trace_id": TRACE, "rating": "up", "comment": None}).comment is None
    assert parse_feedback({"trace_id": TRACE, "rating": "up", "comment": "x" * MAX_COMMENT}).comment


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"rating": "up"}, "trace_id"),
        ({"trace_id": TRACE[:-1], "rating": "up"}, "trace_id"),
        ({"trace_id": TRACE + "\n", "rating": "up"}, "trace_id"),
        ({"trace_id": "0" * 32, "rating": "up"}, "trace_id"),  # W3C: not a trace
        ({"trace_id": "g" * 32, "rating": "up"}, "trace_id"),
        ({"trace_id": 12345, "rating": "up"}, "trace_id"),
        ({"trace_id": TRACE}, "rating"),
        ({"trace_id": TRACE, "rating": "UP"}, "rating"),
        ({"trace_id": TRACE, "rating": 1}, "rating"),
        ({"trace_id": TRACE, "rating": "up", "comment": 5}, "comment"),
        ({"trace_id": TRACE, "rating": "up", "comment": "x" * (MAX_COMMENT + 1)}, "comment"),
        ({"trace_id": TRACE, "rating": "up", "stars": 5}, "stars"),
    ],
)
def test_a_wrong_field_is_named(arguments: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_feedback(arguments)
    assert refused.value.param == param
    assert param in refused.value.message


def test_the_answer_names_the_model() -> None:
    assert Rated(TRACE, "up", "m").as_json() == {
        "object": "feedback",
        "trace_id": TRACE,
        "rating": "up",
        "model": "m",
    }
