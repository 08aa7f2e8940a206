"""The processes under test: the fake upstream and the hub, each pinned to its CPU, and their meters.

Pinning (``taskset -c``): the hub alone on ``HUB_CPU``; the fake upstream, the load generator and this
orchestrator on ``LOAD_CPU``. The hub's numbers then mean "what one core of hub does".
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson
import yaml

from bench.scenarios import MODEL, Scenario
from tests.support.net import LOCALHOST, ChildExited, free_port, stop_process, wait_for_http

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HUB_CPU = 0
LOAD_CPU = 1


def pinned(cmd: Sequence[str], cpu: int | None) -> list[str]:
    """``cmd`` run on ``cpu`` only (``taskset`` execs it, so the child's pid is the command's)."""
    if cpu is None:
        return list(cmd)
    return ["taskset", "-c", str(cpu), *cmd]


def can_pin() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) > max(HUB_CPU, LOAD_CPU)


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as resp:
            return orjson.loads(resp.read())

    def post_json(self, path: str, payload: Any) -> Any:
        req = urllib.request.Request(self.url + path, data=orjson.dumps(payload), method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            return orjson.loads(resp.read())

    def stop(self) -> None:
        stop_process(self.process, timeout=10)


def _start(name: str, cmd: list[str], ready_path: str, workdir: Path, timeout: float = 60.0) -> Server:
    """Start ``cmd`` (with ``{port}`` in it) on a free port, retrying when another process took the port."""
    for attempt in range(3):
        port = free_port()
        argv = [part.replace("{port}", str(port)) for part in cmd]
        log_path = workdir / f"{name}-{port}.log"
        with log_path.open("w+b") as log:
            process = subprocess.Popen(argv, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
            url = f"http://{LOCALHOST}:{port}"
            try:
                wait_for_http(url + ready_path, process, timeout, log)
            except ChildExited as exc:
                if not exc.port_taken or attempt == 2:
                    raise
                continue
            except BaseException:
                stop_process(process)
                raise
        return Server(name, url, process, log_path)
    raise AssertionError("unreachable")


def start_upstream(workdir: Path, cpu: int | None, chunks: int, name: str = "upstream") -> Server:
    """The fake OpenAI upstream (tests/support/fake_openai.py) in mode ``ok``: answers at once. A
    second one started as ``sink`` is the OTLP collector of the scenarios that export traces."""
    cmd = [sys.executable, "-m", "tests.support.fake_openai", "--port", "{port}", "--mode", "ok"]
    cmd += ["--chunks", str(chunks), "--models", MODEL]
    return _start(name, pinned(cmd, cpu), "/_stats", workdir)


def start_fakes(
    stack: contextlib.ExitStack,
    workdir: Path,
    cpu: int | None,
    chunks: int,
    overrides: Iterable[Mapping[str, Any]],
) -> tuple[Server, Server | None]:
    """The fake upstream, and the OTLP sink when any of the scenarios' ``overrides`` names it
    (``{sink}``); both stop when ``stack`` closes."""
    upstream = start_upstream(workdir, cpu, chunks)
    stack.callback(upstream.stop)
    if not any("{sink}" in repr(o) for o in overrides):
        return upstream, None
    sink = start_upstream(workdir, cpu, chunks, name="sink")
    stack.callback(sink.stop)
    return upstream, sink


def hub_config(
    upstream_url: str, overrides: Mapping[str, Any], sink_url: str | None = None
) -> dict[str, Any]:
    """The hub's YAML config: model ``fake-model`` on the upstream, then the scenario's overrides, where
    ``{upstream}`` is the upstream's URL and ``{sink}`` the OTLP sink's (a process of its own, as a
    collector would be: not the model server's event loop)."""
    base: dict[str, Any] = {
        "models": [
            {
                "name": MODEL,
                "task": "chat",
                "backend": "openai",
                "replicas": [{"url": upstream_url + "/v1"}],
            }
        ]
    }
    urls = {"{upstream}": upstream_url, "{sink}": sink_url or upstream_url}
    return _with_urls(deep_merge(base, overrides), urls)


def _with_urls(value: Any, urls: Mapping[str, str]) -> Any:
    """Each placeholder of ``urls`` in a scenario's string settings replaced by its URL."""
    if isinstance(value, str):
        for placeholder, url in urls.items():
            value = value.replace(placeholder, url)
        return value
    if isinstance(value, Mapping):
        return {k: _with_urls(v, urls) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_urls(v, urls) for v in value]
    return value


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def create_key(workdir: Path, config: Mapping[str, Any], tag: str) -> str:
    """``hub keys create`` against the config the hub will run with: the key it prints, once."""
    config_path = workdir / f"hub-{tag}.yaml"
    config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    cmd = [sys.executable, "-m", "hub", "keys", "create", "--team", "bench", "--config", str(config_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.strip().splitlines()[-1]


def start_hub(
    workdir: Path,
    config: Mapping[str, Any],
    cpu: int | None,
    tag: str,
    wrapper: Sequence[str] = (),
    timeout: float = 60.0,
) -> Server:
    """``hub serve --config FILE`` (the installed console script) with ``config`` written as YAML;
    ``wrapper`` runs it (``valgrind ...``: the script then goes to this interpreter explicitly)."""
    config_path = workdir / f"hub-{tag}.yaml"
    config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    script = Path(sys.executable).with_name("hub")
    hub = [str(script)] if script.exists() else [sys.executable, "-m", "hub"]
    if wrapper and script.exists():
        hub = [sys.executable, str(script)]
    cmd = [*wrapper, *hub, "serve", "--config", str(config_path), "--host", LOCALHOST, "--port", "{port}"]
    return _start(f"hub-{tag}", pinned(cmd, cpu), "/healthz", workdir, timeout)


def start_scenario_hub(
    scenario: Scenario,
    upstream: Server,
    sink: Server | None,
    workdir: Path,
    cpu: int | None,
    wrapper: Sequence[str] = (),
    timeout: float = 60.0,
) -> tuple[Scenario, Server]:
    """The hub of ``scenario``, on the run's own database (ledger, keys, tasks; never a hub.db in the
    checkout); a scenario with ``api_key`` comes back carrying the key ``hub keys create`` made for it."""
    config = hub_config(upstream.url, scenario.hub_overrides, None if sink is None else sink.url)
    config["store"] = {"url": f"sqlite+aiosqlite:///{workdir / scenario.name}.db"}
    if scenario.api_key:
        key = create_key(workdir, config, scenario.name)
        scenario = replace(scenario, headers={**scenario.headers, "Authorization": f"Bearer {key}"})
    return scenario, start_hub(workdir, config, cpu, scenario.name, wrapper, timeout)


@contextlib.contextmanager
def redis_pinned(url: str | None, cpu: int | None) -> Iterator[None]:
    """The shared Redis server on ``cpu`` (the load generator's) for a scenario that uses it, so it
    never takes turns with the hub on the hub's core (in production Redis has a machine of its own).
    Its CPU affinity is put back afterwards. A Redis we cannot see or pin, or none (``url`` None), is
    left as it is."""
    pid = _redis_pid(url) if url is not None and cpu is not None else None
    if pid is None:
        yield
        return
    before = os.sched_getaffinity(pid)
    try:
        os.sched_setaffinity(pid, {cpu})
    except OSError:
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, before)


def _redis_pid(url: str) -> int | None:
    import redis

    try:
        with redis.Redis.from_url(url, socket_timeout=2) as client:
            return int(client.info("server")["process_id"])
    except (redis.RedisError, KeyError, ValueError):
        return None
