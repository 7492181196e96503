"""The asyncio client against the real server."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from conftest import ADMIN_KEY, Proxy, Receiver, Server
from herald import AsyncHerald, ConflictError, NotFoundError, RetryError, RetryPolicy, Webhook

FAST = RetryPolicy(max_retries=2, base=0.05, cap=0.1)


def test_async_send_receive_paginate_and_errors(
    server: Server, receiver: Receiver, proxy: Proxy
) -> None:
    async def main() -> None:
        async with AsyncHerald(ADMIN_KEY, base_url=server.url) as herald:
            app = (await herald.apps.create(f"async-{uuid.uuid4().hex[:6]}"))["id"]
            ep = await herald.endpoints.create(app, receiver.url)
            receipts = await asyncio.gather(
                *(herald.send_event(app, "async.test", {"i": i}) for i in range(5))
            )
            assert len({r["id"] for r in receipts}) == 5
            listed = [e["id"] async for e in herald.events.iter(app, limit=2)]
            assert sorted(listed) == sorted(r["id"] for r in receipts)
            secret = (await herald.endpoints.secret(app, ep["id"]))["secret"]
            first = (await herald.get_event(app, receipts[0]["id"]))["payload"]
            assert first == {"i": 0}
            key = f"k-{uuid.uuid4()}"
            await herald.send_event(app, "async.test", {"i": 9}, idempotency_key=key)
            with pytest.raises(ConflictError):
                await herald.send_event(app, "async.test", {"i": 8}, idempotency_key=key)
            with pytest.raises(NotFoundError):
                await herald.deliveries.get(app, "del_01J00000000000000000000000")
            out = await herald.send_batch(app, [{"type": "async.batch", "payload": {}}])
            assert out["items"][0]["id"].startswith("evt_")

        # retries with the same bytes and key, then gives up with RetryError
        proxy.script = [("answer", 503, {})]
        async with AsyncHerald(ADMIN_KEY, base_url=proxy.url, retry_policy=FAST) as via:
            r = await via.send_event(app, "async.retry", {"r": 1})
            posts = proxy.seen[-2:]
            assert posts[0].body == posts[1].body
            assert posts[0].headers["idempotency-key"] == posts[1].headers["idempotency-key"]
            assert r["replayed"] is False
            proxy.script = [("answer", 500, {})] * 3
            with pytest.raises(RetryError):
                await via.apps.list()
        await via.close()  # a second close is harmless

        got = receiver.wait_for(8)
        events = [Webhook(secret).verify(g.body, g.headers) for g in got]
        assert {e.type for e in events} == {"async.test", "async.batch", "async.retry"}

    asyncio.run(main())
