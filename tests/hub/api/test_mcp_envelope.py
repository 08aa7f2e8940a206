"""The MCP door's check of a POST body against the SDK's own JSON-RPC models: whatever the hub lets
through, the SDK accepts (so the SDK's long validation report never reaches a caller), and every
message the SDK's models describe gets through."""

from __future__ import annotations

import pytest
from mcp_types import INVALID_REQUEST, PARSE_ERROR, jsonrpc_message_adapter
from pydantic import ValidationError

from hub.api.mcp.envelope import NotJson, check_message
from hub.errors import BadRequest

VALID = [
    b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}',
    b'{"jsonrpc": "2.0", "id": "a-b", "method": "tools/call", "params": {"name": "m"}}',
    b'{"jsonrpc": "2.0", "id": 0, "method": "ping", "params": null}',
    b'{"jsonrpc": "2.0", "id": -7, "method": "ping", "extra": true}',
    b'{"jsonrpc": "2.0", "id": 1180591620717411303424, "method": "ping"}',  # 2**70
    b'{"jsonrpc": "2.0", "method": "notifications/initialized"}',
    b'{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}',
    b'{"jsonrpc": "2.0", "id": null, "method": "notifications/initialized"}',
    b'{"jsonrpc": "2.0", "id": 3, "result": {}}',
    b'{"jsonrpc": "2.0", "id": "x", "error": {"code": -32601, "message": "no"}}',
    b'{"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "bad", "data": [1]}}',
    b' \n{"jsonrpc": "2.0", "id": 1, "method": "ping"}\n',
]
INVALID = [
    b'{"hello": "world"}',
    b"{}",
    b'{"jsonrpc": "2.0"}',
    b'{"jsonrpc": "2.0", "id": 1}',
    b'{"jsonrpc": 2.0, "id": 1, "method": "ping"}',
    b'{"jsonrpc": "1.0", "id": 1, "method": "ping"}',
    b'{"id": 1, "method": "ping"}',
    b'{"jsonrpc": "2.0", "id": 1, "method": 5}',
    b'{"jsonrpc": "2.0", "id": 1, "method": null}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1, 2]}',
    b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": "x"}',
    b'{"jsonrpc": "2.0", "id": 1.5, "method": "ping"}',
    b'{"jsonrpc": "2.0", "id": true, "method": "ping"}',
    b'{"jsonrpc": "2.0", "id": [1], "method": "ping"}',
    b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}',
    b'{"jsonrpc": "2.0", "result": {}}',
    b'{"jsonrpc": "2.0", "id": null, "result": {}}',
    b'{"jsonrpc": "2.0", "id": 1, "result": []}',
    b'{"jsonrpc": "2.0", "id": 1, "error": "bad"}',
    b'{"jsonrpc": "2.0", "id": 1, "error": {"code": "x", "message": "bad"}}',
    b'{"jsonrpc": "2.0", "id": 1, "error": {"code": -1}}',
    b'{"jsonrpc": "2.0", "error": {"code": -1, "message": "m"}}',
    b'"ping"',
    b"42",
    b"null",
    b"[]",
    b'[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]',
]
NOT_JSON = [b"", b"   ", b"{", b'{"jsonrpc": "2.0",}', b"{'a': 1}", b"\xff\xfe", b'{"a": NaN}']


@pytest.mark.parametrize("body", VALID)
def test_messages_the_sdk_accepts_get_through(body: bytes) -> None:
    jsonrpc_message_adapter.validate_json(body, by_name=False)
    check_message(body)


@pytest.mark.parametrize("body", INVALID)
def test_json_that_is_not_one_message_is_an_invalid_request(body: bytes) -> None:
    with pytest.raises(BadRequest) as refused:
        check_message(body)
    assert not isinstance(refused.value, NotJson)
    assert getattr(refused.value, "rpc_code", INVALID_REQUEST) == INVALID_REQUEST
    message = refused.value.message
    assert message.startswith("Invalid Request") and "\n" not in message and len(message) < 120


@pytest.mark.parametrize("body", NOT_JSON)
def test_a_body_that_is_not_json_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(NotJson) as refused:
        check_message(body)
    assert refused.value.rpc_code == PARSE_ERROR


@pytest.mark.parametrize("body", VALID + INVALID + NOT_JSON)
def test_the_hub_is_never_more_lenient_than_the_sdk(body: bytes) -> None:
    try:
        check_message(body)
    except BadRequest:
        return
    try:
        jsonrpc_message_adapter.validate_json(body, by_name=False)
    except ValidationError as error:  # pragma: no cover - the failure this test exists to catch
        pytest.fail(f"the hub lets through what the SDK refuses: {body!r}: {error}")
