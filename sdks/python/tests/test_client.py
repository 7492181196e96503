"""The sync client against a real `herald serve`: sending, fan-out, batches, idempotency,
error mapping, retries, dead letters, pagination and every resource."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from conftest import ADMIN_KEY, Proxy, Receiver, Server, free_port
from herald import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectionError,
    Herald,
    NotFoundError,
    PayloadTooLargeError,
    PermissionError,
    RateLimitError,
    RetryError,
    RetryPolicy,
    ServerError,
    TimeoutError,
    Webhook,
)

FAST = RetryPolicy(max_retries=3, base=0.05, cap=0.2)


def wait_status(client: Herald, app: str, delivery_id: str, status: str) -> dict:
    deadline = time.monotonic() + 15
    while True:
        d = client.deliveries.get(app, delivery_id)
        if d["status"] == status:
            return dict(d)
        assert time.monotonic() < deadline, f"delivery stuck in {d['status']}"
        time.sleep(0.1)


def test_send_fans_out_and_receivers_verify_the_exact_bytes(
    client: Herald, app: str, receiver: Receiver, receiver2: Receiver
) -> None:
    orders = client.endpoints.create(app, receiver.url + "/orders", event_types=["order.*"])
    users = client.endpoints.create(app, receiver2.url + "/users", event_types=["user.*"])
    payload = {"order": 42, "amount": 12.5, "note": "café"}
    receipt = client.send_event(app, "order.paid", payload)
    assert receipt["replayed"] is False
    assert [d["endpoint_id"] for d in receipt["deliveries"]] == [orders["id"]]
    got = receiver.wait_for(1)[0]
    assert got.path == "/orders"
    event = Webhook(client.endpoints.secret(app, orders["id"])["secret"]).verify(
        got.body, got.headers
    )
    assert (event.id, event.type, event.data) == (receipt["id"], "order.paid", payload)
    # the SDK serialises once and Herald delivers the payload's bytes as received
    assert event.raw_data == json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    # the other endpoint's filter does not match: nothing arrives there
    client.send_event(app, "user.created", {"id": 1})
    assert len(receiver2.wait_for(1)) == 1
    assert len(receiver.requests) == 1
    stored = client.get_event(app, receipt["id"])
    assert stored["payload"] == payload and stored["type"] == "order.paid"
    # endpoint_ids targets one endpoint whatever its filter
    targeted = client.send_event(app, "order.paid", {}, endpoint_ids=[users["id"]])
    assert [d["endpoint_id"] for d in targeted["deliveries"]] == [users["id"]]


def test_batch_commits_the_good_items_and_reports_the_bad(
    client: Herald, app: str, receiver: Receiver
) -> None:
    client.endpoints.create(app, receiver.url)
    out = client.send_batch(
        app,
        [
            {"type": "a.one", "payload": {"n": 1}},
            {"type": "not a valid name!", "payload": {}},
            {"type": "a.three", "payload": {"n": 3}, "idempotency_key": "batch-k3"},
        ],
    )
    items = out["items"]
    assert [i["index"] for i in items] == [0, 1, 2]
    assert items[0]["id"].startswith("evt_") and items[2]["id"].startswith("evt_")
    assert items[1]["error"]["type"] == "invalid_request"
    assert len(receiver.wait_for(2)) == 2
    again = client.send_batch(app, [{"type": "a.three", "payload": {"n": 3}, "idempotency_key": "batch-k3"}])
    assert again["items"][0]["replayed"] is True
    assert again["items"][0]["id"] == items[2]["id"]


def test_idempotent_replay_and_conflict(client: Herald, app: str, receiver: Receiver) -> None:
    client.endpoints.create(app, receiver.url)
    key = f"order-{uuid.uuid4()}"
    first = client.send_event(app, "order.paid", {"n": 1}, idempotency_key=key)
    second = client.send_event(app, "order.paid", {"n": 1}, idempotency_key=key)
    assert second["replayed"] is True and second["id"] == first["id"]
    with pytest.raises(ConflictError) as e:
        client.send_event(app, "order.paid", {"n": 2}, idempotency_key=key)
    assert e.value.status == 409 and e.value.code == "idempotency_conflict"
    receiver.wait_for(1)
    time.sleep(0.5)
    assert len(receiver.requests) == 1


def test_every_error_status_the_server_produces_maps_to_its_exception(
    server: Server, client: Herald, app: str
) -> None:
    with pytest.raises(BadRequestError) as bad:
        client.endpoints.create(app, "http://127.0.0.1:1/", bogus_field=1)
    assert bad.value.status == 400 and bad.value.param == "bogus_field"
    name = f"typed.{uuid.uuid4().hex[:6]}"
    client.event_types.create(
        name,
        schema={"type": "object", "properties": {"amount": {"type": "number"}}},
    )
    with pytest.raises(BadRequestError) as schema:
        client.send_event(app, name, {"amount": "ten"})
    assert schema.value.code == "schema_violation" and schema.value.param == "payload.amount"
    with pytest.raises(AuthenticationError) as auth:
        Herald("hrd_nope", base_url=server.url).apps.list()
    assert auth.value.status == 401 and auth.value.type == "authentication"
    producer = client.keys.create("producer", "producer")
    with Herald(producer["key"], base_url=server.url) as p:
        with pytest.raises(PermissionError) as perm:
            p.apps.create("not allowed")
        assert perm.value.status == 403
    with pytest.raises(NotFoundError):
        client.get_event(app, "evt_01J00000000000000000000000")
    uid = f"uid-{uuid.uuid4().hex[:8]}"
    client.apps.create("one", uid=uid)
    with pytest.raises(ConflictError):
        client.apps.create("two", uid=uid)
    with pytest.raises(PayloadTooLargeError) as big:
        client.send_event(app, "big.one", {"blob": "x" * 5000})  # server limit: 4096 bytes
    assert big.value.status == 413


@pytest.mark.parametrize(
    ("status", "cls"),
    [(429, RateLimitError), (500, ServerError), (503, ServerError), (408, ServerError), (425, ServerError)],
)
def test_retryable_statuses_are_retried_with_the_same_bytes(
    client: Herald, app: str, proxy: Proxy, receiver: Receiver, status: int, cls: type
) -> None:
    client.endpoints.create(app, receiver.url)
    proxy.script = [("answer", status, {}), ("answer", status, {})]
    with Herald(ADMIN_KEY, base_url=proxy.url, retry_policy=FAST) as c:
        receipt = c.send_event(app, "order.paid", {"n": status})
    posts = [r for r in proxy.seen if r.method == "POST"]
    assert len(posts) == 3
    assert len({r.body for r in posts}) == 1
    assert len({r.headers["idempotency-key"] for r in posts}) == 1
    assert receiver.wait_for(1)[0].headers["webhook-id"] == receipt["id"]
    # when every attempt fails: RetryError, the typed last error as __cause__
    proxy.seen.clear()
    proxy.script = [("answer", status, {})] * 4
    with Herald(ADMIN_KEY, base_url=proxy.url, retry_policy=FAST) as c:
        with pytest.raises(RetryError) as e:
            c.apps.list()
    assert isinstance(e.value.__cause__, cls) and e.value.attempts == 4
    assert e.value.status == status and len(proxy.seen) == 4


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413])
def test_client_errors_are_never_retried(
    server: Server, proxy: Proxy, status: int
) -> None:
    proxy.script = [("answer", status, {})]
    with Herald(ADMIN_KEY, base_url=proxy.url, retry_policy=FAST) as c:
        with pytest.raises(Exception) as e:
            c.apps.list()
    assert getattr(e.value, "status", None) == status
    assert not isinstance(e.value, RetryError)
    assert len(proxy.seen) == 1


def test_retry_after_is_honoured(client: Herald, app: str, proxy: Proxy) -> None:
    proxy.script = [("answer", 503, {"retry-after": "1"})]
    with Herald(ADMIN_KEY, base_url=proxy.url, retry_policy=FAST) as c:
        start = time.monotonic()
        c.send_event(app, "x.y", {})
        assert time.monotonic() - start >= 1.0
    assert len(proxy.seen) == 2


def test_a_lost_answer_is_retried_without_a_second_event(
    client: Herald, app: str, proxy: Proxy, receiver: Receiver
) -> None:
    client.endpoints.create(app, receiver.url)
    proxy.script = [("forward_then", 502)]  # Herald commits, the 202 never arrives
    with Herald(ADMIN_KEY, base_url=proxy.url, retry_policy=FAST) as c:
        receipt = c.send_event(app, "order.paid", {"once": True})
    assert receipt["replayed"] is True
    assert len(proxy.seen) == 2
    events = list(client.events.iter(app))
    assert [e["id"] for e in events] == [receipt["id"]]
    receiver.wait_for(1)
    time.sleep(0.5)
    assert len(receiver.requests) == 1


def test_timeouts_and_connection_errors(server: Server, app: str, proxy: Proxy) -> None:
    proxy.script = [("sleep", 1.5)] * 2
    with Herald(ADMIN_KEY, base_url=proxy.url, timeout=0.3, retry_policy=RetryPolicy(1, 0.01, 0.01)) as c:
        with pytest.raises(RetryError) as e:
            c.apps.get(app)
    assert isinstance(e.value.__cause__, TimeoutError)
    closed = f"http://127.0.0.1:{free_port()}"
    with Herald(ADMIN_KEY, base_url=closed, max_retries=0) as c:
        with pytest.raises(ConnectionError):
            c.apps.list()


def test_dead_letters_and_replay(server: Server, client: Herald, app: str, tmp_path, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    client.endpoints.create(app, receiver.url)
    dead = tmp_path / "dead.jsonl"
    closed = f"http://127.0.0.1:{free_port()}"
    with Herald(ADMIN_KEY, base_url=closed, retry_policy=RetryPolicy(1, 0.01, 0.01), dead_letters=dead) as c:
        with pytest.raises(RetryError):
            c.send_event(app, "order.paid", {"email": "ann@example.com"}, idempotency_key="dl-1")
        with pytest.raises(RetryError):
            c.send_batch(app, [{"type": "order.paid", "payload": {"n": 2}}])
    seen: list = []
    with Herald(ADMIN_KEY, base_url=closed, max_retries=0, dead_letters=seen.append) as c:
        with pytest.raises(ConnectionError):
            c.send_event(app, "order.paid", {"n": 3})
    assert [d.kind for d in seen] == ["event"]
    # a 400 would fail again: it is not dead-lettered
    with Herald(ADMIN_KEY, base_url=server.url, dead_letters=seen.append) as c:
        with pytest.raises(BadRequestError):
            c.send_event(app, "bad name!", {})
    assert len(seen) == 1
    report = client.replay_dead_letters(dead)
    assert report.failed == []
    assert report.sent[0]["replayed"] is False and report.sent[0]["type"] == "order.paid"
    assert report.sent[1]["items"][0]["id"].startswith("evt_")
    receiver.wait_for(2)
    # replaying again creates nothing new: same keys
    again = client.replay_dead_letters(dead)
    assert again.sent[0]["replayed"] is True and again.sent[0]["id"] == report.sent[0]["id"]
    assert again.sent[1]["items"][0]["replayed"] is True
    time.sleep(0.5)
    assert len(receiver.requests) == 2


def test_pagination_walks_every_page(client: Herald, app: str) -> None:
    created = [client.endpoints.create(app, f"http://127.0.0.1:9/{i}")["id"] for i in range(7)]
    page = client.endpoints.list(app, limit=3)
    assert len(page.data) == 3 and page.next_cursor
    second = client.endpoints.list(app, limit=3, cursor=page.next_cursor)
    assert not {e["id"] for e in page.data} & {e["id"] for e in second.data}
    walked = [e["id"] for e in client.endpoints.iter(app, limit=3)]
    assert walked == list(reversed(created))  # newest first, each once
    for i in range(5):
        client.send_event(app, "page.test", {"i": i})
    assert len(list(client.events.iter(app, type="page.test", limit=2))) == 5
    assert len(list(client.deliveries.iter(app, limit=4))) == 5 * 7


def test_every_resource(server: Server, client: Herald, receiver: Receiver) -> None:
    uid = f"res-{uuid.uuid4().hex[:8]}"
    app = client.apps.create("Resources", uid=uid, metadata={"plan": "pro"})
    assert client.apps.get(uid)["id"] == app["id"]
    assert client.apps.update(uid, name="Renamed")["name"] == "Renamed"
    assert any(a["id"] == app["id"] for a in client.apps.iter())

    et = f"res.{uuid.uuid4().hex[:6]}"
    client.event_types.create(et, description="d")
    assert client.event_types.update(et, description="changed")["description"] == "changed"
    assert client.event_types.get(et)["name"] == et
    assert any(t["name"] == et for t in client.event_types.iter())

    ep = client.endpoints.create(uid, receiver.url, description="main", headers={"x-extra": "1"})
    assert client.endpoints.get(uid, ep["id"])["description"] == "main"
    old = client.endpoints.secret(uid, ep["id"])["secret"]
    new = client.endpoints.rotate_secret(uid, ep["id"])["secret"]
    assert new != old and new.startswith("whsec_")
    client.endpoints.test(uid, ep["id"])
    ping = receiver.wait_for(1)[0]
    # during the grace period both secrets sign
    assert Webhook(old).verify(ping.body, ping.headers).type == "herald.ping"
    assert Webhook(new).verify(ping.body, ping.headers).type == "herald.ping"
    assert ping.headers["x-extra"] == "1"

    receiver.respond = lambda r: (500, {}, b"nope")
    sent = client.send_event(uid, "res.fail", {"n": 1})
    delivery_id = sent["deliveries"][0]["id"]
    wait_status(client, uid, delivery_id, "failed")  # schedule 1s,1s: 3 attempts
    attempts = list(client.deliveries.iter_attempts(uid, delivery_id))
    assert [a["number"] for a in attempts] == [1, 2, 3]
    assert attempts[0]["status_code"] == 500 and attempts[0]["response_body"] == "nope"
    assert attempts[0]["error"]["kind"] == "http_status"
    stats = client.endpoints.stats(uid, ep["id"])
    assert stats  # counts by status and the last attempt
    receiver.respond = lambda r: (200, {}, b"ok")
    client.deliveries.retry(uid, delivery_id)
    done = wait_status(client, uid, delivery_id, "succeeded")
    assert done["attempts"] == 4
    with_payload = client.deliveries.get(uid, delivery_id, include_payload=True)
    assert with_payload["payload"] == {"n": 1}
    assert [d["id"] for d in client.deliveries.iter(uid, status="succeeded", event_id=sent["id"])] == [delivery_id]

    client.endpoints.update(uid, ep["id"], disabled=True)
    assert client.endpoints.get(uid, ep["id"])["status"] == "disabled"
    client.endpoints.update(uid, ep["id"], disabled=False)
    assert client.endpoints.recover(uid, ep["id"], "2020-01-01T00:00:00Z") == 0

    key = client.keys.create("scoped", "producer", app_id=app["id"])
    assert key["key"].startswith("hrd_")
    assert any(k["id"] == key["id"] for k in client.keys.iter())
    with Herald(key["key"], base_url=server.url) as scoped:
        assert scoped.events.list(uid).data
    client.keys.revoke(key["id"])
    with Herald(key["key"], base_url=server.url) as scoped:
        with pytest.raises(AuthenticationError):
            scoped.events.list(uid)

    session = client.portal_sessions.create(uid, expires_in=60, read_only=True)
    assert "/portal/#token=" in session["url"] and session["token"]

    client.endpoints.delete(uid, ep["id"])
    with pytest.raises(NotFoundError):
        client.endpoints.get(uid, ep["id"])
    client.event_types.delete(et)
    client.apps.delete(uid)
    with pytest.raises(NotFoundError):
        client.apps.get(uid)


def test_a_create_whose_answer_was_lost_is_retried_and_happens_once(
    client: Herald, app: str, proxy: Proxy
) -> None:
    """Every POST carries an idempotency key, the same on each retry: a create whose answer
    was lost (the server acted) is sent again, and the server answers the repeat
    with the first answer instead of acting twice (a second endpoint would double every
    delivery)."""
    url = "http://127.0.0.1:9/once"
    proxy.script = [("forward_then", 502)]
    with Herald(ADMIN_KEY, base_url=proxy.url, retry_policy=FAST) as c:
        created = c.endpoints.create(app, url)
    assert len(proxy.seen) == 2
    keys = {r.headers.get("idempotency-key") for r in proxy.seen}
    assert len(keys) == 1 and None not in keys, keys
    mine = [ep for ep in client.endpoints.iter(app) if ep["url"] == url]
    assert [ep["id"] for ep in mine] == [created["id"]]
    proxy.seen.clear()
    proxy.script = [("answer", 429, {})]
    with Herald(ADMIN_KEY, base_url=proxy.url, retry_policy=FAST) as c:
        c.endpoints.create(app, "http://127.0.0.1:9/again")
    assert len(proxy.seen) == 2
    # Reads are retried as before.
    proxy.seen.clear()
    proxy.script = [("forward_then", 502)]
    with Herald(ADMIN_KEY, base_url=proxy.url, retry_policy=FAST) as c:
        c.apps.get(app)
    assert len(proxy.seen) == 2
