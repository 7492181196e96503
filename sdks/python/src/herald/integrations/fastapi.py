"""FastAPI (Starlette) helpers: a dependency that yields the verified event.

    from fastapi import Depends, FastAPI
    from herald import Webhook
    from herald.integrations.fastapi import verified_event
    app = FastAPI()
    verified = verified_event(Webhook("whsec_..."))
    @app.post("/webhooks")
    async def receive(event=Depends(verified)):
        return {"ok": event.id}
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from fastapi import HTTPException, Request

from ..dispatch import Dispatcher
from ..webhook import MalformedSignatureError, SignatureError, Webhook, WebhookEvent


def verified_event(webhook: Webhook) -> Callable[[Request], Awaitable[WebhookEvent]]:
    """A dependency that verifies the request: 401 for a bad signature or timestamp, 400 for a
    malformed request; otherwise the :class:`WebhookEvent`."""

    async def dependency(request: Request) -> WebhookEvent:
        body = await request.body()
        try:
            return webhook.verify(body, dict(request.headers))
        except MalformedSignatureError as e:
            raise HTTPException(status_code=400, detail=e.message) from e
        except SignatureError as e:
            raise HTTPException(status_code=401, detail=e.message) from e

    return dependency


def dispatching_route(
    webhook: Webhook, dispatcher: Dispatcher
) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    """A ready route handler: verifies, dispatches (sync or async handlers) and answers
    ``{"received": <event id>}``; ``app.post("/webhooks")(dispatching_route(wh, d))``."""
    verify = verified_event(webhook)

    async def route(request: Request) -> dict[str, Any]:
        event = await verify(request)
        await dispatcher.adispatch(event)
        return {"received": event.id}

    return route
