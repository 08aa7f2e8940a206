"""Importing the hub changes nothing global: the process-wide settings (the A2A SDK's instrumentation
switch, logging, the collector) are made by the entry points alone (``hub.startup``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from hub.startup import A2A_SDK_TELEMETRY

# Imports every hub module in a fresh interpreter and prints what the process looked like before and
# after: its environment, the root logger, the collector.
_PROBE = """
import gc, json, logging, os, pkgutil, importlib
def state():
    root = logging.getLogger()
    return {
        "environ": dict(os.environ),
        "root_handlers": len(root.handlers),
        "root_level": root.level,
        "threshold": list(gc.get_threshold()),
        "frozen": gc.get_freeze_count(),
    }
before = state()
import hub
names = sorted(m.name for m in pkgutil.walk_packages(hub.__path__, "hub.") if m.name != "hub.__main__")
for name in names:
    importlib.import_module(name)
print(json.dumps({"before": before, "after": state(), "modules": len(names)}))
"""


def test_importing_every_hub_module_changes_nothing_global() -> None:
    env = {k: v for k, v in os.environ.items() if k != A2A_SDK_TELEMETRY}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["modules"] > 100  # the A2A and MCP doors included
    assert report["after"] == report["before"]
