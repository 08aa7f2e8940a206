"""The caller of an A2A request, as Starlette (and through it the SDK) sees it."""

from __future__ import annotations

from starlette.authentication import BaseUser

from hub.api.asgi import Scope
from hub.call import ANONYMOUS, Identity


class HubUser(BaseUser):
    """Set as the request's ``user`` by ``auth.A2AAuth``. ``display_name`` is what the SDK uses as the
    task owner: the subject (never a secret), and "" for anonymous callers (one owner for all of them),
    so a caller reads, lists and cancels only the tasks it created."""

    def __init__(self, identity: Identity) -> None:
        self.hub_identity = identity

    @property
    def is_authenticated(self) -> bool:
        return self.hub_identity.kind != "anonymous"

    @property
    def display_name(self) -> str:
        return self.hub_identity.subject if self.is_authenticated else ""


def identity_of(scope: Scope) -> Identity:
    user = scope.get("user")
    return user.hub_identity if isinstance(user, HubUser) else ANONYMOUS
