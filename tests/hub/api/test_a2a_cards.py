"""Agent cards: Hub as a router whose skills are the pool's models, and one card per model."""

from __future__ import annotations

from typing import Any

from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.types.a2a_pb2 import SendMessageRequest
from google.api.field_behavior_pb2 import FieldBehavior, field_behavior
from google.protobuf.descriptor import Descriptor

from hub.api.a2a.cards import agent_url, model_card, router_card
from hub.api.a2a.handler import REQUIRED_WHEN_NO_WEBHOOK
from hub.registry import backend_factories, build_registry
from hub.settings import Settings

BASE = "https://hub.example.com"


def registry(*names_and_tasks: tuple[str, str]) -> Any:
    models = [
        {"name": name, "task": task, "backend": "openai", "replicas": [{"url": "http://127.0.0.1:9/v1"}]}
        for name, task in names_and_tasks
    ]
    return build_registry(Settings.model_validate({"models": models}), backend_factories())


def test_router_card_lists_each_model_as_a_skill() -> None:
    card = agent_card_to_dict(router_card(registry(("chatty", "chat"), ("vec", "embed")), BASE, push=True))
    assert card["name"] == "Hub" and "hub.model" in card["description"]
    assert [s["id"] for s in card["skills"]] == ["chatty", "vec"]
    chat, embed = card["skills"]
    assert chat["tags"] == ["chat", "openai"] and chat["examples"]
    assert chat["inputModes"] == ["text/plain", "application/json"] and chat["outputModes"] == ["text/plain"]
    assert embed["outputModes"] == ["application/json"] and "input" in embed["description"]
    assert card["capabilities"] == {"streaming": True, "pushNotifications": True, "extendedAgentCard": False}
    assert card["defaultOutputModes"] == ["text/plain", "application/json"]


def test_interfaces_are_json_rpc_and_http_json_for_1_0_then_0_3() -> None:
    card = agent_card_to_dict(router_card(registry(("m", "chat")), BASE, push=False))
    interfaces = [(i["protocolBinding"], i["protocolVersion"], i["url"]) for i in card["supportedInterfaces"]]
    url = f"{BASE}/a2a/"
    assert interfaces == [
        ("JSONRPC", "1.0", url),
        ("HTTP+JSON", "1.0", url),
        ("JSONRPC", "0.3", url),
        ("HTTP+JSON", "0.3", url),
    ]
    # The SDK derives the 0.3 card fields from the 0.3 entries, so 0.3 clients find the agent too.
    assert (card["url"], card["preferredTransport"], card["protocolVersion"]) == (url, "JSONRPC", "0.3")
    assert card["capabilities"]["pushNotifications"] is False


def test_each_model_is_an_agent_at_its_own_url() -> None:
    pool = registry(("org/llama3:8b", "chat"))
    card = agent_card_to_dict(model_card(pool.get("org/llama3:8b"), BASE, push=True))
    assert card["name"] == "org/llama3:8b"
    assert {i["url"] for i in card["supportedInterfaces"]} == {f"{BASE}/agents/org/llama3:8b/"}
    assert [s["id"] for s in card["skills"]] == ["org/llama3:8b"]
    assert agent_url(BASE, "a b") == f"{BASE}/agents/a%20b/"


def test_the_direct_path_checks_every_field_the_sdk_requires() -> None:
    """``handler`` checks these fields itself; an SDK that requires more must be caught here."""

    def required(descriptor: Descriptor, prefix: str, seen: frozenset[str]) -> list[str]:
        found = []
        for field in descriptor.fields:
            if FieldBehavior.REQUIRED in field.GetOptions().Extensions[field_behavior]:
                found.append(prefix + field.name)
            nested = field.message_type
            if nested is not None and nested.full_name not in seen and not nested.GetOptions().map_entry:
                found += required(nested, f"{prefix}{field.name}.", seen | {nested.full_name})
        return found

    fields = required(SendMessageRequest.DESCRIPTOR, "", frozenset())
    webhook = [f for f in fields if f.startswith("configuration.task_push_notification_config")]
    assert sorted(set(fields) - set(webhook)) == sorted(REQUIRED_WHEN_NO_WEBHOOK)
