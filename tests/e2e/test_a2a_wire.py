"""The A2A door's wire hardening over real sockets (the hub under uvicorn, a real fake upstream, a real
webhook receiver): bodies that are not JSON or not requests, versions the door does not speak, cards
per protocol version, webhook configs per task, the hub's metadata keys, unsupported part types."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import jsonschema
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import (
    AgentCard,
    Message,
    Part,
    Role,
    SendMessageRequest,
    TaskState,
)
from google.api import field_behavior_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.webhook import TOKEN_HEADER, Webhook, serve_webhook

pytestmark = pytest.mark.anyio

V1 = {"A2A-Version": "1.0"}
JSON = {"Content-Type": "application/json"}
LEGACY_FIELDS = {"url", "preferredTransport", "protocolVersion", "additionalInterfaces"}


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[FakeUpstream, FakeUpstream]]:
    with run_fake_openai(chunks=2) as fast, run_fake_openai("slow-stream", delay_ms=50) as slow:
        yield fast, slow


@pytest.fixture(scope="module")
def hub(
    upstreams: tuple[FakeUpstream, FakeUpstream], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubProcess]:
    fast, slow = upstreams
    tmp = tmp_path_factory.mktemp("a2a-wire")
    config = {
        "store": {"url": f"sqlite+aiosqlite:///{tmp / 'hub.db'}"},
        "a2a": {"push_allowed_networks": ["127.0.0.0/8"], "push_timeout": 2},
        "models": [
            {"name": "m", "task": "chat", "backend": "openai", "replicas": [{"url": fast.base_url}]},
            {"name": "slow", "task": "chat", "backend": "openai", "replicas": [{"url": slow.base_url}]},
        ],
    }
    with run_hub(config, tmp) as process:
        yield process


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={**JSON, **headers}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def rpc(hub: HubProcess, body: bytes, headers: dict[str, str] = V1, path: str = "/a2a/") -> dict[str, Any]:
    status, answer = post(hub.url + path, body, headers)
    assert status == 200, answer
    error: dict[str, Any] = json.loads(answer)["error"]
    return error


def rest(hub: HubProcess, path: str, body: bytes, headers: dict[str, str] = V1) -> tuple[int, dict[str, Any]]:
    status, answer = post(hub.url + path, body, headers)
    error: dict[str, Any] = json.loads(answer)["error"]
    return status, error


def reason(error: dict[str, Any]) -> str:
    details = error.get("details") or error.get("data") or [{}]
    return str(details[0].get("reason"))


def message(**fields: Any) -> dict[str, Any]:
    return {"messageId": "w-1", "role": "ROLE_USER", "parts": [{"text": "hi"}], **fields}


def assert_short(error: dict[str, Any]) -> None:
    """A message of the hub's: no Python exception text."""
    text = json.dumps(error)
    for leak in ("Traceback", "codec", "expected string", "bytes-like", "Expecting value", "char "):
        assert leak not in text, text


def test_bodies_that_are_not_requests_get_short_jsonrpc_errors(hub: HubProcess) -> None:
    before = hub.log().count("Traceback")
    surrogate = rpc(hub, b'{"jsonrpc": "2.0", "id": "\\ud800", "method": "GetTask", "params": {"id": "x"}}')
    assert surrogate["code"] == -32700
    utf8 = rpc(hub, b'{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "\xff"}}')
    assert utf8["code"] == -32700
    assert rpc(hub, b"[1, 2]")["code"] == -32600
    assert rpc(hub, b"7")["code"] == -32600
    assert rpc(hub, b'{"jsonrpc": "2.0", "id": 1, "method": 5}')["code"] == -32600
    assert rpc(hub, b'{"jsonrpc": "2.0", "id": 1, "method": "rpc.x"}')["code"] == -32600
    assert rpc(hub, b'{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "extra": 1}')["code"] == -32600
    assert rpc(hub, b'{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": [1]}')["code"] == -32602
    wrong = rpc(hub, b'{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": 5}}')
    assert wrong["code"] == -32602 and wrong["message"] == "Invalid value for 'id'"
    typed = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "SendMessage", "params": {"message": 7}})
    assert rpc(hub, typed.encode())["code"] == -32602
    legacy = {"jsonrpc": "2.0", "id": 3, "method": "message/send", "params": {"message": {"parts": 5}}}
    assert rpc(hub, json.dumps(legacy).encode(), {})["code"] == -32602
    for error in (surrogate, utf8, wrong):
        assert_short(error)
    assert hub.log().count("Traceback") == before


