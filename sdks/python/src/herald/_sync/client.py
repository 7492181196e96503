# Generated from src/herald/_async/client.py by scripts/gen_sync.py: do not edit.
"""The client. Written once, for asyncio, in ``_async/client.py`` (:class:`AsyncHerald`);
``_sync/client.py`` (:class:`Herald`) is generated from it by ``scripts/gen_sync.py``."""

from __future__ import annotations

import time
import os
from typing import Any, Iterator, Iterable, Mapping, Sequence

import httpx

from .. import _requests as r
from .resources import (
    Apps,
    Deliveries,
    Endpoints,
    Events,
    EventTypes,
    Keys,
    PortalSessions,
)
from .._base import (
    DEFAULT_TIMEOUT,
    Request,
    Settings,
    after_failure,
    dead_letters_from,
    decode,
    http_client_for,
    to_page,
    transport_error,
)
from .._dead_letters import DeadLetter, DeadLetterSink, ReplayReport
from .._errors import HeraldError
from .._retry import RetryPolicy
from ..types import BatchReceipt, Event, EventReceipt, Page


class Herald:
    """A client for the Herald API (``AsyncHerald`` for asyncio, ``Herald`` without).

    Every call is retried on transport errors, timeouts, 408, 425, 429 and 5xx, with
    full-jitter backoff and ``Retry-After`` as a floor. Event sends carry an idempotency key
    (generated when you give none) and the same bytes on every retry, so a retry never
    creates a second event.

        with Herald("hrd_...", base_url="http://127.0.0.1:8080") as herald:
            receipt = herald.send_event("my-app", "order.paid", {"amount": 1250})
            print(receipt["id"], [d["endpoint_id"] for d in receipt["deliveries"]])

    With asyncio, the same calls are awaited::

        async with AsyncHerald("hrd_...", base_url="http://127.0.0.1:8080") as herald:
            await herald.send_event("my-app", "order.paid", {"amount": 1250})
            async for delivery in herald.deliveries.iter("my-app", status="failed"):
                print(delivery["id"])
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        dead_letters: DeadLetterSink | None = None,
        redact_logs: bool = True,
        http_client: httpx.Client | None = None,
    ) -> None:
        """``api_key`` and ``base_url`` default to ``HERALD_API_KEY`` and ``HERALD_URL``.
        ``dead_letters`` (a JSONL path or a callable) receives sends that finally failed.
        ``redact_logs`` hides e-mail addresses and phone numbers in debug logs."""
        self._settings = Settings(
            api_key, base_url, timeout, max_retries, retry_policy, dead_letters, redact_logs
        )
        self._http = http_client_for(self._settings, http_client, httpx.Client)
        self._closed = False
        self.apps = Apps(self)
        self.event_types = EventTypes(self)
        self.endpoints = Endpoints(self)
        self.events = Events(self)
        self.deliveries = Deliveries(self)
        self.keys = Keys(self)
        self.portal_sessions = PortalSessions(self)

    def send_event(
        self,
        app: str,
        type: str,
        payload: Any,
        *,
        endpoint_ids: Sequence[str] | None = None,
        idempotency_key: str | None = None,
        source: str | None = None,
        subject: str | None = None,
        metadata: Any = None,
    ) -> EventReceipt:
        """Sends one event to application ``app`` (id or uid) and returns the receipt with its
        deliveries. Without ``idempotency_key`` one is generated for this call."""
        return self.events.send(
            app,
            type,
            payload,
            endpoint_ids=endpoint_ids,
            idempotency_key=idempotency_key,
            source=source,
            subject=subject,
            metadata=metadata,
        )

    def send_batch(self, app: str, items: Sequence[Mapping[str, Any]]) -> BatchReceipt:
        """Sends up to 100 events in one request. Each item is an event request (``type``,
        ``payload``, ...) with an optional ``idempotency_key`` (generated when absent).
        Check each item of the receipt: some may carry an ``error``."""
        return self.events.send_batch(app, items)

    def get_event(self, app: str, event_id: str) -> Event:
        """An event with its payload and a summary of its deliveries."""
        return self.events.get(app, event_id)

    def replay_dead_letters(
        self, letters: str | os.PathLike[str] | Iterable[DeadLetter]
    ) -> ReplayReport:
        """Sends dead letters again (from a JSONL file or a list), with their original
        idempotency keys: an event the server did commit is answered ``replayed``, not
        duplicated. Letters that fail again are in the report's ``failed``."""
        report = ReplayReport(sent=[], failed=[])
        for letter in dead_letters_from(letters):
            try:
                report.sent.append(self._call(r.replay_dead_letter(letter)))
            except HeraldError as e:
                report.failed.append((letter, e))
        return report

    def _call(self, req: Request) -> Any:
        s = self._settings
        s.log_send(req)
        method, url, headers, body, params = s.build(req)
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = self._http.request(
                    method, url, headers=headers, content=body, params=params
                )
                return decode(resp)
            except httpx.TransportError as e:
                err = transport_error(e)
            except HeraldError as e:
                err = e
            time.sleep(after_failure(s, req, err, attempt))

    def _page(self, req: Request) -> Page[Any]:
        return to_page(self._call(req))

    def _iter(self, req: Request) -> Iterator[Any]:
        while True:
            page = self._page(req)
            for item in page.data:
                yield item
            if not page.next_cursor:
                return
            req = r.with_cursor(req, page.next_cursor)

    def close(self) -> None:
        """Closes the connection pool; safe to call more than once."""
        if not self._closed:
            self._closed = True
            self._http.close()

    def __enter__(self) -> Herald:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
