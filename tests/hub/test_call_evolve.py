"""``Call.evolve`` is ``dataclasses.replace`` for every field, faster."""

from __future__ import annotations

import dataclasses

import pytest

from hub.call import Call, CallTrace, Identity, Operation


def original() -> Call:
    return Call(
        frontdoor="http",
        operation=Operation.CHAT,
        model="m",
        payload={"messages": []},
        stream=True,
        deadline=12.5,
        headers={"x-session-id": "s"},
        client="127.0.0.1",
        span_attributes={"gen_ai.tool.name": "t"},
    )


CHANGES = {
    "frontdoor": "mcp",
    "operation": Operation.EMBED,
    "model": "other",
    "payload": {"input": "x"},
    "stream": False,
    "deadline": None,
    "headers": {},
    "identity": Identity(subject="agent-7", team="research"),
    "client": "10.0.0.1",
    "session_id": "ctx-1",
    "trace": CallTrace("1" * 32, "ctx-1", {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}),
    "span_attributes": {},
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_evolving_any_one_field_is_replace(name: str) -> None:
    call = original()
    evolved = call.evolve(**{name: CHANGES[name]})
    assert evolved == dataclasses.replace(call, **{name: CHANGES[name]})
    assert call == original()  # the original is untouched
    # The trace is the call's, not part of its value: a copy shares it unless given another.
    assert evolved.trace is (CHANGES["trace"] if name == "trace" else call.trace)


def test_every_field_is_covered_and_all_at_once_works() -> None:
    assert set(CHANGES) == {f.name for f in dataclasses.fields(Call)}
    assert original().evolve(**CHANGES) == dataclasses.replace(original(), **CHANGES)


def test_an_unknown_field_is_refused_and_the_result_is_frozen() -> None:
    with pytest.raises(TypeError, match="no field"):
        original().evolve(modle="typo")
    with pytest.raises(dataclasses.FrozenInstanceError):
        original().evolve(model="x").model = "y"  # type: ignore[misc]
