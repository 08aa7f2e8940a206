"""``POST /v1/feedback``: rate a call by its trace id.

Request ``{"trace_id": "<32 hex>", "rating": "up" | "down", "comment": "..."}``; answer 200
``{"object": "feedback", "trace_id", "rating", "model"}``. Errors are OpenAI's error body (the root
app's error guard sends them): 400 naming the field, 404 for a trace id that is unknown or belongs to
another team, 401 without credentials where auth is configured (``HubApp`` identifies the caller).
"""

from __future__ import annotations

import orjson

from hub.api.asgi import Receive, Scope, Send, read_body, require_json, send_json
from hub.call import Identity
from hub.errors import BadRequest
from hub.feedback import FeedbackService


async def rate(
    service: FeedbackService, caller: Identity, scope: Scope, receive: Receive, send: Send, limit: int
) -> None:
    require_json(scope)
    body = await read_body(scope, receive, limit)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("The request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise BadRequest("The request body must be a JSON object: {trace_id, rating, comment}")
    rated = await service.rate(document, caller)
    await send_json(send, 200, rated.as_json())
