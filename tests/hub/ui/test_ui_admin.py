"""Who is an admin: a team in ``auth.admin_teams`` or a scope in ``auth.admin_scopes``; everyone on an
open hub (no ``auth:`` section); never the anonymous caller of ``auth.anonymous: true``."""

from __future__ import annotations

import pytest

from hub.auth.admin import AdminRequired, is_admin, require_admin
from hub.auth.settings import AuthSettings
from hub.call import ANONYMOUS, Identity

AUTH = AuthSettings()


def key(team: str | None) -> Identity:
    return Identity(subject="key:0123456789abcdef", team=team, kind="api_key", key_id="0123456789abcdef")


def token(*scopes: str, team: str | None = None) -> Identity:
    return Identity(subject="agent-7", team=team, kind="jwt", scopes=frozenset(scopes))


def test_defaults_are_the_admin_team_and_the_hub_admin_scope() -> None:
    assert AUTH.admin_teams == ("admin",)
    assert AUTH.admin_scopes == ("hub.admin",)


def test_an_open_hub_lets_everyone_in() -> None:
    assert is_admin(None, ANONYMOUS)
    assert is_admin(None, key("research"))


def test_the_admin_team_or_an_admin_scope_makes_an_admin() -> None:
    assert is_admin(AUTH, key("admin"))
    assert is_admin(AUTH, token("models:use", "hub.admin", team="research"))


def test_other_teams_scopes_and_anonymous_are_not_admins() -> None:
    assert not is_admin(AUTH, key("research"))
    assert not is_admin(AUTH, key(None))
    assert not is_admin(AUTH, token("models:use", "hub.admin.read", team="administrators"))
    assert not is_admin(AuthSettings(anonymous=True), ANONYMOUS)


def test_the_lists_are_configurable() -> None:
    auth = AuthSettings(admin_teams=("ops",), admin_scopes=())
    assert is_admin(auth, key("ops"))
    assert not is_admin(auth, key("admin"))
    assert not is_admin(auth, token("hub.admin"))


def test_require_admin_refuses_with_403() -> None:
    require_admin(AUTH, key("admin"))
    with pytest.raises(AdminRequired) as refused:
        require_admin(AUTH, key("research"))
    assert refused.value.status == 403
    assert refused.value.code == "admin_required"
    assert "not allowed" in refused.value.message
