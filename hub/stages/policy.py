"""The policy stage: may this caller use this model? (``hub.auth.policy``: team and key allow-lists.)

A refusal is 403 ``permission_denied`` with the same message whether or not the model exists, so a
caller cannot probe for models outside its allow-list. It runs before any limit is counted and before
the router looks the model up.
"""

from __future__ import annotations

from hub.auth.access import Access
from hub.call import Call, Result
from hub.pipeline import Next


class PolicyStage:
    def __init__(self, access: Access) -> None:
        self._access = access

    async def __call__(self, call: Call, next: Next) -> Result:
        self._access.authorize(call.identity, call.model)
        return await next(call)
