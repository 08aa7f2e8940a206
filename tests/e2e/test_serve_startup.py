"""``hub serve``'s start-up, end to end: the served process runs with the A2A SDK's own spans off
(set by the entry point before the SDK is imported, not inherited) and its heap frozen after start-up.

The real ``hub serve`` in a subprocess; a ``sitecustomize`` on its path writes, as the process exits,
the state only the process itself can see.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import httpx
import pytest

from hub.startup import A2A_SDK_TELEMETRY, YOUNG_THRESHOLD
from tests.support.fake_openai import run_fake_openai
from tests.support.hub_server import run_hub

_REPORTER = """
import atexit, gc, json, os, sys

def _report():
    telemetry = sys.modules.get("a2a.utils.telemetry")
    state = {
        "frozen": gc.get_freeze_count(),
        "threshold": list(gc.get_threshold()),
        "a2a_spans": None if telemetry is None else telemetry.otel_enabled,
        "switch": os.environ.get("A2A_SWITCH"),
    }
    with open(os.environ["STARTUP_STATE_FILE"], "w") as out:
        json.dump(state, out)

atexit.register(_report)
""".replace("A2A_SWITCH", A2A_SDK_TELEMETRY)


def test_hub_serve_switches_the_a2a_sdk_spans_off_and_freezes_its_heap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(A2A_SDK_TELEMETRY, raising=False)  # the hub must set it, not inherit it
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_REPORTER)
    state_file = tmp_path / "state.json"
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    env = {"PYTHONPATH": path, "STARTUP_STATE_FILE": str(state_file)}
    with run_fake_openai(chunks=1) as upstream:
        model = {
            "name": "fake-model",
            "task": "chat",
            "backend": "openai",
            "replicas": [{"url": upstream.base_url}],
        }
        config = {"models": [{**model, "health": {"enabled": False}}]}  # the A2A door is on by default
        with run_hub(config, tmp_path, env=env) as hub:
            card = httpx.get(hub.url + "/.well-known/agent-card.json", timeout=10)
            assert card.status_code == 200  # the A2A door is served: the SDK is loaded
            # Ctrl-C: uvicorn stops, then re-raises it, and Python runs the exit hooks on its way out.
            hub.process.send_signal(signal.SIGINT)
            hub.process.wait(timeout=30)
    state = json.loads(state_file.read_text())
    assert state["switch"] == "false"
    assert state["a2a_spans"] is False  # the SDK read the switch when it was imported
    assert state["frozen"] > 0
    assert state["threshold"][0] == YOUNG_THRESHOLD