def test_bodies_that_are_not_requests_get_http_json_400(hub: HubProcess) -> None:
    before = hub.log().count("Traceback")
    body = b'{"message": {"messageId": "\xff", "role": "ROLE_USER", "parts": [{"text": "x"}]}}'
    status, utf8 = rest(hub, "/a2a/message:send", body)
    assert status == 400 and reason(utf8) == "INVALID_REQUEST"
    status, array = rest(hub, "/a2a/message:send", b"[]")
    assert status == 400 and reason(array) == "INVALID_REQUEST"
    status, empty = rest(hub, "/agents/m/message:send", b"")
    assert status == 400 and reason(empty) == "INVALID_REQUEST"
    typed = json.dumps({"message": message(messageId=5)}).encode()
    status, wrong = rest(hub, "/agents/m/message:send", typed)
    assert status == 400 and wrong["message"] == "Invalid value for 'message.messageId'"
    for error in (utf8, empty, wrong):
        assert_short(error)
    assert hub.log().count("Traceback") == before


def test_deep_nesting_is_refused_by_both_bindings(hub: HubProcess) -> None:
    deep: Any = "x"
    for _ in range(300):
        deep = [deep]
    params = {"message": message(parts=[{"data": {"prompt": "hi", "deep": deep}}])}
    body = json.dumps({"jsonrpc": "2.0", "id": 4, "method": "SendMessage", "params": params}).encode()
    error = rpc(hub, body, path="/agents/m/")
    assert error["code"] == -32600 and "nests deeper than 64" in error["message"]
    status, refused = rest(hub, "/agents/m/message:send", json.dumps(params).encode())
    assert status == 400 and "nests deeper than 64" in refused["message"]


@pytest.mark.parametrize("path", ["/a2a/v1/tasks/nope", "/a2a/tasks/nope"])
@pytest.mark.parametrize("version", ["0.2", "2.0", "one"])
def test_an_unsupported_version_is_400_over_http_json(hub: HubProcess, path: str, version: str) -> None:
    status, _, body = get(hub.url + path, {"A2A-Version": version})
    error = json.loads(body)["error"]
    assert status == 400 and reason(error) == "VERSION_NOT_SUPPORTED", error


def test_an_unsupported_version_is_32009_over_jsonrpc(hub: HubProcess) -> None:
    legacy = {
        "kind": "message",
        "messageId": "v-1",
        "role": "user",
        "parts": [{"kind": "text", "text": "hi"}],
    }
    body = {"jsonrpc": "2.0", "id": 9, "method": "message/send", "params": {"message": legacy}}
    error = rpc(hub, json.dumps(body).encode(), {"A2A-Version": "0.2"}, "/agents/m/")
    assert error["code"] == -32009


def _schema(descriptor: Descriptor) -> dict[str, Any]:
    """A JSON Schema of a proto message's JSON form: its fields' JSON names and nothing else."""
    required = [
        field.json_name
        for field in descriptor.fields
        if field_behavior_pb2.REQUIRED in field.GetOptions().Extensions[field_behavior_pb2.field_behavior]
    ]
    return {
        "type": "object",
        "properties": {field.json_name: _field(field) for field in descriptor.fields},
        "required": required,
        "additionalProperties": False,
    }


def _field(field: FieldDescriptor) -> dict[str, Any]:
    kind = field.message_type
    if kind is not None and kind.GetOptions().map_entry:
        return {"type": "object", "additionalProperties": _field(kind.fields_by_name["value"])}
    item: dict[str, Any]
    if kind is not None:
        item = {} if kind.full_name.startswith("google.protobuf.") else _schema(kind)
    elif field.type == FieldDescriptor.TYPE_ENUM:
        item = {"enum": [value.name for value in field.enum_type.values]}
    elif field.type == FieldDescriptor.TYPE_BOOL:
        item = {"type": "boolean"}
    elif field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
        item = {"type": "string"}
    else:
        item = {"type": ["integer", "number", "string"]}
    if field.is_repeated:
        return {"type": "array", "items": item}
    return item


CARD_1_0 = _schema(AgentCard.DESCRIPTOR)


@pytest.mark.parametrize("card", ["/.well-known/agent-card.json", "/agents/m/.well-known/agent-card.json"])
def test_each_version_gets_its_own_card(hub: HubProcess, card: str) -> None:
    status, headers, body = get(hub.url + card, V1)
    v1 = json.loads(body)
    assert status == 200 and "A2A-Version" in headers["vary"]
    jsonschema.validate(v1, CARD_1_0)
    assert not LEGACY_FIELDS & v1.keys()
    _, _, by_query = get(hub.url + card + "?A2A-Version=1.0", {})
    assert json.loads(by_query) == v1
    _, legacy_headers, legacy_body = get(hub.url + card, {"A2A-Version": "0.3"})
    legacy = json.loads(legacy_body)
    assert legacy.keys() >= LEGACY_FIELDS and "supportedInterfaces" not in legacy
    _, both_headers, both = get(hub.url + card, {})
    assert json.loads(both).keys() >= LEGACY_FIELDS | {"supportedInterfaces"}
    etags = {headers["etag"], legacy_headers["etag"], both_headers["etag"]}
    assert len(etags) == 3
    status, _, _ = get(hub.url + card, {**V1, "If-None-Match": headers["etag"]})
    assert status == 304
    status, _, _ = get(hub.url + card, {**V1, "If-None-Match": legacy_headers["etag"]})
    assert status == 200


