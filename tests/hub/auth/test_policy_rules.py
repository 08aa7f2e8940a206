"""The policy: team and key allow-lists, their intersection, and the defaults."""

from __future__ import annotations

from hub.auth.policy import Policy
from hub.call import ANONYMOUS, Identity


def key(team: str | None, *models: str) -> Identity:
    return Identity(subject="key:x", team=team, kind="api_key", models=models)


POLICY = Policy(
    {"research": ["chat-*", "org/*"], "ops": ["emb"], "nobody": []},
    default=["public-*"],
    anonymous=None,
)


def test_team_patterns() -> None:
    assert POLICY.allows(key("research"), "chat-small")
    assert POLICY.allows(key("research"), "org/llama3:8b")
    assert not POLICY.allows(key("research"), "emb")
    assert not POLICY.allows(key("research"), "Chat-small")  # case-sensitive
    assert POLICY.allows(key("ops"), "emb") and not POLICY.allows(key("ops"), "emb2")
    assert not POLICY.allows(key("nobody"), "chat-small")


def test_key_patterns_intersect_with_the_team() -> None:
    narrow = key("research", "chat-big", "emb")
    assert POLICY.allows(narrow, "chat-big")
    assert not POLICY.allows(narrow, "chat-small")  # the key does not allow it
    assert not POLICY.allows(narrow, "emb")  # the team does not allow it


def test_unlisted_teams_and_teamless_callers_use_the_default() -> None:
    assert POLICY.allows(key("unlisted"), "public-chat")
    assert not POLICY.allows(key("unlisted"), "chat-small")
    assert POLICY.allows(Identity(subject="jwt:x", kind="jwt"), "public-chat")


def test_anonymous() -> None:
    assert not POLICY.allows(ANONYMOUS, "public-chat")
    assert Policy({}, (), anonymous=["*"]).allows(ANONYMOUS, "anything/at:all")
    assert not Policy({}, (), anonymous=[]).allows(ANONYMOUS, "x")


def test_decisions_repeat() -> None:
    caller = key("research", "chat-*")
    assert [POLICY.allows(caller, "chat-a") for _ in range(3)] == [True] * 3
    assert [POLICY.allows(caller, "emb") for _ in range(3)] == [False] * 3
