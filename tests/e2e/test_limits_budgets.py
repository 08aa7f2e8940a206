"""Budgets end to end: a priced model and a team budget refuse the call that would exceed it (429,
``budget_exceeded``), and ``hub usage`` reports the spend per team, key and model from the ledger."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.auth_hub import create_key, write_config
from tests.support.fake_openai import run_fake_openai
from tests.support.hub_server import run_hub
from tests.support.limits_hub import MODEL, chat, model
from tests.support.net import wait_until

TEAM = "research"
PRICE = {"input_per_1k": 1.0, "output_per_1k": 1.0}  # USD: 1 prompt word + 5 chunks = 0.006 a call
COST = 0.006
BUDGET = 0.05  # 8 calls fit (0.048); the 9th would reach 0.054


def usage(config: Path, by: str) -> Any:
    command = [sys.executable, "-m", "hub", "usage", "--config", str(config), "--by", by, "--json"]
    return json.loads(subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout)


def test_a_team_budget_refuses_the_call_that_would_exceed_it(tmp_path: Path) -> None:
    with run_fake_openai(chunks=5) as upstream:
        settings = {
            "store": {"url": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"},
            "models": [model(upstream, price=PRICE)],
            "budgets": {"teams": {TEAM: [{"amount": BUDGET, "period": "day"}]}},
            "usage": {"flush_interval": 0.1},
            "mcp": {"enabled": False},
            "a2a": {"enabled": False},
        }
        config = write_config(tmp_path, settings)
        key = create_key(config, TEAM)
        with run_hub(settings, tmp_path, config_file=config) as hub:
            headers = {"authorization": f"Bearer {key}"}
            with httpx.Client(base_url=hub.v1, headers=headers, timeout=10) as client:
                admitted = 0
                while (
                    response := client.post("/chat/completions", json=chat(max_tokens=5))
                ).status_code == 200:
                    admitted += 1
                    assert admitted <= 8, "the budget did not hold"
                assert admitted == 8
                assert response.status_code == 429
                error = response.json()["error"]
                assert error["type"] == "rate_limit_error"
                assert error["code"] == "budget_exceeded"
                assert f"team '{TEAM}'" in error["message"]
                assert int(response.headers["retry-after"]) >= 1
                assert float(response.headers["x-budget-limit"]) == pytest.approx(BUDGET)
                assert float(response.headers["x-budget-remaining"]) == pytest.approx(BUDGET - 8 * COST)
            sdk = openai.OpenAI(base_url=hub.v1, api_key=key, max_retries=0, timeout=10)
            with pytest.raises(openai.RateLimitError) as raised:
                sdk.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=5
                )
            assert raised.value.code == "budget_exceeded"

            def spent() -> Any:  # the recorder writes in batches: wait for the ten rows
                rows = usage(config, "team")
                return rows if sum(row["calls"] for row in _rows(rows)) >= 10 else None

            by_team = _rows(wait_until(spent, timeout=30, what="ledger rows"))
            by_key = _rows(usage(config, "key"))
            by_model = _rows(usage(config, "model"))
    (team,) = by_team
    assert team["group"] == TEAM
    assert team["calls"] == 10
    assert team["errors"] == 2  # the two refusals are in the ledger too, at no cost
    assert (team["prompt_tokens"], team["completion_tokens"]) == (8, 40)
    assert team["cost"] == pytest.approx(8 * COST)
    (per_key,) = by_key
    assert per_key["group"] == key.split("-")[1]
    assert per_key["cost"] == pytest.approx(8 * COST)
    (per_model,) = by_model
    assert per_model["group"] == MODEL
    assert per_model["cost"] == pytest.approx(8 * COST)


def _rows(report: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = report["groups"]
    return rows


@pytest.mark.anyio
async def test_budget_refusals_at_the_mcp_and_a2a_doors(tmp_path: Path) -> None:
    """The same team budget refuses an MCP tool call (a tool error carrying the 429) and an A2A
    SendMessage (a REJECTED task carrying it), each in its protocol's own shape."""
    import uuid

    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    budget = 2 * COST  # two calls fit, wherever they come from
    with run_fake_openai(chunks=5) as upstream:
        settings = {
            "store": {"url": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"},
            "models": [model(upstream, price=PRICE)],
            "budgets": {"teams": {TEAM: [{"amount": budget, "period": "day"}]}},
        }
        config = write_config(tmp_path, settings)
        key = create_key(config, TEAM)
        headers = {"authorization": f"Bearer {key}"}
        arguments = {"prompt": "hi", "max_tokens": 5}
        message = {
            "messageId": uuid.uuid4().hex,
            "role": "ROLE_USER",
            "parts": [{"text": "hi"}],
            "metadata": {"hub.model": MODEL},
        }
        body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
        with run_hub(None, tmp_path, config_file=config) as hub, anyio.fail_after(60):
            transport = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0))
            async with Client(streamable_http_client(hub.url + "/mcp", http_client=transport)) as mcp:
                results = [await mcp.call_tool(MODEL, arguments) for _ in range(3)]
            async with httpx.AsyncClient(headers=headers, timeout=10) as http:
                a2a = await http.post(hub.url + "/a2a/", json=body, headers={"A2A-Version": "1.0"})
    assert [result.is_error for result in results] == [False, False, True]
    refused = results[2]
    assert refused.meta is not None
    error = refused.meta["hub/error"]
    assert (error["status"], error["code"]) == (429, "budget_exceeded")
    assert "Budget exceeded for team 'research'" in refused.content[0].text  # type: ignore[union-attr]

    assert a2a.status_code == 200, a2a.text
    task = a2a.json()["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_REJECTED", task
    rejection = task["metadata"]["error"]
    assert (rejection["status"], rejection["code"]) == (429, "budget_exceeded")