@pytest.mark.parametrize("version", ["1.0", "0.3"])
async def test_the_sdk_client_talks_from_each_card(hub: HubProcess, version: str) -> None:
    async with httpx.AsyncClient(timeout=30, headers={"A2A-Version": version}) as http:
        card = await A2ACardResolver(http, f"{hub.url}/agents/m/").get_agent_card()
        assert {i.protocol_version for i in card.supported_interfaces} >= {version}
        client = ClientFactory(ClientConfig(httpx_client=http, streaming=False)).create(card)
        text = Message(message_id=f"c-{version}", role=Role.ROLE_USER, parts=[Part(text="hi")])
        with anyio.fail_after(30):
            events = [e async for e in client.send_message(SendMessageRequest(message=text))]
    assert events[-1].task.status.state == TaskState.TASK_STATE_COMPLETED


def test_usage_metadata_is_camel_case(hub: HubProcess) -> None:
    status, body = post(hub.url + "/agents/m/message:send", json.dumps({"message": message()}).encode(), V1)
    assert status == 200, body
    metadata = json.loads(body)["task"]["metadata"]
    assert metadata["usage"] == {"promptTokens": 1, "completionTokens": 2, "totalTokens": 3}
    assert metadata["finishReason"] == "stop" and "finish_reason" not in metadata


def test_unsupported_parts_are_content_type_errors_and_parameters_do_not_matter(hub: HubProcess) -> None:
    image = {"message": message(parts=[{"url": "http://example.com/a.png", "mediaType": "image/png"}])}
    status, refused = rest(hub, "/agents/m/message:send", json.dumps(image).encode())
    assert status == 400 and reason(refused) == "CONTENT_TYPE_NOT_SUPPORTED"
    rpc_body = {"jsonrpc": "2.0", "id": 5, "method": "SendMessage", "params": image}
    assert rpc(hub, json.dumps(rpc_body).encode(), path="/agents/m/")["code"] == -32005
    plain = {"message": message(parts=[{"text": "hi", "mediaType": "Text/Plain; charset=utf-8"}])}
    status, body = post(hub.url + "/agents/m/message:send", json.dumps(plain).encode(), V1)
    assert status == 200 and json.loads(body)["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    async with serve_webhook() as receiver:
        yield receiver


def _canceled(body: dict[str, Any]) -> bool:
    return bool(body.get("statusUpdate", {}).get("status", {}).get("state") == "TASK_STATE_CANCELED")


async def test_push_configs_per_task_are_bounded(hub: HubProcess, webhook: Webhook) -> None:
    async with httpx.AsyncClient(timeout=30, headers=V1) as http:
        start = {"message": message(messageId="p-1"), "configuration": {"returnImmediately": True}}
        answer = await http.post(f"{hub.url}/agents/slow/message:send", json=start)
        task_id = answer.json()["task"]["id"]
        configs = f"{hub.url}/agents/slow/tasks/{task_id}/pushNotificationConfigs"
        for n in range(10):
            made = await http.post(configs, json={"id": f"c{n}", "url": webhook.url, "token": f"t{n}"})
            assert made.status_code == 200, made.text
        again = await http.post(configs, json={"id": "c3", "url": webhook.url, "token": "t3"})
        assert again.status_code == 200, again.text  # replacing one is not adding one
        over = await http.post(configs, json={"id": "c10", "url": webhook.url, "token": "t10"})
        assert over.status_code == 400, over.text
        error = over.json()["error"]
        assert reason(error) == "INVALID_PARAMS" and "a2a.max_push_configs_per_task" in error["message"]
        rpc_over = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "CreateTaskPushNotificationConfig",
            "params": {"taskId": task_id, "id": "c11", "url": webhook.url},
        }
        assert (await http.post(f"{hub.url}/a2a/", json=rpc_over)).json()["error"]["code"] == -32602
        canceled = await http.post(f"{hub.url}/agents/slow/tasks/{task_id}:cancel")
        assert canceled.status_code == 200, canceled.text
    await webhook.wait_for(lambda posts: len({h[TOKEN_HEADER] for h, b in posts if _canceled(b)}) >= 10)
    assert {h[TOKEN_HEADER] for h, body in webhook.posts if _canceled(body)} == {f"t{n}" for n in range(10)}
