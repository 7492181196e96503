"""The FastAPI and Flask helpers receiving real deliveries from a real Herald."""

from __future__ import annotations

import base64
import os
import threading
import time

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from flask import Flask
from werkzeug.serving import make_server

from conftest import Receiver
from herald import Dispatcher, Herald, Webhook, WebhookEvent
from herald.integrations.fastapi import dispatching_route, verified_event
from herald.integrations.flask import verified


def test_flask_receiver_gets_and_verifies_a_real_delivery(client: Herald, app: str) -> None:
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    flask_app = Flask(__name__)
    got: list[WebhookEvent] = []
    done = threading.Event()

    @flask_app.post("/hooks")
    @verified(Webhook(secret))
    def receive(event: WebhookEvent) -> tuple[str, int]:
        got.append(event)
        done.set()
        return "", 204

    srv = make_server("127.0.0.1", 0, flask_app, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}/hooks"
        ep = client.endpoints.create(app, url, secret=secret)
        receipt = client.send_event(app, "flask.hello", {"hi": "there"})
        assert done.wait(15)
        assert got[0].id == receipt["id"] and got[0].data == {"hi": "there"}
        attempts = _wait_attempt(client, app, receipt["deliveries"][0]["id"])
        assert attempts[0]["status_code"] == 204
        # an endpoint signing with another secret is refused: 401, recorded by Herald
        client.endpoints.delete(app, ep["id"])
        client.endpoints.create(app, url)
        forged = client.send_event(app, "flask.hello", {"hi": "again"})
        attempts = _wait_attempt(client, app, forged["deliveries"][0]["id"])
        assert attempts[0]["status_code"] == 401
        assert len(got) == 1
    finally:
        srv.shutdown()


def _wait_attempt(client: Herald, app: str, delivery_id: str) -> list:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        attempts = client.deliveries.attempts(app, delivery_id).data
        if attempts:
            return list(attempts)
        time.sleep(0.1)
    raise AssertionError("no attempt recorded")


def test_fastapi_helpers_verify_and_dispatch_a_captured_delivery(
    client: Herald, app: str, receiver: Receiver
) -> None:
    ep = client.endpoints.create(app, receiver.url, format="cloudevents")
    wh = Webhook(client.endpoints.secret(app, ep["id"])["secret"])
    client.send_event(app, "shop.order.created", {"sku": "A-1"}, subject="order/1")
    real = receiver.wait_for(1)[0]

    api = FastAPI()
    seen: list[WebhookEvent] = []

    @api.post("/dep")
    async def with_dependency(event: WebhookEvent = Depends(verified_event(wh))) -> dict:
        return {"id": event.id, "subject": event.subject, "format": event.format}

    dispatcher = Dispatcher()

    @dispatcher.on("shop.*")
    async def on_shop(event: WebhookEvent) -> None:
        seen.append(event)

    api.post("/dispatch")(dispatching_route(wh, dispatcher))
    tc = TestClient(api)
    headers = {k: v for k, v in real.headers.items() if k not in ("host", "content-length")}
    ok = tc.post("/dep", content=real.body, headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"id": real.headers["webhook-id"], "subject": "order/1", "format": "cloudevents"}
    assert tc.post("/dispatch", content=real.body, headers=headers).status_code == 200
    assert [e.data for e in seen] == [{"sku": "A-1"}]
    tampered = real.body.replace(b"A-1", b"B-2")
    assert tc.post("/dep", content=tampered, headers=headers).status_code == 401
    no_headers = {"content-type": "application/json"}
    assert tc.post("/dep", content=real.body, headers=no_headers).status_code == 400
