"""Filters, transformations and chat formats (routing.md) from the sync and async clients,
against the real server and a real receiver; the signature over a transformed body is
checked by the independent ``standardwebhooks`` library and by this SDK's verifier."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import standardwebhooks

from conftest import ADMIN_KEY, Receiver, Server
from herald import AsyncHerald, BadRequestError, Herald, Webhook

SHOUT = """
function handler(webhook) {
  webhook.payload = {text: webhook.eventType.toUpperCase(), amount: webhook.payload.data.amount};
  webhook.headers["X-Shout"] = "yes";
  return webhook;
}
"""


def test_sync_filter_transformation_and_test_routes(
    client: Herald, app: str, receiver: Receiver
) -> None:
    ep = client.endpoints.create(
        app,
        receiver.url,
        filter="data.amount >= 100",
        transformation={"code": SHOUT, "enabled": True},
    )
    assert ep["filter"] == "data.amount >= 100"
    assert ep["transformation"] == {"code": SHOUT, "enabled": True}
    secret = client.endpoints.secret(app, ep["id"])["secret"]

    assert client.endpoints.test_filter(
        app, ep["id"], type="order.paid", payload={"amount": 150}
    ) == {"matches": True}
    out = client.endpoints.test_filter(
        app, ep["id"], type="order.paid", payload={}, filter="data.nope == 1"
    )
    assert out["matches"] is False and "nope" in out["error"]
    with pytest.raises(BadRequestError) as bad:
        client.endpoints.test_filter(app, ep["id"], type="t", payload={}, filter="1 +")
    assert bad.value.code == "invalid_filter"

    shown = client.endpoints.test_transformation(
        app, ep["id"], type="order.paid", payload={"amount": 7}
    )
    assert shown["body"] == '{"text":"ORDER.PAID","amount":7}'
    assert shown["headers"]["x-shout"] == "yes"
    assert client.endpoints.test_transformation(
        app, ep["id"], type="t", payload={}, code="function handler(w) { w.cancel = true; return w; }"
    ) == {"cancelled": True}
    with pytest.raises(BadRequestError) as bad:
        client.endpoints.test_transformation(
            app, ep["id"], type="t", payload={}, code="function handler(w) { throw new Error('x'); }"
        )
    assert bad.value.code == "transformation_error"
    with pytest.raises(BadRequestError) as bad:
        client.endpoints.update(app, ep["id"], transformation={"code": "function ("})
    assert bad.value.code == "invalid_transformation"
    assert bad.value.param == "transformation.code"

    client.send_event(app, "order.paid", {"amount": 5})
    client.send_event(app, "order.paid", {"amount": 500})
    got = receiver.wait_for(1)
    assert json.loads(got[0].body) == {"text": "ORDER.PAID", "amount": 500}
    assert got[0].headers["x-shout"] == "yes"
    Webhook(secret).verify_signature(got[0].body, got[0].headers)
    standardwebhooks.Webhook(secret).verify(got[0].body, dict(got[0].headers))

    cleared = client.endpoints.update(app, ep["id"], filter=None, transformation=None, format="slack")
    assert cleared["filter"] is None and cleared["transformation"] is None
    client.send_event(app, "order.paid", {"amount": 1})
    got = receiver.wait_for(2)
    assert "order.paid" in json.loads(got[1].body)["text"]


def test_async_test_routes(server: Server) -> None:
    async def main() -> None:
        async with AsyncHerald(ADMIN_KEY, base_url=server.url) as herald:
            app = (await herald.apps.create(f"routing-{uuid.uuid4().hex[:6]}"))["id"]
            ep = await herald.endpoints.create(
                app, "http://127.0.0.1:9/", filter='type.startsWith("user.")'
            )
            out = await herald.endpoints.test_filter(app, ep["id"], type="user.up", payload={})
            assert out == {"matches": True}
            shown = await herald.endpoints.test_transformation(
                app,
                ep["id"],
                type="user.up",
                payload={"a": 1},
                code="function handler(w) { w.method = 'PUT'; return w; }",
            )
            assert shown["method"] == "PUT"
            assert json.loads(shown["body"])["data"] == {"a": 1}

    asyncio.run(main())
