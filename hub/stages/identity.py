"""The identity stage: who is calling, from the credentials in the call's headers (``hub.auth``).

It refuses a call without credentials where they are required and a call whose credentials do not
verify (401; never served as anonymous instead), and hands on the call with ``Call.identity`` set.
The headers stay on the call only for this: no stage or backend forwards them.
"""

from __future__ import annotations

from hub.auth.access import Access
from hub.call import Call, Result
from hub.pipeline import Next


class IdentityStage:
    def __init__(self, access: Access) -> None:
        self._access = access

    async def __call__(self, call: Call, next: Next) -> Result:
        identity = await self._access.identify(call.headers, call.frontdoor)
        return await next(call.evolve(identity=identity))
