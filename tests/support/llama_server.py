"""Run ``python -m llama_cpp.server`` as a real model server for end-to-end tests.

The server is configured through a ``--config_file`` so one code path serves one model or several on
one port (llama_cpp.server keeps one in memory at a time and swaps on demand).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .net import LOCALHOST, ChildExited, free_port, stop_process, wait_for_http


def llama_server_config(
    models: Mapping[str, Path], port: int, *, n_ctx: int = 512, embedding: bool = False
) -> dict[str, Any]:
    """The config-file contents serving ``models`` (alias -> GGUF path) on 127.0.0.1:``port``."""
    return {
        "host": LOCALHOST,
        "port": port,
        # By default a new request cuts off the stream in flight; a gateway under test sends
        # concurrent requests and must see them queue, as with any busy replica.
        "interrupt_requests": False,
        "models": [
            {
                "model": str(path),
                "model_alias": alias,
                "n_ctx": n_ctx,
                "n_threads": 1,
                "embedding": embedding,
                "use_mlock": False,
                "verbose": False,
            }
            for alias, path in models.items()
        ],
    }


@contextlib.contextmanager
def run_llama_server(
    model_path: Path,
    alias: str,
    *,
    n_ctx: int = 512,
    embedding: bool = False,
    startup_timeout: float = 60.0,
) -> Iterator[str]:
    """Serve one GGUF under ``alias``; yields the base URL ending in ``/v1``. Stops the server on exit."""
    with run_llama_server_models(
        {alias: model_path}, n_ctx=n_ctx, embedding=embedding, startup_timeout=startup_timeout
    ) as base_url:
        yield base_url


@contextlib.contextmanager
def run_llama_server_models(
    models: Mapping[str, Path],
    *,
    n_ctx: int = 512,
    embedding: bool = False,
    startup_timeout: float = 60.0,
    attempts: int = 3,
) -> Iterator[str]:
    """Serve several GGUFs (alias -> path) on one free port; yields the base URL ending in ``/v1``."""
    with tempfile.TemporaryDirectory(prefix="llama-server-") as tmp:
        for attempt in range(attempts):
            port = free_port()
            config = Path(tmp) / "config.json"
            config.write_text(json.dumps(llama_server_config(models, port, n_ctx=n_ctx, embedding=embedding)))
            log = (Path(tmp) / f"server-{attempt}.log").open("w+b")
            cmd = [sys.executable, "-m", "llama_cpp.server", "--config_file", str(config)]
            process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
            try:
                base_url = f"http://{LOCALHOST}:{port}/v1"
                try:
                    wait_for_http(f"{base_url}/models", process, startup_timeout, log)
                except ChildExited as exc:
                    if not exc.port_taken or attempt == attempts - 1:
                        raise
                    continue
                yield base_url
                return
            finally:
                stop_process(process, timeout=5)
                log.close()
