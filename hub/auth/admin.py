"""The admin credential: who may read the hub's own records across teams (``/ui``, ``/admin/traces``).

An identity is an admin when its team is in ``auth.admin_teams`` or its scopes include one of
``auth.admin_scopes``. Without an ``auth:`` section the hub is open, and so are its admin pages (as
``/admin/usage`` is). The anonymous identity of ``auth.anonymous: true`` has no team and no scopes: it
is never an admin.
"""

from __future__ import annotations

from collections.abc import Mapping

from hub.auth.access import Access
from hub.auth.settings import AuthSettings
from hub.call import Identity
from hub.errors import Forbidden


class AdminRequired(Forbidden):
    code = "admin_required"

    def __init__(self) -> None:
        super().__init__(
            "This endpoint is for hub admins: the caller is not allowed here "
            "(its team is not in auth.admin_teams and it has none of auth.admin_scopes)"
        )


def is_admin(settings: AuthSettings | None, identity: Identity) -> bool:
    if settings is None:
        return True
    if identity.team is not None and identity.team in settings.admin_teams:
        return True
    return any(scope in identity.scopes for scope in settings.admin_scopes)


def require_admin(settings: AuthSettings | None, identity: Identity) -> None:
    """Raise ``AdminRequired`` (403) unless ``identity`` is an admin under ``settings``."""
    if not is_admin(settings, identity):
        raise AdminRequired()


async def admin_identity(
    access: Access, settings: AuthSettings | None, headers: Mapping[str, str]
) -> Identity:
    """Who is calling (401 without valid credentials where they are required), if an admin; else 403."""
    identity = await access.identify(headers, "http")
    require_admin(settings, identity)
    return identity
