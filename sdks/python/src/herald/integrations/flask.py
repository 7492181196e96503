"""Flask helpers: verify the current request, or decorate a view to receive the event.

    from flask import Flask
    from herald import Webhook
    from herald.integrations.flask import verified
    app = Flask(__name__)
    @app.post("/webhooks")
    @verified(Webhook("whsec_..."))
    def receive(event):
        return {"ok": event.id}
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from flask import abort, request

from ..webhook import MalformedSignatureError, SignatureError, Webhook, WebhookEvent


def verify_request(webhook: Webhook) -> WebhookEvent:
    """Verifies Flask's current request; aborts with 400 (malformed) or 401 (bad signature)."""
    try:
        return webhook.verify(request.get_data(cache=True), dict(request.headers))
    except MalformedSignatureError as e:
        abort(400, description=e.message)
    except SignatureError as e:
        abort(401, description=e.message)


def verified(webhook: Webhook) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the view gets the verified :class:`WebhookEvent` as its first argument."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return view(verify_request(webhook), *args, **kwargs)

        return wrapper

    return decorate
