"""One A2A wire module for both sides: the upstream client's requests, read by the door's fast path, and
the door's answers and errors, read by the client, over real sockets (the hub under uvicorn, a real
fake upstream). The door and the client import the same module, and nothing of the SDK's private."""

from __future__ import annotations

import ast
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.a2a_wire.answer import read_answer, send_params
from hub.a2a_wire.card import read_card
from hub.a2a_wire.errors import result_of, status_error
from hub.a2a_wire.names import BINDINGS, CARD_PATH, COMPLETED, JSON, VERSION, VERSION_HEADER
from hub.errors import BackendRejected
from tests.support.fake_openai import run_fake_openai
from tests.support.hub_server import HubProcess, run_hub

ROOT = Path(__file__).resolve().parents[2]
HEADERS = {VERSION_HEADER: VERSION, "Content-Type": JSON}


def _imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) for each ``from module import name``, and (module, "") for each ``import module``."""
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names]
    return found


def _sources(*folders: str) -> list[Path]:
    return [path for folder in folders for path in sorted((ROOT / folder).rglob("*.py"))]


def test_no_private_name_of_the_a2a_sdk_is_imported() -> None:
    private = [
        f"{path.relative_to(ROOT)}: {module}.{name}"
        for path in _sources("hub", "inference_backends", "connectors")
        for module, name in _imports(path)
        if module.split(".")[0] == "a2a"
        and (name.startswith("_") or any(part.startswith("_") for part in module.split(".")))
    ]
    assert private == []


def test_the_door_and_the_upstream_client_share_one_wire_module() -> None:
    wire = _sources("hub/a2a_wire")
    assert wire
    for path in wire:  # a future connectors/a2a imports it as freely as the backend does
        for module, _ in _imports(path):
            assert not module.startswith(("hub.api", "inference_backends", "connectors")), (path, module)
    assert not (ROOT / "inference_backends" / "a2a_wire.py").exists()
    for user in ("inference_backends/a2a_agent.py", "hub/api/a2a/fastpath.py", "hub/api/a2a/routes.py"):
        modules = {module for module, _ in _imports(ROOT / user)}
        assert any(module.startswith("hub.a2a_wire") for module in modules), user


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("a2a-wire-shared")
    with run_fake_openai() as upstream:
        config = {
            "store": {"url": f"sqlite+aiosqlite:///{tmp / 'hub.db'}"},
            "models": [
                {"name": "m", "task": "chat", "backend": "openai", "replicas": [{"url": upstream.base_url}]}
            ],
        }
        with run_hub(config, tmp) as process:
            yield process


def _post(url: str, body: object) -> tuple[int, str, bytes]:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=HEADERS, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["content-type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["content-type"], error.read()


def _card(hub: HubProcess) -> object:
    with urllib.request.urlopen(hub.url + CARD_PATH, timeout=30) as response:
        return json.load(response)


@pytest.mark.parametrize("binding", BINDINGS)
def test_the_clients_request_is_served_and_its_answer_read(hub: HubProcess, binding: str) -> None:
    endpoint = read_card(_card(hub), hub.url + CARD_PATH, None, binding)
    params = send_params("Name three primary colours.", {"hub.model": "m"})
    status, _, raw = _post(endpoint.target(False), endpoint.body(params, False))
    assert status == 200, raw
    answer = read_answer(result_of(json.loads(raw), binding))
    assert answer.state == COMPLETED
    assert answer.text
    assert answer.metadata["model"] == "m"


def test_a_refusal_reads_back_as_the_callers_error(hub: HubProcess) -> None:
    endpoint = read_card(_card(hub), hub.url + CARD_PATH, None, "HTTP+JSON")
    params = send_params("hi", {"hub.model": "nope"})
    status, _, raw = _post(endpoint.target(False), endpoint.body(params, False))
    error = status_error(status, json.loads(raw), "r")
    assert isinstance(error, BackendRejected)
    assert "nope" in error.message


def test_the_fast_paths_errors_are_the_sdks_byte_for_byte(hub: HubProcess) -> None:
    """A refused message answered by the fast path, and the same with an extra field (which the SDK's
    own route serves, ignoring the field): the same status, media type and bytes."""
    message = {
        "messageId": "m-1",
        "role": "ROLE_USER",
        "parts": [{"text": "hi"}],
        "metadata": {"hub.model": "no"},
    }
    fast = _post(hub.url + "/a2a/message:send", {"message": message})
    sdk = _post(hub.url + "/a2a/message:send", {"message": message, "ignored": 1})
    assert fast[0] == 400
    assert fast == sdk
    rpc = {"jsonrpc": "2.0", "id": "r", "method": "SendMessage", "params": {"message": message}}
    fast = _post(hub.url + "/a2a/", rpc)
    sdk = _post(hub.url + "/a2a/", {**rpc, "params": {"message": message, "ignored": 1}})
    assert fast == sdk
    assert json.loads(fast[2])["error"]["code"] == -32602
