"""Run the real hub (``hub serve``) as a subprocess on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.net import free_port, wait_until


@dataclass
class HubProcess:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    # Credentials a test made for this hub's admin endpoints (empty: the hub is open).
    admin_headers: dict[str, str] = field(default_factory=dict)

    @property
    def v1(self) -> str:
        return self.url + "/v1"

    def pool(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.url + "/admin/models", timeout=5) as resp:
            models: list[dict[str, Any]] = json.load(resp)["models"]
        return models

    def replicas(self, model: str) -> dict[str, dict[str, Any]]:
        (entry,) = [m for m in self.pool() if m["name"] == model]
        return {r["name"]: r for r in entry["replicas"]}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@contextmanager
def run_hub(
    config: Mapping[str, Any] | None,
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 60.0,
    config_file: Path | None = None,
    cwd: Path | None = None,
    default_store: bool = False,
) -> Iterator[HubProcess]:
    """Start ``python -m hub serve`` with ``config`` (None: the embedded default) and stop it after.

    ``config_file``: serve this file as it is (pass ``config=None``); it is read only to see whether it
    names a store of its own. ``cwd``: the hub's working directory. ``default_store``: no store of the
    test's own, so the hub uses its default one (in ``$HUB_HOME``: pass it in ``env``)."""
    port = free_port()
    args = [sys.executable, "-m", "hub", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if config_file is not None:
        args += ["--config", str(config_file)]
        config = yaml.safe_load(config_file.read_text()) or {}
    elif config is not None:
        path = tmp_path / f"hub-{port}.yaml"
        path.write_text(yaml.safe_dump(dict(config)))
        args += ["--config", str(path)]
    log_path = tmp_path / f"hub-{port}.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    if not default_store and (config is None or "store" not in config):
        # Each hub gets its own database in the test's folder unless the test shares one on purpose.
        full_env["HUB_STORE__URL"] = f"sqlite+aiosqlite:///{tmp_path / f'hub-{port}.db'}"
    full_env.update(env or {})
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=full_env, cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    hub = HubProcess(url, process, log_path)
    try:
        wait_until(lambda: _ready(url) or process.poll() is not None, timeout=startup_timeout)
        if process.poll() is not None:
            raise RuntimeError(f"hub exited at start:\n{hub.log()}")
        yield hub
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
