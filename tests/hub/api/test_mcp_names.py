"""Tool names for model names, and cursor pagination."""

from __future__ import annotations

import re

import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from hub.api.mcp import paging
from hub.api.mcp.names import tool_names

VALID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def test_valid_names_stay_and_others_are_rewritten_readably() -> None:
    names = tool_names(["fake-model", "qwen2.5:7b", "meta-llama/Llama-3.1-8B"])
    assert names == {
        "fake-model": "fake-model",
        "qwen2.5:7b": "qwen2.5_7b",
        "meta-llama/Llama-3.1-8B": "meta-llama_Llama-3.1-8B",
    }


def test_collisions_get_a_stable_hash_suffix() -> None:
    names = tool_names(["a.b", "a:b", "a/b", "c:d"])
    assert names["a.b"] == "a.b" and names["c:d"] == "c_d"
    assert names["a:b"].startswith("a_b-") and names["a/b"].startswith("a_b-")
    assert len(set(names.values())) == 4
    assert tool_names(["a/b", "c:d", "a:b", "a.b"]) == names  # the order of the pool does not matter


@pytest.mark.parametrize("model", ["a_b", "hub_feedback", "hub:feedback", "HUB/x", "has space", ""])
def test_names_that_are_not_model_names_are_refused(model: str) -> None:
    with pytest.raises(ValueError, match="model name"):
        tool_names(["fine", model])


def test_long_names_are_cut_to_128_with_a_suffix() -> None:
    long = "org/" + "x" * 200
    (name,) = tool_names([long]).values()
    assert len(name) == 128 and VALID.match(name)
    assert tool_names([long])[long] == name


def test_every_mapped_name_is_a_valid_tool_name() -> None:
    models = ["m:1", "m/1", "m.1", "a" * 128, "b" * 129, "x.y-z", "ns/model:tag"]
    assert all(VALID.match(name) for name in tool_names(models).values())


def test_pages_and_cursors_walk_the_whole_list_once() -> None:
    items = list(range(250))
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = paging.page(items, cursor, 100)
        seen += page
        pages += 1
        if cursor is None:
            break
    assert seen == items and pages == 3


@pytest.mark.parametrize("cursor", ["garbage", paging.encode(0), paging.encode(999), "b2Zmc2V0Ong=", "!!"])
def test_foreign_cursors_are_invalid_params(cursor: str) -> None:
    with pytest.raises(MCPError) as info:
        paging.page(list(range(10)), cursor, 5)
    assert info.value.code == INVALID_PARAMS
